"""Records -> RDF: each table's rows become typed resources with source, confidence and origin."""

from __future__ import annotations

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, ORG, RDF, SKOS, TIME, XSD

from kg.build import read_inputs
from kg.mapping import Minter, to_graph
from kg.namespaces import HSCP

BASE = "https://w3id.org/hscp/id/"
ID = Minter(BASE)


def mapped(settings):
    vocabulary, data = read_inputs(settings)
    return to_graph(data, vocabulary, settings.base_iri)


def test_partnership_is_typed_dated_and_sourced(settings):
    g = mapped(settings).graph
    torbay = ID.resource("partnership", "torbay-care-trust")
    assert {HSCP.Partnership, ORG.FormalOrganization} <= set(g.objects(torbay, RDF.type))
    assert g.value(torbay, HSCP.form) == ID.resource("partnership-form", "care-trust")
    assert g.value(torbay, HSCP.jurisdiction) == ID.resource("jurisdiction", "england")
    assert g.value(torbay, HSCP.startDate) == Literal("2005-10", datatype=XSD.gYearMonth)
    assert g.value(torbay, HSCP.startYear) == Literal(2005, datatype=XSD.integer)
    assert g.value(torbay, DCTERMS.source) == ID.resource("source", "glasby-2008")
    assert g.value(torbay, HSCP.confidence) == ID.concept("confidence", "confirmed")


def test_membership_has_an_owl_time_interval(settings):
    g = mapped(settings).graph
    m = ID.resource("membership", "torbay-council-in-torbay-care-trust")
    assert g.value(m, ORG.organization) == ID.resource("partnership", "torbay-care-trust")
    assert g.value(m, ORG.member) == ID.resource("organisation", "torbay-council")
    assert g.value(m, ORG.role) == ID.concept("role", "member")
    interval = g.value(m, ORG.memberDuring)
    assert (interval, RDF.type, TIME.Interval) in g
    start = g.value(interval, TIME.hasBeginning)
    assert g.value(start, TIME.inXSDgYearMonth) == Literal("2005-12", datatype=XSD.gYearMonth)
    assert g.value(interval, TIME.hasEnd) is None


def test_claims_point_at_their_subject_and_value(settings):
    g = mapped(settings).graph
    obs = ID.resource("observation", "torbay-hierarchy")
    assert (obs, RDF.type, HSCP.GovernanceModeObservation) in g
    assert g.value(obs, HSCP.about) == ID.resource("partnership", "torbay-care-trust")
    assert g.value(obs, HSCP.governanceMode) == ID.concept("governance-mode", "hierarchy")
    frame = ID.resource("observation", "care-trust-structural")
    assert g.value(frame, HSCP.frame) == ID.concept("frame", "structural")
    assert g.value(frame, HSCP.about) == ID.resource("partnership-form", "care-trust")
    aim = ID.resource("statement", "care-trust-aim")
    assert (aim, RDF.type, HSCP.StatedAim) in g
    assert g.value(aim, HSCP.outcomeDomain) == ID.concept("ascof-2011", "enhancing-quality-of-life")
    outcome = ID.resource("outcome", "torbay-outcome")
    assert g.value(outcome, HSCP.direction) == ID.concept("direction", "unclear")
    assert g.value(outcome, HSCP.evaluation) == ID.resource("evaluation", "poet-torbay")


def test_indicator_is_a_data_cube_observation(settings):
    g = mapped(settings).graph
    obs = ID.resource("indicator", "scotland-budget")
    assert g.value(obs, HSCP.value) == Literal("8500000000", datatype=XSD.decimal)
    assert g.value(obs, HSCP.refSubject) == ID.resource("jurisdiction", "scotland")
    assert g.value(obs, HSCP.unit) == ID.concept("unit", "gbp")


def test_concept_references_resolve_to_scheme_concepts(settings, vocabulary):
    """Every concept IRI the mapping uses is defined in ontology/schemes (no dangling concept)."""
    g = mapped(settings).graph
    defined = {iri for concepts in vocabulary.concepts.values() for iri in concepts.values()}
    used = {o for p in (HSCP.confidence, HSCP.sector, HSCP.governanceMode, HSCP.frame, HSCP.direction,
                        HSCP.outcomeDomain, ORG.role, HSCP.unit, HSCP.indicator, HSCP.purpose,
                        HSCP.evaluationDimension, HSCP.respondentGroup, HSCP.changeKind, HSCP.dimension)
            for o in g.objects(None, p)}
    assert used and used <= defined, used - defined


def test_every_resource_remembers_its_row(settings):
    result = mapped(settings)
    origin = result.origins[str(ID.resource("partnership", "ayrshire-ijb"))]
    assert (origin.path, origin.row, origin.table) == ("partnerships.csv", 3, "partnerships")
    assert str(origin) == "partnerships.csv:3"


def test_alt_labels_and_jurisdiction_scheme(settings):
    g = mapped(settings).graph
    poet = ID.resource("evaluation-design", "poet")
    assert {str(x) for x in g.objects(poet, SKOS.altLabel)} == {
        "Partnership Outcomes Evaluation Toolkit", "Partnerships Outcomes Evaluation Toolkit"}
    england = ID.resource("jurisdiction", "england")
    assert g.value(england, SKOS.broader) == ID.resource("jurisdiction", "united-kingdom")
    assert g.value(england, SKOS.exactMatch) == URIRef("http://www.wikidata.org/entity/Q21")


def test_minter_splits_what_it_mints():
    iri = ID.resource("partnership", "torbay-care-trust")
    assert ID.split(str(iri)) == ("partnership", "torbay-care-trust")
    assert ID.split("https://example.org/x") is None
    assert ID.split(str(iri) + "#period") is None
