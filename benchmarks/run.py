"""Benchmarks: build, store load and every canned query, on synthetic data of several sizes.

For each size it generates the seeded synthetic case data (benchmarks/generate.py), times
``kg build`` in a child process (each step, and the build's peak memory), then times:

- loading the build into the oxigraph backend (``kg.store``, worker processes), into the
  rdflib backend (only up to 100k triples: rdflib needs minutes and gigabytes beyond), and
  into a raw in-process pyoxigraph store;
- every canned query in queries/ through the oxigraph and rdflib backends (safety layer
  and worker included) and on the raw pyoxigraph store, running the same query text with the
  same parameter values (pyoxigraph ``substitutions``) in this process.

Parameter values come from the synthetic data itself: a choice parameter takes the first
value of its choices query, an IRI parameter its example when that resource exists, else
the first resource of the same kind; strings and numbers take their examples.

    python benchmarks/run.py                       # 10k, 100k and 1m, 5 repetitions
    python benchmarks/run.py --sizes 10k --repeat 3
    python benchmarks/run.py --triples 2000 --repeat 2 --results /tmp/results

Results go to benchmarks/results/ as JSON and a Markdown table, with the machine.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pyoxigraph as ox  # noqa: E402

from generate import SIZES, WORK, generate  # noqa: E402
from kg.queries import Catalogue  # noqa: E402
from kg.settings import Settings  # noqa: E402
from kg.store import cell_from_term, open_store  # noqa: E402
from kg.store.terms import _ox_from_cell  # noqa: E402

RDFLIB_MAX_TRIPLES = 200_000
AGGREGATE = re.compile(r"\b(GROUP\s+BY|COUNT\s*\(|SUM\s*\(|AVG\s*\()", re.I)


# --- the machine ----------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from importlib.metadata import version

    versions = {name: version(name) for name in ("rdflib", "pyoxigraph", "pyshacl", "owlready2", "owlrl")}
    java = None
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30).stderr.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory, "python": platform.python_version(),
            "platform": platform.platform(), "java": java, "versions": versions}


# --- build ----------------------------------------------------------------------------------


def time_build(data: Path, out: Path) -> dict:
    """``kg build`` in a child process: wall time, each step, peak memory (the child's max RSS)."""
    command = [sys.executable, "-m", "kg.cli", "build", "--data", str(data), "--out", str(out)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"kg build failed ({process.returncode}):\n{output.decode(errors='replace')}")
    report = json.loads((out / "report.json").read_text())
    return {
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "steps": report["timings"],
        "triples": report["triples"],
        "reasoner": report["reasoner"]["name"],
        "strategy": report["reasoner"].get("message", ""),
        "validation": report["validation"],
    }


# --- parameters -------------------------------------------------------------------------------


def _first(raw: ox.Store, text: str):
    for solution in raw.query(text, use_default_graph_as_union=True):
        return solution[0]
    return None


def parameter_values(query, raw: ox.Store, base: str) -> dict[str, str]:
    """Raw parameter values that exist in this graph (see the module docstring)."""
    values = {}
    for param in query.params:
        example = None if param.example is None else str(param.example)
        if param.type == "choice" and param.choices_query:
            found = [s[0] for s in raw.query(param.choices_query, use_default_graph_as_union=True)]
            found_values = [t.value for t in found if isinstance(t, ox.NamedNode)] or [str(t.value) for t in found]
            values[param.name] = example if example in found_values else (found_values[0] if found_values else example)
        elif param.type == "choice":
            values[param.name] = example if example is not None else str(param.choices[0])
        elif param.type == "iri" and example:
            exists = raw.query("ASK { ?s ?p ?o }", substitutions={ox.Variable("s"): ox.NamedNode(example)},
                               use_default_graph_as_union=True)
            if bool(exists):
                values[param.name] = example
                continue
            kind = example[len(base):].split("/")[0] if example.startswith(base) else ""
            prefix = f"{base}{kind}/"
            found = _first(raw, "SELECT ?s WHERE { ?s a ?c FILTER(STRSTARTS(STR(?s), %s)) } ORDER BY ?s LIMIT 1"
                           % json.dumps(prefix))
            values[param.name] = found.value if found is not None else example
        elif example is not None:
            values[param.name] = example
        elif param.default is not None:
            values[param.name] = str(param.default)
    return values


def _candidates(param, raw: ox.Store, base: str, first: str, many: int = 4) -> list[str]:
    if param.type == "choice" and param.choices_query:
        found = [s[0] for s in raw.query(param.choices_query, use_default_graph_as_union=True)]
        values = [t.value for t in found]
    elif param.type == "choice":
        values = [str(c) for c in param.choices]
    elif param.type == "iri" and first.startswith(base):
        prefix = f"{base}{first[len(base):].split('/')[0]}/"
        values = [s[0].value for s in raw.query(
            "SELECT DISTINCT ?s WHERE { ?s a ?c FILTER(STRSTARTS(STR(?s), %s)) } ORDER BY ?s LIMIT %d"
            % (json.dumps(prefix), many), use_default_graph_as_union=True)]
    elif param.type == "string":
        values = ["synthetic partnership north"]
    else:
        values = []
    step = max(1, len(values) // many)
    return [v for v in values[::step][:many] if v != first]


def _with_rows(query, raw_params: dict, raw: ox.Store, store, base: str) -> dict:
    """The first values (changing one parameter at a time) for which the query has results."""
    def rows(params):
        bindings = query.bindings(params, store=store)
        subs = {ox.Variable(k): _ox_from_cell(cell_from_term(t)) for k, t in bindings.items()}
        answer = raw.query(query.sparql, substitutions=subs or None, use_default_graph_as_union=True)
        return bool(answer) if isinstance(answer, bool) else any(True for _ in itertools.islice(answer, 1))

    if not query.params or rows(raw_params):
        return raw_params
    for param in query.params:
        if param.name not in raw_params:
            continue
        for value in _candidates(param, raw, base, raw_params[param.name]):
            trial = {**raw_params, param.name: value}
            if rows(trial):
                return trial
    return raw_params


# --- timing -----------------------------------------------------------------------------------


def _median_ms(run, repeat: int) -> tuple[float, int]:
    rows = run()  # warm-up (and the row count)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3), rows


def time_queries(catalogue, build: Path, settings: Settings, backends: list[str], repeat: int,
                 base: str) -> tuple[dict, dict]:
    load: dict[str, float] = {}
    started = time.perf_counter()
    raw = ox.Store()
    raw.bulk_load(path=str(build / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    load["raw pyoxigraph"] = round(time.perf_counter() - started, 2)
    stores = {}
    for backend in backends:
        started = time.perf_counter()
        stores[backend] = open_store(settings.replace(store=backend), build)
        load[backend] = round(time.perf_counter() - started, 2)
    results: dict[str, dict] = {}
    limit = settings.row_limit
    try:
        for query in catalogue:
            raw_params = parameter_values(query, raw, base)
            raw_params = _with_rows(query, raw_params, raw, stores[backends[0]], base)
            some_store = stores[backends[0]]
            bindings = query.bindings(raw_params, store=some_store)
            substitutions = {ox.Variable(k): _ox_from_cell(cell_from_term(t)) for k, t in bindings.items()}
            entry = {"params": raw_params, "aggregate": bool(AGGREGATE.search(query.sparql)), "ms": {}, "rows": {}}

            def raw_run(text=query.sparql, subs=substitutions):
                answer = raw.query(text, substitutions=subs or None, use_default_graph_as_union=True)
                if isinstance(answer, ox.QuerySolutions):
                    return len([tuple(s) for s in itertools.islice(answer, limit + 1)])
                if isinstance(answer, ox.QueryTriples):
                    return len(list(itertools.islice(answer, limit + 1)))
                return int(bool(answer))

            entry["ms"]["raw pyoxigraph"], entry["rows"]["raw pyoxigraph"] = _median_ms(raw_run, repeat)
            for backend, store in stores.items():
                def store_run(store=store):
                    result = store.query(query.sparql, bindings)
                    return len(result._cells) if result.kind == "select" else len(result)
                entry["ms"][backend], entry["rows"][backend] = _median_ms(store_run, repeat)
            results[query.name] = entry
    finally:
        for store in stores.values():
            store.close()
    return load, results


# --- one size ---------------------------------------------------------------------------------


def run_size(name: str, triples: int, repeat: int, seed: int, keep_data: bool) -> dict:
    folder = WORK / name
    data = folder / "data"
    if not keep_data or not data.is_dir():
        generate(data, triples, seed)
    build_dir = folder / "build"
    print(f"[{name}] kg build …", flush=True)
    build = time_build(data, build_dir)
    data_triples = build["triples"]["data"]
    print(f"[{name}] {data_triples:,} data triples; build {build['seconds']} s, peak {build['peak_rss_mb']} MB", flush=True)
    backends = ["oxigraph"] + (["rdflib"] if data_triples <= RDFLIB_MAX_TRIPLES else [])
    settings = Settings.from_env({}, query_timeout=600, workers=1)
    catalogue = Catalogue.load(settings.queries_path)
    print(f"[{name}] {len(catalogue)} queries on {', '.join(backends)} and raw pyoxigraph …", flush=True)
    load, queries = time_queries(catalogue, build_dir, settings, backends, repeat, settings.base_iri)
    return {"size": name, "target_triples": triples, "build": build, "load_seconds": load,
            "backends": backends, "queries": queries}


# --- reporting --------------------------------------------------------------------------------


def _geomean(values):
    values = [v for v in values if v and v > 0]
    return round(statistics.geometric_mean(values), 3) if values else None


def summarise(run: dict) -> dict:
    q = run["queries"]
    over_raw = {n: round(e["ms"]["oxigraph"] / e["ms"]["raw pyoxigraph"], 2) for n, e in q.items()
                if e["ms"]["raw pyoxigraph"] > 0}
    added = {n: round(e["ms"]["oxigraph"] - e["ms"]["raw pyoxigraph"], 3) for n, e in q.items()}
    summary = {
        "store_over_raw_max": max(over_raw.values()) if over_raw else None,
        "store_over_raw_geomean": _geomean(over_raw.values()),
        "store_added_ms_median": round(statistics.median(added.values()), 3) if added else None,
    }
    if "rdflib" in run["backends"]:
        speedup = {n: round(e["ms"]["rdflib"] / e["ms"]["oxigraph"], 1) for n, e in q.items() if e["ms"]["oxigraph"] > 0}
        agg = [speedup[n] for n, e in q.items() if e["aggregate"] and n in speedup]
        summary["rdflib_over_oxigraph_geomean"] = _geomean(speedup.values())
        summary["rdflib_over_oxigraph_aggregates_min"] = min(agg) if agg else None
        summary["rdflib_over_oxigraph_aggregates_geomean"] = _geomean(agg)
    return summary


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"# Benchmark results ({results['started']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}; "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + (f"; {m['java']}" if m.get("java") else ""),
             f"Median of {results['repeat']} runs after one warm-up. `store` = the oxigraph backend of kg.store "
             "(safety layer, worker process, row cap); `raw` = pyoxigraph in this process, same query text and "
             "substitutions; rdflib only up to 200k triples.", ""]
    lines += ["## Build and load", "",
              "| size | data triples | kg build (s) | peak memory (MB) | read + map (s) | copy to pyoxigraph (s) | validate (s) | reason (s) | write (s) | load oxigraph store (s) | load raw (s) | load rdflib (s) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        b, steps, load = run["build"], run["build"]["steps"], run["load_seconds"]
        read_map = sum(steps.get(k, 0) for k in ("read ontology", "read case data", "map to RDF"))
        copy = sum(v for k, v in steps.items() if k.startswith("copy to pyoxigraph"))
        lines.append(f"| {run['size']} | {b['triples']['data']:,} | {b['seconds']} | {b['peak_rss_mb']} | {read_map:.2f} | "
                     f"{copy:.2f} | {steps.get('validate (SHACL)', 0):.2f} | {steps.get('reason', 0):.2f} | {steps.get('write build', 0):.2f} | "
                     f"{load.get('oxigraph', '')} | {load.get('raw pyoxigraph', '')} | {load.get('rdflib', '—')} |")
    for run in results["runs"]:
        s = run["summary"]
        lines += ["", f"## Queries at {run['size']} ({run['build']['triples']['data']:,} data triples)", "",
                  f"store/raw: worst {s['store_over_raw_max']}×, geometric mean {s['store_over_raw_geomean']}×; "
                  f"median time the store adds {s['store_added_ms_median']} ms."
                  + (f" rdflib/oxigraph: geometric mean {s['rdflib_over_oxigraph_geomean']}×, aggregates "
                     f"min {s['rdflib_over_oxigraph_aggregates_min']}× (geometric mean {s['rdflib_over_oxigraph_aggregates_geomean']}×)."
                     if "rdflib_over_oxigraph_geomean" in s else " rdflib: not run at this size."), "",
                  "| query | rows | raw (ms) | store (ms) | store/raw | rdflib (ms) | rdflib/store |",
                  "|---|---|---|---|---|---|---|"]
        for name, e in sorted(run["queries"].items()):
            ms = e["ms"]
            ratio = ms["oxigraph"] / ms["raw pyoxigraph"] if ms["raw pyoxigraph"] else float("nan")
            rdf = ms.get("rdflib")
            speedup = f"{rdf / ms['oxigraph']:.0f}" if rdf is not None and ms["oxigraph"] else "—"
            lines.append(f"| {name}{' (aggregate)' if e['aggregate'] else ''} | {e['rows']['oxigraph']} | {ms['raw pyoxigraph']} | "
                         f"{ms['oxigraph']} | {ratio:.2f} | {rdf if rdf is not None else '—'} | {speedup} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--triples", type=int, help="one size of about this many triples instead of --sizes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-data", action="store_true", help="reuse generated data in benchmarks/work/")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    sizes = [(f"{args.triples}", args.triples)] if args.triples else [(s, SIZES[s]) for s in args.sizes.split(",")]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results = {"started": started, "repeat": args.repeat, "seed": args.seed, "machine": machine(), "runs": []}
    for name, triples in sizes:
        run = run_size(name, triples, args.repeat, args.seed, args.keep_data)
        run["summary"] = summarise(run)
        results["runs"].append(run)
    write_results(args.results, "latest" if not args.triples else f"{args.triples}", results, markdown(results))
    return 0


def write_results(folder: Path, stem: str, results: dict, text: str) -> None:
    """STEM.json and STEM.md in ``folder``; the markdown is printed too."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
