"""Merging a study into the bundled build: time and peak memory against the bundled build alone.

Generates a seeded synthetic study (benchmarks/generate.py: every row labelled synthetic, every
source "Synthetic benchmark data — not real") of about 100,000 data triples, gives it a
``study.yaml`` of its own namespace, then runs ``kg build`` in child processes, alternating:

- the baseline: the bundled evidence alone;
- the merge: the bundled evidence with the study (``kg build --data STUDY``).

Each build's wall time and peak RSS (the child's max RSS) are reported with the ratios merge /
baseline, medians of the repetitions, all from the same run.

    python benchmarks/study_bench.py                  # 100k-triple study, 3 repetitions
    python benchmarks/study_bench.py --triples 3000 --repeat 1 --results /tmp/r
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from generate import WORK, generate  # noqa: E402

STUDY_YAML = """\
id: synthetic-study
title: Synthetic benchmark study (not real)
description: Seeded synthetic case data for benchmarks only; every row is labelled synthetic.
authors: [partnership-kg benchmarks]
licence: https://creativecommons.org/licenses/by/4.0/
version: 0.0.0
namespace: https://example.org/synthetic-study/id/
"""


def make_study(folder: Path, triples: int, seed: int = 1) -> Path:
    generate(folder, triples, seed)
    (folder / "study.yaml").write_text(STUDY_YAML, encoding="utf-8")
    return folder


def time_build(out: Path, *studies: Path) -> dict:
    command = [sys.executable, "-m", "kg.cli", "build", "--out", str(out)]
    for study in studies:
        command += ["--data", str(study)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kg build failed:\n{output.decode(errors='replace')}")
    report = json.loads((out / "report.json").read_text())
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024), "triples": report["triples"],
            "steps": report["timings"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", type=int, default=100_000, help="about this many data triples in the study")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    work = WORK / f"study-{args.triples}"
    study = make_study(work / "synthetic-study", args.triples)
    runs: dict[str, list[dict]] = {"bundled": [], "merged": []}
    for i in range(args.repeat):
        runs["bundled"].append(time_build(work / "build-bundled"))
        runs["merged"].append(time_build(work / "build-merged", study))
        print(f"[{i + 1}/{args.repeat}] bundled {runs['bundled'][-1]['seconds']} s {runs['bundled'][-1]['peak_rss_mb']} MB; "
              f"merged {runs['merged'][-1]['seconds']} s {runs['merged'][-1]['peak_rss_mb']} MB", flush=True)
    median = {name: {key: statistics.median(r[key] for r in found) for key in ("seconds", "peak_rss_mb")}
              for name, found in runs.items()}
    study_triples = runs["merged"][-1]["triples"]["study/synthetic-study"]
    result = {
        "study_triples": study_triples, "bundled_triples": runs["bundled"][-1]["triples"]["data"], "repeat": args.repeat,
        "median": median, "runs": runs,
        "ratio": {key: round(median["merged"][key] / median["bundled"][key], 2) for key in ("seconds", "peak_rss_mb")},
        "added": {key: round(median["merged"][key] - median["bundled"][key], 2) for key in ("seconds", "peak_rss_mb")},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    name = f"study-{args.triples}"
    (args.results / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    m = median
    lines = [f"# Merging a {study_triples:,}-triple study into the bundled build", "",
             "`python benchmarks/study_bench.py` (medians of "
             f"{args.repeat} alternating runs, each `kg build` in its own process, same machine and run).", "",
             "| build | data triples | wall time (s) | peak RSS (MB) |", "|---|---|---|---|",
             f"| bundled alone (baseline) | {result['bundled_triples']:,} | {m['bundled']['seconds']} | {m['bundled']['peak_rss_mb']} |",
             f"| bundled + study | {result['bundled_triples']:,} + {study_triples:,} | {m['merged']['seconds']} | {m['merged']['peak_rss_mb']} |",
             f"| ratio merged / baseline | | {result['ratio']['seconds']} | {result['ratio']['peak_rss_mb']} |", "",
             f"Merging the study adds {result['added']['seconds']} s and {result['added']['peak_rss_mb']} MB.", ""]
    (args.results / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
