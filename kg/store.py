"""One store interface, three backends: pyoxigraph (default), rdflib, a remote SPARQL endpoint.

Every query goes through ``kg.sparql`` first (parse, refuse, check FROM graphs, check
bindings). The embedded backends run queries in warm worker processes that are killed and
replaced at the deadline, because neither engine can be interrupted from Python; the remote
backend relies on the HTTP timeout.

>>> store = open_store(settings, build_dir)            # doctest: +SKIP
>>> store.query("SELECT ?s WHERE { ?s a ?c } LIMIT 3").rows   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import io
import itertools
import json
import math
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS, XSD
from rdflib.plugins.sparql.parser import parseQuery

from . import sparql as _sparql
from .errors import (
    BuildDamaged,
    BuildNotFound,
    ConfigurationError,
    KGError,
    QueryError,
    QueryOverMemory,
    QueryParameterError,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
    ResourceNotFound,
    StoreError,
)
from .namespaces import GRAPH_BASE, GRAPH_NAMES, STUDY_GRAPH, bind_prefixes

DUMP_NAME = "graph.nq"
NEWLINE = b"\n"
_XSD_STRING = str(XSD.string)
_RDF_LANGSTRING = str(RDF.langString)
_RDFLIB_DEFAULT_GRAPH = "urn:x-rdflib:default"

# --- terms on the wire --------------------------------------------------------------------
# A cell is None (unbound), (0, iri), (1, blank node id) or (2, lexical form, language,
# datatype IRI); xsd:string and rdf:langString are left implicit so both engines agree.


def _cell_from_ox(term):
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


def _cell_from_rdflib(term):
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


def term_from_cell(cell):
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


def cell_from_term(term):
    """The wire cell of an rdflib (or pyoxigraph) term."""
    if isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return _cell_from_ox(term)
    return _cell_from_rdflib(term)


def _ox_from_cell(cell):
    tag = cell[0]
    if tag == 0:
        return ox.NamedNode(cell[1])
    if tag == 1:
        return ox.BlankNode(cell[1])
    if cell[2]:
        return ox.Literal(cell[1], language=cell[2])
    return ox.Literal(cell[1], datatype=ox.NamedNode(cell[3] or _XSD_STRING))


def _nt_from_cell(cell) -> str:
    """N-Triples / SPARQL syntax of a cell: only ever of terms, never of raw user text."""
    if cell is None:
        return ""
    tag = cell[0]
    if tag == 0:
        return str(ox.NamedNode(cell[1]))  # pyoxigraph validates and escapes
    if tag == 1:
        return f"_:{cell[1]}"
    return str(_ox_from_cell(cell))


# --- results ------------------------------------------------------------------------------


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

    def __init__(self, kind: str, *, variables=(), cells=None, boolean=None, ntriples=b"",
                 truncated=False, limit=None, elapsed=0.0, json_body: bytes | None = None,
                 row_count: int | None = None):
        self.kind = kind
        self.variables: list[str] = list(variables)
        self._cell_list = cells
        self._json_body = json_body
        self._row_count = row_count
        self._rows = None
        self.boolean = boolean
        self._ntriples = ntriples
        self._graph = None
        self.truncated = bool(truncated)
        self.limit = limit
        self.elapsed = elapsed

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

    def __iter__(self):
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
        """SPARQL results (json, xml, csv, tsv) or RDF (turtle, nt, jsonld, xml) as bytes."""
        if self.kind == "graph":
            if fmt == "nt" and self._graph is None:
                return self._ntriples
            names = {"turtle": "turtle", "ttl": "turtle", "nt": "nt", "jsonld": "json-ld",
                     "json-ld": "json-ld", "xml": "xml", "rdfxml": "xml"}
            if fmt not in names:
                raise QueryError(f"A CONSTRUCT or DESCRIBE result cannot be written as {fmt!r}: "
                                 "use turtle, nt, jsonld or xml.")
            return self.graph.serialize(format=names[fmt], encoding="utf-8")
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


# --- the worker process ---------------------------------------------------------------------


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


class _PreadFile(io.RawIOBase):
    """A file read through a descriptor that other processes share, at its own offset (pread)."""

    def __init__(self, fd: int, name: str):
        super().__init__()
        self._fd, self._offset = fd, 0
        self.name = name  # rdflib names its source after it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = os.pread(self._fd, len(buffer), self._offset)
        buffer[:len(data)] = data
        self._offset += len(data)
        return len(data)


def _fd_source(fd: int, name: str):
    """A path (Linux: /proc/self/fd/N, a fresh open of the same file) or a file to read ``fd`` from."""
    reopened = f"/proc/self/fd/{fd}"
    if os.path.exists(reopened):
        return reopened
    return io.BufferedReader(_PreadFile(fd, name), 1 << 20)


def _dump_source(spec: _WorkerSpec):
    """Where a worker reads graph.nq: the store's descriptor (the build it opened), else the path."""
    if spec.dump_fd is None:
        return spec.dump
    size = os.fstat(spec.dump_fd).st_size
    if size != spec.dump_bytes:
        raise OSError(f"{spec.dump} changed since the store opened it ({spec.dump_bytes} bytes, now {size}): "
                      "rebuild with 'kg build' and restart")
    return _fd_source(spec.dump_fd, spec.dump)


