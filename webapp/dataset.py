"""/dataset (VoID + DCAT, dumps, licence, citation, schema.org markup) and /def (the ontology, documented live).

/dataset and /def answer HTML or RDF by ``Accept`` (or ``.ttl``, ``.jsonld``, ``.rdf``,
``.nt``). /def lists every class, property and concept scheme of the ontology with its
definition, how often the data uses it, the SHACL constraints on it and the canned queries
that mention it; each term IRI ``…/def#Term`` is the anchor ``/def#Term`` here. A term marked
``owl:deprecated true`` stays listed, so its IRI keeps resolving, shown as deprecated with the
terms that replace it (``dct:isReplacedBy``).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF, VOID

from kg import citation, formats
from kg.build import DUMPS, LICENSE
from kg.namespaces import DCT, bind_prefixes
from kg.ontology_page import ontology_documentation

from . import negotiation
from .context import kg
from .rendering import labels_for, term_view

bp = Blueprint("dataset", __name__)
KINDS = ("html", "graph")
EXTENSIONS = ", ".join(f.extension for f in negotiation.formats(*KINDS))  # the routes' any(…): html, ttl, …
DOWNLOADS = {**{name: media for name, (media, _title) in DUMPS.items()}, "report.json": "application/json"}


def _negotiate(extension: str | None) -> negotiation.Format:
    if extension:
        chosen = negotiation.by_extension(extension, KINDS)
        if chosen is None:
            abort(404)
        return chosen
    return negotiation.choose(request.accept_mimetypes, KINDS, requested=request.args.get("format"),
                              default=negotiation.HTML)


def _rdf(graph: Graph, chosen: negotiation.Format) -> Response:
    bind_prefixes(graph)
    return Response(graph.serialize(format=formats.by_name(chosen.name).rdflib, encoding="utf-8"),
                    content_type=chosen.content_type, headers={"Vary": "Accept"})


def description() -> Graph:
    """The build's VoID/DCAT graph: void.ttl from the build, or the store's description of it."""
    def compute():
        path = kg().build_dir / "void.ttl"
        if path.is_file():
            return Graph().parse(path, format="turtle")
        return kg().store.describe(str(kg().mint.dataset))

    return kg().cached("void", compute)


def served_description() -> Graph:
    """The build's description plus where this service serves it: the SPARQL endpoint, this page,
    each dump's URL here (KG_PUBLIC_URL, else the request's host)."""
    graph = Graph()
    for triple in description():
        graph.add(triple)
    node, url = kg().mint.dataset, kg().public_url
    endpoint = URIRef(url("/sparql"))
    graph.add((node, VOID.sparqlEndpoint, endpoint))
    graph.add((node, DCAT.landingPage, URIRef(url("/dataset"))))
    graph.add((endpoint, RDF.type, DCAT.DataService))
    graph.add((endpoint, DCAT.endpointURL, endpoint))
    graph.add((endpoint, DCAT.endpointDescription, endpoint))  # GET /sparql: the service description
    graph.add((endpoint, DCAT.servesDataset, node))
    graph.add((endpoint, DCT.conformsTo, URIRef("https://www.w3.org/TR/sparql11-protocol/")))
    for name in DUMPS:
        distribution = kg().mint.distribution(name)
        if (node, DCAT.distribution, distribution) in graph:
            graph.add((distribution, DCAT.accessURL, URIRef(url(f"/dataset/{name}"))))
            graph.add((distribution, DCAT.downloadURL, URIRef(url(f"/dataset/{name}"))))
    return graph


def schema_org() -> dict:
    """The schema.org Dataset that /dataset embeds as JSON-LD (kg.citation builds it)."""
    graph, node = description(), kg().mint.dataset
    modified = graph.value(node, DCT.modified)
    until = int(str(modified)[:4]) if modified is not None and str(modified)[:4].isdigit() else None
    where_when = kg().cached("coverage", lambda: citation.coverage(kg().store, until))
    downloads = [(name, media, title) for name, (media, title) in DUMPS.items() if (kg().build_dir / name).is_file()]
    return citation.schema_org_dataset(graph, node, url=kg().public_url, downloads=downloads, where_when=where_when)


@bp.get("/dataset")
@bp.get(f"/dataset.<any({EXTENSIONS}):extension>")
def dataset(extension: str | None = None):
    chosen = _negotiate(extension)
    if chosen.kind == "graph":
        return _rdf(served_description(), chosen)
    graph = description()
    node = kg().mint.dataset
    stats = kg().stats()
    available = [(name, media, title, (kg().build_dir / name).is_file()) for name, (media, title) in DUMPS.items()]
    classes = sorted(((URIRef(c), n) for c, n in stats["classes"].items()), key=lambda cn: -cn[1])[:25]
    labels = labels_for([c for c, _ in classes])
    title = graph.value(node, DCT.title)
    response = Response(render_template(
        "dataset.html", iri=str(node), title=str(title) if title else "Dataset",
        description=str(graph.value(node, DCT.description) or ""),
        modified=graph.value(node, DCT.modified), licence=str(LICENSE), downloads=available,
        stats=stats, classes=[(term_view(c, labels), n) for c, n in classes],
        datasets=kg().datasets.datasets,
        report_available=(kg().build_dir / "report.json").is_file(),
        schema_org=schema_org(), citations=_citations()))
    response.headers["Vary"] = "Accept"
    return response


def _citations() -> dict[str, str]:
    """The data's citation from CITATION.cff, in each style the page shows."""
    entry = citation.work(citation.load(), "data")
    return {"APA": citation.apa(entry), "BibTeX": citation.bibtex(entry)}


@bp.get("/dataset/<name>")
def download(name: str):
    if name not in DOWNLOADS:
        abort(404)
    path = (kg().build_dir / name).resolve()
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=DOWNLOADS[name], as_attachment=False, download_name=name, conditional=True,
                     max_age=300)


# --- /def -----------------------------------------------------------------------------------


def ontology_graph() -> Graph:
    return kg().cached("ontology_graph", kg().vocabulary.ontology_graph)


@bp.get("/def")
@bp.get(f"/def.<any({EXTENSIONS}):extension>")
def ontology(extension: str | None = None):
    chosen = _negotiate(extension)
    if chosen.kind == "graph":
        return _rdf(ontology_graph(), chosen)
    response = Response(render_template("def.html", **kg().cached("def_page", _def_page)))
    response.headers["Vary"] = "Accept"
    return response


@bp.get("/def/<path:rest>")
def ontology_version(rest: str):
    """The version IRI (…/def/0.1.0) and any path under /def: the ontology document."""
    return redirect(url_for("dataset.ontology"), 303)


def _def_page() -> dict:
    """/def's content (kg.ontology_page), with links to terms and resources as this site makes them."""
    return ontology_documentation(
        kg().vocabulary, kg().catalogue,
        class_counts=kg().stats()["classes"],
        property_counts=kg().store.property_counts(),
        reference_counts=kg().store.reference_counts,
        term=lambda node: term_view(node, {}),
        href=kg().local_href,
    )
