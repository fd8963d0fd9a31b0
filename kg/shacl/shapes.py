"""The shapes the core evaluator runs: a node shape's property shapes and SPARQL constraints
over the focus nodes of its targets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rdflib import URIRef

from .base import Constraint
from .report import Result
from .sparql import SparqlConstraint
from .targets import Target
from .view import UnionView


@dataclass
class CoreProperty:
    """A property shape on a predicate path (or inverse, or alternatives of those) and its
    constraints; every result carries the shape's own ``sh:message``."""

    node: object
    path: str
    alternatives: list[tuple[URIRef, bool]]
    messages: list
    severity: URIRef
    constraints: list[Constraint]

    def evaluate(self, view: UnionView, focus_nodes: Iterable) -> Iterable[Result]:
        indexes = [view.by_object(p) if inverse else view.by_subject(p) for p, inverse in self.alternatives]
        for f in focus_nodes:
            if len(indexes) == 1:
                values = indexes[0].get(f, ())
            else:
                values = set()
                for index in indexes:
                    values.update(index.get(f, ()))
            for constraint in self.constraints:
                for value in constraint.results(view, f, values):
                    yield Result(f, self.path, value, self.messages, self.severity, self.node)


@dataclass
class CoreShape:
    """A top-level shape: its targets, property shapes and SPARQL constraints."""

    node: object
    target: Target
    properties: list[CoreProperty]
    sparql: list[SparqlConstraint] = field(default_factory=list)

    def evaluate(self, view: UnionView) -> Iterable[Result]:
        focus = self.target.focus_nodes(view)
        if not focus:
            return
        focus = sorted(focus, key=str)
        for prop in self.properties:
            yield from prop.evaluate(view, focus)
        for constraint in self.sparql:
            yield from constraint.evaluate(view, self.node, focus)
