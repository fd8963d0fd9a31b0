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
    ServiceBusy,
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
    _failure,
    _WorkerSpec,
)
from .local import LocalEngine


class EmbeddedStore(Store):
    """pyoxigraph or rdflib, held by warm worker processes.

    A query counts as slow unless its last run (known by its terms, whatever its comments and
    layout) took less than ``slow_seconds`` of a worker's CPU: slow queries never take the
    pool's last idle worker (see :class:`WorkerPool`), so a known lookup never waits behind a
    burst of heavy aggregates or of new queries.
    """

    slow_seconds = 0.05

    def __init__(self, settings, spec: _WorkerSpec, backend: str, pinned: _PinnedDump | None = None,
                 local: bool = False):
        super().__init__(settings)
        self.backend = backend
        self.spec = spec
        self._pinned = pinned  # graph.nq held open: closed with the store
        self.pool = WorkerPool(spec, settings.workers, memory_limit=settings.worker_memory_bytes,
                               spare=settings.spare_workers)
        self._graphs: list[str] | None = None
        self._last_seconds: dict[str, float] = {}
        # proven-cheap queries in this process (a server's store; see kg.store.local)
        self.local = (LocalEngine(spec, settings.in_process_bound)
                      if local and spec.engine == "oxigraph" and settings.in_process_bound > 0 else None)
        self.local_answers = 0

    def graphs(self) -> list[str]:
        if self._graphs is None:
            request = QueryRequest("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", "select", {}, True, 10**9)
            rows = self._call(request, max(self.settings.query_timeout, 60.0))
            self._graphs = sorted(c[0][1] for c in rows.cells if c[0] and c[0][1] != _RDFLIB_DEFAULT_GRAPH)
        return list(self._graphs)

    def _remember(self, key: str, seconds: float) -> None:
        """Remember a shape's last CPU time; the shapes not seen for longest are forgotten first
        (a flood of unique queries pushes out only itself, not the lookups that keep coming)."""
        memory = self._last_seconds
        memory.pop(key, None)
        memory[key] = seconds
        while len(memory) > 4096:
            try:
                memory.pop(next(iter(memory)))
            except (StopIteration, RuntimeError, KeyError):  # another thread changed it meanwhile
                break

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
        # A query is quick once a query of its shape (its terms, whatever its layout, comments
        # and looked-up IRIs) has been seen to be, or when its work is bounded for every value
        # (kg.bound). Any other (new, seen slow, disguised by a comment) takes a slow turn, so
        # no burst of them can take the worker kept for quick ones.
        key = parsed.key or _sparql.normalised(parsed.text)
        seconds = self._last_seconds.get(key)
        seen_quick = seconds is not None and seconds < self.slow_seconds
        work = self.local.work(parsed, cells.keys()) if self.local is not None else None
        bounded = work is not None
        value = self._local(request, key, work) if bounded and seen_quick else None
        if value is None:
            try:
                value = self._call(request, timeout, slow=not (seen_quick or bounded), text=key)
            except ServiceBusy:
                raise  # never started: says nothing of the query's cost
            except (QueryTimeout, QueryOverMemory):
                self._remember(key, timeout)
                raise
            answered_by = "worker"
        else:
            answered_by = "in-process"
        match value:
            case JsonRows():
                result = QueryResult("select", variables=value.variables, json_body=value.body,
                                     row_count=value.row_count, truncated=value.truncated)
            case Rows():
                result = QueryResult("select", variables=value.variables, cells=value.cells, truncated=value.truncated)
            case Triples():
                result = QueryResult("graph", ntriples=value.ntriples, truncated=value.truncated)
            case _:
                result = QueryResult("ask", boolean=value)
        result.answered_by = answered_by
        return result

    def _local(self, request: QueryRequest, key: str, work: float) -> bool | Rows | JsonRows | Triples | None:
        """The answer from the in-process copy, or None when all its turns are taken."""
        try:
            ran = self.local.run(request, work)
        except Exception as error:  # noqa: BLE001 - the engine's failure, classified as a worker's is
            raise self._error(_failure(error)) from None
        if ran is None:
            return None
        value, seconds = ran
        self._remember(key, seconds)  # a shape that turns out slow goes back to the workers
        self.local_answers += 1
        return value

    def status(self) -> dict:
        local = self.local
        return {
            "workers": self.pool.status(),
            "in_process": None if local is None else {
                "ready": local.ready, "answers": self.local_answers, "error": local.error,
                "load_seconds": None if local.load_seconds is None else round(local.load_seconds, 1),
            },
        }

    def close(self) -> None:
        self.pool.close()
        if self._pinned is not None:
            self._pinned.close()
