"""Terms on the wire, and between rdflib and pyoxigraph.

A *cell* is how a term crosses the pipe between a query worker and the store, and how results
are kept until someone reads them: plain tuples pickle fast and compare by value. A cell is
None (unbound), ``(0, iri)``, ``(1, blank node id)`` or ``(2, lexical form, language, datatype
IRI)``; xsd:string and rdf:langString are left implicit, so both engines give the same cell.

>>> from rdflib.namespace import XSD
>>> cell_from_term(URIRef("urn:a"))
(0, 'urn:a')
>>> cell_from_term(Literal("x", datatype=XSD.string))
(2, 'x', None, None)
>>> term_from_cell((2, "01", None, str(XSD.integer)))  # the engine's lexical form, kept
rdflib.term.Literal('01', datatype=rdflib.term.URIRef('http://www.w3.org/2001/XMLSchema#integer'))
>>> _nt_from_cell((2, 'say "hi"', "en", None))
'"say \\\\"hi\\\\""@en'

:func:`to_ox` and :func:`from_ox` convert single terms directly, for code that holds both kinds
(the build's mirror of its graphs, SHACL validation on pyoxigraph).

>>> from_ox(to_ox(Literal("x", lang="en"))) == Literal("x", lang="en")
True
"""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.term import Node

Cell = tuple | None
"""A term on the wire (see the module docstring)."""

_XSD_STRING = str(XSD.string)
_RDF_LANGSTRING = str(RDF.langString)


def _cell_from_ox(term) -> Cell:
    if term is None:
        return None
    kind = type(term)
    if kind is ox.NamedNode:
        return (0, term.value)
    if kind is ox.Literal:
        if term.language:
            return (2, term.value, term.language, None)
        datatype = term.datatype.value
        return (2, term.value, None, None if datatype == _XSD_STRING else datatype)
    if kind is ox.BlankNode:
        return (1, term.value)
    return (2, str(term), None, None)  # RDF-star triple terms: shown as text


def _cell_from_rdflib(term) -> Cell:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return (0, str(term))
    if isinstance(term, BNode):
        return (1, str(term))
    if isinstance(term, Literal):
        datatype = None if term.datatype is None else str(term.datatype)
        if term.language or datatype in (_XSD_STRING, _RDF_LANGSTRING):
            datatype = None
        return (2, str(term), term.language, datatype)
    return (2, str(term), None, None)


def term_from_cell(cell: Cell) -> Node | None:
    """The rdflib term a wire cell stands for."""
    if cell is None:
        return None
    tag = cell[0]
    if tag == 0:
        return URIRef(cell[1])
    if tag == 1:
        return BNode(cell[1])
    # normalize=False: rdflib would otherwise rewrite the lexical form the engine gave ("30000"^^xsd:double
    # becomes "30000.0", "01"^^xsd:integer "1"), so tables would show what no serialization says
    return Literal(cell[1], lang=cell[2], datatype=None if cell[3] is None else URIRef(cell[3]), normalize=False)


def cell_from_term(term) -> Cell:
    """The wire cell of an rdflib (or pyoxigraph) term."""
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return _cell_from_ox(term)
    return _cell_from_rdflib(term)


def _ox_from_cell(cell: tuple) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    tag = cell[0]
    if tag == 0:
        return ox.NamedNode(cell[1])
    if tag == 1:
        return ox.BlankNode(cell[1])
    if cell[2]:
        return ox.Literal(cell[1], language=cell[2])
    return ox.Literal(cell[1], datatype=ox.NamedNode(cell[3] or _XSD_STRING))


def _nt_from_cell(cell: Cell) -> str:
    """N-Triples / SPARQL syntax of a cell: only ever of terms, never of raw user text."""
    if cell is None:
        return ""
    tag = cell[0]
    if tag == 0:
        return str(ox.NamedNode(cell[1]))  # pyoxigraph validates and escapes
    if tag == 1:
        return f"_:{cell[1]}"
    return str(_ox_from_cell(cell))


def to_ox(term) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib term as a pyoxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype is not None:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


def from_ox(term) -> Node:
    """A pyoxigraph term as an rdflib term (xsd:string literals as plain literals, as rdflib writes them)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return Literal(term.value, datatype=None if datatype == _XSD_STRING else URIRef(datatype))
