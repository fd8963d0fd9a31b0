"""The cross-country comparison: pivots on any two dimensions, side by side, the evidence gap map.

Three canned queries (``queries/comparison-units.rq``, ``comparison-classifications.rq`` and
``comparison-findings.rq``) give the flat tables; :class:`ComparisonIndex` reads them once per
store and answers every view from memory, so a pivot costs a few milliseconds whatever its
dimensions. This module holds no SPARQL: its queries live in ``queries/`` like the gallery's.

The **units** a view counts are partnership forms, partnerships, evaluations or findings. Each
unit has values on each **dimension**: where it is (jurisdiction), its form, where its form sits
on the comparison dimensions (budget integration, provider payment, ...: classifications of the
form or of one of its partnerships), and what its evaluations found (study design, evaluator,
outcome, direction). Every value carries the claims it rests on, so a cell of a pivot opens
exactly the units it counts, each with its evidence.

Filters: a minimum confidence (confirmed > partial > unverified) and a basis (``stated``: only
placements the sources state; ``all``: the analyst's derived ones too) apply to the claims; a
value no claim at that level supports is *not known* for that unit. A dataset filter keeps the
units one dataset defines (the bundled evidence, or one study merged into the build); their
values may still rest on claims of other datasets, and every claim names its own.

>>> index = ComparisonIndex.load(store, catalogue)                             # doctest: +SKIP
>>> p = index.pivot("jurisdiction", "budget-integration", measure="forms")    # doctest: +SKIP
>>> p.count(scotland, delegated)                                              # doctest: +SKIP
3
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping

from rdflib import Literal, URIRef

from .errors import QueryParameterError

CONFIDENCE_LEVELS = ("confirmed", "partial", "unverified")
BASES = ("all", "stated")
MEASURES = ("forms", "partnerships", "evaluations", "findings")
NOT_KNOWN = "not-known"  # the value a unit has on a dimension nothing places it on

# name -> (title, where its values come from)
CLASSIFICATION_DIMENSIONS = (
    "budget-integration", "provider-payment", "sectors", "legal-basis", "statutory-status",
    "integration-level", "integration-dimension", "integration-scope", "integration-domain",
    "governance-mode", "frame",
)
EVALUATION_DIMENSIONS = ("study-design", "evaluator", "outcome", "direction")
DIMENSIONS: dict[str, str] = {
    "jurisdiction": "Jurisdiction",
    "form": "Partnership form",
    "budget-integration": "Budget integration",
    "provider-payment": "Provider payment",
    "sectors": "Sectors integrated",
    "legal-basis": "Legal basis",
    "statutory-status": "Statutory status",
    "integration-level": "Integration level (Leutz)",
    "integration-dimension": "Integration type (Rainbow Model)",
    "integration-scope": "Integration scope (Rainbow Model)",
    "integration-domain": "Integration domain (Kodner and Spreeuwenberg)",
    "governance-mode": "Governance mode",
    "frame": "Frame",
    "study-design": "Evaluation design",
    "evaluator": "Who ran the evaluation",
    "outcome": "Outcome measured",
    "direction": "Direction of the finding",
}
ID = "https://w3id.org/hscp/id/"


def confidence_slug(term) -> str | None:
    return None if term is None else str(term).rstrip("/").rsplit("/", 1)[-1]


def accepted(minimum: str | None) -> tuple[str, ...]:
    """The confidence levels at or above a minimum (None or 'unverified': all of them)."""
    if not minimum:
        return CONFIDENCE_LEVELS
    if minimum not in CONFIDENCE_LEVELS:
        raise QueryParameterError(f"confidence={minimum!r} is not a level; use one of {', '.join(CONFIDENCE_LEVELS)}.")
    return CONFIDENCE_LEVELS[: CONFIDENCE_LEVELS.index(minimum) + 1]


def check_dimension(name: str, parameter: str = "dimension") -> str:
    if name not in DIMENSIONS:
        raise QueryParameterError(f"{parameter}={name!r} is not a comparison dimension; use one of {', '.join(DIMENSIONS)}.")
    return name


def check_choice(value: str, allowed: Iterable[str], parameter: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise QueryParameterError(f"{parameter}={value!r} is not allowed; use one of {', '.join(allowed)}.")
    return value


# --- the flat tables ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Placement:
    """One classification's value for one subject."""

    claim: URIRef
    subject: URIRef
    form: URIRef
    jurisdiction: URIRef
    dimension: str
    value: URIRef
    derived: bool
    confidence: str
    source: str | None


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding, with what its evaluation studied (one row per evaluated subject and place)."""

    finding: URIRef
    evaluation: URIRef
    outcome: URIRef
    direction: URIRef
    confidence: str
    design: URIRef | None
    evaluator: URIRef | None
    evaluated: URIRef | None
    form: URIRef | None
    jurisdiction: URIRef | None
    source: str | None


@dataclasses.dataclass(frozen=True)
class Filters:
    minimum: str | None = None
    basis: str = "all"
    only: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)  # dimension -> allowed values
    dataset: str | None = None  # only the units of this dataset (kg.datasets: "bundled" or a study's id)

    def __post_init__(self):
        accepted(self.minimum)
        check_choice(self.basis, BASES, "basis")
        for name in self.only:
            check_dimension(name, "filter")
        # a hashable, order-free form of ``only``, so that answers can be cached by their filters
        object.__setattr__(self, "only", _FrozenOnly((k, frozenset(v)) for k, v in self.only.items()))

    @property
    def levels(self) -> tuple[str, ...]:
        return accepted(self.minimum)

    def keeps(self, confidence: str, derived: bool = False) -> bool:
        return confidence in self.levels and not (derived and self.basis == "stated")


class _FrozenOnly(dict):
    """A read-only, hashable mapping of filter dimension -> allowed values."""

    def __hash__(self):
        return hash(frozenset(self.items()))

    def _refuse(self, *args, **kwargs):
        raise TypeError("filters are read-only")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _refuse


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Why a unit has a value: the claims (classifications, findings, evaluations) behind it."""

    claim: URIRef
    confidence: str | None
    derived: bool = False


