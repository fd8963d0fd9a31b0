"""benchmarks/http_bench.py: a few seconds against a real kg serve at a tiny size gives numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kg.settings import Settings

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
@pytest.mark.server
def test_http_benchmark_smoke(tmp_path):
    results = tmp_path / "results"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "http_bench.py"), "--triples", "2000", "--quick",
                          "--workers", "2", "--results", str(results), "--work", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    document = json.loads((results / "http-2000.json").read_text())
    assert document["machine"]["cores"] >= 1
    assert document["settings"]["workers"] == 2
    cheap = document["throughput"]["cheap"]
    assert cheap["requests"] > 0 and cheap["per_second"] > 0 and cheap["p99_ms"] is not None
    names = {p.stem for p in Settings.from_env({}).queries_path.glob("*.rq")}
    assert set(document["queries"]) == names
    for entry in document["queries"].values():
        assert entry["http_ms"] > 0 and entry["inprocess_ms"] > 0 and entry["ratio"] is not None
    mix = document["mix"]
    assert mix["connections"] == 16 and mix["cheap"]["requests"] > 0 and "heavy" in mix
    assert set(document["verdicts"]) == {"cheap_rps", "http_over_inprocess_worst", "mix_5xx", "mix_cheap_p99_ms"}
    assert (results / "http-2000.md").read_text().startswith("# HTTP benchmark results")


@pytest.mark.slow
@pytest.mark.server
def test_comparison_views_benchmark_smoke(tmp_path):
    results = tmp_path / "results"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "compare_bench.py"), "--triples", "2000", "--repeat", "2",
                          "--results", str(results), "--work", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=900)
    document = json.loads((results / "compare-2000.json").read_text())
    assert run.returncode == (0 if all(v["met"] for v in document["views"]) else 1), run.stderr[-2000:]
    kinds = {v["kind"] for v in document["views"]}
    assert kinds == {"profile", "side-by-side", "pivot", "gap map"}
    assert all(v["status"] == 200 and v["median_ms"] > 0 and v["first_ms"] > 0 for v in document["views"])
    assert document["health_median_ms"] > 0
    assert (results / "compare-2000.md").read_text().startswith("# Comparison views over HTTP")


@pytest.mark.slow
@pytest.mark.server
def test_lookup_benchmark_against_oxigraph_smoke(tmp_path, bundled_build_dir):
    """One short round on the bundled build: both servers answer every lookup, the ratios are computed."""
    results = tmp_path / "results"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "lookup_bench.py"), "--build", str(bundled_build_dir),
                          "--seconds", "1", "--rounds", "1", "--iris", "20", "--results", str(results)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    document = json.loads(next(results.glob("lookup-*.json")).read_text())
    for label in ("oxigraph lookup", "kg /sparql lookup", "kg canned lookup"):
        measured = document["median"][label]
        assert measured["requests"] > 0 and measured["non_2xx"] == 0 and measured["socket_errors"] == 0, label
    assert set(document["ratios"]) == {"kg /sparql lookup", "kg canned lookup"}
    assert all(r["latency_p50_ratio"] > 0 for r in document["ratios"].values())
