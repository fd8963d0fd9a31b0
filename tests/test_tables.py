"""kg.tables: comparison tables as CSV, JSON and xlsx that cite themselves and never run a formula."""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, strategies as st

from kg.tables import JSON_SCHEMA, Table, to_csv, to_json, to_xlsx

URL = "https://w3id.org/hscp/queries/forms-by-dimension?dimension=budget-integration"
CITATION = "Partnership KG contributors (2025). Health and social care partnerships, version 0.1."
LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
TITLE = "Forms by budget integration and jurisdiction"
NOTES = ("Confidence: confirmed or partial", "Jurisdictions: England, Scotland, Wales")
COLUMNS = ("jurisdiction", "form", "partnerships", "share", "statutory")
ROWS = (
    ("England", "care trust", 7, Decimal("0.25"), True),
    ("Scotland", "integration joint board", 31, 0.5, False),
    ("Wales", None, 0, None, None),
)
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP, CSV injection


def table(rows=ROWS, columns=COLUMNS, **changes) -> Table:
    fields = dict(title=TITLE, columns=columns, rows=rows, url=URL, citation=CITATION, licence=LICENCE, notes=NOTES)
    return Table(**(fields | changes))


def one_cell(value, column="value") -> Table:
    return table(rows=((value,),), columns=(column,))


# --- reading the downloads back -------------------------------------------------------------


def read_csv(data: bytes) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Header, data rows and the rows after the blank separator row."""
    assert data.startswith(codecs.BOM_UTF8), "the CSV must start with a UTF-8 byte-order mark"
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    blank = records.index([])
    return records[0], records[1:blank], records[blank + 1:]


def read_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def as_xlsx_text(text: str) -> str:
    """XML reads a carriage return back as a line feed, so xlsx text holds line feeds only."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def data_cells(data: bytes) -> list[list[openpyxl.cell.Cell]]:
    return [list(row) for row in read_xlsx(data)["data"].iter_rows()]


# --- validating JSON against JSON_SCHEMA ------------------------------------------------------

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
_ANNOTATIONS = {"$schema", "title", "description", "format"}


def _is_type(value, name: str) -> bool:
    if name in ("number", "integer"):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return numeric and (name == "number" or float(value).is_integer())
    return isinstance(value, _JSON_TYPES[name])


