"""The ``kg`` command: build, validate, reason, query, queries, serve, push, init, export, diff.

Exit codes: 0 success; 1 the data is wrong (case-data error, SHACL violation,
inconsistency); 2 usage or environment error (bad option, missing build, no store,
bad query or parameter). Commands stay thin: each maps its flags to Settings and calls
one function of the ``kg`` package. ``kg serve`` comes from the web layer through the
``kg.commands`` entry point, so this package never imports it.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from .errors import CaseDataError, KGError, UsageError
from .settings import Settings

EXIT_CODES = """\b
Exit codes:
  0  success
  1  the data is wrong: a case-data error, a SHACL violation or an inconsistency
  2  usage or environment error: a bad option, no build or a damaged one, an
     unreachable store, a build that cannot be written (full disk, read-only),
     a query that does not parse or is refused, a bad parameter value
"""


def _settings(ctx: click.Context, **overrides) -> Settings:
    base: Settings = ctx.obj
    return base.replace(**overrides)


def _progress(enabled: bool):
    if not enabled:
        return None

    def report(step: str, elapsed: float | None) -> None:
        if elapsed is None:
            click.echo(f"  {step} …", err=True, nl=False)
        else:
            click.echo(f" {elapsed:.2f} s", err=True)

    return report


class _Group(click.Group):
    """Runs commands so that every KGError becomes its message and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KGError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *(ep.name for ep in entry_points(group="kg.commands"))})

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            for ep in entry_points(group="kg.commands"):
                if ep.name == name:
                    return ep.load()
        return command


@click.group(cls=_Group, epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="partnership-kg")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """partnership-kg: build, check, query and serve the partnership knowledge graph.

    Settings come from KG_* environment variables (see the README); options override them.
    """
    try:
        ctx.obj = Settings.from_env()
    except KGError as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(error.exit_code)


data_option = click.option("--data", "data_dir", type=click.Path(path_type=Path), multiple=True,
                           help="Folder of case-data CSV files, or an .xlsx workbook with a sheet per table (default: KG_DATA_DIR or "
                                "the bundled data/). Repeat it to add studies (folders written by kg init): they are merged with "
                                "the case data, each in its own named graph.")


def _data(paths: tuple[Path, ...]) -> dict:
    """--data values as settings: at most one folder of case data, and any number of studies."""
    from .datasets import is_study

    if not paths:
        return {}
    studies = tuple(p for p in paths if is_study(p))
    primary = [p for p in paths if not is_study(p)]
    if len(primary) > 1:
        raise UsageError(f"--data names {len(primary)} folders of case data ({', '.join(map(str, primary))}): give one, "
                         "and add studies (folders with a study.yaml, from kg init) beside it")
    return {"data_dir": primary[0] if primary else None, "studies": studies or None}
build_option = click.option("--build", "build_dir", type=click.Path(path_type=Path), default=None,
                            help="Build folder to read (default: KG_BUILD or build/).")
store_option = click.option("--store", default=None,
                            help="Store backend: oxigraph, oxigraph:PATH, rdflib or sparql+http(s)://… (default: KG_STORE).")


@cli.command(epilog=EXIT_CODES)
@data_option
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Where to write the build (default: build/).")
@store_option
@click.option("--reasoner", type=click.Choice(["auto", "hermit", "owlrl"]), default=None, help="Reasoner (default: KG_REASONER or auto).")
@click.pass_context
def build(ctx, data_dir, out, store, reasoner):
    """Read, map, validate and reason over the case data; write build/ atomically.

    With --store oxigraph:PATH the build is also loaded into that on-disk store.
    """
    from .build import build as run_build

    settings = _settings(ctx, **_data(data_dir), build_dir=out, store=store, reasoner=reasoner)
    click.echo(f"building from {settings.data_path}" + "".join(f" + {p}" for p in settings.studies), err=True)
    compiled = run_build(settings, progress=_progress(True))
    if settings.store.startswith("oxigraph:"):
        from .store import load_build_into

        load_build_into(Path(settings.store.split(":", 1)[1]), settings.build_dir)
        click.echo(f"loaded into {settings.store}", err=True)
    report = compiled.report()
    rows = report["rows"]
    claims = report["claims_by_confidence"]
    click.echo(f"{rows.get('partnerships', 0)} partnerships in {rows.get('jurisdictions', 0)} jurisdictions, "
               f"{rows.get('sources', 0)} sources; {sum(claims.values())} claims: "
               + ", ".join(f"{n} {level}" for level, n in claims.items()))
    facts = report["coverage"]["summary"]
    click.echo(f"{facts['forms']} forms, {facts['evaluations']} evaluations with {facts['findings']} findings; "
               f"classifications {facts['classifications']['stated']} stated, {facts['classifications']['derived']} derived; "
               f"{facts['conflicts']} conflicts (coverage table: report.json, docs/coverage.md)")
    click.echo(f"wrote {Path(settings.build_dir)}/: {sum(report['triples'].values())} triples "
               f"({', '.join(f'{k} {v}' for k, v in report['triples'].items())}); "
               f"reasoner {report['reasoner']['name']}")
    if report["reasoner"]["message"]:
        click.echo(report["reasoner"]["message"], err=True)
    # Spare the interpreter's last garbage collection at exit the millions of objects a large
    # build leaves (seconds at a million triples, with nothing to reclaim).
    atexit.register(gc.freeze)


