"""Property pair constraints: ``sh:lessThanOrEquals``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SH

from .base import Constraint
from .view import UnionView

PARAMETERS = frozenset({SH.lessThanOrEquals})


@dataclass(frozen=True)
class LessThanOrEquals(Constraint):
    """pySHACL's LessThanOrEqualsConstraintComponent: one result per failing pair."""

    other: URIRef

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        compare_values = view.objects(focus, self.other)
        for value in values:
            v, v_str = _comparable(value)
            for compare in compare_values:
                c, c_str = _comparable(compare)
                if v_str != c_str or not v <= c:
                    yield value


def _comparable(node):
    """(what to compare, whether it is text): IRIs and strings compare as text, other literals
    by value; text and non-text never compare."""
    if isinstance(node, URIRef):
        return str(node), True
    if isinstance(node, Literal) and isinstance(node.value, str):
        return node.value, True
    return node, False


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    others = list(shapes.objects(node, SH.lessThanOrEquals))
    if not all(isinstance(p, URIRef) for p in others):
        return None
    return [LessThanOrEquals(p) for p in others]
