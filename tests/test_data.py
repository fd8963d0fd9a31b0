"""Quality bars of the bundled case data: sources exist, every claim has one confidence, every
jurisdiction is used, the two POETs stay apart, the frames are defined. Run with ``-s`` to see
the dataset's counts."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from kg.namespaces import HSCP
from kg.settings import resource_dir

DATA = resource_dir("data")
SCHEMES = resource_dir("ontology") / "schemes"
ID = "https://w3id.org/hscp/id/"
SOURCE = ID + "source/"
DATA_GRAPH = URIRef("https://w3id.org/hscp/graph/data")


def table(name: str) -> list[dict[str, str]]:
    with (DATA / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def values(cell: str | None) -> list[str]:
    return [v.strip() for v in (cell or "").split(";") if v.strip()]


SOURCE_IDS = {row["id"] for row in table("sources")}


@pytest.fixture(scope="module")
def data_graph(bundled_build_dir) -> Graph:
    dataset = Dataset()
    dataset.parse(bundled_build_dir / "graph.nq", format="nquads")
    return dataset.graph(DATA_GRAPH)


@pytest.fixture(scope="module")
def schemes() -> Graph:
    graph = Graph()
    for path in sorted(SCHEMES.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def test_every_cited_source_is_in_the_bibliography():
    missing = []
    for path in sorted(DATA.glob("*.csv")):
        if path.stem == "sources":
            continue
        for number, row in enumerate(table(path.stem), start=2):
            missing += [f"{path.name}:{number}: {s}" for s in values(row.get("source")) if s not in SOURCE_IDS]
    assert not missing


def test_every_source_the_schemes_cite_is_in_the_bibliography(schemes):
    cited = {str(o) for o in schemes.objects(None, DCTERMS.source)}
    assert cited, "the concept schemes cite no source"
    assert {c for c in cited if not c.startswith(SOURCE) or c[len(SOURCE):] not in SOURCE_IDS} == set()


def test_every_claim_has_exactly_one_confidence(data_graph, schemes):
    for graph in (data_graph, schemes):
        for claim in set(graph.subjects(DCTERMS.source, None)):
            confidences = set(graph.objects(claim, HSCP.confidence))
            assert len(confidences) == 1, f"{claim} has {len(confidences)} confidence levels"


def test_every_row_states_a_confidence_level():
    for path in sorted(DATA.glob("*.csv")):
        for number, row in enumerate(table(path.stem), start=2):
            assert row.get("confidence") in ("confirmed", "partial", "unverified"), f"{path.name}:{number}"


def test_every_jurisdiction_has_a_partnership():
    used = {row["jurisdiction"] for row in table("partnerships")}
    assert {row["id"] for row in table("jurisdictions")} - used == set()


def test_the_two_poets_have_different_iris_and_developers(data_graph):
    named = {s for p in (RDFS.label, SKOS.altLabel) for s, o in data_graph.subject_objects(p) if str(o) == "POET"}
    designs = {s for s in named if (s, RDF.type, HSCP.EvaluationDesign) in data_graph}
    assert designs == {URIRef(ID + "evaluation-design/poet"), URIRef(ID + "evaluation-design/in-control-poet")}
    developers = {d: set(data_graph.objects(d, HSCP.developedBy)) for d in designs}
    assert all(len(found) == 1 for found in developers.values())
    assert len(set.union(*developers.values())) == 2


def test_the_four_frames_have_labels_and_definitions(schemes):
    frames = set(schemes.subjects(RDF.type, HSCP.Frame))
    assert {str(f).rsplit("/", 1)[-1] for f in frames} == {"structural", "social-challenges", "high-performance",
                                                            "third-way"}
    for frame in frames:
        assert schemes.value(frame, SKOS.prefLabel) is not None, frame
        definition = schemes.value(frame, SKOS.definition)
        assert isinstance(definition, Literal) and len(str(definition)) > 40, frame


def test_counts(data_graph, capsys):
    claims = set(data_graph.subjects(DCTERMS.source, None))
    levels = Counter(str(data_graph.value(c, HSCP.confidence)).rsplit("/", 1)[-1] for c in claims)
    counts = {
        "partnerships": len(table("partnerships")),
        "jurisdictions": len(table("jurisdictions")),
        "sources": len(SOURCE_IDS),
        "claims": len(claims),
        **{f"claims {level}": levels[level] for level in ("confirmed", "partial", "unverified")},
        "outcome evidence": len(table("outcomes")),
    }
    assert counts["partnerships"] == len(set(data_graph.subjects(RDF.type, HSCP.Partnership)))
    assert sum(levels.values()) == len(claims)
    with capsys.disabled():
        print("\nbundled dataset: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
