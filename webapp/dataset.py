"""/dataset (VoID + DCAT, dumps, licence, citation, schema.org markup) and /def (the ontology, documented live).

/dataset and /def answer HTML or RDF by ``Accept`` (or ``.ttl``, ``.jsonld``, ``.rdf``,
``.nt``). /def lists every class, property and concept scheme of the ontology with its
definition, how often the data uses it, the SHACL constraints on it and the canned queries
that mention it; each term IRI ``…/def#Term`` is the anchor ``/def#Term`` here. A term marked
``owl:deprecated true`` stays listed, so its IRI keeps resolving, shown as deprecated with the
terms that replace it (``dct:isReplacedBy``).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, OWL, RDF, RDFS, SH, SKOS, VOID

from kg import citation, formats
from kg.build import DUMPS, LICENSE
from kg.namespaces import DCT, HSCP_IRI, ONTOLOGY_IRI, bind_prefixes

from . import negotiation
from .context import kg
from .rendering import curie, labels_for, term_view

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


def _first(graph: Graph, node, *properties) -> str | None:
    for p in properties:
        for o in graph.objects(node, p):
            if isinstance(o, Literal) and (o.language in (None, "en")):
                return str(o)
    return None


def _queries_using() -> dict[str, list]:
    """Term IRI -> canned queries whose text mentions it (as hscp:X or the full IRI)."""
    found: dict[str, list] = {}
    pattern = re.compile(r"hscp:([A-Za-z_][A-Za-z0-9_\-]*)|<" + re.escape(HSCP_IRI) + r"([^>]+)>")
    for query in kg().catalogue:
        for match in set(pattern.findall(query.sparql)):
            iri = HSCP_IRI + (match[0] or match[1])
            found.setdefault(iri, [])
            if query not in found[iri]:
                found[iri].append(query)
    return found


def _constraint(shapes: Graph, shape) -> dict:
    def short(term):
        return curie(term) if isinstance(term, URIRef) else str(term)

    parts = []
    for p, label in ((SH.minCount, "at least"), (SH.maxCount, "at most")):
        value = shapes.value(shape, p)
        if value is not None:
            parts.append(f"{label} {value}")
    for p, label in ((SH["class"], "of class"), (SH.datatype, "of datatype"), (SH.nodeKind, "node kind"),
                     (SH.pattern, "matching"), (SH.hasValue, "equal to")):
        value = shapes.value(shape, p)
        if value is not None:
            parts.append(f"{label} {short(value)}")
    path = shapes.value(shape, SH.path)
    return {"path": short(path) if path is not None else "", "path_iri": str(path) if path is not None else None,
            "rule": ", ".join(parts), "message": _first(shapes, shape, SH.message) or ""}


def _deprecated(graph: Graph, node) -> bool:
    """Whether the term is ``owl:deprecated true``."""
    return any(isinstance(o, Literal) and str(o).strip().lower() in ("true", "1") for o in graph.objects(node, OWL.deprecated))


def _def_page() -> dict:
    vocabulary = kg().vocabulary
    tbox, schemes, shapes = vocabulary.tbox, vocabulary.schemes, vocabulary.shapes
    counts = kg().stats()["classes"]
    property_counts = kg().store.property_counts()
    using = _queries_using()

    shapes_by_class: dict[str, list] = {}
    shapes_by_path: dict[str, list] = {}
    for node_shape in set(shapes.subjects(SH.targetClass, None)):
        targets = [str(c) for c in shapes.objects(node_shape, SH.targetClass)]
        for prop_shape in shapes.objects(node_shape, SH.property):
            constraint = _constraint(shapes, prop_shape)
            for target in targets:
                shapes_by_class.setdefault(target, []).append(constraint)
                if constraint["path_iri"]:
                    shapes_by_path.setdefault(constraint["path_iri"], []).append(dict(constraint, on=curie(target)))

    def term(iri, kind: str) -> dict:
        node = URIRef(iri)
        parents = [term_view(o, {}) for o in tbox.objects(node, RDFS.subClassOf if kind == "class" else RDFS.subPropertyOf)
                   if isinstance(o, URIRef)]
        entry = {
            "iri": iri, "name": iri[len(HSCP_IRI):], "kind": kind,
            "label": _first(tbox, node, RDFS.label, SKOS.prefLabel) or iri[len(HSCP_IRI):],
            "definition": _first(tbox, node, SKOS.definition, RDFS.comment) or "",
            "parents": parents,
            "queries": using.get(iri, []),
            # a deprecated term stays listed (its IRI keeps resolving here), marked, with its replacement
            "deprecated": _deprecated(tbox, node),
            "replaced_by": [term_view(o, {}) for o in sorted(tbox.objects(node, DCT.isReplacedBy), key=str)
                            if isinstance(o, URIRef)],
        }
        if kind == "class":
            entry["count"] = counts.get(iri, 0)
            entry["constraints"] = shapes_by_class.get(iri, [])
        else:
            entry["count"] = property_counts.get(iri, 0)
            entry["constraints"] = shapes_by_path.get(iri, [])
            entry["domain"] = [term_view(o, {}) for o in tbox.objects(node, RDFS.domain) if isinstance(o, URIRef)]
            entry["range"] = [term_view(o, {}) for o in tbox.objects(node, RDFS.range) if isinstance(o, URIRef)]
        return entry

    own = lambda s: isinstance(s, URIRef) and str(s).startswith(HSCP_IRI)  # noqa: E731
    classes = sorted({str(s) for s in tbox.subjects(RDF.type, OWL.Class) if own(s)})
    properties = sorted({str(s) for t in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                         for s in tbox.subjects(RDF.type, t) if own(s)})
    scheme_nodes = sorted(set(schemes.subjects(RDF.type, SKOS.ConceptScheme)), key=str)
    concept_iris = [str(c) for c in schemes.subjects(SKOS.inScheme, None)]
    uses = kg().store.reference_counts(concept_iris)
    scheme_entries = []
    for scheme in scheme_nodes:
        concepts = sorted(set(schemes.subjects(SKOS.inScheme, scheme)), key=str)
        scheme_entries.append({
            "iri": str(scheme), "href": kg().local_href(str(scheme)),
            "label": _first(schemes, scheme, SKOS.prefLabel, DCT.title) or str(scheme),
            "definition": _first(schemes, scheme, SKOS.definition) or "",
            "concepts": [{"iri": str(c), "href": kg().local_href(str(c)),
                          "label": _first(schemes, c, SKOS.prefLabel) or str(c),
                          "notation": str(schemes.value(c, SKOS.notation) or ""),
                          "definition": _first(schemes, c, SKOS.definition) or "",
                          "count": uses.get(str(c), 0)} for c in concepts],
        })
    title = _first(tbox, URIRef(ONTOLOGY_IRI), DCT.title) or "Ontology"
    return {
        "title": title,
        "description": _first(tbox, URIRef(ONTOLOGY_IRI), DCT.description) or "",
        "version": str(tbox.value(URIRef(ONTOLOGY_IRI), OWL.versionInfo) or ""),
        "classes": [term(c, "class") for c in classes],
        "properties": [term(p, "property") for p in properties],
        "schemes": scheme_entries,
        "ontology_iri": ONTOLOGY_IRI,
    }

