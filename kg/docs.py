"""Reference documents generated from their one declaration, so they cannot drift.

``python -m kg.docs`` rewrites docs/case-data.md (from kg.casedata.TABLES), docs/queries.md
(from the canned-query headers) and the competency-question section of docs/ontology.md
(from ontology/competency/*.rq); tests fail when the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .casedata import DIMENSION_SCHEMES, OUTCOME_SCHEMES, SEPARATOR, TABLES

CASE_DATA_INTRO = """\
# Case data: the tables and their columns

The case data is a folder of CSV files, one table per kind of thing, meant to be filled in by
hand in a spreadsheet (save as *CSV UTF-8*; a byte-order mark, Windows line ends and trailing
empty rows are fine), or one `.xlsx` workbook with a sheet per table, named after it. The bundled
data lives in `data/`; point `kg build --data DIR` (or `--data study.xlsx`, or `KG_DATA_DIR`) at
your own to build from it. In a workbook, type every cell as text or a plain number: formulas,
merged cells and dates typed as numbers (Excel's serial dates) are refused, each named by
workbook, sheet, row and column; a cell formatted as a date is read as that date.

Rules that hold for every table:

- The `id` column comes first. An id is lower-case letters, digits and single hyphens
  (`torbay-care-trust`), unique within its table, and becomes the last part of the
  resource's IRI (`https://w3id.org/hscp/id/partnership/torbay-care-trust`), so keep it stable.
- Columns that refer to other rows take their ids; several values are separated by `{sep}`.
- Dates are written as precisely as the source gives them: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
  No date is after 2100, and in the tables of things that happened or were decided
  (partnerships, organisations, memberships, changes, events, legislation, evaluations,
  evaluation designs, sources) none is more than 10 years ahead of today.
- A cell holds at most 32,767 characters (an Excel cell's most) and no control character that
  XML forbids (tab, line feed and carriage return are fine).
- A jurisdiction cannot be part of itself, through any chain of parents, and changes cannot
  form a cycle; a change's original and resulting bodies may share an id only for a
  designation, or a merger that absorbs others into one of its own.
- When the case data has many problems, the message lists the first 200 and counts the rest by
  file and column; `kg validate --format json` lists every one.
- Concept columns take a concept's slug from the named scheme in `ontology/schemes/`
  (e.g. `network` from the `governance-mode` scheme). Outcome domains are written
  `scheme:concept`, the scheme one of {outcome_schemes}.
- In `observations.csv` the `value` column takes a concept of the scheme that the row's
  `dimension` names: {dimensions}.
- Every row that states a claim has `source` (ids from `sources.csv`) and `confidence`:
  `confirmed` (seen in the cited source), `partial` (a secondary source, a truncated text or an
  inference from a source) or `unverified` (not confirmed: general knowledge or a summary only).
  Use `note` to say why, e.g. *analyst's label, not the source's*.
- Required tables: {required}. The others may be absent.

`kg validate` reads a folder and reports every problem at once, each as
`FILE:ROW: column 'NAME': what is wrong and what is allowed` (ROW is the spreadsheet row;
the header is row 1). It exits 1 when anything is wrong and writes nothing.
"""


def case_data_markdown() -> str:
    lines = [CASE_DATA_INTRO.format(
        sep=SEPARATOR,
        outcome_schemes=", ".join(f"`{s}`" for s in OUTCOME_SCHEMES),
        dimensions="; ".join(f"`{d}` → `{s}`" for d, s in DIMENSION_SCHEMES.items()),
        required=", ".join(f"`{t.filename}`" for t in TABLES.values() if t.required),
    )]
    for table in TABLES.values():
        lines.append(f"\n## `{table.filename}`\n\n{table.help}")
        lines.append(f"Each row becomes `https://w3id.org/hscp/id/{table.kind}/{{id}}`.")
        if table.one_of:
            lines.append("Fill exactly one of " + ", ".join(f"`{c}`" for c in table.one_of) + ".")
        lines.append("\n| column | required | type | example | meaning |\n|---|---|---|---|---|")
        for column in table.columns:
            lines.append(f"| `{column.name}` | {'yes' if column.required else ''} | {column.type.description} "
                         f"| `{column.example}` | {column.help} |")
    return "\n".join(lines) + "\n"


def chart_markdown(chart: dict) -> str:
    """One line saying what a query's chart draws, from its header's chart keys."""
    kind = chart.get("kind")
    if kind == "timeline":
        text = f"Chart: timeline of `{chart.get('label') or chart.get('series', '')}` from `{chart['x']}` to `{chart['y']}`"
    elif kind == "heatmap":
        text = f"Chart: heatmap of `{chart['y']}`, `{chart.get('series', '')}` (rows) × `{chart['x']}` (columns)"
    else:
        text = f"Chart: {kind} of `{chart['y']}` by `{chart['x']}`"
        if chart.get("series"):
            text += f", one colour per `{chart['series']}`"
    return text


def queries_markdown(queries_dir: Path) -> str:
    from .queries import Catalogue

    catalogue = Catalogue.load(queries_dir)
    lines = ["# Canned queries", "",
             "Generated from the headers of `queries/*.rq` by `python -m kg.docs`; run one with",
             "`kg query NAME -p param=value`, or open `/queries/NAME` in the web app.", ""]
    for canned in catalogue:
        lines.append(f"## `{canned.name}`: {canned.title}\n")
        lines.append(" ".join(canned.description.split()) + "\n")
        if canned.tags:
            lines.append("Tags: " + ", ".join(f"`{t}`" for t in canned.tags) + "\n")
        if canned.params:
            lines.append("| parameter | type | required | example | meaning |\n|---|---|---|---|---|")
            for p in canned.params:
                lines.append(f"| `{p.name}` | {p.type} | {'yes' if p.required else 'no'} | "
                             f"`{p.example if p.example is not None else ''}` | {p.description or ''} |")
            lines.append("")
        if canned.chart:
            lines.append(chart_markdown(canned.chart) + "\n")
    return "\n".join(lines).rstrip() + "\n"


COMPETENCY_HEADING = "## Competency questions\n"


def competency_markdown(competency_dir: Path) -> str:
    """The competency-question section of docs/ontology.md, from ontology/competency/*.rq."""
    lines = [COMPETENCY_HEADING,
             "Each question is a file in `ontology/competency/`; its first line is the question. The tests run",
             "every one against the bundled build (on the oxigraph and rdflib stores) and expect rows.", ""]
    for path in sorted(competency_dir.glob("cq*.rq")):
        first, _, body = path.read_text(encoding="utf-8").partition("\n")
        question = first.removeprefix("# question:").strip()
        number = path.stem.split("-", 1)[0].upper()
        lines += [f"### {number}. {question}", "", f"`{path.name}`", "", "```sparql", body.strip(), "```", ""]
    return "\n".join(lines)


def ontology_markdown(current: str, competency_dir: Path) -> str:
    """docs/ontology.md with its competency section (the last section) regenerated."""
    head = current.split(COMPETENCY_HEADING, 1)[0]
    return head + competency_markdown(competency_dir)


def coverage_markdown() -> str:
    """docs/coverage.md from the bundled case data."""
    from .casedata import read_case_data
    from .coverage import markdown
    from .settings import resource_dir
    from .vocabulary import load_vocabulary

    vocabulary = load_vocabulary(resource_dir("ontology"))
    return markdown(read_case_data(resource_dir("data"), vocabulary.slugs))


def generated(root: Path) -> dict[Path, str]:
    """Each generated document's path and its text."""
    from .settings import resource_dir

    ontology_doc = root / "docs" / "ontology.md"
    return {
        root / "docs" / "coverage.md": coverage_markdown(),
        root / "docs" / "case-data.md": case_data_markdown(),
        root / "docs" / "queries.md": queries_markdown(resource_dir("queries")),
        ontology_doc: ontology_markdown(ontology_doc.read_text(encoding="utf-8"), resource_dir("ontology") / "competency"),
    }


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    for path, text in generated(root).items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
