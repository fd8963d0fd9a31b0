"""HTTP benchmarks: a real ``kg serve`` on 127.0.0.1 under a bounded loopback client.

Generates the seeded synthetic case data (benchmarks/generate.py), builds it once, starts
``kg serve`` on it in a subprocess (127.0.0.1, a free port) and measures three things with
a small keep-alive HTTP/1.1 client of its own (one thread per connection, fixed duration,
fixed connection count, loopback only):

1. **throughput** of a cheap canned lookup (``/queries/resource-summary.json?iri=…``, the
   IRI changing from request to request): requests per second and latency;
2. **HTTP over in-process**: every canned query's ``.json`` download, one connection, one
   request at a time, against the same query with the same parameter values run through
   ``kg.store`` in this process (``Store.run``: safety layer, worker process, row cap): the
   median of each and their ratio;
3. **a mixed load**: a fixed time at 16 connections, a quarter of them sending the heaviest
   canned queries (by in-process time) and the rest the cheap lookup: the count of 5xx
   answers and the cheap lookups' p50 and p99 latency.

The file is not called ``http.py``: a script's folder comes first on ``sys.path``, so that
name would hide the standard library's ``http`` package from every script in this folder.

    python benchmarks/http_bench.py --size 1m                 # the targets' size
    python benchmarks/http_bench.py --size 1m --reuse         # again, on the same build
    python benchmarks/http_bench.py --size 10k --mix-seconds 10 --throughput-seconds 5
    python benchmarks/http_bench.py --triples 2000 --quick --results /tmp/results --work /tmp/work

Results go to benchmarks/results/http-SIZE.json and .md, with the machine and the settings.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
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
from kg.store import open_store  # noqa: E402
from run import _with_rows, machine, parameter_values, write_results  # noqa: E402

HOST = "127.0.0.1"  # never anything else: this client only ever talks to the server it started
CHEAP = "resource-summary"
TARGETS = {"cheap_rps_min": 1500, "http_over_inprocess_max": 1.3, "mix_5xx": 0, "mix_cheap_p99_ms_max": 100}


# --- the client -------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to the server on 127.0.0.1 (GET only)."""

    def __init__(self, port: int, timeout: float = 60.0):
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        if len(self.buffer) < n:  # gather the chunks, not a growing bytes object
            parts, have = [self.buffer], len(self.buffer)
            while have < n:
                chunk = self.sock.recv(min(max(n - have, 65536), 1 << 20))
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                parts.append(chunk)
                have += len(chunk)
            self.buffer = b"".join(parts)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of one GET; reconnects when the server closed the connection."""
        if self.sock is None:
            self._connect()
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAccept: */*\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" in headers:
            body = self._take(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._take(size))
                self._take(2)
            body = b"".join(parts)
        else:  # the body ends with the connection
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            body, self.buffer = self.buffer, b""
            self.close()
        if headers.get(b"connection") == b"close":
            self.close()
        return status, body


def _percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def _summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {"requests": len(ordered), "p50_ms": ms(_percentile(ordered, 50)), "p90_ms": ms(_percentile(ordered, 90)),
            "p99_ms": ms(_percentile(ordered, 99)), "max_ms": ms(ordered[-1] if ordered else None)}


def load(port: int, lanes: list[tuple[str, list[str]]], seconds: float) -> dict:
    """Run each lane (a class name and the paths it cycles through) on its own connection for
    ``seconds``; per class: latencies, status counts, transport errors."""
    stop = time.monotonic() + seconds
    by_class: dict[str, dict] = {}
    lock = threading.Lock()

    def lane(kind: str, paths: list[str], offset: int) -> None:
        client = Client(port)
        latencies, statuses, errors = [], {}, []
        i = offset
        try:
            while time.monotonic() < stop:
                path = paths[i % len(paths)]
                i += 1
                started = time.perf_counter()
                try:
                    status, _ = client.get(path)
                except (OSError, ValueError, IndexError) as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    client.close()
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            client.close()
        with lock:
            entry = by_class.setdefault(kind, {"latencies": [], "statuses": {}, "errors": []})
            entry["latencies"] += latencies
            entry["errors"] += errors
            for status, n in statuses.items():
                entry["statuses"][status] = entry["statuses"].get(status, 0) + n

    started = time.perf_counter()
    threads = [threading.Thread(target=lane, args=(kind, paths, n * 7), daemon=True)
               for n, (kind, paths) in enumerate(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    out = {"seconds": round(elapsed, 2), "connections": len(lanes)}
    for kind, entry in by_class.items():
        statuses = entry["statuses"]
        out[kind] = {**_summary(entry["latencies"]),
                     "per_second": round(len(entry["latencies"]) / elapsed, 1),
                     "statuses": {str(k): v for k, v in sorted(statuses.items())},
                     "5xx": sum(v for k, v in statuses.items() if k >= 500),
                     "errors": len(entry["errors"]), "first_errors": entry["errors"][:3]}
    return out


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """``kg serve`` on 127.0.0.1 in a subprocess (its own session), stopped by its pid."""

    def __init__(self, build: Path, workers: int, threads: int, timeout: float):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, KG_WORKERS=str(workers), KG_THREADS=str(threads), KG_QUERY_TIMEOUT=str(timeout))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        kg = Path(sys.executable).with_name("kg")
        command = [str(kg)] if kg.exists() else [sys.executable, "-m", "kg.cli"]
        self.process = subprocess.Popen([*command, "serve", "--host", HOST, "--port", str(self.port),
                                         "--build", str(build)], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log, start_new_session=True)

    def wait_until_up(self, seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        client = Client(self.port, timeout=5)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"kg serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                status, _ = client.get("/health")
                if status == 200:
                    client.close()
                    return
            except OSError:
                client.close()
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"kg serve did not answer /health within {seconds:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # kg serve closes its store (and workers)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


# --- data ---------------------------------------------------------------------------------------


def prepare(name: str, triples: int, seed: int, reuse: bool, work: Path = WORK) -> Path:
    """The build of the synthetic data of this size (generated and built unless reused)."""
    folder = work / f"http-{name}"
    data, build = folder / "data", folder / "build"
    if reuse and (build / "graph.nq").is_file():
        return build
    print(f"[{name}] generating synthetic data and building it …", flush=True)
    generate(data, triples, seed)
    done = subprocess.run([sys.executable, "-m", "kg.cli", "build", "--data", str(data), "--out", str(build)],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kg build failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return build


def query_path(name: str, params: dict[str, str]) -> str:
    suffix = ("?" + urllib.parse.urlencode(params)) if params else ""
    return f"/queries/{urllib.parse.quote(name)}.json{suffix}"


def lookup_iris(raw: ox.Store, base: str, many: int = 200) -> list[str]:
    """Partnership IRIs for the cheap lookup, spread over the data (fixed order: repeatable)."""
    text = ("SELECT ?s WHERE { ?s a <https://w3id.org/hscp/def#Partnership> "
            "FILTER(STRSTARTS(STR(?s), %s)) } ORDER BY ?s" % json.dumps(base))
    found = [s[0].value for s in raw.query(text, use_default_graph_as_union=True)]
    step = max(1, len(found) // many)
    return found[::step][:many]


# --- measurements -------------------------------------------------------------------------------


def _median_ms(run, repeat: int, budget: float) -> float:
    """Median of at least ``repeat`` timed runs after one warm-up; more (up to 200) while
    they fit in ``budget`` seconds, so that fast queries get a steady median."""
    run()
    times: list[float] = []
    spent = time.perf_counter()
    while len(times) < repeat or (len(times) < 200 and time.perf_counter() - spent < budget):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def compare_queries(port: int, catalogue, store, params: dict[str, dict], repeat: int, budget: float) -> dict:
    client = Client(port)
    results = {}
    try:
        for query in catalogue:
            raw_params = params[query.name]
            path = query_path(query.name, raw_params)
            status, body = client.get(path)
            if status != 200:
                raise SystemExit(f"{path} answered {status}: {body[:500]!r}")
            document = json.loads(body)
            http_rows = len(document["results"]["bindings"]) if "results" in document else 1

            def inprocess(query=query, raw_params=raw_params):
                return store.run(query, raw_params)

            def serialised(query=query, raw_params=raw_params):
                return store.run(query, raw_params).serialize("json")

            def over_http(path=path):
                status, _ = client.get(path)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}")

            result = inprocess()
            rows = len(result._cells) if result.kind == "select" else 1
            if rows != http_rows:
                raise SystemExit(f"{query.name}: {rows} rows in process but {http_rows} over HTTP")
            in_ms = _median_ms(inprocess, repeat, budget)
            json_ms = _median_ms(serialised, repeat, budget)
            http_ms = _median_ms(over_http, repeat, budget)
            results[query.name] = {"params": raw_params, "rows": rows, "bytes": len(body),
                                   "inprocess_ms": in_ms, "inprocess_json_ms": json_ms, "http_ms": http_ms,
                                   "ratio": round(http_ms / in_ms, 2) if in_ms else None}
            print(f"  {query.name:40} {rows:6} rows  in-process {in_ms:9.3f} ms  HTTP {http_ms:9.3f} ms  "
                  f"×{results[query.name]['ratio']}", flush=True)
    finally:
        client.close()
    return results


# --- reporting ----------------------------------------------------------------------------------


def verdicts(results: dict) -> dict:
    t = results["targets"]
    cheap = results["throughput"]["cheap"]
    ratios = [e["ratio"] for e in results["queries"].values() if e["ratio"] is not None]
    mix = results["mix"]
    five = sum(mix[k]["5xx"] for k in ("cheap", "heavy") if k in mix)
    errors = sum(mix[k]["errors"] for k in ("cheap", "heavy") if k in mix)
    return {
        "cheap_rps": {"value": cheap["per_second"], "target": f">= {t['cheap_rps_min']}",
                      "met": cheap["per_second"] >= t["cheap_rps_min"]},
        "http_over_inprocess_worst": {"value": max(ratios) if ratios else None,
                                      "target": f"<= {t['http_over_inprocess_max']}",
                                      "met": bool(ratios) and max(ratios) <= t["http_over_inprocess_max"]},
        "mix_5xx": {"value": five, "transport_errors": errors, "target": "0", "met": five == 0 and errors == 0},
        "mix_cheap_p99_ms": {"value": mix["cheap"]["p99_ms"], "target": f"< {t['mix_cheap_p99_ms_max']}",
                             "met": mix["cheap"]["p99_ms"] is not None
                             and mix["cheap"]["p99_ms"] < t["mix_cheap_p99_ms_max"]},
    }


def markdown(results: dict) -> str:
    m, s = results["machine"], results["settings"]
    tp, mix = results["throughput"], results["mix"]
    lines = [f"# HTTP benchmark results ({results['started']}, {results['size']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}; "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
             f"`kg serve` ({s.get('server', 'waitress')}, {s.get('processes', 1)} process(es)) on 127.0.0.1 over "
             f"{results['triples']:,} data triples: "
             f"KG_WORKERS={s['workers']}, KG_THREADS={s['threads']}. Client: keep-alive HTTP/1.1, one thread per "
             "connection, in the same process as the in-process store. Load average (1, 5, 15 min) "
             f"at the start {results['load_average']['start']}, at the end {results['load_average']['end']}.", "",
             "## Targets", "", "| target | value | goal | met |", "|---|---|---|---|"]
    for name, v in results["verdicts"].items():
        lines.append(f"| {name} | {v['value']} | {v['target']} | {'yes' if v['met'] else 'no'} |")
    c = tp["cheap"]
    lines += ["", f"## Cheap lookup ({CHEAP}.json, {tp['connections']} connections, {tp['seconds']} s)", "",
              "| req/s | p50 (ms) | p99 (ms) | statuses | errors |", "|---|---|---|---|---|",
              f"| {c['per_second']} | {c['p50_ms']} | {c['p99_ms']} | {c['statuses']} | {c['errors']} |", "",
              "## Each canned query: HTTP (.json download) over in-process (kg.store)", "",
              "Medians, one request at a time. `in-process` = `Store.run` (rows from the worker); "
              "`+ JSON` = the same and its SPARQL JSON serialisation.", "",
              "| query | rows | bytes | in-process (ms) | + JSON (ms) | HTTP (ms) | HTTP / in-process |",
              "|---|---|---|---|---|---|---|"]
    for name, e in sorted(results["queries"].items()):
        lines.append(f"| {name} | {e['rows']} | {e['bytes']} | {e['inprocess_ms']} | {e['inprocess_json_ms']} | "
                     f"{e['http_ms']} | {e['ratio']} |")
    lines += ["", f"## Mixed load ({mix['connections']} connections, {mix['seconds']} s; heavy: "
              + ", ".join(results["heavy"]) + ")", "",
              "| class | requests | req/s | p50 (ms) | p99 (ms) | max (ms) | 5xx | errors | statuses |",
              "|---|---|---|---|---|---|---|---|---|"]
    for kind in ("cheap", "heavy"):
        if kind in mix:
            e = mix[kind]
            lines.append(f"| {kind} | {e['requests']} | {e['per_second']} | {e['p50_ms']} | {e['p99_ms']} | "
                         f"{e['max_ms']} | {e['5xx']} | {e['errors']} | {e['statuses']} |")
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--size", choices=sorted(SIZES), default="1m")
    group.add_argument("--triples", type=int, help="about this many data triples instead of --size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="reuse an earlier build in benchmarks/work/http-SIZE/")
    parser.add_argument("--workers", type=int, default=None, help="KG_WORKERS for the server and the in-process store "
                        "(default: KG_WORKERS, else the number of cores)")
    parser.add_argument("--threads", type=int, default=None, help="KG_THREADS (default: KG_THREADS, else 8)")
    parser.add_argument("--connections", type=int, default=4, help="connections for the cheap-lookup throughput")
    parser.add_argument("--throughput-seconds", type=float, default=10.0)
    parser.add_argument("--mix-connections", type=int, default=16)
    parser.add_argument("--mix-seconds", type=float, default=60.0)
    parser.add_argument("--heavy", type=int, default=3, help="how many of the slowest canned queries the heavy lanes send")
    parser.add_argument("--repeat", type=int, default=5, help="least timed runs per query and side")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per query and side for extra runs")
    parser.add_argument("--quick", action="store_true", help="a smoke run: about 1 s per phase, 2 runs per query")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--work", type=Path, default=WORK, help="where the data and the build go")
    args = parser.parse_args(argv)
    if args.quick:
        args.throughput_seconds, args.mix_seconds, args.repeat, args.budget = 1.0, 1.5, 2, 0.0
    name, triples = (f"{args.triples}", args.triples) if args.triples else (args.size, SIZES[args.size])
    env = Settings.from_env()
    workers = args.workers or (int(os.environ["KG_WORKERS"]) if os.environ.get("KG_WORKERS") else os.cpu_count() or 2)
    threads = args.threads or env.threads
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    build = prepare(name, triples, args.seed, args.reuse, args.work)
    load_start = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews every figure
    report = json.loads((build / "report.json").read_text())
    settings = Settings.from_env({}, store="oxigraph", workers=workers, threads=threads)
    catalogue = Catalogue.load(settings.queries_path)
    base = settings.base_iri

    print(f"[{name}] starting kg serve and the in-process store ({workers} workers each) …", flush=True)
    server = Server(build, workers, threads, settings.query_timeout)
    results: dict = {"started": started, "size": name, "seed": args.seed, "triples": report["triples"]["data"],
                     "machine": machine(), "targets": TARGETS,
                     "settings": {"workers": workers, "threads": threads, "query_timeout": settings.query_timeout,
                                  "row_limit": settings.row_limit, "server": Settings.from_env().server,
                                  "processes": Settings.from_env().processes}}
    try:
        raw = ox.Store()
        raw.bulk_load(path=str(build / "graph.nq"), format=ox.RdfFormat.N_QUADS)
        store = open_store(settings, build)
        try:
            params = {}
            for query in catalogue:
                values = parameter_values(query, raw, base)
                params[query.name] = _with_rows(query, values, raw, store, base)
            iris = lookup_iris(raw, base)
            del raw
            server.wait_until_up()
            print(f"[{name}] every canned query: HTTP vs in-process …", flush=True)
            results["queries"] = compare_queries(server.port, catalogue, store, params, args.repeat, args.budget)
        finally:
            store.close()

        cheap_paths = [query_path(CHEAP, {"iri": iri}) for iri in iris]
        print(f"[{name}] cheap lookup, {args.connections} connections, {args.throughput_seconds:g} s …", flush=True)
        throughput = load(server.port, [("cheap", cheap_paths)] * args.connections, args.throughput_seconds)
        results["throughput"] = throughput

        slowest = sorted(results["queries"], key=lambda n: -results["queries"][n]["inprocess_ms"])
        heavy = [n for n in slowest if n != CHEAP][:args.heavy]
        heavy_paths = [query_path(n, params[n]) for n in heavy]
        heavy_lanes = max(1, args.mix_connections // 4)
        lanes = [("heavy", heavy_paths)] * heavy_lanes + [("cheap", cheap_paths)] * (args.mix_connections - heavy_lanes)
        print(f"[{name}] mixed load: {args.mix_connections} connections ({heavy_lanes} heavy: {', '.join(heavy)}), "
              f"{args.mix_seconds:g} s …", flush=True)
        results["heavy"] = heavy
        results["mix"] = load(server.port, lanes, args.mix_seconds)
        alive = server.process.poll() is None
    finally:
        server.stop()
    if not alive:
        raise SystemExit(f"kg serve died during the run:\n{server.output()}")
    results["load_average"] = {"start": load_start, "end": [round(x, 2) for x in os.getloadavg()]}
    results["verdicts"] = verdicts(results)
    write_results(args.results, f"http-{name}", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
