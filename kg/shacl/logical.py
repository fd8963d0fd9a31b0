"""Logical constraints: ``sh:or`` of nested shapes made of value checks."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph
from rdflib.collection import Collection
from rdflib.namespace import SH

from .base import Constraint, ValueConstraint
from .shape_based import ValueShape, compile_value_shape
from .view import UnionView

PARAMETERS = frozenset({SH["or"]})


@dataclass(frozen=True)
class Or(ValueConstraint):
    members: tuple[ValueShape, ...]

    def conforms(self, view: UnionView, value) -> bool:
        return any(m.conforms(view, value) for m in self.members)


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    out: list[Constraint] = []
    for members in shapes.objects(node, SH["or"]):
        compiled = [compile_value_shape(shapes, m) for m in Collection(shapes, members)]
        if not compiled or any(c is None for c in compiled):
            return None
        out.append(Or(tuple(compiled)))
    return out
