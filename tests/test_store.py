"""Stores: same answers on oxigraph and rdflib, refusals before any connection, real timeouts."""

import csv
import io
import json
import time
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic

from kg.errors import BuildNotFound, ConfigurationError, QueryRefused, QueryTimeout, ResourceNotFound
from kg.settings import Settings
from kg.store import load_build_into, open_store

G = "https://w3id.org/hscp/graph/"
ID = "https://w3id.org/hscp/id/"
PREFIXES = """
@prefix hscp: <https://w3id.org/hscp/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix id: <https://w3id.org/hscp/id/> .
"""
GRAPHS = {
    "ontology": """
        hscp:Partnership a <http://www.w3.org/2002/07/owl#Class> ; rdfs:label "Partnership"@en .
    """,
    "data": """
        <https://w3id.org/hscp/id/partnership/torbay> a hscp:Partnership ; rdfs:label "Torbay Care Trust"@en, "Torbay"@fr ;
            hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/england> ; hscp:startYear 2005 ;
            hscp:note [ rdfs:comment "a blank node" ; hscp:nested [ rdfs:comment "deeper" ] ] .
        <https://w3id.org/hscp/id/partnership/highland> a hscp:Partnership ; rdfs:label "NHS Highland lead agency" ;
            hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/scotland> ; hscp:startYear 2012 ; hscp:budget 12.50 .
        <https://w3id.org/hscp/id/jurisdiction/england> a hscp:Jurisdiction ; skos:prefLabel "England"@en ; dct:title "Angleterre"@fr .
        <https://w3id.org/hscp/id/jurisdiction/scotland> a hscp:Jurisdiction ; dct:title "Scotland" .
    """,
    "inferred": """
        <https://w3id.org/hscp/id/partnership/torbay> a <http://www.w3.org/ns/org#Organization> .
    """,
    "metadata": """
        <https://w3id.org/hscp/id/dataset> dct:title "partnership-kg"@en ; dct:issued "2024-01-01"^^xsd:date .
    """,
}


