"""benchmarks/: the synthetic data generator is deterministic and valid; the runner runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kg.casedata import TABLES, read_case_data
from kg.settings import Settings

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _generate_module():
    spec = importlib.util.spec_from_file_location("benchmark_generate", BENCHMARKS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate = _generate_module().generate
    a = _files(generate(tmp_path / "a", 3000, seed=5))
    b = _files(generate(tmp_path / "b", 3000, seed=5))
    c = _files(generate(tmp_path / "c", 3000, seed=6))
    assert set(a) == {t.filename for t in TABLES.values()}
    assert a == b
    assert a != c


def test_generated_data_is_labelled_synthetic_and_validates(tmp_path, vocabulary):
    folder = _generate_module().generate(tmp_path / "data", 3000, seed=2)
    data = read_case_data(folder, vocabulary.slugs)
    assert all("not real" in r["citation"] for r in data["sources"])
    for table in ("partnerships", "organisations", "jurisdictions", "forms", "legislation"):
        assert data[table] and all(r["label"].startswith("Synthetic") for r in data[table])
    assert all(r.get("note") == "synthetic" for r in data.records())
    result = subprocess.run([sys.executable, "-m", "kg.cli", "validate", "--data", str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms" in result.stdout


@pytest.mark.slow
def test_runner_smoke(tmp_path):
    results = tmp_path / "results"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--triples", "2000", "--repeat", "2",
                          "--results", str(results)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    document = json.loads((results / "2000.json").read_text())
    assert document["machine"]["cores"] >= 1
    [size] = document["runs"]
    assert size["build"]["validation"]["conforms"] is True
    assert set(size["load_seconds"]) == {"raw pyoxigraph", "oxigraph", "rdflib"}
    names = {p.stem for p in Settings.from_env({}).queries_path.glob("*.rq")}
    assert set(size["queries"]) == names
    for entry in size["queries"].values():
        assert set(entry["ms"]) == {"raw pyoxigraph", "oxigraph", "rdflib"}
        # the same answer size from the store and from raw pyoxigraph
        assert entry["rows"]["oxigraph"] == entry["rows"]["raw pyoxigraph"] == entry["rows"]["rdflib"]
    assert (results / "2000.md").read_text().startswith("# Benchmark results")


def test_study_merge_benchmark_smoke(tmp_path):
    results = tmp_path / "results"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "study_bench.py"), "--triples", "3000", "--repeat", "1",
                          "--results", str(results)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    document = json.loads((results / "study-3000.json").read_text())
    merged = document["runs"]["merged"][0]
    assert merged["triples"]["study/synthetic-study"] == document["study_triples"] > 2000
    assert document["runs"]["bundled"][0]["triples"]["data"] == merged["triples"]["data"]  # the bundled graph unchanged
    assert document["ratio"]["seconds"] > 0 and "ratio merged / baseline" in (results / "study-3000.md").read_text()
