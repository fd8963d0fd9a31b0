"""Query safety: every SPARQL query is parsed and inspected here before any engine sees it.

``parse(text)`` parses once (results are cached by query text) and refuses what the service
never does: ``SERVICE`` anywhere in the query, every update form (``LOAD`` included), and a
query that does not parse. ``check_dataset(parsed, graphs)`` refuses ``FROM`` / ``FROM NAMED``
naming a graph the store does not hold. Nothing here opens a file or a socket.

Defence in depth, for the processes that run queries: rdflib's graph loading is switched off
on import, and ``install_audit_hook()`` adds an audit hook that refuses network connections,
process creation and file access outside an allow-list while a query runs (``guarded()``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import threading
from collections.abc import Collection, Iterable, Iterator

import rdflib.plugins.sparql as _rdflib_sparql
from pyparsing import ParseBaseException
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Variable

from .errors import QueryParameterError, QueryRefused, QuerySyntaxError

# A FROM <iri> must never make rdflib fetch <iri> from the web or the file system.
_rdflib_sparql.SPARQL_LOAD_GRAPHS = False
# The default graph is the union of the named graphs on every backend (oxigraph is queried
# with use_default_graph_as_union=True, the rdflib Dataset with default_union=True, remote
# stores such as Virtuoso do this by default). rdflib's flag is global and other libraries
# (pySHACL) flip rdflib globals, so the query workers set it again before every query.
_rdflib_sparql.SPARQL_DEFAULT_GRAPH_UNION = True

# rdflib's SPARQL grammar (pyparsing) is not thread-safe: pyparsing fixes each parse action's
# arity on its first call by trial and error, and parses racing through that first call leave
# actions wrapped wrongly for good, after which every parse in the process fails ("<lambda>()
# missing 1 required positional argument"). A web server's first requests arrive together, so
# every use of rdflib's SPARQL parser and algebra in a threaded process holds this lock.
PARSER_LOCK = threading.RLock()

FORMS = {"SelectQuery": "select", "AskQuery": "ask", "ConstructQuery": "construct", "DescribeQuery": "describe"}


@dataclasses.dataclass(frozen=True)
class ParsedQuery:
    """What the safety layer and the stores need to know about one query text."""

    text: str
    form: str  # select | ask | construct | describe
    variables: tuple[str, ...]  # projected variables (select), in order
    default_graphs: tuple[str, ...]  # FROM
    named_graphs: tuple[str, ...]  # FROM NAMED
    mentioned: frozenset[str]  # every variable name that occurs anywhere in the query

    @property
    def kind(self) -> str:
        """The result kind: select, ask or graph (construct and describe)."""
        return "graph" if self.form in ("construct", "describe") else self.form

    @property
    def has_dataset_clause(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)


def _walk(node) -> Iterator[object]:
    """Every node of an rdflib parse tree (CompValue, ParseResults, lists), depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, CompValue):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)) or type(item).__name__ == "ParseResults":
            stack.extend(item)


def _syntax_error(text: str, error: Exception) -> QuerySyntaxError:
    if isinstance(error, ParseBaseException):
        line = text.splitlines()[error.lineno - 1] if 0 < error.lineno <= len(text.splitlines()) else ""
        where = f"line {error.lineno}, column {error.col}"
        message = f"The query does not parse at {where}: {error.msg}."
        if line.strip():
            message += f"\n  {line}\n  {' ' * (error.col - 1)}^"
        exc = QuerySyntaxError(message)
        exc.line, exc.column = error.lineno, error.col
        return exc
    exc = QuerySyntaxError(f"The query is not valid SPARQL: {error}.")
    exc.line = exc.column = None
    return exc


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> ParsedQuery:
    """Parse and inspect one query; raise ``QuerySyntaxError`` or ``QueryRefused``.

    Cached by query text: a canned query or a repeated request is parsed once.
    """
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntaxError("The query is empty: send a SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE query.")
    with PARSER_LOCK:  # see PARSER_LOCK
        try:
            tree = parseQuery(text)
        except Exception as error:  # noqa: BLE001 - any parser failure is a syntax error
            try:
                update = parseUpdate(text)
            except Exception:  # noqa: BLE001
                raise _syntax_error(text, error) from None
            names = sorted({getattr(r, "name", "update") for r in update.get("request", [])})
            verb = ", ".join(n.upper() for n in names) or "update"
            raise QueryRefused(
                f"This service answers queries only: SPARQL Update ({verb}) is refused, "
                "LOAD included. Use SELECT, ASK, CONSTRUCT or DESCRIBE."
            ) from None

        for node in _walk(tree):
            if isinstance(node, CompValue) and node.name == "ServiceGraphPattern":
                raise QueryRefused(
                    f"SERVICE <{node.get('term')}> is refused: this service never queries other "
                    "endpoints. Run the federated part of the query yourself."
                )

        body = tree[1]
        form = FORMS.get(body.name)
        if form is None:  # pragma: no cover - parseQuery knows only the four forms
            raise QuerySyntaxError(f"Unsupported query form {body.name}.")
        default_graphs, named_graphs = [], []
        for clause in body["datasetClause"] if "datasetClause" in body else []:
            if "default" in clause:
                default_graphs.append(str(clause["default"]))
            elif "named" in clause:
                named_graphs.append(str(clause["named"]))
        # before translateQuery, which rewrites some expressions in place (a variable that only
        # occurs under !BOUND() is gone from the tree after it)
        mentioned = frozenset(str(n) for n in _walk(tree) if isinstance(n, Variable))
        try:
            algebra = translateQuery(tree).algebra
        except Exception as error:  # noqa: BLE001 - e.g. a variable projected outside GROUP BY
            raise _syntax_error(text, error) from None
    variables = tuple(str(v) for v in (algebra.get("PV") or [])) if form == "select" else ()
    return ParsedQuery(
        text=text,
        form=form,
        variables=variables,
        default_graphs=tuple(default_graphs),
        named_graphs=tuple(named_graphs),
        mentioned=mentioned,
    )