def write_dump(build_dir, graphs=GRAPHS):
    """A build folder with graph.nq holding the given Turtle snippets as named graphs."""
    build_dir.mkdir(parents=True, exist_ok=True)
    dataset = ox.Dataset()
    for name, turtle in graphs.items():
        for triple in ox.parse(PREFIXES + turtle, format=ox.RdfFormat.TURTLE):
            dataset.add(ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(G + name)))
    ox.serialize(dataset, str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    return build_dir


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return write_dump(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module", params=["oxigraph", "rdflib", "oxigraph-disk"])
def store(request, build, tmp_path_factory):
    backend = request.param
    if backend == "oxigraph-disk":
        path = tmp_path_factory.mktemp("oxstore") / "store"
        load_build_into(path, build)
        backend = f"oxigraph:{path}"
    with open_store(Settings(store=backend, workers=2, query_timeout=10, row_limit=10), build) as opened:
        yield opened


@pytest.fixture(scope="module")
def both(build):
    stores = [open_store(Settings(store=b, workers=1), build) for b in ("oxigraph", "rdflib")]
    yield stores
    for s in stores:
        s.close()


def test_graphs_are_the_named_graphs(store):
    assert store.graphs() == sorted(G + n for n in GRAPHS)


def test_default_graph_is_the_union_of_named_graphs(store):
    rows = store.query("SELECT ?type WHERE { <https://w3id.org/hscp/id/partnership/torbay> a ?type }").rows
    assert {str(r[0]) for r in rows} == {"https://w3id.org/hscp/def#Partnership", "http://www.w3.org/ns/org#Organization"}


def test_from_restricts_the_default_graph(store):
    text = f"SELECT ?type FROM <{G}data> WHERE {{ <{ID}partnership/torbay> a ?type }}"
    assert {str(r[0]) for r in store.query(text).rows} == {"https://w3id.org/hscp/def#Partnership"}


def test_select_rows_are_rdflib_terms(store):
    result = store.query(f"SELECT ?year WHERE {{ <{ID}partnership/torbay> <https://w3id.org/hscp/def#startYear> ?year }}")
    assert result.kind == "select" and result.variables == ["year"]
    assert result.rows == [(Literal(2005),)]
    assert not result.truncated


def test_bindings_are_substituted(store):
    text = "SELECT ?p ?label WHERE { ?p <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    result = store.query(text, {"p": URIRef(ID + "partnership/highland")})
    assert result.rows == [(URIRef(ID + "partnership/highland"), Literal("NHS Highland lead agency"))]


def test_ask_and_construct(store):
    assert store.query("ASK { ?s a <https://w3id.org/hscp/def#Jurisdiction> }").boolean is True
    graph = store.query("CONSTRUCT { ?s a ?c } WHERE { ?s a ?c }").graph
    assert (URIRef(ID + "jurisdiction/england"), rdflib.RDF.type, URIRef("https://w3id.org/hscp/def#Jurisdiction")) in graph


def test_row_cap_is_declared(store):
    result = store.query("SELECT * WHERE { ?s ?p ?o }", limit=3)
    assert result.truncated and len(result.rows) == 3 and result.limit == 3
    default = store.query("SELECT * WHERE { ?s ?p ?o }")
    assert default.truncated and len(default.rows) == 10  # row_limit of the fixture
    small = store.query("SELECT * WHERE { ?s a <https://w3id.org/hscp/def#Jurisdiction> }")
    assert not small.truncated


def test_results_serialize_to_every_format(store):
    result = store.query(f"SELECT ?l WHERE {{ <{ID}partnership/torbay> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    parsed = json.loads(result.serialize("json"))
    assert {b["l"]["value"] for b in parsed["results"]["bindings"]} == {"Torbay Care Trust", "Torbay"}
    assert {row[0] for row in list(csv.reader(io.StringIO(result.serialize("csv").decode())))[1:]} == {
        "Torbay Care Trust", "Torbay"}
    assert set(result.serialize("tsv").decode().splitlines()[1:]) == {'"Torbay Care Trust"@en', '"Torbay"@fr'}
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    literals = ElementTree.fromstring(result.serialize("xml")).findall(".//r:literal", ns)
    assert {(e.text, e.get("{http://www.w3.org/XML/1998/namespace}lang")) for e in literals} == {
        ("Torbay Care Trust", "en"), ("Torbay", "fr")}
    graph_result = store.query(f"DESCRIBE <{ID}jurisdiction/england>")
    for fmt, name in (("turtle", "turtle"), ("nt", "nt"), ("xml", "xml")):
        assert isomorphic(rdflib.Graph().parse(data=graph_result.serialize(fmt), format=name), graph_result.graph)
    # (rdflib's JSON-LD parser warns about its own deprecated classes: check the document itself)
    assert ID + "jurisdiction/england" in {node.get("@id") for node in json.loads(graph_result.serialize("jsonld"))}


def test_describe_follows_blank_nodes_and_labels_neighbours(store):
    graph = store.describe(ID + "partnership/torbay")
    comments = {str(o) for o in graph.objects(None, rdflib.RDFS.comment)}
    assert comments == {"a blank node", "deeper"}
    assert Literal("England", lang="en") in set(graph.objects(URIRef(ID + "jurisdiction/england"), None))
    with pytest.raises(ResourceNotFound):
        store.describe(ID + "partnership/nowhere")


def test_labels_prefer_english_in_one_query(store):
    labels = store.labels([ID + "partnership/torbay", ID + "jurisdiction/england", ID + "jurisdiction/scotland",
                           ID + "partnership/nowhere"])
    assert labels == {ID + "partnership/torbay": "Torbay Care Trust", ID + "jurisdiction/england": "England",
                      ID + "jurisdiction/scotland": "Scotland"}


def test_stats_count_graphs_and_classes(store):
    stats = store.stats()
    assert stats["graphs"][G + "ontology"] == 2
    assert stats["classes"]["https://w3id.org/hscp/def#Partnership"] == 2
    assert stats["triples"] == sum(stats["graphs"].values())


def canonical(rows):
    """Rows as a set, numeric literals by value (oxigraph stores 12.50 as 12.5, rdflib keeps it)."""
    def term(t):
        if isinstance(t, Literal) and t.datatype is not None and isinstance(t.toPython(), (int, float)) or (
                isinstance(t, Literal) and type(t.toPython()).__name__ == "Decimal"):
            return ("number", str(t.datatype), t.toPython())
        return t
    return {tuple(term(t) for t in row) for row in rows}


def test_same_answers_on_both_embedded_backends(both):
    queries = [
        "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) }",
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
        "SELECT ?j (SUM(?y) AS ?total) WHERE { ?p <https://w3id.org/hscp/def#jurisdiction> ?j ; "
        "<https://w3id.org/hscp/def#startYear> ?y } GROUP BY ?j",
        "SELECT ?p ?b WHERE { ?p a <https://w3id.org/hscp/def#Partnership> OPTIONAL { ?p <https://w3id.org/hscp/def#budget> ?b } }",
        "SELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(lang(?l) = 'en') }",
    ]
    oxigraph, rdflib_store = both
    for text in queries:
        assert canonical(oxigraph.query(text).rows) == canonical(rdflib_store.query(text).rows), text
    describe = f"DESCRIBE <{ID}jurisdiction/scotland>"
    assert isomorphic(oxigraph.query(describe).graph, rdflib_store.query(describe).graph)


def test_remote_references_are_refused_before_any_connection(store, listener):
    url = listener.url
    attempts = [
        f"SELECT * WHERE {{ SERVICE <{url}/> {{ ?s ?p ?o }} }}",
        f"SELECT * FROM <{url}/x> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{url}/x> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        f"LOAD <{url}/data.ttl>",
        f"LOAD <{url}/data.ttl> INTO GRAPH <{G}data>",
    ]
    for text in attempts:
        with pytest.raises(QueryRefused):
            store.query(text)
    assert listener.connections() == 0


def test_missing_build_and_unknown_backend(tmp_path):
    with pytest.raises(BuildNotFound):
        open_store(Settings(), tmp_path)
    with pytest.raises(ConfigurationError):
        open_store(Settings(store="neo4j"), tmp_path)


# --- timeouts over ~100k triples ---------------------------------------------------------------


@pytest.fixture(scope="module")
def big_build(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("big")
    graph = ox.NamedNode(G + "data")
    p = ox.NamedNode("https://w3id.org/hscp/def#value")
    quads = (ox.Quad(ox.NamedNode(f"{ID}observation/o{i}"), p, ox.Literal(str(i)), graph) for i in range(100_000))
    ox.serialize(quads, str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    return build_dir


CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["oxigraph", "rdflib"])
def test_runaway_query_is_stopped_at_the_deadline(backend, big_build):
    limit = 1.5
    with open_store(Settings(store=backend, workers=2, query_timeout=limit), big_build) as store:
        lookup = f"SELECT ?v WHERE {{ <{ID}observation/o42> ?p ?v }}"
        store.query(lookup)  # known to be quick: it may use the worker left while the other restarts
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="1.5 s limit"):
            store.query(CARTESIAN)
        assert time.monotonic() - started < limit + 1
        result = store.query(lookup)
        assert result.rows == [(Literal("42"),)]
        assert store.pool.restarts == 1


def test_protocol_dataset_replaces_the_default_union(store):
    """default-graph-uri / named-graph-uri pick the dataset, like FROM / FROM NAMED, on every engine."""
    data, onto = "https://w3id.org/hscp/graph/data", "https://w3id.org/hscp/graph/ontology"
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    union = store.query(count).rows[0][0].toPython()
    only_data = store.query(count, default_graphs=[data]).rows[0][0].toPython()
    assert 0 < only_data < union
    assert store.query(count, default_graphs=store.graphs()).rows[0][0].toPython() == union
    assert store.query(count, named_graphs=[data]).rows[0][0].toPython() == 0  # empty default graph
    named = store.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graphs=[onto])
    assert [str(r[0]) for r in named.rows] == [onto]
    with pytest.raises(QueryRefused, match="default-graph-uri=http://127.0.0.1:9/x names a graph"):
        store.query(count, default_graphs=["http://127.0.0.1:9/x"])


# --- JSON written in the worker; a worker kept for quick queries ------------------------------


@pytest.mark.parametrize("text", [
    f"SELECT ?l WHERE {{ <{ID}partnership/torbay> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}",
    # datatypes, languages, cut at the row limit (ordered, no blank nodes: each worker loads
    # its own copy, with its own blank node labels)
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) } ORDER BY ?s ?p ?o",
    "SELECT ?x WHERE { ?s <https://w3id.org/hscp/def#nothing> ?x }",
])
def test_json_written_by_the_worker_is_the_same_result(store, text):
    plain = store.query(text)
    direct = store.query(text, output="json")
    assert direct.serialize("json") == plain.serialize("json")
    assert len(direct) == len(plain) and direct.truncated == plain.truncated
    assert direct.variables == plain.variables
    assert direct.rows == plain.rows  # parsed back from the JSON when read
    assert direct.serialize("csv") == plain.serialize("csv")


