"""Which shapes the core evaluator compiles, and which it leaves to pySHACL.

The core compiles a top-level shape when every part of it is within its reach: SHACL Core
targets; property shapes on a predicate path (or an inverse path, or alternatives of those)
that carry their own ``sh:message`` and use only the constraint families it implements; and
SPARQL-based constraints that pySHACL would run with only ``$this`` pre-bound, and that SHACL
allows with pre-binding (see :func:`.sparql.compile_sparql`). pySHACL evaluates every other
shape, singled out with ``use_shapes``; a graph with SHACL rules, or with a blank-node shape
the core cannot compile (``use_shapes`` cannot name it), goes to pySHACL whole.

``use_shapes`` keeps pySHACL from reaching any shape named by an IRI that it does not list:
a property shape ``sh:property ex:NameShape`` of a listed shape would be skipped, silently.
So the list holds every shape named by IRI that the fallback shapes reach (through
``sh:property``, ``sh:node``, ``sh:not``, ``sh:qualifiedValueShape``, ``sh:and``, ``sh:or``,
``sh:xone``); a shape the core compiled that is among them is left to pySHACL too, which then
evaluates it as a top-level shape (evaluated by both, its results would count twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH

from . import cardinality, logical, other, property_pair, shape_based, string_based, value_type
from .base import parameters
from .paths import parse_path, path_str
from .shapes import CoreProperty, CoreShape
from .sparql import compile_sparql
from .targets import TARGETS, Target, top_level_shapes

# The constraint families the core implements, in the order their results come.
_FAMILIES = (cardinality, other, shape_based, value_type, string_based, logical, property_pair)
# Shape parameters that change nothing in the results the core evaluator produces.
_NEUTRAL = {SH.message, SH.severity, SH.name, SH.description, SH.order, SH.group,
            SH.defaultValue, SH.deactivated}
_NODE_OK = {*TARGETS, SH.property, SH.sparql, *_NEUTRAL}
_PROPERTY_OK = {SH.path, *_NEUTRAL}.union(*(family.PARAMETERS for family in _FAMILIES))
# Parameters whose values are shapes, and those whose values are lists of shapes.
_SHAPE_VALUED = (SH.property, SH.node, SH["not"], SH.qualifiedValueShape)
_SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)


@dataclass
class Plan:
    """The shapes the core evaluator runs, and those pySHACL runs (or all of them:
    ``plain_only``): ``fallback`` the top-level ones, ``use_shapes`` what pySHACL is told to
    use (those and every shape they name by IRI)."""

    compiled: list[CoreShape] = field(default_factory=list)
    fallback: list[URIRef] = field(default_factory=list)
    use_shapes: list[URIRef] = field(default_factory=list)
    plain_only: bool = False


def compile_plan(shapes: Graph) -> Plan:
    """Split the top-level shapes between the core evaluator and pySHACL."""
    plan = Plan()
    if (None, SH.rule, None) in shapes:
        plan.plain_only = True  # SHACL rules change the data graph: leave it all to pySHACL
        return plan
    for shape in sorted(top_level_shapes(shapes), key=str):
        if _deactivated(shapes, shape):
            continue
        core = _compile_shape(shapes, shape)
        if core is not None:
            plan.compiled.append(core)
        elif isinstance(shape, URIRef):
            plan.fallback.append(shape)
        else:
            plan.plain_only = True  # a blank-node shape cannot be singled out with use_shapes
            return plan
    while True:
        reached = {s for s in _reached(shapes, plan.fallback) if isinstance(s, URIRef)}
        taken = [core for core in plan.compiled if core.node in reached]
        if not taken:
            break
        plan.compiled = [core for core in plan.compiled if core.node not in reached]
        plan.fallback = sorted({*plan.fallback, *(core.node for core in taken)}, key=str)
    plan.use_shapes = sorted(reached, key=str)
    return plan


def _reached(shapes: Graph, roots) -> set:
    """The roots and every shape they reach through shape-valued parameters."""
    seen, todo = set(roots), list(roots)
    while todo:
        shape = todo.pop()
        children = [o for p in _SHAPE_VALUED for o in shapes.objects(shape, p)]
        children += [m for p in _SHAPE_LISTS for members in shapes.objects(shape, p)
                     for m in Collection(shapes, members)]
        for child in children:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _deactivated(shapes: Graph, shape) -> bool:
    return any(bool(getattr(v, "value", False)) is True for v in shapes.objects(shape, SH.deactivated))


def _compile_shape(shapes: Graph, shape) -> CoreShape | None:
    if (shape, SH.target, None) in shapes:  # SHACL-AF custom targets
        return None
    if any((shape, RDF.type, k) in shapes for k in (RDFS.Class, OWL.Class)):
        return None  # implicit class target
    properties = []
    sparql = []
    if (shape, SH.path, None) in shapes:  # a property shape with its own targets
        if not parameters(shapes, shape) <= _PROPERTY_OK | set(TARGETS):
            return None
        prop = _compile_property(shapes, shape)
        if prop is None:
            return None
        properties.append(prop)
    else:
        if not parameters(shapes, shape) <= _NODE_OK:
            return None
        for p in shapes.objects(shape, SH.property):
            if _deactivated(shapes, p):
                continue
            if not parameters(shapes, p) <= _PROPERTY_OK:
                return None
            prop = _compile_property(shapes, p)
            if prop is None:
                return None
            properties.append(prop)
        for c in shapes.objects(shape, SH.sparql):
            if _deactivated(shapes, c):
                continue
            constraint = compile_sparql(shapes, shape, c)
            if constraint is None:
                return None
            sparql.append(constraint)
    return CoreShape(shape, Target.of(shapes, shape), properties, sparql)


def _compile_property(shapes: Graph, node) -> CoreProperty | None:
    path = shapes.value(node, SH.path)
    alternatives = parse_path(shapes, path)
    if alternatives is None:
        return None
    messages = list(shapes.objects(node, SH.message))
    if not messages:
        return None  # pySHACL's generated messages are its own business
    constraints = []
    for family in _FAMILIES:
        compiled = family.compile_constraints(shapes, node)
        if compiled is None:
            return None
        constraints.extend(compiled)
    return CoreProperty(
        node=node,
        path=path_str(shapes, path),
        alternatives=alternatives,
        messages=messages,
        severity=shapes.value(node, SH.severity) or SH.Violation,
        constraints=constraints,
    )
