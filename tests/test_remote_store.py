"""The remote store: parameters as a leading VALUES block, server caps and time limits declared,
refusals before any request, and, against a real Virtuoso (KG_TEST_VIRTUOSO), a pushed build
answering every canned query as the embedded store does.

The Virtuoso tests need a running instance: ``.ci/virtuoso.sh start`` then
``eval "$(.ci/virtuoso.sh env)"`` (``.ci/run`` does both); without it they are skipped.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import time
from decimal import Decimal

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib import BNode, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import XSD

from kg import sparql as kg_sparql
from kg.errors import QueryRefused, QueryTimeout, StoreError
from kg.queries import Catalogue
from kg.settings import Settings, resource_dir
from kg.store import RemoteStore, bind_inline, cell_from_term, open_store

VIRTUOSO = os.environ.get("KG_TEST_VIRTUOSO")
needs_virtuoso = [
    pytest.mark.virtuoso,
    pytest.mark.skipif(not VIRTUOSO, reason="Virtuoso not running: set KG_TEST_VIRTUOSO "
                                            "(eval \"$(.ci/virtuoso.sh env)\" after .ci/virtuoso.sh start)"),
]
G = "https://w3id.org/hscp/graph/"
HSCP = "https://w3id.org/hscp/def#"
ID = "https://w3id.org/hscp/id/"
CANNED = sorted(q.name for q in Catalogue.load(resource_dir("queries")))


def virtuoso(test):
    for mark in needs_virtuoso:
        test = mark(test)
    return test


def canonical(rows):
    """Rows as a set; numbers compared by value, booleans as 1 and 0, and a year and its January
    as one (Virtuoso's datatype differences, pinned by test_known_differences_of_virtuoso: it holds
    "2015"^^xsd:gYear and "2015-01"^^xsd:gYearMonth as one value and gives back either, as they are
    or through STR())."""
    def term(t):
        if isinstance(t, Literal) and t.datatype in (None, XSD.string, XSD.gYear, XSD.gYearMonth) and not t.language \
                and re.fullmatch(r"\d{4}(-01)?", str(t)):
            return ("year or its January", str(t)[:4])
        if isinstance(t, Literal) and t.datatype is not None and isinstance(t.toPython(), (int, float, Decimal)):
            return ("number", Decimal(int(t.toPython()) if isinstance(t.toPython(), bool) else str(t.toPython())))
        if isinstance(t, BNode):
            return ("blank",)
        return t
    return {tuple(term(t) for t in row) for row in rows}


# --- parameters as a VALUES block at the start of the WHERE group (no server needed) ------------

TURTLE = """
@prefix hscp: <https://w3id.org/hscp/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/hscp/id/partnership/torbay> a hscp:Partnership ; rdfs:label "Torbay {care} trust"@en ;
    hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/england> ; hscp:startYear 2005 .
<https://w3id.org/hscp/id/partnership/highland> a hscp:Partnership ; rdfs:label "Highland" ;
    hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/scotland> ; hscp:startYear 2012 .