@dataclasses.dataclass
class Unit:
    iri: URIRef
    kind: str  # form, partnership, evaluation, finding
    values: dict[str, dict[str, dict[Evidence, None]]]  # dimension -> value IRI (or NOT_KNOWN) -> evidence (an ordered set)


@dataclasses.dataclass
class Pivot:
    rows: str
    columns: str
    measure: str
    filters: Filters
    row_values: list[str]
    column_values: list[str]
    cells: dict[tuple[str, str], list[Unit]]

    def count(self, row: str, column: str) -> int:
        return len(self.cells.get((str(row), str(column)), ()))

    def units(self, row: str, column: str) -> list[Unit]:
        return self.cells.get((str(row), str(column)), [])


class ComparisonIndex:
    """The comparison's flat tables, read once, answering pivots, side-by-side and the gap map."""

    QUERIES = ("comparison-units", "comparison-classifications", "comparison-findings")

    def __init__(self, units: list[tuple[URIRef, str, URIRef, URIRef, str]], placements: list[Placement],
                 findings: list[Finding], datasets=None):
        from .datasets import DatasetIndex

        self.datasets = datasets or DatasetIndex([])
        self.forms: dict[URIRef, URIRef] = {}  # form -> jurisdiction
        self.partnerships: dict[URIRef, tuple[URIRef, URIRef]] = {}  # partnership -> (form, jurisdiction)
        self.unit_confidence: dict[URIRef, str] = {}
        for iri, kind, form, jurisdiction, confidence in units:
            self.unit_confidence[iri] = confidence
            if kind == "form":
                self.forms[iri] = jurisdiction
            else:
                self.partnerships[iri] = (form, jurisdiction)
        self.placements = placements
        self.findings = findings
        self._by_form: dict[URIRef, list[Placement]] = defaultdict(list)
        self._by_subject: dict[URIRef, list[Placement]] = defaultdict(list)
        for p in placements:
            self._by_form[p.form].append(p)
            self._by_subject[p.subject].append(p)
        self._lock = threading.Lock()
        self._units: dict[tuple, list[Unit]] = {}
        self._findings_by_form: dict[URIRef, list[Finding]] = defaultdict(list)
        self._findings_by_evaluation: dict[URIRef, list[Finding]] = defaultdict(list)
        for f in findings:
            if f.form is not None:
                self._findings_by_form[f.form].append(f)
            self._findings_by_evaluation[f.evaluation].append(f)

    @classmethod
    def load(cls, store, catalogue) -> "ComparisonIndex":
        """Run the three flat queries on ``store`` (once: the result is memoised on the store)."""

        def compute():
            units_q, placements_q, findings_q = (catalogue.get(n) for n in cls.QUERIES)
            units = [(r["unit"], str(r["kind"]), r["form"], r["jurisdiction"], confidence_slug(r["confidence"]))
                     for r in store.run(units_q, {}, limit=10_000_000).bindings()]
            placements = [
                Placement(r["classification"], r["subject"], r["form"], r["jurisdiction"],
                          str(r["dimension"]).rsplit("/", 1)[-1], r["value"], _true(r["derived"]),
                          confidence_slug(r["confidence"]), _text(r.get("firstSource")))
                for r in store.run(placements_q, {}, limit=10_000_000).bindings()
            ]
            findings = [
                Finding(r["finding"], r["evaluation"], r["outcome"], r["direction"], confidence_slug(r["confidence"]),
                        r.get("design"), r.get("evaluator"), r.get("evaluated"), r.get("form"), r.get("jurisdiction"),
                        _text(r.get("firstSource")))
                for r in store.run(findings_q, {}, limit=10_000_000).bindings()
            ]
            from .datasets import DatasetIndex

            return cls(units, placements, findings, DatasetIndex.load(store, catalogue))

        return store.memo(("comparison-index",), compute)

    def dataset_of(self, iri) -> str | None:
        """The id of the dataset a unit or claim comes from ("bundled" or a study's id)."""
        return self.datasets.id_of(iri)

    # -- units and their values --------------------------------------------------------------------

    def _placement_values(self, placements: Iterable[Placement], filters: Filters) -> dict[str, dict[str, dict]]:
        values: dict[str, dict[str, dict]] = {d: {} for d in CLASSIFICATION_DIMENSIONS}
        for p in placements:
            if p.dimension in values and filters.keeps(p.confidence, p.derived):
                values[p.dimension].setdefault(str(p.value), {})[Evidence(p.claim, p.confidence, p.derived)] = None
        return values

    def _finding_values(self, findings: Iterable[Finding], filters: Filters) -> dict[str, dict[str, dict]]:
        values: dict[str, dict[str, dict]] = {d: {} for d in EVALUATION_DIMENSIONS}
        for f in findings:
            if not filters.keeps(f.confidence):
                continue
            evaluation = Evidence(f.evaluation, None)
            finding = Evidence(f.finding, f.confidence)
            for dimension, value, evidence in (("study-design", f.design, evaluation), ("evaluator", f.evaluator, evaluation),
                                               ("outcome", f.outcome, finding), ("direction", f.direction, finding)):
                if value is not None:
                    values[dimension].setdefault(str(value), {})[evidence] = None
        return values

    @staticmethod
    def _merge(*parts: Mapping[str, Mapping[str, dict]]) -> dict[str, dict[str, dict]]:
        merged: dict[str, dict[str, dict]] = {}
        for part in parts:
            for dimension, values in part.items():
                target = merged.setdefault(dimension, {})
                for value, evidence in values.items():
                    target.setdefault(value, {}).update(evidence)
        for dimension in DIMENSIONS:
            if not merged.setdefault(dimension, {}):
                merged[dimension][NOT_KNOWN] = {}
        return merged

    def form_placements(self, form: URIRef) -> list[Placement]:
        """Placements of a form: of the form itself and of its partnerships."""
        return self._by_form.get(form, [])

    def units(self, measure: str, filters: Filters) -> list[Unit]:
        """Every unit of the measure with its values on every dimension (cached by measure and filters)."""
        check_choice(measure, MEASURES, "measure")
        if filters.dataset is not None:
            check_choice(filters.dataset, self.datasets.by_id, "dataset")
        key = (measure, filters)
        with self._lock:
            cached = self._units.get(key)
        if cached is None:
            cached = self._compute_units(measure, filters)
            with self._lock:
                self._units[key] = cached
                while len(self._units) > 32:  # a few recent answers, not every combination ever asked
                    self._units.pop(next(iter(self._units)))
        return cached

    def _compute_units(self, measure: str, filters: Filters) -> list[Unit]:
        # a form's placements, once per call (the partnerships measure uses its own and its form's only)
        form_values = {} if measure == "partnerships" else \
            {form: self._placement_values(self.form_placements(form), filters) for form in self.forms}
        out: list[Unit] = []
        if measure == "forms":
            for form, jurisdiction in self.forms.items():
                own = Evidence(form, self.unit_confidence.get(form))
                if not filters.keeps(self.unit_confidence.get(form, "unverified")):
                    continue
                values = self._merge({"jurisdiction": {str(jurisdiction): {own: None}}, "form": {str(form): {own: None}}},
                                     form_values[form], self._finding_values(self._findings_by_form.get(form, ()), filters))
                out.append(Unit(form, "form", values))
        elif measure == "partnerships":
            for partnership, (form, jurisdiction) in self.partnerships.items():
                own = Evidence(partnership, self.unit_confidence.get(partnership))
                if not filters.keeps(self.unit_confidence.get(partnership, "unverified")):
                    continue
                placements = [*self._by_subject.get(partnership, ()), *self._by_subject.get(form, ())]
                findings = [f for f in self._findings_by_form.get(form, ()) if f.evaluated in (partnership, form)]
                values = self._merge({"jurisdiction": {str(jurisdiction): {own: None}}, "form": {str(form): {own: None}}},
                                     self._placement_values(placements, filters), self._finding_values(findings, filters))
                out.append(Unit(partnership, "partnership", values))
        else:
            groups: dict[URIRef, list[Finding]] = defaultdict(list)
            for f in self.findings:
                groups[f.evaluation if measure == "evaluations" else f.finding].append(f)
            for key, rows in groups.items():
                rows = [f for f in rows if filters.keeps(f.confidence)]
                if not rows:
                    continue
                place = {str(f.jurisdiction): {Evidence(f.evaluation, None): None} for f in rows if f.jurisdiction is not None}
                forms = {f.form for f in rows if f.form is not None}
                values = self._merge({"jurisdiction": place, "form": {str(f): {Evidence(rows[0].evaluation, None): None} for f in forms}},
                                     *(form_values[f] for f in forms if f in form_values),
                                     self._finding_values(rows, filters))
                out.append(Unit(key, measure[:-1], values))
        if filters.dataset is not None:
            out = [u for u in out if self.dataset_of(u.iri) == filters.dataset]
        return [u for u in out if _passes(u, filters)]

    # -- the views ---------------------------------------------------------------------------------

    def pivot(self, rows: str, columns: str, measure: str = "forms", filters: Filters | None = None) -> Pivot:
        """Count the units of ``measure`` by their values on two dimensions."""
        check_dimension(rows, "rows")
        check_dimension(columns, "columns")
        filters = filters or Filters()
        cells: dict[tuple[str, str], list[Unit]] = defaultdict(list)
        row_values: set[str] = set()
        column_values: set[str] = set()
        for unit in self.units(measure, filters):
            for a in unit.values[rows]:
                for b in unit.values[columns]:
                    if rows == columns and a != b:
                        continue
                    cells[(a, b)].append(unit)
                    row_values.add(a)
                    column_values.add(b)
        return Pivot(rows, columns, measure, filters, ordered_values(row_values), ordered_values(column_values), dict(cells))

    def side_by_side(self, jurisdictions: list[str], filters: Filters | None = None,
                     forms: Iterable[str] = ()) -> dict[str, dict[str, list[tuple[URIRef, str, Evidence]]]]:
        """dimension -> jurisdiction -> [(form, value, evidence)] for the chosen jurisdictions."""
        if not 2 <= len(jurisdictions) <= 6:
            raise QueryParameterError(f"j: choose two to six jurisdictions, not {len(jurisdictions)}.")
        filters = filters or Filters()
        chosen_forms = {str(f) for f in forms}
        table: dict[str, dict[str, list[tuple[URIRef, str, Evidence]]]] = {
            d: {j: [] for j in jurisdictions} for d in CLASSIFICATION_DIMENSIONS}
        for form, jurisdiction in self.forms.items():
            if str(jurisdiction) not in jurisdictions or (chosen_forms and str(form) not in chosen_forms):
                continue
            for dimension, values in self._placement_values(self.form_placements(form), filters).items():
                for value, evidence in values.items():
                    table[dimension][str(jurisdiction)].extend((form, value, e) for e in evidence)
        return table

    def jurisdictions(self) -> list[str]:
        return sorted({str(j) for j in self.forms.values()})

    def forms_of(self, jurisdictions: Iterable[str]) -> list[str]:
        wanted = {str(j) for j in jurisdictions}
        return sorted(str(f) for f, j in self.forms.items() if str(j) in wanted)


