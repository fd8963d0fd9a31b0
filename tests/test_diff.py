"""``kg diff OLD NEW``: the claims added, removed and changed between two builds, by table and
jurisdiction, and the ontology terms added, removed and newly deprecated.

Two copies of the minimal case data are built; in the second one partnership's label is changed,
one statement added and one event (which nothing refers to) removed. The diff must report exactly
those three. The rows written here are test rows in the tests' temporary folders only.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.build import build
from kg.cli import cli
from kg.diff import diff
from kg.errors import UsageError
from kg.settings import Settings

MINIMAL = Path(__file__).parent / "data" / "minimal"
BASE = "https://w3id.org/hscp/id/"
HSCP = "https://w3id.org/hscp/def#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
STUDY = "https://example.org/diff-study/id/"

CHANGED = BASE + "partnership/torbay-care-trust"
ADDED = BASE + "statement/england-joined-up-aim"
REMOVED = BASE + "event/scotland-act-2014"
NEW_LABEL = "Torbay and South Devon Care Trust"


def _rewrite(path: Path, change) -> None:
    """Rewrite a CSV table: ``change(rows)`` returns the new rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    rows = change(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _build(data: Path, out: Path, **settings) -> Path:
    build(Settings.from_env({}, data_dir=data, build_dir=out, **settings))
    return out


def _edit(data: Path) -> None:
    """One claim changed, one added, one removed."""
    def relabel(rows):
        for row in rows:
            if row["id"] == "torbay-care-trust":
                row["label"] = NEW_LABEL
        return rows

    def add(rows):
        return rows + [{**{k: "" for k in rows[0]}, "id": "england-joined-up-aim", "kind": "stated-aim",
                        "statement": "Care joined up around the person (test row).", "jurisdiction": "england",
                        "source": "glasby-2008", "confidence": "partial", "note": "test row"}]

    def remove(rows):
        assert any(r["id"] == "scotland-act-2014" for r in rows)
        return [r for r in rows if r["id"] != "scotland-act-2014"]

    _rewrite(data / "partnerships.csv", relabel)
    _rewrite(data / "statements.csv", add)
    _rewrite(data / "events.csv", remove)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    """(old, new): the minimal case data built as it is, and built with the three edits."""
    root = tmp_path_factory.mktemp("diff")
    shutil.copytree(MINIMAL, root / "old-data")  # what the case_dir fixture copies, once for the module
    shutil.copytree(MINIMAL, root / "new-data")
    _edit(root / "new-data")
    return _build(root / "old-data", root / "old"), _build(root / "new-data", root / "new")


@pytest.fixture(scope="module")
def ontology_build(builds, tmp_path_factory) -> Path:
    """The old case data built with an ontology that has one class more and one class deprecated."""
    root = tmp_path_factory.mktemp("diff-ontology")
    ontology = root / "ontology"
    shutil.copytree(Settings.from_env({}).ontology_path, ontology)
    with (ontology / "hscp.ttl").open("a", encoding="utf-8") as handle:
        handle.write(f"""
<{HSCP}TestOnlyClass> a <http://www.w3.org/2002/07/owl#Class> ;
    <http://www.w3.org/2000/01/rdf-schema#label> "Test-only class"@en ;
    <http://www.w3.org/2004/02/skos/core#definition> "A class added by the kg diff tests."@en ;
    <http://www.w3.org/2000/01/rdf-schema#isDefinedBy> <https://w3id.org/hscp/def> .
<{HSCP}ObservedDriver> <http://www.w3.org/2002/07/owl#deprecated> true ;
    <http://purl.org/dc/terms/isReplacedBy> <{HSCP}StatedAim> .
""")
    return _build(builds[0].parent / "old-data", root / "build", ontology_dir=ontology)


# --- the Python API -------------------------------------------------------------------------------


def test_diff_reports_exactly_the_changed_added_and_removed_claims(builds):
    found = diff(*builds)
    assert found
    assert [c.iri for c in found.added] == [ADDED]
    assert [c.iri for c in found.removed] == [REMOVED]
    assert [c.iri for c in found.changed] == [CHANGED]
    [changed] = found.changed
    assert changed.properties == [RDFS_LABEL]
    assert changed.removed == (("", RDFS_LABEL, '"Torbay Care Trust"@en'),)
    assert changed.added == (("", RDFS_LABEL, f'"{NEW_LABEL}"@en'),)
    assert (found.terms_added, found.terms_removed, found.terms_deprecated) == ([], [], [])


def test_each_claim_is_under_its_table_and_jurisdiction(builds):
    found = diff(*builds)
    tables = {c.iri: (c.table, c.id) for c in found.claims}
    assert tables == {CHANGED: ("partnerships", "torbay-care-trust"), ADDED: ("statements", "england-joined-up-aim"),
                      REMOVED: ("events", "scotland-act-2014")}
    # the partnership's own jurisdiction, the statement's, and the removed event's (what it is about,
    # read from the old build)
    assert {c.iri: c.jurisdictions for c in found.claims} == {CHANGED: ("england",), ADDED: ("england",),
                                                              REMOVED: ("scotland",)}
    by_table = found.by_table()
    assert set(by_table) == {"events", "partnerships", "statements"}
    assert [c.iri for c in by_table["events"]["removed"]] == [REMOVED]
    by_place = found.by_jurisdiction()
    assert set(by_place) == {"england", "scotland"}
    assert [c.iri for c in by_place["england"]["changed"]] == [CHANGED]
    assert [c.iri for c in by_place["england"]["added"]] == [ADDED]
    assert [c.iri for c in by_place["scotland"]["removed"]] == [REMOVED]


def test_json_has_the_counts_and_the_groups(builds):
    found = json.loads(json.dumps(diff(*builds).to_json()))
    assert found["differ"] is True
    assert found["counts"]["claims"] == {"added": 1, "removed": 1, "changed": 1}
    assert found["counts"]["ontology"] == {"added": 0, "removed": 0, "deprecated": 0}
    assert found["counts"]["by_table"] == {
        "events": {"added": 0, "removed": 1, "changed": 0},
        "partnerships": {"added": 0, "removed": 0, "changed": 1},
        "statements": {"added": 1, "removed": 0, "changed": 0}}
    assert found["counts"]["by_jurisdiction"] == {
        "england": {"added": 1, "removed": 0, "changed": 1},
        "scotland": {"added": 0, "removed": 1, "changed": 0}}
    assert found["by_table"]["partnerships"]["changed"] == [CHANGED]
    assert found["by_jurisdiction"]["scotland"]["removed"] == [REMOVED]
    [changed] = found["changed"]
    assert changed["table"] == "partnerships" and changed["jurisdictions"] == ["england"]
    assert changed["properties"] == [RDFS_LABEL]
    assert changed["added"] == [{"property": RDFS_LABEL, "value": f'"{NEW_LABEL}"@en'}]
    assert [c["iri"] for c in found["added"]] == [ADDED]
    assert [c["iri"] for c in found["removed"]] == [REMOVED]
    assert found["ontology"] == {"added": [], "removed": [], "deprecated": []}
    assert found["old"]["build"] == str(builds[0]) and found["new"]["version"]


def test_text_lists_each_claim_under_its_table_with_what_changed(builds):
    text = diff(*builds).to_text()
    assert "claims: 1 added, 1 removed, 1 changed" in text
    lines = text.splitlines()

    def under(table):
        start = lines.index(next(line for line in lines if line.startswith(table + " (")))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
        return "\n".join(lines[start:end])

    assert "removed  event/scotland-act-2014  [scotland]" in under("events")
    assert "changed  partnership/torbay-care-trust  [england]: rdfs:label" in under("partnerships")
    assert f'+ rdfs:label "{NEW_LABEL}"@en' in under("partnerships")
    assert '- rdfs:label "Torbay Care Trust"@en' in under("partnerships")
    assert "added    statement/england-joined-up-aim  [england]" in under("statements")
    assert "england: 1 added, 1 changed" in text and "scotland: 1 removed" in text


def test_the_same_build_has_no_differences(builds):
    found = diff(builds[0], builds[0])
    assert not found
    assert found.to_json()["counts"]["claims"] == {"added": 0, "removed": 0, "changed": 0}
    assert found.to_json()["by_table"] == {} and found.to_json()["differ"] is False
    assert "no differences" in found.to_text()


def test_ontology_terms_added_removed_and_newly_deprecated(builds, ontology_build):
    old = builds[0]
    found = diff(old, ontology_build)
    # the same case data built again (with another ontology): not one claim differs
    assert (found.added, found.removed, found.changed) == ([], [], [])
    assert found.terms_added == [HSCP + "TestOnlyClass"]
    assert found.terms_removed == []
    assert [(d.iri, d.replaced_by) for d in found.terms_deprecated] == [(HSCP + "ObservedDriver", (HSCP + "StatedAim",))]
    assert found.to_json()["ontology"]["deprecated"] == [{"iri": HSCP + "ObservedDriver", "replaced_by": [HSCP + "StatedAim"]}]
    assert "! deprecated hscp:ObservedDriver (replaced by hscp:StatedAim)" in found.to_text()
    back = diff(ontology_build, old)
    assert back.terms_removed == [HSCP + "TestOnlyClass"]
    assert back.terms_deprecated == []  # deprecated in the old build only: nothing newly deprecated


def test_a_study_claim_is_read_from_its_own_graph(builds, tmp_path):
    study = tmp_path / "study"
    result = CliRunner().invoke(cli, ["init", str(study), "--namespace", STUDY, "--table", "partnerships"])
    assert result.exit_code == 0, result.output
    path = study / "partnerships.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    path.write_text(header + "\ntest-ijb,Test integration joint board,,integration-joint-board,scotland,yes,2016-04,,,,"
                    "glasby-2008,partial,test row\n", encoding="utf-8")
    merged = _build(builds[0].parent / "old-data", tmp_path / "build", studies=(study,))
    found = diff(builds[0], merged)
    assert [(c.iri, c.table, c.jurisdictions) for c in found.added] == [(STUDY + "partnership/test-ijb", "partnerships",
                                                                         ("scotland",))]
    assert (found.removed, found.changed) == ([], [])


