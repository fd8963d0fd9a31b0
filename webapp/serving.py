"""The production HTTP servers behind ``kg serve``: granian (default) or waitress (``KG_SERVER``).

granian is a Rust HTTP server: its event loop parses requests and writes responses outside
Python, and only the WSGI call itself takes the GIL. It runs the app in ``KG_PROCESSES``
worker processes (two by default), each of which calls :func:`app` to build it: the settings
reach them as ``KG_*`` variables (:meth:`kg.settings.Settings.environ`), and each opens its own
store (query workers and in-process copy). waitress serves from this process, with threads
only. ``benchmarks/lookup_bench.py`` measures both against Oxigraph's own server.
"""

from __future__ import annotations

import os
import sys

__all__ = ["app", "serve"]


def app():
    """The WSGI app for a granian worker: settings from the environment, a store of its own."""
    from kg.errors import KGError
    from kg.processes import die_with_parent
    from kg.settings import Settings

    die_with_parent()  # granian's main process gone (even killed): this process and its workers go too
    try:
        return _application(Settings.from_env())
    except KGError as error:
        # granian then stops, and says the worker exited; the message says why
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _application(settings):
    """The app over a store of its own (with its in-process copy), warmed before its first request."""
    from kg.store import open_store

    from . import create_app

    application = create_app(settings, open_store(settings, local=True))
    application.extensions["kg"].warm()
    return application


def serve(settings, banner) -> None:
    """Serve until interrupted. ``banner(backend)`` is called once the server is about to listen."""
    if settings.server == "waitress":
        _waitress(settings, banner)
    else:
        _granian(settings, banner)


def _waitress(settings, banner) -> None:
    import waitress

    application = _application(settings)
    store = application.extensions["kg"].store
    banner(store.backend)
    try:
        waitress.serve(application, host=settings.host, port=settings.port, threads=settings.threads,
                       ident="partnership-kg", max_request_body_size=max(settings.max_query_bytes * 4, 1 << 22),
                       channel_timeout=max(30, int(settings.query_timeout) + 10), _quiet=True)
    finally:
        store.close()


def _granian(settings, banner) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ.update(settings.environ())  # the worker process reads its settings back from these
    server = Granian(
        "webapp.serving:app",
        factory=True,
        interface=Interfaces.WSGI,
        address=settings.host,
        port=settings.port,
        # Each process has its own GIL, query workers and in-process copy: with two, Python runs
        # on both cores (one answers a cheap lookup in about 0.6 ms of Python, which caps a single
        # process near 1,300 lookups a second).
        workers=settings.processes,
        blocking_threads=settings.threads,
        # requests beyond the request threads wait in granian's queue, not in Python
        backpressure=settings.threads,
        log_level=LogLevels.error,  # its warnings are about thread counts, which KG_THREADS sets
        workers_kill_timeout=max(30, int(settings.query_timeout) + 10),
    )
    banner(settings.store.split(":", 1)[0] if settings.store.startswith("oxigraph:") else
           "remote" if settings.store.startswith("sparql+") else settings.store)
    server.serve()
