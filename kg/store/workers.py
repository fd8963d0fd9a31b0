"""The warm query workers of the embedded stores: the worker process, its messages, the pool.

Each worker is a fresh Python process that loads the whole store once (pyoxigraph or rdflib)
and then answers one request at a time from its pipe. Queries run there, not in the server,
because neither engine can be interrupted from Python: a query past its deadline (or past
the worker's memory limit) is stopped by killing its worker, and a fresh one takes its place.

The messages on the pipe are typed and picklable: the store sends a :class:`QueryRequest`;
a worker first says :class:`Ready` (or :class:`Failure` if the store will not load), then
answers each request with an :class:`Answer` or a :class:`Failure`. A failure carries a
:class:`FailureKind`, decided in the worker from the engine's exception (:func:`_failure`,
the one place that looks at one), so the store maps kinds to the project's errors and never
reads an engine's message.

>>> _failure(SyntaxError("error at 1:8: expected WHERE")).kind
<FailureKind.SYNTAX: 'syntax'>
>>> failure = _failure(RuntimeError("The custom function <http://example.org/f> is not supported"))
>>> failure.kind, failure.function
(<FailureKind.UNSUPPORTED_FUNCTION: 'unsupported_function'>, '<http://example.org/f>')
>>> _failure(ValueError("disk on fire"))
Failure(kind=<FailureKind.STORE: 'store'>, message='ValueError: disk on fire', function=None)
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import enum
import io
import itertools
import os
import pickle
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

import pyoxigraph as ox
import rdflib

from .. import sparql as _sparql
from ..processes import die_with_parent, spawn
from ..errors import KGError, QueryOverMemory, QueryRefused, QueryTimeout, ServiceBusy, StoreError
from .base import ProtocolDataset
from .dump import _fd_source
from .results import _results_json
from .terms import Cell, _cell_from_ox, _cell_from_rdflib, _ox_from_cell, term_from_cell

# --- what a worker holds ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _WorkerSpec:
    engine: str  # "oxigraph" | "rdflib"
    dump: str | None  # graph.nq to load into memory (its path; read from dump_fd when there is one)
    disk: str | None  # on-disk oxigraph store, opened read-only
    dump_fd: int | None = None  # graph.nq as the store opened it (see _PinnedDump), inherited by each worker
    dump_bytes: int | None = None  # its size then

    @property
    def fds(self) -> tuple[int, ...]:
        """The descriptors a worker process inherits."""
        return () if self.dump_fd is None else (self.dump_fd,)


def _dump_source(spec: _WorkerSpec) -> str | io.BufferedReader | None:
    """Where a worker reads graph.nq: the store's descriptor (the build it opened), else the path."""
    if spec.dump_fd is None:
        return spec.dump
    size = os.fstat(spec.dump_fd).st_size
    if size != spec.dump_bytes:
        raise OSError(f"{spec.dump} changed since the store opened it ({spec.dump_bytes} bytes, now {size}): "
                      "rebuild with 'kg build' and restart")
    return _fd_source(spec.dump_fd, spec.dump)


def _load_engine(spec: _WorkerSpec) -> ox.Store | rdflib.Dataset:
    if spec.engine == "oxigraph":
        if spec.disk:
            return ox.Store.read_only(spec.disk)
        store = ox.Store()
        source = _dump_source(spec)
        where = {"path": source} if isinstance(source, str) else {"input": source}
        store.bulk_load(**where, format=ox.RdfFormat.N_QUADS)
        return store
    dataset = rdflib.Dataset(default_union=True)
    source = _dump_source(spec)
    where = {"source": source} if isinstance(source, str) else {"file": source}
    dataset.parse(**where, format="nquads")
    return dataset


# --- the messages ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class QueryRequest:
    """One query for a worker, parsed and checked by the store already."""

    text: str
    kind: str  # "select" | "ask" | "graph" (CONSTRUCT, DESCRIBE)
    bindings: dict[str, Cell]  # variable name (no "?") to the value it is bound to
    union: bool  # the default graph is the union of the named graphs (no FROM, no protocol dataset)
    limit: int  # rows or triples kept; one more is read to tell whether the answer was cut
    dataset: ProtocolDataset | None = None  # the protocol's default-graph-uri / named-graph-uri
    output: str | None = None  # "json": write a SELECT's SPARQL JSON in the worker (see Store.query)


