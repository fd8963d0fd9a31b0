"""The build: named graphs, dumps, report, and atomicity (a failed build changes nothing)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import RDF, SKOS

from kg import build as build_module
from kg.build import build
from kg.errors import CaseDataError, ValidationFailed
from kg.namespaces import HSCP, graph_iri


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def built(settings):
    build(settings)
    return Path(settings.build_dir)


def test_build_writes_every_output(built):
    assert {p.name for p in built.iterdir()} == {"graph.nq", "data.ttl", "data.jsonld", "void.ttl", "report.json"}


def test_graph_nq_holds_the_four_named_graphs(built):
    ds = Dataset()
    ds.parse(built / "graph.nq", format="nquads")
    names = {str(g.identifier) for g in ds.graphs() if len(g)}
    assert {graph_iri(n) for n in ("ontology", "data", "inferred", "metadata")} <= names
    ontology = ds.graph(URIRef(graph_iri("ontology")))
    frames = set(ontology.subjects(RDF.type, HSCP.Frame))
    assert len(frames) == 4
    assert all(ontology.value(f, SKOS.prefLabel) is not None for f in frames)
    data = ds.graph(URIRef(graph_iri("data")))
    assert len(set(data.subjects(RDF.type, HSCP.Partnership))) == 2
    assert len(ds.graph(URIRef(graph_iri("inferred")))) > 0


def test_dumps_parse_and_agree(built):
    ttl = Graph().parse(built / "data.ttl", format="turtle")
    jsonld = Graph().parse(built / "data.jsonld", format="json-ld")
    assert len(ttl) == len(jsonld) > 100
    void = Graph().parse(built / "void.ttl", format="turtle")
    assert any(void.subjects(RDF.type, URIRef("http://rdfs.org/ns/void#Dataset")))


def test_report_counts_and_names_the_reasoner(built):
    report = json.loads((built / "report.json").read_text())
    assert report["rows"]["partnerships"] == 2
    assert report["classes"][str(HSCP.Partnership)] == 2
    assert report["validation"] == {"conforms": True, "violations": 0}
    assert report["claims_by_confidence"] == {"confirmed": 22, "partial": 9, "unverified": 2}  # counted in the CSVs
    coverage = report["coverage"]
    assert coverage["summary"]["classifications"] == {"stated": 3, "derived": 2}
    assert (coverage["summary"]["evaluations"], coverage["summary"]["findings"], coverage["summary"]["conflicts"]) == (2, 2, 1)
    # Scotland's one form is placed on budget integration and sectors, both stated; England's care
    # trust on nothing of the five core dimensions (its Torbay partnership only on Leutz and mode)
    scotland, england = coverage["table"]["scotland"], coverage["table"]["england"]
    assert scotland["budget-integration"] == {"forms": 1, "with_value": 1, "stated": 1, "share_with_value": 1.0, "share_stated": 1.0}
    assert scotland["provider-payment"]["with_value"] == 0
    assert england["budget-integration"]["with_value"] == 0
    assert england["integration-level"] == {"forms": 1, "with_value": 1, "stated": 0, "share_with_value": 1.0, "share_stated": 0.0}
    assert report["reasoner"]["consistent"] is True
    assert report["reasoner"]["name"] in ("hermit", "owlrl")
    assert report["input_hash"].startswith("sha256:")
    assert {"read case data", "map to RDF", "validate (SHACL)", "reason", "write build"} <= set(report["timings"])


def test_failed_build_leaves_previous_build_byte_identical(settings, built, case_dir):
    before = snapshot(built)
    path = case_dir / "partnerships.csv"
    path.write_text(path.read_text().replace("ayrshire-ijb,", "torbay-care-trust,"))
    with pytest.raises(CaseDataError):
        build(settings)
    assert snapshot(built) == before
    assert sorted(p.name for p in built.parent.iterdir() if p.name.startswith(".build")) == []


def test_failure_while_writing_leaves_previous_build(settings, built, monkeypatch):
    before = snapshot(built)

    def broken(compiled, folder):
        (folder / "graph.nq").write_text("half a file")
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "_write_outputs", broken)
    with pytest.raises(OSError):
        build(settings)
    assert snapshot(built) == before
    assert not [p for p in built.parent.iterdir() if ".staging-" in p.name]


def test_shacl_violation_fails_the_build(settings, case_dir, monkeypatch):
    # a shape the minimal data cannot meet: every partnership must have an end date
    from kg import vocabulary as vocab_module

    original = vocab_module.load_vocabulary

    def stricter(folder, base_iri):
        vocabulary = original(folder, base_iri)
        vocabulary.shapes.parse(data="""
            @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix hscp: <https://w3id.org/hscp/def#> .
            <urn:test:EndShape> a sh:NodeShape ; sh:targetClass hscp:Partnership ;
              sh:property [ sh:path hscp:endDate ; sh:minCount 1 ;
                            sh:message "Test shape: fill the 'end' column of partnerships.csv." ] .
        """, format="turtle")
        return vocabulary

    monkeypatch.setattr(build_module, "load_vocabulary", stricter)
    with pytest.raises(ValidationFailed) as caught:
        build(settings)
    text = str(caught.value)
    assert "partnerships.csv:2" in text and "partnerships.csv:3" in text
    assert "fill the 'end' column" in text
    assert not Path(settings.build_dir).exists()