def test_bound_json_output_and_ask(store):
    text = "SELECT ?p ?label WHERE { ?p <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    bound = {"p": URIRef(ID + "partnership/highland")}
    assert store.query(text, bound, output="json").rows == [(URIRef(ID + "partnership/highland"),
                                                             Literal("NHS Highland lead agency"))]
    assert store.query("ASK { ?s ?p ?o }", output="json").serialize("json") == b'{"head": {}, "boolean": true}'


@pytest.mark.slow
def test_slow_queries_leave_a_worker_for_quick_ones(big_build):
    import threading

    with open_store(Settings(store="oxigraph", workers=2, query_timeout=2), big_build) as store:
        lookup = f"SELECT ?v WHERE {{ <{ID}observation/o7> ?p ?v }}"
        store.query(lookup)  # seen once, and quick: from now on it takes the quick worker
        failures = []

        def heavy():
            try:
                store.query(CARTESIAN)
            except QueryTimeout as error:
                failures.append(error)

        threads = [threading.Thread(target=heavy) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        result = store.query(f"# the same lookup, laid out anew\nSELECT ?v\nWHERE {{ <{ID}observation/o7> ?p ?v }}")
        assert time.monotonic() - started < 1.0  # not behind the two heavy queries
        assert result.rows == [(Literal("7"),)]
        for thread in threads:
            thread.join()
        assert len(failures) == 2  # each ran into the limit, one after the other


EXACT = ('PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> SELECT ?d ?e ?i ?b WHERE { VALUES (?d ?e ?i ?b) '
         '{ ("30000"^^xsd:double "1.50"^^xsd:decimal "01"^^xsd:integer "1"^^xsd:boolean) } }')


def test_rows_and_bindings_keep_the_engine_s_lexical_forms(store):
    result = store.query(EXACT)
    (binding,) = json.loads(result.serialize("json"))["results"]["bindings"]
    lexical = [binding[v]["value"] for v in result.variables]
    assert lexical[0] == "30000"  # every engine keeps this one; rdflib's Literal made it "30000.0"
    assert [str(t) for t in result.rows[0]] == lexical
    assert [str(result.bindings()[0][v]) for v in result.variables] == lexical
    assert [row[0] for row in csv.reader(io.StringIO(result.serialize("csv").decode()))][1:] == [lexical[0]]
    assert result.rows[0][0].toPython() == 30000.0 and result.rows[0][2].toPython() == 1  # values still typed


@pytest.mark.slow
def test_new_queries_disguised_by_comments_never_take_the_quick_worker(big_build):
    """A runaway made new by a comment is still slow: the worker kept for known-quick queries stays free."""
    import threading

    with open_store(Settings(store="oxigraph", workers=2, query_timeout=2), big_build) as store:
        lookup = f"SELECT ?v WHERE {{ <{ID}observation/o7> ?p ?v }}"
        store.query(lookup)
        failures = []

        def runaway(n):
            try:
                store.query(f"# runaway {n}\n{CARTESIAN}")
            except QueryTimeout as error:
                failures.append(error)

        threads = [threading.Thread(target=runaway, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        for _ in range(5):
            started = time.monotonic()
            assert store.query(lookup).rows == [(Literal("7"),)]
            assert time.monotonic() - started < 1.0
            time.sleep(0.2)
        for thread in threads:
            thread.join()
        assert failures  # the runaways queued for the one slow turn and ran into their limits


def test_graph_results_keep_the_lexical_forms_of_literals(store):
    text = ('PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> CONSTRUCT { <urn:x:s> <urn:x:p> ?d } '
            'WHERE { VALUES ?d { "30000"^^xsd:double } }')
    result = store.query(text)
    assert result.serialize("nt").decode().count('"30000"^^') == 1
    assert [str(o) for o in result.graph.objects()] == ["30000"]  # rdflib's N-Triples parser made it "30000.0"
