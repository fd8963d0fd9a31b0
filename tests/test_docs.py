"""Generated reference documents are up to date (python -m kg.docs rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.docs import generated

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path, text", sorted(generated(ROOT).items()), ids=lambda v: getattr(v, "name", ""))
def test_generated_document_is_current(path, text):
    assert path.is_file(), f"{path.name} is missing: run python -m kg.docs"
    assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python -m kg.docs"


def test_readme_starts_with_the_two_command_quick_start():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./run serve", "./run test"]
    assert readme.index("## Quick start") < readme.index("## What this is")
