"""The comparison model: classifications stated or derived, evaluations and findings, context,
timeline and conflicts, from the case files through the mapping to the SHACL shapes.

Each rule is checked where a researcher meets it: ``kg validate``'s case-data messages for what a
spreadsheet row can get wrong, and the shapes (fast path and pySHACL alike) for what the graph
must hold.
"""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from kg.casedata import read_case_data
from kg.coverage import coverage, markdown
from kg.mapping import to_graph
from kg.namespaces import HSCP
from kg.shacl import validate
from test_casedata import problems_of, replace_in

BASE = "https://w3id.org/hscp/id/"


# --- the case files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("observations.csv", "torbay-hierarchy,torbay-care-trust,,governance-mode", "torbay-hierarchy,,care-trust,governance-mode",
         "observations.csv:2: column 'partnership': a governance-mode belongs to a partnership for a period, not to a form: name the partnership"),
        ("observations.csv", "one line of management,2005,", "one line of management,,",
         "observations.csv:2: column 'start': a governance-mode holds for a period: give at least its start"),
        ("observations.csv", "one organisation holds both budgets,,,,fixture-analyst,partial", "one organisation holds both budgets,,,,fixture-analyst,confirmed",
         "observations.csv:4: column 'confidence': a derived classification is at most 'partial': the source does not state it"),
        ("observations.csv", "derived,full integration: one organisation holds both budgets,", "derived,,",
         "observations.csv:4: column 'rule': empty, but the row is derived: write the rule the analyst applied to the source's facts"),
        ("observations.csv", "budget-integration,delegated,stated", "budget-integration,capitation-global-budget,stated",
         "observations.csv:5: column 'value': 'capitation-global-budget' is not a budget-integration value: use one of aligned, delegated, none, pooled, structural (scheme 'budget-integration')"),
        ("observations.csv", "budget-integration,delegated,stated", "budget-integration,delegated,asserted",
         "observations.csv:5: column 'basis': 'asserted' is not a basis: use one of stated, derived"),
        ("conflicts.csv", "indicators:scotland-budget;indicators:scotland-budget-other", "indicators:scotland-budget;indicators:scotland-budget",
         "conflicts.csv:2: column 'claims': a conflict needs at least two different rows: name every row that disagrees"),
        ("conflicts.csv", "indicators:scotland-budget-other", "indicators:scotland-budget-third",
         "conflicts.csv:2: column 'claims': 'scotland-budget-third' is not an id in indicators.csv: add that row or correct the id"),
        ("conflicts.csv", "indicators:scotland-budget-other", "sources:glasby-2008",
         "conflicts.csv:2: column 'claims': 'sources' is not a table of claims: use one of"),
        ("conflicts.csv", "indicators:scotland-budget-other", "scotland-budget-other",
         "conflicts.csv:2: column 'claims': 'scotland-budget-other' is not a row reference: write table:id, for example indicators:cisss-count-2015"),
        ("findings.csv", "ijb-did,delayed-discharge,improved", "ijb-did,delayed-discharge,better",
         "findings.csv:2: column 'direction': 'better' is not in the 'direction' scheme: use one of improved, mixed, no-change, not-reported, unclear, worsened"),
        ("findings.csv", "ijb-did,delayed-discharge", "ijb-rct,delayed-discharge",
         "findings.csv:2: column 'evaluation': 'ijb-rct' is not an id in evaluations.csv: add that row or correct the id"),
        ("evaluations.csv", "difference-in-differences,independent", "natural-experiment,independent",
         "evaluations.csv:3: column 'study_design': 'natural-experiment' is not in the 'study-design' scheme"),
        ("contexts.csv", "social-care-provision,local", "social-care-provision,municipal",
         "contexts.csv:2: column 'level': 'municipal' is not in the 'government-level' scheme"),
        ("events.csv", "scotland,2014-04-01,", "scotland,1 April 2014,",
         "events.csv:2: column 'date': '1 April 2014' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD (for example 2005-10-01)"),
        ("statements.csv", "Shift the balance of care from hospital to community.,,,scotland", "Shift the balance of care from hospital to community.,,,wales",
         "statements.csv:4: column 'jurisdiction': 'wales' is not an id in jurisdictions.csv: add that row or correct the id"),
    ],
)
def test_bad_comparison_rows_name_file_row_and_column(case_dir, vocabulary, file, old, new, expected):
    replace_in(case_dir / file, old, new)
    problems = problems_of(case_dir, vocabulary)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_url_may_hold_a_semicolon(case_dir, vocabulary):
    urn = "http://www.normattiva.it/uri-res/N2Ls?urn:nir:stato:decreto.legislativo:1999;229"
    replace_in(case_dir / "sources.csv", "https://www.ijic.org/articles/10.5334/ijic.246/",
               f"https://www.ijic.org/articles/10.5334/ijic.246/;{urn}")
    source = next(r for r in read_case_data(case_dir, vocabulary.slugs)["sources"] if r.id == "glasby-2008")
    assert source["url"] == ("https://www.ijic.org/articles/10.5334/ijic.246/", urn)


# --- the mapping ---------------------------------------------------------------------------------


@pytest.fixture
def mapped(case_dir, vocabulary):
    return to_graph(read_case_data(case_dir, vocabulary.slugs), vocabulary, BASE)


def iri(kind: str, slug: str) -> URIRef:
    return URIRef(f"{BASE}{kind}/{slug}")


