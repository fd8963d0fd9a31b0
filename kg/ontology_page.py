"""The ontology documented live: every class, property and concept scheme, as /def shows them.

For each term: its label and definition, its parents, how often the data uses it (instances of
a class, triples of a property, references to a concept), the SHACL constraints on it, and the
canned queries that mention it. A term marked ``owl:deprecated true`` stays listed, so its IRI
keeps resolving, marked as deprecated with the terms that replace it (``dct:isReplacedBy``).

The web layer renders the result (webapp/dataset.py); the links to other terms and resources
are its business, so it passes ``term`` (a term IRI to what a template shows for it) and
``href`` (an IRI to a link).

>>> from rdflib import Graph
>>> g = Graph().parse(data="@prefix sh: <http://www.w3.org/ns/shacl#> . "
...                        "<urn:s> sh:path <urn:p> ; sh:minCount 1 ; sh:message 'needs one'@en .", format="turtle")
>>> constraint(g, URIRef("urn:s"))["rule"], constraint(g, URIRef("urn:s"))["message"]
('at least 1', 'needs one')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from .namespaces import DCT, HSCP_IRI, ONTOLOGY_IRI, curie

__all__ = ["constraint", "ontology_documentation", "queries_using"]


def first_text(graph: Graph, node, *properties) -> str | None:
    """The first English (or untagged) literal of ``node`` under the first property that has one."""
    for p in properties:
        for o in graph.objects(node, p):
            if isinstance(o, Literal) and (o.language in (None, "en")):
                return str(o)
    return None


def queries_using(catalogue: Iterable) -> dict[str, list]:
    """Term IRI -> canned queries whose text mentions it (as hscp:X or the full IRI)."""
    found: dict[str, list] = {}
    pattern = re.compile(r"hscp:([A-Za-z_][A-Za-z0-9_\-]*)|<" + re.escape(HSCP_IRI) + r"([^>]+)>")
    for query in catalogue:
        for match in set(pattern.findall(query.sparql)):
            iri = HSCP_IRI + (match[0] or match[1])
            found.setdefault(iri, [])
            if query not in found[iri]:
                found[iri].append(query)
    return found


def constraint(shapes: Graph, shape) -> dict:
    """One property shape in words: its path, its rule (``at least 1, of class hscp:X``), its message."""
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
            "rule": ", ".join(parts), "message": first_text(shapes, shape, SH.message) or ""}


def _deprecated(graph: Graph, node) -> bool:
    """Whether the term is ``owl:deprecated true``."""
    return any(isinstance(o, Literal) and str(o).strip().lower() in ("true", "1") for o in graph.objects(node, OWL.deprecated))


def ontology_documentation(vocabulary, catalogue: Iterable, *, class_counts: Mapping[str, int],
                           property_counts: Mapping[str, int],
                           reference_counts: Callable[[list[str]], Mapping[str, int]],
                           term: Callable[[URIRef], object], href: Callable[[str], str]) -> dict:
    """Everything /def shows, from the vocabulary (ontology, schemes, shapes) and the data's counts.

    ``class_counts``: instances per class IRI; ``property_counts``: triples per property IRI;
    ``reference_counts(iris)``: triples pointing at each concept IRI.
    """
    tbox, schemes, shapes = vocabulary.tbox, vocabulary.schemes, vocabulary.shapes
    using = queries_using(catalogue)

    shapes_by_class: dict[str, list] = {}
    shapes_by_path: dict[str, list] = {}
    for node_shape in set(shapes.subjects(SH.targetClass, None)):
        targets = [str(c) for c in shapes.objects(node_shape, SH.targetClass)]
        for prop_shape in shapes.objects(node_shape, SH.property):
            found = constraint(shapes, prop_shape)
            for target in targets:
                shapes_by_class.setdefault(target, []).append(found)
                if found["path_iri"]:
                    shapes_by_path.setdefault(found["path_iri"], []).append(dict(found, on=curie(target)))

    def entry(iri: str, kind: str) -> dict:
        node = URIRef(iri)
        parents = [term(o) for o in tbox.objects(node, RDFS.subClassOf if kind == "class" else RDFS.subPropertyOf)
                   if isinstance(o, URIRef)]
        found = {
            "iri": iri, "name": iri[len(HSCP_IRI):], "kind": kind,
            "label": first_text(tbox, node, RDFS.label, SKOS.prefLabel) or iri[len(HSCP_IRI):],
            "definition": first_text(tbox, node, SKOS.definition, RDFS.comment) or "",
            "parents": parents,
            "queries": using.get(iri, []),
            # a deprecated term stays listed (its IRI keeps resolving), marked, with its replacement
            "deprecated": _deprecated(tbox, node),
            "replaced_by": [term(o) for o in sorted(tbox.objects(node, DCT.isReplacedBy), key=str)
                            if isinstance(o, URIRef)],
        }
        if kind == "class":
            found["count"] = class_counts.get(iri, 0)
            found["constraints"] = shapes_by_class.get(iri, [])
        else:
            found["count"] = property_counts.get(iri, 0)
            found["constraints"] = shapes_by_path.get(iri, [])
            found["domain"] = [term(o) for o in tbox.objects(node, RDFS.domain) if isinstance(o, URIRef)]
            found["range"] = [term(o) for o in tbox.objects(node, RDFS.range) if isinstance(o, URIRef)]
        return found

    def own(s) -> bool:
        return isinstance(s, URIRef) and str(s).startswith(HSCP_IRI)

    classes = sorted({str(s) for s in tbox.subjects(RDF.type, OWL.Class) if own(s)})
    properties = sorted({str(s) for t in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                         for s in tbox.subjects(RDF.type, t) if own(s)})
    scheme_nodes = sorted(set(schemes.subjects(RDF.type, SKOS.ConceptScheme)), key=str)
    uses = reference_counts([str(c) for c in schemes.subjects(SKOS.inScheme, None)])
    scheme_entries = []
    for scheme in scheme_nodes:
        concepts = sorted(set(schemes.subjects(SKOS.inScheme, scheme)), key=str)
        scheme_entries.append({
            "iri": str(scheme), "href": href(str(scheme)),
            "label": first_text(schemes, scheme, SKOS.prefLabel, DCT.title) or str(scheme),
            "definition": first_text(schemes, scheme, SKOS.definition) or "",
            "concepts": [{"iri": str(c), "href": href(str(c)),
                          "label": first_text(schemes, c, SKOS.prefLabel) or str(c),
                          "notation": str(schemes.value(c, SKOS.notation) or ""),
                          "definition": first_text(schemes, c, SKOS.definition) or "",
                          "count": uses.get(str(c), 0)} for c in concepts],
        })
    ontology = URIRef(ONTOLOGY_IRI)
    return {
        "title": first_text(tbox, ontology, DCT.title) or "Ontology",
        "description": first_text(tbox, ontology, DCT.description) or "",
        "version": str(tbox.value(ontology, OWL.versionInfo) or ""),
        "classes": [entry(c, "class") for c in classes],
        "properties": [entry(p, "property") for p in properties],
        "schemes": scheme_entries,
        "ontology_iri": ONTOLOGY_IRI,
    }