@cli.command(epilog=EXIT_CODES)
@data_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Report format.")
@click.pass_context
def validate(ctx, data_dir, fmt):
    """Read, map and validate the case data against the SHACL shapes; write nothing."""
    from .build import read_inputs
    from .mapping import to_graph
    from .shacl import validate as run_validate

    settings = _settings(ctx, **_data(data_dir))
    try:
        vocabulary, case_data = read_inputs(settings)
    except CaseDataError as error:
        if fmt == "json":
            click.echo(json.dumps({"conforms": False, "problems": [str(p) for p in error.problems]}, indent=2))
            ctx.exit(1)
        raise
    mapped = to_graph(case_data, vocabulary, settings.base_iri)
    report = run_validate(mapped.graph, vocabulary.shapes, vocabulary.ontology_graph(), origins=mapped.origins)
    if fmt == "json":
        click.echo(report.to_json())
    else:
        click.echo(f"read {sum(case_data.counts().values())} rows from {len(case_data.counts())} tables; "
                   f"{len(mapped.graph)} triples")
        click.echo(report.text if not report.conforms else "conforms: the data meets every SHACL shape")
    ctx.exit(0 if report.conforms else 1)


@cli.command(epilog=EXIT_CODES)
@data_option
@click.option("--reasoner", type=click.Choice(["auto", "hermit", "owlrl"]), default=None, help="Reasoner (default: KG_REASONER or auto).")
@click.option("--show", "show", type=int, default=20, show_default=True, help="How many inferred triples to print.")
@click.pass_context
def reason(ctx, data_dir, reasoner, show):
    """Run the reasoner over ontology + data; print consistency and what was inferred."""
    from .build import read_inputs
    from .mapping import to_graph
    from .reason import reason as run_reason

    settings = _settings(ctx, **_data(data_dir), reasoner=reasoner)
    vocabulary, case_data = read_inputs(settings)
    mapped = to_graph(case_data, vocabulary, settings.base_iri)
    result = run_reason(vocabulary.ontology_graph(), mapped.graph, settings, origins=mapped.origins,
                        namespaces=tuple(spec.namespace for spec in case_data.datasets if spec.study))
    if result.message:
        click.echo(result.message, err=not result.consistent)
    click.echo(f"reasoner: {result.reasoner} ({result.elapsed:.2f} s)")
    if not result.consistent:
        click.echo("inconsistent: " + ", ".join(result.culprits))
        ctx.exit(1)
    click.echo(f"consistent: the ontology and the data are consistent; {len(result.inferred)} triples inferred")
    for s, p, o in sorted(result.inferred)[:show]:
        click.echo(f"  {result.inferred.namespace_manager.normalizeUri(s)} "
                   f"{result.inferred.namespace_manager.normalizeUri(p)} "
                   f"{result.inferred.namespace_manager.normalizeUri(o)}")
    if len(result.inferred) > show:
        click.echo(f"  … and {len(result.inferred) - show} more")


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"-p takes NAME=VALUE, got {item!r}")
        params[name.strip()] = value
    return params