def _passes(unit: Unit, filters: Filters) -> bool:
    return all(set(unit.values.get(name, {})) & set(allowed) for name, allowed in filters.only.items())


def ordered_values(values: set[str]) -> list[str]:
    return sorted(values, key=lambda v: (v == NOT_KNOWN, v))


def _true(term) -> bool:
    return bool(term.toPython()) if isinstance(term, Literal) else str(term) in ("true", "1")


def _text(term) -> str | None:
    return None if term is None else str(term)


# --- claims about one resource -------------------------------------------------------------------


@dataclasses.dataclass
class Claim:
    claim: URIRef
    types: set[URIRef] = dataclasses.field(default_factory=set)
    values: list[tuple[URIRef, object]] = dataclasses.field(default_factory=list)
    sources: set[URIRef] = dataclasses.field(default_factory=set)
    confidence: URIRef | None = None


def claims_about(store, catalogue, iri: str) -> list[Claim]:
    """Every claim whose hscp:about is ``iri``, with its values, sources and confidence."""
    result = store.query(catalogue.get("claims-about").sparql, {"subject": URIRef(str(iri))}, limit=100_000)
    claims: dict[URIRef, Claim] = {}
    for row in result.bindings():
        claim = claims.setdefault(row["claim"], Claim(row["claim"]))
        if "type" in row:
            claim.types.add(row["type"])
        if "property" in row and (row["property"], row["value"]) not in claim.values:
            claim.values.append((row["property"], row["value"]))
        if "source" in row:
            claim.sources.add(row["source"])
        if "confidence" in row:
            claim.confidence = row["confidence"]
    return sorted(claims.values(), key=lambda c: (sorted(map(str, c.types)), str(c.claim)))


