"""Other constraints: ``sh:in`` and ``sh:hasValue``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph
from rdflib.collection import Collection
from rdflib.namespace import SH

from .base import Constraint, ValueConstraint
from .view import UnionView

PARAMETERS = frozenset({SH["in"], SH.hasValue})


@dataclass(frozen=True)
class In(ValueConstraint):
    values: frozenset

    def conforms(self, view: UnionView, value) -> bool:
        return value in self.values


@dataclass(frozen=True)
class HasValue(ValueConstraint):
    """``sh:hasValue``: one result per focus node whose values lack it; in a nested shape,
    the node itself must be it."""

    value: object

    def conforms(self, view: UnionView, value) -> bool:
        return value == self.value

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        if self.value not in values:
            yield None


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    out: list[Constraint] = [In(frozenset(Collection(shapes, members))) for members in shapes.objects(node, SH["in"])]
    out.extend(HasValue(v) for v in shapes.objects(node, SH.hasValue))
    return out