@dataclasses.dataclass(frozen=True, slots=True)
class Rows:
    """A SELECT's answer as wire cells."""

    variables: list[str]
    cells: list[tuple]
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True)
class JsonRows:
    """A SELECT's answer as SPARQL JSON, written in the worker, not in the web server, whose
    threads share one GIL."""

    variables: list[str]
    body: bytes
    row_count: int | None  # None: not counted (QueryResult counts the rows if asked)
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Triples:
    """A CONSTRUCT's or DESCRIBE's answer as N-Triples."""

    ntriples: bytes
    truncated: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Ready:
    """A worker has loaded its store and waits for requests."""

    pid: int


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A query's answer (an ASK's is a bool), and the worker CPU seconds it took.

    CPU time, not wall time: busy neighbours do not make a quick query look slow.
    """

    value: bool | Rows | JsonRows | Triples
    cpu_seconds: float


class FailureKind(enum.StrEnum):
    """Why a worker could not answer; the store turns each into one of kg.errors."""

    SYNTAX = "syntax"  # the engine could not parse the query
    REFUSED = "refused"  # the audit hook stopped it (network, processes, stray files: kg.sparql.guarded)
    PARAMETER = "parameter"  # a binding the engine would not substitute
    UNSUPPORTED_FUNCTION = "unsupported_function"  # a function the engine does not implement
    STORE = "store"  # anything else: the store's fault, not the query's


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A request (or the worker's start) failed: its kind, the engine's words, and for
    ``UNSUPPORTED_FUNCTION`` the IRI of the function, as SPARQL writes it (``<…>``)."""

    kind: FailureKind
    message: str
    function: str | None = None


# pyoxigraph (0.5) reports a function it does not implement (an extension function's IRI, or an
# XSD cast that SPARQL leaves optional, such as xsd:int) only as a RuntimeError with this text:
# no exception class of its own says so. Only that whole message, with one IRI in it, is the
# query's fault (400). Any other engine failure stays a store failure (502), and a reworded
# message in a later pyoxigraph falls back to 502, never wrongly to 400. (rdflib evaluates an
# unknown function as an error: the expression is left unbound.)
_UNSUPPORTED_FUNCTION = re.compile(r"The custom function (?P<iri><[^<>\s]+>) is not supported")


def _failure(error: Exception) -> Failure:
    """The failure an engine's exception stands for: the one place that reads an engine's error."""
    if isinstance(error, SyntaxError):
        return Failure(FailureKind.SYNTAX, str(error))
    if isinstance(error, PermissionError):  # raised by the audit hook (kg.sparql.install_audit_hook)
        return Failure(FailureKind.REFUSED, str(error))
    message = str(error)
    described = f"{type(error).__name__}: {message}"
    if "SELECT projection" in message:  # the engine would not substitute a variable of the projection
        return Failure(FailureKind.PARAMETER, described)
    unsupported = _UNSUPPORTED_FUNCTION.fullmatch(message) if type(error) is RuntimeError else None
    if unsupported:
        return Failure(FailureKind.UNSUPPORTED_FUNCTION, described, function=unsupported["iri"])
    return Failure(FailureKind.STORE, described)


# --- the worker process ---------------------------------------------------------------------------


def _ox_options(request: QueryRequest) -> dict:
    """pyoxigraph's query options for a request: its dataset and its bound variables."""
    options = {"use_default_graph_as_union": request.union}
    if request.dataset is not None:
        options["default_graph"] = [ox.NamedNode(g) for g in request.dataset.default_graphs]
        options["named_graphs"] = [ox.NamedNode(g) for g in request.dataset.named_graphs]
    if request.bindings:
        options["substitutions"] = {ox.Variable(k): _ox_from_cell(c) for k, c in request.bindings.items()}
    return options


def _run_oxigraph(store: ox.Store, request: QueryRequest) -> bool | Rows | Triples:
    answer = store.query(request.text, **_ox_options(request))
    limit = request.limit
    if request.kind == "ask":
        return bool(answer)
    if request.kind == "select":
        variables = [v.value for v in answer.variables]
        cells = [tuple(map(_cell_from_ox, solution)) for solution in itertools.islice(answer, limit + 1)]
        return Rows(variables, cells[:limit], len(cells) > limit)
    triples = list(itertools.islice(answer, limit + 1))
    data = ox.serialize(triples[:limit], format=ox.RdfFormat.N_TRIPLES) if triples else b""
    return Triples(data, len(triples) > limit)


_prepared_cache: dict[str, object] = {}


