"""Comparison tables as downloads: CSV, JSON and xlsx, each carrying its title, URL, citation and licence.

A :class:`Table` is plain data (header, rows of str/int/float/Decimal/bool/None cells and the
facts a reader needs to cite it); :func:`to_csv`, :func:`to_json` and :func:`to_xlsx` write it,
and :data:`JSON_SCHEMA` describes what :func:`to_json` returns.

Two rules keep the spreadsheet downloads (CSV and xlsx) safe to open:

- **No formulas.** A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a single quote in front (OWASP's advice on CSV injection), so a spreadsheet shows
  it as text instead of running it. Numbers are written as numbers, never quoted: ``-3`` stays
  the number -3. In xlsx every text cell is also written as a string cell, never a formula or
  an error value (``"#N/A"`` stays text).
- **Only characters XML allows.** Characters outside XML 1.0's ``Char`` production (the
  control characters other than tab, newline and carriage return, lone surrogates, U+FFFE and
  U+FFFF) cannot be stored in xlsx, so they are removed there, and from the CSV too, so that
  both downloads hold the same text (but for line breaks, which xlsx holds as line feeds).
  They are removed before the quote rule is applied, so ``"\\x00=1+1"`` is neutralised like
  ``"=1+1"``.

JSON is data for programs rather than a spreadsheet: its text is exactly the table's.

>>> table = Table("Forms", ("form", "count"), (("care trust", 3),), "https://example.org/t",
...               "Example (2025).", "CC BY 4.0")
>>> to_csv(table).decode("utf-8-sig").splitlines()[:2]
['form,count', 'care trust,3']
>>> to_json(table)["rows"]
[{'form': 'care trust', 'count': 3}]
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

__all__ = ["JSON_SCHEMA", "Table", "results_csv", "to_csv", "to_json", "to_xlsx"]

Cell = str | int | float | Decimal | bool | None
_CELL_TYPES = (str, int, float, Decimal)  # bool is an int; None is checked apart
_DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")
# everything XML 1.0's Char production leaves out (https://www.w3.org/TR/xml/#charsets)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_WIDEST_COLUMN = 60  # xlsx column width, in characters


@dataclasses.dataclass(frozen=True)
class Table:
    """A table to download, with what it takes to cite it.

    Rows and notes may be given as any iterables; they are stored as tuples. Every row has one
    cell per column, column names are distinct (they are the keys of the JSON rows), and a
    cell is ``str``, ``int``, ``float``, ``Decimal``, ``bool`` or ``None`` (empty).

    :raises ValueError: if a row's length differs from the header's, or a column name repeats.
    :raises TypeError: if a cell is of another type.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    url: str
    citation: str
    licence: str
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        columns = tuple(self.columns)
        rows = tuple(tuple(row) for row in self.rows)
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"Column names must be distinct; repeated: {', '.join(map(repr, repeated))}.")
        for number, row in enumerate(rows, start=1):
            if len(row) != len(columns):
                raise ValueError(f"Row {number} has {len(row)} cells, but the table has {len(columns)} columns.")
            for column, cell in zip(columns, row):
                if cell is not None and not isinstance(cell, _CELL_TYPES):
                    raise TypeError(f"Row {number}, column {column!r}: a cell is str, int, float, Decimal, bool "
                                    f"or None, not {type(cell).__name__}.")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "notes", tuple(self.notes))


# --- CSV ---------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """The table as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheets read it as UTF-8).

    The header row and the rows come first. Then, after one empty row, come lines a
    spreadsheet user sees below the data, each a one-cell row beginning ``# ``: the title,
    ``# URL: …``, ``# Cite as: …``, ``# Licence: …`` and one ``# Note: …`` per note (line
    breaks inside them become spaces; starting with ``#``, none can be read as a formula).
    A program reading the data stops at the first empty row (a row of empty cells is never
    empty: it holds commas or ``""``), or skips rows whose first cell starts with ``#``.

    Cells: empty for ``None``, ``true``/``false`` for booleans, numbers as numbers (a float
    as Python writes it, a ``Decimal`` without an exponent), text made safe as the module
    docstring says.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_spreadsheet_text(c) for c in table.columns])
    writer.writerows([_csv_cell(cell) for cell in row] for row in table.rows)
    writer.writerow([])
    writer.writerows([line] for line in _about_lines(table, prefix="# "))
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(cell: Cell) -> str:
    value = _spreadsheet_value(cell)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _about_lines(table: Table, prefix: str = "") -> list[str]:
    labelled = [("", table.title), ("URL: ", table.url), ("Cite as: ", table.citation),
                ("Licence: ", table.licence), *(("Note: ", note) for note in table.notes)]
    return [prefix + label + _LINE_BREAKS.sub(" ", _NOT_XML.sub("", text)).strip() for label, text in labelled]


# --- spreadsheet cells -----------------------------------------------------------------------


