"""Canned queries: closed header, typed parameters, values bound and never pasted into the text."""

import textwrap

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from kg.errors import QueryFileError, QueryNotFound, QueryParameterError
from kg.queries import Catalogue, parse_text
from kg.settings import Settings, resource_dir
from kg.store import open_store

ID = "https://w3id.org/hscp/id/"
DATA = "https://w3id.org/hscp/graph/data"

MEMBERS = """\
#+ title: Labels of a partnership
#+ description: >
#+   The labels of one partnership.
#+ params:
#+   partnership: {type: iri, required: true, example: "https://w3id.org/hscp/id/partnership/torbay"}
#+ tags: [partnerships]
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?partnership ?label WHERE { ?partnership rdfs:label ?label }
"""

BY_LABEL = """\
#+ title: Resources with a label
#+ params:
#+   label: {type: string, required: true, example: "Torbay Care Trust"}
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?label WHERE { ?s rdfs:label ?label }
"""

BY_JURISDICTION = """\
#+ title: Partnerships per jurisdiction
#+ params:
#+   jurisdiction: {type: choice, choices_query: "SELECT ?value ?label WHERE { ?value a <https://w3id.org/hscp/def#Jurisdiction> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label }", example: "https://w3id.org/hscp/id/jurisdiction/england"}
#+   since: {type: integer, default: "1990", example: "2000"}
#+ chart: {kind: bar, x: jurisdiction, y: count}
PREFIX hscp: <https://w3id.org/hscp/def#>
SELECT ?jurisdiction ?since (COUNT(?p) AS ?count) WHERE {
  ?p hscp:jurisdiction ?jurisdiction ; hscp:startYear ?year . FILTER(?year >= ?since)
} GROUP BY ?jurisdiction ?since
"""

TYPED = """\
#+ title: Every type
#+ params:
#+   d: {type: decimal, example: "12.5"}
#+   day: {type: date, example: "2020-02-29"}
#+   lang: {type: language, example: "en-GB"}
#+   mode: {type: choice, choices: [hierarchy, market, "https://w3id.org/hscp/id/governance-mode/network"], example: market}
SELECT ?d ?day ?lang ?mode WHERE { }
"""

