"""The one table of RDF formats (kg.formats): its names are real, and every part that offers RDF reads it."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kg import formats
from kg.errors import QueryError
from kg.publish import redirect_rules
from kg.store.results import QueryResult
from webapp import negotiation

NTRIPLES = (b'<https://w3id.org/hscp/id/a> <http://www.w3.org/2000/01/rdf-schema#label> "A"@en .\n'
            b"<https://w3id.org/hscp/id/a> <https://w3id.org/hscp/def#next> <https://w3id.org/hscp/id/b> .\n")


@pytest.mark.parametrize("rdf", formats.RDF_FORMATS, ids=lambda f: f.name)
def test_rdflib_and_pyoxigraph_know_each_format_by_its_names(rdf):
    """rdflib writes it under ``rdflib``; pyoxigraph reads that back under ``oxigraph``: same triples."""
    graph = Graph().parse(data=NTRIPLES, format="nt")
    written = graph.serialize(format=rdf.rdflib, encoding="utf-8")
    read = ox.parse(written, format=rdf.oxigraph_format(), base_iri="https://w3id.org/hscp/id/")
    again = Graph().parse(data=ox.serialize(read, format=ox.RdfFormat.N_TRIPLES), format="nt")
    assert isomorphic(graph, again)
    assert rdf.oxigraph_format().media_type == rdf.media_type
    assert rdf.oxigraph_format().file_extension == rdf.extension


def test_names_extensions_and_media_types_are_unambiguous():
    every = [(f, value) for f in formats.RDF_FORMATS for value in {f.name, f.extension, *f.names}]
    assert all(formats.by_name(value.upper()) is f for f, value in every)
    assert len({f.media_type for f in (*formats.RDF_FORMATS, formats.N_QUADS)}) == len(formats.RDF_FORMATS) + 1
    assert formats.by_extension("nq") is None  # the dump is not a graph format
    nquads = formats.N_QUADS.oxigraph_format()
    assert (nquads.media_type, nquads.file_extension) == (formats.N_QUADS.media_type, formats.N_QUADS.extension)


def test_negotiations_graph_rows_are_the_table_in_its_order():
    rows = negotiation.formats("graph")
    assert [(f.name, f.media_type, f.extension, f.aliases, f.names) for f in rows] == [
        (f.name, f.media_type, f.extension, f.aliases, f.names) for f in formats.RDF_FORMATS]
    assert negotiation.TURTLE.name == formats.RDF_FORMATS[0].name


@pytest.mark.parametrize("rdf", formats.RDF_FORMATS, ids=lambda f: f.name)
def test_query_results_are_written_under_every_name_of_a_format(rdf):
    result = QueryResult("graph", ntriples=NTRIPLES)
    expected = Graph().parse(data=NTRIPLES, format="nt")
    for value in (rdf.name, rdf.extension, *rdf.names):
        written = result.serialize(value)
        assert isomorphic(Graph().parse(data=written, format=rdf.rdflib), expected), value


def test_a_graph_is_not_written_as_a_results_format():
    with pytest.raises(QueryError, match="turtle, jsonld, rdfxml, nt"):
        QueryResult("graph", ntriples=NTRIPLES).serialize("csv")


def test_redirect_rules_match_each_media_type_with_its_own_pattern():
    rules = redirect_rules("https://w3id.org/hscp/id/", "https://example.org/hscp/", "0.1.0")
    for rdf in formats.RDF_FORMATS:
        assert f"RewriteCond %{{HTTP_ACCEPT}} {rdf.accept_pattern}\n" in rules[".htaccess"]
        assert f"~{rdf.accept_pattern} {rdf.extension};" in rules["nginx.conf"]
        matched = [f for f in formats.RDF_FORMATS if re.search(f.accept_pattern, rdf.media_type)]
        assert matched == [rdf]
    assert f"AddType {formats.N_QUADS.media_type} .nq" in rules[".htaccess"]