@cli.command(epilog=EXIT_CODES)
@click.argument("query")
@build_option
@store_option
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A canned query's parameter (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "tsv"]), default="table", help="Output format.")
@click.option("--timeout", type=float, default=None, help="Seconds before the query is stopped (default: KG_QUERY_TIMEOUT).")
@click.pass_context
def query(ctx, query, build_dir, store, params, fmt, timeout):
    """Run QUERY over a build: a canned query's name, a .rq file, or SPARQL text."""
    from .queries import Catalogue
    from .store import open_store

    settings = _settings(ctx, build_dir=build_dir, store=store, query_timeout=timeout)
    catalogue = Catalogue.load(settings.queries_path)
    raw = _parse_params(params)
    canned = _find(catalogue, query)
    with open_store(settings) as kgstore:
        if canned is not None:
            result = kgstore.run(canned, raw)
        else:
            if raw:
                raise UsageError("-p is only for canned queries; run 'kg queries' to list them")
            path = Path(query)
            text = path.read_text(encoding="utf-8") if path.suffix == ".rq" and path.is_file() else query
            if path.suffix == ".rq" and not path.is_file():
                raise UsageError(f"no query file {query}, and no canned query of that name ('kg queries' lists them)")
            result = kgstore.query(text)
    _print_result(result, fmt)
    if getattr(result, "truncated", False):
        click.echo(f"note: results cut at {result.limit} rows (KG_ROW_LIMIT)", err=True)


def _find(catalogue, name: str):
    try:
        return catalogue.get(name)
    except KGError:
        return None


