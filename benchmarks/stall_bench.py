"""Can anything stall the service? Two large many-term queries and eight unique runaways in flight
for a minute, while /health and a cheap lookup are probed every second.

Starts ``kg serve`` (its default server, or ``KG_SERVER``) on a build, waits until every
process holds its in-process copy, then runs, for ``--seconds``:

- two clients POSTing many-term queries again and again, each made unique by a comment: one a
  query of about 60 KB and 30,000 terms (under the 64 KB body limit, over the term limit: refused
  before it is parsed), the other of about 16 KB and 8,000 terms (under the term limit: parsed by
  the parser process, for about ten seconds of rdflib, within the time limit or stopped at it);
- eight clients, each POSTing again and again a runaway (a three-way cartesian product), each
  made unique by a comment and a constant, so that no cache or slow-query memory knows it;
- one probe that, every second, GETs /health and a canned lookup (resource-summary of a
  partnership) and records the status and latency of each.

It reports the probes' p50/p99/max latency, how many answered with 5xx, and what the flood got
(statuses by kind). The service meets the target when every probe answers 2xx with p99 under
200 ms and the only 5xx are the flood's own 503 (busy, or stopped at the time limit).

    python benchmarks/stall_bench.py --build build/ --seconds 60
    python benchmarks/stall_bench.py --build benchmarks/work/1m/build --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lookup_bench import free_port, wait_in_process  # noqa: E402
RUNAWAY = "# runaway {n}\nSELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(?c != {n}) }}"


def many_terms(n: int) -> str:
    """About 60 KB: ``n`` string arguments in CONCAT calls of 1,000."""
    thousand = ",".join(['"a"'] * 1000)
    return "SELECT (CONCAT(" + ",".join(f"CONCAT({thousand})" for _ in range(n // 1000)) + ") AS ?x) WHERE {}"


def request(port: int, method: str, path: str, body: bytes | None = None, headers=None, timeout: float = 120):
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        answered = f"{response.getheader('X-KG-Answered-By')}, {response.getheader('X-KG-Elapsed')} s in the store"
        return response.status, time.perf_counter() - started, answered
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - started, None
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--name", default=None, help="results file name (default: stall-BUILDNAME)")
    args = parser.parse_args(argv)
    port = free_port()
    env = dict(os.environ, KG_BUILD=str(args.build), KG_PORT=str(port), KG_WORKERS="2")
    server = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while request(port, "GET", "/health", timeout=5)[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("kg serve did not start: " + server.stderr.read().decode(errors="replace")[-2000:])
            time.sleep(0.5)
        wait_in_process(port)  # a server in its steady state: every process has its in-process copy
        lookup = "/queries/resource-summary.json?" + urlencode({"iri": "https://w3id.org/hscp/id/partnership/torbay-care-trust"})
        status, _, _ = request(port, "GET", lookup)
        if status != 200:  # another build (the synthetic one): one of its partnerships
            lookup = "/queries/resource-summary.json?" + urlencode({"iri": "https://w3id.org/hscp/id/partnership/synthetic-partnership-0"})
        request(port, "GET", lookup)  # seen once: known to be quick
        stop = time.monotonic() + args.seconds
        flood: Counter = Counter()
        probes: list[tuple[str, int, float]] = []
        lock = threading.Lock()
        def heavy(n_terms: int, label: str):
            n = 0
            while time.monotonic() < stop:
                n += 1
                body = f"{many_terms(n_terms)} # {label} {n}".encode()
                assert len(body) < 65536, len(body)
                status, _, _ = request(port, "POST", "/sparql", body, {"Content-Type": "application/sparql-query",
                                                                    "Accept": "application/sparql-results+json"})
                with lock:
                    flood[f"{label} {status}"] += 1

        def runaway(k):
            n = 0
            while time.monotonic() < stop:
                n += 1
                body = RUNAWAY.format(n=k * 100_000 + n).encode()
                status, _, _ = request(port, "POST", "/sparql", body, {"Content-Type": "application/sparql-query",
                                                                    "Accept": "application/sparql-results+json"})
                with lock:
                    flood[f"runaway {status}"] += 1

        def probe():
            while time.monotonic() < stop:
                tick = time.monotonic()
                for name, path in (("health", "/health"), ("lookup", lookup)):
                    status, seconds, answered_by = request(port, "GET", path, timeout=30)
                    probes.append((name, status, seconds))
                    if status != 200 or seconds > 0.2:
                        print(f"probe {name} at {tick - (stop - args.seconds):.1f} s: status {status} after {seconds:.2f} s"
                              f" (answered by {answered_by})", file=sys.stderr, flush=True)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

        threads = ([threading.Thread(target=heavy, args=(15_000, "many-terms 60 KB")),
                    threading.Thread(target=heavy, args=(4_000, "many-terms 16 KB"))]
                   + [threading.Thread(target=runaway, args=(k,)) for k in range(8)]
                   + [threading.Thread(target=probe)])
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    build = args.build.resolve()
    shown = str(build.relative_to(ROOT)) if build.is_relative_to(ROOT) else build.name  # no machine paths in results
    result = {"build": shown, "server": os.environ.get("KG_SERVER", "granian"),
              "processes": int(os.environ.get("KG_PROCESSES", 2)), "threads": int(os.environ.get("KG_THREADS", 24)),
              "seconds": args.seconds, "flood": dict(sorted(flood.items())), "probes": {}}
    ok = True
    for name in ("health", "lookup"):
        found = [(s, t) for n, s, t in probes if n == name]
        times = sorted(t for _, t in found)
        statuses = Counter(s for s, _ in found)
        p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))] if times else None
        result["probes"][name] = {"count": len(found), "statuses": dict(statuses),
                                  "p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
                                  "p99_ms": round(p99 * 1000, 1) if p99 is not None else None,
                                  "max_ms": round(max(times) * 1000, 1) if times else None}
        ok &= bool(times) and set(statuses) == {200} and p99 < 0.2
    # The flood's own 503s (a runaway stopped at the time limit or refused while the slow turns are
    # taken; a parsed many-term query, new and so slow, refused the same way) are the service
    # defending itself; any other 5xx, and any probe that is not 200, is a failure.
    five = {k: v for k, v in flood.items() if k.split()[-1].startswith("5") and not k.endswith(" 503")}
    result["unexpected_5xx"] = five
    result["target_met"] = ok and not five
    args.results.mkdir(parents=True, exist_ok=True)
    name = args.name or f"stall-{args.build.parent.name if args.build.name == 'build' else args.build.name}"
    (args.results / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
