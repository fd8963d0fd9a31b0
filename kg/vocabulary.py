"""The ontology folder read once: the TBox, the concept schemes and the SHACL shapes.

Concept schemes are authored under the default base IRI; when ``KG_BASE_IRI`` differs,
their instance IRIs are moved to the configured base as they are read, so a deployment
under another base serves its own concept IRIs.

The ontology header's version (``owl:versionIRI``, ``owl:versionInfo``, ``owl:priorVersion``)
is set as the TBox is read, from the releases record (:mod:`kg.release`): whatever hscp.ttl
says, the build and /def carry ``kg.__version__`` (a test checks that hscp.ttl agrees).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, SKOS

from . import release
from .errors import OntologyFileError
from .namespaces import DEFAULT_BASE_IRI, ONTOLOGY_IRI, bind_prefixes

SCHEME_KIND = "scheme"


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The parsed ontology folder."""

    tbox: Graph  # hscp.ttl
    schemes: Graph  # schemes/*.ttl, merged
    shapes: Graph  # shapes.ttl
    concepts: dict[str, dict[str, URIRef]]  # scheme slug -> concept slug -> IRI
    files: tuple[Path, ...]

    @property
    def slugs(self) -> dict[str, frozenset[str]]:
        """Scheme slug -> allowed concept slugs, as kg.casedata wants them."""
        return {scheme: frozenset(concepts) for scheme, concepts in self.concepts.items()}

    def ontology_graph(self) -> Graph:
        """TBox and schemes in one graph (the build's ontology graph)."""
        graph = Graph()
        bind_prefixes(graph)
        for triple in self.tbox:
            graph.add(triple)
        for triple in self.schemes:
            graph.add(triple)
        return graph


def _parse(path: Path, base_iri: str) -> Graph:
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError:
        raise OntologyFileError(f"{path.name}: missing from the ontology folder {path.parent}") from None
    except Exception as err:  # rdflib raises several unrelated types for bad Turtle
        raise OntologyFileError(f"{path.name}: not valid Turtle ({err})") from None
    if base_iri != DEFAULT_BASE_IRI:
        graph = _rebase(graph, base_iri)
    return graph


def _rebase(graph: Graph, base_iri: str) -> Graph:
    def move(term):
        if isinstance(term, URIRef) and str(term).startswith(DEFAULT_BASE_IRI):
            return URIRef(base_iri + str(term)[len(DEFAULT_BASE_IRI):])
        return term

    moved = Graph()
    for s, p, o in graph:
        moved.add((move(s), p, move(o)))
    return moved


def set_version(tbox: Graph, version: str | None = None) -> None:
    """Give the ontology header (when ``tbox`` declares it) the version IRI and version of
    ``version`` (default: ``kg.__version__``) and, when a release came before it, its prior version."""
    ontology = URIRef(ONTOLOGY_IRI)
    if (ontology, RDF.type, OWL.Ontology) not in tbox:
        return
    version = release.current() if version is None else version
    for prop in (OWL.versionIRI, OWL.versionInfo, OWL.priorVersion):
        tbox.remove((ontology, prop, None))
    tbox.add((ontology, OWL.versionIRI, URIRef(release.ontology_version_iri(version))))
    tbox.add((ontology, OWL.versionInfo, Literal(version)))
    prior = release.previous(version)
    if prior is not None:
        tbox.add((ontology, OWL.priorVersion, URIRef(release.ontology_version_iri(prior))))


def load_vocabulary(folder: Path, base_iri: str = DEFAULT_BASE_IRI) -> Vocabulary:
    """Read ``hscp.ttl``, ``schemes/*.ttl`` and ``shapes.ttl`` from ``folder``.

    :raises OntologyFileError: when a file is missing or is not valid Turtle.
    """
    folder = Path(folder)
    tbox = _parse(folder / "hscp.ttl", base_iri)
    set_version(tbox)
    scheme_files = sorted((folder / "schemes").glob("*.ttl"))
    if not scheme_files:
        raise OntologyFileError(f"no concept schemes (*.ttl) in {folder / 'schemes'}")
    schemes = Graph()
    for path in scheme_files:
        for triple in _parse(path, base_iri):
            schemes.add(triple)
    shapes = _parse(folder / "shapes.ttl", base_iri)

    scheme_prefix = base_iri + SCHEME_KIND + "/"
    concepts: dict[str, dict[str, URIRef]] = {}
    for concept, scheme in schemes.subject_objects(SKOS.inScheme):
        if not str(scheme).startswith(scheme_prefix):
            continue
        scheme_slug = str(scheme)[len(scheme_prefix):]
        notation = schemes.value(concept, SKOS.notation)
        slug = str(notation) if notation is not None else str(concept).rsplit("/", 1)[-1]
        concepts.setdefault(scheme_slug, {})[slug] = concept
    return Vocabulary(tbox, schemes, shapes, concepts, (folder / "hscp.ttl", *scheme_files, folder / "shapes.ttl"))
