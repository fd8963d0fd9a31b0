"""The comparison views: a pivot on any two dimensions, jurisdictions side by side, the evidence
gap map, and the index of jurisdictions.

Everything is computed by ``kg.compare.ComparisonIndex``; these views read the request's
parameters, ask it, and render HTML or JSON. Every number opens the units it counts, each with
the claims behind it, and every claim links to its page and sources.
"""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from rdflib import Literal, URIRef

from kg import compare as kc
from kg import tables
from kg.errors import QueryParameterError

from . import charts, negotiation
from .context import kg
from .rendering import labels_for as _labels_for, term_view as _term_view

bp = Blueprint("compare", __name__)


def term_view(value, labels):
    """The view of an IRI given as text (the comparison index keeps its values as strings)."""
    return _term_view(URIRef(value) if isinstance(value, str) else value, labels)


def labels_for(values):
    return _labels_for([URIRef(v) if isinstance(v, str) else v for v in values if v is not None and v != kc.NOT_KNOWN])

# the dimensions of the first /compare (?dimension=…), and where they live now
_OLD_DIMENSIONS = {"form": "form", "governance-mode": "governance-mode", "frame": "frame",
                   "integration-level": "integration-level", "outcome-evidence": "direction"}
GAP_ROWS = ("form", "budget-integration", "provider-payment")
LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _citation() -> str:
    from rdflib.namespace import DCTERMS

    from .dataset import description

    graph, node = description(), kg().mint.dataset
    title = graph.value(node, DCTERMS.title) or "partnership-kg"
    modified = graph.value(node, DCTERMS.modified) or "undated"
    return f"partnership-kg contributors. {title}. Dataset, {modified}. {node}."


