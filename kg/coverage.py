"""Coverage of the comparison dimensions: how much of each jurisdiction the data places, and how.

For every jurisdiction and every comparison dimension, the share of its partnership forms that
carry a value on the dimension (a classification of the form itself, or of a partnership of that
form) and the share whose value the source states (rather than the project's analyst deriving
it). A form with no classification on a dimension is "not known" there: coverage measures what
the sources settle, it never guesses. Computed from the typed case data, so ``kg build`` reports
it without a query and ``docs/coverage.md`` is generated from the same function.

>>> cell = Cell(forms=4, with_value=3, stated=1)
>>> cell.share_with_value, cell.share_stated
(0.75, 0.25)
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from .casedata import CaseData

# The dimensions a comparison study places forms on, in the order tables show them.
DIMENSIONS = (
    "budget-integration",
    "provider-payment",
    "sectors",
    "legal-basis",
    "statutory-status",
    "integration-level",
    "integration-dimension",
    "integration-scope",
    "integration-domain",
    "governance-mode",
    "frame",
)
# The five every jurisdiction's forms should be placed on (or shown as not known).
CORE_DIMENSIONS = DIMENSIONS[:5]


@dataclasses.dataclass(frozen=True)
class Cell:
    forms: int
    with_value: int
    stated: int

    @property
    def share_with_value(self) -> float:
        return round(self.with_value / self.forms, 3) if self.forms else 0.0

    @property
    def share_stated(self) -> float:
        return round(self.stated / self.forms, 3) if self.forms else 0.0

    def as_dict(self) -> dict:
        return {"forms": self.forms, "with_value": self.with_value, "stated": self.stated,
                "share_with_value": self.share_with_value, "share_stated": self.share_stated}


def coverage(data: CaseData) -> dict[str, dict[str, Cell]]:
    """jurisdiction id -> dimension -> :class:`Cell`, for every jurisdiction with forms."""
    form_of = {r.id: r["form"] for r in data["partnerships"]}
    forms_in: dict[str, set[str]] = defaultdict(set)
    for form in data["forms"]:
        forms_in[form["jurisdiction"]].add(form.id)
    placed: dict[tuple[str, str], set[str]] = defaultdict(set)  # (dimension, form) -> bases
    for row in data["observations"]:
        form = row.get("form") or form_of.get(row.get("partnership"))
        if form:
            placed[(row["dimension"], form)].add(row["basis"])
    table: dict[str, dict[str, Cell]] = {}
    for jurisdiction in sorted(forms_in):
        forms = forms_in[jurisdiction]
        table[jurisdiction] = {
            dimension: Cell(
                forms=len(forms),
                with_value=sum(1 for f in forms if placed.get((dimension, f))),
                stated=sum(1 for f in forms if "stated" in placed.get((dimension, f), ())),
            )
            for dimension in DIMENSIONS
        }
    return table


def summary(data: CaseData) -> dict:
    """Counts a reader checks first, per jurisdiction and in total."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    jurisdiction_of = {}
    for table in ("forms", "partnerships"):
        for r in data[table]:
            jurisdiction_of[(table, r.id)] = r["jurisdiction"]
            per[r["jurisdiction"]][table] += 1
    evaluation_places: dict[str, set[str]] = {}
    for r in data["evaluations"]:
        places = set(r.get("jurisdiction", ()))
        places |= {jurisdiction_of[("partnerships", p)] for p in r.get("partnership", ())}
        places |= {jurisdiction_of[("forms", f)] for f in r.get("form", ())}
        evaluation_places[r.id] = places
        for place in places or {"(integrated care in general)"}:
            per[place]["evaluations"] += 1
    for r in data["findings"]:
        for place in evaluation_places.get(r["evaluation"]) or {"(integrated care in general)"}:
            per[place]["findings"] += 1
    for table in ("contexts", "events"):
        for r in data[table]:
            per[r["jurisdiction"]][table] += 1
    observations = data["observations"]
    return {
        "jurisdictions": len(data["jurisdictions"]),
        "forms": len(data["forms"]),
        "partnerships": len(data["partnerships"]),
        "evaluations": len(data["evaluations"]),
        "findings": len(data["findings"]),
        "classifications": {
            "stated": sum(1 for r in observations if r["basis"] == "stated"),
            "derived": sum(1 for r in observations if r["basis"] == "derived"),
        },
        "conflicts": len(data["conflicts"]),
        "per_jurisdiction": {j: dict(sorted(c.items())) for j, c in sorted(per.items())},
    }


def report(data: CaseData) -> dict:
    """The coverage section of build/report.json."""
    return {
        "dimensions": list(DIMENSIONS),
        "summary": summary(data),
        "table": {j: {d: cell.as_dict() for d, cell in cells.items()} for j, cells in coverage(data).items()},
    }


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def markdown(data: CaseData) -> str:
    """docs/coverage.md: the coverage table and the counts behind it."""
    labels = {r.id: r["label"] for r in data["jurisdictions"]}
    table = coverage(data)
    facts = summary(data)
    lines = [
        "# Coverage of the comparison dimensions",
        "",
        "Generated from the bundled case data by `python -m kg.docs` (the tests fail when it is stale);",
        "`kg build` writes the same table to `build/report.json` under `coverage`.",
        "",
        "Each cell: the share of the jurisdiction's partnership forms that carry a value on the",
        "dimension (a classification of the form, or of a partnership of that form), then in brackets",
        "the share whose value the source itself states rather than the project's analyst deriving it.",
        "An empty share means *not known*: no source settles it, and nothing is guessed.",
        "",
        f"Totals: {facts['jurisdictions']} jurisdictions, {facts['forms']} forms, "
        f"{facts['partnerships']} partnerships, {facts['evaluations']} evaluations with "
        f"{facts['findings']} findings, {facts['classifications']['stated']} classifications stated by "
        f"their sources and {facts['classifications']['derived']} derived by the analyst, "
        f"{facts['conflicts']} recorded conflicts between sources.",
        "",
        "| jurisdiction | forms | " + " | ".join(DIMENSIONS) + " |",
        "|---|---|" + "---|" * len(DIMENSIONS),
    ]
    for jurisdiction, cells in table.items():
        first = next(iter(cells.values()))
        row = [labels.get(jurisdiction, jurisdiction), str(first.forms)]
        for dimension in DIMENSIONS:
            cell = cells[dimension]
            row.append(f"{_percent(cell.share_with_value)} ({_percent(cell.share_stated)})" if cell.with_value else "")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Evidence per jurisdiction", "",
              "| jurisdiction | forms | partnerships | evaluations | findings | context facts | timeline events |",
              "|---|---|---|---|---|---|---|"]
    for jurisdiction, counts in facts["per_jurisdiction"].items():
        lines.append(f"| {labels.get(jurisdiction, jurisdiction)} | {counts.get('forms', 0)} | "
                     f"{counts.get('partnerships', 0)} | {counts.get('evaluations', 0)} | "
                     f"{counts.get('findings', 0)} | {counts.get('contexts', 0)} | {counts.get('events', 0)} |")
    return "\n".join(lines) + "\n"
