"""kg init and the standard table metadata: the Frictionless and CSVW descriptions tell the truth.

The bundled data and a new study's templates validate against the generated metadata with the
Frictionless and csvw libraries themselves; spoiled copies do not, so the metadata says what
the case-data reader checks.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kg.casedata import TABLES
from kg.cli import cli
from kg.settings import resource_dir
from kg.study import csvw_metadata, datapackage

import csvw  # noqa: E402 - test dependencies (pip install -e .[test]): missing, the tests fail, never skip
import frictionless  # noqa: E402


@pytest.fixture
def bundled(tmp_path, vocabulary) -> Path:
    """A copy of the bundled data with its generated metadata beside it."""
    folder = tmp_path / "bundled"
    shutil.copytree(resource_dir("data"), folder)
    (folder / "datapackage.json").write_text(json.dumps(datapackage(vocabulary.slugs)), encoding="utf-8")
    (folder / "csv-metadata.json").write_text(json.dumps(csvw_metadata(vocabulary.slugs)), encoding="utf-8")
    return folder


def frictionless_errors(folder: Path) -> list[tuple[str, int | None, str | None, str]]:
    report = frictionless.Package(str(folder / "datapackage.json")).validate()
    return [(task.name, getattr(e, "row_number", None), getattr(e, "field_name", None), e.type)
            for task in report.tasks for e in task.errors]


def csvw_problems(folder: Path) -> list[str]:
    group = csvw.TableGroup.from_file(folder / "csv-metadata.json")
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for table in group.tables:
                for _ in table.iterdicts(strict=True):
                    pass
            if not group.check_referential_integrity():
                problems.append("referential integrity")
        except ValueError as error:  # csvw raises on a value its datatype refuses
            problems.append(str(error))
    return problems + [str(w.message) for w in caught]


def test_the_bundled_data_meets_its_frictionless_description(bundled):
    assert frictionless_errors(bundled) == []


def test_the_bundled_data_meets_its_csvw_description(bundled):
    assert csvw_problems(bundled) == []


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, field, kind", [
    ("partnerships.csv", ",care-trust,england,yes,2002-04,", ",care-trust,england,yes,April 2002,", "start", "constraint-error"),
    ("partnerships.csv", ",care-trust,england,yes,", ",care-trust,england,maybe,", "legal_entity", "type-error"),
    ("memberships.csv", ",member,", ",chair,", "role", "constraint-error"),
    ("sources.csv", ",2010,", ",twenty ten,", "year", "type-error"),
    ("partnerships.csv", ",care-trust,england,", ",care-trusts,england,", "form", "foreign-key"),
])
def test_a_spoiled_row_breaks_the_frictionless_description(bundled, file, old, new, field, kind):
    replace_in(bundled / file, old, new)
    errors = frictionless_errors(bundled)
    assert any(e[0] == file[:-4] and e[3] == kind and (e[2] == field or kind == "foreign-key") for e in errors), errors


def test_a_spoiled_row_breaks_the_csvw_description(bundled):
    replace_in(bundled / "sources.csv", ",2010,", ",twenty ten,")
    assert csvw_problems(bundled)


def test_kg_init_writes_a_study_the_metadata_describes(tmp_path):
    folder = tmp_path / "my-study"
    result = CliRunner().invoke(cli, ["init", str(folder), "--title", "Coding Welsh partnerships",
                                      "--namespace", "https://example.org/welsh-study/id/", "--author", "A. Researcher"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in folder.glob("*.csv")} == {t.filename for t in TABLES.values()}
    for table in TABLES.values():
        assert (folder / table.filename).read_text(encoding="utf-8").strip() == ",".join(c.name for c in table.columns)
    study = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    assert study == {"id": "my-study", "title": "Coding Welsh partnerships", "authors": ["A. Researcher"],
                     "licence": "https://creativecommons.org/licenses/by/4.0/", "version": "0.1.0",
                     "namespace": "https://example.org/welsh-study/id/"}
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert package["name"] == "coding-welsh-partnerships" and package["licenses"][0]["name"] == "CC-BY-4.0"
    assert "kg validate --data" in (folder / "README.md").read_text(encoding="utf-8")
    assert frictionless_errors(folder) == []  # empty templates are valid tables
    assert csvw_problems(folder) == []
    # and kg itself reads the empty study
    check = CliRunner().invoke(cli, ["validate", "--data", str(folder)])
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("args, message", [
    (["--namespace", "https://w3id.org/hscp/id/"], "overlaps the bundled data's namespace"),
    (["--namespace", "example.org/study"], "is not an http(s) IRI"),
    (["--namespace", "https://example.org/study"], "ending in '/' or '#'"),
])
def test_kg_init_refuses_a_bad_namespace(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "s"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "s").exists()


def test_kg_init_keeps_an_existing_folder(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(folder), "--namespace", "https://example.org/s/"])
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_kg_init_with_only_the_tables_a_study_needs(tmp_path):
    folder = tmp_path / "lean"
    result = CliRunner().invoke(cli, ["init", str(folder), "--namespace", "https://example.org/lean/",
                                      "--table", "partnerships", "--table", "observations"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.glob("*.csv")) == ["observations.csv", "partnerships.csv"]
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in package["resources"]] == ["partnerships", "observations"]
    (folder / "partnerships.csv").write_text(
        (folder / "partnerships.csv").read_text(encoding="utf-8")
        + "lean-ijb,Lean IJB,,integration-joint-board,scotland,,,,,,scotland-integration-web,partial,synthetic test row\n",
        encoding="utf-8")
    assert frictionless_errors(folder) == [] and csvw_problems(folder) == []
    check = CliRunner().invoke(cli, ["validate", "--data", str(folder)])  # refers to bundled ids: read with the bundled data
    assert check.exit_code == 0, check.output
    refused = CliRunner().invoke(cli, ["init", str(tmp_path / "x"), "--namespace", "https://example.org/x/", "--table", "nope"])
    assert refused.exit_code == 2 and "--table nope: no such case-data table" in refused.output
