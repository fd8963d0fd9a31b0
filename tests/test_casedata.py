"""Case files -> typed records, and every kind of bad input with its exact message."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from kg.casedata import TABLES, PartialDate, read_case_data, read_table
from kg.errors import CaseDataError, CaseDataProblem


def problems_of(folder: Path, vocabulary) -> list[str]:
    with pytest.raises(CaseDataError) as caught:
        read_case_data(folder, vocabulary.slugs)
    return [str(p) for p in caught.value.problems]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_minimal_case_data_reads(case_dir, vocabulary):
    data = read_case_data(case_dir, vocabulary.slugs)
    assert data.counts()["partnerships"] == 2
    torbay = next(r for r in data["partnerships"] if r.id == "torbay-care-trust")
    assert torbay["start"] == PartialDate(2005, 10)
    assert torbay["legal_entity"] is True
    assert torbay["source"] == ("glasby-2008",)
    assert torbay.row == 2


def test_spreadsheet_bytes_are_accepted(case_dir, vocabulary):
    path = case_dir / "partnerships.csv"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8") + b",,,,,,,,,,,,\r\n,,,,,,,,,,,,\r\n")
    data = read_case_data(case_dir, vocabulary.slugs)
    assert [r.id for r in data["partnerships"]] == ["torbay-care-trust", "ayrshire-ijb"]


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("partnerships.csv", "ayrshire-ijb,", "torbay-care-trust,",
         "partnerships.csv:3: column 'id': duplicate id 'torbay-care-trust': row 2 already uses it; ids must be unique in partnerships.csv"),
        ("partnerships.csv", "care-trust,england", "care-trusts,england",
         "partnerships.csv:2: column 'form': 'care-trusts' is not an id in forms.csv: add that row or correct the id"),
        ("partnerships.csv", "2005-10", "2005-13",
         "partnerships.csv:2: column 'start': '2005-13' has no month 13: months run from 01 to 12"),
        ("partnerships.csv", "2005-10", "October 2005",
         "partnerships.csv:2: column 'start': 'October 2005' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD (for example 2005-10-01)"),
        ("legislation.csv", "2001-05-11", "2001-02-30",
         "legislation.csv:2: column 'date': '2001-02-30' is not a day of the calendar"),
        ("sources.csv", ",2008,", ",08,",
         "sources.csv:2: column 'year': '08' is not a year: write four digits, for example 2010"),
        ("indicators.csv", "8500000000", "£8.5bn",
         "indicators.csv:2: column 'value': '£8.5bn' is not a number: write digits with an optional decimal point and no thousands separators or units, for example 3800000000"),
        ("sources.csv", "https://www.ijic.org/articles/10.5334/ijic.246/", "www.ijic.org",
         "sources.csv:2: column 'url': 'www.ijic.org' is not a web address: write a full http:// or https:// URL without spaces"),
        ("partnerships.csv", ",Torbay Care Trust,", ",,",
         "partnerships.csv:2: column 'label': empty, but required: fill in free text (for example 'Torbay Care Trust')"),
        ("observations.csv", "governance-mode,hierarchy", "governance-mode,anarchy",
         "observations.csv:2: column 'value': 'anarchy' is not a governance-mode value: use one of hierarchy, hybrid, market, network (scheme 'governance-mode')"),
        ("partnerships.csv", "glasby-2008,confirmed,\nayrshire", "glasby-2008,certain,\nayrshire",
         "partnerships.csv:2: column 'confidence': 'certain' is not in the 'confidence' scheme: use one of confirmed, partial, unverified"),
        ("partnerships.csv", "england,yes", "england,maybe",
         "partnerships.csv:2: column 'legal_entity': 'maybe' is not yes or no"),
        ("observations.csv", "torbay-care-trust,,governance-mode", "torbay-care-trust,care-trust,governance-mode",
         "observations.csv:2: column 'form': fill exactly one of 'partnership' or 'form': 2 are filled"),
        ("outcomes.csv", ",2006,2008,", ",2009,2008,",
         "outcomes.csv:2: column 'end': ends (2008) before it starts (2009): swap or correct the dates"),
        ("statements.csv", "ascof-2011:enhancing-quality-of-life", "ascof-2012:enhancing-quality-of-life",
         "statements.csv:2: column 'domain': 'ascof-2012' is not an outcome framework: use one of green-paper-2005, ascof-2011, care-act-2014"),
        ("partnerships.csv", "torbay-care-trust,Torbay", "Torbay_Care,Torbay",
         "partnerships.csv:2: column 'id': 'Torbay_Care' is not a valid id: use lower-case letters, digits and single hyphens (for example 'torbay-care-trust')"),
    ],
)
def test_bad_value_names_file_row_and_column(case_dir, vocabulary, file, old, new, expected):
    replace_in(case_dir / file, old, new)
    assert expected in problems_of(case_dir, vocabulary)


def test_missing_and_unknown_columns(case_dir, vocabulary):
    path = case_dir / "memberships.csv"
    replace_in(path, "id,partnership,organisation,role,", "id,partnership,member,role,")
    problems = problems_of(case_dir, vocabulary)
    assert ("memberships.csv:1: column 'member': unknown column: memberships.csv has the columns "
            "id, partnership, organisation, role, start, end, source, confidence, note") in problems
    assert "memberships.csv:1: column 'organisation': missing column: add a 'organisation' column (an id from organisations.csv)" in problems


def test_empty_file_and_missing_required_file(case_dir, vocabulary):
    (case_dir / "changes.csv").write_bytes(b"\r\n\r\n")
    (case_dir / "forms.csv").unlink()
    problems = problems_of(case_dir, vocabulary)
    assert any(p.startswith("changes.csv: the file is empty: it needs a header row (id, kind, date,") for p in problems)
    assert any(p.startswith("forms.csv: missing file: forms.csv is required") for p in problems)


def test_bad_encoding_names_the_line(case_dir, vocabulary):
    path = case_dir / "organisations.csv"
    path.write_bytes(path.read_bytes().replace("Torbay Council".encode(), "Torbay Co\xfcncil".encode("latin-1")))
    assert ("organisations.csv:2: the file is not UTF-8 text (byte 0xfc cannot be read): save it from the "
            "spreadsheet as 'CSV UTF-8'") in problems_of(case_dir, vocabulary)


def test_unknown_table_is_reported(case_dir, vocabulary):
    (case_dir / "partnership.csv").write_text("id\n", encoding="utf-8")
    assert any(p.startswith("partnership.csv: unknown table: the case-data tables are") for p in problems_of(case_dir, vocabulary))


def test_every_problem_is_reported_at_once(case_dir, vocabulary):
    replace_in(case_dir / "partnerships.csv", "ayrshire-ijb,", "torbay-care-trust,")
    replace_in(case_dir / "memberships.csv", "torbay-council,member", "torbay-councill,member")
    replace_in(case_dir / "legislation.csv", "2001-05-11", "11/05/2001")
    problems = problems_of(case_dir, vocabulary)
    assert len(problems) == 3, problems
    assert {p.split(":")[0] for p in problems} == {"partnerships.csv", "memberships.csv", "legislation.csv"}


def test_error_message_lists_every_problem():
    error = CaseDataError([CaseDataProblem("a.csv", 2, "id", "bad"), CaseDataProblem("b.csv", None, None, "worse")])
    assert str(error) == "2 problems in the case data:\n  a.csv:2: column 'id': bad\n  b.csv: worse"


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
       | st.lists(st.lists(st.text(string.printable, max_size=12), max_size=8), max_size=6).map(
           lambda rows: "\n".join(",".join(r) for r in rows)))
def test_arbitrary_text_gives_records_or_problems_only(text):
    """Whatever a spreadsheet writes, the reader returns records or reports problems: nothing else."""
    slugs = {"confidence": frozenset({"confirmed", "partial", "unverified"}),
             "sector": frozenset({"health"}), "dimension": frozenset({"frame"})}
    for table in (TABLES["partnerships"], TABLES["organisations"], TABLES["indicators"]):
        problems: list = []
        records = read_table(table, text, table.filename, problems, slugs)
        assert all(isinstance(p, CaseDataProblem) for p in problems)
        assert all(r.table == table.name for r in records)


@hsettings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_case_data_errors(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("bytes")
    for name in ("sources", "jurisdictions", "forms", "partnerships"):
        (folder / f"{name}.csv").write_bytes(raw)
    try:
        read_case_data(folder, {})
    except CaseDataError as error:
        assert error.problems


# --- spreadsheets -----------------------------------------------------------------------------------


def workbook_of(folder: Path, target: Path) -> Path:
    """The case files of ``folder`` as one .xlsx workbook, a sheet per table, every cell as text."""
    import csv

    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for path in sorted(folder.glob("*.csv")):
        sheet = book.create_sheet(path.stem)
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                sheet.append(row)
                for cell in sheet[sheet.max_row]:
                    cell.data_type = "s"  # text, as a CSV cell is
    book.save(target)
    return target


def test_a_workbook_reads_like_its_csv_files(case_dir, vocabulary, tmp_path):
    from_csv = read_case_data(case_dir, vocabulary.slugs)
    from_xlsx = read_case_data(workbook_of(case_dir, tmp_path / "study.xlsx"), vocabulary.slugs)
    assert from_xlsx.counts() == from_csv.counts()
    for name in from_csv.tables:
        assert [(r.id, dict(r.values)) for r in from_xlsx[name]] == [(r.id, dict(r.values)) for r in from_csv[name]]


def _sheet(path: Path, name: str):
    import openpyxl

    book = openpyxl.load_workbook(path)
    return book, book[name]


def test_workbook_problems_name_workbook_sheet_row_and_column(case_dir, vocabulary, tmp_path):
    import datetime

    path = workbook_of(case_dir, tmp_path / "study.xlsx")
    book, sheet = _sheet(path, "partnerships")
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("start") + 1, value=38443)  # a serial date, typed as a number
    sheet.cell(row=3, column=header.index("start") + 1, value=datetime.datetime(2015, 4, 2))  # a date cell: fine
    sheet.cell(row=2, column=header.index("label") + 1, value="=A2&\" care\"")  # a formula
    book["memberships"].merge_cells("B2:C2")
    book.save(path)
    problems = [str(p) for p in pytest.raises(CaseDataError, read_case_data, path, vocabulary.slugs).value.problems]
    assert ("study.xlsx (sheet partnerships):2: column 'start': 38443 looks like an Excel serial date: format the column "
            "as text and write YYYY, YYYY-MM or YYYY-MM-DD") in problems
    assert any(p.startswith("study.xlsx (sheet partnerships):2: column 'label': the cell holds a formula (=A2") for p in problems)
    assert "study.xlsx (sheet memberships):2: merged cells B2:C2: unmerge them and fill in each cell" in problems
    assert not any("sheet partnerships):3" in p for p in problems)  # a real date cell is read as its date


def test_an_empty_workbook_and_a_sheet_without_header(vocabulary, tmp_path):
    import openpyxl

    empty = tmp_path / "empty.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "notes"
    book.save(empty)
    problems = [str(p) for p in pytest.raises(CaseDataError, read_case_data, empty, vocabulary.slugs).value.problems]
    assert "empty.xlsx (sheet notes): unknown table: name each sheet after a case-data table" in problems[0]
    assert any(p.startswith("empty.xlsx: the workbook holds no case-data table") for p in problems)
    headless = tmp_path / "headless.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "sources"
    book.active.append(["glasby-2008", "article", "A citation"])
    book.save(headless)
    problems = [str(p) for p in pytest.raises(CaseDataError, read_case_data, headless, vocabulary.slugs).value.problems]
    assert any(p.startswith("headless.xlsx (sheet sources):1: column 'glasby-2008': unknown column") for p in problems)


def test_a_file_that_is_no_workbook(vocabulary, tmp_path):
    bogus = tmp_path / "study.xlsx"
    bogus.write_text("id,label\n", encoding="utf-8")
    [problem] = pytest.raises(CaseDataError, read_case_data, bogus, vocabulary.slugs).value.problems
    assert str(problem).startswith("study.xlsx: cannot be read as an .xlsx workbook")


def test_a_workbook_counts_in_the_build_s_input_hash(case_dir, tmp_path):
    import openpyxl

    from kg.build import hash_inputs

    path = workbook_of(case_dir, tmp_path / "study.xlsx")
    before = hash_inputs([path])
    book = openpyxl.load_workbook(path)
    book["partnerships"]["B2"] = "Torbay Care Trust (renamed)"
    book.save(path)
    assert hash_inputs([path]) != before
