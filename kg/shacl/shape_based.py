"""Shape-based constraints: ``sh:qualifiedValueShape``, and the nested shapes it and ``sh:or``
name, when they hold only value checks (``sh:class``, ``sh:datatype``, ``sh:nodeKind``,
``sh:in``, ``sh:hasValue``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import BNode, Graph
from rdflib.namespace import SH

from . import other, value_type
from .base import Constraint, ValueConstraint, at_most_one, parameters
from .view import UnionView

PARAMETERS = frozenset({SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount,
                        SH.qualifiedValueShapesDisjoint})
VALUE_SHAPE_PARAMETERS = value_type.PARAMETERS | other.PARAMETERS
"""What a nested shape the core evaluator checks may use."""


@dataclass(frozen=True)
class ValueShape:
    """A nested shape applied to one node as its focus (and its only value)."""

    constraints: tuple[ValueConstraint, ...]

    def conforms(self, view: UnionView, value) -> bool:
        return all(c.conforms(view, value) for c in self.constraints)


def compile_value_shape(shapes: Graph, node) -> ValueShape | None:
    """The nested shape ``node`` (a blank node of value checks only), or None."""
    if not isinstance(node, BNode) or not parameters(shapes, node) <= VALUE_SHAPE_PARAMETERS:
        return None
    constraints: list = []
    for family in (value_type, other):
        compiled = family.compile_constraints(shapes, node)
        if compiled is None:
            return None
        constraints.extend(compiled)
    return ValueShape(tuple(constraints))


@dataclass(frozen=True)
class QualifiedValueShape(Constraint):
    """How many values conform to the shape: at least ``q_min``, at most ``q_max``."""

    shape: ValueShape
    q_min: int | None
    q_max: int | None

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        conforming = sum(1 for v in values if self.shape.conforms(view, v))
        if self.q_max is not None and conforming > self.q_max:
            yield None
        if self.q_min is not None and conforming < self.q_min:
            yield None


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    """The qualified value shape, unless it is a disjoint one (sibling shapes), which is left
    to pySHACL."""
    if not at_most_one(shapes, node, SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount):
        return None
    q_shape = shapes.value(node, SH.qualifiedValueShape)
    q_min, q_max = shapes.value(node, SH.qualifiedMinCount), shapes.value(node, SH.qualifiedMaxCount)
    if q_shape is None and q_min is None and q_max is None:
        return []
    disjoint = shapes.value(node, SH.qualifiedValueShapesDisjoint)
    if q_shape is None or (disjoint is not None and bool(getattr(disjoint, "value", False))):
        return None
    compiled = compile_value_shape(shapes, q_shape)
    if compiled is None:
        return None
    return [QualifiedValueShape(compiled, None if q_min is None else int(q_min), None if q_max is None else int(q_max))]
