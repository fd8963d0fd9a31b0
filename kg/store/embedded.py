"""The embedded stores: pyoxigraph or rdflib, held by warm worker processes (see kg.store.workers)."""

from __future__ import annotations

from .. import sparql as _sparql
from ..errors import (
    KGError,
    QueryError,
    QueryOverMemory,
    QueryParameterError,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
    StoreError,
)
from .base import _RDFLIB_DEFAULT_GRAPH, ProtocolDataset, Store
from .dump import _PinnedDump
from .results import QueryResult
from .workers import (
    Failure,
    FailureKind,
    JsonRows,
    QueryRequest,
    Rows,
    Triples,
    WorkerPool,
    _WorkerSpec,
)


class EmbeddedStore(Store):
    """pyoxigraph or rdflib, held by warm worker processes.

    A query counts as slow unless its last run (known by its terms, whatever its comments and
    layout) took less than ``slow_seconds`` of a worker's CPU: slow queries never take the
    pool's last idle worker (see :class:`WorkerPool`), so a known lookup never waits behind a
    burst of heavy aggregates or of new queries.
    """

    slow_seconds = 0.05

    def __init__(self, settings, spec: _WorkerSpec, backend: str, pinned: _PinnedDump | None = None):
        super().__init__(settings)
        self.backend = backend
        self.spec = spec
        self._pinned = pinned  # graph.nq held open: closed with the store
        self.pool = WorkerPool(spec, settings.workers, memory_limit=settings.worker_memory_bytes)
        self._graphs: list[str] | None = None
        self._last_seconds: dict[str, float] = {}

    def graphs(self) -> list[str]:
        if self._graphs is None:
            request = QueryRequest("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", "select", {}, True, 10**9)
            rows = self._call(request, max(self.settings.query_timeout, 60.0))
            self._graphs = sorted(c[0][1] for c in rows.cells if c[0] and c[0][1] != _RDFLIB_DEFAULT_GRAPH)
        return list(self._graphs)

    def _remember(self, text: str, seconds: float) -> None:
        if len(self._last_seconds) > 4096:
            self._last_seconds.clear()
        self._last_seconds[text] = seconds

    def _call(self, request: QueryRequest, timeout: float, slow: bool = False,
              text: str | None = None) -> bool | Rows | JsonRows | Triples:
        """The answer's value; ``text``: the query's key, under which its CPU time is remembered."""
        reply = self.pool.call(request, timeout, slow=slow)
        if isinstance(reply, Failure):
            raise self._error(reply)
        if text is not None:
            self._remember(text, reply.cpu_seconds)  # the worker's own time, not the wait for it
        return reply.value

    def _error(self, failure: Failure) -> KGError:
        """The project's error for a worker's failure, by its kind."""
        match failure.kind:
            case FailureKind.SYNTAX:
                return QuerySyntaxError(f"The query engine could not parse the query: {failure.message}")
            case FailureKind.PARAMETER:
                return QueryParameterError(failure.message)
            case FailureKind.REFUSED:
                return QueryRefused(f"The query tried something this service never does: {failure.message}.")
            case FailureKind.UNSUPPORTED_FUNCTION:  # the query's fault, not the store's: 400, not 502
                return QueryError(
                    f"The function {failure.function} is not supported by the {self.backend} query engine. "
                    "Use SPARQL 1.1's built-in functions and its XSD casts (xsd:integer, xsd:decimal, "
                    "xsd:double, xsd:string, xsd:dateTime, …) instead."
                )
        return StoreError(f"The {self.backend} store could not answer the query: {failure.message}")

    def _execute(self, parsed, cells, timeout, limit, dataset: ProtocolDataset | None = None,
                 output: str | None = None) -> QueryResult:
        union = not parsed.has_dataset_clause and dataset is None
        request = QueryRequest(parsed.text, parsed.kind, cells, union, limit, dataset, output)
        # A query is quick only once it has been seen to be: one never seen (or seen slow) takes
        # a slow turn, so no burst of new queries, however each is disguised (a comment, other
        # spacing, other constants), can take the worker kept for quick ones. Known by its terms.
        key = _sparql.normalised(parsed.text)
        seconds = self._last_seconds.get(key)
        slow = seconds is None or seconds >= self.slow_seconds
        try:
            value = self._call(request, timeout, slow=slow, text=key)
        except (QueryTimeout, QueryOverMemory):
            self._remember(key, timeout)
            raise
        match value:
            case JsonRows():
                return QueryResult("select", variables=value.variables, json_body=value.body,
                                   row_count=value.row_count, truncated=value.truncated)
            case Rows():
                return QueryResult("select", variables=value.variables, cells=value.cells, truncated=value.truncated)
            case Triples():
                return QueryResult("graph", ntriples=value.ntriples, truncated=value.truncated)
        return QueryResult("ask", boolean=value)

    def close(self) -> None:
        self.pool.close()
        if self._pinned is not None:
            self._pinned.close()
