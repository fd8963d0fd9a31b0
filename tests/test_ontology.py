"""The ontology layer: hscp.ttl, the concept schemes, the SHACL shapes and the competency questions."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyshacl
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS, XSD
from rdflib.plugins.sparql import prepareQuery

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT / "ontology"
HSCP = "https://w3id.org/hscp/def#"
BASE = "https://w3id.org/hscp/id/"
ONTOLOGY_IRI = URIRef("https://w3id.org/hscp/def")
CONFIDENCE = URIRef(HSCP + "confidence")

# The concept schemes of the working spec: scheme slug -> (class of its concepts, concept slugs).
SCHEMES = {
    "frame": ("hscp:Frame", "structural social-challenges high-performance third-way"),
    "governance-mode": ("hscp:GovernanceMode", "hierarchy market network hybrid"),
    "confidence": ("hscp:ConfidenceLevel", "confirmed partial unverified"),
    "sector": ("hscp:Sector", "health social-care local-government housing education voluntary private insurance academic"),
    "role": ("org:Role", "member host lead-commissioner commissioner provider funder owner manager partner"),
    "direction": ("hscp:EffectDirection", "improved worsened no-change mixed unclear not-reported"),
    "leutz-level": ("hscp:IntegrationLevel", "linkage coordination full-integration"),
    "rainbow-model": ("hscp:IntegrationDimension", "system organisational professional clinical functional normative"),
    "selfie": (None, "service-delivery leadership-and-governance workforce financing technologies-and-medical-products information-and-research"),
    "pat-principle": (None, "recognise-need clarity-of-purpose commitment-and-ownership trust robust-arrangements monitor-measure-learn"),
    "green-paper-2005": ("hscp:OutcomeDomain", "improved-health improved-quality-of-life making-a-positive-contribution choice-and-control economic-wellbeing personal-dignity freedom-from-discrimination"),
    "ascof-2011": ("hscp:OutcomeDomain", "enhancing-quality-of-life delaying-and-reducing-need positive-experience safeguarding"),
    "care-act-2014": ("hscp:OutcomeDomain", "personal-dignity health-and-wellbeing protection-from-abuse control-over-daily-life participation social-and-economic-wellbeing relationships suitable-accommodation contribution-to-society"),
    "evaluation-purpose": ("hscp:EvaluationPurpose", "formative summative"),
    "evaluation-dimension": ("hscp:EvaluationDimension", "process outcome"),
    "respondent-group": ("hscp:RespondentGroup", "staff service-users-and-carers"),
    "change-kind": ("hscp:ChangeKind", "rename merger designation abolition establishment"),
    "indicator": ("hscp:Indicator", "budget population-covered count-of-bodies count-of-members count-of-staff spending count-of-participants count-of-providers share"),
    "unit": ("hscp:Unit", "gbp eur people bodies organisations usd cad aud nzd sgd sek dkk nok percent staff beds"),
    "dimension": ("hscp:ObservationDimension", "governance-mode frame integration-level integration-dimension integration-scope integration-domain budget-integration provider-payment legal-basis statutory-status sectors"),
    "rainbow-scope": ("hscp:IntegrationScope", "person-focused population-based"),
    "kodner-domain": ("hscp:IntegrationDomain", "funding administrative organisational service-delivery clinical"),
    "budget-integration": ("hscp:BudgetIntegration", "none aligned pooled delegated structural"),
    "provider-payment": ("hscp:ProviderPayment", "fee-for-service pay-for-coordination pay-for-performance bundled-payment shared-savings capitation-global-budget"),
    "legal-basis": ("hscp:LegalBasisKind", "statute contract voluntary-agreement"),
    "statutory-status": ("hscp:StatutoryStatus", "mandatory permissive non-statutory"),
    "service-sector": ("hscp:ServiceSector", "acute-care primary-care community-health mental-health adult-social-care long-term-care childrens-services public-health housing criminal-justice education employment-welfare pharmacy"),
    "study-design": ("hscp:StudyDesign", "rct cluster-rct difference-in-differences interrupted-time-series controlled-comparison uncontrolled-before-after systematic-review economic mixed-methods realist qualitative descriptive audit-or-review"),
    "evaluator": ("hscp:EvaluatorKind", "independent programme-affiliated audit-body"),
    "outcome-measure": ("hscp:OutcomeMeasure", "emergency-admissions ed-attendance delayed-discharge length-of-stay readmissions mortality cost quality-of-care user-experience quality-of-life staff-outcomes process-integration service-use access"),
    "context-topic": ("hscp:ContextTopic", "health-financing health-provision social-care-financing social-care-provision governance population-and-need"),
    "government-level": ("hscp:GovernmentLevel", "national regional local social-insurance private"),
    "event-kind": ("hscp:EventKind", "legislation policy establishment abolition funding evaluation"),
}

# Source ids the schemes may cite (rows of data/sources.csv).
SOURCE_IDS = {
    "dickinson-2010-thesis", "dickinson-2007-poet", "glasby-dickinson-2008-ijic", "powell-1990",
    "thompson-2003", "glendinning-2002", "leutz-1999", "valentijn-2013-rmic", "leijten-2018-selfie",
    "hardy-2003-pat", "health-foundation-green-paper", "health-foundation-ascof", "care-act-wellbeing",
    "project-controlled-vocabulary",
    "frm10", "frm22", "frm56", "frm73", "frm80", "frm82", "frm124", "frm131",
}

PREFIXES = """
@prefix hscp:   <https://w3id.org/hscp/def#> .
@prefix rdf:    <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .
@prefix owl:    <http://www.w3.org/2002/07/owl#> .
@prefix org:    <http://www.w3.org/ns/org#> .
@prefix prov:   <http://www.w3.org/ns/prov#> .
@prefix skos:   <http://www.w3.org/2004/02/skos/core#> .
@prefix dct:    <http://purl.org/dc/terms/> .
@prefix foaf:   <http://xmlns.com/foaf/0.1/> .
@prefix time:   <http://www.w3.org/2006/time#> .
@prefix qb:     <http://purl.org/linked-data/cube#> .
@prefix schema: <https://schema.org/> .
@prefix src:    <https://w3id.org/hscp/id/source/> .
@prefix conf:   <https://w3id.org/hscp/id/confidence/> .
@prefix jur:    <https://w3id.org/hscp/id/jurisdiction/> .
@prefix leg:    <https://w3id.org/hscp/id/legislation/> .
@prefix form:   <https://w3id.org/hscp/id/partnership-form/> .
@prefix orgn:   <https://w3id.org/hscp/id/organisation/> .
@prefix part:   <https://w3id.org/hscp/id/partnership/> .
@prefix mem:    <https://w3id.org/hscp/id/membership/> .
@prefix chg:    <https://w3id.org/hscp/id/change/> .
@prefix obs:    <https://w3id.org/hscp/id/observation/> .
@prefix stm:    <https://w3id.org/hscp/id/statement/> .
@prefix out:    <https://w3id.org/hscp/id/outcome/> .
@prefix ind:    <https://w3id.org/hscp/id/indicator/> .
@prefix des:    <https://w3id.org/hscp/id/evaluation-design/> .
@prefix ins:    <https://w3id.org/hscp/id/instrument/> .
@prefix evl:    <https://w3id.org/hscp/id/evaluation/> .
@prefix id:     <https://w3id.org/hscp/id/> .
"""

# The smallest instance graph that touches every table, written as the mapping should emit it.
VALID = PREFIXES + """
src:s1 a dct:BibliographicResource , schema:Report ;
    dct:bibliographicCitation "Example report on partnerships (2016)." ; dct:issued "2016"^^xsd:gYear ;
    foaf:page <https://example.org/report> ; hscp:confidence conf:confirmed .