TURTLE = """
@prefix hscp: <https://w3id.org/hscp/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/hscp/id/partnership/torbay> a hscp:Partnership ; rdfs:label "Torbay Care Trust"@en ;
    hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/england> ; hscp:startYear 2005 .
<https://w3id.org/hscp/id/partnership/plymouth> a hscp:Partnership ; rdfs:label "Plymouth" ;
    hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/england> ; hscp:startYear 2011 .
<https://w3id.org/hscp/id/partnership/highland> a hscp:Partnership ; rdfs:label "Highland" ;
    hscp:jurisdiction <https://w3id.org/hscp/id/jurisdiction/scotland> ; hscp:startYear 2012 .
<https://w3id.org/hscp/id/jurisdiction/england> a hscp:Jurisdiction ; rdfs:label "England" .
<https://w3id.org/hscp/id/jurisdiction/scotland> a hscp:Jurisdiction ; rdfs:label "Scotland" .
"""


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    folder = tmp_path_factory.mktemp("queries")
    for name, text in {"members": MEMBERS, "by-label": BY_LABEL, "by-jurisdiction": BY_JURISDICTION,
                       "typed": TYPED}.items():
        (folder / f"{name}.rq").write_text(text)
    return Catalogue.load(folder)


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def store(request, tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(DATA))
             for t in ox.parse(TURTLE, format=ox.RdfFormat.TURTLE)]
    ox.serialize(quads, str(build / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    with open_store(Settings(store=request.param, workers=1), build) as opened:
        yield opened


def test_catalogue_lists_queries_as_json(catalogue):
    listing = {q["name"]: q for q in catalogue.to_json()}
    assert set(listing) == {"members", "by-label", "by-jurisdiction", "typed"}
    assert listing["members"]["params"] == [{"name": "partnership", "type": "iri", "required": True, "default": None,
                                             "example": f"{ID}partnership/torbay"}]
    assert listing["members"]["tags"] == ["partnerships"]
    assert catalogue.get("by-jurisdiction").chart == {"kind": "bar", "x": "jurisdiction", "y": "count"}
    with pytest.raises(QueryNotFound):
        catalogue.get("nope")


def test_every_query_runs_with_its_examples(catalogue, store):
    for query in catalogue:
        result = store.run(query, query.example_params())
        assert result.kind == "select"


def test_iri_parameter_is_bound(catalogue, store):
    result = store.run(catalogue.get("members"), {"partnership": f"{ID}partnership/torbay"})
    assert result.rows == [(URIRef(f"{ID}partnership/torbay"), Literal("Torbay Care Trust", lang="en"))]


def test_injection_is_rejected_for_iri_and_literal_for_string(catalogue, store):
    attack = '"> } ; DROP ALL ; #'
    members, by_label = catalogue.get("members"), catalogue.get("by-label")
    before = (members.sparql, by_label.sparql)
    with pytest.raises(QueryParameterError, match=r"'partnership' \(iri\)"):
        store.run(members, {"partnership": attack})
    assert by_label.bindings({"label": attack}) == {"label": Literal(attack)}
    assert store.run(by_label, {"label": attack}).rows == []
    assert store.run(by_label, {"label": "Plymouth"}).rows == [(URIRef(f"{ID}partnership/plymouth"), Literal("Plymouth"))]
    assert (members.sparql, by_label.sparql) == before


def test_choice_from_the_graph_and_defaults(catalogue, store):
    query = catalogue.get("by-jurisdiction")
    rows = store.run(query, {"jurisdiction": f"{ID}jurisdiction/england"}).rows
    assert rows == [(URIRef(f"{ID}jurisdiction/england"), Literal(1990), Literal(2))]
    rows = store.run(query, {"jurisdiction": f"{ID}jurisdiction/england", "since": "2010"}).rows
    assert rows[0][2] == Literal(1)
    with pytest.raises(QueryParameterError, match="not one of the choices"):
        store.run(query, {"jurisdiction": f"{ID}jurisdiction/wales"})
    assert {str(t) for t, _ in query.param("jurisdiction").options(store)} == {
        f"{ID}jurisdiction/england", f"{ID}jurisdiction/scotland"}


def test_typed_values(catalogue):
    query = catalogue.get("typed")
    bound = query.bindings({"d": "-3.50", "day": "2024-02-29", "lang": "EN-gb", "mode": "https://w3id.org/hscp/id/governance-mode/network"})
    assert bound == {"d": Literal("-3.50", datatype=XSD.decimal), "day": Literal("2024-02-29", datatype=XSD.date),
                     "lang": Literal("en-gb"), "mode": URIRef("https://w3id.org/hscp/id/governance-mode/network")}
    assert query.bindings({"mode": "market"}) == {"mode": Literal("market")}
    for name, bad in [("d", "1e5"), ("d", "abc"), ("day", "2023-02-29"), ("day", "29/02/2024"), ("lang", "en_GB"),
                      ("lang", "x" * 9), ("mode", "anarchy")]:
        with pytest.raises(QueryParameterError, match=f"'{name}'"):
            query.bindings({name: bad})


@pytest.mark.parametrize("value", ["relative/path", "https://x.org/a b", "https://x.org/<a>", "https://x.org/{a}",
                                   "https://x.org/a|b", "https://x.org/a^b", "https://x.org/`a`", "https://x.org/a\\b",
                                   'https://x.org/"a"', "", "   "])
def test_bad_iris_are_refused(catalogue, value):
    with pytest.raises(QueryParameterError, match="partnership"):
        catalogue.get("members").bindings({"partnership": value})


def test_missing_required_and_unknown_parameters(catalogue):
    with pytest.raises(QueryParameterError, match="required"):
        catalogue.get("members").bindings({})
    with pytest.raises(QueryParameterError, match="'colour'"):
        catalogue.get("members").bindings({"partnership": f"{ID}partnership/torbay", "colour": "red"})
    with pytest.raises(QueryParameterError, match="integer"):
        catalogue.get("by-jurisdiction").bindings({"since": "nineteen"})


@given(st.text(max_size=200))
@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_a_plain_literal_for_a_string_parameter(catalogue, text):
    query = catalogue.get("by-label")
    before = query.sparql
    try:
        bound = query.bindings({"label": text})
    except QueryParameterError:
        return
    assert bound == {"label": Literal(text)}
    assert query.sparql == before


@given(st.text(max_size=200))
@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_for_typed_parameters_raises_only_parameter_errors(catalogue, text):
    """Any text is either refused with a QueryParameterError naming the parameter, or bound to a
    term of the parameter's type (never another exception, never a term of another type)."""
    expected = {"partnership": lambda t: isinstance(t, URIRef),
                "d": lambda t: isinstance(t, Literal) and t.datatype == XSD.decimal,
                "day": lambda t: isinstance(t, Literal) and t.datatype == XSD.date,
                "lang": lambda t: isinstance(t, Literal) and t.datatype is None and str(t) == str(t).lower(),
                "mode": lambda t: isinstance(t, (URIRef, Literal))}
    for query, name in [("members", "partnership"), ("typed", "d"), ("typed", "day"), ("typed", "lang"), ("typed", "mode")]:
        try:
            bound = catalogue.get(query).bindings({name: text})
        except QueryParameterError as error:
            assert f"'{name}'" in str(error)
            continue
        assert set(bound) <= {name} and all(expected[name](term) for term in bound.values()), (name, text, bound)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_string_values_run_safely_on_the_store(catalogue, store, text):
    rows = store.run(catalogue.get("by-label"), {"label": text}).rows
    assert all(row[1] == Literal(text) for row in rows)


# --- malformed files -------------------------------------------------------------------------


def _load(text, name="bad"):
    return parse_text(textwrap.dedent(text), name=name)


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("#+ title: [unclosed\nSELECT * WHERE { ?s ?p ?o }\n", 1, "not valid YAML"),
        ("#+ title: T\n#+ colour: red\nSELECT * WHERE { ?s ?p ?o }\n", 2, "unknown header key 'colour'"),
        ("#+ description: no title\nSELECT * WHERE { ?s ?p ?o }\n", 1, "title"),
        ("#+ title: T\n#+ params:\n#+   s: {type: uri, example: x}\nSELECT * WHERE { ?s ?p ?o }\n", 3, "type 'uri'"),
        ("#+ title: T\n#+ params:\n#+   s: {type: iri, example: 'https://x.org/', colour: 1}\nSELECT * WHERE { ?s ?p ?o }\n",
         3, "unknown key 'colour'"),
        ("#+ title: T\n#+ params:\n#+   x: {type: iri, example: 'https://x.org/'}\nSELECT * WHERE { ?s ?p ?o }\n", 3,
         "no matching ?x"),
        ("#+ title: T\n#+ params:\n#+   o: {type: iri, example: 'https://x.org/'}\nSELECT ?s WHERE { ?s ?p ?o }\n", 3,
         "does not select it"),
        ("#+ title: T\n#+ params:\n#+   s: {type: iri, example: 'not an iri'}\nSELECT * WHERE { ?s ?p ?o }\n", 3,
         "'example' is not valid"),
        ("#+ title: T\n#+ params:\n#+   s: {type: iri}\nSELECT * WHERE { ?s ?p ?o }\n", 3, "needs an 'example'"),
        ("#+ title: T\n\nSELECT * WHERE {\n  ?s ?p\n}\n", 4, "does not parse"),
        ("#+ title: T\nSELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }\n", 2, "SERVICE"),
        ("#+ title: T\n#+ chart: {kind: pie, x: s, y: o}\nSELECT * WHERE { ?s ?p ?o }\n", 2, "kind"),
        ("#+ title: T\n#+ chart: {kind: bar, x: s, y: nope}\nSELECT * WHERE { ?s ?p ?o }\n", 2, "?nope"),
        ("SELECT * WHERE { ?s ?p ?o }\n", 1, "no '#+' header"),
    ],
)
def test_malformed_files_name_file_and_line(text, line, message):
    with pytest.raises(QueryFileError) as caught:
        parse_text(text, name="bad")
    assert str(caught.value).startswith(f"bad:{line}:"), str(caught.value)
    assert message in str(caught.value)


def test_bundled_catalogue_loads():
    folder = resource_dir("queries")
    assert any(folder.glob("*.rq")), f"no canned queries in {folder}: the bundled queries/ folder is missing"
    assert len(Catalogue.load(folder)) > 0
