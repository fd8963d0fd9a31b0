"""/compare: jurisdictions against a chosen dimension, every cell linking to its evidence.

The matrix and its queries belong to ``kg.compare``; this view only picks the dimension
and the minimum confidence from the request and renders the result (HTML or JSON).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from kg import compare as kg_compare

from . import kg, negotiation
from .rendering import labels_for, term_view

bp = Blueprint("compare", __name__)


@bp.get("/compare")
@bp.get("/compare.json")
def matrix():
    name = request.args.get("dimension") or "form"
    minimum = request.args.get("confidence") or None
    m = kg_compare.matrix(kg().store, name, minimum)  # a bad dimension or level -> 400
    chosen = negotiation.API_JSON if request.path.endswith(".json") else negotiation.choose(
        request.accept_mimetypes, ("html", "json"), requested=request.args.get("format"), default=negotiation.HTML)
    if chosen.kind == "json":
        return jsonify({
            "ok": True, "dimension": name, "confidence": m.minimum,
            "jurisdictions": [str(j) for j in m.jurisdictions], "values": [str(v) for v in m.values],
            "cells": [{"jurisdiction": str(j), "value": str(v),
                       "entries": [{"subject": str(e.subject), "claim": e.claim and str(e.claim),
                                    "confidence": e.confidence} for e in entries]}
                      for (j, v), entries in sorted(m.cells.items())],
        })
    terms = [*m.jurisdictions, *m.values]
    for entries in m.cells.values():
        terms += [t for e in entries for t in (e.subject, e.claim) if t is not None]
    labels = labels_for(terms)
    focus = (request.args.get("jurisdiction"), request.args.get("value"))
    rows = []
    for j in m.jurisdictions:
        cells = []
        for v in m.values:
            entries = m.cell(j, v)
            cells.append({
                "count": len({e.subject for e in entries}),
                "entries": [{"subject": term_view(e.subject, labels),
                             "claim": term_view(e.claim, labels) if e.claim is not None else None,
                             "confidence": e.confidence} for e in entries],
                "focused": focus == (str(j), str(v)),
                "jurisdiction": str(j), "value": str(v),
            })
        rows.append({"jurisdiction": term_view(j, labels), "cells": cells})
    return render_template("compare.html", matrix=m, rows=rows, values=[term_view(v, labels) for v in m.values],
                           dimensions=kg_compare.DIMENSIONS.values(), levels=kg_compare.CONFIDENCE_LEVELS,
                           dimension=name, minimum=minimum or "unverified")
