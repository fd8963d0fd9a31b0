"""Guards of the case-data reader against input that would break what is built from it.

Characters XML cannot carry, cells too long for a spreadsheet or for the csv module, floods of
problems, parent and change cycles, and dates too far ahead: each is refused with a problem that
names the file, the row and the column. Every file here is generated in a temporary folder.
"""

from __future__ import annotations

import csv
import datetime
import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import kg.casedata
from kg.casedata import TABLES, read_case_data, read_datasets, read_table
from kg.datasets import DatasetSpec
from kg.errors import CaseDataError, CaseDataProblem

MAX_CELL_CHARS = 32_767  # the characters an Excel cell holds

from test_casedata import problems_of  # noqa: E402


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8", newline="")


def append_to(path: Path, *rows: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


# --- characters XML 1.0 forbids ------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\ufffe", "\uffff"])
def test_a_character_xml_forbids_in_a_csv_cell_is_refused(case_dir, vocabulary, char):
    replace_in(case_dir / "partnerships.csv", ",Torbay Care Trust,", f",Torbay{char}Care Trust,")
    code = f"U+{ord(char):04X}"
    assert (f"partnerships.csv:2: column 'label': the text holds {code} at character 7, a control character that "
            "XML cannot carry (pages and query results would break): delete it (it often comes with text copied "
            "from a PDF or another program)") in problems_of(case_dir, vocabulary)


def test_a_lone_surrogate_is_refused():
    problems: list[CaseDataProblem] = []
    read_table(TABLES["sources"], "id,kind,citation,confidence\nx,article,Cit\ud800ation,confirmed\n",
               "sources.csv", problems, {"confidence": frozenset({"confirmed"})})
    assert [str(p) for p in problems] == [
        "sources.csv:2: column 'citation': the text holds U+D800 at character 4, a control character that XML cannot "
        "carry (pages and query results would break): delete it (it often comes with text copied from a PDF or "
        "another program)"]


def test_several_forbidden_characters_name_the_first_and_count_the_rest(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", ",A care trust.,", ",\"A \x00care\x01 trust\x02.\",")
    [problem] = [p for p in problems_of(case_dir, vocabulary) if "column 'description'" in p]
    assert problem.startswith("partnerships.csv:2: column 'description': the text holds U+0000 at character 3 "
                              "(and 2 more such characters), a control character")


def test_a_forbidden_character_in_the_header_is_refused(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", ",homepage,", ",home\x07page,")
    assert any(p.startswith("partnerships.csv:1: the header's column 10 holds U+0007 at character 5")
               for p in problems_of(case_dir, vocabulary))


def test_tab_line_feed_and_carriage_return_in_a_cell_are_fine(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", ",A care trust.,", ",\"A care\ttrust.\r\nIn Torbay.\nSince 2005.\",")
    data = read_case_data(case_dir, vocabulary.slugs)
    torbay = next(r for r in data["partnerships"] if r.id == "torbay-care-trust")
    assert torbay["description"] == "A care\ttrust.\r\nIn Torbay.\nSince 2005."


def _workbook(folder: Path, target: Path) -> Path:
    from test_casedata import workbook_of

    return workbook_of(folder, target)


def _patch_workbook(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite the sheets' XML as a tool that does not check what XML allows might write it."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info.filename)) for info in source.infolist()]
    found = False
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            if info.filename.startswith("xl/") and old in data:
                data, found = data.replace(old, new), True
            target.writestr(info, data)
    assert found, old


@pytest.mark.parametrize("written, code", [(b"&#1;", "U+0001"), (b"&#x0;", "U+0000"), (b"\x1b", "U+001B"),
                                           (b"&#xFFFF;", "U+FFFF"), ("\ufffe".encode(), "U+FFFE")])
def test_a_character_xml_forbids_in_a_workbook_cell_is_refused(case_dir, vocabulary, tmp_path, written, code):
    path = _workbook(case_dir, tmp_path / "study.xlsx")
    _patch_workbook(path, b"Torbay Care Trust<", b"Torbay" + written + b"Care Trust<")
    assert (f"study.xlsx (sheet partnerships):2: column 'label': the text holds {code} at character 7, a control "
            "character that XML cannot carry (pages and query results would break): delete it (it often comes "
            "with text copied from a PDF or another program)") in problems_of(path, vocabulary)


def test_a_workbook_with_legal_escapes_still_reads(case_dir, vocabulary, tmp_path):
    path = _workbook(case_dir, tmp_path / "study.xlsx")
    _patch_workbook(path, b"Torbay Care Trust<", b"Torbay&#9;Care &#x10FFFD;Trust<")
    data = read_case_data(path, vocabulary.slugs)
    assert next(r for r in data["partnerships"] if r.id == "torbay-care-trust")["label"] == "Torbay\tCare \U0010fffdTrust"


# --- cell length and the csv module's own errors -----------------------------------------------------


def test_the_longest_cell_of_the_bundled_data_is_far_below_the_limit():
    root = Path(__file__).parents[1] / "data"
    longest = max(len(cell) for path in root.glob("*.csv")
                  for row in csv.reader(path.open(encoding="utf-8-sig", newline="")) for cell in row)
    assert longest * 10 < kg.casedata.MAX_CELL_CHARS == MAX_CELL_CHARS


def test_a_cell_at_the_limit_reads_and_one_longer_is_refused(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", ",A care trust.,", "," + "x" * MAX_CELL_CHARS + ",")
    read_case_data(case_dir, vocabulary.slugs)
    replace_in(case_dir / "partnerships.csv", "x" * MAX_CELL_CHARS, "x" * (MAX_CELL_CHARS + 1))
    assert ("partnerships.csv:2: column 'description': the text is 32,768 characters long, more than the 32,767 a "
            "spreadsheet cell holds: shorten it (a long text belongs in a source that the row cites)"
            ) in problems_of(case_dir, vocabulary)


@pytest.mark.parametrize("size", [200_000, 3_000_000])  # past the csv module's default limit (128 KiB), and far past
def test_a_huge_cell_is_a_problem_not_a_crash(case_dir, vocabulary, size):
    big = "word " * (size // 5)
    replace_in(case_dir / "partnerships.csv", ",A care trust.,", f',"{big}",')
    problems = problems_of(case_dir, vocabulary)
    assert problems == [f"partnerships.csv:2: column 'description': the text is {len(big):,} characters long, more than "
                        "the 32,767 a spreadsheet cell holds: shorten it (a long text belongs in a source that the row cites)"]


def test_an_unclosed_quote_swallowing_the_file_is_a_problem_not_a_crash(case_dir, vocabulary):
    # an opening quote never closed: the rest of the file (here 200,000 characters) becomes one cell
    append_to(case_dir / "partnerships.csv", 'broken,"Broken' + ",x" * 100_000)
    problems = problems_of(case_dir, vocabulary)
    assert any(p.startswith("partnerships.csv:4: column 'label': the text is 200,007 characters long") for p in problems)


def test_a_csv_error_names_the_file_and_the_row(case_dir, vocabulary, monkeypatch):
    real_reader = csv.reader

    class Failing:
        """A reader that fails on the third record, as csv.reader does on a field over its limit."""

        def __init__(self, *args, **kwargs):
            self.inner = real_reader(*args, **kwargs)

        def __iter__(self):
            return self

        def __next__(self):
            row = next(self.inner)
            if self.inner.line_num >= 3:
                raise csv.Error("field larger than field limit (131072)")
            return row

        @property
        def line_num(self):
            return self.inner.line_num

    monkeypatch.setattr(kg.casedata.csv, "reader", Failing)
    problems = problems_of(case_dir, vocabulary)
    assert ("partnerships.csv:3: the file cannot be read as CSV at line 3 (field larger than field limit "
            "(131072)): check that every quote that opens a cell closes it, and save the file again as 'CSV UTF-8'"
            ) in problems


def test_a_workbook_cell_longer_than_the_limit_is_refused(case_dir, vocabulary, tmp_path):
    path = _workbook(case_dir, tmp_path / "study.xlsx")
    _patch_workbook(path, b"Torbay Care Trust<", b"y" * 40_000 + b"<")
    assert any(p.startswith("study.xlsx (sheet partnerships):2: column 'label': the text is 40,000 characters long")
               for p in problems_of(path, vocabulary))


# --- many problems: a capped message with a summary, every problem kept ------------------------------


def test_the_message_shows_the_first_200_problems_and_counts_the_rest():
    problems = [CaseDataProblem("partnerships.csv", 2 + i, "form", "bad") for i in range(150)]
    problems += [CaseDataProblem("partnerships.csv", 2 + i, "label", "bad") for i in range(100)]
    problems += [CaseDataProblem("forms.csv", None, None, "missing file")]
    error = CaseDataError(problems)
    lines = str(error).splitlines()
    assert lines[0] == "251 problems in the case data:"
    assert lines[1:201] == [f"  {p}" for p in problems[:200]]
    assert lines[201:] == [
        "  … and 51 more (kg validate --format json lists every one). All 251 by file and column: "
        "partnerships.csv column 'form' 150; partnerships.csv column 'label' 100; forms.csv 1"]
    assert error.problems == problems


def test_thousands_of_bad_rows_give_a_short_message_and_every_problem(case_dir, vocabulary):
    rows = [f"p{i},P {i},,no-such-form,england,,2005-13,,,,glasby-2008,confirmed," for i in range(3000)]
    append_to(case_dir / "partnerships.csv", *rows)
    with pytest.raises(CaseDataError) as caught:
        read_case_data(case_dir, vocabulary.slugs)
    error = caught.value
    assert len(error.problems) == 6000
    lines = str(error).splitlines()
    assert lines[0] == "6,000 problems in the case data:" and len(lines) == 202
    assert lines[-1] == ("  … and 5,800 more (kg validate --format json lists every one). All 6,000 by file and column: "
                         "partnerships.csv column 'start' 3,000; partnerships.csv column 'form' 3,000")


def test_kg_validate_prints_the_capped_message_and_json_lists_every_problem(case_dir):
    from kg.cli import cli

    append_to(case_dir / "partnerships.csv",
              *[f"p{i},P {i},,no-such-form,england,,,,,,glasby-2008,confirmed," for i in range(500)])
    text = CliRunner().invoke(cli, ["validate", "--data", str(case_dir)])
    assert text.exit_code == 1
    assert len(text.output.splitlines()) < 210 and "… and 300 more" in text.output
    as_json = CliRunner().invoke(cli, ["validate", "--data", str(case_dir), "--format", "json"])
    assert as_json.exit_code == 1
    assert len(json.loads(as_json.output)["problems"]) == 500


# --- jurisdiction parents ---------------------------------------------------------------------------


def test_a_jurisdiction_that_is_its_own_parent_is_refused(case_dir, vocabulary):
    replace_in(case_dir / "jurisdictions.csv", "united-kingdom,United Kingdom,GB,,", "united-kingdom,United Kingdom,GB,united-kingdom,")
    assert ("jurisdictions.csv:2: column 'parent': united-kingdom → united-kingdom: a jurisdiction cannot be part of "
            "itself: empty its parent or name the one it is part of") in problems_of(case_dir, vocabulary)


def test_a_cycle_of_two_jurisdictions_is_refused_once(case_dir, vocabulary):
    replace_in(case_dir / "jurisdictions.csv", "united-kingdom,United Kingdom,GB,,", "united-kingdom,United Kingdom,GB,scotland,")
    problems = problems_of(case_dir, vocabulary)
    assert problems == ["jurisdictions.csv:2: column 'parent': united-kingdom → scotland → united-kingdom: a jurisdiction "
                        "cannot be part of itself (rows 2, 4): correct the parent of one of them"]


def test_a_longer_cycle_of_jurisdictions_is_refused(case_dir, vocabulary):
    path = case_dir / "jurisdictions.csv"
    replace_in(path, "united-kingdom,United Kingdom,GB,,", "united-kingdom,United Kingdom,GB,scotland,")
    replace_in(path, "scotland,Scotland,GB-SCT,united-kingdom,", "scotland,Scotland,GB-SCT,england,")
    assert problems_of(case_dir, vocabulary) == [
        "jurisdictions.csv:2: column 'parent': united-kingdom → scotland → england → united-kingdom: a jurisdiction "
        "cannot be part of itself (rows 2, 4, 3): correct the parent of one of them"]


# --- changes ----------------------------------------------------------------------------------------


CHANGES = "id,kind,date,original,resulting,label,source,confidence,note\n"


def _changes(case_dir: Path, *rows: str) -> None:
    (case_dir / "changes.csv").write_text(CHANGES + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind, original", [("rename", "torbay-pct"), ("abolition", "torbay-pct"),
                                            ("establishment", "torbay-pct"), ("merger", "torbay-pct")])
def test_a_change_of_a_body_into_itself_is_refused(case_dir, vocabulary, kind, original):
    _changes(case_dir, f"c1,{kind},2005,{original},torbay-pct,Changed,glasby-2008,partial,")
    assert (f"changes.csv:2: column 'resulting': torbay-pct is both original and resulting: a {kind} turns bodies "
            "into others (only a designation gives a body a new status, and a merger may keep one of the bodies it "
            "merges): correct 'original' or 'resulting'") in problems_of(case_dir, vocabulary)


def test_a_designation_and_an_absorbing_merger_may_keep_their_body(case_dir, vocabulary):
    _changes(case_dir,
             "c1,designation,2005-12,torbay-care-trust,torbay-care-trust,Adult social care delegated,glasby-2008,confirmed,",
             "c2,merger,2013,torbay-pct;torbay-council,torbay-council,PCT merged into the council,glasby-2008,partial,")
    assert len(read_case_data(case_dir, vocabulary.slugs)["changes"]) == 2


def test_two_changes_undoing_each_other_are_a_cycle(case_dir, vocabulary):
    append_to(case_dir / "changes.csv", "back,rename,2010,torbay-care-trust,torbay-pct,Renamed back,glasby-2008,partial,")
    assert problems_of(case_dir, vocabulary) == [
        "changes.csv:2: column 'resulting': torbay-pct → torbay-care-trust → torbay-pct is a cycle of changes "
        "(rows 2, 3): a body cannot come out of what it became; one that returns after a change is a new body: give "
        "it an id of its own, or correct 'original' or 'resulting'"]


def test_a_longer_cycle_of_changes_is_refused_once(case_dir, vocabulary):
    append_to(case_dir / "changes.csv",
              "c2,merger,2010,torbay-care-trust;ayrshire-ijb,torbay-council,Merged,glasby-2008,partial,",
              "c3,rename,2012,torbay-council,torbay-pct,Renamed,glasby-2008,partial,")
    assert problems_of(case_dir, vocabulary) == [
        "changes.csv:2: column 'resulting': torbay-pct → torbay-care-trust → torbay-council → torbay-pct is a cycle "
        "of changes (rows 2, 3, 4): a body cannot come out of what it became; one that returns after a change is a "
        "new body: give it an id of its own, or correct 'original' or 'resulting'"]


def _spec(path: Path, slug: str, study: bool) -> DatasetSpec:
    return DatasetSpec(slug, path, f"https://example.org/{slug}/id/", slug, study=study)


def test_a_cycle_of_changes_across_datasets_is_refused(case_dir, vocabulary, tmp_path):
    study = tmp_path / "study-a"
    study.mkdir()
    (study / "changes.csv").write_text(CHANGES + "back,rename,2010,torbay-care-trust,torbay-pct,Renamed back,"
                                       "glasby-2008,partial,synthetic\n", encoding="utf-8")
    with pytest.raises(CaseDataError) as caught:
        read_datasets([_spec(case_dir, "bundled", False), _spec(study, "study-a", True)], vocabulary.slugs)
    # said at the study's row, the one that closed it
    assert [str(p) for p in caught.value.problems] == [
        "study-a/changes.csv:2: column 'resulting': torbay-care-trust → torbay-pct → torbay-care-trust is a cycle of "
        "changes (study-a/changes.csv row 2, data/changes.csv row 2): a body cannot come out of what it became; one "
        "that returns after a change is a new body: give it an id of its own, or correct 'original' or 'resulting'"]


def test_a_study_s_jurisdiction_under_a_bundled_one_is_fine_and_no_cycle_can_cross_datasets(case_dir, vocabulary, tmp_path):
    study = tmp_path / "study-a"
    study.mkdir()
    header = (case_dir / "jurisdictions.csv").read_text(encoding="utf-8").splitlines()[0]
    (study / "jurisdictions.csv").write_text(f"{header}\ntorbay,Torbay,,england,,glasby-2008,partial,synthetic\n", encoding="utf-8")
    specs = [_spec(case_dir, "bundled", False), _spec(study, "study-a", True)]
    assert [r.id for r in read_datasets(specs, vocabulary.slugs)["jurisdictions"]][-1] == "torbay"
    # within the study: its own rows alone close the cycle
    append_to(study / "jurisdictions.csv", "england,England,GB-ENG,torbay,http://www.wikidata.org/entity/Q21,glasby-2008,confirmed,")
    with pytest.raises(CaseDataError) as caught:
        read_datasets(specs, vocabulary.slugs)
    assert [str(p) for p in caught.value.problems] == [
        "study-a/jurisdictions.csv:2: column 'parent': torbay → england → torbay: a jurisdiction cannot be part of "
        "itself (rows 2, 3): correct the parent of one of them"]
    # through a bundled row (torbay → england → united-kingdom → torbay): the study would have to give
    # a bundled jurisdiction another parent, and an id two datasets define differently is refused
    replace_in(study / "jurisdictions.csv", "england,England,GB-ENG,torbay,http://www.wikidata.org/entity/Q21,",
               "united-kingdom,United Kingdom,GB,torbay,,")
    with pytest.raises(CaseDataError) as caught:
        read_datasets(specs, vocabulary.slugs)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith("study-a/jurisdictions.csv:3: column 'id': 'united-kingdom' is also defined by "
                              "data/jurisdictions.csv row 2, differently (parent)")


# --- dates too far ahead ----------------------------------------------------------------------------


THIS_YEAR = datetime.date.today().year


def test_a_date_after_2100_is_refused_in_every_table(case_dir, vocabulary):
    replace_in(case_dir / "contexts.csv", "social services.,,", "social services.,2101,")
    assert ("contexts.csv:2: column 'start': '2101' lies after 2100, later than any date the case data holds, even "
            "a projection's: correct the year") in problems_of(case_dir, vocabulary)


def test_a_projection_within_the_century_is_fine(case_dir, vocabulary):
    replace_in(case_dir / "contexts.csv", "social services.,,", "social services.,2050,2060")
    read_case_data(case_dir, vocabulary.slugs)


@pytest.mark.parametrize("file, old, new, column", [
    ("partnerships.csv", "yes,2005-10,", "yes,{year}-10,", "start"),
    ("legislation.csv", "2001-05-11", "{year}-05-11", "date"),
    ("events.csv", "2014-04-01", "{year}-04-01", "date"),
    ("evaluations.csv", "2008,poet,2007,2008", "{year},poet,2007,2008", "year"),
    ("sources.csv", ",2008,", ",{year},", "year"),
])
def test_a_date_more_than_ten_years_ahead_is_refused_where_things_happened(case_dir, vocabulary, file, old, new, column):
    replace_in(case_dir / file, old, new.format(year=THIS_YEAR + 10))
    read_case_data(case_dir, vocabulary.slugs)  # ten years ahead: a plan or a scheduled date, fine
    replace_in(case_dir / file, new.format(year=THIS_YEAR + 10), new.format(year=THIS_YEAR + 11))
    value = re.search(rf"{THIS_YEAR + 11}[-0-9]*", new.format(year=THIS_YEAR + 11)).group()
    assert problems_of(case_dir, vocabulary) == [
        f"{file}:2: column '{column}': '{value}' lies more than 10 years ahead (after {THIS_YEAR + 10}), but {file} "
        "records what happened or was decided: correct the year"]
