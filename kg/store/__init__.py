"""One store interface, three backends: pyoxigraph (default), rdflib, a remote SPARQL endpoint.

Every query goes through ``kg.sparql`` first (parse, refuse, check FROM graphs, check
bindings). The embedded backends run queries in warm worker processes that are killed and
replaced at the deadline, because neither engine can be interrupted from Python; the remote
backend relies on the HTTP timeout.

>>> store = open_store(settings, build_dir)            # doctest: +SKIP
>>> store.query("SELECT ?s WHERE { ?s a ?c } LIMIT 3").rows   # doctest: +SKIP

The package, from the bottom up (each module imports only those above it):

- ``terms``: terms on the wire. A *cell* is a plain tuple standing for an RDF term; cells cross
  the pipe to and from the workers (they pickle fast and compare by value, and both engines
  give the same cell for a term) and a result keeps its rows as cells until they are read.
  Also the direct rdflib ↔ pyoxigraph converters (``to_ox``, ``from_ox``).
- ``results``: :class:`QueryResult` and the SPARQL result formats (JSON, XML, CSV, TSV),
  written from cells.
- ``base``: the :class:`Store` interface: ``query`` (the safety checks every backend shares)
  and the lookups pages make (description, labels, backlinks, counts), written once in SPARQL.
- ``dump``: a build's graph.nq opened once, checked against its build's record and held open
  (``_PinnedDump``), so a store keeps serving the build it opened while a rebuild swaps in the
  next one; and ``load_build_into`` for the on-disk oxigraph store.
- ``workers``: the worker processes and their :class:`WorkerPool`. Workers are fresh
  interpreters, not forks (the parent may be a multi-threaded web server, and multiprocessing's
  spawn would re-run the caller's ``__main__``), each holding the whole store; the pool kills a
  worker at the query's deadline or memory limit and starts another, and keeps one worker free
  for quick queries. Requests and replies are typed messages; an engine's failure is
  classified into a kind in the worker, once.
- ``embedded``: :class:`EmbeddedStore`, pyoxigraph or rdflib through a worker pool; it turns
  failure kinds into the project's errors.
- ``inline`` and ``remote``: :class:`RemoteStore`, a SPARQL 1.1 endpoint over HTTP(S), whose
  bindings are written into the query text (``bind_inline``); and pushing a build to it.

:func:`open_store` picks the backend KG_STORE names.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BuildNotFound, ConfigurationError
from .base import DESCRIBE, ProtocolDataset, Store
from .dump import DUMP_NAME, _PinnedDump, load_build_into
from .embedded import EmbeddedStore
from .inline import bind_inline
from .remote import RemoteStore
from .results import QueryResult
from .terms import cell_from_term, term_from_cell
from .workers import WorkerPool, _WorkerSpec

__all__ = [
    "DESCRIBE",
    "DUMP_NAME",
    "EmbeddedStore",
    "ProtocolDataset",
    "QueryResult",
    "RemoteStore",
    "Store",
    "WorkerPool",
    "bind_inline",
    "cell_from_term",
    "load_build_into",
    "open_store",
    "term_from_cell",
]


def open_store(settings, build_dir: str | os.PathLike | None = None, *, local: bool = False) -> Store:
    """The store ``settings.store`` names (KG_STORE), loaded from ``build_dir`` when embedded.

    ``local``: a server's store also keeps a copy of the build in this process for queries
    proven cheap (KG_IN_PROCESS_BOUND, :mod:`kg.store.local`); a one-off command does without.
    """
    choice = settings.store or "oxigraph"
    if choice.startswith(("sparql+http://", "sparql+https://")):
        return RemoteStore(settings, choice[len("sparql+"):])
    build_dir = Path(build_dir if build_dir is not None else settings.build_dir)
    if choice in ("oxigraph", "rdflib"):
        pinned = _PinnedDump.open(build_dir)  # every worker loads this build, checked (see _PinnedDump)
        spec = _WorkerSpec(choice, str(pinned.path.resolve()), None, pinned.fd, pinned.size)
        try:
            return EmbeddedStore(settings, spec, choice, pinned, local=local)
        except BaseException:
            pinned.close()
            raise
    if choice.startswith("oxigraph:"):
        disk = Path(choice[len("oxigraph:"):]).resolve()
        if not disk.is_dir():
            raise BuildNotFound(f"There is no oxigraph store at {disk}: run 'kg build --store oxigraph:{disk}'.")
        return EmbeddedStore(settings, _WorkerSpec("oxigraph", None, str(disk)), "oxigraph", local=local)
    raise ConfigurationError(
        f"KG_STORE={choice!r} is not a store: use 'oxigraph', 'oxigraph:PATH', 'rdflib' or "
        "'sparql+http(s)://HOST/PATH'."
    )