"""
ENGLAND = URIRef(ID + "jurisdiction/england")
SHAPES = [
    # a parameter used only in a FILTER: a trailing VALUES block would leave it unbound there
    ("SELECT ?p ?j WHERE { ?p <https://w3id.org/hscp/def#jurisdiction> ?x FILTER(?x = ?j) }", {"j": ENGLAND}),
    # braces inside strings, comments and IRIs with '#', a less-than operator, a trailing VALUES
    ("PREFIX h: <https://w3id.org/hscp/def#>  # a comment { with a brace\n"
     "SELECT ?p ?y ?j WHERE { ?p h:startYear ?y ; h:jurisdiction ?j ; <http://www.w3.org/2000/01/rdf-schema#label> ?l "
     "FILTER(?y<2010 || STR(?l) = \"}{\") } VALUES ?y { 2005 2012 }", {"j": ENGLAND}),
    # EXISTS in a projected expression comes before the WHERE group
    ("SELECT ?j (EXISTS { ?q a <https://w3id.org/hscp/def#Partnership> } AS ?any) (COUNT(?p) AS ?n) "
     "WHERE { ?p <https://w3id.org/hscp/def#jurisdiction> ?j } GROUP BY ?j", {"j": ENGLAND}),
    ("ASK { ?p <https://w3id.org/hscp/def#jurisdiction> ?j }", {"j": ENGLAND}),
    ("CONSTRUCT { ?p <http://example.org/in> ?j } WHERE { ?p <https://w3id.org/hscp/def#jurisdiction> ?j }",
     {"j": ENGLAND}),
    ("CONSTRUCT WHERE { ?p <https://w3id.org/hscp/def#jurisdiction> ?j }", {"j": ENGLAND}),
    ("SELECT ?label ?p WHERE { ?p <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(STR(?l) = ?label) }",
     {"label": Literal('"> } ; DROP ALL ; #')}),
]


def _oxigraph(text, substitutions=None):
    store = ox.Store()
    store.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(G + "data"))
                      for t in ox.parse(TURTLE, format=ox.RdfFormat.TURTLE))
    options = {"use_default_graph_as_union": True}
    if substitutions:
        options["substitutions"] = {ox.Variable(k): ox.NamedNode(v) if isinstance(v, URIRef) else ox.Literal(str(v))
                                    for k, v in substitutions.items()}
    answer = store.query(text, **options)
    if isinstance(answer, ox.QueryBoolean):
        return bool(answer)
    if isinstance(answer, ox.QueryTriples):
        return {str(t) for t in answer}
    return {tuple(str(v) if v is not None else None for v in row) for row in answer}


@pytest.mark.parametrize("text,bindings", SHAPES)
def test_values_block_answers_as_substitution_does(text, bindings):
    parsed = kg_sparql.parse(text)
    bound = bind_inline(parsed, {k: cell_from_term(v) for k, v in bindings.items()})
    assert _oxigraph(bound) == _oxigraph(text, bindings)
    assert kg_sparql.parse(bound).form == parsed.form


def test_a_filter_only_parameter_gets_rows():
    parsed = kg_sparql.parse(SHAPES[0][0])
    bound = bind_inline(parsed, {"j": cell_from_term(ENGLAND)})
    assert _oxigraph(bound) == {(f"<{ID}partnership/torbay>", f"<{ENGLAND}>")}


@pytest.mark.parametrize("name", CANNED)
def test_every_canned_query_binds_as_substitution_does(name, tmp_path):
    """Each bundled query, its example parameters as a VALUES block, on oxigraph: same rows."""
    catalogue = Catalogue.load(resource_dir("queries"))
    query = catalogue.get(name)
    build = _bundled_build()
    with open_store(Settings(store="oxigraph", workers=1), build) as store:
        bindings = query.bindings(query.example_params(), store=store)
        if not bindings:
            pytest.skip(f"{name} takes no parameters")
        bound = bind_inline(kg_sparql.parse(query.sparql),
                                 {k: cell_from_term(v) for k, v in bindings.items()})
        expected = store.query(query.sparql, bindings, limit=100_000)
        actual = store.query(bound, limit=100_000)
    assert canonical(actual.rows) == canonical(expected.rows)


_BUILD_CACHE: dict[str, object] = {}


def _bundled_build():
    """One build of the bundled case data per test process."""
    if "dir" not in _BUILD_CACHE:
        import tempfile

        from kg.build import build

        folder = tempfile.mkdtemp(prefix="kg-remote-test-")
        out = os.path.join(folder, "build")
        build(Settings.from_env({}, build_dir=out), out)
        _BUILD_CACHE["dir"] = out
    return _BUILD_CACHE["dir"]


# --- server-side caps and time limits, from a stand-in server (no Virtuoso needed) ----------------


class _StandIn(http.server.BaseHTTPRequestHandler):
    """Answers every query with one row and the headers the test asks for."""

    headers_to_send: dict[str, str] = {}
    rows = 3

    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"head": {"vars": ["n"]}, "results": {"bindings": [
            {"n": {"type": "typed-literal", "datatype": str(XSD.integer), "value": str(i)}} for i in range(self.rows)
        ]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        for key, value in self.headers_to_send.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()
    server.server_close()


def test_a_server_row_cap_is_declared_never_silent(stand_in):
    _StandIn.headers_to_send = {"X-SPARQL-MaxRows": "3"}
    store = open_store(Settings(store="sparql+" + stand_in, row_limit=100))
    result = store.query("SELECT ?n WHERE { ?s ?p ?n }")
    assert len(result.rows) == 3 and result.truncated
    _StandIn.headers_to_send = {}
    assert not store.query("SELECT ?n WHERE { ?s ?p ?n }").truncated


def test_partial_results_at_a_server_time_limit_are_a_timeout(stand_in):
    _StandIn.headers_to_send = {"X-SQL-State": "S1TAT", "X-SQL-Message": "RC...: Returning incomplete results"}
    store = open_store(Settings(store="sparql+" + stand_in))
    with pytest.raises(QueryTimeout, match="MaxQueryExecutionTime"):
        store.query("SELECT ?n WHERE { ?s ?p ?n }")
    _StandIn.headers_to_send = {}


def test_refusals_send_nothing_to_the_remote_store(listener):
    store = open_store(Settings(store=f"sparql+{listener.url}/sparql"))
    for text in (f"SELECT * WHERE {{ SERVICE <{listener.url}/other> {{ ?s ?p ?o }} }}",
                 f"LOAD <{listener.url}/data.ttl>",
                 f"INSERT DATA {{ GRAPH <{G}data> {{ <{ID}a> <{ID}b> <{ID}c> }} }}",
                 f"DROP GRAPH <{G}data>", "CLEAR ALL"):
        with pytest.raises(QueryRefused):
            store.query(text)
    assert listener.connections() == 0


# --- against a real Virtuoso ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_build():
    return _bundled_build()


@pytest.fixture(scope="module")
def remote_settings():
    return Settings.from_env({}, store="sparql+" + (VIRTUOSO or ""),
                             store_update_url=os.environ.get("KG_TEST_VIRTUOSO_UPDATE"),
                             store_user=os.environ.get("KG_TEST_VIRTUOSO_USER"),
                             store_password=os.environ.get("KG_TEST_VIRTUOSO_PASSWORD"),
                             row_limit=100_000)


@pytest.fixture(scope="module")
def pushed(remote_settings, bundled_build):
    with open_store(remote_settings) as remote:
        return remote.push(bundled_build)


@pytest.fixture(scope="module")
def remote(remote_settings, pushed):
    with open_store(remote_settings) as store:
        yield store


@pytest.fixture(scope="module")
def embedded(bundled_build):
    with open_store(Settings(store="oxigraph", workers=1, row_limit=100_000), bundled_build) as store:
        yield store


def _raw(url, text):
    """A query straight to the endpoint, bypassing the store (to see what it does not show)."""
    from SPARQLWrapper import JSON, SPARQLWrapper

    wrapper = SPARQLWrapper(url)
    wrapper.setQuery(text)
    wrapper.setReturnFormat(JSON)
    return wrapper.query().convert()


@virtuoso
def test_push_loads_every_graph(pushed, remote, embedded):
    assert pushed == embedded.stats()["graphs"]
    assert remote.graphs() == embedded.graphs()
    assert remote.stats() == embedded.stats()


@virtuoso
def test_push_replaces_what_was_there(remote_settings, bundled_build, remote, embedded):
    stray = f"<{ID}stray> <{HSCP}note> \"left over\""
    remote._update(f"INSERT DATA {{ GRAPH <{G}data> {{ {stray} }} }}")
    result = CliRunner().invoke(
        __import__("kg.cli", fromlist=["cli"]).cli,
        ["push", VIRTUOSO, "--build", str(bundled_build), "--update-url", remote_settings.store_update_url,
         "--user", remote_settings.store_user, "--password", remote_settings.store_password])
    assert result.exit_code == 0, result.output
    assert f"pushed <{G}data>: {embedded.stats()['graphs'][G + 'data']} triples" in result.output
    assert not remote.query(f"ASK {{ <{ID}stray> ?p ?o }}").boolean
    assert remote.stats() == embedded.stats()


@virtuoso
def test_a_failed_push_names_the_graph_and_leaves_the_others_whole(remote_settings, bundled_build, remote,
                                                                   embedded, tmp_path, monkeypatch):
    # a second build: every graph gains one marker triple
    changed = tmp_path / "build"
    changed.mkdir()
    quads = list(ox.parse(path=os.path.join(bundled_build, "graph.nq"), format=ox.RdfFormat.N_QUADS))
    order = list(dict.fromkeys(q.graph_name.value for q in quads))
    quads += [ox.Quad(ox.NamedNode(f"{ID}marker"), ox.NamedNode(f"{HSCP}note"), ox.Literal(g), ox.NamedNode(g))
              for g in order]
    ox.serialize(quads, str(changed / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    failing = order[2]
    real_update = RemoteStore._update

    def update(self, text):
        if f"<{failing}#staging>" in text and text.startswith("INSERT"):
            raise StoreError("simulated failure")
        return real_update(self, text)

    monkeypatch.setattr(RemoteStore, "_update", update)
    with open_store(remote_settings) as pusher, pytest.raises(StoreError) as failure:
        pusher.push(changed)
    monkeypatch.setattr(RemoteStore, "_update", real_update)
    message = str(failure.value)
    assert f"<{failing}>" in message and "simulated failure" in message
    assert f"<{order[0]}>, <{order[1]}>" in message
    before = embedded.stats()["graphs"]
    marked = {str(g) for (g,) in remote.query(
        f"SELECT ?g WHERE {{ GRAPH ?g {{ <{ID}marker> ?p ?o }} }}").rows}
    assert marked == set(order[:2])  # replaced: new content, marker included
    counts = remote.stats()["graphs"]
    for graph in order:
        assert counts[graph] == before[graph] + (1 if graph in order[:2] else 0), graph
    staging = _raw(VIRTUOSO, f"ASK {{ GRAPH <{failing}#staging> {{ ?s ?p ?o }} }}")
    assert staging["boolean"] is False
    # and back to the bundled build for the other tests
    with open_store(remote_settings) as pusher:
        pusher.push(bundled_build)
    assert remote.stats() == embedded.stats()


@virtuoso
def test_the_servers_own_graphs_stay_out_of_sight(remote):
    # Virtuoso keeps system graphs (virtrdf#, ldp#, …) in its default union: not ours
    everything = _raw(VIRTUOSO, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    theirs = {b["g"]["value"] for b in everything["results"]["bindings"]} - set(remote.graphs())
    assert theirs, "expected Virtuoso's own graphs beside the build's"
    seen = {str(g) for (g,) in remote.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows}
    assert seen == set(remote.graphs())
    assert not remote.query("ASK { ?s a <http://www.openlinksw.com/schemas/virtrdf#QuadMap> }").boolean


# Queries Virtuoso 7.2 answers wrongly, each for a reason shown by a smaller query. Strict:
# when a Virtuoso release answers them right, the test says so. (Its year/January conflation is
# forgiven by canonical(), like its numeric datatypes: it touches every query that shows a date.)
# (Virtuoso 7.2 also returns nothing for a zero-length path step such as p?/q* once one end is
# bound: test_known_differences_of_virtuoso. Two canned queries write such steps as UNIONs; the
# third keeps its path, because the UNION form of it is far slower on the embedded engines.)
_ZERO_LENGTH_PATHS = ("Virtuoso 7.2 returns no rows for a zero-or-one/zero-or-more property path "
                      "(p?/q*, (p/q*)?) once one of its ends is bound (by a parameter, a FILTER or a join)")
VIRTUOSO_WRONG = {
    "outcome-aims-without-evidence": _ZERO_LENGTH_PATHS,
    "evaluation-designs": "Virtuoso 7.2's MIN() over citation strings may pick another string than code-point "
                          "order (seen after graphs were pushed again; not on a fresh database)",
}
FLAKY = {"evaluation-designs"}  # whether the fault shows varies between loads


def _canned_case(name):
    if name in VIRTUOSO_WRONG:
        return pytest.param(name, marks=pytest.mark.xfail(reason=VIRTUOSO_WRONG[name], strict=name not in FLAKY))
    return name


@virtuoso
@pytest.mark.parametrize("name", [_canned_case(n) for n in CANNED])
def test_every_canned_query_answers_as_embedded(name, remote, embedded):
    query = Catalogue.load(resource_dir("queries")).get(name)
    params = query.example_params()
    expected = embedded.run(query, params)
    actual = remote.run(query, params)
    assert actual.kind == expected.kind
    if expected.kind == "select":
        assert actual.variables == expected.variables
        assert canonical(actual.rows) == canonical(expected.rows)
        assert not actual.truncated
    elif expected.kind == "ask":
        assert actual.boolean == expected.boolean
    else:
        assert isomorphic(actual.graph, expected.graph)


@virtuoso
def test_known_differences_of_virtuoso(remote, embedded):
    """What Virtuoso answers differently: datatypes only, which the comparison above forgives."""
    whole = (f"SELECT ?v (DATATYPE(?v) AS ?t) WHERE {{ ?i <{HSCP}value> ?v "
             "FILTER(?v = 11) } LIMIT 1")
    # a whole-number xsd:decimal comes back as xsd:integer (the value is kept, the datatype not)
    assert embedded.query(whole).rows[0][1] == XSD.decimal
    assert remote.query(whole).rows[0][1] == XSD.integer
    # a boolean expression comes back as the integer 1 or 0
    test = "SELECT (1 < 2 AS ?b) WHERE {}"
    assert embedded.query(test).rows == [(Literal(True),)]
    assert remote.query(test).rows[0][0].toPython() == 1
    # "2015-01"^^xsd:gYearMonth and "2015"^^xsd:gYear are one value to Virtuoso (the same first
    # instant): some January months come back as bare years (which ones varies between loads)
    dates = f"SELECT ?s ?d WHERE {{ ?s <{HSCP}startDate> ?d }}"
    january = {(s, d) for s, d in embedded.query(dates).rows
               if d.datatype == XSD.gYearMonth and str(d).endswith("-01")}
    back = set(remote.query(dates).rows)
    assert january
    for s, d in january:  # each comes back as itself or as the bare year, never as anything else
        assert (s, d) in back or (s, Literal(str(d)[:4], datatype=XSD.gYear)) in back, (s, d)
    # a zero-or-one / zero-or-more path whose end is bound may find nothing (depending on the plan)
    path = (f"SELECT * WHERE {{ VALUES ?f {{ <{ID}partnership-form/vanguard> }} ?o a <{HSCP}IndicatorObservation> ; "
            f"<{HSCP}refSubject> ?s ; <http://purl.org/dc/terms/source> ?source . "
            f"?s <{HSCP}form>?/<http://www.w3.org/2004/02/skos/core#broader>* ?f "
            f"OPTIONAL {{ ?o <{HSCP}refPeriod> ?period }} }}")
    def solutions(result):
        return {frozenset((v, t) for v, t in zip(result.variables, row) if t is not None) for row in result.rows}

    expected = solutions(embedded.query(path))
    assert len(expected) == 3
    assert solutions(remote.query(path)) in (set(), expected)  # the right rows or none, never others


def _without_months(graph):
    for triple in list(graph):
        if isinstance(triple[2], Literal) and triple[2].datatype in (XSD.gYearMonth, XSD.gYear):
            graph.remove(triple)
    return graph


@virtuoso
def test_describe_labels_and_stats(remote, embedded):
    some = [str(p) for (p,) in embedded.query(
        f"SELECT ?p WHERE {{ ?p a <{HSCP}Partnership> }} ORDER BY ?p LIMIT 5").rows]
    for iri in some:
        # (January gYearMonth values excepted: see test_known_differences_of_virtuoso)
        assert isomorphic(_without_months(remote.describe(iri)), _without_months(embedded.describe(iri))), iri
    assert remote.labels(some) == embedded.labels(some)
    assert remote.stats() == embedded.stats()
    assert remote.property_counts() == embedded.property_counts()


@virtuoso
def test_the_servers_row_cap_is_declared(remote_settings, remote):
    cap = int(os.environ.get("KG_TEST_VIRTUOSO_MAX_ROWS", "10000"))
    text = "SELECT ?a ?b WHERE { ?a a ?c . ?b a ?d }"  # far more rows than the cap
    result = remote.query(text, limit=cap * 10)
    assert result.truncated and len(result.rows) == cap
    small = remote.query(text, limit=10)
    assert small.truncated and len(small.rows) == 10
    within = remote.query(f"SELECT ?a WHERE {{ ?a a <{HSCP}Partnership> }}", limit=cap * 10)
    assert not within.truncated and 0 < len(within.rows) < cap


@virtuoso
def test_a_slow_query_times_out(remote):
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", timeout=1)
    assert time.monotonic() - started < 3
    assert remote.query(f"ASK {{ ?p a <{HSCP}Partnership> }}").boolean


@virtuoso
def test_refusals_reach_neither_the_store_nor_the_target(remote, listener):
    for text in (f"SELECT * WHERE {{ SERVICE <{listener.url}/> {{ ?s ?p ?o }} }}",
                 f"SELECT * FROM <{listener.url}/x> WHERE {{ ?s ?p ?o }}",
                 f"LOAD <{listener.url}/data.ttl>",
                 f"DROP GRAPH <{G}data>"):
        with pytest.raises(QueryRefused):
            remote.query(text)
    assert listener.connections() == 0
    assert remote.graphs()  # nothing was dropped


@virtuoso
def test_a_study_graph_is_seen_while_its_build_is_pushed(remote_settings, bundled_build, tmp_path):
    # last in the module: it pushes a merged build, then the bundled one back
    from kg.build import build
    from test_datasets import A, NOTE, init, write

    study = init(tmp_path / "study-r", A)
    write(study, "partnerships",
          f"remote-ijb,Remote IJB,,integration-joint-board,scotland,,,,,,scotland-integration-web,partial,{NOTE}")
    merged = tmp_path / "merged"
    build(Settings.from_env({}, studies=(study,), build_dir=merged))
    ask = f"ASK {{ <{A}partnership/remote-ijb> a <{HSCP}Partnership> }}"
    with open_store(remote_settings) as remote:
        assert G + "study/study-r" in remote.push(merged)
    with open_store(remote_settings) as remote:
        assert G + "study/study-r" in remote.graphs()
        assert remote.query(ask).boolean
    with open_store(remote_settings) as remote:
        remote.push(bundled_build)
    with open_store(remote_settings) as remote:  # the graph is still on the server, but no pushed build names it
        assert G + "study/study-r" not in remote.graphs()
        assert not remote.query(ask).boolean
