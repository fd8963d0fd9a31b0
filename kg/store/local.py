"""Proven-cheap queries in the web process: a copy of the store beside the workers.

A cheap lookup spends more time on the round trip to a worker (a pipe each way, two context
switches, a thread handing over to another) than in the engine: about 1.5 ms against 0.1 ms.
:class:`LocalEngine` holds a pyoxigraph copy of the same build in the web process and runs a
query there when it is *proven* cheap, because pyoxigraph cannot be interrupted: a query
started here runs to its end. Proven cheap means both:

- **a hard bound**: the query's shape, with the variables its caller binds, can produce at
  most ``KG_IN_PROCESS_BOUND`` solutions on the way, whatever the values, by the graph's
  largest fan-outs (:mod:`kg.bound`); and
- **a measured plan**: a query of the same shape (the same terms, other IRIs looked up) has
  run in a worker in less than the store's ``slow_seconds`` of CPU, since the bound assumes
  the engine binds each pattern from the ones before it, as its planner does for lookups.

At most four such queries run here at once; more go to the workers. The copy loads in the
background when the store opens (the build's graph.nq, through the same pinned descriptor as
the workers), and the fan-outs are counted once it is loaded: until then every query goes to
the workers.
"""

from __future__ import annotations

import threading
import time

import pyoxigraph as ox

from ..bound import Degrees, degrees_of, work_bound
from .results import _results_json
from .workers import JsonRows, QueryRequest, Rows, Triples, _load_engine, _ox_options, _run_oxigraph, _WorkerSpec

__all__ = ["LocalEngine"]


class LocalEngine:
    """A pyoxigraph copy of the build in this process, for queries proven cheap."""

    concurrency = 4

    def __init__(self, spec: _WorkerSpec, bound: int):
        self.bound = bound
        self.store: ox.Store | None = None
        self.degrees: Degrees | None = None
        self.error: str | None = None
        self.load_seconds: float | None = None
        self._turns = threading.BoundedSemaphore(self.concurrency)
        self._work: dict[tuple, float | None] = {}  # (shape key, bound variables, IRIs): its work bound
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._load, args=(spec,), name="kg-local-store", daemon=True)
        self._thread.start()

    def _load(self, spec: _WorkerSpec) -> None:
        started = time.perf_counter()
        try:
            store = _load_engine(spec)
            degrees = degrees_of(store)
        except Exception as error:  # noqa: BLE001 - the workers still answer everything
            self.error = f"{type(error).__name__}: {error}"
            return
        self.store, self.degrees = store, degrees
        self.load_seconds = time.perf_counter() - started
        self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the copy is loaded (False: not within ``timeout``, or it failed to load)."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def work(self, parsed, bound_names) -> float | None:
        """The query's work bound with these variables bound, when it is within ``bound`` (else None)."""
        if not self._ready.is_set() or parsed.shape is None:
            return None
        key = (parsed.key, frozenset(bound_names), parsed.constants)
        if key not in self._work:
            if len(self._work) > 4096:
                self._work.clear()
            work = work_bound(parsed.shape, key[1], self.degrees, parsed.constants)
            self._work[key] = work if work <= self.bound else None
        return self._work[key]

    def run(self, request: QueryRequest, work: float) -> tuple[bool | Rows | JsonRows | Triples, float] | None:
        """The answer and the CPU seconds it took, or None when every local turn is taken.

        ``work``: the query's work bound (:meth:`work`), which also bounds its solutions.
        """
        if not self._turns.acquire(blocking=False):
            return None
        try:
            started = time.thread_time()  # pyoxigraph answers in this thread (without the GIL)
            if request.output == "json" and request.kind == "select" and request.limit > work:
                # Within the bound no answer reaches the row limit: pyoxigraph writes the JSON
                # itself, with no Python object per value (the same document as _results_json,
                # without the spaces).
                solutions = self.store.query(request.text, **_ox_options(request))
                variables = [v.value for v in solutions.variables]
                body = solutions.serialize(format=ox.QueryResultsFormat.JSON)
                answer = JsonRows(variables, body, None, False)
            else:
                answer = _run_oxigraph(self.store, request)
                if request.output == "json" and isinstance(answer, Rows):
                    answer = JsonRows(answer.variables, _results_json(answer.variables, answer.cells),
                                      len(answer.cells), answer.truncated)
            return answer, time.thread_time() - started
        finally:
            self._turns.release()
