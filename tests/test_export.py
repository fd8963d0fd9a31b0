"""kg export: a build's graph back out as case-data tables, and the round trip that loses nothing.

Exporting a dataset of a build and building the exported tables again gives the same data graph.
The case data mints no blank node, so "isomorphic" is plain equality of the two sets of triples
(the test checks there is no blank node first).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from kg.build import build
from kg.cli import cli
from kg.errors import UsageError
from kg.export import export
from kg.settings import Settings

GRAPH = "https://w3id.org/hscp/graph/"


def triples(build_dir: Path, graph: str) -> set[tuple]:
    store = ox.Store()
    store.bulk_load(path=str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    found = {(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, ox.NamedNode(GRAPH + graph))}
    assert not any(isinstance(t, ox.BlankNode) for triple in found for t in triple), "blank nodes: compare by isomorphism"
    return found


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_build_gives_the_same_graph(bundled_build_dir, vocabulary, tmp_path, fmt):
    out = tmp_path / "exported"
    written = export(bundled_build_dir, out, vocabulary, fmt)
    assert written and all(p.parent == out for p in written)
    data = out if fmt == "csv" else out / "bundled.xlsx"
    rebuilt = tmp_path / "rebuilt"
    build(Settings.from_env({}, data_dir=data, build_dir=rebuilt))
    before, after = triples(bundled_build_dir, "data"), triples(rebuilt, "data")
    assert len(before) > 50_000
    assert before == after, (sorted(map(str, before - after))[:5], sorted(map(str, after - before))[:5])


def test_a_study_exports_as_a_study_and_builds_again(tmp_path, vocabulary):
    from test_datasets import A, NOTE, init, write

    study = init(tmp_path / "study-x", A, "Ann Author", "Bo Builder")
    write(study, "partnerships",
          f"demo-ijb,Demo Integration Joint Board,,integration-joint-board,scotland,yes,2016-04,,,,scotland-integration-web,partial,{NOTE}")
    write(study, "evaluations",
          f"demo-eval,Demo evaluation,demo-ijb;scotland-glasgow-city-ijb,,scotland,,,,2020,,,,scotland-integration-web,partial,{NOTE}")
    write(study, "findings",
          f"demo-finding,demo-eval,delayed-discharge,improved,=fewer delays,,,,,scotland-integration-web,partial,{NOTE}")
    first = tmp_path / "first"
    build(Settings.from_env({}, studies=(study,), build_dir=first))
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"exported-{fmt}"
        export(first, out, vocabulary, fmt, dataset="study-x")
        meta = (out / "study.yaml").read_text(encoding="utf-8")
        assert "id: study-x" in meta and A in meta and meta.index("Ann Author") < meta.index("Bo Builder")
        again = tmp_path / f"again-{fmt}"
        build(Settings.from_env({}, studies=(out,), build_dir=again))
        assert triples(first, "study/study-x") == triples(again, "study/study-x")
    # the bundled export leaves the study out
    bundled = tmp_path / "bundled-only"
    export(first, bundled, vocabulary, "csv")
    assert "demo-ijb" not in (bundled / "partnerships.csv").read_text(encoding="utf-8")


def test_a_workbook_export_holds_text_never_formulas(tmp_path, vocabulary):
    import openpyxl

    from test_datasets import A, NOTE, init, write

    study = init(tmp_path / "study-f", A)
    write(study, "partnerships",
          f"p1,=HYPERLINK(\"http://x\"),,integration-joint-board,scotland,,,,+1 @x,,scotland-integration-web,partial,{NOTE}")
    first = tmp_path / "first"
    build(Settings.from_env({}, studies=(study,), build_dir=first))
    export(first, tmp_path / "out", vocabulary, "xlsx", dataset="study-f")
    sheet = openpyxl.load_workbook(tmp_path / "out" / "study-f.xlsx")["partnerships"]
    cells = {c.value: c.data_type for row in sheet.iter_rows(min_row=2) for c in row if c.value}
    assert cells['=HYPERLINK("http://x")'] == "s" and cells["+1 @x"] == "s"


def test_bad_exports_are_refused(bundled_build_dir, vocabulary, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="exists and is not an empty folder"):
        export(bundled_build_dir, full, vocabulary)
    assert (full / "keep.txt").read_text() == "mine"
    with pytest.raises(UsageError, match="--dataset 'nope' is not in the build"):
        export(bundled_build_dir, tmp_path / "a", vocabulary, dataset="nope")
    with pytest.raises(UsageError, match="no build in"):
        export(tmp_path / "nowhere", tmp_path / "b", vocabulary)
    with pytest.raises(UsageError, match="not an export format"):
        export(bundled_build_dir, tmp_path / "c", vocabulary, "ods")


def test_kg_export_command(bundled_build_dir, tmp_path):
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "out"), "--build", str(bundled_build_dir)])
    assert result.exit_code == 0, result.output
    assert "wrote 19 files" in result.output
    header = (tmp_path / "out" / "partnerships.csv").read_text(encoding="utf-8").splitlines()
    assert header[0].startswith("id,label,") and len(header) > 200
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "out"), "--build", str(bundled_build_dir)])
    assert result.exit_code == 2 and "not an empty folder" in result.output
