"""A jurisdiction's profile: everything a comparison study reads first about one country.

Its system context, its partnership forms placed on the shared dimensions (stated or derived,
with confidence), its named partnerships, its reform timeline, its evaluations grouped by the
outcome they measured, its aims against drivers, its conflicting sources and the sources it all
rests on. The canned queries ``system-context``, ``reform-timeline``, ``profile-statements``,
``profile-conflicts`` and ``profile-sources`` and the comparison index (:mod:`kg.compare`)
provide it; this module only groups their answers.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from rdflib import URIRef

from .compare import CLASSIFICATION_DIMENSIONS, ComparisonIndex, Evidence, Filters

PROFILE_QUERIES = ("system-context", "reform-timeline", "profile-statements", "profile-conflicts", "profile-sources")


@dataclasses.dataclass
class Profile:
    jurisdiction: URIRef
    context: list[dict]                      # system-context rows
    forms: dict[URIRef, dict[str, list[tuple[str, Evidence]]]]   # form -> dimension -> [(value, evidence)]
    partnerships: list[tuple[URIRef, URIRef]]                    # (partnership, form)
    timeline: object                         # the reform-timeline QueryResult (for its chart)
    findings: dict[str, list[dict]]          # outcome -> [{finding, evaluation, design, evaluator, direction, confidence}]
    statements: list[dict]
    conflicts: dict[URIRef, dict]            # conflict -> {label, claims: [(claim, confidence, source)]}
    sources: list[dict]

    def iris(self) -> set:
        """The IRIs the profile shows by their label (claims, findings and sources are shown otherwise)."""
        found = {self.jurisdiction, *self.forms, *(t for pair in self.partnerships for t in pair)}
        for dimensions in self.forms.values():
            for values in dimensions.values():
                found.update(URIRef(v) for v, _ in values)
        for outcome, rows in self.findings.items():
            found.add(URIRef(outcome))
            for r in rows:
                found.update(r[k] for k in ("evaluation", "design", "evaluator", "direction") if r.get(k) is not None)
        found.update(r["topic"] for r in self.context)
        found.update(r["subject"] for r in self.statements)
        found.update(r["kind"] for r in self.timeline.bindings())
        return found


def profile(store, catalogue, index: ComparisonIndex, jurisdiction: str, filters: Filters | None = None) -> Profile:
    """The profile of ``jurisdiction`` (its IRI), computed once per store (the data does not change)."""
    filters = filters or Filters()
    return store.memo(("profile", str(jurisdiction), filters),
                      lambda: _profile(store, catalogue, index, str(jurisdiction), filters))


def _profile(store, catalogue, index: ComparisonIndex, jurisdiction: str, filters: Filters) -> Profile:
    j = URIRef(str(jurisdiction))
    params = {"jurisdiction": str(j)}

    def rows(name: str) -> list[dict]:
        return store.run(catalogue.get(name), params, limit=100_000).bindings()

    forms: dict[URIRef, dict[str, list[tuple[str, Evidence]]]] = {}
    for form, where in sorted(index.forms.items()):
        if where != j:
            continue
        forms[form] = {d: [] for d in CLASSIFICATION_DIMENSIONS}
        for p in index.form_placements(form):
            if p.dimension in forms[form] and filters.keeps(p.confidence, p.derived):
                forms[form][p.dimension].append((str(p.value), Evidence(p.claim, p.confidence, p.derived)))
    partnerships = sorted((p, form) for p, (form, where) in index.partnerships.items() if where == j)
    findings: dict[str, list[dict]] = defaultdict(list)
    seen = set()
    for f in index.findings:
        if f.jurisdiction != j or f.finding in seen or not filters.keeps(f.confidence):
            continue
        seen.add(f.finding)
        findings[str(f.outcome)].append({"finding": f.finding, "evaluation": f.evaluation, "design": f.design,
                                         "evaluator": f.evaluator, "direction": f.direction, "confidence": f.confidence})
    conflicts: dict[URIRef, dict] = {}
    for r in rows("profile-conflicts"):
        entry = conflicts.setdefault(r["conflict"], {"label": str(r["conflictLabel"]), "claims": []})
        claim = (r["claim"], str(r["confidence"]), r.get("firstSource"))
        if claim not in entry["claims"]:
            entry["claims"].append(claim)
    return Profile(
        jurisdiction=j,
        context=rows("system-context"),
        forms=forms,
        partnerships=partnerships,
        timeline=store.run(catalogue.get("reform-timeline"), params, limit=100_000),
        findings=dict(sorted(findings.items())),
        statements=rows("profile-statements"),
        conflicts=conflicts,
        sources=rows("profile-sources"),
    )
