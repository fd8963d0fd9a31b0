"""The comparison views over HTTP: a real ``kg serve`` on 127.0.0.1, the pages a researcher opens.

Builds the seeded synthetic data once (or reuses a build), starts ``kg serve`` on it, waits for
the comparison index (the first comparison page reads it: one time cost, reported apart), then
times each view with the HTTP benchmark's keep-alive client, one request at a time: a country
profile, six jurisdictions side by side, four pivots on different pairs of dimensions and
measures, and the evidence gap map, with ``/health`` in the same run as the baseline of what
any request costs. Each median is set against its target (profile, side by side and pivots
at most 500 ms; the gap map at most 1 s) and against the ``/health`` median.

    python benchmarks/compare_bench.py --size 1m            # the targets' size
    python benchmarks/compare_bench.py --size 1m --reuse    # again, on the same build
    python benchmarks/compare_bench.py --triples 2000 --repeat 3 --results /tmp/r --work /tmp/w

Results go to benchmarks/results/compare-SIZE.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from generate import SIZES, WORK  # noqa: E402
from http_bench import Client, Server, prepare  # noqa: E402
from run import machine, write_results  # noqa: E402

TARGET_MS = {"profile": 500, "side-by-side": 500, "pivot": 500, "gap map": 1000}


def views(base: str, jurisdictions: list[str]) -> list[tuple[str, str, str]]:
    """(kind, name, path) of every view timed."""
    six = "&".join(f"j={urllib.parse.quote(j.rsplit('/', 1)[-1])}" for j in jurisdictions[:6])
    first = jurisdictions[0].rsplit("/", 1)[-1]
    return [
        ("profile", f"profile of {first}", f"/doc/jurisdiction/{first}"),
        ("side-by-side", "six jurisdictions side by side", f"/compare/side-by-side?{six}"),
        ("pivot", "forms: jurisdiction x budget integration", "/compare?rows=jurisdiction&columns=budget-integration&measure=forms"),
        ("pivot", "partnerships: sectors x provider payment", "/compare?rows=sectors&columns=provider-payment&measure=partnerships"),
        ("pivot", "evaluations: form x outcome", "/compare?rows=form&columns=outcome&measure=evaluations"),
        ("pivot", "findings: study design x direction, partial or better", "/compare?rows=study-design&columns=direction&measure=findings&confidence=partial"),
        ("gap map", "evidence gap map by form", "/evidence?rows=form"),
        ("gap map", "evidence gap map by budget integration, audit bodies", "/evidence?rows=budget-integration&evaluator=audit-body"),
    ]


def median_ms(client: Client, path: str, repeat: int) -> tuple[float, int, int, float]:
    """(median ms, status, bytes, first ms) of ``repeat`` GETs after one warm-up (the first: its time)."""
    started = time.perf_counter()
    status, body = client.get(path)
    first = round((time.perf_counter() - started) * 1000, 1)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, body = client.get(path)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1), status, len(body), first


def run(build: Path, repeat: int) -> dict:
    server = Server(build, workers=2, threads=8, timeout=60)
    try:
        server.wait_until_up()
        client = Client(server.port, timeout=600)
        status, body = client.get("/jurisdictions.json")
        if status != 200:
            raise SystemExit(f"/jurisdictions.json answered {status}: {body[:500]!r}")
        started = time.perf_counter()
        client.get("/compare.json?rows=jurisdiction&columns=form")  # the index is read here, once
        first = round(time.perf_counter() - started, 2)
        import json

        jurisdictions = [j["iri"] for j in json.loads(client.get("/jurisdictions.json")[1])["jurisdictions"] if j["forms"]]
        jurisdictions.sort(key=lambda j: j)
        health, _, _, _ = median_ms(client, "/health", max(repeat, 20))
        rows = []
        for kind, name, path in views("", jurisdictions):
            ms, status, size, first_ms = median_ms(client, path, repeat)
            rows.append({"kind": kind, "view": name, "path": path, "status": status, "bytes": size, "median_ms": ms,
                         "first_ms": first_ms,
                         "target_ms": TARGET_MS[kind], "met": status == 200 and ms <= TARGET_MS[kind],
                         "over_health": round(ms / health, 1) if health else None})
        client.close()
        return {"index_first_request_s": first, "health_median_ms": health, "views": rows}
    finally:
        server.stop()


def markdown(results: dict) -> str:
    lines = [f"# Comparison views over HTTP at {results['size']} ({results['data_triples']:,} data triples)", "",
             f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; {results['date']}.",
             f"`kg serve` (KG_WORKERS=2, KG_THREADS=8) on 127.0.0.1, one keep-alive connection, median of "
             f"{results['repeat']} requests after a warm-up. The first comparison request read the index in "
             f"{results['index_first_request_s']} s (once per server). `/health` median: {results['health_median_ms']} ms.", "",
             "The first request of a view computes the units its filters select (cached per measure and filters, 32 at most);",
             "its time is the 'first' column. The median is of the requests after it.", "",
             "| view | median (ms) | first (ms) | target (ms) | met | × /health | status | bytes |", "|---|---|---|---|---|---|---|---|"]
    for r in results["views"]:
        lines.append(f"| {r['view']} | {r['median_ms']} | {r['first_ms']} | {r['target_ms']} | {'yes' if r['met'] else 'NO'} | "
                     f"{r['over_health']} | {r['status']} | {r['bytes']:,} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--size", choices=sorted(SIZES), default="1m")
    group.add_argument("--triples", type=int)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="reuse the build of an earlier run")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    name = args.size if not args.triples else str(args.triples)
    triples = args.triples or SIZES[args.size]
    build = prepare(name, triples, args.seed, args.reuse, args.work)
    import json

    data_triples = json.loads((build / "report.json").read_text())["triples"]["data"]
    results = {"size": name, "data_triples": data_triples, "repeat": args.repeat, "machine": machine(),
               "date": datetime.date.today().isoformat(), **run(build, args.repeat)}
    write_results(args.results, f"compare-{name}", results, markdown(results))
    return 0 if all(r["met"] for r in results["views"]) else 1


if __name__ == "__main__":
    sys.exit(main())
