"""The kg command: exit codes 0 / 1 / 2 and messages that name the file and row."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.cli import cli
from kg.settings import Settings


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("KG_BUILD", "KG_DATA_DIR", "KG_STORE", "KG_ONTOLOGY_DIR", "KG_QUERIES_DIR"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_help_documents_exit_codes(run):
    result = run("--help")
    assert result.exit_code == 0
    assert "1  the data is wrong" in result.output and "2  usage or environment error" in result.output


def test_build_exits_0_and_writes_build(run, case_dir, tmp_path):
    result = run("build", "--data", case_dir, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "graph.nq").is_file()


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("partnerships.csv", "ayrshire-ijb,", "torbay-care-trust,", "partnerships.csv:3: column 'id': duplicate id 'torbay-care-trust'"),
        ("memberships.csv", "torbay-council,member", "nowhere-council,member",
         "memberships.csv:2: column 'organisation': 'nowhere-council' is not an id in organisations.csv"),
        ("partnerships.csv", "2015-04-02", "02/04/2015", "partnerships.csv:3: column 'start': '02/04/2015' is not a date"),
    ],
)
def test_bad_data_exits_1_and_leaves_build_untouched(run, case_dir, tmp_path, file, old, new, expected):
    out = tmp_path / "out"
    assert run("build", "--data", case_dir, "--out", out).exit_code == 0
    before = snapshot(out)
    path = case_dir / file
    path.write_text(path.read_text().replace(old, new, 1))
    result = run("build", "--data", case_dir, "--out", out)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert snapshot(out) == before


def test_validate_conforms_and_writes_nothing(run, case_dir, tmp_path):
    result = run("validate", "--data", case_dir)
    assert result.exit_code == 0, result.output
    assert "conforms" in result.output
    assert not (tmp_path / "build").exists()


def test_validate_json_lists_case_data_problems(run, case_dir):
    path = case_dir / "partnerships.csv"
    path.write_text(path.read_text().replace("care-trust,england", "no-such-form,england", 1))
    result = run("validate", "--data", case_dir, "--format", "json")
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert problems == ["partnerships.csv:2: column 'form': 'no-such-form' is not an id in forms.csv: add that row or correct the id"]


@pytest.mark.slow
def test_reason_reports_consistency(run, case_dir):
    result = run("reason", "--data", case_dir)
    assert result.exit_code == 0, result.output
    assert "consistent: the ontology and the data are consistent" in result.output


@pytest.mark.slow
def test_reason_names_resources_of_an_inconsistency(run, case_dir, tmp_path, monkeypatch):
    ontology = tmp_path / "ontology"
    shutil.copytree(Settings.from_env({}).ontology_path, ontology)
    with (ontology / "hscp.ttl").open("a", encoding="utf-8") as f:
        f.write("\n<https://w3id.org/hscp/def#Partnership> "
                "<http://www.w3.org/2002/07/owl#disjointWith> <http://www.w3.org/ns/org#FormalOrganization> .\n")
    monkeypatch.setenv("KG_ONTOLOGY_DIR", str(ontology))
    result = run("reason", "--data", case_dir)
    assert result.exit_code == 1
    assert "torbay-care-trust" in result.output and "ayrshire-ijb" in result.output
    assert "Traceback" not in result.output


def test_usage_errors_exit_2(run, tmp_path):
    assert run("build", "--no-such-option").exit_code == 2
    result = run("query", "SELECT * WHERE { ?s ?p ?o }", "--build", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_bad_setting_exits_2(run, monkeypatch):
    monkeypatch.setenv("KG_QUERY_TIMEOUT", "soon")
    result = run("queries")
    assert result.exit_code == 2
    assert "KG_QUERY_TIMEOUT='soon' is not a valid float" in result.output


@pytest.fixture
def built(run, case_dir, tmp_path):
    out = tmp_path / "out"
    assert run("build", "--data", case_dir, "--out", out).exit_code == 0
    return out


def test_query_prints_a_table_and_csv(run, built):
    q = "PREFIX hscp: <https://w3id.org/hscp/def#> SELECT ?p WHERE { ?p a hscp:Partnership } ORDER BY ?p"
    table = run("query", q, "--build", built)
    assert table.exit_code == 0, table.output
    assert "https://w3id.org/hscp/id/partnership/ayrshire-ijb" in table.output
    csv_out = run("query", q, "--build", built, "--format", "csv")
    lines = csv_out.output.strip().splitlines()
    assert lines[0].strip() == "p" and len(lines) == 3


def test_query_syntax_error_exits_2(run, built):
    result = run("query", "SELECT WHERE {", "--build", built)
    assert result.exit_code == 2
    assert "error:" in result.output


def test_query_refuses_service(run, built):
    result = run("query", "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "--build", built)
    assert result.exit_code == 2
    assert "SERVICE" in result.output


def _edit_cell(path: Path, row: int, column: str, value: str) -> str:
    """Set one cell (spreadsheet row numbering: header = 1) and return its old value."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    index = rows[0].index(column)
    old = rows[row - 1][index]
    rows[row - 1][index] = value
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return old


@pytest.fixture(scope="module")
def bundled_build(tmp_path_factory):
    """A copy of the bundled data/ and a build of it, made once for the module."""
    root = tmp_path_factory.mktemp("bundled")
    shutil.copytree(Settings.from_env({}).data_path, root / "data")
    result = CliRunner().invoke(cli, ["build", "--data", str(root / "data"), "--out", str(root / "build")])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("mistake", ["duplicate id", "dangling reference", "bad date"])