# --- the JSON shapes of the comparison views (for /openapi.json and the tests) ---------------------

_PROVENANCE = {"url": {"type": "string"}, "citation": {"type": "string"}, "licence": {"type": "string"}}
_EVIDENCE = {"type": "object", "required": ["dimension", "value", "claim", "confidence", "basis", "dataset"],
             "properties": {"dimension": {"type": "string"}, "value": {"type": "string"}, "claim": {"type": "string"},
                            "dataset": {"type": ["string", "null"]},
                            "confidence": {"type": ["string", "null"]}, "basis": {"enum": ["stated", "derived"]}}}
PIVOT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Pivot", "type": "object",
    "required": ["ok", "url", "citation", "licence", "rows", "columns", "measure", "confidence", "basis", "dataset",
                 "row_values", "column_values", "cells"],
    "properties": {
        "ok": {"const": True}, **_PROVENANCE, "rows": {"enum": list(DIMENSIONS)}, "columns": {"enum": list(DIMENSIONS)},
        "dataset": {"type": ["string", "null"]},
        "measure": {"enum": list(MEASURES)}, "confidence": {"enum": list(CONFIDENCE_LEVELS)}, "basis": {"enum": list(BASES)},
        "row_values": {"type": "array", "items": {"type": "string"}},
        "column_values": {"type": "array", "items": {"type": "string"}},
        "cells": {"type": "array", "items": {
            "type": "object", "required": ["row", "column", "count", "units"],
            "properties": {"row": {"type": "string"}, "column": {"type": "string"}, "count": {"type": "integer", "minimum": 1},
                           "units": {"type": "array", "items": {
                               "type": "object", "required": ["unit", "kind", "dataset", "evidence"],
                               "properties": {"unit": {"type": "string"}, "kind": {"type": "string"},
                                              "dataset": {"type": ["string", "null"]},
                                              "evidence": {"type": "array", "items": _EVIDENCE}}}}}}},
    },
}
SIDE_BY_SIDE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Side by side", "type": "object",
    "required": ["ok", "url", "citation", "licence", "jurisdictions", "basis", "confidence", "dimensions"],
    "properties": {
        "ok": {"const": True}, **_PROVENANCE, "jurisdictions": {"type": "array", "minItems": 2, "maxItems": 6, "items": {"type": "string"}},
        "basis": {"enum": list(BASES)}, "confidence": {"enum": list(CONFIDENCE_LEVELS)},
        "dimensions": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "object", "required": ["form", "value", "claim", "confidence", "basis"],
                                       "properties": {"form": {"type": "string"}, "value": {"type": "string"},
                                                      "claim": {"type": "string"}, "confidence": {"type": ["string", "null"]},
                                                      "basis": {"enum": ["stated", "derived"]}}}}}},
    },
}
GAP_MAP_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Evidence gap map", "type": "object",
    "required": ["ok", "url", "citation", "licence", "rows", "filters", "confidence", "row_values", "outcomes", "cells"],
    "properties": {
        "ok": {"const": True}, **_PROVENANCE, "rows": {"enum": ["form", "budget-integration", "provider-payment"]},
        "filters": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "confidence": {"enum": list(CONFIDENCE_LEVELS)},
        "row_values": {"type": "array", "items": {"type": "string"}}, "outcomes": {"type": "array", "items": {"type": "string"}},
        "cells": {"type": "array", "items": {
            "type": "object", "required": ["row", "outcome", "findings", "evaluations", "directions", "strongest_design_rank"],
            "properties": {"row": {"type": "string"}, "outcome": {"type": "string"},
                           "findings": {"type": "integer", "minimum": 1}, "evaluations": {"type": "integer", "minimum": 1},
                           "directions": {"type": "object", "additionalProperties": {"type": "integer"}},
                           "strongest_design_rank": {"type": ["integer", "null"]}}}},
    },
}