def _load_engine(spec: _WorkerSpec):
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


@dataclasses.dataclass(frozen=True)
class ProtocolDataset:
    """The RDF dataset a request names through the protocol (default-graph-uri, named-graph-uri)."""

    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]


def _run_oxigraph(store, request):
    _, text, kind, bindings, union, limit, dataset = request[:7]
    options = {"use_default_graph_as_union": union}
    if dataset is not None:
        options["default_graph"] = [ox.NamedNode(g) for g in dataset.default_graphs]
        options["named_graphs"] = [ox.NamedNode(g) for g in dataset.named_graphs]
    if bindings:
        options["substitutions"] = {ox.Variable(k): _ox_from_cell(c) for k, c in bindings.items()}
    answer = store.query(text, **options)
    if kind == "ask":
        return bool(answer)
    if kind == "select":
        variables = [v.value for v in answer.variables]
        cells = [tuple(map(_cell_from_ox, solution)) for solution in itertools.islice(answer, limit + 1)]
        return variables, cells[:limit], len(cells) > limit
    triples = list(itertools.islice(answer, limit + 1))
    data = ox.serialize(triples[:limit], format=ox.RdfFormat.N_TRIPLES) if triples else b""
    return data, len(triples) > limit


_prepared_cache: dict[str, object] = {}


def _with_dataset(prepared, dataset: ProtocolDataset):
    """A copy of a prepared rdflib query whose dataset clause is the protocol's dataset.

    rdflib builds the query's dataset from ``algebra.datasetClause`` (as for FROM), taking the
    graphs from the store it runs on; graph loading is off, so nothing is ever fetched.
    """
    import copy

    from rdflib.plugins.sparql.parserutils import CompValue

    query = copy.copy(prepared)
    query.algebra = CompValue(prepared.algebra.name, **prepared.algebra)
    query.algebra["datasetClause"] = (
        [CompValue("DatasetClause", default=rdflib.URIRef(g)) for g in dataset.default_graphs]
        + [CompValue("DatasetClause", named=rdflib.URIRef(g)) for g in dataset.named_graphs]
    ) or [CompValue("DatasetClause", default=rdflib.URIRef("urn:x-kg:empty-default-graph"))]
    return query


def _run_rdflib(engine, request):
    from rdflib.plugins.sparql import prepareQuery

    _, text, kind, bindings, _union, limit, dataset = request[:7]
    rdflib.plugins.sparql.SPARQL_DEFAULT_GRAPH_UNION = True
    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False
    prepared = _prepared_cache.get(text)
    if prepared is None:
        if len(_prepared_cache) > 512:
            _prepared_cache.clear()
        prepared = _prepared_cache[text] = prepareQuery(text)
    if dataset is not None:
        prepared = _with_dataset(prepared, dataset)
    init = {rdflib.Variable(k): term_from_cell(c) for k, c in bindings.items()} if bindings else None
    answer = engine.query(prepared, initBindings=init)
    if kind == "ask":
        return bool(answer.askAnswer)
    if kind == "select":
        variables = [str(v) for v in answer.vars]
        cells = [tuple(map(_cell_from_rdflib, row)) for row in itertools.islice(answer, limit + 1)]
        return variables, cells[:limit], len(cells) > limit
    graph = rdflib.Graph()
    triples = list(itertools.islice(answer.graph, limit + 1))
    for triple in triples[:limit]:
        graph.add(triple)
    data = graph.serialize(format="nt", encoding="utf-8") if triples else b""
    return data, len(triples) > limit


def _worker_main(conn, spec: _WorkerSpec) -> None:
    """Load the store once, then answer requests from the pipe until it closes."""
    try:
        engine = _load_engine(spec)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises StoreError
        conn.send(("error", "store", f"{type(error).__name__}: {error}"))
        return
    allowed = [os.path.dirname(p) for p in (spec.dump, spec.disk) if p]
    _sparql.install_audit_hook(allowed)
    run = _run_oxigraph if spec.engine == "oxigraph" else _run_rdflib
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        try:
            started = time.process_time()  # CPU, not wall time: busy neighbours do not count
            with _sparql.guarded():
                answer = run(engine, request)
            if len(request) > 7 and request[7] == "json" and request[2] == "select":
                # written here, not in the web server, whose threads share one GIL
                variables, cells, truncated = answer
                answer = ("json", variables, _results_json(variables, cells), len(cells), truncated)
            reply = ("ok", answer, time.process_time() - started)
        except SyntaxError as error:
            reply = ("error", "syntax", str(error))
        except PermissionError as error:
            reply = ("error", "refused", str(error))
        except Exception as error:  # noqa: BLE001 - every engine failure goes back as a message
            message = str(error)
            kind = "parameter" if "SELECT projection" in message else "store"
            reply = ("error", kind, f"{type(error).__name__}: {message}")
        conn.send(reply)