jur:united-kingdom a hscp:Jurisdiction ; rdfs:label "United Kingdom" ; skos:notation "GB" ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
jur:scotland a hscp:Jurisdiction ; rdfs:label "Scotland" ; skos:notation "GB-SCT" ; skos:broader jur:united-kingdom ;
    skos:exactMatch <http://www.wikidata.org/entity/Q22> ; dct:source src:s1 ; hscp:confidence conf:confirmed .
jur:england a hscp:Jurisdiction ; rdfs:label "England" ; skos:notation "GB-ENG" ; skos:broader jur:united-kingdom ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .

leg:public-bodies-joint-working-scotland-act-2014 a hscp:Legislation ; rdfs:label "Public Bodies (Joint Working) (Scotland) Act 2014" ;
    owl:sameAs <http://www.legislation.gov.uk/id/asp/2014/9> ; hscp:jurisdiction jur:scotland ;
    hscp:startDate "2014-04-01"^^xsd:date ; hscp:startYear 2014 ; dct:source src:s1 ; hscp:confidence conf:confirmed .

form:integration-joint-board a hscp:PartnershipForm ; rdfs:label "Integration joint board" ;
    skos:definition "A body corporate to which a health board and a council delegate functions." ;
    hscp:jurisdiction jur:scotland ; hscp:enabledBy leg:public-bodies-joint-working-scotland-act-2014 ;
    hscp:legalEntity true ; dct:source src:s1 ; hscp:confidence conf:confirmed .
form:care-trust a hscp:PartnershipForm ; rdfs:label "Care trust" ; hscp:jurisdiction jur:england ;
    hscp:legalEntity true ; dct:source src:s1 ; hscp:confidence conf:confirmed .

orgn:nhs-ayrshire-and-arran a org:Organization ; rdfs:label "NHS Ayrshire and Arran" ; hscp:sector id:sector\\/health ;
    hscp:jurisdiction jur:scotland ; dct:source src:s1 ; hscp:confidence conf:confirmed .