# --- the jurisdiction of a claim, rule by rule (hand-written builds) -------------------------------


def _nq(folder: Path, *triples: tuple[str, str, str], graph: str = "https://w3id.org/hscp/graph/data") -> Path:
    folder.mkdir()
    lines = [f"<{s}> <{p}> {o if o.startswith(chr(34)) else f'<{o}>'} <{graph}> ." for s, p, o in triples]
    (folder / "graph.nq").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_a_claims_jurisdiction_comes_from_what_it_is_about_or_its_evaluation(tmp_path):
    a = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    form, evaluation, finding = BASE + "partnership-form/f", BASE + "evaluation/e", BASE + "finding/x"
    source, observation = BASE + "source/s", BASE + "observation/o"
    common = [(form, a, HSCP + "PartnershipForm"), (form, HSCP + "jurisdiction", BASE + "jurisdiction/wales"),
              (evaluation, a, HSCP + "Evaluation"), (evaluation, HSCP + "coversJurisdiction", BASE + "jurisdiction/quebec"),
              (source, a, "https://schema.org/Report")]
    old = _nq(tmp_path / "old", *common, (observation, a, HSCP + "Classification"), (observation, HSCP + "about", form))
    new = _nq(tmp_path / "new", *common,
              (finding, a, HSCP + "Finding"), (finding, HSCP + "evaluation", evaluation),
              (finding + "#period", HSCP + "startYear", '"2001"'),
              (source, "http://www.w3.org/2000/01/rdf-schema#label", '"A source"'))
    found = diff(old, new)
    assert {c.iri: (c.kind, c.jurisdictions) for c in found.claims} == {
        finding: ("added", ("quebec",)),  # neither its own nor an about: the evaluation's
        observation: ("removed", ("wales",)),  # about a form: the form's, read from the old build
        source: ("changed", ("none",)),
    }
    # hash parts belong to their claim: they are not claims of their own
    assert all("#" not in c.iri for c in found.claims)