def test_classifications_carry_placement_basis_and_rule(mapped):
    g = mapped.graph
    sectors = iri("observation", "ijb-sectors")
    assert (sectors, HSCP.analystDerived, Literal(False)) in g
    assert set(g.objects(sectors, HSCP.placement)) == {
        iri("service-sector", s) for s in ("adult-social-care", "primary-care", "community-health")}
    derived = iri("observation", "torbay-full-integration")
    assert (derived, HSCP.analystDerived, Literal(True)) in g
    assert "one organisation holds both budgets" in str(g.value(derived, HSCP.derivationRule))
    # the first release's dimensions keep their own property beside the generic placement
    assert g.value(derived, HSCP.integrationLevel) == g.value(derived, HSCP.placement) == iri("leutz-level", "full-integration")


def test_findings_are_about_what_their_evaluation_studied(mapped):
    g = mapped.graph
    finding = iri("finding", "ijb-did-delayed-discharge")
    evaluation = iri("evaluation", "ijb-did")
    assert g.value(finding, HSCP.evaluation) == evaluation
    assert g.value(finding, HSCP.about) == iri("partnership-form", "integration-joint-board")
    assert g.value(evaluation, HSCP.coversJurisdiction) == iri("jurisdiction", "scotland")  # from the form
    assert g.value(evaluation, HSCP.studyDesign) == iri("study-design", "difference-in-differences")
    assert str(g.value(finding, HSCP.magnitude)).startswith("-0.236")


def test_conflicting_claims_point_at_each_other(mapped):
    g = mapped.graph
    a, b = iri("indicator", "scotland-budget"), iri("indicator", "scotland-budget-other")
    assert set(g.objects(iri("conflict", "scotland-budget-figures"), HSCP.conflictingClaim)) == {a, b}
    assert (a, HSCP.conflictsWith, b) in g and (b, HSCP.conflictsWith, a) in g


def test_a_partnership_of_unknown_legal_status_is_neither_formal_nor_collaboration(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", "integration-joint-board,scotland,yes", "integration-joint-board,scotland,")
    g = to_graph(read_case_data(case_dir, vocabulary.slugs), vocabulary, BASE).graph
    types = set(g.objects(iri("partnership", "ayrshire-ijb"), URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")))
    assert types == {HSCP.Partnership}


# --- the shapes ----------------------------------------------------------------------------------


def check(mapped, vocabulary):
    return validate(mapped.graph, vocabulary.shapes, vocabulary.ontology_graph(), origins=mapped.origins)


def test_the_fixture_conforms(mapped, vocabulary):
    report = check(mapped, vocabulary)
    assert report.conforms, report.text


@pytest.mark.parametrize(
    "spoil, where, message",
    [
        (lambda g: g.set((iri("observation", "torbay-full-integration"), HSCP.confidence, iri("confidence", "confirmed"))),
         "observations.csv:4", "is at most partial"),
        (lambda g: g.remove((iri("observation", "torbay-full-integration"), HSCP.derivationRule, None)),
         "observations.csv:4", "must give the rule applied"),
        (lambda g: g.set((iri("observation", "ijb-budget-delegated"), HSCP.placement, iri("provider-payment", "bundled-payment"))),
         "observations.csv:5", "must be a slug of the scheme the 'dimension' column names"),
        (lambda g: g.remove((iri("observation", "ijb-sectors"), HSCP.analystDerived, None)),
         "observations.csv:6", "fill the 'basis' column"),
        (lambda g: g.remove((iri("finding", "ijb-did-mortality"), HSCP.direction, None)),
         "findings.csv:3", "Every finding needs exactly one direction"),
        (lambda g: g.set((iri("finding", "ijb-did-mortality"), HSCP.outcomeMeasure, iri("direction", "improved"))),
         "findings.csv:3", "outcome-measure scheme"),
        (lambda g: g.remove((iri("conflict", "scotland-budget-figures"), HSCP.conflictingClaim, iri("indicator", "scotland-budget"))),
         "conflicts.csv:2", "at least two rows"),
        (lambda g: g.remove((iri("event", "scotland-act-2014"), HSCP.startDate, None)),
         "events.csv:2", "Every event needs its date"),
        (lambda g: g.set((iri("context", "scotland-councils-social-care"), HSCP.contextTopic, iri("event-kind", "policy"))),
         "contexts.csv:2", "context-topic scheme"),
        (lambda g: g.set((iri("evaluation", "ijb-did"), HSCP.studyDesign, iri("evaluator", "independent"))),
         "evaluations.csv:3", "study-design scheme"),
        (lambda g: g.remove((iri("event", "scotland-act-2014"), RDFS.label, None)),
         "events.csv:2", "Every event needs a label"),
    ],
)
def test_each_comparison_shape_names_the_row_to_fix(mapped, vocabulary, spoil, where, message):
    spoil(mapped.graph)
    report = check(mapped, vocabulary)
    assert not report.conforms
    lines = [str(v) for v in report.violations]
    assert any(line.startswith(where) and message in line for line in lines), lines


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_counts_forms_placed_through_their_partnerships(case_dir, vocabulary):
    data = read_case_data(case_dir, vocabulary.slugs)
    table = coverage(data)
    # the care trust is placed on Leutz's scale only through its Torbay partnership, by the analyst
    assert table["england"]["integration-level"].with_value == 1
    assert table["england"]["integration-level"].stated == 0
    assert table["england"]["governance-mode"].with_value == 1
    assert table["scotland"]["sectors"].stated == 1
    text = markdown(data)
    assert "| Scotland | 1 | 100% (100%) |" in text
    assert "2 evaluations with 2 findings, 3 classifications stated by their sources and 2 derived" in text
