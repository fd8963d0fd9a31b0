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
import re
import sys
import threading
from collections.abc import Collection, Iterable, Iterator
from urllib.parse import urljoin

import rdflib.plugins.sparql as _rdflib_sparql
from pyparsing import ParseBaseException
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Variable

from .errors import KGError, QueryParameterError, QueryRefused, QuerySyntaxError
from .bound import shape
from .tokens import count_terms, iri_template, normalised

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
    key: str = dataclasses.field(default="", compare=False)
    """The query's terms, its own IRIs replaced by placeholders (kg.tokens.iri_template): what
    the store remembers a query's cost by, whatever its layout, comments or looked-up IRIs."""
    shape: object = dataclasses.field(default=None, compare=False)
    """Its :class:`kg.bound.Shape` (None when the algebra was not computed)."""
    constants: tuple[str, ...] = ()
    """The IRIs the shape's placeholders stand for, in order."""

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


class TooDeep(QueryRefused):
    """rdflib's parser ran out of Python's recursion limit (already with about 60 triple patterns
    and a GROUP BY): :func:`parse_bounded` then parses in the parser process, which has room."""

    def __init__(self):
        super().__init__("The query is nested too deeply for this service's parser: simplify it, or split it.")


@functools.lru_cache(maxsize=1024)
def parse(text: str, algebra: bool = True) -> ParsedQuery:
    """Parse and inspect one query; raise ``QuerySyntaxError`` or ``QueryRefused``.

    Cached by query text: a canned query or a repeated request is parsed once. ``algebra=False``
    skips rdflib's translation to the algebra, which is quadratic in the size of a group (50 s
    for 2,000 triple patterns): the projected variables are then read from the SELECT clause
    (for ``SELECT *``, every variable the query mentions), and what only the translation finds
    (a variable projected outside GROUP BY) is left to the engine, which reports it as a syntax
    error.
    """
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntaxError("The query is empty: send a SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE query.")
    with PARSER_LOCK:  # see PARSER_LOCK
        try:
            tree = parseQuery(text)
        except RecursionError:
            raise TooDeep() from None
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

        _check_operands(tree)
        body = tree[1]
        form = FORMS.get(body.name)
        if form is None:  # pragma: no cover - parseQuery knows only the four forms
            raise QuerySyntaxError(f"Unsupported query form {body.name}.")
        default_graphs, named_graphs = _dataset_clause(tree)
        # before translateQuery, which rewrites some expressions in place (a variable that only
        # occurs under !BOUND() is gone from the tree after it)
        mentioned = frozenset(str(n) for n in _walk(tree) if isinstance(n, Variable))
        if algebra:
            try:
                translated = translateQuery(tree).algebra
            except RecursionError:
                raise TooDeep() from None
            except Exception as error:  # noqa: BLE001 - e.g. a variable projected outside GROUP BY
                raise _syntax_error(text, error) from None
            variables = tuple(str(v) for v in (translated.get("PV") or [])) if form == "select" else ()
            query_shape = shape(translated)
        elif form == "select":
            query_shape = None
            projection = body.get("projection")
            if isinstance(projection, str) or not projection:  # SELECT *
                seen = dict.fromkeys(str(n) for n in _walk(body.get("where")) if isinstance(n, Variable))
                variables = tuple(sorted(seen))
            else:
                variables = tuple(str(v["var"] if "var" in v else v["evar"]) for v in projection)
        else:
            variables = ()
        if not algebra:
            query_shape = None
    return ParsedQuery(
        text=text,
        form=form,
        variables=variables,
        default_graphs=tuple(default_graphs),
        named_graphs=tuple(named_graphs),
        mentioned=mentioned,
        key=normalised(text),
        shape=query_shape,
    )


# --- parsing bounded in size and time ------------------------------------------------------------
#
# rdflib's parser costs about a millisecond per expression term and holds PARSER_LOCK meanwhile,
# so one large query would stall every other query's parse in the web process. A query is first
# counted in terms (kg.tokens' linear scan); a query over the limit is refused at once; a small one
# is parsed here, under the lock, in at most a few tenths of a second; any other is parsed by a
# separate parser process, under a time limit, with a deep stack (a legitimate query with
# thousands of triple patterns exceeds the default recursion limit). That process is killed and
# replaced when the time is up or when it crashes, and the request gets a clean error.