orgn:hsmc a org:Organization ; rdfs:label "Health Services Management Centre" ; hscp:sector id:sector\\/academic ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .

part:east-ayrshire-ijb a hscp:Partnership , org:FormalOrganization ; rdfs:label "East Ayrshire Integration Joint Board" ;
    hscp:form form:integration-joint-board ; hscp:jurisdiction jur:scotland ;
    hscp:startDate "2015-04"^^xsd:gYearMonth ; hscp:startYear 2015 ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
part:torbay-care-trust a hscp:Partnership , org:FormalOrganization ; rdfs:label "Torbay Care Trust" ;
    hscp:form form:care-trust ; hscp:jurisdiction jur:england ;
    hscp:startDate "2005"^^xsd:gYear ; hscp:startYear 2005 ; hscp:endDate "2012"^^xsd:gYear ; hscp:endYear 2012 ;
    dct:source src:s1 ; hscp:confidence conf:partial .

mem:ayrshire-health a org:Membership ; org:member orgn:nhs-ayrshire-and-arran ; org:organization part:east-ayrshire-ijb ;
    org:role id:role\\/partner ;
    org:memberDuring [ a time:Interval ; time:hasBeginning [ a time:Instant ; time:inXSDgYear "2015"^^xsd:gYear ] ] ;
    hscp:startDate "2015"^^xsd:gYear ; hscp:startYear 2015 ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .

chg:torbay-merger a org:ChangeEvent ; rdfs:label "Torbay Care Trust merges into a combined trust" ;
    hscp:changeKind id:change-kind\\/merger ; org:originalOrganization part:torbay-care-trust ;
    hscp:startDate "2015-10-01"^^xsd:date ; hscp:startYear 2015 ; dct:source src:s1 ; hscp:confidence conf:confirmed .

obs:east-ayrshire-network a hscp:GovernanceModeObservation ; hscp:about part:east-ayrshire-ijb ;
    hscp:dimension id:dimension\\/governance-mode ; hscp:governanceMode id:governance-mode\\/network ;
    hscp:placement id:governance-mode\\/network ; hscp:analystDerived false ;
    hscp:observer "project analysts" ; hscp:startYear 2016 ; hscp:startDate "2016"^^xsd:gYear ;
    dct:source src:s1 ; hscp:confidence conf:partial ; rdfs:comment "analyst's label, not the source's" .
obs:east-ayrshire-leutz a hscp:IntegrationClassification ; hscp:about part:east-ayrshire-ijb ;
    hscp:dimension id:dimension\\/integration-level ; hscp:integrationLevel id:leutz-level\\/full-integration ;
    hscp:placement id:leutz-level\\/full-integration ; hscp:analystDerived false ;
    dct:source src:s1 ; hscp:confidence conf:partial .
obs:care-trust-frame a hscp:FrameAttribution ; hscp:about form:care-trust ;
    hscp:dimension id:dimension\\/frame ; hscp:frame id:frame\\/structural ;
    hscp:placement id:frame\\/structural ; hscp:analystDerived false ;
    dct:source src:s1 ; hscp:confidence conf:unverified .

stm:east-ayrshire-aim a hscp:StatedAim ; hscp:about part:east-ayrshire-ijb ;
    hscp:statement "Better outcomes for people who use services." ; hscp:outcomeDomain id:care-act-2014\\/health-and-wellbeing ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
stm:torbay-driver a hscp:ObservedDriver ; hscp:about part:torbay-care-trust ;
    hscp:statement "Reducing delayed discharges from hospital."@en ; hscp:frame id:frame\\/high-performance ;
    dct:source src:s1 ; hscp:confidence conf:partial .

out:torbay-delays a hscp:OutcomeEvidence ; hscp:about part:torbay-care-trust ;
    hscp:outcomeDomain id:ascof-2011\\/delaying-and-reducing-need ; hscp:direction id:direction\\/improved ;
    hscp:measure "delayed transfers of care"@en ; hscp:method "before-and-after comparison"@en ;
    hscp:evaluation evl:torbay-poet ; dct:source src:s1 ; hscp:confidence conf:partial .

ind:east-ayrshire-budget-2016 a hscp:IndicatorObservation ; hscp:refSubject part:east-ayrshire-ijb ; hscp:about part:east-ayrshire-ijb ;
    hscp:indicator id:indicator\\/budget ; hscp:value 245000000.0 ; hscp:unit id:unit\\/gbp ; hscp:refPeriod "2016/17" ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .

des:poet a hscp:EvaluationDesign ; rdfs:label "POET" ; skos:altLabel "Partnership Outcomes Evaluation Toolkit" ;
    hscp:developedBy orgn:hsmc ; hscp:purpose id:evaluation-purpose\\/formative ;
    hscp:evaluationDimension id:evaluation-dimension\\/process , id:evaluation-dimension\\/outcome ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