def _print_result(result, fmt: str) -> None:
    if fmt != "table":
        sys.stdout.buffer.write(result.serialize(fmt))
        sys.stdout.flush()
        return
    if result.kind == "ask":
        click.echo("true" if result.boolean else "false")
        return
    if result.kind == "graph":
        click.echo(result.serialize("turtle").decode("utf-8"))
        return
    header = list(result.variables)
    rows = [["" if cell is None else str(cell) for cell in row] for row in result.rows]
    widths = [min(60, max([len(h)] + [len(r[i]) for r in rows])) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join((c if len(c) <= 60 else c[:59] + "…").ljust(w) for c, w in zip(cells, widths)).rstrip()

    click.echo(line(header))
    click.echo(line(["-" * w for w in widths]))
    for row in rows:
        click.echo(line(row))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


@cli.command(epilog=EXIT_CODES)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", help="Output format.")
@click.pass_context
def queries(ctx, fmt):
    """List the canned queries and their parameters."""
    from .queries import Catalogue

    catalogue = Catalogue.load(ctx.obj.queries_path)
    if fmt == "json":
        click.echo(json.dumps(catalogue.to_json(), indent=2, ensure_ascii=False))
        return
    for canned in catalogue:
        params = ", ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in canned.params)
        click.echo(f"{canned.name:40s} {canned.title}" + (f"  [{params}]" if params else ""))


@cli.command(epilog=EXIT_CODES)
@click.argument("url")
@build_option
@click.option("--update-url", default=None, help="SPARQL Update endpoint (default: KG_STORE_UPDATE_URL or URL).")
@click.option("--user", default=None, help="User for updates (default: KG_STORE_USER).")
@click.option("--password", default=None, help="Password for updates (default: KG_STORE_PASSWORD).")
@click.pass_context
def push(ctx, url, build_dir, update_url, user, password):
    """Load a build into a remote SPARQL store (URL: sparql+http(s)://host/sparql), graph by graph."""
    from .store import open_store

    if not url.startswith(("sparql+http://", "sparql+https://")):
        url = "sparql+" + url if url.startswith(("http://", "https://")) else url
    if not url.startswith(("sparql+http://", "sparql+https://")):
        raise UsageError(f"kg push needs the URL of a SPARQL endpoint (http(s)://host/sparql), not {url!r}.")
    settings = _settings(ctx, build_dir=build_dir, store=url, store_update_url=update_url,
                         store_user=user, store_password=password)
    with open_store(settings) as remote:
        pushed = remote.push(settings.build_dir)
    for graph, count in pushed.items():
        click.echo(f"pushed <{graph}>: {count} triples")
    click.echo(f"{len(pushed)} graphs, {sum(pushed.values())} triples, now in {remote.url}")


@cli.command(epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="The study's title (default: the folder's name).")
@click.option("--namespace", required=True, help="The IRI namespace the study's resources are minted under, e.g. https://example.org/my-study/id/.")
@click.option("--author", "authors", multiple=True, help="An author (repeat for several).")
@click.option("--table", "tables", multiple=True, help="Only this case-data table (repeat for several; default: every table).")
@click.pass_context
def init(ctx, folder, title, namespace, authors, tables):
    """Start a study: table templates, Frictionless and CSVW metadata, study.yaml and a README."""
    from .study import init as write_study
    from .vocabulary import load_vocabulary

    settings = _settings(ctx)
    vocabulary = load_vocabulary(settings.ontology_path, settings.base_iri)
    written = write_study(folder, vocabulary.slugs, title=title or folder.name, namespace=namespace, authors=list(authors),
                          tables=list(tables) or None)
    click.echo(f"wrote {len(written)} files to {folder}/: {len([p for p in written if p.suffix == '.csv'])} table templates, "
               "datapackage.json, csv-metadata.json, study.yaml, README.md")
    click.echo(f"next: fill in the tables, then kg validate --data {folder}")


@cli.command(epilog=EXIT_CODES)
@click.option("--rows", default="jurisdiction", show_default=True, help="The dimension of the rows (kg.compare.DIMENSIONS).")
@click.option("--columns", default="budget-integration", show_default=True, help="The dimension of the columns.")
@click.option("--measure", default="forms", show_default=True, help="What is counted: forms, partnerships, evaluations or findings.")
@click.option("--confidence", default=None, help="Minimum confidence of the claims: confirmed, partial or unverified (default).")
@click.option("--basis", default="all", show_default=True, help="all: stated and derived placements; stated: the sources' own only.")
@click.option("--dataset", default=None, help="Only the units of this dataset: 'bundled' or a study's id.")
@click.option("--units", is_flag=True, help="List the units each cell counts, with their dataset, instead of the counts.")
@build_option
@store_option
@click.pass_context
def compare(ctx, rows, columns, measure, confidence, basis, dataset, units, build_dir, store):
    """Count forms, partnerships, evaluations or findings by their values on two dimensions (the /compare pivot)."""
    from .compare import DIMENSIONS, NOT_KNOWN, ComparisonIndex, Filters
    from .queries import Catalogue
    from .store import open_store

    settings = _settings(ctx, build_dir=build_dir, store=store)
    catalogue = Catalogue.load(settings.queries_path)
    with open_store(settings) as kgstore:
        index = ComparisonIndex.load(kgstore, catalogue)
        pivot = index.pivot(rows, columns, measure, Filters(minimum=confidence, basis=basis, dataset=dataset))
        iris = [*pivot.row_values, *pivot.column_values, *(u.iri for us in pivot.cells.values() for u in us)]
        names = kgstore.labels([i for i in iris if i != NOT_KNOWN])
    name = lambda v: "not known" if v == NOT_KNOWN else names.get(str(v)) or str(v)  # noqa: E731
    if units:
        for (a, b), found in sorted(pivot.cells.items(), key=lambda c: (name(c[0][0]), name(c[0][1]))):
            click.echo(f"{name(a)} × {name(b)}: {len(found)}")
            for unit in sorted(found, key=lambda u: name(u.iri)):
                click.echo(f"  {name(unit.iri)} <{unit.iri}> [{index.dataset_of(unit.iri)}]")
        return
    header = [DIMENSIONS[rows], *(name(b) for b in pivot.column_values)]
    table = [[name(a), *(str(pivot.count(a, b) or "") for b in pivot.column_values)] for a in pivot.row_values]
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
    click.echo(f"({measure} by {rows} and {columns}; confidence {confidence or 'unverified'} or better; "
               f"{basis} placements; dataset {dataset or 'all'})", err=True)


@cli.command(epilog=EXIT_CODES)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="csv: a CSV file per table; xlsx: one workbook, a sheet per table.")
@build_option
@click.option("--dataset", default=None, help="Which dataset of the build: 'bundled' (default) or a study's id (/dataset lists them).")
@click.pass_context
def export(ctx, folder, fmt, build_dir, dataset):
    """Write a build's graph back out as case-data tables (one dataset; building them again gives the same graph)."""
    from .export import export as run_export
    from .vocabulary import load_vocabulary

    settings = _settings(ctx, build_dir=build_dir)
    vocabulary = load_vocabulary(settings.ontology_path, settings.base_iri)
    written = run_export(settings.build_dir, folder, vocabulary, fmt, dataset)
    click.echo(f"wrote {len(written)} files to {folder}/ from {settings.build_dir} (dataset {dataset or 'bundled'})")


@cli.command("diff", epilog=EXIT_CODES)
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a readable listing; json: counts, the claims grouped by table and jurisdiction, the terms.")
def diff_builds(old, new, fmt):
    """Compare two builds: claims added, removed and changed (by table and jurisdiction), ontology terms
    added, removed and deprecated. Exits 0 whether or not they differ."""
    from .diff import diff as run_diff

    found = run_diff(old, new)
    if fmt == "json":
        click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(found.to_text(), nl=False)


def main() -> None:
    cli(prog_name="kg")


if __name__ == "__main__":  # pragma: no cover
    main()