def _spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text: no XML-illegal characters, no leading formula character."""
    text = _NOT_XML.sub("", str(text))
    return "'" + text if text.startswith(_DANGEROUS_STARTS) else text


def _spreadsheet_value(cell: Cell) -> Cell:
    """A cell as a spreadsheet should hold it: None, a bool, a finite number, or safe text.

    Spreadsheets have no NaN or infinity, so such a number is written as the text "NaN",
    "Infinity" or "-Infinity", and a Decimal too large for a double as its digits, made
    safe like any text.
    """
    if cell is None or isinstance(cell, bool):
        return cell
    if isinstance(cell, int):
        return int(cell)  # a plain int, whatever subclass came in
    if isinstance(cell, str):
        return _spreadsheet_text(cell)
    name = _non_finite_name(cell)
    if name is not None:
        return _spreadsheet_text(name)
    if not math.isfinite(float(cell)):
        return _spreadsheet_text(str(cell))
    return cell if isinstance(cell, Decimal) else float(cell)


def _non_finite_name(number: float | Decimal) -> str | None:
    """"NaN", "Infinity" or "-Infinity" for such a number, else None (the names JSON parsers know)."""
    if isinstance(number, Decimal):
        nan, infinite, negative = number.is_nan(), number.is_infinite(), number.is_signed()
    else:
        nan, infinite, negative = math.isnan(number), math.isinf(number), number < 0
    if nan:
        return "NaN"
    if infinite:
        return "-Infinity" if negative else "Infinity"
    return None


# --- JSON ----------------------------------------------------------------------------------


def to_json(table: Table) -> dict:
    """The table as a JSON-ready dict, the shape :data:`JSON_SCHEMA` describes.

    ``rows`` is a list of objects keyed by column name, in column order; an empty cell is
    ``null``. A ``Decimal`` becomes a number when a double holds it exactly, else a string
    with all its digits; a float or Decimal that is NaN or infinite becomes the string
    ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, so ``json.dumps`` writes standard JSON.
    """
    return {
        "title": table.title,
        "url": table.url,
        "citation": table.citation,
        "licence": table.licence,
        "notes": list(table.notes),
        "columns": list(table.columns),
        "rows": [{column: _json_cell(cell) for column, cell in zip(table.columns, row)} for row in table.rows],
    }


def _json_cell(cell: Cell) -> Cell:
    if cell is None or isinstance(cell, bool):
        return cell
    if isinstance(cell, int):
        return int(cell)
    if isinstance(cell, str):
        return str(cell)
    name = _non_finite_name(cell)
    if name is not None:
        return name
    if isinstance(cell, Decimal):
        as_float = float(cell)
        return as_float if math.isfinite(as_float) and Decimal(repr(as_float)) == cell else str(cell)
    return float(cell)


JSON_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Table",
    "description": "A comparison table with its title, the URL it was produced from, how to cite it and its "
                   "licence. Each row is an object keyed by column name; an empty cell is null. A decimal "
                   "that a double cannot hold exactly, and NaN or infinity, are strings.",
    "type": "object",
    "required": ["title", "url", "citation", "licence", "notes", "columns", "rows"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string"},
        "url": {"type": "string", "format": "uri", "description": "The stable URL the table was produced from."},
        "citation": {"type": "string", "description": "How to cite the dataset."},
        "licence": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}, "description": "E.g. the filters applied."},
        "columns": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "rows": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        },
    },
}


# --- xlsx ----------------------------------------------------------------------------------


def to_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook (xlsx).

    Sheet ``data``: the header in bold, frozen so it stays in view, then the rows; numbers
    and booleans are numeric and boolean cells, text is always a string cell (made safe as
    the module docstring says; line breaks are line feeds, as XML reads them), an empty cell
    is empty. Sheet ``about``: the title, URL, citation, licence and notes, one labelled row
    each. Excel keeps at most 32,767 characters in a cell; openpyxl cuts longer text there.
    Written in openpyxl's write-only mode, which streams rows instead of holding every cell.
    """
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet("data")
    data.freeze_panes = "A2"
    for index, width in enumerate(_column_widths(table), start=1):
        data.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    data.append([_xlsx_cell(data, column, font=bold) for column in table.columns])
    for row in table.rows:
        data.append([_xlsx_cell(data, cell) for cell in row])

    about = workbook.create_sheet("about")
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 100
    labels = ["title", "url", "citation", "licence", *("note" for _ in table.notes)]
    values = [table.title, table.url, table.citation, table.licence, *table.notes]
    for label, value in zip(labels, values):
        about.append([_xlsx_cell(about, label, font=bold), _xlsx_cell(about, value)])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, cell: Cell, font: Font | None = None) -> WriteOnlyCell:
    value = _spreadsheet_value(cell)
    if isinstance(value, str):
        # XML reads a carriage return back as a line feed: write what a reader will see
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    written = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        written.data_type = "s"  # never a formula or an error value, whatever the text
    if font is not None:
        written.font = font
    return written


def _column_widths(table: Table) -> list[float]:
    """Widths that fit the header and the first hundred rows, within 8 to 60 characters."""
    widths = []
    for index, column in enumerate(table.columns):
        sample = [column, *(row[index] for row in table.rows[:100])]
        longest = max(len(_csv_cell(c)) for c in sample)
        widths.append(min(max(longest + 2, 8), _WIDEST_COLUMN))
    return widths


def results_csv(variables: list[str], rows: list[tuple]) -> bytes:
    """SPARQL results as CSV for a spreadsheet: the SPARQL CSV layout (a header of variable names,
    IRIs and literals by their text, an unbound cell empty), but text that a spreadsheet would run
    as a formula gets a leading quote; numbers, which are literals of a numeric datatype, stay
    numbers (a negative number is not prefixed)."""
    from rdflib import Literal

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        cells = []
        for term in row:
            if term is None:
                cells.append("")
            elif isinstance(term, Literal) and isinstance(term.toPython(), (int, float, Decimal)) \
                    and not isinstance(term.toPython(), bool):
                cells.append(str(term))
            else:
                cells.append(_spreadsheet_text(str(term)))
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")