def check_dataset(parsed: ParsedQuery, graphs: Collection[str]) -> None:
    """Refuse ``FROM`` / ``FROM NAMED`` naming a graph that is not in the store."""
    for graph in (*parsed.default_graphs, *parsed.named_graphs):
        if graph not in graphs:
            raise QueryRefused(
                f"FROM <{graph}> names a graph this store does not hold; nothing is fetched "
                f"from elsewhere. Graphs here: {', '.join(sorted(graphs)) or 'none'}."
            )


def check_bindings(parsed: ParsedQuery, names: Iterable[str]) -> None:
    """Refuse bindings for variables the query cannot receive them in.

    Bindings are substituted for the variable (SEP-0007, as pyoxigraph does): for a SELECT
    the variable must be one the query projects, for the other forms it must occur.
    """
    for name in names:
        if parsed.form == "select" and name not in parsed.variables:
            raise QueryParameterError(
                f"Cannot bind ?{name}: the query does not select it. Add ?{name} to the SELECT "
                "clause (and to GROUP BY if the query groups)."
            )
        if name not in parsed.mentioned:
            raise QueryParameterError(f"Cannot bind ?{name}: the query has no variable ?{name}.")


# --- defence in depth: an audit hook for query worker processes ------------------------------

_guard = threading.local()
_allowed_prefixes: tuple[str, ...] = ()
_hook_installed = False
_REFUSED_EVENTS = {
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.sendto",
    "urllib.Request",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "ctypes.dlopen",
}


def _audit(event: str, args: tuple) -> None:
    if not getattr(_guard, "active", False):
        return
    if event in _REFUSED_EVENTS:
        raise PermissionError(f"{event} is not allowed while a query runs")
    if event == "open":
        path, mode = args[0], args[1]
        if isinstance(path, int):  # an already open descriptor
            return
        if mode is not None and any(c in str(mode) for c in "wax+"):
            raise PermissionError(f"writing {path!r} is not allowed while a query runs")
        if isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND):
            raise PermissionError(f"writing {path!r} is not allowed while a query runs")
        real = os.path.realpath(os.fsdecode(path))
        if not real.startswith(_allowed_prefixes):
            raise PermissionError(f"reading {real!r} is not allowed while a query runs")


def install_audit_hook(allowed_read_dirs: Iterable[str | os.PathLike] = ()) -> None:
    """Install (once per process) the hook that ``guarded()`` switches on.

    Reading stays allowed under the Python installation (lazy imports) and the given folders.
    Audit hooks cannot be removed: call this in query worker processes only.
    """
    global _allowed_prefixes, _hook_installed
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(str(d) for d in allowed_read_dirs)}
    dirs |= {p for p in sys.path if p and os.path.isdir(p)}
    _allowed_prefixes = tuple(os.path.join(os.path.realpath(d), "") for d in dirs)
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """While inside, the audit hook (if installed) refuses network, processes and stray files."""
    _guard.active = True
    try:
        yield
    finally:
        _guard.active = False


def check_protocol_dataset(default_graphs: Iterable[str], named_graphs: Iterable[str],
                           graphs: Collection[str]) -> None:
    """Refuse a protocol dataset (default-graph-uri, named-graph-uri) naming a graph not in the store."""
    for parameter, names in (("default-graph-uri", default_graphs), ("named-graph-uri", named_graphs)):
        for graph in names:
            if graph not in graphs:
                raise QueryRefused(
                    f"{parameter}={graph} names a graph this store does not hold; nothing is fetched "
                    f"from elsewhere. Graphs here: {', '.join(sorted(graphs)) or 'none'}."
                )
