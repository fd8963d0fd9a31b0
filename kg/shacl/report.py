"""What validation returns: one :class:`Violation` per result, in a :class:`ValidationReport`.

Both engines produce :class:`Result` tuples of rdflib terms; :func:`to_violation` turns one
into text, the same text whichever engine found it, so their results can be compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from rdflib import BNode, Graph, Literal

from ..provenance import Origin
from .paths import path_str


@dataclass(frozen=True)
class Violation:
    """One SHACL validation result.

    ``focus`` is the resource's IRI (``_:id`` for a blank node), ``path`` the property's IRI
    (``^IRI`` for an inverse path, None for a node constraint), ``value`` the offending value
    (IRI or literal text) or None when the problem is a missing or extra value, ``severity``
    ``Violation``, ``Warning`` or ``Info``, ``shape`` the source shape, ``origin`` the case
    file row the resource came from, when known.
    """

    focus: str
    path: str | None
    value: str | None
    message: str
    severity: str
    shape: str
    origin: Origin | None = None

    def __str__(self) -> str:
        where = self.origin.describe() if self.origin is not None else self.focus
        return f"{where}: {self.message}"

    def key(self) -> tuple:
        """What identifies the result, whatever engine found it (used to compare engines)."""
        return (self.focus, self.path, self.value, self.message, self.severity, self.shape)


@dataclass
class ValidationReport:
    """The outcome of :func:`kg.shacl.validate`; ``text`` has one line per violation.

    ``engines`` counts the top-level shapes each engine evaluated: ``core`` (this package's
    evaluator) and ``pyshacl``.
    """

    conforms: bool
    violations: list[Violation]
    text: str
    elapsed: float = 0.0
    engines: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "conforms": self.conforms,
            "violations": [
                {**{k: v for k, v in asdict(v).items() if k != "origin"},
                 "origin": None if v.origin is None else asdict(v.origin)}
                for v in self.violations
            ],
            "elapsed": round(self.elapsed, 3),
            "engines": dict(self.engines),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


class Result(NamedTuple):
    """One result as an engine finds it, in rdflib terms. ``path`` is text where the engine
    rendered it (a complex path's blank nodes belong to the graph it was read from), or the
    node a SPARQL constraint bound ``?path`` to."""

    focus: Any
    path: Any
    value: Any
    messages: list
    severity: Any
    shape: Any


def node_str(node) -> str:
    """A node as text: the IRI or literal text, ``_:id`` for a blank node."""
    return f"_:{node}" if isinstance(node, BNode) else str(node)


def to_violation(result: Result, shapes: Graph, origins: Mapping[str, Origin]) -> Violation:
    """The :class:`Violation` for one result, with the case-file row of its focus node."""
    focus = node_str(result.focus)
    return Violation(
        focus=focus,
        path=path_str(shapes, result.path),
        value=None if result.value is None else str(result.value),
        message=_message(result.messages),
        severity=str(result.severity).rpartition("#")[2],
        shape=node_str(result.shape),
        origin=origins.get(focus),
    )


def _message(messages: Iterable[Literal]) -> str:
    """One message: the English (or untagged) ones, joined; any language if there is none."""
    messages = list(messages)
    chosen = [m for m in messages if getattr(m, "language", None) in (None, "en")] or messages
    return " ".join(sorted(str(m) for m in chosen))


def sort_key(v: Violation) -> tuple:
    """Violations in case-file order (file, row), then those of resources without a row."""
    o = v.origin
    return (o is None, o.path if o else "", o.row if o else 0, v.focus, v.path or "", v.message, v.value or "")


def text(violations: list[Violation]) -> str:
    """The report's text: a count, then one line per violation."""
    if not violations:
        return "The data conforms to the SHACL shapes."
    count = len(violations)
    head = f"{count} SHACL violation{'s' if count != 1 else ''}:"
    return "\n".join([head, *(f"  {v}" for v in violations)])
