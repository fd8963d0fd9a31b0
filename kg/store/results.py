"""A query's answer (:class:`QueryResult`) and the SPARQL result formats it is written in.

Rows stay wire cells (see :mod:`kg.store.terms`) until someone reads them as rdflib terms, and
the formats are written from the cells: a page that only downloads JSON never builds a term.

>>> result = QueryResult("select", variables=["x"], cells=[((0, "urn:a"),), (None,)])
>>> result.serialize("json")
b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "uri", "value": "urn:a"}}, {}]}}'
>>> result.serialize("tsv")
b'?x\\n<urn:a>\\n\\n'
>>> _cells_from_json(json.loads(result.serialize("json")))
(['x'], [((0, 'urn:a'),), (None,)])
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

import pyoxigraph as ox
import rdflib

from .. import formats
from ..errors import QueryError
from ..namespaces import bind_prefixes
from .terms import _RDF_LANGSTRING, _XSD_STRING, _cell_from_ox, _nt_from_cell, term_from_cell

NEWLINE = b"\n"


def _results_json(variables: Sequence[str], cells: Iterable[tuple]) -> bytes:
    """SPARQL 1.1 JSON results of a SELECT's wire rows."""
    bindings = []
    for row in cells:
        binding = {}
        for name, cell in zip(variables, row):
            if cell is None:
                continue
            if cell[0] == 0:
                binding[name] = {"type": "uri", "value": cell[1]}
            elif cell[0] == 1:
                binding[name] = {"type": "bnode", "value": cell[1]}
            else:
                value = {"type": "literal", "value": cell[1]}
                if cell[2]:
                    value["xml:lang"] = cell[2]
                elif cell[3]:
                    value["datatype"] = cell[3]
                binding[name] = value
        bindings.append(binding)
    document = {"head": {"vars": list(variables)}, "results": {"bindings": bindings}}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _cells_from_json(document: dict) -> tuple[list[str], list[tuple]]:
    """(variables, wire rows) of a SPARQL JSON results document."""
    variables = document["head"].get("vars", [])
    rows = []
    for binding in document["results"]["bindings"]:
        row = []
        for name in variables:
            value = binding.get(name)
            if value is None:
                row.append(None)
            elif value["type"] == "uri":
                row.append((0, value["value"]))
            elif value["type"] == "bnode":
                row.append((1, value["value"]))
            else:  # "literal", or "typed-literal" (SPARQL 1.0 JSON, which Virtuoso still writes)
                datatype = value.get("datatype")
                lang = value.get("xml:lang")
                if lang or datatype in (_XSD_STRING, _RDF_LANGSTRING):
                    datatype = None
                row.append((2, value["value"], lang, datatype))
        rows.append(tuple(row))
    return variables, rows