def _with_dataset(prepared, dataset: ProtocolDataset):
    """A copy of a prepared rdflib query whose dataset clause is the protocol's dataset.

    rdflib builds the query's dataset from ``algebra.datasetClause`` (as for FROM), taking the
    graphs from the store it runs on; graph loading is off, so nothing is ever fetched.
    """
    from rdflib.plugins.sparql.parserutils import CompValue

    query = copy.copy(prepared)
    query.algebra = CompValue(prepared.algebra.name, **prepared.algebra)
    query.algebra["datasetClause"] = (
        [CompValue("DatasetClause", default=rdflib.URIRef(g)) for g in dataset.default_graphs]
        + [CompValue("DatasetClause", named=rdflib.URIRef(g)) for g in dataset.named_graphs]
    ) or [CompValue("DatasetClause", default=rdflib.URIRef("urn:x-kg:empty-default-graph"))]
    return query


def _run_rdflib(engine: rdflib.Dataset, request: QueryRequest) -> bool | Rows | Triples:
    from rdflib.plugins.sparql import prepareQuery

    rdflib.plugins.sparql.SPARQL_DEFAULT_GRAPH_UNION = True
    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False
    text, limit = request.text, request.limit
    prepared = _prepared_cache.get(text)
    if prepared is None:
        if len(_prepared_cache) > 512:
            _prepared_cache.clear()
        prepared = _prepared_cache[text] = prepareQuery(text)
    if request.dataset is not None:
        prepared = _with_dataset(prepared, request.dataset)
    bindings = request.bindings
    init = {rdflib.Variable(k): term_from_cell(c) for k, c in bindings.items()} if bindings else None
    answer = engine.query(prepared, initBindings=init)
    if request.kind == "ask":
        return bool(answer.askAnswer)
    if request.kind == "select":
        variables = [str(v) for v in answer.vars]
        cells = [tuple(map(_cell_from_rdflib, row)) for row in itertools.islice(answer, limit + 1)]
        return Rows(variables, cells[:limit], len(cells) > limit)
    graph = rdflib.Graph()
    triples = list(itertools.islice(answer.graph, limit + 1))
    for triple in triples[:limit]:
        graph.add(triple)
    data = graph.serialize(format="nt", encoding="utf-8") if triples else b""
    return Triples(data, len(triples) > limit)


def _worker_main(conn: Connection, spec: _WorkerSpec) -> None:
    """Load the store once, then answer requests from the pipe until it closes."""
    try:
        engine = _load_engine(spec)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises StoreError
        conn.send(Failure(FailureKind.STORE, f"{type(error).__name__}: {error}"))
        return
    allowed = [os.path.dirname(p) for p in (spec.dump, spec.disk) if p]
    _sparql.install_audit_hook(allowed)
    run = _run_oxigraph if spec.engine == "oxigraph" else _run_rdflib
    conn.send(Ready(os.getpid()))
    while True:
        try:
            request: QueryRequest = conn.recv()
        except (EOFError, OSError):
            return
        try:
            started = time.process_time()
            with _sparql.guarded():
                answer = run(engine, request)
            if request.output == "json" and isinstance(answer, Rows):
                answer = JsonRows(answer.variables, _results_json(answer.variables, answer.cells),
                                  len(answer.cells), answer.truncated)
            reply: Answer | Failure = Answer(answer, time.process_time() - started)
        except Exception as error:  # noqa: BLE001 - every engine failure goes back as a Failure
            reply = _failure(error)
        conn.send(reply)


def _worker_entry() -> None:
    """Entry point of a worker process: ``python -c`` calls this with the pipe's descriptor."""
    die_with_parent()  # a query running for minutes must not outlive the store that started it
    conn = Connection(int(sys.argv[1]))
    spec = pickle.loads(bytes.fromhex(sys.argv[2]))
    _worker_main(conn, spec)


# --- the pool -------------------------------------------------------------------------------------

