"""The SPARQL 1.1 Protocol endpoint (/sparql), its service description and the query editor.

Queries arrive by GET (``?query=``; HEAD answers as GET does, without the body), by form POST
(``application/x-www-form-urlencoded``) or by direct POST (``application/sparql-query``, UTF-8).
Parameters, in the URL or a form, must be UTF-8, percent-encoded: anything else is refused with
400 naming the parameter, never decoded by guessing. SELECT and ASK answer in JSON,
XML, CSV or TSV; CONSTRUCT and DESCRIBE in Turtle, N-Triples, JSON-LD or RDF/XML; the
``Accept`` header chooses, a ``format`` parameter overrides it. Every query goes through
``kg.sparql`` (SERVICE, updates, LOAD and unknown FROM graphs are refused with 400).

Decisions, declared in responses:

- **Time limit** (``KG_QUERY_TIMEOUT``): a query past it is stopped and answered with
  **503 Service Unavailable** and ``Retry-After``: the server, not the client, gave up (408
  would say the client was too slow sending its request). The message names the limit.
- **Row limit** (``KG_ROW_LIMIT``): a longer result is cut; the response says so with the
  header ``X-KG-Truncated: true`` (and ``X-KG-Row-Limit``), and SPARQL JSON results carry
  ``"truncated": true`` beside ``head`` and ``results``.
- **Body size** (``KG_MAX_QUERY_BYTES``): a larger request body or query is refused with 413.
- **Updates** are never executed: the graph is compiled from the case data, and the query
  workers hold read-only copies, so a write would be lost at the next build. Without
  ``KG_UPDATE_TOKEN`` an update gets 403; with a token configured, a request without the
  right ``Authorization: Bearer`` token gets 401 and one with it gets 501 (not implemented:
  change the case data and rebuild).
- **Protocol dataset** (``default-graph-uri``, ``named-graph-uri``) replaces the query's
  FROM / FROM NAMED, as the protocol says; like FROM, it may only name graphs the store
  holds (400 otherwise: nothing is ever fetched from elsewhere).
"""

from __future__ import annotations

import hmac
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Response, render_template, request
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    NotImplemented as HTTPNotImplemented,
    RequestEntityTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

from kg import formats
from kg import sparql as kg_sparql
from kg.namespaces import SD, bind_prefixes

from . import negotiation
from .context import kg
from .rendering import table_view

bp = Blueprint("sparql", __name__)

FORM = "application/x-www-form-urlencoded"
DIRECT_QUERY = "application/sparql-query"
DIRECT_UPDATE = "application/sparql-update"


class Operation:
    """What one protocol request asks for."""

    def __init__(self, query: str | None = None, update: str | None = None,
                 default_graphs: list[str] | None = None, named_graphs: list[str] | None = None):
        self.query, self.update = query, update
        self.default_graphs = default_graphs or []
        self.named_graphs = named_graphs or []


def _single(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise BadRequest(f"The request has {len(values)} '{name}' parameters; send exactly one.")
    return values[0] if values else None


def _decode(body: bytes) -> str:
    charset = (request.mimetype_params.get("charset") or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"The body is declared as {charset}; SPARQL requests must be UTF-8.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8; SPARQL requests must be UTF-8.") from None


def _strict_parameters(encoded: bytes, where: str) -> MultiDict:
    """``name=value&…`` (URL query string or form body) decoded as UTF-8, strictly.

    Werkzeug's ``request.args`` and ``request.form`` keep an invalid percent-escape such as
    ``%FF`` as the text "%FF" (and fail on a raw non-UTF-8 byte), so a query would run with
    text the client never sent: here any byte sequence that is not UTF-8 is a 400 naming the
    parameter. Splitting on ``&`` and ``+`` as a space match werkzeug's parsing, so for valid
    input the values are the same as ``request.args`` / ``request.form``.
    """
    pairs = []
    for field in encoded.split(b"&"):
        if not field:
            continue
        raw_name, _, raw_value = field.partition(b"=")
        try:
            name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"A parameter name in the {where} is not valid UTF-8: SPARQL requests must be "
                             "UTF-8, percent-encoded (é is %C3%A9).") from None
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            what = "the query" if name == "query" else "every parameter"
            raise BadRequest(f"The '{name}' parameter in the {where} is not valid UTF-8: {what} must be "
                             "UTF-8, percent-encoded (é is %C3%A9).") from None
        pairs.append((name, value))
    return MultiDict(pairs)


