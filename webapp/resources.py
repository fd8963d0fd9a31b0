"""Linked-data pages: /id/… answers 303 to /doc/…, which serves HTML, Turtle, JSON-LD, RDF/XML, N-Triples.

Every IRI under the base (``KG_BASE_IRI``) is served under /id/ here: ``BASE{path}`` is
``/id/{path}``. ``/id/{path}`` redirects (303 See Other, ``Vary: Accept``) to the document
for the representation asked for; ``/doc/{path}.{ext}`` serves one representation directly
and ``/doc/{path}`` negotiates.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from rdflib import RDF, URIRef

from kg import formats
from kg.compare import claims_about, confidence_slug
from kg.namespaces import DCT, HSCP, bind_prefixes

from . import negotiation
from .context import kg
from .rendering import labels_for, term_view

bp = Blueprint("resources", __name__)
KINDS = ("html", "graph")
_DEFINITIONS = ("http://www.w3.org/2004/02/skos/core#definition", "http://purl.org/dc/terms/description",
                "http://www.w3.org/2000/01/rdf-schema#comment")


def _split_extension(path: str) -> tuple[str, str | None]:
    """("partnership/x", "ttl") for "partnership/x.ttl"; slugs themselves never hold a dot."""
    head, _, last = path.rpartition("/")
    stem, dot, extension = last.rpartition(".")
    if dot and stem and negotiation.by_extension(extension, KINDS):
        return (f"{head}/{stem}" if head else stem), extension
    return path, None


@bp.get("/id/<path:path>")
def identify(path: str):
    """303 See Other to the document describing the resource, in the representation asked for."""
    if path == "dataset" or path.startswith("dataset/"):
        from kg.release import current

        # the dataset, this version of it (…/dataset/0.1.0), or one of its dumps
        current_version = path == f"dataset/{current()}"
        target = url_for("dataset.dataset") if path == "dataset" or current_version else url_for("dataset.download", name=path[8:])
        return _vary(redirect(target, 303))
    chosen = negotiation.choose(request.accept_mimetypes, KINDS, requested=request.args.get("format"),
                                default=negotiation.HTML)
    if chosen.kind == "html":
        target = f"/doc/{path}"
    else:
        target = f"/doc/{path}.{chosen.extension}"
    return _vary(redirect(target, 303))


@bp.get("/doc/<path:path>")
def document(path: str):
    path, extension = _split_extension(path)
    return _document(kg().settings.base_iri + path, path, extension)


@bp.get("/study/<study>/<path:path>")
def study_document(study: str, path: str):
    """A resource of a study merged into the build: its IRI is under the study's own namespace
    (which this server does not answer for), so it is served here, in every representation."""
    found = kg().datasets.by_id.get(study)
    if found is None or not found.study:
        abort(404, description=f"no study {study!r} in this build; /dataset lists the datasets")
    path, extension = _split_extension(path)
    return _document(found.namespace + path, path, extension)


def _document(iri: str, path: str, extension: str | None):
    if extension:
        chosen = negotiation.by_extension(extension, KINDS)
    else:
        chosen = negotiation.choose(request.accept_mimetypes, KINDS, requested=request.args.get("format"),
                                    default=negotiation.HTML)
    graph = kg().store.describe(iri)  # ResourceNotFound -> 404 naming the IRI
    if chosen.kind == "graph":
        bind_prefixes(graph)
        body = graph.serialize(format=formats.by_name(chosen.name).rdflib, encoding="utf-8")
        response = Response(body, content_type=chosen.content_type)
    elif path.startswith("jurisdiction/") and (URIRef(iri), RDF.type, HSCP.Jurisdiction) in graph:
        response = Response(render_template("profile.html", **_page(iri, graph), profile=_profile(iri)))
    else:
        response = Response(render_template("resource.html", **_page(iri, graph)))
    response.headers["Link"] = f'<{iri}>; rel="describes"'
    return _vary(response) if not extension else response


def _vary(response: Response) -> Response:
    response.headers["Vary"] = "Accept"
    return response


def _page(iri: str, graph) -> dict:
    """Everything the resource page shows, with one labels() batch for every IRI on it."""
    store = kg().store
    node = URIRef(iri)
    backlinks = store.backlinks(iri).rows
    # Claims point at what they are about: look for them only when something does.
    claims = claims_about(store, kg().catalogue, iri) if any(p == HSCP.about for _, p, _ in backlinks) or len(backlinks) >= 200 else []
    own = [(p, o) for p, o in graph.predicate_objects(node)]
    terms = [p for p, _ in own] + [o for _, o in own]
    terms += [t for s, p, _ in backlinks for t in (s, p)]
    for claim in claims:
        terms += [claim.claim, *claim.types, *claim.sources, claim.confidence]
        terms += [t for pair in claim.values for t in pair]
    labels = labels_for(terms + [node])

    label = labels.get(iri)
    types = sorted((term_view(o, labels) for o in graph.objects(node, RDF.type)), key=lambda t: t.text)
    definition = next((str(o) for p in _DEFINITIONS for o in graph.objects(node, URIRef(p))), None)
    properties: dict[str, dict] = {}
    for p, o in sorted(own, key=lambda po: (str(po[0]), str(po[1]))):
        if p == RDF.type:
            continue
        entry = properties.setdefault(str(p), {"property": term_view(p, labels), "values": []})
        value = term_view(o, labels)
        if o.__class__.__name__ == "BNode":
            nested = [(term_view(p2, labels), term_view(o2, labels)) for p2, o2 in graph.predicate_objects(o)]
            value = {"nested": nested}
        entry["values"].append(value)
    own_claim = None
    conflicts = sorted((term_view(o, labels) for o in graph.objects(node, HSCP.conflictsWith)), key=lambda t: t.text)
    sources = [term_view(o, labels) for o in graph.objects(node, DCT.source)]
    confidence = graph.value(node, HSCP.confidence)
    if sources or confidence is not None:
        own_claim = {"sources": sources, "confidence": confidence_slug(confidence),
                     "confidence_term": term_view(confidence, labels) if confidence is not None else None}
    dataset_of = kg().datasets.badge
    return {
        "iri": iri,
        "dataset": dataset_of(iri),
        "label": label,
        "types": types,
        "definition": definition,
        "properties": list(properties.values()),
        "own_claim": own_claim,
        "conflicts": conflicts,
        "claims": [
            {"claim": term_view(c.claim, labels),
             "types": [term_view(t, labels) for t in sorted(c.types)],
             "values": [(term_view(p, labels), term_view(v, labels)) for p, v in c.values],
             "sources": [term_view(s, labels) for s in sorted(c.sources)],
             "confidence": confidence_slug(c.confidence),
             "confidence_term": term_view(c.confidence, labels) if c.confidence is not None else None,
             "dataset": dataset_of(c.claim)}
            for c in claims
        ],
        "backlinks": [(term_view(s, labels), term_view(p, labels)) for s, p, _ in backlinks],
        "backlinks_truncated": len(backlinks) >= 200,
        "path": path_of(iri),
        "doc": _doc_of(iri),
    }


def path_of(iri: str) -> str:
    """The path of a resource page (what follows /doc/ or /study/{id}/)."""
    base = kg().settings.base_iri
    if iri.startswith(base):
        return iri[len(base):]
    found = kg().datasets.of(iri)
    return iri[len(found.namespace):] if found is not None else iri


def _doc_of(iri: str) -> str:
    """Where the resource's documents are served, without an extension."""
    href = kg().local_href(iri)
    if href.startswith("/id/"):
        return "/doc/" + href[4:]
    return href