def structural_check(instance, schema: dict, where: str = "$") -> None:
    """The JSON Schema keywords JSON_SCHEMA uses, checked; an unknown keyword fails (never passes silently)."""
    unknown = set(schema) - _ANNOTATIONS - {"type", "required", "properties", "additionalProperties", "items",
                                            "uniqueItems"}
    assert not unknown, f"the structural check does not know {sorted(unknown)}: install jsonschema or extend it"
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_is_type(instance, n) for n in names), f"{where}: {instance!r} is not of type {names}"
    if isinstance(instance, dict):
        missing = [k for k in schema.get("required", ()) if k not in instance]
        assert not missing, f"{where}: missing {missing}"
        properties = schema.get("properties", {})
        for key, value in instance.items():
            if key in properties:
                structural_check(value, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{where}: unexpected property {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                structural_check(value, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(instance, list):
        if schema.get("uniqueItems"):
            assert len({json.dumps(i, sort_keys=True) for i in instance}) == len(instance), f"{where}: repeated items"
        for index, item in enumerate(instance):
            if "items" in schema:
                structural_check(item, schema["items"], f"{where}[{index}]")


def validate(document) -> None:
    """Validate against JSON_SCHEMA with jsonschema when it is installed, else structurally; AssertionError if not."""
    try:
        import jsonschema
    except ImportError:
        structural_check(document, JSON_SCHEMA)
        return
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)
    try:
        jsonschema.Draft202012Validator(JSON_SCHEMA).validate(document)
    except jsonschema.ValidationError as error:
        raise AssertionError(error.message) from None


# --- CSV -------------------------------------------------------------------------------------


def test_csv_round_trips_header_and_rows():
    header, rows, _ = read_csv(to_csv(table()))
    assert header == list(COLUMNS)
    assert rows == [
        ["England", "care trust", "7", "0.25", "true"],
        ["Scotland", "integration joint board", "31", "0.5", "false"],
        ["Wales", "", "0", "", ""],
    ]


def test_csv_ends_with_title_url_citation_licence_and_notes_as_hash_lines():
    _, _, about = read_csv(to_csv(table()))
    assert about == [
        [f"# {TITLE}"],
        [f"# URL: {URL}"],
        [f"# Cite as: {CITATION}"],
        [f"# Licence: {LICENCE}"],
        ["# Note: Confidence: confirmed or partial"],
        ["# Note: Jurisdictions: England, Scotland, Wales"],
    ]


def test_csv_metadata_with_commas_and_line_breaks_stays_one_cell_on_one_line():
    data = to_csv(table(citation="Smith, J.\nand Jones, K. (2025)", notes=()))
    _, _, about = read_csv(data)
    assert ["# Cite as: Smith, J. and Jones, K. (2025)"] in about
    assert data.decode("utf-8-sig").count("Smith") == 1
    assert len(data.decode("utf-8-sig").split("\r\n")[-6:]) == 6  # five lines and the final line end


def test_a_row_of_empty_cells_is_not_taken_for_the_separator():
    header, rows, about = read_csv(to_csv(table(rows=((None,), ("",)), columns=("only",))))
    assert header == ["only"] and rows == [[""], [""]]
    assert about[0] == [f"# {TITLE}"]


def test_csv_numbers_are_plain_digits():
    row = (Decimal("1E+2"), 1e-05, 10**20, Decimal("-0.000001"))
    _, rows, _ = read_csv(to_csv(table(rows=(row,), columns=("a", "b", "c", "d"))))
    assert rows == [["100", "1e-05", "100000000000000000000", "-0.000001"]]
    assert [float(c) for c in rows[0]] == [float(c) for c in row]


# --- JSON ------------------------------------------------------------------------------------


def test_json_matches_its_schema_and_dumps_as_standard_json():
    document = to_json(table())
    validate(document)
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_json_holds_the_metadata_and_rows_keyed_by_column():
    document = to_json(table())
    assert (document["title"], document["url"], document["citation"], document["licence"]) == (
        TITLE, URL, CITATION, LICENCE)
    assert document["notes"] == list(NOTES) and document["columns"] == list(COLUMNS)
    assert document["rows"] == [
        {"jurisdiction": "England", "form": "care trust", "partnerships": 7, "share": 0.25, "statutory": True},
        {"jurisdiction": "Scotland", "form": "integration joint board", "partnerships": 31, "share": 0.5,
         "statutory": False},
        {"jurisdiction": "Wales", "form": None, "partnerships": 0, "share": None, "statutory": None},
    ]
    assert list(document["rows"][0]) == list(COLUMNS)


@pytest.mark.parametrize("cell, expected", [
    (Decimal("12.50"), 12.5),
    (Decimal("0.1000000000000000000001"), "0.1000000000000000000001"),  # a double would lose digits
    (Decimal("NaN"), "NaN"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    ("=1+1", "=1+1"),  # JSON is data, not a spreadsheet: text is the table's
    (-3, -3),
], ids=repr)
def test_json_cells_are_json_values(cell, expected):
    document = to_json(one_cell(cell))
    validate(document)
    assert json.loads(json.dumps(document, allow_nan=False))["rows"] == [{"value": expected}]


def test_json_schema_is_draft_2020_12_and_describes_every_key():
    assert JSON_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(JSON_SCHEMA["required"]) == set(JSON_SCHEMA["properties"]) == set(to_json(table()))


@pytest.mark.parametrize("change", [
    lambda d: d.pop("citation"),
    lambda d: d.pop("licence"),
    lambda d: d.update(rows=[["England", "care trust"]]),
    lambda d: d.update(rows=[{"jurisdiction": {"label": "England"}}]),
    lambda d: d.update(notes="one note"),
    lambda d: d.update(columns=["a", "a"]),
    lambda d: d.update(extra=1),
], ids=["no citation", "no licence", "row as list", "object cell", "notes not a list", "repeated column",
        "unknown key"])
def test_schema_check_rejects_a_wrong_document(change):
    document = to_json(table())
    change(document)
    with pytest.raises(AssertionError):
        validate(document)


# --- xlsx ------------------------------------------------------------------------------------


def test_xlsx_data_sheet_holds_header_and_values():
    workbook = read_xlsx(to_xlsx(table()))
    assert workbook.sheetnames == ["data", "about"]
    sheet = workbook["data"]
    assert sheet.freeze_panes == "A2"
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows == [list(COLUMNS),
                    ["England", "care trust", 7, 0.25, True],
                    ["Scotland", "integration joint board", 31, 0.5, False],
                    ["Wales", None, 0, None, None]]
    header = next(sheet.iter_rows())
    assert all(c.font.bold for c in header)
    assert not any(c.font.bold for c in list(sheet.iter_rows())[1])


def test_xlsx_numbers_are_numeric_cells_and_booleans_boolean_cells():
    england = data_cells(to_xlsx(table()))[1]
    assert [c.data_type for c in england] == ["s", "s", "n", "n", "b"]
    assert isinstance(england[2].value, int) and isinstance(england[3].value, float)


def test_xlsx_about_sheet_cites_the_dataset():
    about = [[c.value for c in row] for row in read_xlsx(to_xlsx(table()))["about"].iter_rows()]
    assert about == [["title", TITLE], ["url", URL], ["citation", CITATION], ["licence", LICENCE],
                     ["note", NOTES[0]], ["note", NOTES[1]]]


def test_xlsx_never_holds_a_formula_or_an_error_value():
    data = to_xlsx(table(rows=(("=1+1", "#N/A", "=", "#REF!"),), columns=("a", "b", "c", "d"),
                         title="=TITLE()", notes=("=NOTE()",)))
    workbook = read_xlsx(data)
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, cell.value)
    assert [c.value for c in data_cells(data)[1]] == ["'=1+1", "#N/A", "'=", "#REF!"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in s or "<f " in s or 't="e"' in s for s in sheets)


# --- formula injection and control characters -------------------------------------------------


PAYLOADS = ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", '=HYPERLINK("https://example.org","x")', "\t=1+1", "\r=1+1",
            "-", "=cmd|' /C calc'!A0"]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_formula_text_gets_a_leading_quote_in_csv(payload):
    header, rows, _ = read_csv(to_csv(one_cell(payload, column=payload)))
    assert header == ["'" + payload] and rows == [["'" + payload]]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_formula_text_gets_a_leading_quote_in_xlsx(payload):
    header, row = data_cells(to_xlsx(one_cell(payload, column=payload)))
    assert (header[0].value, row[0].value) == (as_xlsx_text("'" + payload),) * 2
    assert (header[0].data_type, row[0].data_type) == ("s", "s")


@pytest.mark.parametrize("text", ["a=b", "1-2", "", "'=already quoted", " =1+1", "#N/A"], ids=repr)
def test_harmless_text_is_left_alone(text):
    _, rows, _ = read_csv(to_csv(one_cell(text)))
    assert rows == [[text]]
    assert data_cells(to_xlsx(one_cell(text)))[1][0].value == (text or None)  # xlsx has no empty text


@pytest.mark.parametrize("number, csv_text", [(-3, "-3"), (-2.5, "-2.5"), (Decimal("-1.50"), "-1.50")], ids=repr)
def test_negative_numbers_stay_numbers(number, csv_text):
    _, rows, _ = read_csv(to_csv(one_cell(number)))
    assert rows == [[csv_text]]
    cell = data_cells(to_xlsx(one_cell(number)))[1][0]
    assert cell.data_type == "n" and cell.value == number and not isinstance(cell.value, str)
    assert to_json(one_cell(number))["rows"] == [{"value": float(number) if isinstance(number, Decimal) else number}]


def test_non_finite_numbers_are_safe_text_in_spreadsheets():
    row = (float("nan"), float("-inf"), Decimal("1E+400"))
    cells = data_cells(to_xlsx(table(rows=(row,), columns=("a", "b", "c"))))[1]
    assert [(c.value, c.data_type) for c in cells] == [("NaN", "s"), ("'-Infinity", "s"), ("1E+400", "s")]
    _, rows, _ = read_csv(to_csv(table(rows=(row,), columns=("a", "b", "c"))))
    assert rows == [["NaN", "'-Infinity", "1E+400"]]


def test_xml_illegal_control_characters_are_removed_from_csv_and_xlsx():
    text = "a\x00b\x08c\x0bd\x0ce\x1ff\ufffe"
    kept = "tab\there\nline\rreturn"
    title = "Forms\x07 by form"
    t = table(rows=((text, kept, "\x00=1+1"),), columns=("x\x01", "kept", "hidden formula"), title=title)
    header, rows, about = read_csv(to_csv(t))
    assert header == ["x", "kept", "hidden formula"]
    assert rows == [["abcdef", kept, "'=1+1"]]  # removed first, then neutralised
    assert about[0] == ["# Forms by form"]
    workbook = read_xlsx(to_xlsx(t))  # openpyxl raises IllegalCharacterError if any were left
    assert [c.value for c in next(workbook["data"].iter_rows(min_row=2))] == ["abcdef", as_xlsx_text(kept), "'=1+1"]
    assert workbook["about"]["B1"].value == "Forms by form"
    assert to_json(t)["rows"] == [{"x\x01": text, "kept": kept, "hidden formula": "\x00=1+1"}]


_LEGAL = st.characters(codec="utf-8", exclude_categories=("Cs",),
                       exclude_characters="".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
                       + "\ufffe\uffff")


@given(st.one_of(st.text(_LEGAL), st.tuples(st.sampled_from(DANGEROUS_STARTS), st.text(_LEGAL)).map("".join)))
def test_any_text_cell_round_trips_through_csv_unchanged_or_with_one_leading_quote(text):
    _, rows, _ = read_csv(to_csv(table(rows=((text, 1),), columns=("text", "n"))))
    expected = "'" + text if text.startswith(DANGEROUS_STARTS) else text
    assert rows == [[expected, "1"]]


# --- the Table itself ---------------------------------------------------------------------------


def test_rows_given_as_lists_are_stored_as_tuples():
    t = table(rows=[["England", "care trust", 7, None, True]], notes=["filtered"])
    assert t.rows == (("England", "care trust", 7, None, True),) and t.notes == ("filtered",)
    hash(t)


@pytest.mark.parametrize("rows, columns, error, message", [
    ((("England", "care trust"),), COLUMNS, ValueError, "Row 1 has 2 cells, but the table has 5 columns."),
    (((datetime.date(2014, 4, 1),),), ("established",), TypeError, "Row 1, column 'established'"),
    ((), ("a", "b", "a"), ValueError, "repeated: 'a'"),
], ids=["short row", "date cell", "repeated column"])
def test_a_malformed_table_is_refused(rows, columns, error, message):
    with pytest.raises(error) as caught:
        table(rows=rows, columns=columns)
    assert message in str(caught.value)


def test_query_results_as_csv_neutralise_formulas_but_keep_numbers():
    import csv as csv_module

    from rdflib import Literal as L
    from rdflib import URIRef as U
    from rdflib.namespace import XSD as X

    from kg.tables import results_csv

    rows = [(L("=HYPERLINK(\"http://x\")"), L("-3", datatype=X.integer), U("https://w3id.org/hscp/id/partnership/a")),
            (L("@SUM(A1)"), L("2.5", datatype=X.decimal), None),
            (L("+44 20"), L("-1.0E2", datatype=X.double), L("plain", lang="en"))]
    parsed = list(csv_module.reader(io.StringIO(results_csv(["a", "n", "r"], rows).decode("utf-8"))))
    assert parsed[:3] == [["a", "n", "r"],
                          ["'=HYPERLINK(\"http://x\")", "-3", "https://w3id.org/hscp/id/partnership/a"],
                          ["'@SUM(A1)", "2.5", ""]]
    assert parsed[3][0] == "'+44 20" and parsed[3][2] == "plain"
    assert float(parsed[3][1]) == -100.0  # a negative double stays a number, unprefixed