_WORKER_COMMAND = "from kg.store.workers import _worker_entry; _worker_entry()"
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent.parent)  # the folder that holds kg/
_pools: weakref.WeakSet = weakref.WeakSet()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _resident_bytes(pid: int) -> int | None:
    """A process's resident set in bytes, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _megabytes(value: int) -> str:
    return f"{value / (1 << 20):,.0f} MB"


def _worker_death(code: int | None) -> KGError:
    """The error for a query whose worker died while answering it, by how it died."""
    if code is not None and code < 0 and -code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL):
        name = signal.Signals(-code).name
        return QueryRefused(
            f"The query engine crashed on this query ({name}), as it does on expressions nested or chained "
            "thousands deep; the worker was restarted. Simplify the query.")
    if code is not None and code < 0 and -code == signal.SIGKILL:
        return StoreError("The query worker was killed by the system while answering (the machine ran out of memory?); "
                          "it was restarted.")
    how = "without a reply" if code is None else f"with {'signal ' + signal.Signals(-code).name if code < 0 else f'exit code {code}'}"
    return StoreError(f"The query worker stopped {how} while answering; it was restarted.")


class _Worker:
    __slots__ = ("process", "conn")

    def __init__(self, process: subprocess.Popen, conn: Connection):
        self.process, self.conn = process, conn

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            self.process.kill()  # SIGKILL: pyoxigraph never checks signals
            self.process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.conn.close()


class WorkerPool:
    """Warm query workers; each holds the whole store. Thread-safe.

    With two or more workers, one is kept for quick queries: at most ``size - 1`` calls
    marked ``slow`` run at once, so a cheap lookup finds a worker even while heavy queries
    keep the others busy (a slow call waits for its turn within its own time limit). The
    embedded store marks a query slow unless it has been seen to answer quickly.
    """

    max_slow_waiting = 2
    """Most slow calls waiting for a turn at once; more are refused at once (503)."""

    def __init__(self, spec: _WorkerSpec, size: int, start_timeout: float = 600.0, memory_limit: int | None = None,
                 spare: int = 0):
        self.spec = spec
        self.size = size
        self.spare = spare
        self.memory_limit = memory_limit
        # Loaded workers in reserve: a killed worker's place is taken at once, not after a reload
        # (15 s at 1M triples); its replacement then loads in the background and joins the reserve.
        self._spares: list[_Worker] = []
        self._active = 0  # workers in service: idle or answering
        self._slow_waiting = 0
        self._slow_turns = threading.BoundedSemaphore(max(1, size - 1))
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._last_error: str | None = None
        self._start_timeout = start_timeout
        self.restarts = 0
        started = [self._start() for _ in range(size + spare)]
        try:
            for worker in started:
                self._await_ready(worker)
                self._enlist(worker)
        except BaseException:
            self.close()
            raise
        _pools.add(self)

    def _enlist(self, worker: _Worker) -> None:
        """A loaded worker goes into service, or into the reserve when enough are in service."""
        with self._lock:
            if self._active < self.size:
                self._active += 1
            else:
                self._spares.append(worker)
                return
        self._idle.put(worker)

    def _start(self) -> _Worker:
        # A fresh interpreter, not a fork: the parent may be a multi-threaded web server, and
        # multiprocessing's spawn/forkserver would re-run the caller's __main__ module.
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_IMPORT_ROOT, env.get("PYTHONPATH")]))
        process = spawn(  # from the long-lived spawner thread: see kg.processes
            [sys.executable, "-c", _WORKER_COMMAND, str(child_sock.fileno()), pickle.dumps(self.spec).hex()],
            pass_fds=(child_sock.fileno(), *self.spec.fds), stdin=subprocess.DEVNULL, env=env, close_fds=True,
        )
        child_sock.close()
        worker = _Worker(process, Connection(parent_sock.detach()))
        with self._lock:
            self._all.add(worker)
        return worker

    def _await_ready(self, worker: _Worker) -> None:
        if not worker.conn.poll(self._start_timeout):
            self._discard(worker)
            raise StoreError(f"A query worker did not load the store within {self._start_timeout:.0f} s.")
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            message = Failure(FailureKind.STORE, f"the worker exited with code {worker.process.poll()}")
        if not isinstance(message, Ready):
            self._discard(worker)
            raise StoreError(f"A query worker could not load the store: {message.message}.")

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker in service; a spare takes its place, and a fresh one loads in the background."""
        self._discard(worker)
        if self._closed:
            return
        self.restarts += 1
        with self._lock:
            self._active -= 1
            spare = None
            while self._spares and spare is None:
                candidate = self._spares.pop()
                if candidate.alive():
                    spare = candidate
                    self._active += 1
                else:
                    self._all.discard(candidate)
                    candidate.kill()
        if spare is not None:
            self._idle.put(spare)

        def start():
            try:
                fresh = self._start()
                self._await_ready(fresh)
            except Exception as error:  # noqa: BLE001 - remembered, surfaced by call()
                self._last_error = str(error)
                return
            if self._closed:
                self._discard(fresh)
            else:
                self._last_error = None
                self._enlist(fresh)

        threading.Thread(target=start, name="kg-worker-restart", daemon=True).start()

    def call(self, request: QueryRequest, timeout: float, slow: bool = False) -> Answer | Failure:
        """Send one request to an idle worker and wait for its reply until the deadline.

        ``slow``: the request is expected to take long, so it first waits (up to ``timeout``)
        for one of the turns that leave a worker free for quick requests; its time limit
        starts when it gets its turn.
        """
        if self._closed:
            raise StoreError("The store is closed.")
        if not slow:
            return self._call(request, timeout, time.monotonic() + timeout)
        # Few slow calls may wait for a turn: each waiting call holds a request thread of the web
        # server, and a flood of runaways must not take them all. The others are told at once.
        with self._lock:
            if self._slow_waiting >= self.max_slow_waiting:
                raise ServiceBusy(
                    f"The service is busy with {self._slow_waiting + max(1, self.size - 1)} slow queries; this one was "
                    "not started. Try again shortly, or narrow it (a more specific pattern, a LIMIT).")
            self._slow_waiting += 1
        try:
            turn = self._slow_turns.acquire(timeout=timeout)
        finally:
            with self._lock:
                self._slow_waiting -= 1
        if not turn:
            raise self._busy(timeout)
        try:
            return self._call(request, timeout, time.monotonic() + timeout, slow=True)
        finally:
            self._slow_turns.release()

    @staticmethod
    def _busy(timeout: float) -> ServiceBusy:
        return ServiceBusy(
            f"Every query worker stayed busy for the {timeout:g} s limit (KG_QUERY_TIMEOUT); "
            "try again, or raise KG_WORKERS."
        )

    def _call(self, request: QueryRequest, timeout: float, deadline: float, slow: bool = False) -> Answer | Failure:
        while True:
            remaining = deadline - time.monotonic()
            try:
                worker = self._idle.get(timeout=max(remaining, 0))
            except queue.Empty:
                if self._last_error:
                    raise StoreError(f"No query worker is available: {self._last_error}") from None
                raise self._busy(timeout) from None
            if not worker.alive():
                self._replace(worker)
                continue
            if slow and self.size > 1 and self._idle.empty():
                # the last idle worker stays for quick calls, also while another one restarts
                self._idle.put(worker)
                if time.monotonic() >= deadline:
                    raise self._busy(timeout)
                time.sleep(0.02)
                continue
            try:
                worker.conn.send(request)
            except (OSError, ValueError):
                self._replace(worker)
                continue
            break
        if not self._wait(worker, deadline):
            self._replace(worker)
            raise QueryTimeout(
                f"The query ran longer than the {timeout:g} s limit (KG_QUERY_TIMEOUT) and was "
                "stopped. Narrow it (a more specific pattern, a LIMIT) or raise the limit."
            )
        try:
            reply = worker.conn.recv()
        except (EOFError, OSError):
            try:
                code = worker.process.wait(2)  # it closed its end: it is gone, or going
            except subprocess.TimeoutExpired:
                code = None
            self._replace(worker)
            raise _worker_death(code) from None
        self._idle.put(worker)
        return reply

    def _wait(self, worker: _Worker, deadline: float) -> bool:
        """Wait for the worker's reply until the deadline (False: none came), watching its memory.

        With a memory limit the worker's resident set is read every 50 ms (/proc/PID/statm); a
        worker past the limit is killed and the query gets QueryOverMemory."""
        limit = self.memory_limit
        if not limit:
            return worker.conn.poll(max(deadline - time.monotonic(), 0))
        while True:
            remaining = deadline - time.monotonic()
            if worker.conn.poll(min(max(remaining, 0), 0.05)):
                return True
            if remaining <= 0:
                return False
            used = _resident_bytes(worker.process.pid)
            if used is not None and used > limit:
                self._replace(worker)
                raise QueryOverMemory(
                    f"The query needed more than the {_megabytes(limit)} a query worker may use (KG_WORKER_MEMORY) "
                    f"and was stopped at {_megabytes(used)}. Narrow it (a more specific pattern, a LIMIT), or raise "
                    "the limit.")

    def status(self) -> dict:
        """Workers in service and in reserve, and how many were replaced so far."""
        with self._lock:
            return {"in_service": self._active, "spare": len(self._spares), "restarts": self.restarts}

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools):
        pool.close()