des:poetq a hscp:EvaluationDesign ; rdfs:label "POETQ" ; prov:wasRevisionOf des:poet ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
ins:poet-staff-survey a hscp:Instrument ; rdfs:label "Staff survey" ; hscp:instrumentOf des:poet ;
    hscp:respondentGroup id:respondent-group\\/staff ; hscp:stage 1 ; hscp:method "online survey" ;
    dct:source src:s1 ; hscp:confidence conf:confirmed .
evl:torbay-poet a hscp:Evaluation ; rdfs:label "POET at Torbay" ; hscp:usedDesign des:poet ; hscp:evaluated part:torbay-care-trust ;
    hscp:startDate "2008"^^xsd:gYear ; hscp:startYear 2008 ; dct:source src:s1 ; hscp:confidence conf:confirmed .
"""


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tbox() -> Graph:
    return Graph().parse(ONTOLOGY / "hscp.ttl", format="turtle")


@pytest.fixture(scope="module")
def schemes() -> Graph:
    graph = Graph()
    for path in sorted((ONTOLOGY / "schemes").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return Graph().parse(ONTOLOGY / "shapes.ttl", format="turtle")


@pytest.fixture(scope="module")
def vocabulary(tbox, schemes) -> Graph:
    return tbox + schemes


def competency_files() -> list[Path]:
    return sorted((ONTOLOGY / "competency").glob("cq*.rq"))


def hscp_terms(tbox: Graph) -> set[URIRef]:
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    return {s for kind in kinds for s in tbox.subjects(RDF.type, kind) if str(s).startswith(HSCP)}


def terms_in_text(text: str) -> set[URIRef]:
    found = {URIRef(HSCP + name) for name in re.findall(r"\bhscp:([A-Za-z][A-Za-z0-9_]*)", text)}
    found |= {URIRef(iri) for iri in re.findall(r"<(https://w3id\.org/hscp/def#[A-Za-z0-9_]+)>", text)}
    return found


def terms_in_graph(graph: Graph) -> set[URIRef]:
    return {term for triple in graph for term in triple if isinstance(term, URIRef) and str(term).startswith(HSCP)}


def query_texts() -> list[str]:
    paths = competency_files() + sorted((ROOT / "queries").glob("*.rq"))
    return [path.read_text(encoding="utf-8") for path in paths]


def violations(data_turtle: str, shapes: Graph, vocabulary: Graph) -> list[tuple]:
    """(focus node, result path, message) of every violation of the shapes in the given data.

    The concept schemes and the class hierarchy are part of the data graph, as in a build:
    pySHACL's ont_graph would only bring in class and property axioms, not the concepts' types.
    """
    data = vocabulary + Graph().parse(data=data_turtle, format="turtle")
    conforms, report, _ = pyshacl.validate(data, shacl_graph=shapes)
    found = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        found.append((report.value(result, SH.focusNode), report.value(result, SH.resultPath),
                      str(report.value(result, SH.resultMessage))))
    assert conforms == (not found)
    return found


# --- the ontology document ------------------------------------------------------------------------


def test_ontology_and_schemes_parse(tbox, schemes, shapes):
    assert len(tbox) > 100
    assert len(schemes) > 500
    assert len(shapes) > 100


def test_ontology_header_has_title_description_version_licence_creators(tbox):
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in tbox
    for prop in (DCTERMS.title, DCTERMS.description, DCTERMS.creator, DCTERMS.created, DCTERMS.modified, OWL.versionInfo):
        assert tbox.value(ONTOLOGY_IRI, prop) is not None, prop
    assert tbox.value(ONTOLOGY_IRI, OWL.versionIRI) == URIRef("https://w3id.org/hscp/def/0.1.0")
    assert tbox.value(ONTOLOGY_IRI, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")


def test_nothing_is_imported(tbox, shapes):
    assert not list(tbox.objects(None, OWL.imports))
    assert not list(shapes.objects(None, OWL.imports))


def test_every_hscp_term_has_label_definition_and_is_defined_by_the_ontology(tbox):
    terms = hscp_terms(tbox)
    assert len(terms) > 60
    for term in terms:
        assert tbox.value(term, RDFS.label) is not None, f"{term} has no rdfs:label"
        assert (tbox.value(term, SKOS.definition) or tbox.value(term, RDFS.comment)) is not None, f"{term} has no definition"
        assert tbox.value(term, RDFS.isDefinedBy) == ONTOLOGY_IRI, f"{term} lacks rdfs:isDefinedBy"


def test_every_hscp_iri_used_in_the_layer_is_declared(tbox, schemes, shapes):
    declared = hscp_terms(tbox) | {URIRef(HSCP + "indicatorStructure")}
    used = terms_in_graph(schemes) | terms_in_graph(shapes) | terms_in_graph(tbox)
    for text in query_texts():
        used |= terms_in_text(text)
    assert used - declared == set()


def test_every_property_is_typed_once(tbox):
    # OWL 2 DL: an IRI is at most one of object, datatype or annotation property.
    kinds = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    for prop in {s for kind in kinds for s in tbox.subjects(RDF.type, kind)}:
        assert sum((prop, RDF.type, kind) in tbox for kind in kinds) == 1, prop


def test_dates_of_uneven_precision_are_annotations_and_years_are_integers(tbox):
    for name in ("startDate", "endDate"):
        assert (URIRef(HSCP + name), RDF.type, OWL.AnnotationProperty) in tbox
    for name in ("startYear", "endYear"):
        term = URIRef(HSCP + name)
        assert (term, RDF.type, OWL.DatatypeProperty) in tbox
        assert tbox.value(term, RDFS.range) == XSD.integer
    for prop in (DCTERMS.issued, DCTERMS.date, DCTERMS.identifier):
        assert (prop, RDF.type, OWL.AnnotationProperty) in tbox


def test_confidence_is_functional_and_about_has_an_inverse(tbox):
    assert (CONFIDENCE, RDF.type, OWL.FunctionalProperty) in tbox
    assert (URIRef(HSCP + "about"), OWL.inverseOf, URIRef(HSCP + "subjectOf")) in tbox


def test_claim_kinds_are_pairwise_disjoint(tbox):
    members = set()
    for axiom in tbox.subjects(RDF.type, OWL.AllDisjointClasses):
        members |= set(tbox.items(tbox.value(axiom, OWL.members)))
    for name in ("GovernanceModeObservation", "FrameAttribution", "IntegrationClassification",
                 "PurposeStatement", "OutcomeEvidence", "IndicatorObservation"):
        assert URIRef(HSCP + name) in members
    assert (URIRef(HSCP + "StatedAim"), OWL.disjointWith, URIRef(HSCP + "ObservedDriver")) in tbox


def test_every_hscp_term_is_used_by_a_scheme_the_shapes_or_a_query(tbox, schemes, shapes):
    used = terms_in_graph(schemes) | terms_in_graph(shapes)
    for text in query_texts():
        used |= terms_in_text(text)
    unused = hscp_terms(tbox) - used
    assert unused == set(), f"terms nothing uses: {sorted(unused)}"


def test_every_hscp_term_is_used_by_the_built_data_or_a_query(tbox, schemes):
    """DESIGN: every class and property is used by the data or a query (checked on a real build).

    The concept schemes count as data (their concepts are the values the case data points at),
    and a class or property counts as used when one of its subclasses or subproperties is.
    """
    from kg.build import compile as compile_build  # a broken import fails the test, never skips it
    from kg.settings import Settings

    build = compile_build(Settings.from_env())
    used = terms_in_graph(build.data) | terms_in_graph(schemes)
    for text in query_texts():
        used |= terms_in_text(text)
    for term in list(used):
        used |= set(tbox.transitive_objects(term, RDFS.subClassOf)) | set(tbox.transitive_objects(term, RDFS.subPropertyOf))
    unused = hscp_terms(tbox) - used
    assert unused == set(), f"terms neither the data nor any query uses: {sorted(unused)}"


# --- the concept schemes --------------------------------------------------------------------------


def scheme_iri(slug: str) -> URIRef:
    return URIRef(f"{BASE}scheme/{slug}")


def expand(curie: str) -> URIRef:
    prefix, name = curie.split(":")
    return URIRef({"hscp": HSCP, "org": "http://www.w3.org/ns/org#"}[prefix] + name)


def test_scheme_slugs_and_concept_slugs_match_the_spec(schemes):
    found = {str(s)[len(BASE + "scheme/"):] for s in schemes.subjects(RDF.type, SKOS.ConceptScheme)}
    assert found == set(SCHEMES)
    for slug, (_, concepts) in SCHEMES.items():
        members = set(schemes.subjects(SKOS.inScheme, scheme_iri(slug)))
        assert {str(schemes.value(c, SKOS.notation)) for c in members} == set(concepts.split()), slug
        assert {str(c) for c in members} == {f"{BASE}{slug}/{c}" for c in concepts.split()}, slug


def test_every_concept_is_typed_labelled_defined_sourced_and_rated(schemes):
    confidence_levels = {URIRef(f"{BASE}confidence/{c}") for c in ("confirmed", "partial", "unverified")}
    for slug, (cls, concepts) in SCHEMES.items():
        for name in concepts.split():
            concept = URIRef(f"{BASE}{slug}/{name}")
            assert (concept, RDF.type, SKOS.Concept) in schemes
            if cls:
                assert (concept, RDF.type, expand(cls)) in schemes, concept
            label = schemes.value(concept, SKOS.prefLabel)
            assert isinstance(label, Literal) and label.language == "en", concept
            assert schemes.value(concept, SKOS.definition) is not None, concept
            assert str(schemes.value(concept, SKOS.notation)) == name
            assert (concept, SKOS.topConceptOf, scheme_iri(slug)) in schemes
            sources = set(schemes.objects(concept, DCTERMS.source))
            assert sources and {str(s)[len(BASE + "source/"):] for s in sources} <= SOURCE_IDS, concept
            assert list(schemes.objects(concept, CONFIDENCE)) and set(schemes.objects(concept, CONFIDENCE)) <= confidence_levels


def test_every_scheme_is_titled_defined_and_sourced(schemes):
    for slug in SCHEMES:
        scheme = scheme_iri(slug)
        for prop in (SKOS.prefLabel, DCTERMS.title, SKOS.definition, DCTERMS.source):
            assert schemes.value(scheme, prop) is not None, (slug, prop)
        assert set(schemes.objects(scheme, SKOS.hasTopConcept)) == set(schemes.subjects(SKOS.inScheme, scheme))


def test_dated_schemes_carry_their_date(schemes):
    for slug in ("green-paper-2005", "ascof-2011", "care-act-2014", "leutz-level", "rainbow-model", "selfie", "pat-principle"):
        assert schemes.value(scheme_iri(slug), DCTERMS.issued) is not None, slug


def test_claims_resting_on_the_thesis_summary_stay_unverified(schemes):
    unverified = URIRef(f"{BASE}confidence/unverified")
    for name in SCHEMES["frame"][1].split():
        assert schemes.value(URIRef(f"{BASE}frame/{name}"), CONFIDENCE) == unverified
    assert schemes.value(URIRef(f"{BASE}green-paper-2005/freedom-from-discrimination"), CONFIDENCE) == unverified
    for name in ("improved-health", "personal-dignity"):
        assert schemes.value(URIRef(f"{BASE}green-paper-2005/{name}"), CONFIDENCE) == URIRef(f"{BASE}confidence/confirmed")


def test_confidence_levels_are_all_different(schemes):
    levels = {URIRef(f"{BASE}confidence/{c}") for c in ("confirmed", "partial", "unverified")}
    axioms = [set(schemes.items(schemes.value(a, OWL.distinctMembers))) for a in schemes.subjects(RDF.type, OWL.AllDifferent)]
    assert levels in axioms


def test_outcome_schemes_are_aligned_not_merged(schemes):
    gp, ca = f"{BASE}green-paper-2005/", f"{BASE}care-act-2014/"
    assert (URIRef(gp + "improved-health"), SKOS.closeMatch, URIRef(ca + "health-and-wellbeing")) in schemes
    assert (URIRef(gp + "personal-dignity"), SKOS.closeMatch, URIRef(ca + "personal-dignity")) in schemes
    for a, b in schemes.subject_objects(SKOS.closeMatch):
        assert (b, SKOS.closeMatch, a) in schemes, "alignments are stated both ways"
        assert schemes.value(a, SKOS.inScheme) != schemes.value(b, SKOS.inScheme)
    assert not list(schemes.subject_objects(SKOS.exactMatch))


# --- the shapes ------------------------------------------------------------------------------------


def test_shapes_pass_meta_shacl(shapes, vocabulary):
    conforms, _, text = pyshacl.validate(Graph(), shacl_graph=shapes, ont_graph=vocabulary, meta_shacl=True)
    assert conforms, text


def test_every_constraint_carries_a_message_naming_a_csv_table(shapes):
    constraints = list(shapes.objects(None, SH.property)) + list(shapes.objects(None, SH.sparql))
    assert len(constraints) > 100
    for constraint in constraints:
        messages = list(shapes.objects(constraint, SH.message))
        assert messages, f"constraint without sh:message: {constraint}"
        assert all(re.search(r"[a-z-]+\.csv", str(m)) for m in messages), messages


def test_the_valid_example_conforms(shapes, vocabulary):
    assert violations(VALID, shapes, vocabulary) == []


def without(turtle: str, fragment: str) -> str:
    assert fragment in turtle
    return turtle.replace(fragment, "", 1)


def test_partnership_without_form_names_the_partnerships_table(shapes, vocabulary):
    data = without(VALID, "hscp:form form:integration-joint-board ;")
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert focus == URIRef(BASE + "partnership/east-ayrshire-ijb")
    assert path == URIRef(HSCP + "form")
    assert "'form' column of partnerships.csv" in message


def test_partnership_form_from_the_wrong_table(shapes, vocabulary):
    data = VALID.replace("hscp:form form:care-trust ;", "hscp:form jur:england ;")
    found = violations(data, shapes, vocabulary)
    assert (URIRef(BASE + "partnership/torbay-care-trust"), URIRef(HSCP + "form"),
            "The 'form' column of partnerships.csv must name a row of forms.csv.") in found


def test_membership_without_role_names_the_memberships_table(shapes, vocabulary):
    data = without(VALID, "org:role id:role\\/partner ;")
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert focus == URIRef(BASE + "membership/ayrshire-health")
    assert path == URIRef("http://www.w3.org/ns/org#role")
    assert "memberships.csv" in message and "'role'" in message


def test_observation_value_from_the_wrong_scheme(shapes, vocabulary):
    data = VALID.replace("hscp:governanceMode id:governance-mode\\/network", "hscp:governanceMode id:frame\\/structural")
    found = violations(data, shapes, vocabulary)
    focus = URIRef(BASE + "observation/east-ayrshire-network")
    assert found and {f for f, _, _ in found} == {focus}
    assert {p for _, p, _ in found} == {URIRef(HSCP + "governanceMode")}
    assert all("'value' column of observations.csv" in m for _, _, m in found)


def test_integration_dimension_value_must_match_the_dimension_column(shapes, vocabulary):
    # A Rainbow Model value is a valid integrationLevel in general, but not for the integration-level dimension.
    data = VALID.replace("id:leutz-level\\/full-integration", "id:rainbow-model\\/clinical")
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert focus == URIRef(BASE + "observation/east-ayrshire-leutz")
    assert path == URIRef(HSCP + "placement")
    assert "observations.csv" in message and "rainbow-model/clinical" in message


def test_start_year_after_end_year(shapes, vocabulary):
    data = VALID.replace("hscp:startYear 2005 ;", "hscp:startYear 2014 ;")
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert focus == URIRef(BASE + "partnership/torbay-care-trust")
    assert path == URIRef(HSCP + "startYear")
    assert "partnerships.csv" in message


def test_source_without_citation(shapes, vocabulary):
    data = without(VALID, 'dct:bibliographicCitation "Example report on partnerships (2016)." ;')
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert focus == URIRef(BASE + "source/s1")
    assert path == DCTERMS.bibliographicCitation
    assert "'citation' column of sources.csv" in message


def test_claim_without_source_or_confidence(shapes, vocabulary):
    data = VALID.replace(
        "hscp:measure \"delayed transfers of care\"@en ;", "hscp:measure \"delayed transfers of care\"@en ; hscp:confidence conf:confirmed ;"
    )
    data = without(data, "hscp:evaluation evl:torbay-poet ; dct:source src:s1 ;")
    found = violations(data, shapes, vocabulary)
    focus = URIRef(BASE + "outcome/torbay-delays")
    assert {(f, p) for f, p, _ in found} == {(focus, DCTERMS.source), (focus, CONFIDENCE)}
    assert all("outcomes.csv" in m for _, _, m in found)


def test_outcome_without_direction(shapes, vocabulary):
    data = without(VALID, "hscp:direction id:direction\\/improved ;")
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert (focus, path) == (URIRef(BASE + "outcome/torbay-delays"), URIRef(HSCP + "direction"))
    assert "'direction' column of outcomes.csv" in message


def test_indicator_value_must_be_a_decimal(shapes, vocabulary):
    data = VALID.replace("hscp:value 245000000.0", 'hscp:value "£245m"')
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert (focus, path) == (URIRef(BASE + "indicator/east-ayrshire-budget-2016"), URIRef(HSCP + "value"))
    assert "'value' column of indicators.csv" in message


def test_organisation_without_label_names_the_organisations_table(shapes, vocabulary):
    data = without(VALID, 'rdfs:label "Health Services Management Centre" ;')
    [(focus, path, message)] = violations(data, shapes, vocabulary)
    assert (focus, path) == (URIRef(BASE + "organisation/hsmc"), RDFS.label)
    assert "organisations.csv" in message


# --- the competency questions -----------------------------------------------------------------------


def test_there_are_about_ten_competency_questions_each_with_its_question():
    files = competency_files()
    assert len(files) >= 10
    for path in files:
        assert re.fullmatch(r"cq\d\d-[a-z0-9]+(-[a-z0-9]+)*\.rq", path.name)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# question: ") and first.endswith("?"), path.name
        prepareQuery(path.read_text(encoding="utf-8"))


def test_the_documentation_shows_every_competency_question():
    doc = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    for path in competency_files():
        question = path.read_text(encoding="utf-8").splitlines()[0][len("# question: "):]
        assert question in doc, path.name
        assert path.name in doc


def run_cq(name: str, graph: Graph, about: str | None = None) -> list[dict]:
    """Run a competency question; ``about`` swaps the partnership a question names for another."""
    [path] = [p for p in competency_files() if p.stem.startswith(name)]
    text = path.read_text(encoding="utf-8")
    if about is not None:
        text = re.sub(r"<https://w3id\.org/hscp/id/partnership/[a-z0-9-]+>", f"<{BASE}partnership/{about}>", text)
    result = graph.query(text)
    return [{str(k): v for k, v in row.asdict().items()} for row in result]


@pytest.fixture(scope="module")
def example(vocabulary) -> Graph:
    return vocabulary + Graph().parse(data=VALID, format="turtle")


def test_cq_networks_in_scotland(example):
    rows = run_cq("cq01", example)
    assert [r["partnership"] for r in rows] == [URIRef(BASE + "partnership/east-ayrshire-ijb")]
    assert rows[0]["confidence"] == Literal("Partly confirmed", lang="en")


def test_cq_aims_without_outcome_evidence(example):
    rows = run_cq("cq02", example)
    assert [r["partnership"] for r in rows] == [URIRef(BASE + "partnership/east-ayrshire-ijb")]


def test_cq_forms_and_legislation(example):
    rows = run_cq("cq03", example)
    assert [(r["form"], r["officialIri"]) for r in rows] == [
        (URIRef(BASE + "partnership-form/integration-joint-board"), URIRef("http://www.legislation.gov.uk/id/asp/2014/9"))
    ]


def test_cq_still_unverified_lists_the_frames_and_the_seventh_outcome(example):
    found = {r["resource"] for r in run_cq("cq04", example)}
    assert URIRef(BASE + "frame/third-way") in found
    assert URIRef(BASE + "green-paper-2005/freedom-from-discrimination") in found
    assert URIRef(BASE + "observation/care-trust-frame") in found
    assert URIRef(BASE + "governance-mode/network") not in found


def test_cq_outcome_evidence_shows_aligned_domains(example):
    [row] = run_cq("cq08", example)
    assert row["framework"] == Literal("ascof-2011")
    assert row["direction"] == Literal("Improved", lang="en")
    assert row["evaluationDesign"] == Literal("POET")


def test_cq_legal_status_and_claims_about_a_partnership(example):
    statuses = {(str(r["jurisdictionLabel"]), str(r["status"])) for r in run_cq("cq14", example)}
    assert ("Scotland", "statutory body") in statuses
    claims = {r["claim"] for r in run_cq("cq15", example, about="torbay-care-trust")}
    assert claims == {URIRef(BASE + "statement/torbay-driver"), URIRef(BASE + "outcome/torbay-delays")}


# --- reasoning (HermiT through owlready2) ----------------------------------------------------------


def hermit(graph: Graph) -> None:
    """Run HermiT on the graph; raises OwlReadyInconsistentOntologyError when it is inconsistent."""
    from owlready2 import World, sync_reasoner

    world = World()
    ntriples = graph.serialize(format="nt", encoding="utf-8")
    world.get_ontology(str(ONTOLOGY_IRI)).load(fileobj=io.BytesIO(ntriples), format="ntriples")
    try:
        sync_reasoner(world, infer_property_values=False, debug=0)
    finally:
        world.close()


@pytest.mark.slow
def test_ontology_and_schemes_are_consistent_under_hermit(vocabulary):
    hermit(vocabulary)


@pytest.mark.slow
def test_the_valid_example_is_consistent_under_hermit(vocabulary):
    # The example carries xsd:gYear, xsd:gYearMonth and xsd:date literals: HermiT must never see them.
    hermit(vocabulary + Graph().parse(data=VALID, format="turtle"))


@pytest.mark.slow
def test_a_claim_with_two_confidences_is_inconsistent(vocabulary):
    from owlready2 import OwlReadyInconsistentOntologyError

    data = VALID.replace("dct:source src:s1 ; hscp:confidence conf:partial ; rdfs:comment",
                         "dct:source src:s1 ; hscp:confidence conf:partial , conf:confirmed ; rdfs:comment")
    with pytest.raises(OwlReadyInconsistentOntologyError):
        hermit(vocabulary + Graph().parse(data=data, format="turtle"))


@pytest.mark.slow
def test_a_value_from_the_wrong_scheme_is_inconsistent(vocabulary):
    from owlready2 import OwlReadyInconsistentOntologyError

    data = VALID.replace("hscp:governanceMode id:governance-mode\\/network", "hscp:governanceMode id:frame\\/structural")
    with pytest.raises(OwlReadyInconsistentOntologyError):
        hermit(vocabulary + Graph().parse(data=data, format="turtle"))


@pytest.mark.slow
def test_a_partnership_cannot_be_both_a_legal_body_and_a_collaboration(vocabulary):
    from owlready2 import OwlReadyInconsistentOntologyError

    data = VALID.replace("part:torbay-care-trust a hscp:Partnership , org:FormalOrganization ;",
                         "part:torbay-care-trust a hscp:Partnership , org:FormalOrganization , org:OrganizationalCollaboration ;")
    with pytest.raises(OwlReadyInconsistentOntologyError):
        hermit(vocabulary + Graph().parse(data=data, format="turtle"))