def read_operation() -> Operation:
    """Parse the protocol request; raise 400, 413 or 415 for a malformed one."""
    args = _strict_parameters(request.query_string, "URL")
    dataset = {"default_graphs": args.getlist("default-graph-uri") + args.getlist("using-graph-uri"),
               "named_graphs": args.getlist("named-graph-uri") + args.getlist("using-named-graph-uri")}
    if request.method in ("GET", "HEAD"):  # HEAD: answered as GET, werkzeug drops the body
        if "update" in args:
            raise BadRequest("SPARQL Update cannot be sent with GET; and this service does not run updates.")
        return Operation(query=_single(args.getlist("query"), "query"), **dataset)
    mimetype = request.mimetype
    if mimetype == FORM:
        # 413 when larger than KG_MAX_QUERY_BYTES; cached, so request.form parses the same bytes
        form = _strict_parameters(request.get_data(cache=True), "form body")
        query = _single(form.getlist("query") + args.getlist("query"), "query")
        update = _single(form.getlist("update"), "update")
        if query is not None and update is not None:
            raise BadRequest("The request has both 'query' and 'update'; send one operation.")
        dataset["default_graphs"] += form.getlist("default-graph-uri") + form.getlist("using-graph-uri")
        dataset["named_graphs"] += form.getlist("named-graph-uri") + form.getlist("using-named-graph-uri")
        return Operation(query=query, update=update, **dataset)
    if mimetype in (DIRECT_QUERY, DIRECT_UPDATE):
        if "query" in args or "update" in args:
            raise BadRequest(f"A {mimetype} request carries the operation in its body, not in the URL.")
        text = _decode(request.get_data(cache=False))  # 413 when too large
        if mimetype == DIRECT_QUERY:
            return Operation(query=text, **dataset)
        return Operation(update=text, **dataset)
    if not mimetype:
        raise UnsupportedMediaType(f"A POST to /sparql needs a Content-Type: {FORM} or {DIRECT_QUERY}.")
    raise UnsupportedMediaType(f"Content-Type {mimetype} is not a SPARQL request; use {FORM} or {DIRECT_QUERY}.")


