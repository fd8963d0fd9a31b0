"""Parameters bound inline, for stores that cannot take bindings beside the query text.

A remote endpoint gets one query string: the bound values have to be written into it. They
are written from validated terms only, never from raw text, at one place (the start of the
outermost WHERE group) and the result is parsed again to check they landed there.

>>> from kg.sparql import parse
>>> print(bind_inline(parse("SELECT ?o WHERE { ?s ?p ?o }"), {"s": (0, "urn:a")}))
SELECT ?o WHERE { BIND(<urn:a> AS ?s)
 ?s ?p ?o }
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rdflib.plugins.sparql.parser import parseQuery

from .. import sparql as _sparql
from ..errors import QueryParameterError
from ..tokens import tokens
from .terms import _nt_from_cell


def _top_level_groups(text: str) -> list[tuple[int, int, str]]:
    """The ``{ … }`` groups at nesting depth 0 (outside any parentheses), in order.

    Each is ``(open, close, word)``: the offsets of its braces and the last keyword before
    the opening brace (e.g. ``WHERE``, ``CONSTRUCT``, ``VALUES``), upper-cased. Braces in
    strings, IRIs and comments are none: :func:`kg.tokens.tokens` tells them apart.

    >>> _top_level_groups('SELECT * WHERE { ?s ?p "}" } VALUES ?s { <urn:a> }')
    [(15, 27, 'WHERE'), (39, 49, 'VALUES')]
    """
    groups = []
    depth = parens = 0
    start = 0
    word = opening_word = ""
    for token in tokens(text, comments=False):
        if token.kind == "brace":
            if token.text == "{":
                if depth == 0 and parens == 0:
                    start, opening_word = token.start, word
                depth += 1
            else:
                depth -= 1
                if depth == 0 and parens == 0:
                    groups.append((start, token.start, opening_word))
        elif token.text == "(":
            parens += 1
        elif token.text == ")":
            parens -= 1
        elif depth == 0 and token.kind == "word" and ":" not in token.text:
            word = token.keyword
    return groups


def bind_inline(parsed, cells: Mapping[str, tuple]) -> str:
    """The query text with its bindings as ``BIND`` clauses opening its outermost WHERE group.

    Placed there, a binding is in scope for every pattern, FILTER and BIND of the query, as a
    substituted value is on the embedded stores (a trailing ``VALUES`` block joins after the
    WHERE clause, so a FILTER on a parameter would see it unbound; Virtuoso 7.2 even ignores
    a trailing block in some queries). ``BIND`` rather than a leading one-row ``VALUES``
    block, which means the same: Virtuoso 7.2 returns no rows for a leading ``VALUES`` that
    binds the end of a ``*`` property path. The terms are written from validated terms only
    (``_nt_from_cell``), never from raw text. The result is parsed again and checked to open
    with exactly those clauses; anything else is refused rather than sent.
    """
    names = list(cells)
    values = " ".join(f"BIND({_nt_from_cell(cells[name])} AS ?{name})" for name in names)
    text = parsed.text
    groups = _top_level_groups(text)
    short_construct = parsed.form == "construct" and bool(groups) and groups[0][2] == "WHERE"
    if parsed.form == "construct" and not short_construct:
        groups = groups[1:]  # the template
    if not groups:
        raise QueryParameterError("This query has no WHERE clause to bind parameters in.")
    opening, closing, _ = groups[0]
    if short_construct:
        # CONSTRUCT WHERE { T }: the short form takes no VALUES, so spell out its template.
        keyword = re.search(r"WHERE\s*$", text[:opening], re.IGNORECASE)
        if keyword is None:
            raise QueryParameterError("Cannot bind parameters in this CONSTRUCT WHERE query on a remote store.")
        template = text[opening + 1:closing]
        bound = f"{text[:keyword.start()]}{{{template}\n}} WHERE {{ {values}\n{template}\n}}{text[closing + 1:]}"
    else:
        bound = f"{text[:opening + 1]} {values}\n{text[opening + 1:]}"
    try:
        with _sparql.PARSER_LOCK:  # rdflib's SPARQL parser is not thread-safe
            tree = parseQuery(bound)
        where = tree[1].get("where")
        opened = [str(part["var"]) for part in where["part"][:len(names)] if getattr(part, "name", "") == "Bind"]
    except Exception:  # noqa: BLE001 - any failure means the insertion went wrong
        opened = None
    if opened != names:
        raise QueryParameterError(
            "Cannot bind parameters in this query on a remote store: the bindings could not be "
            "placed at the start of its WHERE clause."
        )
    return bound

