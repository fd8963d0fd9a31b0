"""What a constraint component compiled for the core evaluator is, and helpers to compile one.

Each constraint-family module (as pySHACL groups them: :mod:`.cardinality`,
:mod:`.value_type`, :mod:`.string_based`, :mod:`.property_pair`, :mod:`.logical`,
:mod:`.shape_based`, :mod:`.other`) declares the ``PARAMETERS`` it understands and a
``compile_constraints(shapes, node)`` that returns the node's constraints of that family,
or None when one of them is beyond the core evaluator (pySHACL then evaluates the shape).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from rdflib import Graph
from rdflib.namespace import SH

from .view import UnionView


class Constraint(ABC):
    """One constraint component of a property shape, with its parameters."""

    @abstractmethod
    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        """For one focus node and its value nodes, the value of each result: the offending
        value node, or None for a result about the focus node as a whole (a missing value)."""


class ValueConstraint(Constraint):
    """A constraint each value node meets or fails on its own: one result per failing value.

    ``conforms`` is also the check of a node against a nested shape (a member of ``sh:or``, a
    qualified value shape), where the node is its own only value.
    """

    @abstractmethod
    def conforms(self, view: UnionView, value) -> bool:
        """Whether ``value`` meets the constraint."""

    def results(self, view: UnionView, focus, values: Iterable) -> Iterable:
        for value in values:
            if not self.conforms(view, value):
                yield value


def parameters(shapes: Graph, node) -> set:
    """The parameters a shape node uses, which decide whether the core can evaluate it:
    SHACL's own predicates, and those of the constraint components the shapes graph declares
    (SHACL-SPARQL ``sh:parameter``), which the core never implements."""
    declared = {path for parameter in shapes.objects(None, SH.parameter) for path in shapes.objects(parameter, SH.path)}
    return {p for p in shapes.predicates(node, None) if str(p).startswith(str(SH)) or p in declared}


def at_most_one(shapes: Graph, node, *predicates) -> bool:
    """Whether each predicate has at most one value: pySHACL refuses a shape that gives one of
    these parameters twice, and the core leaves such a shape to it to say so."""
    return all(len(list(shapes.objects(node, p))) <= 1 for p in predicates)
