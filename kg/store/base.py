"""The interface every store offers (:class:`Store`), and what it shares across backends.

A backend implements ``_execute`` (run a query that :meth:`Store.query` has parsed and checked)
and ``graphs``; everything a page asks of a store (a resource's description, labels in
batches, backlinks, counts) is written once here, as SPARQL, on top of :meth:`Store.query`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import rdflib
from rdflib import URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS

from .. import sparql as _sparql
from ..errors import QueryError, ResourceNotFound
from .results import QueryResult
from .terms import _nt_from_cell, cell_from_term

_RDFLIB_DEFAULT_GRAPH = "urn:x-rdflib:default"
"""The name rdflib gives its default graph: never one of the build's graphs."""

_LABEL_PROPERTIES = (str(SKOS.prefLabel), str(RDFS.label), str(DCTERMS.title))
DESCRIBE = f"""
    CONSTRUCT {{ ?r ?p ?o . ?o ?lp ?label . ?o ?bp ?bo . ?bo ?bp2 ?bo2 }}
    WHERE {{
      ?r ?p ?o .
      OPTIONAL {{ ?o ?lp ?label . VALUES ?lp {{ {' '.join(f'<{p}>' for p in _LABEL_PROPERTIES)} }} }}
      OPTIONAL {{ FILTER(isBlank(?o)) ?o ?bp ?bo .
                 OPTIONAL {{ FILTER(isBlank(?bo)) ?bo ?bp2 ?bo2 }} }}
    }}"""
"""A resource's description (bind ?r): its triples, through blank nodes, and its neighbours' labels."""


@dataclasses.dataclass(frozen=True)
class ProtocolDataset:
    """The RDF dataset a request names through the protocol (default-graph-uri, named-graph-uri)."""

    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]