def test_the_inferred_and_metadata_graphs_hold_no_claims(tmp_path):
    a = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    old = _nq(tmp_path / "old", (BASE + "partnership/p", a, HSCP + "Partnership"))
    new = tmp_path / "new"
    shutil.copytree(old, new)
    with (new / "graph.nq").open("a", encoding="utf-8") as handle:
        for graph in ("inferred", "metadata"):
            handle.write(f"<{BASE}partnership/q> <{a}> <{HSCP}Partnership> <https://w3id.org/hscp/graph/{graph}> .\n")
            handle.write(f"<{BASE}partnership/p> <{a}> <http://www.w3.org/ns/org#Organization> "
                         f"<https://w3id.org/hscp/graph/{graph}> .\n")
    assert not diff(old, new)


# --- errors and the command line ------------------------------------------------------------------


def test_a_folder_without_a_build_is_named(builds, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError) as raised:
        diff(builds[0], empty)
    assert str(empty) in str(raised.value) and "kg build" in str(raised.value)
    with pytest.raises(UsageError) as raised:
        diff(tmp_path / "missing", builds[0])
    assert str(tmp_path / "missing") in str(raised.value) and "old" in str(raised.value)


def test_kg_diff_on_the_command_line(builds, tmp_path):
    old, new = builds
    runner = CliRunner()
    text = runner.invoke(cli, ["diff", str(old), str(new)])
    assert text.exit_code == 0, text.output
    assert "claims: 1 added, 1 removed, 1 changed" in text.output
    assert "partnership/torbay-care-trust" in text.output
    as_json = runner.invoke(cli, ["diff", str(old), str(new), "--format", "json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["counts"]["claims"] == {"added": 1, "removed": 1, "changed": 1}
    same = runner.invoke(cli, ["diff", str(old), str(old)])
    assert same.exit_code == 0 and "no differences" in same.output  # no differences is not a failure
    missing = runner.invoke(cli, ["diff", str(old), str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert str(tmp_path / "nowhere") in missing.output and "kg build" in missing.output
    assert "diff" in runner.invoke(cli, ["--help"]).output
