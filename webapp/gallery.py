"""The canned-query gallery: /queries, one stable URL per query, downloads and an OpenAPI description.

``/queries/{name}`` shows a form built from the query's typed parameters (choices as
selects), and with parameter values (or none needed) the results: an HTML table with labels
and links, the chart beside it, the SPARQL, a permalink and downloads
(``/queries/{name}.csv|.tsv|.json?…``). Values are validated and bound by ``kg.queries``;
they never touch the query text.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from kg import __version__, tables
from kg.errors import UsageError

from . import charts, negotiation
from .context import kg
from .rendering import labels_for, table_view, visible_columns
from .sparql import result_response

bp = Blueprint("gallery", __name__)
RESERVED = {"format"}
_OPENAPI_TYPES = {
    "iri": {"type": "string", "format": "iri"},
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "language": {"type": "string", "pattern": "^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"},
}


@bp.get("/queries")
@bp.get("/queries.json")
def index():
    catalogue = kg().catalogue
    as_json = request.path.endswith(".json") or negotiation.choose(
        request.accept_mimetypes, ("html", "json"), requested=request.args.get("format"),
        default=negotiation.HTML).kind == "json"
    if as_json:
        return jsonify({"ok": True, "queries": [dict(q.to_json(), url=url_for("gallery.show", name=q.name))
                                                for q in catalogue]})
    tags = sorted({t for q in catalogue for t in q.tags})
    return render_template("queries.html", queries=list(catalogue), tags=tags)


def _raw_params() -> dict[str, str]:
    raw = {}
    for name in request.args:
        if name in RESERVED:
            continue
        values = request.args.getlist(name)
        if len(values) > 1:
            raise UsageError(f"Parameter '{name}' is given {len(values)} times; give it once.")
        raw[name] = values[0]
    return raw


@bp.get("/queries/<name>")
def show(name: str):
    stem, dot, extension = name.rpartition(".")
    if dot and negotiation.by_extension(extension, ("results", "graph", "html")):
        name, requested = stem, extension
    else:
        requested = request.args.get("format")
    query = kg().catalogue.get(name)  # QueryNotFound -> 404
    raw = _raw_params()
    needs_input = any(p.required and p.default is None for p in query.params)
    parsed_kind = "graph" if query.sparql and _is_graph(query) else "results"
    chosen = negotiation.choose(request.accept_mimetypes, ("html", parsed_kind), requested=requested,
                                default=negotiation.HTML)
    store = kg().store
    if chosen.kind != "html":
        if chosen.name == "csv":
            # a download for spreadsheets: text that would run as a formula is neutralised
            # (/sparql keeps the SPARQL CSV format exactly)
            result = store.run(query, raw)  # QueryParameterError -> 400
            response = result_response(result, chosen, body=tables.results_csv(result.variables, result.rows))
        else:
            # JSON is written by the query worker and passed through untouched
            result = store.run(query, raw, output=chosen.serializer)  # QueryParameterError -> 400
            response = result_response(result, chosen)
        if chosen.name in ("csv", "tsv", "json") and requested:
            response.headers["Content-Disposition"] = f'inline; filename="{name}.{chosen.extension}"'
        return response
    result = None
    if raw or not needs_input:
        result = store.run(query, raw)
    return render_template("query.html", **_page(query, raw, result))


def _is_graph(query) -> bool:
    from kg.sparql import parse

    return parse(query.sparql).kind == "graph"


def _page(query, raw: dict[str, str], result) -> dict:
    store = kg().store
    fields = []
    for param in query.params:
        options = []
        if param.type == "choice":
            options = [(str(term), label) for term, label in param.options(store)]
        fields.append({"param": param, "value": raw.get(param.name, ""), "options": options})
    table = chart = None
    columns: list[str] = []
    labels: dict[str, str] = {}
    if result is not None and result.kind == "select":
        labels = labels_for(t for row in result.rows for t in row)
        keep = visible_columns(result.variables, result.rows)
        columns = [result.variables[i] for i in keep]
        table = table_view(result.rows, labels, keep)
        if query.chart:
            chart = charts.render(query.chart, result.variables, result.rows, labels, query.title)
    filled = {k: v for k, v in raw.items() if v != ""}
    suffix = ("?" + urlencode(filled)) if filled else ""
    return {
        "query": query,
        "fields": fields,
        "result": result,
        "table": table,
        "columns": columns,
        "chart": chart,
        "permalink": url_for("gallery.show", name=query.name) + suffix,
        "downloads": [(f.name.upper(), url_for("gallery.show", name=f"{query.name}.{f.extension}") + suffix)
                      for f in negotiation.formats("results" if result is None or result.kind != "graph" else "graph")],
        "editor_link": url_for("sparql.endpoint", query=query.sparql),
        "example_link": url_for("gallery.show", name=query.name) + "?" + urlencode(query.example_params())
        if query.example_params() else None,
        "turtle": result.serialize("turtle").decode("utf-8") if result is not None and result.kind == "graph" else None,
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """OpenAPI 3.1: every canned query is one GET operation with typed parameters."""
    paths = {}
    for query in kg().catalogue:
        parameters = []
        for p in query.params:
            schema = dict(_OPENAPI_TYPES.get(p.type, {"type": "string"}))
            if p.type == "choice":
                schema = {"type": "string", "enum": [str(t) for t, _ in p.options(kg().store)]}
            if p.default is not None:
                schema["default"] = p.default
            parameters.append({"name": p.name, "in": "query", "required": p.required and p.default is None,
                               "description": p.description or f"{p.type} value", "schema": schema,
                               **({"example": p.example} if p.example is not None else {})})
        parameters.append({"name": "format", "in": "query", "required": False,
                           "schema": {"type": "string", "enum": ["json", "xml", "csv", "tsv", "html"]}})
        paths[f"/queries/{query.name}"] = {"get": {
            "operationId": query.name.replace("-", "_"),
            "summary": query.title,
            "description": query.description,
            "tags": list(query.tags),
            "parameters": parameters,
            "responses": {
                "200": {"description": "The query's results",
                        "content": {f.media_type: {} for f in negotiation.formats("results")}
                        | {"text/html": {}}},
                "400": {"description": "A parameter value is missing or not of its type",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "The query ran past the time limit (KG_QUERY_TIMEOUT)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }}
    paths.update(_comparison_paths())
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Health and social care partnerships: canned queries", "version": __version__,
                 "license": {"name": "CC BY 4.0 (data)", "url": "https://creativecommons.org/licenses/by/4.0/"},
                 "description": "Each canned SPARQL query of the knowledge graph as an operation with typed "
                                "parameters. Values are validated and bound, never pasted into query text."},
        "servers": [{"url": kg().public_url("/").rstrip("/")}],
        "paths": paths,
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["ok", "error", "status"],
            "properties": {"ok": {"const": False}, "error": {"type": "string"}, "status": {"type": "integer"},
                           "title": {"type": "string"}}}}},
    }
    return jsonify(document)


def _comparison_paths() -> dict:
    """The comparison views as operations, with the JSON shapes of kg.compare."""
    from kg import compare, tables

    error = {"description": "A parameter is not one of its allowed values",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    downloads = {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}
    dimension = {"type": "string", "enum": list(compare.DIMENSIONS)}
    confidence = {"name": "confidence", "in": "query", "required": False, "schema": {"type": "string", "enum": list(compare.CONFIDENCE_LEVELS)}}
    basis = {"name": "basis", "in": "query", "required": False, "schema": {"type": "string", "enum": list(compare.BASES)}}

    def operation(name, summary, parameters, schema):
        return {"get": {"operationId": name, "summary": summary, "tags": ["compare"], "parameters": parameters,
                        "responses": {"200": {"description": summary, "content": {"application/json": {"schema": schema},
                                                                                  "text/html": {}}},
                                      "400": error}}}

    pivot = [{"name": "rows", "in": "query", "required": False, "schema": dimension},
             {"name": "columns", "in": "query", "required": False, "schema": dimension},
             {"name": "measure", "in": "query", "required": False, "schema": {"type": "string", "enum": list(compare.MEASURES)}},
             confidence, basis,
             {"name": "row", "in": "query", "required": False, "schema": {"type": "string"}, "description": "open this cell's row value"},
             {"name": "column", "in": "query", "required": False, "schema": {"type": "string"}, "description": "and its column value"}]
    sides = [{"name": "j", "in": "query", "required": True, "schema": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 6},
              "style": "form", "explode": True, "description": "two to six jurisdiction ids"},
             {"name": "form", "in": "query", "required": False, "schema": {"type": "array", "items": {"type": "string"}}, "explode": True},
             confidence, basis]
    gap = [{"name": "rows", "in": "query", "required": False, "schema": {"type": "string", "enum": ["form", "budget-integration", "provider-payment"]}},
           {"name": "jurisdiction", "in": "query", "required": False, "schema": {"type": "string"}},
           {"name": "design", "in": "query", "required": False, "schema": {"type": "string"}},
           {"name": "evaluator", "in": "query", "required": False, "schema": {"type": "string"}}, confidence]
    paths = {
        "/compare.json": operation("compare_pivot", "A pivot on any two comparison dimensions", pivot, compare.PIVOT_SCHEMA),
        "/compare/side-by-side.json": operation("compare_side_by_side", "Two to six jurisdictions side by side", sides,
                                                compare.SIDE_BY_SIDE_SCHEMA),
        "/evidence.json": operation("evidence_gap_map", "The evidence gap map", gap, compare.GAP_MAP_SCHEMA),
    }
    paths["/jurisdictions/{id}.json"] = operation(
        "country_profile", "A country profile as one table of facts, with its URL, citation and licence",
        [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "a jurisdiction id"}],
        tables.JSON_SCHEMA)
    for path, params in (("/compare", pivot), ("/compare/side-by-side", sides), ("/evidence", gap)):
        for extension in ("csv", "xlsx"):
            paths[f"{path}.{extension}"] = {"get": {
                "operationId": f"{path.strip('/').replace('/', '_').replace('-', '_')}_{extension}",
                "summary": f"The same table as {extension.upper()}, with its URL, citation and licence",
                "tags": ["compare", "downloads"], "parameters": params,
                "responses": {"200": {"description": "the table", "content": {m: {} for m in downloads if extension in m or
                                                                             (extension == "xlsx" and "spreadsheet" in m)}},
                              "400": error}}}
    return paths