def _download(table_title: str, columns: list[str], rows: list[tuple], notes: list[str], extension: str) -> Response:
    """The table as CSV or an Excel workbook, with its URL, the citation and the licence."""
    table = tables.Table(title=table_title, columns=tuple(columns), rows=tuple(tuple(r) for r in rows),
                         url=kg().request_url(), citation=_citation(), licence=LICENCE, notes=tuple(notes))
    if extension == "csv":
        return Response(tables.to_csv(table), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(request.path)}.csv"'})
    return Response(tables.to_xlsx(table), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{_filename(request.path)}.xlsx"'})


def _provenance() -> dict:
    """What every JSON answer of the comparison views carries: where it came from, how to cite it."""
    return {"url": kg().request_url(), "citation": _citation(), "licence": LICENCE}


def _filename(path: str) -> str:
    return path.strip("/").replace("/", "-").rsplit(".", 1)[0] or "table"


def _label(value: str, labels) -> str:
    return "not known" if value == kc.NOT_KNOWN else labels.get(value) or value


def _json_wanted() -> bool:
    if request.path.endswith(".json"):
        return True
    chosen = negotiation.choose(request.accept_mimetypes, ("html", "json"), requested=request.args.get("format"),
                                default=negotiation.HTML)
    return chosen.kind == "json"


def _filters(**only) -> kc.Filters:
    return kc.Filters(minimum=request.args.get("confidence") or None, basis=request.args.get("basis") or "all",
                      only={k: frozenset(v) for k, v in only.items() if v}, dataset=request.args.get("dataset") or None)


def _dataset_view(iri) -> dict | None:
    """The dataset a unit or claim comes from, when the build merges several (else None: all are bundled)."""
    return kg().comparison.datasets.badge(iri)


def _arg(name: str, default: str, allowed) -> str:
    return kc.check_choice(request.args.get(name) or default, allowed, name)


def _value_view(value: str, labels):
    if value == kc.NOT_KNOWN:
        return {"kind": "literal", "value": "not known", "text": "not known", "href": None, "local": False,
                "lang": None, "datatype": None, "label": None}
    return term_view(value, labels)


def _unit_view(unit: kc.Unit, dims: tuple[str, ...], values: tuple[str, ...], labels) -> dict:
    evidence = []
    for dim, value in zip(dims, values):
        for e in unit.values[dim].get(value, ()):
            if e.claim == unit.iri:  # where the unit is, or what form it is: the unit's own row says so
                continue
            evidence.append({"claim": term_view(e.claim, labels), "confidence": e.confidence,
                             "derived": e.derived, "dimension": kc.DIMENSIONS[dim], "dataset": _dataset_view(e.claim)})
    return {"unit": term_view(unit.iri, labels), "evidence": evidence, "dataset": _dataset_view(unit.iri)}


def _unit_json(unit: kc.Unit, dims, values) -> dict:
    index = kg().comparison
    return {"unit": str(unit.iri), "kind": unit.kind, "dataset": index.dataset_of(unit.iri),
            "evidence": [{"dimension": dim, "value": value, "claim": str(e.claim), "confidence": e.confidence,
                          "basis": "derived" if e.derived else "stated", "dataset": index.dataset_of(e.claim)}
                         for dim, value in zip(dims, values) for e in unit.values[dim].get(value, ())]}


@bp.get("/compare")
@bp.get("/compare.<any(json, csv, xlsx):extension>")
def pivot(extension: str | None = None):
    if "dimension" in request.args and "columns" not in request.args:
        old = request.args["dimension"]
        if old not in _OLD_DIMENSIONS:
            raise QueryParameterError(f"dimension={old!r} is not a comparison dimension; use one of "
                                      f"{', '.join(_OLD_DIMENSIONS)}, or rows= and columns= ({', '.join(kc.DIMENSIONS)}).")
        args = {"rows": "jurisdiction", "columns": _OLD_DIMENSIONS[old],
                "measure": "findings" if old == "outcome-evidence" else "partnerships"}
        if request.args.get("confidence"):
            args["confidence"] = request.args["confidence"]
        return redirect(url_for("compare.pivot", **args), code=301)
    rows = _arg("rows", "jurisdiction", kc.DIMENSIONS)
    columns = _arg("columns", "budget-integration", kc.DIMENSIONS)
    measure = _arg("measure", "forms", kc.MEASURES)
    filters = _filters()
    p = kg().comparison.pivot(rows, columns, measure, filters)
    cell = (request.args.get("row"), request.args.get("column"))
    opened = p.units(*cell) if all(cell) else []
    if _json_wanted():
        return jsonify({
            "ok": True, **_provenance(), "rows": rows, "columns": columns, "measure": measure,
            "confidence": filters.minimum or "unverified", "basis": filters.basis, "dataset": filters.dataset,
            "row_values": p.row_values, "column_values": p.column_values,
            "cells": [{"row": a, "column": b, "count": len(units),
                       "units": [_unit_json(u, (rows, columns), (a, b)) for u in units]}
                      for (a, b), units in sorted(p.cells.items())],
        })
    if extension in ("csv", "xlsx"):
        names = labels_for([*p.row_values, *p.column_values])
        return _download(
            f"{measure.capitalize()} by {kc.DIMENSIONS[rows].lower()} and {kc.DIMENSIONS[columns].lower()}",
            [kc.DIMENSIONS[rows], *(_label(b, names) for b in p.column_values)],
            [(_label(a, names), *(p.count(a, b) for b in p.column_values)) for a in p.row_values],
            [f"minimum confidence: {filters.minimum or 'unverified'}",
             "placements: " + ("stated by the source only" if filters.basis == "stated" else "stated and derived"),
             f"dataset: {filters.dataset or 'all'}",
             "not known: no source at this confidence places the unit on the dimension"],
            extension)
    labels = labels_for([*p.row_values, *p.column_values, *(u.iri for u in opened),
                         *(e.claim for u in opened for d, v in zip((rows, columns), cell)
                           for e in u.values[d].get(v, ()))])
    table = [{"value": _value_view(a, labels), "raw": a,
              "cells": [{"raw": b, "count": p.count(a, b), "focused": cell == (a, b)} for b in p.column_values]}
             for a in p.row_values]
    def term(value):
        return Literal("not known") if value == kc.NOT_KNOWN else URIRef(value)

    chart = charts.render({"kind": "heatmap", "x": "column", "y": "count", "series": "row"}, ["row", "column", "count"],
                          [(term(a), term(b), Literal(len(units))) for (a, b), units in sorted(p.cells.items())],
                          labels, title=f"{measure.capitalize()} by {kc.DIMENSIONS[rows].lower()} and {kc.DIMENSIONS[columns].lower()}")
    return render_template(
        "pivot.html", pivot=p, chart=chart, table=table, columns=[_value_view(b, labels) for b in p.column_values],
        dimensions=kc.DIMENSIONS, measures=kc.MEASURES, levels=kc.CONFIDENCE_LEVELS, bases=kc.BASES,
        rows=rows, columns_name=columns, measure=measure, minimum=filters.minimum or "unverified", basis=filters.basis,
        datasets=kg().comparison.datasets.datasets, dataset=filters.dataset or "",
        opened=[_unit_view(u, (rows, columns), cell, labels) for u in opened],
        opened_row=_value_view(cell[0], labels) if opened else None,
        opened_column=_value_view(cell[1], labels) if opened else None,
        asked=cell if all(cell) and not opened else None,
        heat=max((len(u) for u in p.cells.values()), default=0),
    )


@bp.get("/compare/side-by-side")
@bp.get("/compare/side-by-side.<any(json, csv, xlsx):extension>")
def side_by_side(extension: str | None = None):
    index = kg().comparison
    chosen = request.args.getlist("j")
    known = index.jurisdictions()
    base = kg().settings.base_iri
    iris = [j if j.startswith(("http://", "https://")) else f"{base}jurisdiction/{j}" for j in chosen]
    for j, iri in zip(chosen, iris):
        if iri not in known:
            raise QueryParameterError(f"j={j!r} is not a jurisdiction with partnership forms; use the ids of /jurisdictions.")
    forms = request.args.getlist("form")
    table = index.side_by_side(iris, _filters(), forms) if iris else {}
    if _json_wanted():
        return jsonify({"ok": True, **_provenance(), "jurisdictions": iris, "basis": request.args.get("basis") or "all",
                        "confidence": request.args.get("confidence") or "unverified",
                        "dimensions": {d: {j: [{"form": str(f), "value": v, "claim": str(e.claim), "confidence": e.confidence,
                                                "basis": "derived" if e.derived else "stated"} for f, v, e in cells]
                                           for j, cells in row.items()} for d, row in table.items()}})
    if extension in ("csv", "xlsx"):
        names = labels_for([*iris, *(t for row in table.values() for cells in row.values() for f, v, e in cells for t in (f, v))])
        rows = [(kc.DIMENSIONS[d], names.get(str(j)) or str(j), names.get(str(f)) or str(f), names.get(str(v)) or str(v),
                 "derived" if e.derived else "stated", e.confidence, str(e.claim))
                for d, row in table.items() for j in iris for f, v, e in sorted(row[j], key=lambda c: (str(c[0]), str(c[1])))]
        return _download("Jurisdictions side by side on the comparison dimensions",
                         ["dimension", "jurisdiction", "form", "value", "basis", "confidence", "claim"], rows,
                         [f"jurisdictions: {', '.join(names.get(j) or j for j in iris)}",
                          "a dimension with no row for a jurisdiction is not known there"], extension)
    names = labels_for([*known, *index.forms_of(iris),
                        *(t for row in table.values() for cells in row.values() for f, v, e in cells for t in (f, v))])
    rows = []
    for dimension, row in table.items():
        rows.append({"title": kc.DIMENSIONS[dimension], "dimension": dimension,
                     "cells": [_grouped(row[j], j, dimension, names) for j in iris]})
    return render_template("side_by_side.html", rows=rows, chosen=[term_view(j, names) for j in iris],
                           chosen_raw=iris, all_jurisdictions=[term_view(j, names) for j in known],
                           forms=[term_view(f, names) for f in index.forms_of(iris)], chosen_forms=set(forms),
                           basis=request.args.get("basis") or "all", levels=kc.CONFIDENCE_LEVELS,
                           minimum=request.args.get("confidence") or "unverified")


def _grouped(cells, jurisdiction: str, dimension: str, labels) -> list[dict]:
    """One entry per value: its forms, its claims (the first linked, all counted), its best confidence,
    and whether any source states it; the count links to the pivot cell that lists every claim."""
    by_value: dict[str, dict] = {}
    for form, value, e in sorted(cells, key=lambda c: (str(c[1]), str(c[0]), str(c[2].claim))):
        entry = by_value.setdefault(value, {"value": term_view(value, labels), "forms": {}, "claims": [],
                                            "confidence": None, "stated": False})
        entry["forms"].setdefault(str(form), term_view(form, labels))
        entry["claims"].append(e.claim)
        entry["stated"] = entry["stated"] or not e.derived
        if e.confidence and (entry["confidence"] is None or
                             kc.CONFIDENCE_LEVELS.index(e.confidence) < kc.CONFIDENCE_LEVELS.index(entry["confidence"])):
            entry["confidence"] = e.confidence
    out = []
    for value, entry in by_value.items():
        out.append({**entry, "forms": list(entry["forms"].values())[:6], "more_forms": max(0, len(entry["forms"]) - 6),
                    "claim": term_view(entry["claims"][0], labels), "count": len(entry["claims"]),
                    "cell": url_for("compare.pivot", rows="jurisdiction", columns=dimension, measure="forms",
                                    row=jurisdiction, column=value, _anchor="opened")})
    return out


@bp.get("/evidence")
@bp.get("/evidence.<any(json, csv, xlsx):extension>")
def evidence(extension: str | None = None):
    rows = _arg("rows", "form", GAP_ROWS)
    index = kg().comparison
    base = kg().settings.base_iri
    only = {"jurisdiction": [_iri(j, f"{base}jurisdiction/", index.jurisdictions(), "jurisdiction")
                             for j in request.args.getlist("jurisdiction") if j],
            "study-design": [_concept("study-design", d, "design") for d in request.args.getlist("design") if d],
            "evaluator": [_concept("evaluator", e, "evaluator") for e in request.args.getlist("evaluator") if e]}
    filters = _filters(**only)
    p = index.pivot(rows, "outcome", "findings", filters)
    # every outcome and every row value, found or not: an empty cell is a gap to see
    outcomes = sorted(str(i) for i in kg().vocabulary.concepts.get("outcome-measure", {}).values())
    if rows == "form":
        places = set(only["jurisdiction"]) or set(index.jurisdictions())
        everything = [str(f) for f, j in index.forms.items() if str(j) in places]
    else:
        everything = [str(i) for i in kg().vocabulary.concepts.get(rows, {}).values()]
    row_values = kc.ordered_values(set(everything) | set(p.row_values))
    strength = _design_strength()
    directions = [str(iri) for slug, iri in sorted(kg().vocabulary.concepts.get("direction", {}).items(),
                                                   key=lambda kv: DIRECTION_ORDER.index(kv[0]) if kv[0] in DIRECTION_ORDER else 99)]
    by_iri = {str(f.finding): f for f in index.findings}
    grid = {}
    for a in row_values:
        for b in outcomes:
            units = p.units(a, b)
            if not units:
                continue
            findings = [by_iri[str(u.iri)] for u in units]
            designs = {str(f.design) for f in findings if f.design is not None}
            grid[(a, b)] = {"findings": len(units), "evaluations": len({f.evaluation for f in findings}),
                            "directions": Counter(str(f.direction) for f in findings),
                            "best": min((strength.get(d, 9) for d in designs), default=None)}
    cell = (request.args.get("row"), request.args.get("column"))
    opened = [by_iri[str(u.iri)] for u in p.units(*cell)] if all(cell) else []
    if _json_wanted():
        return jsonify({"ok": True, **_provenance(), "rows": rows, "filters": {k: v for k, v in only.items() if v},
                        "confidence": filters.minimum or "unverified", "row_values": row_values, "outcomes": outcomes,
                        "cells": [{"row": a, "outcome": b, "findings": g["findings"], "evaluations": g["evaluations"],
                                   "directions": dict(g["directions"]), "strongest_design_rank": g["best"]}
                                  for (a, b), g in grid.items()]})
    if extension in ("csv", "xlsx"):
        names = labels_for([*row_values, *outcomes, *directions])
        rows_out = [(_label(a, names), _label(b, names), g["evaluations"], g["findings"],
                     *(g["directions"].get(d, 0) for d in directions), g["best"])
                    for (a, b), g in sorted(grid.items())]
        return _download("Evidence gap map: findings by " + kc.DIMENSIONS[rows].lower() + " and outcome",
                         [kc.DIMENSIONS[rows], "outcome", "evaluations", "findings",
                          *(f"findings {_label(d, names).lower()}" for d in directions), "strongest design rank"],
                         rows_out, ["cells with no finding are gaps and are not listed",
                                    f"minimum confidence: {filters.minimum or 'unverified'}",
                                    *(f"{k}: {', '.join(v)}" for k, v in only.items() if v)], extension)
    labels = labels_for([*row_values, *outcomes, *directions, *index.jurisdictions(),
                         *(t for f in opened for t in (f.finding, f.evaluation, f.design, f.evaluator, f.source) if t is not None)])
    opened_view = [{"finding": term_view(f.finding, labels), "evaluation": term_view(f.evaluation, labels),
                    "direction": term_view(f.direction, labels), "design": term_view(f.design, labels) if f.design else None,
                    "evaluator": term_view(f.evaluator, labels) if f.evaluator else None, "confidence": f.confidence,
                    "source": term_view(f.source, labels) if f.source else None}
                   for f in sorted(opened, key=lambda f: (str(f.evaluation), str(f.finding)))]
    return render_template(
        "evidence.html", rows=rows, gap_rows=GAP_ROWS, dimensions=kc.DIMENSIONS,
        row_values=[(a, _value_view(a, labels)) for a in row_values], outcomes=[(b, _value_view(b, labels)) for b in outcomes],
        grid=grid, directions=[(d, term_view(d, labels)) for d in directions], opened=opened_view,
        opened_row=_value_view(cell[0], labels) if opened else None,
        opened_column=_value_view(cell[1], labels) if opened else None,
        cell=cell, levels=kc.CONFIDENCE_LEVELS, minimum=filters.minimum or "unverified",
        jurisdictions=[term_view(j, labels) for j in index.jurisdictions()],
        chosen={k: set(v) for k, v in only.items()}, designs=_concepts("study-design"), evaluators=_concepts("evaluator"),
        query_string=request.query_string.decode("utf-8", "replace"),
    )


DIRECTION_ORDER = ("improved", "mixed", "no-change", "unclear", "worsened", "not-reported")


def _iri(value: str, prefix: str, known, parameter: str) -> str:
    iri = value if value.startswith(("http://", "https://")) else prefix + value
    if iri not in known:
        raise QueryParameterError(f"{parameter}={value!r} is not known here; use an id from /jurisdictions.")
    return iri


def _concept(scheme: str, value: str, parameter: str) -> str:
    concepts = kg().vocabulary.concepts.get(scheme, {})
    if value in concepts:
        return str(concepts[value])
    if value in {str(i) for i in concepts.values()}:
        return value
    raise QueryParameterError(f"{parameter}={value!r} is not in the {scheme} scheme; use one of {', '.join(sorted(concepts))}.")


@bp.get("/jurisdictions")
@bp.get("/jurisdictions.json")
def jurisdictions():
    index = kg().comparison
    counts: dict[str, Counter] = {}
    for form, j in index.forms.items():
        counts.setdefault(str(j), Counter())["forms"] += 1
    for p, (form, j) in index.partnerships.items():
        counts.setdefault(str(j), Counter())["partnerships"] += 1
    evaluations: dict[str, set] = {}
    for f in index.findings:
        if f.jurisdiction is not None:
            evaluations.setdefault(str(f.jurisdiction), set()).add(f.evaluation)
    labels = labels_for(list(counts))
    rows = sorted(({"jurisdiction": term_view(j, labels), "forms": c["forms"], "partnerships": c["partnerships"],
                    "evaluations": len(evaluations.get(j, ()))} for j, c in counts.items()),
                  key=lambda r: r["jurisdiction"].text)
    if _json_wanted():
        return jsonify({"ok": True, "jurisdictions": [{"iri": r["jurisdiction"].value, "label": r["jurisdiction"].text,
                                                       "forms": r["forms"], "partnerships": r["partnerships"],
                                                       "evaluations": r["evaluations"]} for r in rows]})
    return render_template("jurisdictions.html", rows=rows)


def _concepts(scheme: str) -> list:
    vocabulary = kg().vocabulary
    concepts = vocabulary.concepts.get(scheme, {})
    labels = labels_for(list(concepts.values()))
    return [(slug, term_view(iri, labels)) for slug, iri in sorted(concepts.items())]


def _design_strength() -> dict[str, int]:
    vocabulary = kg().vocabulary
    rank = URIRef("https://w3id.org/hscp/def#designStrength")
    return {str(iri): int(vocabulary.schemes.value(iri, rank)) for iri in vocabulary.concepts.get("study-design", {}).values()
            if vocabulary.schemes.value(iri, rank) is not None}


@bp.get("/jurisdictions/<slug>.<any(json, csv, xlsx):extension>")
def profile_download(slug: str, extension: str):
    """A country profile as one table of facts: section, subject, what, value, basis, confidence, claim."""
    from kg.profile import profile

    index = kg().comparison
    iri = kg().settings.base_iri + "jurisdiction/" + slug
    if iri not in index.jurisdictions():
        raise QueryParameterError(f"{slug!r} is not a jurisdiction with partnership forms; use an id from /jurisdictions.")
    found = profile(kg().store, kg().catalogue, index, iri, _filters())
    names = labels_for(list(found.iris()))
    name = lambda t: None if t is None else names.get(str(t)) or str(t)  # noqa: E731
    rows = [("context", name(found.jurisdiction), name(r["topic"]), str(r["statement"]), "stated", str(r["confidence"]).lower(), str(r["fact"]))
            for r in found.context]
    rows += [("placement", name(form), kc.DIMENSIONS[d], name(v), "derived" if e.derived else "stated", e.confidence, str(e.claim))
             for form, dims in found.forms.items() for d, values in dims.items() for v, e in values]
    rows += [("partnership", name(p), "form", name(f), None, None, str(p)) for p, f in found.partnerships]
    rows += [("finding", name(r["evaluation"]), name(URIRef(outcome)), name(r["direction"]), None, r["confidence"], str(r["finding"]))
             for outcome, findings in found.findings.items() for r in findings]
    rows += [("event", name(found.jurisdiction), str(r.get("year") or ""), str(r["label"]), None, str(r["confidence"]).lower(), str(r["event"]))
             for r in found.timeline.bindings()]
    rows += [(str(r["kind"]), name(r["subject"]), "statement", str(r["statement"]), None, str(r["confidence"]).lower(), str(r["claim"]))
             for r in found.statements]
    rows += [("conflict", entry["label"], "claim", str(claim), None, conf.lower(), str(conflict))
             for conflict, entry in found.conflicts.items() for claim, conf, _ in entry["claims"]]
    columns = ["section", "subject", "what", "value", "basis", "confidence", "claim"]
    title = f"Country profile: {name(found.jurisdiction)}"
    if extension == "json":
        table = tables.Table(title=title, columns=tuple(columns), rows=tuple(rows), url=kg().request_url(),
                             citation=_citation(), licence=LICENCE)
        return jsonify(tables.to_json(table))
    return _download(title, columns, rows, ["every row names the claim (or resource) it rests on; open it for its sources"],
                     extension)
