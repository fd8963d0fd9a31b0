"""docs/your-own-study.md, run end to end: every ``console`` block's commands, in order, with
every ``csv file=PATH`` block written where it says, each command's output checked against the
lines the page shows (``…`` stands for any text)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.cli import cli

TUTORIAL = Path(__file__).parents[1] / "docs" / "your-own-study.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


def steps(text: str) -> list[tuple]:
    """("file", path, content) and ("run", argv, expected lines), in the page's order."""
    found = []
    for kind, info, body in FENCE.findall(text):
        if kind == "csv":
            path = re.search(r"file=(\S+)", info)
            assert path, f"a csv block without file=PATH: {body[:60]}"
            found.append(("file", path.group(1), body))
        elif kind == "console":
            command, expected = None, []
            for line in body.splitlines():
                if line.startswith("$ "):
                    if command:
                        found.append(("run", command, expected))
                    command, expected = shlex.split(line[2:]), []
                elif line.strip():
                    expected.append(line.strip())
            if command:
                found.append(("run", command, expected))
    return found


def matches(expected: str, output: str) -> bool:
    """Does ``output`` hold ``expected``, where each … stands for any text?"""
    position = 0
    for part in (p for p in expected.split("…") if p):
        position = output.find(part, position)
        if position < 0:
            return False
        position += len(part)
    return True


def test_the_tutorial_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("KG_")]:
        monkeypatch.delenv(name)
    found = steps(TUTORIAL.read_text(encoding="utf-8"))
    commands = [s[1][1] for s in found if s[0] == "run"]
    assert commands == ["init", "validate", "build", "compare", "export"], commands
    for step in found:
        if step[0] == "file":
            _, path, content = step
            assert Path(path).is_file(), f"the tutorial fills {path}, which kg init should have written"
            Path(path).write_text(content, encoding="utf-8")
            continue
        _, argv, expected = step
        assert argv[0] == "kg", argv
        result = CliRunner().invoke(cli, argv[1:])
        assert result.exit_code == 0, f"{shlex.join(argv)} failed:\n{result.output}"
        for line in expected:
            assert matches(line, result.output), f"{shlex.join(argv)}: expected {line!r} in\n{result.output}"
    # the exported study builds again into the same study graph
    again = CliRunner().invoke(cli, ["build", "--data", "my-export", "--out", "again"])
    assert again.exit_code == 0, again.output
    nq = lambda folder: {line for line in (tmp_path / folder / "graph.nq").read_text().splitlines()  # noqa: E731
                         if line.endswith("<https://w3id.org/hscp/graph/study/my-study> .")}
    assert nq("my-build") == nq("again") and len(nq("again")) > 10


@pytest.mark.parametrize("expected, output, result", [
    ("a…c", "abc", True), ("a…c", "ca", False), ("…x …, y …)…", "(w 1, x 2, y 3) z", True), ("plain", "no", False)])
def test_ellipsis_matching(expected, output, result):
    assert matches(expected, output) is result