SMALL_QUERY_TERMS = 200
"""Up to this many terms a query is parsed in the calling process (about 0.2 s at the worst)."""
MAX_OPERANDS = 4000
"""The most operands of one operator chain or function call: pyoxigraph evaluates ``1+1+…+1``
recursively and overflows a worker's stack between 10,000 and 15,000 of them."""


def _check_operands(tree) -> None:
    for node in _walk(tree):
        if isinstance(node, CompValue):
            for key in ("other", "arg"):
                value = node.get(key)
                if isinstance(value, (list, tuple)) or type(value).__name__ == "ParseResults":
                    if len(value) > MAX_OPERANDS:
                        raise QueryRefused(
                            f"One expression of the query has {len(value)} operands; the engines take at most "
                            f"{MAX_OPERANDS}. Split it, or use VALUES for long lists.")


class ParserProcess:
    """A separate interpreter that parses queries too large to parse in the web process.

    One request at a time; a parse that outlives its time limit, or that crashes the process,
    ends with the process killed (and started again on the next request) and a clean error.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._process = None

    def _start(self):
        import subprocess

        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        from .processes import spawn  # from the long-lived spawner thread: see kg.processes

        return spawn([sys.executable, "-c", "from kg.sparql import _parser_main; _parser_main()"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def parse(self, text: str, timeout: float) -> ParsedQuery:
        import pickle
        import select
        import struct
        import time

        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=max(timeout, 0)):
            raise QueryRefused(f"The query is too large to check within {timeout:g} s (other large queries were "
                               "being checked): try again, or send a smaller query.")
        try:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
            payload = text.encode("utf-8")
            try:
                process.stdin.write(struct.pack(">I", len(payload)) + payload)
                process.stdin.flush()
                data = b""
                while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
                    remaining = deadline - time.monotonic()
                    ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
                    if not ready:
                        self._kill()
                        raise QueryRefused(
                            f"The query took longer than {timeout:g} s to parse and check, and was refused before "
                            "running: simplify it (fewer terms, shorter expressions), or split it.")
                    chunk = os.read(process.stdout.fileno(), 1 << 20)
                    if not chunk:
                        code = process.wait()
                        self._process = None
                        raise QueryRefused(
                            f"The query could not be parsed: the parser stopped ({_ended(code)}), which happens with "
                            "extremely deep nesting. Simplify the query.")
                    data += chunk
            except (BrokenPipeError, OSError):
                self._kill()
                raise QueryRefused("The query could not be parsed: the parser process stopped. Try again.") from None
            kind, value = pickle.loads(data[4:])
            if kind == "error":
                raise value
            return value
        finally:
            self._lock.release()

    def _kill(self) -> None:
        if self._process is not None:
            try:
                self._process.kill()
                self._process.wait(5)
            except Exception:  # noqa: BLE001 - best effort
                pass
            self._process = None

    def close(self) -> None:
        with self._lock:
            self._kill()


def _ended(code: int) -> str:
    import signal

    if code < 0:
        try:
            return f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _parser_main() -> None:
    """The parser process: read length-prefixed queries on stdin, answer pickled results on stdout."""
    import pickle
    import struct

    from .processes import die_with_parent

    die_with_parent()  # a parse may run for its whole time limit: not for longer than its owner

    sys.setrecursionlimit(200_000)
    threading.stack_size(512 * 1024 * 1024)  # the recursion above needs a deep C stack too
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

    def answer(text: str, box: list) -> None:
        try:
            box.append(("ok", parse(text, algebra=False)))
        except KGError as error:
            box.append(("error", error))
        except RecursionError:
            box.append(("error", TooDeep()))

    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        text = stdin.read(struct.unpack(">I", head)[0]).decode("utf-8")
        box: list = []
        worker = threading.Thread(target=answer, args=(text, box))
        worker.start()
        worker.join()
        parse.cache_clear()  # this process sees each large query once: keep no memory of them
        body = pickle.dumps(box[0])
        stdout.write(struct.pack(">I", len(body)) + body)
        stdout.flush()


_PARSER = ParserProcess()
_BOUNDED: dict[str, ParsedQuery] = {}
_BOUNDED_LOCK = threading.Lock()


def parse_bounded(text: str, *, max_terms: int, timeout: float) -> ParsedQuery:
    """``parse`` within bounds: at most ``max_terms`` terms, and a large query parsed by the
    parser process within ``timeout`` seconds. Raise QuerySyntaxError or QueryRefused."""
    if not isinstance(text, str) or not text.strip():
        return parse(text)
    found = _BOUNDED.get(text)
    if found is not None:
        return found
    terms = count_terms(text)
    if terms > max_terms:
        raise QueryRefused(f"The query has {terms} terms; this service takes at most {max_terms} "
                           "(KG_MAX_QUERY_TERMS). Shorten it: VALUES blocks or several smaller queries help.")
    parsed = None
    if terms <= SMALL_QUERY_TERMS:
        try:
            parsed = _parse_small(text)
        except TooDeep:
            pass  # deep for this process's stack: the parser process has room
    if parsed is None:
        parsed = _PARSER.parse(text, timeout)
    with _BOUNDED_LOCK:
        if len(_BOUNDED) >= 4096:
            _BOUNDED.pop(next(iter(_BOUNDED)))
        _BOUNDED[text] = parsed
    return parsed


def _parse_small(text: str) -> ParsedQuery:
    """Parse a small query here, by its IRI template: lookups of other resources reuse the parse.

    rdflib takes about 10 ms to parse and translate a 30-term lookup, under the parser lock;
    which IRIs the query names changes nothing that the safety checks or the shape look at
    (the IRIs that do, of PREFIX, BASE, FROM and SERVICE, stay in the template).
    """
    template, constants = iri_template(text)
    if not constants:
        return parse(text)
    try:
        parsed = parse(template)
    except QuerySyntaxError:
        return parse(text)  # the error with the query's own lines and columns (or, oddly, a parse)
    return dataclasses.replace(parsed, text=text, constants=constants)


_PN_LOCAL_ESCAPE = re.compile(r"\\([_~.\-!$&'()*+,;=/?#@%])")


def _dataset_clause(tree) -> tuple[list[str], list[str]]:
    """The FROM and FROM NAMED graphs of a parsed query, as the full IRIs the engines query.

    rdflib's parse tree holds them as written: a prefixed name (``FROM g:data``) or a relative
    IRI (``FROM <data>`` under a ``BASE``). They are resolved here, by the prologue, so that
    ``check_dataset`` sees what the engines see; translateQuery would resolve them too, but it
    does not always run (``algebra=False``), and it resolves a relative ``BASE`` as written
    rather than against the ``BASE`` before it. A name that stays relative (no ``BASE``) is
    left as written, and ``check_dataset`` refuses it: the store's graphs are full IRIs.
    """
    base, prefixes = "", {}
    for declaration in tree[0]:
        if declaration.name == "Base":
            base = urljoin(base, str(declaration["iri"])) if base else str(declaration["iri"])
        elif declaration.name == "PrefixDecl":
            iri = str(declaration["iri"])
            prefixes[declaration.get("prefix") or ""] = urljoin(base, iri) if base else iri

    def resolve(name) -> str:
        if isinstance(name, CompValue) and name.name == "pname":
            prefix = name.get("prefix") or ""
            if prefix not in prefixes:
                raise QuerySyntaxError(f"The prefix '{prefix}:' of a FROM graph is not declared: add "
                                       f"PREFIX {prefix}: <…> to the query.")
            return prefixes[prefix] + _PN_LOCAL_ESCAPE.sub(r"\1", name.get("localname") or "")
        return urljoin(base, str(name)) if base else str(name)

    default_graphs, named_graphs = [], []
    body = tree[1]
    for clause in body["datasetClause"] if "datasetClause" in body else []:
        if "default" in clause:
            default_graphs.append(resolve(clause["default"]))
        elif "named" in clause:
            named_graphs.append(resolve(clause["named"]))
    return default_graphs, named_graphs


def check_dataset(parsed: ParsedQuery, graphs: Collection[str]) -> None:
    """Refuse ``FROM`` / ``FROM NAMED`` naming a graph that is not in the store.

    The graphs are full IRIs: prefixed names and relative IRIs were resolved by ``parse``.
    """
    for keyword, names in (("FROM", parsed.default_graphs), ("FROM NAMED", parsed.named_graphs)):
        for graph in names:
            if graph not in graphs:
                raise QueryRefused(
                    f"{keyword} <{graph}> names a graph this store does not hold; nothing is fetched "
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
