"""No query can stall the service: parsing bounded in size and time, workers bounded in memory,
crashes reported as what they are.

Each test here failed before its fix: a large query's parse held the web process's parser lock
for tens of seconds; a 100-pattern query with GROUP BY was "not valid SPARQL" (recursion limit);
an expression chain of 15,000 terms crashed a worker (reported as "out of memory?"); a worker's
memory had no limit.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pyoxigraph as ox
import pytest

from kg import sparql as kg_sparql
from kg.errors import QueryOverMemory, QueryRefused, StoreError
from kg.settings import Settings
from kg.store import open_store
from kg.store.workers import _resident_bytes, _worker_death

ID = "https://w3id.org/hscp/id/"
G = "https://w3id.org/graph/"


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("small")
    graph = ox.NamedNode("https://w3id.org/hscp/graph/data")
    p = ox.NamedNode("https://w3id.org/hscp/def#value")
    quads = (ox.Quad(ox.NamedNode(f"{ID}observation/o{i}"), p, ox.Literal(str(i)), graph) for i in range(20_000))
    ox.serialize(quads, str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    return build_dir


def many_terms(n: int) -> str:
    """A query of about 2n terms whose rdflib parse takes seconds (one CONCAT of n arguments, split
    into calls of 1,000 to stay under the operand limit)."""
    thousand = ",".join(['"a"'] * 1000)
    parts = [f"CONCAT({thousand})" for _ in range(n // 1000)]
    return f"SELECT (CONCAT({','.join(parts)}) AS ?x) WHERE {{}}"


def test_terms_are_counted_and_a_query_over_the_limit_is_refused_at_once():
    assert kg_sparql.count_terms("SELECT ?s # a comment\nWHERE { ?s <urn:p> 'x y' }") == 8
    text = many_terms(20_000)
    started = time.monotonic()
    with pytest.raises(QueryRefused, match=r"KG_MAX_QUERY_TERMS"):
        kg_sparql.parse_bounded(text, max_terms=10_000, timeout=10)
    assert time.monotonic() - started < 1.0


def test_large_queries_parse_outside_the_web_process_within_a_time_limit():
    text = many_terms(6_000)  # about 12,000 terms: several seconds of rdflib parsing
    started = time.monotonic()
    with pytest.raises(QueryRefused, match=r"longer than 1 s to parse"):
        kg_sparql.parse_bounded(text, max_terms=50_000, timeout=1)
    assert time.monotonic() - started < 3.0


def test_a_cheap_query_stays_fast_while_large_ones_are_parsed():
    timings, errors = [], []

    def heavy():
        try:
            kg_sparql.parse_bounded(many_terms(6_000) + f" # {threading.get_ident()}", max_terms=50_000, timeout=4)
        except QueryRefused as error:
            errors.append(error)

    threads = [threading.Thread(target=heavy) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    for n in range(10):  # each one new: parsed, not found in a cache
        started = time.monotonic()
        kg_sparql.parse_bounded(f"SELECT ?s WHERE {{ ?s <urn:p{n}> ?o }} LIMIT {n + 1}", max_terms=50_000, timeout=4)
        timings.append(time.monotonic() - started)
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    # before, each waited for the lock the heavy parses held for their whole 4 s and more;
    # the bound is loose because the machine may be busy (speed is measured in benchmarks/)
    assert max(timings) < 1.0, timings
    assert errors  # the heavy ones were stopped at their limit, in the parser process


def patterns(n: int) -> str:
    return "SELECT ?s (COUNT(*) AS ?n) WHERE { " + " ".join(f"?s <urn:p{i}> ?o{i} ." for i in range(n)) + " } GROUP BY ?s"


@pytest.mark.parametrize("n", [100, 2000])
def test_a_legitimate_query_with_many_triple_patterns_is_valid_sparql(n):
    assert kg_sparql.parse_bounded(patterns(n), max_terms=50_000, timeout=30).variables == ("s", "n")


def test_many_triple_patterns_run_or_time_out_but_are_never_a_syntax_error(small_build):
    from kg.errors import QueryTimeout

    with open_store(Settings(store="oxigraph", workers=1, max_query_terms=50_000, query_timeout=5), small_build) as store:
        assert store.query(patterns(100)).rows == []
        # pyoxigraph's planner needs minutes for 2,000 patterns: a time-out, said as such
        with pytest.raises(QueryTimeout):
            store.query(patterns(2000), timeout=2)


def test_a_long_operator_chain_is_refused_before_it_can_crash_a_worker(small_build):
    chain = "SELECT * WHERE { BIND(1 AS ?x) FILTER(" + "+".join(["1"] * 4500) + " > 0) }"
    with open_store(Settings(store="oxigraph", workers=1, query_timeout=30), small_build) as store:
        pid = store.pool._idle.queue[0].process.pid
        with pytest.raises(QueryRefused, match="operands"):
            store.query(chain)
        assert store.query("ASK { ?s ?p ?o }").boolean
        assert store.pool._idle.queue[0].process.pid == pid  # the worker never saw it


def test_a_worker_crash_is_reported_as_a_crash_not_as_memory(small_build):
    cartesian = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    with open_store(Settings(store="oxigraph", workers=1, query_timeout=20), small_build) as store:
        pid = store.pool._idle.queue[0].process.pid
        threading.Timer(0.5, os.kill, (pid, signal.SIGSEGV)).start()
        with pytest.raises(QueryRefused) as caught:
            store.query(cartesian)
        assert "crashed" in str(caught.value) and "SIGSEGV" in str(caught.value) and "memory" not in str(caught.value)
    assert "killed by the system" in str(_worker_death(-signal.SIGKILL))
    assert isinstance(_worker_death(3), StoreError) and "exit code 3" in str(_worker_death(3))


def test_the_worker_memory_limit_stops_a_query_with_503_naming_it(small_build):
    hungry = ("SELECT (MAX(STRLEN(CONCAT(STR(?a), STR(?b), STR(?c)))) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d } "
              "GROUP BY ?a ?c")  # 4e8 groups: memory grows until stopped
    with open_store(Settings(store="oxigraph", workers=1, query_timeout=60, worker_memory="1G"), small_build) as probe:
        loaded = _resident_bytes(probe.pool._idle.queue[0].process.pid)
    assert loaded is not None and loaded < 500 << 20
    limit = loaded + (200 << 20)
    with open_store(Settings(store="oxigraph", workers=1, query_timeout=60, worker_memory=str(limit)), small_build) as store:
        started = time.monotonic()
        with pytest.raises(QueryOverMemory) as caught:
            store.query(hungry)
        assert caught.value.http_status == 503 and "KG_WORKER_MEMORY" in str(caught.value)
        assert time.monotonic() - started < 50
        assert store.query("ASK { ?s ?p ?o }").boolean  # a fresh worker answers


def test_worker_memory_setting():
    assert Settings(worker_memory="1.5G").worker_memory_bytes == int(1.5 * (1 << 30))
    assert Settings(worker_memory="0").worker_memory_bytes is None
    from kg.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="KG_WORKER_MEMORY"):
        Settings(worker_memory="lots")