class Store:
    """The interface every backend offers (see the package docstring of :mod:`kg.store`)."""

    backend = "abstract"

    def __init__(self, settings):
        self.settings = settings
        self._memo: dict[object, object] = {}
        self._memo_lock = threading.Lock()

    # to implement --------------------------------------------------------------------------
    def _execute(self, parsed, cells: dict, timeout: float, limit: int,
                 dataset: ProtocolDataset | None = None, output: str | None = None) -> QueryResult:
        raise NotImplementedError

    def graphs(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # shared --------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def memo(self, key, compute: Callable[[], object]):
        """A value computed once per store (e.g. a choice parameter's values)."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._memo_lock:
            self._memo[key] = value
        return value

    def query(self, sparql: str, bindings: Mapping[str, object] | None = None, *,
              timeout: float | None = None, limit: int | None = None,
              default_graphs: Sequence[str] | None = None, named_graphs: Sequence[str] | None = None,
              output: str | None = None) -> QueryResult:
        """Run one SPARQL query safely; raise QuerySyntaxError, QueryRefused, QueryTimeout, …

        ``default_graphs`` / ``named_graphs`` are the SPARQL protocol's ``default-graph-uri`` and
        ``named-graph-uri``: when either is given they replace the query's own FROM / FROM NAMED,
        and like those they may only name graphs this store holds.

        ``output="json"`` says the caller will write the result as SPARQL JSON: the embedded
        stores then write it in the worker process (the same bytes ``serialize("json")`` gives),
        and rows are only parsed back from it if they are read.
        """
        bindings = dict(bindings or {})
        parsed = _sparql.parse_bounded(sparql, max_terms=self.settings.max_query_terms,
                                       timeout=self.settings.query_timeout)
        if parsed.has_dataset_clause:
            _sparql.check_dataset(parsed, self.graphs())
        dataset = None
        if default_graphs is not None or named_graphs is not None:
            dataset = ProtocolDataset(tuple(default_graphs or ()), tuple(named_graphs or ()))
            _sparql.check_protocol_dataset(dataset.default_graphs, dataset.named_graphs, self.graphs())
        _sparql.check_bindings(parsed, bindings)
        cells = {name: cell_from_term(term) for name, term in bindings.items()}
        timeout = self.settings.query_timeout if timeout is None else float(timeout)
        limit = self.settings.row_limit if limit is None else int(limit)
        if limit < 0:
            raise QueryError("The row limit must be zero or more.")
        started = time.perf_counter()
        result = self._execute(parsed, cells, timeout, limit, dataset, output)
        result.elapsed = time.perf_counter() - started
        result.limit = limit
        return result

    def run(self, canned, raw_params: Mapping[str, str] | None = None, **options) -> QueryResult:
        """Validate a canned query's raw parameter values, bind them and run it."""
        return self.query(canned.sparql, canned.bindings(raw_params or {}, store=self), **options)

    def describe(self, iri: str) -> rdflib.Graph:
        """The resource's description (its triples, through blank nodes) and its neighbours' labels."""
        node = _iri_term(iri)
        result = self.query(DESCRIBE, {"r": node}, limit=1_000_000)
        graph = result.graph
        if not len(graph):
            if not self.query("ASK { ?s ?p ?r }", {"r": node}).boolean:
                raise ResourceNotFound(f"No resource in the graph has the IRI <{iri}>.")
        return graph

    def labels(self, iris: Iterable[str]) -> dict[str, str]:
        """One label per IRI (skos:prefLabel, rdfs:label, dct:title; English first), in one query.

        Labels found (or found missing) are remembered for the store's life, since its data does
        not change: a page asks again only for the IRIs no earlier page showed. (A query naming a
        thousand IRIs costs more to parse than to answer.)
        """
        asked = {str(i) for i in iris}
        known = self.memo(("labels",), dict)
        with self._memo_lock:
            found = {iri: known[iri] for iri in asked if iri in known}
        wanted = sorted(asked - set(found))
        if wanted:
            fresh = self._labels(wanted)
            with self._memo_lock:
                if len(known) > 500_000:  # bounded: a long-running server forgets and asks again
                    known.clear()
                for iri in wanted:
                    known[iri] = fresh.get(iri)
            found.update((iri, fresh.get(iri)) for iri in wanted)
        return {iri: label for iri, label in found.items() if label is not None}

    def _labels(self, wanted: list[str]) -> dict[str, str]:
        if not wanted:
            return {}
        values = " ".join(_nt_from_cell((0, str(_iri_term(i)))) for i in wanted)
        properties = " ".join(f"<{p}>" for p in _LABEL_PROPERTIES)
        text = (f"SELECT ?r ?p ?label WHERE {{ VALUES ?r {{ {values} }} VALUES ?p {{ {properties} }} "
                "?r ?p ?label FILTER(isLiteral(?label)) }")
        best: dict[str, tuple] = {}
        for r, p, label in self.query(text, limit=1_000_000).rows:
            lang = (label.language or "").lower()
            lang_rank = 0 if lang == "en" else 1 if lang.startswith("en-") else 2 if not lang else 3
            rank = (lang_rank, _LABEL_PROPERTIES.index(str(p)), str(label))
            if str(r) not in best or rank < best[str(r)]:
                best[str(r)] = rank
        return {iri: rank[2] for iri, rank in best.items()}

    def backlinks(self, iri: str, limit: int = 200) -> QueryResult:
        """Resources that point at ``iri``: a SELECT of ?s ?p (labels are the caller's batch)."""
        return self.query("SELECT DISTINCT ?s ?p ?r WHERE { ?s ?p ?r FILTER(isIRI(?s)) } ORDER BY ?p ?s",
                          {"r": _iri_term(iri)}, limit=limit)

    def property_counts(self) -> dict[str, int]:
        """Triples per predicate, over all graphs (for documentation pages; computed once)."""
        def compute():
            result = self.query("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p", limit=1_000_000)
            return {str(p): int(n) for p, n in result.rows}

        return self.memo("property_counts", compute)

    def reference_counts(self, iris: Iterable[str]) -> dict[str, int]:
        """How many triples have each IRI as their object, in one query for the whole batch."""
        wanted = sorted({str(i) for i in iris})
        if not wanted:
            return {}
        values = " ".join(_nt_from_cell((0, str(_iri_term(i)))) for i in wanted)
        text = f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ VALUES ?o {{ {values} }} ?s ?p ?o }} GROUP BY ?o"
        return {str(o): int(n) for o, n in self.query(text, limit=1_000_000).rows}

    def status(self) -> dict:
        """What the store can say about its own state, for /health (nothing, by default)."""
        return {}

    def stats(self) -> dict:
        """Triples per named graph and instances per class."""
        graphs = self.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                            limit=1_000_000)
        classes = self.query("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c",
                             limit=1_000_000)
        per_graph = {str(g): int(n) for g, n in graphs.rows if str(g) != _RDFLIB_DEFAULT_GRAPH}
        return {
            "triples": sum(per_graph.values()),
            "graphs": dict(sorted(per_graph.items())),
            "classes": dict(sorted(((str(c), int(n)) for c, n in classes.rows), key=lambda kv: (-kv[1], kv[0]))),
        }


def _iri_term(iri: str) -> URIRef:
    from ..queries import validate_iri

    return URIRef(validate_iri(str(iri), "iri"))
