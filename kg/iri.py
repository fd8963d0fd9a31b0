"""IRIs: when a text is one, and where one is written in SPARQL text.

SPARQL and Turtle write an IRI as ``<…>`` (their IRIREF): it holds none of ``<>"{}|^`\\``
and no character from U+0000 to the space. DEL (U+007F) is excluded too: RFC 3987 allows it
nowhere in an IRI, and pyoxigraph refuses it both as a term and in query text, so an IRI
that passed here and failed in the store would be a late, confusing error. One set serves
every check, so a value accepted as a query parameter, as a case-file URL or as a SHACL
focus node can always be written back as ``<…>``.

>>> is_valid_iri("https://w3id.org/hscp/id/partnership/torbay")
True
>>> is_valid_iri("relative/path"), is_valid_iri("https://x.org/a b"), is_valid_iri("https://x.org/{a}")
(False, False, False)
>>> IRIREF.match("<urn:p> ?o").group()
'<urn:p>'
>>> IRIREF.match("< ?o") is None  # the less-than operator, not an IRI
True
"""

from __future__ import annotations

import re

__all__ = ["FORBIDDEN", "IRIREF", "SCHEME", "has_scheme", "is_valid_iri"]

_FORBIDDEN_CLASS = r'<>"{}|^`\\\x00-\x20\x7f'

FORBIDDEN = re.compile(f"[{_FORBIDDEN_CLASS}]")
"""One character an IRI may not hold: ``FORBIDDEN.search(text)`` finds the first."""
IRIREF = re.compile(f"<[^{_FORBIDDEN_CLASS}]*>")
"""An IRI written in SPARQL or Turtle text: ``<``, the IRI, ``>``."""
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
"""The scheme that opens an absolute IRI (``https:``, ``urn:``)."""


def has_scheme(text: str) -> bool:
    """Whether ``text`` opens with a scheme, as an absolute IRI does (a relative one does not)."""
    return SCHEME.match(text) is not None


def is_valid_iri(text: str) -> bool:
    """Whether ``text`` is an absolute IRI that can be written as ``<text>`` in SPARQL or Turtle.

    The check is lexical; a store may still refuse a malformed percent-escape or a code point
    RFC 3987 excludes, which callers that must be sure ask the store about.
    """
    return has_scheme(text) and FORBIDDEN.search(text) is None
