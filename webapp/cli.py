"""``kg serve``: build when there is no build, then serve the web app (granian or waitress, ``KG_SERVER``).

Registered as the ``serve`` command of ``kg`` through the ``kg.commands`` entry point, so
the kg package never imports the web layer. Exit codes are kg's: 0 stopped cleanly, 1 the
data is wrong (the build failed), 2 usage or environment error.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=None, help="Address to listen on (default: KG_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: KG_PORT or 5000).")
@click.option("--build", "build_dir", type=click.Path(path_type=Path), default=None,
              help="Build folder to serve (default: KG_BUILD or build/); built first when missing.")
@click.option("--threads", type=int, default=None, help="Request threads (default: KG_THREADS or 24).")
@click.pass_context
def serve(ctx: click.Context, host, port, build_dir, threads):
    """Serve the linked-data site, /sparql and the query gallery (production WSGI server)."""
    from kg.settings import Settings

    base = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    settings = base.replace(host=host, port=port, build_dir=build_dir, threads=threads)
    run_serve(settings)


def run_serve(settings) -> None:
    from kg.store import DUMP_NAME

    from .serving import serve as serve_with

    embedded = not settings.store.startswith(("sparql+", "oxigraph:"))
    if embedded and not (Path(settings.build_dir) / DUMP_NAME).is_file():
        from kg.build import build

        click.echo(f"no build in {settings.build_dir}: building it first", err=True)
        build(settings)

    def banner(backend: str) -> None:
        processes = f"{settings.processes} processes × " if settings.server == "granian" else ""
        click.echo(f"serving {settings.base_iri} at http://{settings.host}:{settings.port}/ "
                   f"({backend} store, {settings.server}, {processes}{settings.threads} threads); Ctrl-C stops",
                   err=True)

    serve_with(settings, banner)
