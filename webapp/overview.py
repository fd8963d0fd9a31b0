"""/ (an overview with counts and entry points) and /health (is the store answering?)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from rdflib import URIRef

from kg.errors import KGError
from kg.namespaces import HSCP

from .context import kg
from .rendering import labels_for, term_view

bp = Blueprint("overview", __name__)
HEADLINE_CLASSES = ("Partnership", "PartnershipForm", "Jurisdiction", "Claim", "OutcomeEvidence", "Evaluation")


@bp.get("/")
def home():
    stats = kg().stats()
    classes = stats["classes"]
    headline = [(URIRef(HSCP[name]), classes.get(str(HSCP[name]), 0)) for name in HEADLINE_CLASSES]
    labels = labels_for(c for c, _ in headline)
    return render_template("index.html", stats=stats, headline=[(term_view(c, labels), n) for c, n in headline],
                           queries=list(kg().catalogue)[:8], query_count=len(kg().catalogue))


@bp.get("/health")
def health():
    """200 when the store answers a trivial query, 503 otherwise (for load balancers), with the
    store's own state: its workers in service and in reserve, and its in-process copy."""
    store = kg().store
    try:
        ok = store.query("ASK { }", timeout=5).boolean
    except KGError as error:
        response = jsonify({"ok": False, "error": str(error), "status": 503, "backend": store.backend})
        response.status_code = 503
        return response
    return jsonify({"ok": bool(ok), "status": 200, "backend": store.backend, **store.status()})
