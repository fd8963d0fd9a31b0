"""``kg publish OUT --base-url URL``: a complete static site of a build, for any static host.

The pages are the web app's own: each is rendered by the app (through Flask's test client,
no server) and written as a file, with every internal link rewritten to a relative link to
the file that holds its target, so that the site works under any base URL and from any host.
What a static host cannot do is left out visibly: the filter forms (they need the live
service) become a note, and links to the live-only views (/sparql, /health, /openapi.json and
pivots other than those published) lose their ``href``. Nothing on the site links to a file
that is not there; the tests walk every link.

What is written (``kg.publish`` writes the parts that are not HTML):

- ``index.html``, ``queries.html``, ``jurisdictions.html``, ``compare.html`` (with every cell
  of that pivot opened on a page of its own), ``compare/side-by-side.html``, ``evidence.html``,
  ``dataset.html``, ``def.html`` and the downloads of those views (CSV, JSON, xlsx);
- each canned query run with its example values: ``queries/NAME.html`` and its results as
  ``queries/NAME.{json,csv,tsv,xml}`` (or the graph formats for a CONSTRUCT);
- every resource as ``doc/{kind}/{id}.html`` and as Turtle, JSON-LD, RDF/XML and N-Triples, a
  study's resources under ``study/{id}/…`` (up to ``--max-resources``; beyond it only the
  jurisdictions and forms: see docs/publishing.md);
- ``def.{ttl,jsonld,rdf,nt}``, ``dataset.{ttl,jsonld,rdf,nt}`` (with the distributions below)
  and ``dataset/`` with the dumps, gzip-compressed, each with its size and SHA-256;
- ``.htaccess``, ``w3id/.htaccess`` and ``nginx.conf``: the redirect and negotiation rules;
- ``changelog.html`` when a previous build is given (``--previous``).

The site is written into a temporary folder beside ``OUT`` and swapped in when complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import posixpath
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import click

from kg.errors import KGError, UsageError
from kg.formats import RDF_FORMATS, by_extension

STATIC_DIR = Path(__file__).parent / "static"
_LINK = re.compile(r'(?P<attr>\b(?:href|src))="(?P<url>/[^"]*)"')
_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
OFFLINE_NOTE = ('<p class="offline note">This is a static copy: choosing other values here needs the live service '
                '(<code>kg serve</code>), or its SPARQL endpoint.</p>')
RESULT_EXTENSIONS = {"select": ("json", "csv", "tsv", "xml"), "ask": ("json", "xml"),
                     "graph": tuple(f.extension for f in RDF_FORMATS)}
PIVOT_PAGES_MAX = 400


@dataclasses.dataclass
class Plan:
    """Every file of the site that a link may point to: url key -> file (relative to the site)."""

    files: dict[tuple, str] = dataclasses.field(default_factory=dict)
    resources: dict[str, str] = dataclasses.field(default_factory=dict)  # page path ("doc/x/y") -> itself, published
    dumps: dict[str, str] = dataclasses.field(default_factory=dict)  # build file name -> published name
    base_url: str = ""

    def add(self, url: str, file: str) -> None:
        self.files[key(url)] = file

    def target(self, url: str) -> str | None:
        """The file a link to ``url`` should point to (with its #fragment), or None."""
        parts = urlsplit(html.unescape(url))
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        path = unquote(parts.path)
        found = self.files.get(key(parts._replace(fragment="").geturl()))
        if found:
            return found + fragment
        if path.startswith("/static/"):
            return path[1:]
        if parts.query:
            return None
        for prefix, page_prefix in (("/id/", "doc/"), ("/doc/", "doc/")):
            if path.startswith(prefix):
                return self._resource(page_prefix + path[len(prefix):], fragment)
        if path.startswith("/study/"):
            return self._resource(path[1:], fragment)
        if path.startswith("/dataset/"):
            name = self.dumps.get(path[len("/dataset/"):])
            return f"dataset/{name}" if name else None
        return None

    def _resource(self, page: str, fragment: str) -> str | None:
        stem, dot, ext = page.rpartition(".")
        if dot and "/" not in ext and (ext == "html" or by_extension(ext) is not None):
            return f"{stem}.{ext}" if stem in self.resources else None
        return f"{page}.html{fragment}" if page in self.resources else None


def key(url: str) -> tuple:
    parts = urlsplit(url)
    return (unquote(parts.path), tuple(sorted(parse_qsl(parts.query, keep_blank_values=False))))


def rewrite(page_file: str, text: str, plan: Plan) -> str:
    """The page with its forms turned into a note and each internal link made relative (or dropped);
    absolute URLs of the dumps (the schema.org markup's) name the compressed files published."""
    text = _FORM.sub(OFFLINE_NOTE, text)
    for source, name in plan.dumps.items():
        if source != name:
            text = text.replace(f'{plan.base_url}dataset/{source}"', f'{plan.base_url}dataset/{name}"')
    here = posixpath.dirname(page_file)

    def link(match: re.Match) -> str:
        target = plan.target(match["url"])
        if target is None:
            return 'data-offline="true"' if match["attr"] == "href" else match.group(0)
        file, hash_, fragment = target.partition("#")
        relative = posixpath.relpath(file, here or ".")
        return f'{match["attr"]}="{html.escape(quote(relative, safe="/-._~%"), quote=True)}{hash_}{html.escape(fragment)}"'

    return _LINK.sub(link, text)


# --- the worker processes that render pages ------------------------------------------------------

_APP = None
_PLAN: Plan | None = None
_OUT: Path | None = None


def _init(settings, plan: Plan, out: Path) -> None:
    global _APP, _PLAN, _OUT
    from kg.store import open_store

    from . import create_app

    store = open_store(settings.replace(workers=1, spare_workers=0))
    _APP = create_app(settings, store)
    _APP.config["TESTING"] = True
    _PLAN, _OUT = plan, out


def _render(tasks: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """Render each (url, file); write it; return (url, status, error) of the failures."""
    client = _APP.test_client()
    failed = []
    for url, file in tasks:
        response = client.get(url)
        if response.status_code != 200:
            failed.append((url, response.status_code, response.get_data(as_text=True)[:300]))
            continue
        target = _OUT / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.endswith(".html"):
            target.write_text(rewrite(file, response.get_data(as_text=True), _PLAN), encoding="utf-8")
        else:
            target.write_bytes(response.get_data())
    return failed


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# --- the site ------------------------------------------------------------------------------------


def publish(settings, out: Path, base_url: str, *, max_resources: int | None = None, previous: Path | None = None,
            processes: int = 2, echo=lambda message: None) -> dict:
    """Write the static site of ``settings.build_dir`` into ``out``; return a summary."""
    from kg import publish as kp
    from kg.build import remove_stale_staging, staging_folder, swap_in
    from kg.store import DUMP_NAME

    base_url = kp.check_base_url(base_url)
    max_resources = kp.MAX_RESOURCES if max_resources is None else max_resources
    build_dir = Path(settings.build_dir)
    if not (build_dir / DUMP_NAME).is_file():
        raise UsageError(f"no build in {build_dir}: run kg build first (or give --build)")
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder: kg publish writes a new site; choose another path")
    started = time.perf_counter()
    settings = settings.replace(public_url=base_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)  # what a killed publish left behind
    staging = staging_folder(out)
    try:
        summary = _publish(settings, staging, base_url, max_resources, previous, processes, echo)
        if out.exists():
            out.rmdir()
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    summary["files"] = sum(1 for p in out.rglob("*") if p.is_file())
    return summary


def _publish(settings, out: Path, base_url: str, max_resources: int, previous, processes: int, echo) -> dict:
    import pyoxigraph as ox
    from rdflib import Graph

    from kg import publish as kp
    from kg.namespaces import PREFIXES
    from kg.store import open_store

    from . import create_app
    from .gallery import _is_graph as gallery_is_graph

    build_dir = Path(settings.build_dir)
    summary: dict = {"base_url": base_url}
    plan = Plan(base_url=base_url)

    # dumps, and the dataset description with their distributions
    echo("dumps (gzip, SHA-256)")
    dumps = kp.write_dumps(build_dir, out / "dataset")
    plan.dumps = {d.source: d.name for d in dumps}
    summary["dumps"] = {d.name: {"bytes": d.size, "sha256": d.sha256} for d in dumps}

    store = open_store(settings.replace(workers=1, spare_workers=0))
    try:
        app = create_app(settings, store)
        app.config["TESTING"] = True
        state = app.extensions["kg"]
        description = Graph().parse(build_dir / "void.ttl", format="turtle")
        kp.distributions(description, str(state.mint.dataset), dumps, base_url)
        for rdf in RDF_FORMATS:
            description.serialize(out / f"dataset.{rdf.extension}", encoding="utf-8", format=rdf.rdflib)
            plan.add(f"/dataset.{rdf.extension}", f"dataset.{rdf.extension}")

        # resources
        raw = ox.Store()
        raw.bulk_load(path=str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
        namespaces = {settings.base_iri: "doc/"}
        for study in state.datasets.studies:
            namespaces[study.namespace] = f"study/{study.id}/"
        pages = kp.resources(raw, namespaces)
        pages.pop(str(state.mint.dataset), None)  # the dataset has its own page
        summary["resources"] = len(pages)
        if len(pages) > max_resources:
            kept = {iri: page for iri, page in pages.items()
                    if page.startswith(("doc/jurisdiction/", "doc/partnership-form/"))}
            echo(f"{len(pages)} resources > --max-resources {max_resources}: pages for the {len(kept)} jurisdictions "
                 "and forms only; the rest are in the dumps")
            pages = kept
        summary["resource_pages"] = len(pages)
        plan.resources = {page: page for page in pages.values()}
        echo(f"resource files ({len(pages)} resources × {len(RDF_FORMATS)} RDF formats)")
        prefixes = {p: str(ns) for p, ns in PREFIXES.items() if p not in ("sh", "sd")}
        kp.write_resource_files(raw, pages, out, prefixes)
        del raw

        # the pages and downloads the app renders
        tasks: list[tuple[str, str]] = []

        def page(url: str, file: str) -> None:
            plan.add(url, file)
            tasks.append((url, file))

        for url, file in (("/", "index.html"), ("/queries", "queries.html"), ("/jurisdictions", "jurisdictions.html"),
                          ("/jurisdictions.json", "jurisdictions.json"), ("/compare", "compare.html"),
                          ("/compare/side-by-side", "compare/side-by-side.html"), ("/evidence", "evidence.html"),
                          ("/dataset", "dataset.html"), ("/def", "def.html")):
            page(url, file)
        for ext in ("csv", "json", "xlsx"):
            page(f"/compare.{ext}", f"compare.{ext}")
            page(f"/evidence.{ext}", f"evidence.{ext}")
        for rdf in RDF_FORMATS:
            page(f"/def.{rdf.extension}", f"def.{rdf.extension}")
        for jurisdiction in state.comparison.jurisdictions():
            slug = jurisdiction.rpartition("/")[2]
            for ext in ("json", "csv", "xlsx"):
                page(f"/jurisdictions/{slug}.{ext}", f"jurisdictions/{slug}.{ext}")
        for query in state.catalogue:
            example = query.example_params()
            try:  # an example that this build does not hold (another dataset): the page without results
                store.run(query, example, limit=1)
            except KGError:
                example = None
                page(f"/queries/{query.name}", f"queries/{query.name}.html")
                continue
            suffix = ("?" + urlencode(example)) if example else ""
            page(f"/queries/{query.name}{suffix}", f"queries/{query.name}.html")
            if example:
                plan.add(f"/queries/{query.name}", f"queries/{query.name}.html")
            kind = "graph" if gallery_is_graph(query) else "select"
            for ext in RESULT_EXTENSIONS[kind]:
                page(f"/queries/{query.name}.{ext}{suffix}", f"queries/{query.name}.{ext}")
        for iri, path in sorted(pages.items()):
            page("/" + path, path + ".html")
        # the pivot's cells, each opened on a page of its own
        client = app.test_client()
        pivot = client.get("/compare").get_data(as_text=True)
        cells = sorted({html.unescape(m["url"]) for m in _LINK.finditer(pivot) if m["url"].startswith("/compare?")})
        for url in cells[:PIVOT_PAGES_MAX]:
            page(url, f"compare/cell-{hashlib.sha1(url.encode()).hexdigest()[:12]}.html")
        summary["pages"] = sum(1 for _, f in tasks if f.endswith(".html"))

        if previous is not None:
            _changelog(app, Path(previous), build_dir, out, plan)
    finally:
        store.close()

    echo(f"pages and downloads ({len(tasks)}) in {processes} processes")
    failed = []
    chunk = max(20, len(tasks) // (processes * 8) or 1)
    with ProcessPoolExecutor(max_workers=processes, initializer=_init, initargs=(settings, plan, out)) as pool:
        for result in pool.map(_render, _chunks(tasks, chunk)):
            failed.extend(result)
    if failed:
        raise UsageError(f"{len(failed)} pages could not be rendered, e.g. {failed[0][0]} ({failed[0][1]}: {failed[0][2]})")
    _rewrite_changelog(out, plan)

    shutil.copytree(STATIC_DIR, out / "static", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("node_modules", ".installed"))
    for name, text in kp.redirect_rules(settings.base_iri, base_url).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve the files as they are
    return summary


def _changelog(app, previous: Path, build_dir: Path, out: Path, plan: Plan) -> None:
    """changelog.html: what changed since the previous build (kg.diff), in the site's own layout."""
    from flask import render_template

    from kg.diff import diff

    changes = diff(previous, build_dir)
    with app.test_request_context("/changelog"):
        page = render_template("changelog.html", diff=changes.to_json(), previous=str(previous.name),
                               href=app.extensions["kg"].local_href)
    (out / "changelog.html").write_text(page, encoding="utf-8")
    plan.add("/changelog", "changelog.html")


def _rewrite_changelog(out: Path, plan: Plan) -> None:
    path = out / "changelog.html"
    if path.is_file():
        path.write_text(rewrite("changelog.html", path.read_text(encoding="utf-8"), plan), encoding="utf-8")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--base-url", required=True, help="Where the site will be served from, e.g. https://example.org/hscp/.")
@click.option("--build", "build_dir", type=click.Path(path_type=Path), default=None, help="Build to publish (default: KG_BUILD or build/).")
@click.option("--previous", type=click.Path(path_type=Path), default=None,
              help="The previous release's build: its differences become changelog.html.")
@click.option("--max-resources", type=int, default=None,
              help="Most resources given pages and RDF files of their own (default 20000); beyond, only jurisdictions and forms.")
@click.option("--processes", type=int, default=2, show_default=True, help="Processes rendering the pages.")
@click.option("--query-timeout", type=float, default=120.0, show_default=True,
              help="Seconds each query may run while publishing (an offline batch: longer than the live service's limit).")
@click.pass_context
def publish_command(ctx, out, base_url, build_dir, previous, max_resources, processes, query_timeout):
    """Write a static site of the build: pages, RDF files, compressed dumps and the redirect rules."""
    from kg.settings import Settings

    base = ctx.obj if isinstance(ctx.obj, Settings) else Settings.from_env()
    settings = base.replace(build_dir=build_dir, query_timeout=query_timeout)
    summary = publish(settings, out, base_url, max_resources=max_resources, previous=previous, processes=processes,
                      echo=lambda message: click.echo(f"  {message}", err=True))
    click.echo(f"published {summary['files']} files ({summary['bytes'] / 1e6:.1f} MB) to {out}/ in {summary['seconds']} s: "
               f"{summary['pages']} pages, {summary['resource_pages']} of {summary['resources']} resources with pages; "
               f"serve it at {summary['base_url']} (rules: .htaccess, w3id/.htaccess, nginx.conf)")
