"""Cheap lookups without a worker round trip, and workers in reserve.

The web process's store keeps a copy of the build (kg.store.local) and answers there only what
is proven cheap: bounded for every value by the graph's fan-outs (kg.bound) *and* seen to run
quickly in a worker. These tests check each half of that rule, that the answers are the same
as the workers', and that a killed worker's place is taken by a loaded spare at once.
"""

from __future__ import annotations

import json
import time

import pyoxigraph as ox
import pytest

from kg import sparql as kg_sparql
from kg.errors import QuerySyntaxError, QueryTimeout
from kg.settings import Settings
from kg.store import open_store

ID = "https://w3id.org/hscp/id/"
P = "https://w3id.org/hscp/def#"
GRAPH = ox.NamedNode("https://w3id.org/hscp/graph/data")
HUB = ox.NamedNode(f"{P}Hub")
TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
LINK = ox.NamedNode(f"{P}link")
LOOKUP = f"SELECT ?s ?p ?o ?label WHERE {{ ?s ?p ?o OPTIONAL {{ ?o <{LABEL.value}> ?label }} }} ORDER BY ?p ?o"
HUB_QUERY = "SELECT ?c ?s WHERE { ?s a ?c }"  # ?c bound to the hub: every instance


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """5,000 resources, each typed with one hub class, labelled, linked to the next."""
    folder = tmp_path_factory.mktemp("in-process")
    quads = []
    for i in range(5_000):
        node = ox.NamedNode(f"{ID}thing/t{i}")
        quads += [ox.Quad(node, TYPE, HUB, GRAPH), ox.Quad(node, LABEL, ox.Literal(f"thing {i}"), GRAPH),
                  ox.Quad(node, LINK, ox.NamedNode(f"{ID}thing/t{(i + 1) % 5_000}"), GRAPH)]
    ox.serialize(quads, str(folder / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    return folder


@pytest.fixture(scope="module")
def store(build):
    with open_store(Settings(workers=2, spare_workers=1, in_process_bound=1_000, query_timeout=5), build,
                    local=True) as opened:
        assert opened.local.wait(60), opened.local.error
        yield opened


def thing(i: int):
    from rdflib import URIRef

    return URIRef(f"{ID}thing/t{i}")


def test_a_bounded_lookup_runs_in_process_once_its_shape_was_seen_quick(store):
    before = store.local_answers
    first = store.query(LOOKUP, {"s": thing(1)})  # never seen: a worker answers, and it is quick
    assert store.local_answers == before
    second = store.query(LOOKUP, {"s": thing(2)})  # same shape, another value: in process
    assert store.local_answers == before + 1
    def plain(result):
        return [tuple(None if v is None else str(v) for v in row[1:]) for row in result.rows]

    assert plain(first) == [(TYPE.value, HUB.value, None), (LABEL.value, "thing 1", None),
                            (LINK.value, f"{ID}thing/t2", "thing 2")]
    assert plain(second) == [(TYPE.value, HUB.value, None), (LABEL.value, "thing 2", None),
                             (LINK.value, f"{ID}thing/t3", "thing 3")]


def test_in_process_answers_are_the_workers_answers(build, store):
    with open_store(Settings(workers=1, spare_workers=0), build) as workers_only:
        for i in (3, 4, 4999):
            store.query(LOOKUP, {"s": thing(i)})
            before = store.local_answers
            mine = store.query(LOOKUP, {"s": thing(i)}, output="json")
            assert store.local_answers == before + 1
            theirs = workers_only.query(LOOKUP, {"s": thing(i)}, output="json")
            # pyoxigraph writes the in-process JSON without spaces: the same document
            assert json.loads(mine.serialize("json")) == json.loads(theirs.serialize("json"))
            assert mine.serialize("csv") == theirs.serialize("csv") and mine.rows == theirs.rows


def test_an_unbounded_query_never_runs_in_process_however_quick(store):
    from rdflib import URIRef

    for _ in range(3):  # quick each time, and known quick
        store.query(HUB_QUERY, {"c": URIRef(HUB.value)}, limit=10)
    before = store.local_answers
    store.query(HUB_QUERY, {"c": URIRef(HUB.value)}, limit=10)
    assert store.local_answers == before  # 5,000 instances of the hub: over the bound of 1,000


def test_a_lookup_by_inlined_iri_is_parsed_once_by_its_template(store):
    text = "SELECT ?p ?o WHERE {{ <{}> ?p ?o }}"
    kg_sparql.parse.cache_clear()
    store.query(text.format(f"{ID}thing/t10"))
    store.query(text.format(f"{ID}thing/t11"))
    assert kg_sparql.parse.cache_info().misses == 1
    before = store.local_answers
    result = store.query(text.format(f"{ID}thing/t12"))
    assert store.local_answers == before + 1 and len(result.rows) == 3


def test_a_syntax_error_in_a_templated_query_names_its_own_line_and_column():
    with pytest.raises(QuerySyntaxError) as caught:
        kg_sparql.parse_bounded(f"SELECT * WHERE {{ <{ID}a-much-longer-iri-than-the-placeholder> ?p ?o . FILTER( }}",
                                max_terms=1000, timeout=5)
    assert caught.value.column > 60  # the column in the text sent, not in the template


def test_a_killed_worker_is_replaced_at_once_by_a_spare(build):
    with open_store(Settings(workers=2, spare_workers=1, query_timeout=1), build) as store:
        pool = store.pool
        assert pool.status() == {"in_service": 2, "spare": 1, "restarts": 0}
        runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        with pytest.raises(QueryTimeout):
            store.query(runaway)
        status = pool.status()
        assert status["in_service"] == 2 and status["spare"] == 0 and status["restarts"] == 1
        started = time.monotonic()
        store.query("ASK { ?s ?p ?o }")
        store.query("ASK { ?s ?p ?o }")
        assert time.monotonic() - started < 1.0  # no worker had to load the store first
        deadline = time.monotonic() + 60
        while pool.status()["spare"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.status() == {"in_service": 2, "spare": 1, "restarts": 1}
        time.sleep(1.0)  # the thread that started the new spare has ended: the spare lives on
        assert all(worker.alive() for worker in pool._all) and len(pool._all) == 3


def test_a_flood_of_unique_queries_forgets_itself_not_the_lookups(store, monkeypatch):
    """Refused as busy, a query leaves no memory of its cost; a flood of new shapes pushes out
    the oldest shapes first, and a lookup that keeps coming stays known quick (before, the
    memory was cleared at 4,096 shapes and lookups went back to the workers in mid-flood)."""
    from kg.errors import ServiceBusy

    store.query(LOOKUP, {"s": thing(7)})
    lookup_key = kg_sparql.parse_bounded(LOOKUP, max_terms=10_000, timeout=5).key
    assert lookup_key in store._last_seconds

    def busy(*args, **kwargs):
        raise ServiceBusy("busy")

    with monkeypatch.context() as patched:
        patched.setattr(store.pool, "call", busy)
        with pytest.raises(ServiceBusy):
            store.query("SELECT * WHERE { ?s ?p ?o FILTER(?o != 123456) }")
    flood = kg_sparql.parse_bounded("SELECT * WHERE { ?s ?p ?o FILTER(?o != 123456) }", max_terms=10_000, timeout=5)
    assert flood.key not in store._last_seconds
    for n in range(4_200):  # past 4,096 shapes, the last lookup 200 shapes ago
        store._remember(f"flood {n}", 10.0)
        if n % 1_000 == 0:
            store.query(LOOKUP, {"s": thing(8)})  # the lookup keeps coming
    assert len(store._last_seconds) <= 4096
    assert store._last_seconds[lookup_key] < store.slow_seconds


def test_a_worker_in_a_long_query_dies_with_the_process_that_owns_it(build, tmp_path):
    """A killed web process takes its query workers with it, even mid-query (they never read
    their pipe again while pyoxigraph runs): the kernel kills them (kg.processes)."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, threading
        from kg.settings import Settings
        from kg.store import open_store
        store = open_store(Settings(workers=1, spare_workers=0, query_timeout=600), {str(build)!r})
        print(" ".join(str(w.process.pid) for w in store.pool._all), flush=True)
        store.query("SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }}")
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    workers = [int(p) for p in owner.stdout.readline().split()]
    assert workers
    time.sleep(1.0)  # the runaway is running in the worker
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_forked_child_starts_processes_too():
    """kg publish renders pages in forked processes, which open stores: spawning there must not
    wait for the parent's spawner thread (it did, for ever, before the fork handler)."""
    import multiprocessing
    import sys

    from kg.processes import spawn

    assert spawn([sys.executable, "-c", "pass"]).wait() == 0  # the parent's spawner exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_spawn_in_child).get(timeout=30) == 0


def _spawn_in_child() -> int:
    import sys

    from kg.processes import spawn

    return spawn([sys.executable, "-c", "pass"]).wait()