class QueryResult:
    """A query's answer. Rows are rdflib terms, converted from the wire form when first read.

    A SELECT result may arrive as its SPARQL JSON already written (``json_body``, with
    ``row_count``), when the caller said it wanted JSON: then ``serialize("json")`` hands
    those bytes on untouched, and rows are parsed from them only if someone reads them.
    """

    def __init__(self, kind: str, *, variables: Iterable[str] = (), cells: list[tuple] | None = None,
                 boolean: bool | None = None, ntriples: bytes = b"", truncated: bool = False,
                 limit: int | None = None, elapsed: float = 0.0, json_body: bytes | None = None,
                 row_count: int | None = None):
        self.kind = kind
        self.variables: list[str] = list(variables)
        self._cell_list = cells
        self._json_body = json_body
        self._row_count = row_count
        self._rows: list[tuple] | None = None
        self.boolean = boolean
        self._ntriples = ntriples
        self._graph: rdflib.Graph | None = None
        self.truncated = bool(truncated)
        self.limit = limit
        self.elapsed = elapsed
        self.answered_by = "store"  # the embedded stores say "worker" or "in-process" (kg.store.local)

    @property
    def _cells(self) -> list[tuple]:
        if self._cell_list is None:
            if self._json_body is not None:
                _, self._cell_list = _cells_from_json(json.loads(self._json_body))
            else:
                self._cell_list = []
        return self._cell_list

    def __repr__(self) -> str:
        if self.kind == "select":
            size = f"{len(self)} rows"
        elif self.kind == "ask":
            size = str(self.boolean)
        else:
            size = f"{self._ntriples.count(NEWLINE)} triples"
        return f"<QueryResult {self.kind} {size}{' truncated' if self.truncated else ''}>"

    @property
    def rows(self) -> list[tuple]:
        if self._rows is None:
            self._rows = [tuple(term_from_cell(c) for c in row) for row in self._cells]
        return self._rows

    def __len__(self) -> int:
        if self.kind == "graph":
            return len(self.graph)
        if self._cell_list is None and self._row_count is not None:
            return self._row_count
        return len(self._cells)

    def __iter__(self) -> Iterator:
        return iter(self.graph if self.kind == "graph" else self.rows)

    def bindings(self) -> list[dict[str, object]]:
        """Rows as dicts of variable name to term, unbound variables left out."""
        return [{v: t for v, t in zip(self.variables, row) if t is not None} for row in self.rows]

    @property
    def graph(self) -> rdflib.Graph:
        if self._graph is None:
            graph = rdflib.Graph()
            bind_prefixes(graph)
            if self._ntriples:
                # read by pyoxigraph and converted as rows are, not by rdflib's N-Triples parser,
                # which rewrites literals' lexical forms (see term_from_cell)
                for quad in ox.parse(self._ntriples, format=ox.RdfFormat.N_TRIPLES):
                    graph.add((term_from_cell(_cell_from_ox(quad.subject)), term_from_cell(_cell_from_ox(quad.predicate)),
                               term_from_cell(_cell_from_ox(quad.object))))
            self._graph = graph
        return self._graph

    def serialize(self, fmt: str = "json") -> bytes:
        """SPARQL results (json, xml, csv, tsv) or RDF (turtle, jsonld, rdfxml, nt, or another name
        :func:`kg.formats.by_name` knows: ttl, xml …) as bytes."""
        if self.kind == "graph":
            rdf = formats.by_name(fmt)
            if rdf is None:
                offered = ", ".join(f.name for f in formats.RDF_FORMATS)
                raise QueryError(f"A CONSTRUCT or DESCRIBE result cannot be written as {fmt!r}: use {offered}.")
            if rdf is formats.N_TRIPLES and self._graph is None:
                return self._ntriples
            return self.graph.serialize(format=rdf.rdflib, encoding="utf-8")
        writer = {"json": self._json, "xml": self._xml, "csv": self._csv, "tsv": self._tsv}.get(fmt)
        if writer is None:
            raise QueryError(f"A query result cannot be written as {fmt!r}: use json, xml, csv or tsv.")
        return writer()

    def _json(self) -> bytes:
        if self.kind == "ask":
            return json.dumps({"head": {}, "boolean": bool(self.boolean)}).encode()
        if self._json_body is not None:
            return self._json_body
        return _results_json(self.variables, self._cells)

    def _xml(self) -> bytes:
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
        out += [f"<variable name={_xml_attr(v)}/>" for v in self.variables]
        out.append("</head>")
        if self.kind == "ask":
            out.append(f"<boolean>{'true' if self.boolean else 'false'}</boolean>")
        else:
            out.append("<results>")
            for row in self._cells:
                out.append("<result>")
                for name, cell in zip(self.variables, row):
                    if cell is None:
                        continue
                    if cell[0] == 0:
                        inner = f"<uri>{_xml_escape(cell[1])}</uri>"
                    elif cell[0] == 1:
                        inner = f"<bnode>{_xml_escape(cell[1])}</bnode>"
                    elif cell[2]:
                        inner = f"<literal xml:lang={_xml_attr(cell[2])}>{_xml_escape(cell[1])}</literal>"
                    elif cell[3]:
                        inner = f"<literal datatype={_xml_attr(cell[3])}>{_xml_escape(cell[1])}</literal>"
                    else:
                        inner = f"<literal>{_xml_escape(cell[1])}</literal>"
                    out.append(f"<binding name={_xml_attr(name)}>{inner}</binding>")
                out.append("</result>")
            out.append("</results>")
        out.append("</sparql>\n")
        return "\n".join(out).encode("utf-8")

    def _csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if self.kind == "ask":
            writer.writerow(["boolean"])
            writer.writerow(["true" if self.boolean else "false"])
        else:
            writer.writerow(self.variables)
            for row in self._cells:
                writer.writerow(["" if c is None else (f"_:{c[1]}" if c[0] == 1 else c[1]) for c in row])
        return buffer.getvalue().encode("utf-8")

    def _tsv(self) -> bytes:
        if self.kind == "ask":
            return b"?boolean\n" + (b"true\n" if self.boolean else b"false\n")
        lines = ["\t".join(f"?{v}" for v in self.variables)]
        lines += ["\t".join(_nt_from_cell(c) for c in row) for row in self._cells]
        return ("\n".join(lines) + "\n").encode("utf-8")
