"""Every namespace and IRI base partnership-kg uses, in one place."""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, QB, RDF, RDFS, SH, SKOS, TIME, VOID, XSD

HSCP_IRI = "https://w3id.org/hscp/def#"
ONTOLOGY_IRI = "https://w3id.org/hscp/def"
DEFAULT_BASE_IRI = "https://w3id.org/hscp/id/"

HSCP = Namespace(HSCP_IRI)
SCHEMA = Namespace("https://schema.org/")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
PAV = Namespace("http://purl.org/pav/")  # Provenance, Authoring and Versioning: pav:previousVersion
DCT = DCTERMS
DCAT_VERSION = URIRef(str(DCAT) + "version")  # DCAT 3's dcat:version, which rdflib's DCAT does not list yet

# Named graphs inside a build (graph.nq): the TBox and schemes, the mapped case data, what the
# reasoner inferred, and the dataset's own VoID/DCAT description.
GRAPH_BASE = "https://w3id.org/hscp/graph/"
GRAPH_NAMES = ("ontology", "data", "inferred", "metadata")


STUDY_GRAPH = "study/"  # a study's case data: graph/study/{slug}, beside graph/data (the bundled data)


def graph_iri(name: str) -> str:
    """IRI of one of the build's named graphs (``name`` in GRAPH_NAMES, or ``study/{slug}``)."""
    if name not in GRAPH_NAMES and not (name.startswith(STUDY_GRAPH) and len(name) > len(STUDY_GRAPH)):
        raise ValueError(f"no named graph {name!r}; the graphs are {', '.join(GRAPH_NAMES)} and study/SLUG")
    return GRAPH_BASE + name

PREFIXES = {
    "hscp": HSCP,
    "org": ORG,
    "prov": PROV,
    "skos": SKOS,
    "dct": DCTERMS,
    "dcat": DCAT,
    "void": VOID,
    "qb": QB,
    "time": TIME,
    "foaf": FOAF,
    "schema": SCHEMA,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "sh": SH,
    "sd": SD,
    "pav": PAV,
}


def bind_prefixes(graph) -> None:
    """Bind the project's prefixes on an rdflib graph (for readable serialisations)."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)


def sparql_prologue() -> str:
    """PREFIX lines for every namespace in PREFIXES (used by the CLI and the editor)."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


_PREFIX_ITEMS = sorted(((str(ns), prefix) for prefix, ns in PREFIXES.items()), key=lambda kv: -len(kv[0]))


def curie(iri: str) -> str:
    """``hscp:Partnership`` for a term in a known namespace, else the IRI itself.

    >>> curie("http://www.w3.org/2004/02/skos/core#prefLabel"), curie("urn:x")
    ('skos:prefLabel', 'urn:x')
    """
    iri = str(iri)
    for namespace, prefix in _PREFIX_ITEMS:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            rest = iri[len(namespace):]
            if "/" not in rest and "#" not in rest:
                return f"{prefix}:{rest}"
    return iri
