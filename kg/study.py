"""A study folder: templates and standard table metadata, generated from the one declaration.

``kg init DIR`` writes what a team needs to code its own cases beside the bundled evidence: one
header-only CSV template per case-data table, a Frictionless Data package descriptor
(``datapackage.json``) and CSV on the Web metadata (``csv-metadata.json``) that describe every
column (datatype, required, allowed values from the concept schemes, the ``;`` separator of
several values, primary and foreign keys, the licence), a ``study.yaml`` naming the study and
the IRI namespace it mints under, and a README for the team. The metadata is generated from
:data:`kg.casedata.TABLES` and the concept schemes, so it cannot drift from what ``kg validate``
checks; the tests validate the bundled data against it with the Frictionless library.

>>> schema = table_schema(TABLES["memberships"], {"role": frozenset({"member"})})
>>> [f["name"] for f in schema["fields"]][:3], schema["primaryKey"]
(['id', 'partnership', 'organisation'], ['id'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from .casedata import BOOL, DATE, DECIMAL, DOI, ID, INTEGER, SEPARATOR, SLUG, TABLES, URL, YEAR, Table
from .datasets import slugify
from .errors import UsageError
from .namespaces import DEFAULT_BASE_IRI

LICENCE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/", "title": "Creative Commons Attribution 4.0"}
_DATE_PATTERN = r"\d{4}(-\d{2}(-\d{2})?)?"
_SLUG_PATTERN = SLUG.pattern.strip("^$")


def _field(column, vocabularies: Mapping[str, frozenset[str]]) -> dict:
    """The Frictionless field of one column."""
    ctype = column.type
    field: dict = {"name": column.name, "description": column.help, "type": "string"}
    constraints: dict = {}
    if column.required:
        constraints["required"] = True
    if ctype.many:
        # several values in one cell, separated by ';': Table Schema has no list type, so a pattern
        item = _SLUG_PATTERN if (ctype.ref or ctype.scheme or ctype is ID) else r"[^;]+"
        if ctype.name == "urls":
            item = r"https?://\S+"
        constraints["pattern"] = rf"{item}(\s*;\s*{item})*"
    elif ctype is INTEGER or ctype is YEAR:
        field["type"] = "integer"
    elif ctype is DECIMAL:
        field["type"] = "number"
    elif ctype is BOOL:
        field.update(type="boolean", trueValues=["yes"], falseValues=["no"])
    elif ctype is DATE:
        constraints["pattern"] = _DATE_PATTERN
    elif ctype is URL:
        field["format"] = "uri"
    elif ctype is DOI:
        constraints["pattern"] = r"10\.\d{4,9}/\S+"
    elif ctype.scheme is not None and vocabularies.get(ctype.scheme):
        constraints["enum"] = sorted(vocabularies[ctype.scheme])
    elif ctype is ID or ctype.ref is not None:
        constraints["pattern"] = _SLUG_PATTERN
    if ctype is ID:
        constraints["unique"] = True
    if constraints:
        field["constraints"] = constraints
    field["example"] = column.example
    return field


def table_schema(table: Table, vocabularies: Mapping[str, frozenset[str]]) -> dict:
    """The Frictionless Table Schema of one table."""
    schema = {"fields": [_field(c, vocabularies) for c in table.columns], "primaryKey": ["id"],
              "missingValues": [""]}
    keys = [{"fields": [c.name], "reference": {"resource": c.type.ref, "fields": ["id"]}}
            for c in table.columns if c.type.ref and "|" not in c.type.ref and not c.type.many]
    if keys:
        schema["foreignKeys"] = keys
    return schema


def datapackage(vocabularies: Mapping[str, frozenset[str]], name: str = "partnership-kg-case-data",
                title: str = "Case data of partnership-kg", tables: list[str] | None = None) -> dict:
    """A Frictionless data package descriptor of the case-data tables (all, or the named ones)."""
    chosen = [TABLES[n] for n in (tables or TABLES)]
    names = {t.name for t in chosen}
    resources = []
    for table in chosen:
        schema = table_schema(table, vocabularies)
        # a key into a table the package does not hold cannot be checked here; kg validate checks it
        schema["foreignKeys"] = [k for k in schema.get("foreignKeys", []) if k["reference"]["resource"] in names]
        if not schema["foreignKeys"]:
            schema.pop("foreignKeys")
        resources.append({"name": table.name, "path": table.filename, "title": table.help, "profile": "tabular-data-resource",
                          "format": "csv", "encoding": "utf-8", "mediatype": "text/csv", "schema": schema})
    return {"name": name, "title": title, "licenses": [LICENCE], "resources": resources}


def _csvw_datatype(column) -> object:
    ctype = column.type
    if ctype is INTEGER or ctype is YEAR:
        return "integer"
    if ctype is DECIMAL:
        return "decimal"
    if ctype is BOOL:
        return {"base": "boolean", "format": "yes|no"}
    if ctype is DATE:
        return {"base": "string", "format": _DATE_PATTERN}
    if ctype is URL and not ctype.many:
        return "anyURI"
    return "string"


def csvw_metadata(vocabularies: Mapping[str, frozenset[str]], tables: list[str] | None = None) -> dict:
    """CSV on the Web metadata (a table group) of the case-data tables."""
    chosen = [TABLES[n] for n in (tables or TABLES)]
    names = {t.name for t in chosen}
    out = []
    for table in chosen:
        columns = []
        for column in table.columns:
            entry = {"name": column.name, "titles": column.name, "dc:description": column.help,
                     "datatype": _csvw_datatype(column), "required": column.required}
            if column.type.many:
                entry["separator"] = SEPARATOR
            columns.append(entry)
        schema = {"columns": columns, "primaryKey": "id"}
        keys = [{"columnReference": c.name, "reference": {"resource": TABLES[c.type.ref].filename, "columnReference": "id"}}
                for c in table.columns if c.type.ref and c.type.ref in names and not c.type.many]
        if keys:
            schema["foreignKeys"] = keys
        out.append({"url": table.filename, "dc:title": table.help, "tableSchema": schema})
    return {"@context": "http://www.w3.org/ns/csvw", "dc:license": {"@id": LICENCE["path"]}, "tables": out}


README = """\
# {title}

