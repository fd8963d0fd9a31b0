"""kg.reason: consistency, the resources to blame, inferred types; naive and scalable agree."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef

from kg.errors import ReasonerError
from kg.provenance import Origin
from kg.reason import _owl2_only, reason
from kg.settings import Settings

HSCP = Namespace("https://w3id.org/hscp/def#")
ORG = Namespace("http://www.w3.org/ns/org#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
BASE = "https://w3id.org/hscp/id/"

# The constructs of the project's ontology, small: a subclass chain, defined classes as
# intersections of named classes, disjoint classes, a functional property with a range,
# a domain, an inverse, and owl:AllDifferent confidence levels.
ONTOLOGY = """
@prefix hscp: <https://w3id.org/hscp/def#> . @prefix org: <http://www.w3.org/ns/org#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix dct: <http://purl.org/dc/terms/> .
<https://w3id.org/hscp/def> a owl:Ontology .
foaf:Agent a owl:Class . org:Organization a owl:Class ; rdfs:subClassOf foaf:Agent .
org:FormalOrganization a owl:Class ; rdfs:subClassOf org:Organization .
org:OrganizationalCollaboration a owl:Class ; rdfs:subClassOf org:Organization ;
  owl:disjointWith org:FormalOrganization .
hscp:Partnership a owl:Class ; rdfs:subClassOf org:Organization .
hscp:StatutoryPartnership a owl:Class ;
  owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( hscp:Partnership org:FormalOrganization ) ] .
hscp:CollaborativePartnership a owl:Class ;
  owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( hscp:Partnership org:OrganizationalCollaboration ) ] .