def refuse_update() -> None:
    token = kg().settings.update_token
    if not token:
        raise Forbidden("SPARQL Update is switched off on this service: the graph is built from the case data. "
                        "Change the case data and rebuild instead.")
    offered = request.headers.get("Authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("SPARQL Update needs the update token (Authorization: Bearer …).")
    raise HTTPNotImplemented("This service's store is read-only: updates are never executed. "
                             "Change the case data and rebuild.")


@bp.route("/sparql", methods=["GET", "POST"])
@bp.route("/sparql/", methods=["GET", "POST"])
def endpoint():
    operation = read_operation()
    if operation.update is not None:
        refuse_update()
    if operation.query is None:
        chosen = negotiation.choose(request.accept_mimetypes, ("html", "graph"),
                                    requested=request.args.get("format"), default=negotiation.TURTLE)
        if chosen.kind == "html":
            return _editor_page()
        return _graph_response(service_description(), chosen)
    limit_bytes = kg().settings.max_query_bytes
    if len(operation.query.encode("utf-8")) > limit_bytes:
        raise RequestEntityTooLarge()
    settings = kg().settings
    # QuerySyntaxError / QueryRefused -> 400; a large query is parsed in the parser process, bounded in time
    parsed = kg_sparql.parse_bounded(operation.query, max_terms=settings.max_query_terms,
                                     timeout=settings.query_timeout)
    kinds = ("html", "graph") if parsed.kind == "graph" else ("html", "results")
    default = negotiation.TURTLE if parsed.kind == "graph" else negotiation.JSON_RESULTS
    chosen = negotiation.choose(request.accept_mimetypes, kinds,
                                requested=request.values.get("format"), default=default)
    settings = kg().settings
    protocol = operation.default_graphs or operation.named_graphs
    result = kg().store.query(operation.query, timeout=settings.query_timeout, limit=settings.row_limit,
                              default_graphs=operation.default_graphs if protocol else None,
                              named_graphs=operation.named_graphs if protocol else None,
                              output=chosen.serializer if chosen.kind != "html" else None)
    if chosen.kind == "html":
        response = Response(_editor_page(operation.query, result))
    else:
        response = result_response(result, chosen)
    response.headers["Vary"] = "Accept"
    return response


def result_response(result, chosen: negotiation.Format, body: bytes | None = None) -> Response:
    """A QueryResult in the chosen format (or the ``body`` given for it), its limits declared."""
    body = result.serialize(chosen.serializer) if body is None else body
    if result.truncated and chosen.name == "json":
        body = body.rstrip()[:-1] + b', "truncated": true, "limit": %d}' % result.limit
    response = Response(body, content_type=chosen.content_type)
    if result.truncated:
        response.headers["X-KG-Truncated"] = "true"
        response.headers["X-KG-Row-Limit"] = str(result.limit)
    response.headers["X-KG-Elapsed"] = f"{result.elapsed:.4f}"
    response.headers["X-KG-Answered-By"] = result.answered_by
    return response


def _graph_response(graph: Graph, chosen: negotiation.Format) -> Response:
    return Response(graph.serialize(format=formats.by_name(chosen.name).rdflib, encoding="utf-8"),
                    content_type=chosen.content_type, headers={"Vary": "Accept"})


def service_description() -> Graph:
    """SPARQL 1.1 Service Description; sd:endpoint is the endpoint's public URL (KG_PUBLIC_URL, else this host)."""
    g = Graph()
    bind_prefixes(g)
    service = BNode()
    endpoint = URIRef(kg().public_url("/sparql"))
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, endpoint))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    g.add((service, RDFS.label, Literal("SPARQL endpoint of the health and social care partnerships graph", lang="en")))
    for f in negotiation.formats("results", "graph"):
        g.add((service, SD.resultFormat, URIRef(_FORMAT_IRIS.get(f.name, f.media_type))))
    default_dataset = BNode()
    default_graph = BNode()
    g.add((service, SD.defaultDataset, default_dataset))
    g.add((default_dataset, RDF.type, SD.Dataset))
    g.add((default_dataset, SD.defaultGraph, default_graph))
    g.add((default_graph, RDF.type, SD.Graph))
    for name in kg().store.graphs():
        named = BNode()
        g.add((default_dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
    return g


_FORMAT_IRIS = {  # sd:resultFormat: the SPARQL results formats' W3C IRIs, then the RDF formats'
    "json": "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
    "xml": "http://www.w3.org/ns/formats/SPARQL_Results_XML",
    "csv": "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
    "tsv": "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
    **{f.name: f.w3c for f in formats.RDF_FORMATS},
}


def _editor_page(query: str | None = None, result=None) -> str:
    from kg.namespaces import sparql_prologue

    examples = [{"name": q.name, "title": q.title, "query": q.sparql} for q in kg().catalogue]
    default_query = sparql_prologue() + "\nSELECT ?partnership ?label WHERE {\n  ?partnership a hscp:Partnership ; rdfs:label ?label .\n} LIMIT 20\n"
    table = None
    if result is not None and result.kind == "select":
        table = table_view(result.rows)
    return render_template("sparql.html", query=query, default_query=default_query, examples=examples,
                           result=result, table=table,
                           turtle=result.serialize("turtle").decode("utf-8") if result is not None and result.kind == "graph" else None)
