"""How RDF terms look in HTML: a label, a link to this server, a language or datatype.

Views turn rdflib terms into :class:`Term` views with :func:`term_views` (one ``labels()``
batch per page) and templates render them with the ``term`` macro; Jinja's autoescaping
does the rest, so no literal reaches a page unescaped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from flask import Flask
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from kg.namespaces import curie  # noqa: F401 - the templates and views take it from here

from .context import VENDOR_DIR, kg

@dataclasses.dataclass(frozen=True)
class Term:
    kind: str  # iri | literal | bnode | none
    value: str
    href: str | None = None
    label: str | None = None
    lang: str | None = None
    datatype: str | None = None  # a CURIE, only for typed literals other than xsd:string

    @property
    def text(self) -> str:
        if self.label:
            return self.label
        if self.kind != "iri":
            return self.value
        if self.href and self.href.startswith("/id/"):
            return self.href[4:]  # kind/slug reads better than the whole IRI
        return curie(self.value)

    @property
    def local(self) -> bool:
        return bool(self.href) and self.href.startswith("/")


def iris_in(terms: Iterable) -> set[str]:
    return {str(t) for t in terms if isinstance(t, URIRef)}


def term_view(term, labels: dict[str, str]) -> Term:
    if term is None:
        return Term("none", "")
    if isinstance(term, URIRef):
        iri = str(term)
        return Term("iri", iri, href=kg().local_href(iri), label=labels.get(iri))
    if isinstance(term, BNode):
        return Term("bnode", f"_:{term}")
    if isinstance(term, Literal):
        datatype = None
        if term.datatype is not None and term.datatype != XSD.string:
            datatype = curie(term.datatype)
        return Term("literal", str(term), lang=term.language, datatype=datatype)
    return Term("literal", str(term))


def labels_for(terms: Iterable) -> dict[str, str]:
    """Labels for every IRI among ``terms``, fetched in one batch."""
    iris = iris_in(terms)
    return kg().store.labels(iris) if iris else {}


def visible_columns(variables: list[str], rows: list[tuple]) -> list[int]:
    """Indexes of the columns worth showing in HTML.

    A ``?xLabel`` column beside an ``?x`` column of IRIs says again what the linked IRI
    already shows (IRIs are rendered with their labels), so the page leaves it out; the
    downloads keep every column.
    """
    position = {name: i for i, name in enumerate(variables)}

    def all_iris(i: int) -> bool:
        cells = [row[i] for row in rows if row[i] is not None]
        return bool(cells) and all(isinstance(c, URIRef) for c in cells)

    hidden = {position[f"{name}Label"] for name in variables
              if f"{name}Label" in position and all_iris(position[name])}
    return [i for i in range(len(variables)) if i not in hidden]


def table_view(rows: list[tuple], labels: dict[str, str] | None = None,
               keep: list[int] | None = None) -> list[list[Term]]:
    """A SELECT result as rows of Term views (only the ``keep`` columns, when given).

    The labels come in one labels() call for the whole table unless the caller has them.
    """
    if labels is None:
        labels = labels_for(t for row in rows for t in row)
    if keep is None:
        return [[term_view(t, labels) for t in row] for row in rows]
    return [[term_view(row[i], labels) for i in keep] for row in rows]


def init_app(app: Flask) -> None:
    @app.context_processor
    def globals_():
        return {
            "curie": curie,
            "local_href": lambda iri: kg().local_href(iri),
            "editor_assets": (VENDOR_DIR / "yasgui.min.js").is_file(),
            "base_iri": kg().settings.base_iri,
            "canonical_url": kg().request_url(canonical=True),
        }

    @app.after_request
    def security_headers(response):
        # Everything a page needs is served from here: no external requests at all.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; font-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