def test_mistakes_in_a_copy_of_the_bundled_data_exit_1(bundled_build, tmp_path, mistake):
    data = tmp_path / "data"
    shutil.copytree(bundled_build / "data", data)
    out = bundled_build / "build"
    before = snapshot(out)
    if mistake == "duplicate id":
        first = _edit_cell(data / "partnerships.csv", 2, "id", "x")
        _edit_cell(data / "partnerships.csv", 2, "id", first)
        _edit_cell(data / "partnerships.csv", 3, "id", first)
        expected = f"partnerships.csv:3: column 'id': duplicate id '{first}': row 2 already uses it"
    elif mistake == "dangling reference":
        _edit_cell(data / "memberships.csv", 4, "partnership", "no-such-partnership")
        expected = "memberships.csv:4: column 'partnership': 'no-such-partnership' is not an id in partnerships.csv"
    else:
        _edit_cell(data / "partnerships.csv", 5, "start", "31/12/2004")
        expected = "partnerships.csv:5: column 'start': '31/12/2004' is not a date"
    result = CliRunner().invoke(cli, ["build", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 1
    assert expected in result.output
    assert snapshot(out) == before


def test_canned_query_with_parameters(run, bundled_build_dir):
    result = run("query", "partnership-members", "--build", bundled_build_dir, "--format", "json",
                 "-p", "partnership=https://w3id.org/hscp/id/partnership/tiohundra")
    assert result.exit_code == 0, result.output
    bindings = json.loads(result.output)["results"]["bindings"]
    assert bindings and all(b["partnership"]["value"].endswith("/tiohundra") for b in bindings)


@pytest.mark.parametrize("param, expected", [
    ('partnership="> } ; DROP ALL ; #', "Parameter 'partnership' (choice)"),
    ("nope=1", "has no parameter 'nope'"),
    ("partnership", "-p takes NAME=VALUE"),
])
def test_bad_canned_query_parameter_exits_2(run, bundled_build_dir, param, expected):
    result = run("query", "partnership-members", "--build", bundled_build_dir, "-p", param)
    assert result.exit_code == 2
    assert expected in result.output


def test_queries_lists_the_catalogue_as_json(run):
    result = run("queries", "--format", "json")
    assert result.exit_code == 0
    listing = json.loads(result.output)
    assert len(listing) >= 14
    for entry in listing:
        assert set(entry) >= {"name", "title", "description", "tags", "params"}
        for param in entry["params"]:
            assert set(param) >= {"name", "type", "required", "default", "example"}


def test_validate_json_reports_violations_as_objects(run, case_dir, tmp_path, monkeypatch):
    ontology = tmp_path / "ontology"
    shutil.copytree(Settings.from_env({}).ontology_path, ontology)
    with (ontology / "shapes.ttl").open("a", encoding="utf-8") as f:
        f.write("""
<urn:test:EndShape> a <http://www.w3.org/ns/shacl#NodeShape> ;
  <http://www.w3.org/ns/shacl#targetClass> <https://w3id.org/hscp/def#Partnership> ;
  <http://www.w3.org/ns/shacl#property> [ <http://www.w3.org/ns/shacl#path> <https://w3id.org/hscp/def#endDate> ;
      <http://www.w3.org/ns/shacl#minCount> 1 ;
      <http://www.w3.org/ns/shacl#message> "Test shape: fill the 'end' column of partnerships.csv." ] .
""")
    monkeypatch.setenv("KG_ONTOLOGY_DIR", str(ontology))
    result = run("validate", "--data", case_dir, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["conforms"] is False
    assert {v["origin"]["row"] for v in report["violations"]} == {2, 3}
    assert all(v["origin"]["path"] == "partnerships.csv" for v in report["violations"])


def test_build_fills_an_on_disk_store_that_query_opens(run, case_dir, tmp_path):
    disk = tmp_path / "store"
    result = run("build", "--data", case_dir, "--out", tmp_path / "out", "--store", f"oxigraph:{disk}")
    assert result.exit_code == 0, result.output
    assert disk.is_dir()
    q = "PREFIX hscp: <https://w3id.org/hscp/def#> SELECT ?p WHERE { ?p a hscp:Partnership } ORDER BY ?p"
    answer = run("query", q, "--store", f"oxigraph:{disk}", "--format", "csv")
    assert answer.exit_code == 0, answer.output
    assert answer.output.split()[1:] == ["https://w3id.org/hscp/id/partnership/ayrshire-ijb",
                                        "https://w3id.org/hscp/id/partnership/torbay-care-trust"]


def test_query_table_shows_the_lexical_forms_the_json_gives(run, tmp_path):
    build = tmp_path / "tiny"
    build.mkdir()
    (build / "graph.nq").write_text("<urn:x:s> <urn:x:p> <urn:x:o> <https://w3id.org/hscp/graph/data> .\n", encoding="utf-8")
    q = ('PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> SELECT ?d ?e ?i WHERE { '
         'VALUES (?d ?e ?i) { ("30000"^^xsd:double "1.50"^^xsd:decimal "01"^^xsd:integer) } }')
    as_json = run("query", q, "--build", build, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    (binding,) = json.loads(as_json.output)["results"]["bindings"]
    lexical = [binding[v]["value"] for v in ("d", "e", "i")]
    assert lexical[0] == "30000"
    table = run("query", q, "--build", build)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["d", "e", "i"]
    assert lines[2].split() == lexical
