"""Several datasets in one build: the bundled evidence and studies, each in its own named graph.

Two studies are started with ``kg init`` and filled with a few rows that refer by id to the
bundled jurisdictions, forms and sources (and the second to the first study's partnership). The
rows are synthetic, and say so in their notes; they live in the tests' temporary folders only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from kg.build import build
from kg.cli import cli
from kg.errors import CaseDataError
from kg.settings import Settings

A = "https://example.org/study-a/id/"
B = "https://example.org/study-b/id/"
GRAPH = "https://w3id.org/hscp/graph/"
NOTE = "synthetic test row"


def init(folder: Path, namespace: str, *authors: str) -> Path:
    args = ["init", str(folder), "--namespace", namespace, "--title", f"Study {folder.name}"]
    for author in authors:
        args += ["--author", author]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return folder


def write(folder: Path, table: str, *rows: str) -> None:
    path = folder / f"{table}.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("studies")
    a = init(root / "study-a", A, "Ann Author", "Bo Builder")
    write(a, "partnerships",
          f"demo-ijb,Demo Integration Joint Board,,integration-joint-board,scotland,yes,2016-04,,,,scotland-integration-web,partial,{NOTE}")
    write(a, "sources",  # a bundled source repeated word for word: allowed, the bundled row is kept
          *[line for line in (Path(__file__).parents[1] / "data" / "sources.csv").read_text(encoding="utf-8").splitlines()
            if line.startswith("scotland-integration-web,")])
    b = init(root / "study-b", B)
    write(b, "observations",
          f"demo-ijb-budget,demo-ijb,,budget-integration,delegated,derived,delegated: the partners delegate budgets to the board,"
          f"2016-04,,,scotland-integration-web,partial,{NOTE}")
    return a, b


@pytest.fixture(scope="module")
def merged(studies, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("merged") / "build"
    build(Settings.from_env({}, studies=studies, build_dir=out))
    return out


def quads(build_dir: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=str(build_dir / "graph.nq"), format=ox.RdfFormat.N_QUADS)
    return store


def test_two_studies_and_the_bundled_data_build_with_one_named_graph_each(merged):
    store = quads(merged)
    graphs = {g.value for g in store.named_graphs()}
    assert {GRAPH + "data", GRAPH + "study/study-a", GRAPH + "study/study-b"} <= graphs
    report = json.loads((merged / "report.json").read_text())
    assert report["triples"]["study/study-a"] > 0 and report["triples"]["study/study-b"] > 0

    def graphs_of(s):
        return {q.graph_name.value for q in store.quads_for_pattern(ox.NamedNode(s), None, None)}

    # a study mints under its own namespace, in its own graph; the repeated bundled source stays bundled
    assert graphs_of(A + "partnership/demo-ijb") == {GRAPH + "study/study-a", GRAPH + "inferred"}
    assert graphs_of(B + "observation/demo-ijb-budget") == {GRAPH + "study/study-b", GRAPH + "inferred"}
    assert not graphs_of(A + "source/scotland-integration-web")
    # references by id reach the bundled resources and the first study's partnership
    about = [q.object.value for q in store.quads_for_pattern(ox.NamedNode(B + "observation/demo-ijb-budget"),
                                                             ox.NamedNode("https://w3id.org/hscp/def#about"), None)]
    assert about == [A + "partnership/demo-ijb"]
    form = [q.object.value for q in store.quads_for_pattern(ox.NamedNode(A + "partnership/demo-ijb"),
                                                            ox.NamedNode("https://w3id.org/hscp/def#form"), None)]
    assert form == ["https://w3id.org/hscp/id/partnership-form/integration-joint-board"]
    # the bundled graph holds no study triple
    assert not list(store.quads_for_pattern(ox.NamedNode(A + "partnership/demo-ijb"), None, None, ox.NamedNode(GRAPH + "data")))


def test_each_dataset_has_its_own_dcat_description(merged):
    store = quads(merged)
    rows = {str(r["id"].value): r for r in store.query("""
        PREFIX dct: <http://purl.org/dc/terms/> PREFIX dcat: <http://www.w3.org/ns/dcat#>
        PREFIX void: <http://rdfs.org/ns/void#> PREFIX foaf: <http://xmlns.com/foaf/0.1/>
        PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>
        SELECT ?id ?ds ?graph ?version ?licence (GROUP_CONCAT(?name; separator="|") AS ?authors) ?triples WHERE {
          GRAPH <https://w3id.org/hscp/graph/metadata> {
            ?ds a dcat:Dataset ; dct:identifier ?id ; dcat:version ?version .
            ?g sd:graph ?ds ; sd:name ?graph .
            OPTIONAL { ?ds dct:license ?licence } OPTIONAL { ?ds void:triples ?triples }
            OPTIONAL { ?ds dct:creator/foaf:name ?name }
          } } GROUP BY ?id ?ds ?graph ?version ?licence ?triples""")}
    assert set(rows) == {"bundled", "study-a", "study-b"}
    assert rows["study-a"]["ds"].value == A + "dataset"
    assert rows["study-a"]["graph"].value == GRAPH + "study/study-a"
    assert sorted(rows["study-a"]["authors"].value.split("|")) == ["Ann Author", "Bo Builder"]
    assert rows["study-a"]["version"].value == "0.1.0"
    assert rows["study-b"]["licence"].value == "https://creativecommons.org/licenses/by/4.0/"
    report = json.loads((merged / "report.json").read_text())
    assert int(rows["study-b"]["triples"].value) == report["triples"]["study/study-b"]
    assert rows["bundled"]["graph"].value == GRAPH + "data"


def test_the_case_data_dumps_hold_every_dataset(merged):
    text = (merged / "data.ttl").read_text(encoding="utf-8")
    assert "example.org/study-a/id/partnership/demo-ijb" in text and "example.org/study-b/id/observation" in text
    assert "torbay" in text  # and the bundled data


def _error(settings: Settings) -> list[str]:
    with pytest.raises(CaseDataError) as caught:
        build(settings)
    return [str(p) for p in caught.value.problems]


def test_an_id_two_datasets_define_differently_names_both_files_and_rows(studies, tmp_path, bundled_build_dir):
    a, _ = studies
    clash = init(tmp_path / "study-c", "https://example.org/study-c/id/")
    write(clash, "jurisdictions", f"scotland,Scotland (again),,,,scotland-integration-web,partial,{NOTE}")
    out = tmp_path / "build"
    shutil.copytree(bundled_build_dir, out)
    before = (out / "graph.nq").read_bytes()
    [problem] = _error(Settings.from_env({}, studies=(a, clash), build_dir=out))
    assert problem.startswith("study-c/jurisdictions.csv:2: column 'id':")
    assert "data/jurisdictions.csv row" in problem and "differently (" in problem and "label" in problem
    assert (out / "graph.nq").read_bytes() == before  # the previous build stays as it was


def test_two_studies_defining_one_id_differently(studies, tmp_path):
    a, _ = studies
    twin = init(tmp_path / "study-d", "https://example.org/study-d/id/")
    write(twin, "partnerships",
          f"demo-ijb,Another Demo Board,,integration-joint-board,scotland,yes,2017-04,,,,scotland-integration-web,partial,{NOTE}")
    [problem] = _error(Settings.from_env({}, studies=(a, twin), build_dir=tmp_path / "build"))
    assert problem.startswith("study-d/partnerships.csv:2: column 'id': 'demo-ijb' is also defined by study-a/partnerships.csv row 2")
    assert not (tmp_path / "build").exists()


def test_a_study_namespace_may_not_overlap_the_bundled_one_or_another_study(studies, tmp_path):
    a, _ = studies
    inside = tmp_path / "inside"
    shutil.copytree(a, inside)
    meta = (inside / "study.yaml").read_text().replace(A, "https://w3id.org/hscp/id/mine/").replace("id: study-a", "id: inside")
    (inside / "study.yaml").write_text(meta)
    [problem] = _error(Settings.from_env({}, studies=(inside,), build_dir=tmp_path / "b1"))
    assert problem.startswith("inside/study.yaml: column 'namespace': https://w3id.org/hscp/id/mine/ overlaps the bundled data's namespace")
    same = tmp_path / "same"
    shutil.copytree(a, same)
    (same / "study.yaml").write_text((a / "study.yaml").read_text().replace("id: study-a", "id: same"))
    [problem] = _error(Settings.from_env({}, studies=(a, same), build_dir=tmp_path / "b2"))
    assert "overlaps the namespace of study-a/study.yaml" in problem


def test_a_bad_study_yaml_is_named(tmp_path):
    folder = init(tmp_path / "broken", "https://example.org/broken/")
    (folder / "study.yaml").write_text("title: [unclosed\n")
    [problem] = _error(Settings.from_env({}, studies=(folder,), build_dir=tmp_path / "b"))
    assert problem.startswith("broken/study.yaml:") and "not valid YAML" in problem
    (folder / "study.yaml").write_text("title: x\nnamespace: not-an-iri\ncolour: blue\n")
    problems = _error(Settings.from_env({}, studies=(folder,), build_dir=tmp_path / "b"))
    assert any("column 'namespace'" in p and "not an http(s) IRI" in p for p in problems)
    assert any("column 'colour'" in p and "unknown key" in p for p in problems)


def test_a_study_refers_only_to_ids_that_exist(tmp_path):
    folder = init(tmp_path / "dangling", "https://example.org/dangling/")
    write(folder, "partnerships", f"p1,P1,,no-such-form,scotland,,,,,,scotland-integration-web,partial,{NOTE}")
    [problem] = _error(Settings.from_env({}, studies=(folder,), build_dir=tmp_path / "b"))
    assert problem == ("dangling/partnerships.csv:2: column 'form': 'no-such-form' is not an id in forms.csv: "
                       "add that row or correct the id")


def test_a_study_as_a_workbook(tmp_path, studies):
    from test_casedata import workbook_of

    a, _ = studies
    folder = tmp_path / "booked"
    folder.mkdir()
    (folder / "study.yaml").write_text((a / "study.yaml").read_text().replace("id: study-a", "id: booked"))
    tables = tmp_path / "tables"
    tables.mkdir()
    shutil.copy(a / "partnerships.csv", tables)
    workbook_of(tables, folder / "booked.xlsx")
    compiled = build(Settings.from_env({}, studies=(folder,), build_dir=tmp_path / "b"))
    assert len(compiled.data_graphs()["study/booked"]) > 5


def test_kg_build_takes_studies_with_data(studies, tmp_path):
    a, b = studies
    result = CliRunner().invoke(cli, ["build", "--data", str(a), "--data", str(b), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "study/study-a" in result.output and "study/study-b" in result.output
    result = CliRunner().invoke(cli, ["validate", "--data", str(a)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["validate", "--data", str(b)])  # refers to study-a, which is not given
    assert result.exit_code == 1 and "study-b/observations.csv:2: column 'partnership': 'demo-ijb' is not an id" in result.output


def test_kg_studies_setting(tmp_path):
    settings = Settings.from_env({"KG_STUDIES": f"{tmp_path / 'a'}:{tmp_path / 'b'}"})
    assert settings.studies == (tmp_path / "a", tmp_path / "b")
    assert Settings.from_env({}).studies == ()


# --- the web app over the merged build ----------------------------------------------------------------


@pytest.fixture(scope="module")
def merged_client(merged):
    from kg.store import open_store
    from webapp import create_app

    settings = Settings.from_env({}, build_dir=merged, workers=1)
    store = open_store(settings)
    app = create_app(settings, store)
    app.config["TESTING"] = True
    yield app.test_client()
    store.close()


def test_pivots_filter_by_dataset_and_every_claim_names_its_dataset(merged_client):
    url = "/compare.json?rows=jurisdiction&columns=budget-integration&measure=partnerships"
    everything = merged_client.get(url).get_json()
    only = merged_client.get(url + "&dataset=study-a").get_json()
    assert only["dataset"] == "study-a"
    units = [u for c in only["cells"] for u in c["units"]]
    assert {u["unit"] for u in units} == {A + "partnership/demo-ijb"}
    assert {u["dataset"] for u in units} == {"study-a"}
    [cell] = [c for c in only["cells"] if c["column"].endswith("/delegated")]
    claims = {e["claim"]: e["dataset"] for u in cell["units"] for e in u["evidence"]}
    assert claims[B + "observation/demo-ijb-budget"] == "study-b"
    bundled = merged_client.get(url + "&dataset=bundled").get_json()
    total = lambda p: sum(c["count"] for c in p["cells"])  # noqa: E731
    assert total(bundled) + total(only) == total(everything) and total(bundled) > 100
    assert merged_client.get(url + "&dataset=study-b").get_json()["cells"] == []  # study-b defines no partnership
    refused = merged_client.get(url + "&dataset=nope")
    assert refused.status_code == 400 and "dataset='nope'" in refused.get_json()["error"]
    html = merged_client.get("/compare?rows=jurisdiction&columns=budget-integration&measure=partnerships&dataset=study-a"
                             "&row=https%3A%2F%2Fw3id.org%2Fhscp%2Fid%2Fjurisdiction%2Fscotland"
                             "&column=https%3A%2F%2Fw3id.org%2Fhscp%2Fid%2Fbudget-integration%2Fdelegated").get_data(as_text=True)
    assert "dataset: Study study-b" in html and 'href="/study/study-a/partnership/demo-ijb"' in html


def test_a_study_resource_is_served_with_its_dataset(merged_client):
    page = merged_client.get("/study/study-a/partnership/demo-ijb")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "dataset: Study study-a" in html and "dataset: Study study-b" in html  # its own, and the claim about it
    assert 'href="/study/study-a/partnership/demo-ijb.ttl"' in html
    turtle = merged_client.get("/study/study-a/partnership/demo-ijb.ttl")
    assert turtle.status_code == 200 and "Demo Integration Joint Board" in turtle.get_data(as_text=True)
    assert merged_client.get("/study/nope/partnership/demo-ijb").status_code == 404
    assert merged_client.get("/study/study-a/partnership/no-such").status_code == 404
    bundled = merged_client.get("/doc/partnership/torbay-care-trust").get_data(as_text=True)
    assert "dataset: Health and social care partnerships" in bundled


def test_the_dataset_page_lists_every_dataset(merged_client):
    html = merged_client.get("/dataset").get_data(as_text=True)
    for slug in ("bundled", "study-a", "study-b"):
        assert f'id="dataset-{slug}"' in html
    assert "Ann Author; Bo Builder" in html or "Bo Builder; Ann Author" in html
