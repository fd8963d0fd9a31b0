"""kg.bound: the work bound that admits a query to the web process must hold for every value."""

from __future__ import annotations

import math

import pyoxigraph as ox
import pytest
from rdflib.plugins.sparql import prepareQuery

from kg.bound import Degrees, Shape, degrees_of, shape, work_bound
from kg.queries import Catalogue
from kg.settings import Settings
from kg.store import DUMP_NAME

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _shape(text: str) -> Shape:
    return shape(prepareQuery(text).algebra)


@pytest.fixture(scope="module")
def tiny() -> ox.Store:
    store = ox.Store()
    data = """
    <urn:g1> { <urn:a> a <urn:C> . <urn:b> a <urn:C> . <urn:c> a <urn:C> . <urn:a> <urn:p> <urn:b> . <urn:a> <urn:p> <urn:c> . }
    <urn:g2> { <urn:a> a <urn:C> . <urn:b> <urn:q> "x" . }
    """
    store.load(data.encode(), format=ox.RdfFormat.TRIG)
    return store


def test_degrees_count_every_graph(tiny):
    d = degrees_of(tiny)
    assert d.triples == 7
    assert d.count_p == {RDF_TYPE: 4, "urn:p": 2, "urn:q": 1}
    assert d.out_any == 4  # urn:a: a C in each of two graphs, p b, p c
    assert d.out_p[RDF_TYPE] == 2 and d.out_p["urn:p"] == 2
    assert d.in_any == 4 and d.in_p[RDF_TYPE] == 4  # urn:C


def test_a_pattern_is_bounded_by_what_is_bound(tiny):
    d = degrees_of(tiny)
    one = _shape("SELECT * { ?s <urn:p> ?o }")
    assert work_bound(one, {"s"}, d) == 2
    assert work_bound(one, set(), d) == 2  # the predicate's own triples
    hub = _shape(f"SELECT * {{ ?s <{RDF_TYPE}> ?c }}")
    assert work_bound(hub, {"c"}, d) == 4  # the class is a hub: every instance
    assert work_bound(_shape("SELECT * { ?s ?p ?o }"), set(), d) == 7


def test_optional_and_join_multiply_union_adds():
    d = Degrees(triples=10**6, out_any=50, in_any=10**5, out_p={"urn:l": 2}, in_p={"urn:l": 9}, count_p={"urn:l": 1000})
    summary = _shape("SELECT * { ?r ?p ?v OPTIONAL { ?v <urn:l> ?label } }")
    # 50 values, each with at most 2 labels: 50 + 50 * 2 + 100 solutions
    assert work_bound(summary, {"r"}, d) == 50 + 50 * 2 + 100
    union = _shape("SELECT * { { ?r <urn:l> ?x } UNION { ?r <urn:l> ?y } }")
    assert work_bound(union, {"r"}, d) == 4


@pytest.mark.parametrize("text", [
    "SELECT * { ?s <urn:p>+ ?o }",  # a property path
    "SELECT * { ?s <urn:p> ?o FILTER EXISTS { ?o ?q ?r } }",
    "SELECT * { ?s <urn:p> ?o MINUS { ?o ?q ?r } }",
])
def test_what_the_model_does_not_cover_is_unbounded(text):
    d = Degrees(triples=10, out_any=1, in_any=1, out_p={}, in_p={}, count_p={})
    assert math.isinf(work_bound(_shape(text), {"s"}, d))


def test_values_rows_bound_the_pattern_they_join():
    d = Degrees(triples=10**6, out_any=30, in_any=10**5, out_p={}, in_p={}, count_p={})
    text = "SELECT * { VALUES ?r { <urn:a> <urn:b> <urn:c> } ?r ?p ?o }"
    assert work_bound(_shape(text), set(), d) == 3 + 3 * 30 + 90


def test_the_bound_holds_for_every_canned_query_on_the_bundled_build(bundled_build_dir):
    """For each canned query the model bounds, with its example parameters: the solutions it
    returns never exceed the bound (the bound counts solutions on the way, so it is larger)."""
    store = ox.Store()
    store.bulk_load(path=str(bundled_build_dir / DUMP_NAME), format=ox.RdfFormat.N_QUADS)
    d = degrees_of(store)
    catalogue = Catalogue.load(Settings().queries_path)
    checked = 0
    for query in catalogue:
        params = {p.name: p.example for p in query.params if p.example is not None}
        bound = work_bound(_shape(query.sparql), set(params), d)
        if math.isinf(bound):
            continue
        bindings = query.bindings(params)
        substitutions = {ox.Variable(k): _ox(v) for k, v in bindings.items()}
        rows = list(store.query(query.sparql, substitutions=substitutions, use_default_graph_as_union=True))
        assert len(rows) <= bound, query.name
        checked += 1
    assert checked >= 5  # the lookups at least


def _ox(term):
    from kg.mirror import to_ox

    return to_ox(term)


def test_a_values_row_with_undef_binds_nothing():
    d = Degrees(triples=10**6, out_any=30, in_any=10**5, out_p={}, in_p={}, count_p={})
    text = "SELECT * { VALUES ?r { <urn:a> UNDEF } ?r ?p ?o }"
    assert work_bound(_shape(text), set(), d) == 2 + 2 * 10**6 + 2 * 10**6
