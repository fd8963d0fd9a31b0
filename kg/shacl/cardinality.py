"""Cardinality constraints: ``sh:minCount`` and ``sh:maxCount``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph
from rdflib.namespace import SH

from .base import Constraint, at_most_one
from .view import UnionView

PARAMETERS = frozenset({SH.minCount, SH.maxCount})


@dataclass(frozen=True)
class MinCount(Constraint):
    count: int

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        if len(values) < self.count:
            yield None


@dataclass(frozen=True)
class MaxCount(Constraint):
    count: int

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        if len(values) > self.count:
            yield None


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    if not at_most_one(shapes, node, *PARAMETERS):
        return None
    out: list[Constraint] = []
    min_count, max_count = shapes.value(node, SH.minCount), shapes.value(node, SH.maxCount)
    if min_count is not None:
        out.append(MinCount(int(min_count)))
    if max_count is not None:
        out.append(MaxCount(int(max_count)))
    return out