This folder is a study for partnership-kg: your own cases, coded in the same tables as the
bundled evidence, so that they can be built, compared and published beside it.

1. Fill in the tables you need (`*.csv`, one row per thing; the header row is already there).
   Leave the others as they are: a table with its header only is empty, and valid. (`kg init
   --table partnerships --table observations` writes only the tables named, and metadata for
   those.) Rows may refer by id to the bundled jurisdictions, forms, sources and the rest.
2. Every row that states something names its `source` (ids of `sources.csv`) and its
   `confidence`: `confirmed` (seen in the source), `partial` (secondary, cut or inferred: say
   what in `note`) or `unverified`.
3. Check your work: `kg validate --data {folder}`. Every problem is named by file, row and
   column.
4. Build it with the bundled data: `kg build --data {folder}`.

`datapackage.json` (Frictionless Data) and `csv-metadata.json` (CSV on the Web) describe every
column: its type, whether it is required, its allowed values, and the keys between tables.
Spreadsheet tools and validators read them. `study.yaml` names the study, its authors, licence and
version, and the IRI namespace its resources are minted under.
"""


def init(folder: Path, vocabularies: Mapping[str, frozenset[str]], *, title: str, namespace: str,
         authors: list[str] | None = None, licence: str = LICENCE["path"], tables: list[str] | None = None) -> list[Path]:
    """Write a new study folder; return the files written.

    ``tables``: the tables the study needs (default: every table); the metadata describes those.

    :raises UsageError: the folder exists and is not empty, or the namespace is not an http(s)
        IRI ending in '/' or '#', or it is the bundled data's own namespace.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} already exists and is not empty: kg init writes a new study folder; "
                         "choose another path or empty this one.")
    if not namespace.startswith(("http://", "https://")) or not namespace.endswith(("/", "#")):
        raise UsageError(f"--namespace {namespace!r} is not an http(s) IRI ending in '/' or '#': "
                         "write the base your study's resources are named under, e.g. https://example.org/my-study/id/.")
    if namespace.startswith(DEFAULT_BASE_IRI) or DEFAULT_BASE_IRI.startswith(namespace):
        raise UsageError(f"--namespace {namespace!r} overlaps the bundled data's namespace {DEFAULT_BASE_IRI}: "
                         "a study mints its own IRIs; choose a namespace you control.")
    unknown = sorted(set(tables or ()) - set(TABLES))
    if unknown:
        raise UsageError(f"--table {', '.join(unknown)}: no such case-data table; the tables are {', '.join(TABLES)}")
    chosen = [t for t in TABLES if not tables or t in tables]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in (TABLES[name] for name in chosen):
        path = folder / table.filename
        path.write_text(",".join(c.name for c in table.columns) + "\n", encoding="utf-8")
        written.append(path)
    files = {
        "datapackage.json": json.dumps(datapackage(vocabularies, name=slugify(title), title=title, tables=chosen), indent=2) + "\n",
        "csv-metadata.json": json.dumps(csvw_metadata(vocabularies, tables=chosen), indent=2) + "\n",
        "study.yaml": yaml.safe_dump({"id": slugify(folder.name), "title": title, "authors": authors or [], "licence": licence, "version": "0.1.0",
                                      "namespace": namespace}, sort_keys=False, allow_unicode=True),
        "README.md": README.format(title=title, folder=folder),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written