def _profile(iri: str) -> dict:
    """A jurisdiction's profile (kg.profile), with one labels batch and its charts."""
    from kg.compare import DIMENSIONS
    from kg.profile import profile

    from . import charts

    app = kg()
    found = profile(app.store, app.catalogue, app.comparison, iri)
    labels = labels_for(list(found.iris()))
    view = lambda t: term_view(t, labels) if t is not None else None  # noqa: E731
    timeline_query = app.catalogue.get("reform-timeline")
    timeline = found.timeline
    directions = {}
    for outcome, rows in found.findings.items():
        for r in rows:
            directions.setdefault(outcome, {}).setdefault(str(r["direction"]), 0)
            directions[outcome][str(r["direction"])] += 1
    stacked_rows = [(URIRef(o), URIRef(d), n) for o, ds in directions.items() for d, n in ds.items()]
    return {
        "context": _context(found.context, view),
        "forms": [{"form": view(form), "dimensions": [
            {"title": DIMENSIONS[d], "values": [{"value": view(URIRef(v)), "claim": view(e.claim), "confidence": e.confidence,
                                                "derived": e.derived} for v, e in values]}
            for d, values in dims.items()]} for form, dims in found.forms.items()],
        "partnerships": [(view(p), view(f)) for p, f in found.partnerships],
        "timeline_chart": charts.render(timeline_query.chart, timeline.variables, timeline.rows, labels,
                                        title="Reform timeline") if timeline_query.chart else None,
        "timeline": [{"year": r.get("year"), "end": r.get("endYear"), "event": view(r["event"]), "label": str(r["label"]),
                      "kind": view(r["kind"]), "confidence": str(r["confidence"]).lower()} for r in timeline.bindings()],
        "directions_chart": charts.render({"kind": "stacked-bar", "x": "outcome", "y": "findings", "series": "direction"},
                                          ["outcome", "direction", "findings"],
                                          [(o, d, _integer(n)) for o, d, n in stacked_rows], labels,
                                          title="Findings by outcome and direction"),
        "findings": [(view(URIRef(o)), [{k: view(v) if k != "confidence" else v for k, v in r.items()} for r in rows])
                     for o, rows in found.findings.items()],
        "statements": [{"kind": str(r["kind"]), "subject": view(r["subject"]), "claim": view(r["claim"]),
                        "statement": str(r["statement"]), "confidence": str(r["confidence"]).lower()} for r in found.statements],
        "conflicts": [{"conflict": view(c), "label": e["label"],
                       "claims": [(view(claim), conf.lower()) for claim, conf, _ in e["claims"]]}
                      for c, e in found.conflicts.items()],
        "sources": [{"source": view(r["source"]), "citation": str(r["citation"]), "rows": int(r["rows"])} for r in found.sources],
    }


def _context(rows: list[dict], view) -> list[dict]:
    """One entry per context fact, its levels of government together (the query gives a row each)."""
    facts: dict = {}
    for r in rows:
        entry = facts.setdefault(r["fact"], {"topic": view(r["topic"]), "statement": str(r["statement"]),
                                             "fact": view(r["fact"]), "levels": [],
                                             "confidence": str(r["confidence"]).lower()})
        if r.get("levelLabel") and str(r["levelLabel"]) not in entry["levels"]:
            entry["levels"].append(str(r["levelLabel"]))
    return [dict(e, level=", ".join(e["levels"]) or None) for e in facts.values()]


def _integer(n: int):
    from rdflib import Literal
    from rdflib.namespace import XSD

    return Literal(n, datatype=XSD.integer)