# --- the pool -------------------------------------------------------------------------------

_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent)
_pools: weakref.WeakSet = weakref.WeakSet()


def _resident_bytes(pid: int) -> int | None:
    """A process's resident set in bytes, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


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

    def __init__(self, process, conn):
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


def _worker_entry() -> None:
    """Entry point of a worker process: ``python -c`` calls this with the pipe's descriptor."""
    import pickle

    conn = Connection(int(sys.argv[1]))
    spec = pickle.loads(bytes.fromhex(sys.argv[2]))
    _worker_main(conn, spec)


class WorkerPool:
    """Warm query workers; each holds the whole store. Thread-safe.

    With two or more workers, one is kept for quick queries: at most ``size - 1`` calls
    marked ``slow`` run at once, so a cheap lookup finds a worker even while heavy queries
    keep the others busy (a slow call waits for its turn within its own time limit). The
    embedded store marks a query slow unless it has been seen to answer quickly.
    """

    max_slow_waiting = 2
    """Most slow calls waiting for a turn at once; more are refused at once (503)."""

    def __init__(self, spec: _WorkerSpec, size: int, start_timeout: float = 600.0, memory_limit: int | None = None):
        self.spec = spec
        self.size = size
        self.memory_limit = memory_limit
        self._slow_waiting = 0
        self._slow_turns = threading.BoundedSemaphore(max(1, size - 1))
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._last_error: str | None = None
        self._start_timeout = start_timeout
        self.restarts = 0
        started = [self._start() for _ in range(size)]
        try:
            for worker in started:
                self._await_ready(worker)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise
        _pools.add(self)

    def _start(self) -> _Worker:
        # A fresh interpreter, not a fork: the parent may be a multi-threaded web server, and
        # multiprocessing's spawn/forkserver would re-run the caller's __main__ module.
        import pickle

        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_IMPORT_ROOT, env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [sys.executable, "-c", "from kg.store import _worker_entry; _worker_entry()",
             str(child_sock.fileno()), pickle.dumps(self.spec).hex()],
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
            message = ("error", "store", f"the worker exited with code {worker.process.poll()}")
        if message[0] != "ready":
            self._discard(worker)
            raise StoreError(f"A query worker could not load the store: {message[-1]}.")

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker and start its replacement in the background."""
        self._discard(worker)
        if self._closed:
            return
        self.restarts += 1

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
                self._idle.put(fresh)

        threading.Thread(target=start, name="kg-worker-restart", daemon=True).start()

    def call(self, request, timeout: float, slow: bool = False):
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
                raise QueryTimeout(
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
    def _busy(timeout: float) -> QueryTimeout:
        return QueryTimeout(
            f"Every query worker stayed busy for the {timeout:g} s limit (KG_QUERY_TIMEOUT); "
            "try again, or raise KG_WORKERS."
        )

    def _call(self, request, timeout: float, deadline: float, slow: bool = False):
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


# --- stores ---------------------------------------------------------------------------------

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


class Store:
    """The interface every backend offers (see the module docstring)."""

    backend = "abstract"

    def __init__(self, settings):
        self.settings = settings
        self._memo: dict[object, object] = {}
        self._memo_lock = threading.Lock()

    # to implement --------------------------------------------------------------------------
    def _execute(self, parsed, cells: dict, timeout: float, limit: int,
                 dataset: "ProtocolDataset | None" = None, output: str | None = None) -> QueryResult:
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
    from .queries import validate_iri

    return URIRef(validate_iri(str(iri), "iri"))


# pyoxigraph (0.5) reports a function it does not implement (an extension function's IRI, or an
# XSD cast that SPARQL leaves optional, such as xsd:int) only as a RuntimeError with this text:
# no exception class of its own says so. The worker sends "RuntimeError: <message>"; only that
# whole message, with one IRI in it, is the query's fault (400). Any other engine failure stays a
# StoreError (502), and a reworded message in a later pyoxigraph falls back to 502, never wrongly
# to 400. (rdflib evaluates an unknown function as an error: the expression is left unbound.)
_UNSUPPORTED_FUNCTION = re.compile(r"RuntimeError: The custom function (?P<iri><[^<>\s]+>) is not supported")


class EmbeddedStore(Store):
    """pyoxigraph or rdflib, held by warm worker processes.

    A query counts as slow unless its last run (known by its terms, whatever its comments and
    layout) took less than ``slow_seconds`` of a worker's CPU: slow queries never take the
    pool's last idle worker (see :class:`WorkerPool`), so a known lookup never waits behind a
    burst of heavy aggregates or of new queries.
    """

    slow_seconds = 0.05

    def __init__(self, settings, spec: _WorkerSpec, backend: str, pinned: "_PinnedDump | None" = None):
        super().__init__(settings)
        self.backend = backend
        self.spec = spec
        self._pinned = pinned  # graph.nq held open: closed with the store
        self.pool = WorkerPool(spec, settings.workers, memory_limit=settings.worker_memory_bytes)
        self._graphs: list[str] | None = None
        self._last_seconds: dict[str, float] = {}

    def graphs(self) -> list[str]:
        if self._graphs is None:
            request = ("query", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", "select", {}, True, 10**9, None)
            _, cells, _ = self._call(request, max(self.settings.query_timeout, 60.0))
            self._graphs = sorted(c[0][1] for c in cells if c[0] and c[0][1] != _RDFLIB_DEFAULT_GRAPH)
        return list(self._graphs)

    def _remember(self, text: str, seconds: float) -> None:
        if len(self._last_seconds) > 4096:
            self._last_seconds.clear()
        self._last_seconds[text] = seconds

    def _call(self, request, timeout, slow: bool = False, text: str | None = None):
        reply = self.pool.call(request, timeout, slow=slow)
        if reply[0] == "ok":
            if text is not None and len(reply) > 2:
                self._remember(text, reply[2])  # the worker's own time, not the wait for it
            return reply[1]
        kind, message = reply[1], reply[2]
        if kind == "syntax":
            raise QuerySyntaxError(f"The query engine could not parse the query: {message}")
        if kind == "parameter":
            raise QueryParameterError(message)
        if kind == "refused":
            raise _sparql.QueryRefused(f"The query tried something this service never does: {message}.")
        unsupported = _UNSUPPORTED_FUNCTION.fullmatch(message) if kind == "store" else None
        if unsupported:  # the query's fault, not the store's: 400, not 502
            raise QueryError(
                f"The function {unsupported['iri']} is not supported by the {self.backend} query engine. "
                "Use SPARQL 1.1's built-in functions and its XSD casts (xsd:integer, xsd:decimal, "
                "xsd:double, xsd:string, xsd:dateTime, …) instead."
            )
        raise StoreError(f"The {self.backend} store could not answer the query: {message}")

    def _execute(self, parsed, cells, timeout, limit, dataset=None, output=None):
        union = not parsed.has_dataset_clause and dataset is None
        request = ("query", parsed.text, parsed.kind, cells, union, limit, dataset, output)
        # A query is quick only once it has been seen to be: one never seen (or seen slow) takes
        # a slow turn, so no burst of new queries, however each is disguised (a comment, other
        # spacing, other constants), can take the worker kept for quick ones. Known by its terms.
        key = _sparql.normalised(parsed.text)
        seconds = self._last_seconds.get(key)
        slow = seconds is None or seconds >= self.slow_seconds
        try:
            payload = self._call(request, timeout, slow=slow, text=key)
        except (QueryTimeout, QueryOverMemory):
            self._remember(key, timeout)
            raise
        if parsed.kind == "ask":
            return QueryResult("ask", boolean=payload)
        if parsed.kind == "select":
            if payload[0] == "json":
                _, variables, body, count, truncated = payload
                return QueryResult("select", variables=variables, json_body=body, row_count=count,
                                   truncated=truncated)
            variables, rows, truncated = payload
            return QueryResult("select", variables=variables, cells=rows, truncated=truncated)
        data, truncated = payload
        return QueryResult("graph", ntriples=data, truncated=truncated)

    def close(self) -> None:
        self.pool.close()
        if self._pinned is not None:
            self._pinned.close()


# --- remote -----------------------------------------------------------------------------------

# Where a SPARQL text stops being code: IRIs, strings and comments are skipped when looking for
# the braces of the query's outermost group. '<' starts an IRI only when an IRIREF follows
# (otherwise it is the less-than operator).
_IRIREF = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')
_KEYWORD = re.compile(r"[A-Za-z_]+")


def _top_level_groups(text: str) -> list[tuple[int, int, str]]:
    """The ``{ … }`` groups at nesting depth 0 (outside any parentheses), in order.

    Each is ``(open, close, word)``: the offsets of its braces and the last keyword before
    the opening brace (e.g. ``WHERE``, ``CONSTRUCT``, ``VALUES``), upper-cased.
    """
    groups = []
    depth = parens = 0
    start = 0
    word = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            i = j + len(quote)
            continue
        if c == "<":
            match = _IRIREF.match(text, i)
            if match:
                i = match.end()
                continue
        elif c == "(":
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == "{":
            if depth == 0 and parens == 0:
                start = i
                opening_word = word
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and parens == 0:
                groups.append((start, i, opening_word))
        elif depth == 0 and (c.isalpha() or c == "_") and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in ":?$_-.")):
            match = _KEYWORD.match(text, i)
            word = match.group().upper()
            i = match.end()
            continue
        i += 1
    return groups


def bind_inline(parsed, cells: Mapping[str, tuple]) -> str:
    """The query text with its bindings as ``BIND`` clauses opening its outermost WHERE group.

    Placed there, a binding is in scope for every pattern, FILTER and BIND of the query, as a
    substituted value is on the embedded stores (a trailing ``VALUES`` block joins after the
    WHERE clause, so a FILTER on a parameter would see it unbound; Virtuoso 7.2 even ignores
    a trailing block in some queries). ``BIND`` rather than a leading one-row ``VALUES``
    block, which means the same: Virtuoso 7.2 returns no rows for a leading ``VALUES`` that
    binds the end of a ``*`` property path. The terms are written from validated terms only
    (``_nt_from_cell``), never from raw text. The result is parsed again and checked to open
    with exactly those clauses; anything else is refused rather than sent.
    """
    names = list(cells)
    values = " ".join(f"BIND({_nt_from_cell(cells[name])} AS ?{name})" for name in names)
    text = parsed.text
    groups = _top_level_groups(text)
    short_construct = parsed.form == "construct" and bool(groups) and groups[0][2] == "WHERE"
    if parsed.form == "construct" and not short_construct:
        groups = groups[1:]  # the template
    if not groups:
        raise QueryParameterError("This query has no WHERE clause to bind parameters in.")
    opening, closing, _ = groups[0]
    if short_construct:
        # CONSTRUCT WHERE { T }: the short form takes no VALUES, so spell out its template.
        keyword = re.search(r"WHERE\s*$", text[:opening], re.IGNORECASE)
        if keyword is None:
            raise QueryParameterError("Cannot bind parameters in this CONSTRUCT WHERE query on a remote store.")
        template = text[opening + 1:closing]
        bound = f"{text[:keyword.start()]}{{{template}\n}} WHERE {{ {values}\n{template}\n}}{text[closing + 1:]}"
    else:
        bound = f"{text[:opening + 1]} {values}\n{text[opening + 1:]}"
    try:
        with _sparql.PARSER_LOCK:  # rdflib's SPARQL parser is not thread-safe
            tree = parseQuery(bound)
        where = tree[1].get("where")
        opened = [str(part["var"]) for part in where["part"][:len(names)] if getattr(part, "name", "") == "Bind"]
    except Exception:  # noqa: BLE001 - any failure means the insertion went wrong
        opened = None
    if opened != names:
        raise QueryParameterError(
            "Cannot bind parameters in this query on a remote store: the bindings could not be "
            "placed at the start of its WHERE clause."
        )
    return bound


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint reached over HTTP(S) through SPARQLWrapper.

    Queries see the build's named graphs only (``https://w3id.org/hscp/graph/…``): unless the
    query has its own FROM clauses, each request names them as ``default-graph-uri`` and
    ``named-graph-uri``, so the server's other graphs (Virtuoso keeps system graphs of its own)
    never show up. A server that cuts a result at its own row cap and says so (Virtuoso's
    ``X-SPARQL-MaxRows`` header) gives a result marked truncated; a server that stops a query
    at its own time limit and returns what it has so far (Virtuoso's anytime answers,
    ``X-SQL-State: S1TAT``) gives ``QueryTimeout``, never partial rows.
    """

    backend = "remote"
    chunk_triples = 500  # Virtuoso refuses an INSERT DATA whose SQL would exceed 10,000 lines
    build_graphs = tuple(GRAPH_BASE + name for name in GRAPH_NAMES)

    def __init__(self, settings, url: str):
        super().__init__(settings)
        self.url = url
        self.update_url = settings.store_update_url or url
        self._graphs: tuple[float, list[str]] | None = None

    def __repr__(self) -> str:
        return f"<RemoteStore {self.url}>"

    def _wrapper(self, url: str, timeout: float, auth: str | None = None):
        from SPARQLWrapper import POST, SPARQLWrapper

        wrapper = SPARQLWrapper(url)
        wrapper.setTimeout(max(1, int(math.ceil(timeout))))
        wrapper.setMethod(POST)
        if auth and self.settings.store_user:
            wrapper.setHTTPAuth(auth)
            wrapper.setCredentials(self.settings.store_user, self.settings.store_password or "")
        return wrapper

    def graphs(self) -> list[str]:
        """The build graphs the remote store holds (listed at most once a minute)."""
        now = time.monotonic()
        if self._graphs is None or now - self._graphs[0] > 60:
            # the build's graphs: the four of every build, and the studies its metadata names
            metadata = GRAPH_BASE + "metadata"
            response = self._send("PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
                                  "SELECT DISTINCT ?g WHERE { ?named sd:name ?g }", "json", self.settings.query_timeout,
                                  dataset=ProtocolDataset((metadata,), ()))
            _, cells, _ = self._parse_select(response)
            studies = tuple(c[0][1] for c in cells if c[0] and c[0][1].startswith(GRAPH_BASE + STUDY_GRAPH))
            project = self.build_graphs + tuple(sorted(studies))
            response = self._send("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", "json",
                                  self.settings.query_timeout, dataset=ProtocolDataset(project, project))
            _, cells, _ = self._parse_select(response)
            self._graphs = (now, sorted(c[0][1] for c in cells if c[0]))
        return list(self._graphs[1])

    @property
    def project_graphs(self) -> tuple[str, ...]:
        """The graphs a query sees: the build's graphs the store holds (else the four of every build)."""
        return tuple(self.graphs()) or self.build_graphs

    def _send(self, text: str, return_format: str, timeout: float, *, dataset: "ProtocolDataset | None"):
        """POST one query; return the HTTP response (body unread). ``dataset``: the graphs to name."""
        wrapper = self._wrapper(self.url, timeout)
        wrapper.setQuery(text)
        wrapper.setReturnFormat(return_format)
        if dataset is not None:
            for graph in dataset.default_graphs:
                wrapper.addDefaultGraph(graph)
            for graph in dataset.named_graphs:
                wrapper.addNamedGraph(graph)
        try:
            response = wrapper.query().response
        except Exception as error:  # noqa: BLE001 - SPARQLWrapper and urllib raise many kinds
            if "timed out" in str(error).lower() or isinstance(error, TimeoutError):
                raise QueryTimeout(
                    f"The query ran longer than the {timeout:g} s limit (KG_QUERY_TIMEOUT) and was "
                    "abandoned. Narrow it or raise the limit."
                ) from None
            if type(error).__name__ == "QueryBadFormed":
                raise QuerySyntaxError(f"The remote store at {self.url} rejected the query: "
                                       f"{_remote_message(error)}") from None
            raise StoreError(f"The remote store at {self.url} could not answer: {_remote_message(error)}") from None
        state = response.headers.get("X-SQL-State", "")
        if state == "S1TAT":
            raise QueryTimeout(
                f"The remote store at {self.url} stopped the query at its own time limit and offered "
                "partial results, which are not returned. Narrow the query, or raise the server's "
                "limit (Virtuoso: [SPARQL] MaxQueryExecutionTime)."
            )
        return response

    @staticmethod
    def _server_cap(response) -> int | None:
        cap = response.headers.get("X-SPARQL-MaxRows")
        try:
            return int(cap) if cap else None
        except ValueError:
            return None

    def _parse_select(self, response):
        """(variables or boolean, cells, the server's row cap if it cut the result)."""
        document = json.loads(response.read())
        cap = self._server_cap(response)
        if "boolean" in document:
            return document["boolean"], [], None
        variables, rows = _cells_from_json(document)
        return variables, rows, cap

    def _execute(self, parsed, cells, timeout, limit, dataset=None, output=None):
        text = bind_inline(parsed, cells) if cells else parsed.text
        if dataset is None and not parsed.has_dataset_clause:
            dataset = ProtocolDataset(tuple(self.project_graphs), tuple(self.project_graphs))
        if parsed.kind in ("ask", "select"):
            head, rows, cap = self._parse_select(self._send(text, "json", timeout, dataset=dataset))
            if parsed.kind == "ask":
                return QueryResult("ask", boolean=bool(head))
            return QueryResult("select", variables=head, cells=rows[:limit],
                               truncated=len(rows) > limit or cap is not None)
        from SPARQLWrapper import TURTLE

        response = self._send(text, TURTLE, timeout, dataset=dataset)
        data = response.read().decode("utf-8")
        cap = self._server_cap(response)
        graph = rdflib.Graph().parse(data=data, format="turtle") if data.strip() else rdflib.Graph()
        triples = list(itertools.islice(graph, limit + 1))
        out = rdflib.Graph()
        for triple in triples[:limit]:
            out.add(triple)
        return QueryResult("graph", ntriples=out.serialize(format="nt", encoding="utf-8") if len(out) else b"",
                           truncated=len(triples) > limit or cap is not None)

    def push(self, build_dir: str | os.PathLike) -> dict[str, int]:
        """Load a build graph by graph, replacing each graph; return the triples per graph loaded.

        Each graph goes into a staging graph first, in chunks, and is then moved over the old
        one in a single ``MOVE`` request, so every graph is either entirely old or entirely new.
        A failure names the graph; the graphs loaded before it stay new, the failed one and
        those after it stay as they were, and the staging graph is dropped.
        """
        by_graph: dict[str, list[ox.Quad]] = {}
        with _PinnedDump.open(build_dir) as pinned:
            for quad in ox.parse(**pinned.where(), format=ox.RdfFormat.N_QUADS):
                if isinstance(quad.graph_name, ox.NamedNode):
                    by_graph.setdefault(quad.graph_name.value, []).append(quad)
        loaded: dict[str, int] = {}
        for graph, quads in by_graph.items():
            staging = f"{graph}#staging"
            try:
                self._update(f"DROP SILENT GRAPH <{staging}>")
                for chunk in _chunks(quads, self.chunk_triples):
                    body = "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in chunk)
                    if any(isinstance(t, ox.BlankNode) for q in chunk for t in (q.subject, q.object)):
                        # INSERT DATA may not hold blank nodes on Virtuoso 7; a template may
                        # (one fresh node per label, as the chunk holds every use of each label)
                        self._update(f"INSERT {{ GRAPH <{staging}> {{\n{body}\n}} }} WHERE {{}}")
                    else:
                        self._update(f"INSERT DATA {{ GRAPH <{staging}> {{\n{body}\n}} }}")
                self._update(f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{graph}>")
            except StoreError as error:
                cleanup = ""
                try:
                    self._update(f"DROP SILENT GRAPH <{staging}>")
                except StoreError as again:
                    cleanup = f" The staging graph <{staging}> could not be dropped ({again}): drop it by hand."
                done = ", ".join(f"<{g}>" for g in loaded) or "none"
                raise StoreError(
                    f"Pushing graph <{graph}> to {self.update_url} failed: {error}. That graph and "
                    f"the ones after it were left as they were; graphs replaced before it: {done}.{cleanup}"
                ) from None
            loaded[graph] = len(quads)
        self._graphs = None
        return loaded

    def _update(self, text: str) -> None:
        """One SPARQL Update request, POSTed: digest auth first (Virtuoso's /sparql-auth), then basic."""
        from SPARQLWrapper import BASIC, DIGEST

        for auth in (DIGEST, BASIC):
            wrapper = self._wrapper(self.update_url, max(self.settings.query_timeout, 300), auth)
            wrapper.setQuery(text)
            try:
                wrapper.query().response.read()
                return
            except Exception as error:  # noqa: BLE001 - SPARQLWrapper and urllib raise many kinds
                message = _remote_message(error)
                if auth == DIGEST and self.settings.store_user and type(error).__name__ == "Unauthorized":
                    continue
                raise StoreError(message) from None


def _remote_message(error: Exception) -> str:
    """A one-line reason from a SPARQLWrapper or urllib error (its response body, shortened)."""
    text = " ".join(str(error).split())
    text = text.replace("Response: b'", "Response: ").replace("\\n", " ")
    return (text[:400] + "…") if len(text) > 400 else (text or type(error).__name__)


def _chunks(quads: list, size: int):
    """Chunks of about ``size`` triples for INSERT DATA requests.

    A blank node's label means something only within one request, so all the triples that
    share blank nodes (an OWL restriction, an RDF list) travel in the same chunk.
    """
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    plain, blank = [], []
    for quad in quads:
        labels = [t.value for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
        if not labels:
            plain.append(quad)
            continue
        blank.append((labels[0], quad))
        for other in labels[1:]:
            parent[root(other)] = root(labels[0])
    components: dict[str, list] = {}
    for label, quad in blank:
        components.setdefault(root(label), []).append(quad)
    chunk: list = []
    for group in [*components.values(), *([q] for q in plain)]:
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk.extend(group)
    if chunk:
        yield chunk


# --- opening ----------------------------------------------------------------------------------


class _PinnedDump:
    """The graph.nq of one build, opened and checked once, held open for a store's life.

    A store serves the build it opened: every worker, the first ones and those started later
    to replace one, loads this open file (inherited descriptor), never the path again. A
    rebuild that swaps another build into the folder and deletes this one changes nothing for
    them: the file's data stay on disk, unnamed, until the store closes. (A plain folder and a
    descriptor, rather than versioned folders kept until no store uses them: nothing to track
    or to clean up after a killed server; see kg.build.swap_in.)

    Before anything loads it, the file is checked against the size, quad count and SHA-256
    that the build recorded in report.json (``files``): a graph.nq cut short or changed is
    refused (:class:`BuildDamaged`). A build without that record (written before it existed,
    or by hand) is loaded unchecked. The check reads the file once (0.35 s at a million
    triples), which also brings it into the page cache the workers read next.
    """

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path
        self.size = os.fstat(fd).st_size
        self._close = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, build_dir) -> "_PinnedDump":
        folder = Path(build_dir)
        try:
            for _ in range(10):
                fd, report = _open_build(folder)
                if fd is not None:
                    break
            else:
                raise StoreError(f"The build at {folder} kept changing while it was opened: try again.")
            pinned = cls(fd, folder / DUMP_NAME)
            try:
                pinned.check(report)
            except BaseException:
                pinned.close()
                raise
        except OSError as error:
            raise StoreError(f"Cannot read the build at {folder}: {error}") from None
        return pinned

    def check(self, report: bytes | None) -> None:
        from .build import dump_record

        record = _recorded(report, self.path.with_name("report.json"))
        if record is None:
            return
        rebuild = ("It was cut short or changed after the build: rebuild it with 'kg build' (a store "
                   "refuses to load it).")
        if self.size != record["bytes"]:
            raise BuildDamaged(f"{self.path} is {self.size:,} bytes, but its build wrote {record['bytes']:,} "
                               f"(report.json). {rebuild}")
        found = dump_record(self.fd)
        if found["quads"] != record["quads"]:
            raise BuildDamaged(f"{self.path} holds {found['quads']:,} quads, but its build wrote "
                               f"{record['quads']:,} (report.json). {rebuild}")
        if found["sha256"] != record["sha256"]:
            raise BuildDamaged(f"{self.path} does not have the SHA-256 its build recorded in report.json "
                               f"({found['sha256']} instead of {record['sha256']}). {rebuild}")

    def where(self) -> dict:
        """``path=`` or ``input=`` for pyoxigraph's parse and bulk_load: this file, from its start."""
        source = _fd_source(self.fd, str(self.path))
        return {"path": source} if isinstance(source, str) else {"input": source}

    def close(self) -> None:
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open_build(folder: Path) -> tuple[int | None, bytes | None]:
    """graph.nq opened and report.json read, both from one build; (None, None) if it was swapped meanwhile.

    Both are opened through one descriptor of the folder: a build swapped in between gives the
    two files of the old build or of the new one, never one of each.
    """
    directory = getattr(os, "O_DIRECTORY", 0)
    by_folder = os.open in os.supports_dir_fd
    try:
        dir_fd = os.open(folder, os.O_RDONLY | directory) if by_folder else None
    except (FileNotFoundError, NotADirectoryError):
        dir_fd = None
        if not folder.is_dir():
            raise BuildNotFound(f"There is no build at {folder}: run 'kg build' first.") from None
    if dir_fd is None:
        by_folder = False

    def opened(name: str) -> int | None:
        try:
            if by_folder:
                return os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            return os.open(folder / name, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError):
            return None

    try:
        fd = opened(DUMP_NAME)
        report_fd = opened("report.json")
        report = None
        if report_fd is not None:
            with os.fdopen(report_fd, "rb") as handle:
                report = handle.read()
        swapped = by_folder and (fd is None or report is None) and _replaced(folder, dir_fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    if swapped:
        if fd is not None:
            os.close(fd)
        return None, None
    if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
        if fd is not None:
            os.close(fd)
        raise BuildNotFound(f"There is no build at {folder} ({DUMP_NAME} is missing): run 'kg build' first.")
    return fd, report


def _replaced(folder: Path, dir_fd: int) -> bool:
    """Whether ``folder`` now names another folder than ``dir_fd`` (a build was swapped in)."""
    try:
        now, then = os.stat(folder), os.fstat(dir_fd)
    except OSError:
        return True
    return (now.st_dev, now.st_ino) != (then.st_dev, then.st_ino)


def _recorded(report: bytes | None, path: Path) -> dict | None:
    """graph.nq's record in a build's report.json (None: no report, or one written before the record)."""
    if report is None:
        return None
    try:
        record = json.loads(report).get("files", {}).get(DUMP_NAME)
        if record is not None and not (isinstance(record.get("bytes"), int) and isinstance(record.get("quads"), int)
                                       and isinstance(record.get("sha256"), str)):
            raise ValueError(f"its record of {DUMP_NAME} is incomplete")
        return record
    except (ValueError, AttributeError) as error:
        raise BuildDamaged(f"{path} cannot be read ({error}): the build is damaged. Rebuild it with 'kg build'.") from None


def load_build_into(path: str | os.PathLike, build_dir: str | os.PathLike) -> int:
    """Fill a persistent on-disk oxigraph store at PATH from a build; return its quad count.

    The store is rebuilt from scratch with bulk_load and flushed, so readers open it in
    milliseconds and never replay a log. A damaged graph.nq is refused (see _PinnedDump).
    """
    with _PinnedDump.open(build_dir) as pinned:
        return _load_into(Path(path), pinned)


def _load_into(path: Path, pinned: "_PinnedDump") -> int:
    try:
        store = ox.Store(str(path))
        store.clear()
        store.bulk_load(**pinned.where(), format=ox.RdfFormat.N_QUADS)
        store.flush()
        store.optimize()
        count = len(store)
        del store
    except OSError as error:
        raise StoreError(f"Cannot write the oxigraph store at {path}: {error}") from None
    return count


def open_store(settings, build_dir: str | os.PathLike | None = None) -> Store:
    """The store ``settings.store`` names (KG_STORE), loaded from ``build_dir`` when embedded."""
    choice = settings.store or "oxigraph"
    if choice.startswith(("sparql+http://", "sparql+https://")):
        return RemoteStore(settings, choice[len("sparql+"):])
    build_dir = Path(build_dir if build_dir is not None else settings.build_dir)
    if choice in ("oxigraph", "rdflib"):
        pinned = _PinnedDump.open(build_dir)  # every worker loads this build, checked (see _PinnedDump)
        spec = _WorkerSpec(choice, str(pinned.path.resolve()), None, pinned.fd, pinned.size)
        try:
            return EmbeddedStore(settings, spec, choice, pinned)
        except BaseException:
            pinned.close()
            raise
    if choice.startswith("oxigraph:"):
        disk = Path(choice[len("oxigraph:"):]).resolve()
        if not disk.is_dir():
            raise BuildNotFound(f"There is no oxigraph store at {disk}: run 'kg build --store oxigraph:{disk}'.")
        return EmbeddedStore(settings, _WorkerSpec("oxigraph", None, str(disk)), "oxigraph")
    raise ConfigurationError(
        f"KG_STORE={choice!r} is not a store: use 'oxigraph', 'oxigraph:PATH', 'rdflib' or "
        "'sparql+http(s)://HOST/PATH'."
    )