skos:Concept a owl:Class .
hscp:ConfidenceLevel a owl:Class ; rdfs:subClassOf skos:Concept .
hscp:PartnershipForm a owl:Class ; rdfs:subClassOf skos:Concept .
hscp:Claim a owl:Class .
hscp:GovernanceModeObservation a owl:Class ; rdfs:subClassOf hscp:Claim .
hscp:FrameAttribution a owl:Class ; rdfs:subClassOf hscp:Claim ; owl:disjointWith hscp:GovernanceModeObservation .
hscp:confidence a owl:ObjectProperty, owl:FunctionalProperty ; rdfs:range hscp:ConfidenceLevel .
hscp:form a owl:ObjectProperty ; rdfs:domain hscp:Partnership ; rdfs:range hscp:PartnershipForm .
hscp:about a owl:ObjectProperty ; rdfs:domain hscp:Claim ; owl:inverseOf hscp:subjectOf .
hscp:subjectOf a owl:ObjectProperty .
org:member a owl:ObjectProperty . org:organization a owl:ObjectProperty .
hscp:startYear a owl:DatatypeProperty ; rdfs:range xsd:integer .
hscp:startDate a owl:DatatypeProperty .
<https://w3id.org/hscp/id/confidence/confirmed> a skos:Concept, hscp:ConfidenceLevel .
<https://w3id.org/hscp/id/confidence/partial> a skos:Concept, hscp:ConfidenceLevel .
<https://w3id.org/hscp/id/confidence/unverified> a skos:Concept, hscp:ConfidenceLevel .
[] a owl:AllDifferent ; owl:distinctMembers ( <https://w3id.org/hscp/id/confidence/confirmed>
   <https://w3id.org/hscp/id/confidence/partial> <https://w3id.org/hscp/id/confidence/unverified> ) .
"""


def ontology() -> Graph:
    return Graph().parse(data=ONTOLOGY, format="turtle")


def iri(kind: str, slug: str) -> URIRef:
    return URIRef(f"{BASE}{kind}/{slug}")


def C(level: str) -> URIRef:
    return iri("confidence", level)


def data(n: int = 6) -> Graph:
    """Partnerships (statutory and collaborative), organisations, memberships, claims."""
    g = Graph()
    form = iri("partnership-form", "care-trust")  # typed only by hscp:form's range
    for i in range(n):
        p = iri("partnership", f"p{i}")
        g.add((p, RDF.type, HSCP.Partnership))
        g.add((p, RDF.type, ORG.FormalOrganization if i % 2 else ORG.OrganizationalCollaboration))
        g.add((p, HSCP.form, form))
        g.add((p, HSCP.confidence, C(("confirmed", "partial", "unverified")[i % 3])))
        g.add((p, HSCP.startYear, Literal(2000 + i)))
        g.add((p, HSCP.startDate, Literal(str(2000 + i), datatype=XSD.gYear)))
        for k in range(2):
            o, m = iri("organisation", f"o{i}-{k}"), iri("membership", f"m{i}-{k}")
            g.add((o, RDF.type, ORG.FormalOrganization))
            g.add((m, ORG.member, o))
            g.add((m, ORG.organization, p))
        c = iri("observation", f"c{i}")
        g.add((c, RDF.type, HSCP.GovernanceModeObservation))
        g.add((c, HSCP.about, p))  # the domain makes it an hscp:Claim anyway
        g.add((c, HSCP.confidence, C("partial")))
    return g


def disjoint_clash() -> Graph:
    g = data()
    g.add((iri("partnership", "p1"), RDF.type, ORG.OrganizationalCollaboration))
    return g


def two_confidences() -> Graph:
    g = data()
    g.add((iri("partnership", "p2"), HSCP.confidence, C("confirmed")))
    return g


HERMIT = Settings(reasoner="hermit")
OWLRL = Settings(reasoner="owlrl")
NO_JAVA = Settings(java="no-such-java-kg-test")


def types_of(result, kind: str, slug: str) -> set:
    return set(result.inferred.objects(iri(kind, slug), RDF.type))


def check_expected_types(result):
    assert {HSCP.StatutoryPartnership, ORG.Organization, FOAF.Agent} <= types_of(result, "partnership", "p1")
    assert HSCP.CollaborativePartnership in types_of(result, "partnership", "p0")
    assert HSCP.StatutoryPartnership not in types_of(result, "partnership", "p0")
    assert HSCP.PartnershipForm in types_of(result, "partnership-form", "care-trust")
    assert HSCP.Claim in types_of(result, "observation", "c0")
    # asserted types and owl:Thing are not repeated
    assert HSCP.Partnership not in types_of(result, "partnership", "p1")
    assert not set(result.inferred.triples((None, RDF.type, URIRef("http://www.w3.org/2002/07/owl#Thing"))))


# --- HermiT ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["naive", "scalable"])
def test_hermit_consistent_with_inferred_types(strategy):
    result = reason(ontology(), data(), HERMIT, strategy=strategy)
    assert result.consistent and result.reasoner == "hermit" and result.strategy == strategy
    assert result.culprits == []
    check_expected_types(result)


@pytest.mark.slow
def test_hermit_naive_and_scalable_infer_the_same():
    g = data(12)
    naive = reason(ontology(), g, HERMIT, strategy="naive")
    scalable = reason(ontology(), g, HERMIT, strategy="scalable")
    assert set(naive.inferred) == set(scalable.inferred)
    assert len(naive.inferred) > 0


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["naive", "scalable"])
def test_hermit_disjoint_classes_name_the_resource(strategy):
    origins = {str(iri("partnership", "p1")): Origin("partnership", "partnerships.csv", 3, "p1")}
    result = reason(ontology(), disjoint_clash(), HERMIT, origins=origins, strategy=strategy)
    assert not result.consistent
    assert result.culprits == [str(iri("partnership", "p1"))]
    assert result.locations == ["partnerships.csv:3"]
    assert len(result.inferred) == 0
    assert result.message == (
        "The ontology and the data are inconsistent: <https://w3id.org/hscp/id/partnership/p1> "
        "(partnerships.csv:3) is both an org:FormalOrganization and an "
        "org:OrganizationalCollaboration, which are disjoint."
    )


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["naive", "scalable"])
def test_hermit_two_confidences_name_the_resource(strategy):
    result = reason(ontology(), two_confidences(), HERMIT, strategy=strategy)
    assert not result.consistent
    assert result.culprits == [str(iri("partnership", "p2"))]
    assert "functional property hscp:confidence" in result.message


@pytest.mark.slow
def test_hermit_explains_by_removal_when_no_check_applies():
    # An unsatisfiable combination the scalable checks do not know: x ∈ ¬Partnership.
    onto = ontology().parse(data="""
        @prefix hscp: <https://w3id.org/hscp/def#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
        hscp:NotPartnership a owl:Class ; owl:complementOf hscp:Partnership .""", format="turtle")
    g = data()
    g.add((iri("partnership", "p4"), RDF.type, HSCP.NotPartnership))
    result = reason(onto, g, HERMIT, strategy="naive")
    assert not result.consistent
    assert result.culprits == [str(iri("partnership", "p4"))]
    assert str(iri("partnership", "p4")) in result.message


def test_hermit_required_without_java_is_an_error():
    with pytest.raises(ReasonerError, match="not found on PATH"):
        reason(ontology(), data(), Settings(reasoner="hermit", java="no-such-java-kg-test"))


# --- OWL-RL -------------------------------------------------------------------------------


def test_without_java_owlrl_runs_and_says_so():
    result = reason(ontology(), data(), NO_JAVA)
    assert result.consistent and result.reasoner == "owlrl"
    assert "no-such-java-kg-test not found on PATH: used OWL-RL instead of HermiT" in result.message
    check_expected_types(result)
    assert not set(result.inferred.triples((None, URIRef("http://www.w3.org/2002/07/owl#sameAs"), None)))


@pytest.mark.parametrize("strategy", ["naive", "scalable"])
@pytest.mark.parametrize("graph", [disjoint_clash, two_confidences])
def test_owlrl_inconsistent_fixtures(graph, strategy):
    result = reason(ontology(), graph(), OWLRL, strategy=strategy)
    assert not result.consistent and result.reasoner == "owlrl"
    assert len(result.culprits) == 1 and "/partnership/p" in result.culprits[0]


def test_owlrl_naive_and_scalable_infer_the_same():
    g = data(9)
    naive = reason(ontology(), g, OWLRL, strategy="naive")
    scalable = reason(ontology(), g, OWLRL, strategy="scalable")
    assert set(naive.inferred) == set(scalable.inferred)


@pytest.mark.slow
def test_owlrl_infers_what_hermit_infers():
    g = data()
    assert set(reason(ontology(), g, NO_JAVA).inferred) == set(reason(ontology(), g, HERMIT).inferred)


def test_dates_outside_the_owl2_datatype_map_are_dropped_for_hermit():
    cleaned = _owl2_only(data(2))
    assert not [o for o in cleaned.objects(None, HSCP.startDate)]
    assert [o for o in cleaned.objects(None, HSCP.startYear)]


# --- the project's own ontology, once it exists --------------------------------------------

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"


@pytest.mark.slow
def test_project_ontology_is_consistent_and_both_strategies_agree():
    onto = Graph().parse(ONTOLOGY_DIR / "hscp.ttl")
    for scheme in sorted((ONTOLOGY_DIR / "schemes").glob("*.ttl")):
        onto.parse(scheme)
    g = data()
    naive = reason(onto, g, HERMIT, strategy="naive")
    scalable = reason(onto, g, HERMIT, strategy="scalable")
    assert naive.consistent and scalable.consistent, naive.message
    assert set(naive.inferred) == set(scalable.inferred)


# --- scale (prints timings; run with -s) ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("n", [600, 6000])
def test_scale_naive_vs_scalable(n, capsys):
    """About 10k and 100k data triples."""
    g = data(n)
    t0 = time.perf_counter()
    scalable = reason(ontology(), g, HERMIT, strategy="scalable")
    t1 = time.perf_counter()
    naive = reason(ontology(), g, HERMIT, strategy="naive")
    t2 = time.perf_counter()
    assert set(naive.inferred) == set(scalable.inferred)
    with capsys.disabled():
        print(f"\nHermiT {len(g)} data triples: scalable {t1 - t0:.2f} s, naive {t2 - t1:.2f} s")
