"""SPARQL text as tokens: one linear scan that tells strings, IRIs and comments from code.

Several places read a query's text without parsing it: the term count that decides how (and
whether) a query is parsed, the key that recognises a query whatever its layout, the SHACL
batcher that finds the groups of a constraint where ``VALUES $this`` goes, and the remote
store that finds the outermost group of a query to bind parameters in. Each needs to know
where strings, IRIs and comments are, so that a brace, a ``#`` or a keyword inside one is not
taken for code; one tokenizer answers that for all of them.

A token's ``kind`` is one of:

``string``
    a literal's quoted text, ``"…"``, ``'…'``, ``\"\"\"…\"\"\"`` or ``'''…'''`` (without its
    language tag or datatype, which follow as tokens of their own);
``iri``
    ``<…>`` (:data:`kg.iri.IRIREF`); a ``<`` that opens no IRI is the less-than operator;
``comment``
    ``#`` to the end of the line;
``brace``
    ``{`` or ``}``;
``var``
    ``?name`` or ``$name``;
``word``
    a keyword, a prefixed name (``ex:a``, ``:a``, ``ex:``), a blank node label (``_:b``),
    ``a``, ``true``; never ending with ``.``, which ends a triple;
``number``
    ``1``, ``1.5``, ``.5``, ``1e3``;
``other``
    punctuation and operators: ``(`` ``)`` ``.`` ``;`` ``,`` ``[`` ``]`` ``*`` ``/`` ``^^``
    ``&&`` ``||`` ``!=`` ``<=`` ``>=``, one character of anything else.

Whitespace separates tokens and is no token. The scan never goes back: a string left open
runs to the end of its line (a long string, to the end of the text), so text that is not
valid SPARQL still costs time in proportion to its length.

>>> [(t.kind, t.text) for t in tokens('SELECT ?s { ?s <urn:p> "{" } # }')]
... # doctest: +NORMALIZE_WHITESPACE
[('word', 'SELECT'), ('var', '?s'), ('brace', '{'), ('var', '?s'), ('iri', '<urn:p>'),
 ('string', '"{"'), ('brace', '}'), ('comment', '# }')]
>>> normalised("SELECT ?s  # which\\nWHERE {?s a ex:C.}")
'SELECT ?s WHERE { ?s a ex:C . }'
>>> count_terms("SELECT ?s  # which\\nWHERE {?s a ex:C.}")
9
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from .iri import IRIREF

__all__ = ["Token", "count_terms", "iri_template", "normalised", "tokens"]

# Characters of a name after its first (PN_CHARS, roughly): letters, digits, '_', '-', '·'.
_NAME = r"[\w\-\u00b7]"
# A prefix or a plain word: a letter or '_' first, dots only between name characters.
_PREFIX = rf"[^\W\d]{_NAME}*(?:\.+{_NAME}+)*"
# A character of a local name: name characters, ':', '%' (of %HH) or a backslash escape.
_LOCAL_CHAR = rf"(?:{_NAME}|[:%]|\\[_~.\-!$&'()*+,;=/?#@%])"
_LOCAL = rf"{_LOCAL_CHAR}*(?:\.+{_LOCAL_CHAR}+)*"

_TOKEN = re.compile(
    rf'''
      (?P<string>"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""|\Z)
               |\'\'\'(?:[^'\\]|\\[\s\S]|'(?!''))*(?:\'\'\'|\Z)
               |"(?:[^"\\\n]|\\.)*["\\]?
               |'(?:[^'\\\n]|\\.)*['\\]?)
    | (?P<iri>{IRIREF.pattern})
    | (?P<comment>\#[^\n]*)
    | (?P<brace>[{{}}])
    | (?P<var>[?$][\w\u00b7\u0300-\u036f\u203f\u2040]+)
    | (?P<word>{_PREFIX}(?::{_LOCAL})?|:{_LOCAL})
    | (?P<number>\d+(?:\.\d*)?[eE][+-]?\d+|\d*\.\d+(?:[eE][+-]?\d+)?|\d+)
    | (?P<other>&&|\|\||!=|<=|>=|\^\^|\S)
    ''',
    re.X,
)


class Token(NamedTuple):
    """One token: its kind (see the module's docstring), its text and its offsets in the query."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def keyword(self) -> str:
        """The word upper-cased (``"WHERE"``), or ``""`` for any other kind of token."""
        return self.text.upper() if self.kind == "word" else ""


def tokens(text: str, *, comments: bool = True) -> Iterator[Token]:
    """The tokens of ``text`` in order; ``comments=False`` leaves the comments out."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if comments or kind != "comment":
            yield Token(kind, match.group(), match.start(), match.end())


def count_terms(text: str) -> int:
    """How many terms (names, IRIs, literals, variables, punctuation) the query holds, comments aside."""
    return sum(1 for match in _TOKEN.finditer(text) if match.lastgroup != "comment")


def normalised(text: str) -> str:
    """The query's terms joined by single spaces: comments and layout do not make it another query."""
    return " ".join(match.group() for match in _TOKEN.finditer(text) if match.lastgroup != "comment")


CONSTANT = "urn:x-kg-constant:"
"""The IRIs :func:`iri_template` writes in place of a query's own: ``<urn:x-kg-constant:0>``, …"""
# After these, an IRI names a prefix, the base, a graph of the dataset or a service: what the
# query means depends on it, so it stays in the template.
_KEEP_AFTER = {"BASE", "FROM", "NAMED", "SERVICE"}


def iri_template(text: str) -> tuple[str, tuple[str, ...]]:
    """The query with each IRI it looks for replaced by a numbered placeholder, and those IRIs.

    Two lookups that differ only in the resource they look up share a template, so the web
    process parses and checks that shape once (:func:`kg.sparql.parse_bounded`). IRIs of
    ``PREFIX``, ``BASE``, ``FROM``, ``FROM NAMED`` and ``SERVICE`` stay as written.

    >>> iri_template("PREFIX ex: <urn:ex#> SELECT * { <urn:a> ex:p ?o FILTER(?o != <urn:b>) }")
    ('PREFIX ex: <urn:ex#> SELECT * { <urn:x-kg-constant:0> ex:p ?o FILTER(?o != <urn:x-kg-constant:1>) }', ('urn:a', 'urn:b'))
    """
    pieces: list[str] = []
    found: list[str] = []
    start = 0
    before: list[Token] = []  # the last two tokens that are not comments
    for token in tokens(text, comments=False):
        if token.kind == "iri":
            keep = (before and before[-1].keyword in _KEEP_AFTER) or (
                len(before) == 2 and before[0].keyword == "PREFIX")
            if not keep:
                pieces.append(text[start:token.start])
                pieces.append(f"<{CONSTANT}{len(found)}>")
                found.append(token.text[1:-1])
                start = token.end
        before = (before + [token])[-2:]
    if not found:
        return text, ()
    pieces.append(text[start:])
    return "".join(pieces), tuple(found)
