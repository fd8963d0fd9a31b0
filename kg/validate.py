"""SHACL validation of the mapped graph: a ValidationReport that names the case file and row.

The reference semantics is pySHACL's on the union of the data and the ontology:
``pyshacl.validate(data + ontology, shacl_graph=shapes, inference="none", advanced=True)``.
The ontology (TBox and concept schemes) is merged in, not passed as pySHACL's ``ont_graph``:
``ont_graph`` only copies RDFS/OWL axioms and ``owl:NamedIndividual`` nodes, so the types of
the scheme concepts the data points at (``sh:class hscp:ConfidenceLevel``) would be
invisible. Merged, ``sh:class`` sees the ``rdfs:subClassOf`` hierarchy and those types; no
other inference runs. A shape that targets a class of concepts also checks the schemes.

pySHACL spends about 60 microseconds of Python per focus node and constraint, so a
1M-triple graph would take more than a minute. Most shapes in practice use only SHACL Core
constraints on a predicate path, each with its own ``sh:message``; ``validate`` evaluates
those itself straight over rdflib's indexes (one pass per predicate, memoised class
hierarchy), runs SPARQL-based constraints on pyoxigraph (a batch of focus nodes per query
where that is exact, see ``_batch_template``), and hands every other shape (``sh:node``,
logical constraints, complex paths, shapes without a message) to pySHACL, restricted to
those shapes with ``use_shapes``. The results are the same set of (focus node, path, value,
message, severity, source shape) as pySHACL's on the whole graph; ``tests/test_validate.py``
compares the two.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

from .leangraph import subject_objects
from .mirror import from_ox as _from_ox
from .mirror import to_ox as _to_ox
from .provenance import Origin

__all__ = ["Violation", "ValidationReport", "validate"]


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
    """The outcome of :func:`validate`; ``text`` has one line per violation."""

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


# --- public entry point -------------------------------------------------------------------


def validate(
    data: Graph,
    shapes: Graph,
    ontology: Graph | None = None,
    origins: Mapping[str, Origin] | None = None,
    *,
    engine: str = "auto",
    mirror=None,
) -> ValidationReport:
    """Validate ``data`` against ``shapes``; the ontology supplies classes and concept types.

    ``engine="auto"`` evaluates the SHACL Core shapes it supports itself and the rest with
    pySHACL; ``engine="pyshacl"`` runs plain pySHACL on the whole graph (the reference).
    ``mirror`` (a :class:`kg.mirror.OxMirror` holding ``data`` as "data" and ``ontology`` as
    "ontology") spares the SPARQL constraints a pyoxigraph copy of their own.

    :raises ValueError: for an unknown engine.
    """
    if engine not in ("auto", "pyshacl"):
        raise ValueError(f"engine must be 'auto' or 'pyshacl', got {engine!r}")
    started = time.perf_counter()
    origins = origins or {}
    results: list[tuple] = []
    engines: dict[str, int] = {}
    plan = _plan(shapes) if engine == "auto" else None
    if plan is None or plan.plain_only:
        results = _run_pyshacl(data, shapes, ontology, None)
        engines["pyshacl"] = len(_top_level_shapes(shapes))
    else:
        if plan.compiled:
            view = _UnionView(data, ontology, mirror)
            for shape in plan.compiled:
                results.extend(shape.evaluate(view))
            engines["core"] = len(plan.compiled)
        if plan.fallback:
            results.extend(_run_pyshacl(data, shapes, ontology, plan.fallback))
            engines["pyshacl"] = len(plan.fallback)
    violations = [_violation(r, shapes, origins) for r in results]
    violations.sort(key=_sort_key)
    return ValidationReport(
        conforms=not violations,
        violations=violations,
        text=_text(violations),
        elapsed=time.perf_counter() - started,
        engines=engines,
    )


# --- results ----------------------------------------------------------------------------


def _violation(result: tuple, shapes: Graph, origins: Mapping[str, Origin]) -> Violation:
    focus, path, value, messages, severity, shape = result
    focus_s = _node_str(focus)
    return Violation(
        focus=focus_s,
        path=_path_str(shapes, path),
        value=None if value is None else str(value),
        message=_message(messages),
        severity=str(severity).rpartition("#")[2],
        shape=_node_str(shape),
        origin=origins.get(focus_s),
    )


def _node_str(node) -> str:
    return f"_:{node}" if isinstance(node, BNode) else str(node)


def _path_str(graph: Graph, path) -> str | None:
    """A SHACL path as text: the IRI, ``^IRI`` for an inverse path, ``a|b`` for alternatives,
    ``a/b`` for a sequence (the same text whichever graph holds the path's blank nodes)."""
    if path is None:
        return None
    if isinstance(path, str) and not isinstance(path, (URIRef, BNode)):
        return path  # already rendered
    if isinstance(path, URIRef):
        return str(path)
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _path_str(graph, inverse)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(_path_str(graph, p) for p in Collection(graph, alternatives))
    if graph.value(path, RDF.first) is not None:
        return "/".join(_path_str(graph, p) for p in Collection(graph, path))
    for modifier, mark in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = graph.value(path, modifier)
        if inner is not None:
            return f"({_path_str(graph, inner)}){mark}"
    return _node_str(path)


def _message(messages: Iterable[Literal]) -> str:
    """One message: the English (or untagged) ones, joined; any language if there is none."""
    messages = list(messages)
    chosen = [m for m in messages if getattr(m, "language", None) in (None, "en")] or messages
    return " ".join(sorted(str(m) for m in chosen))


def _sort_key(v: Violation) -> tuple:
    o = v.origin
    return (o is None, o.path if o else "", o.row if o else 0, v.focus, v.path or "", v.message, v.value or "")


def _text(violations: list[Violation]) -> str:
    if not violations:
        return "The data conforms to the SHACL shapes."
    count = len(violations)
    head = f"{count} SHACL violation{'s' if count != 1 else ''}:"
    return "\n".join([head, *(f"  {v}" for v in violations)])


# --- pySHACL (the reference, and the engine for shapes the core evaluator does not cover) --


def _run_pyshacl(data: Graph, shapes: Graph, ontology: Graph | None, use_shapes) -> list[tuple]:
    # Imported here: pySHACL flips rdflib globals while it loads shapes, which must never
    # happen inside a web process that merely imports kg.validate.
    import pyshacl

    kwargs = {}
    if use_shapes is not None:
        kwargs["use_shapes"] = [str(s) for s in use_shapes]
    merged = Graph()
    merged += data
    if ontology is not None:
        merged += ontology
    # ``merged`` is ours: in place spares pySHACL a second copy of the graph.
    _conforms, report, _text = pyshacl.validate(
        merged,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        inplace=True,
        **kwargs,
    )
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        # The report holds a copy of a complex path: render it from there.
        path = _path_str(report, report.value(r, SH.resultPath))
        out.append(
            (
                report.value(r, SH.focusNode),
                path,
                report.value(r, SH.value),
                list(report.objects(r, SH.resultMessage)),
                report.value(r, SH.resultSeverity),
                report.value(r, SH.sourceShape),
            )
        )
    return out


# --- the core evaluator -----------------------------------------------------------------

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
# Shape parameters that change nothing in the results the core evaluator produces.
_NEUTRAL = {SH.message, SH.severity, SH.name, SH.description, SH.order, SH.group,
            SH.defaultValue, SH.deactivated}
_NODE_OK = {*_TARGETS, SH.property, SH.sparql, *_NEUTRAL}
_PROPERTY_OK = {SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.nodeKind,
                SH["in"], SH.pattern, SH.flags, SH.hasValue, SH["or"], SH.lessThanOrEquals,
                SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount,
                SH.qualifiedValueShapesDisjoint, *_NEUTRAL}
# Constraints a nested shape (a member of sh:or, a qualified value shape) may use.
_VALUE_SHAPE_OK = {SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.hasValue}
_SINGLE = (SH.minCount, SH.maxCount, SH.datatype, SH.nodeKind, SH.flags, SH.qualifiedValueShape,
           SH.qualifiedMinCount, SH.qualifiedMaxCount)
_NODE_KINDS = {
    SH.IRI: (URIRef,),
    SH.BlankNode: (BNode,),
    SH.Literal: (Literal,),
    SH.BlankNodeOrIRI: (BNode, URIRef),
    SH.BlankNodeOrLiteral: (BNode, Literal),
    SH.IRIOrLiteral: (URIRef, Literal),
}
# Variables pySHACL pre-binds or rewrites in SPARQL constraints besides $this.
_SPARQL_UNSUPPORTED = re.compile(r"[?$](PATH|currentShape|shapesGraph)\b")
_THIS_PROJECTED = re.compile(r"SELECT\s+(?:DISTINCT\s+|REDUCED\s+)?[^{]*?\$this\b", re.I | re.S)


@dataclass
class _Plan:
    compiled: list["_CoreShape"] = field(default_factory=list)
    fallback: list[URIRef] = field(default_factory=list)
    plain_only: bool = False


def _top_level_shapes(shapes: Graph) -> set:
    found = set()
    for predicate in (*_TARGETS, SH.target):
        found.update(shapes.subjects(predicate, None))
    for kind in (RDFS.Class, OWL.Class):
        for s in shapes.subjects(RDF.type, kind):
            if (s, RDF.type, SH.NodeShape) in shapes or (s, RDF.type, SH.PropertyShape) in shapes \
                    or (s, SH.property, None) in shapes or (s, SH.path, None) in shapes:
                found.add(s)
    return found


def _deactivated(shapes: Graph, shape) -> bool:
    return any(bool(getattr(v, "value", False)) is True for v in shapes.objects(shape, SH.deactivated))


def _plan(shapes: Graph) -> _Plan:
    plan = _Plan()
    if (None, SH.rule, None) in shapes:
        plan.plain_only = True  # SHACL rules change the data graph: leave it all to pySHACL
        return plan
    for shape in sorted(_top_level_shapes(shapes), key=str):
        if _deactivated(shapes, shape):
            continue
        core = _compile(shapes, shape)
        if core is not None:
            plan.compiled.append(core)
        elif isinstance(shape, URIRef):
            plan.fallback.append(shape)
        else:
            plan.plain_only = True  # a blank-node shape cannot be singled out with use_shapes
            return plan
    return plan


def _sh_predicates(shapes: Graph, node) -> set:
    return {p for p in shapes.predicates(node, None) if str(p).startswith(str(SH))}


def _compile(shapes: Graph, shape) -> "_CoreShape | None":
    if (shape, SH.target, None) in shapes:  # SHACL-AF custom targets
        return None
    if any((shape, RDF.type, k) in shapes for k in (RDFS.Class, OWL.Class)):
        return None  # implicit class target
    target = _Target(
        classes=list(shapes.objects(shape, SH.targetClass)),
        nodes=list(shapes.objects(shape, SH.targetNode)),
        subjects_of=list(shapes.objects(shape, SH.targetSubjectsOf)),
        objects_of=list(shapes.objects(shape, SH.targetObjectsOf)),
    )
    properties = []
    sparql = []
    if (shape, SH.path, None) in shapes:  # a property shape with its own targets
        if not _sh_predicates(shapes, shape) <= _PROPERTY_OK | set(_TARGETS):
            return None
        prop = _compile_property(shapes, shape)
        if prop is None:
            return None
        properties.append(prop)
    else:
        if not _sh_predicates(shapes, shape) <= _NODE_OK:
            return None
        for p in shapes.objects(shape, SH.property):
            if _deactivated(shapes, p):
                continue
            if not _sh_predicates(shapes, p) <= _PROPERTY_OK:
                return None
            prop = _compile_property(shapes, p)
            if prop is None:
                return None
            properties.append(prop)
        for c in shapes.objects(shape, SH.sparql):
            if _deactivated(shapes, c):
                continue
            constraint = _compile_sparql(shapes, shape, c)
            if constraint is None:
                return None
            sparql.append(constraint)
    return _CoreShape(shape, target, properties, sparql)


def _parse_path(shapes: Graph, path) -> list[tuple[URIRef, bool]] | None:
    """A predicate path, an inverse path, or alternatives of those: [(predicate, inverse)]."""
    if isinstance(path, URIRef):
        return [(path, False)]
    if not isinstance(path, BNode):
        return None
    preds = set(shapes.predicates(path, None))
    if preds == {SH.inversePath}:
        predicate = shapes.value(path, SH.inversePath)
        return [(predicate, True)] if isinstance(predicate, URIRef) else None
    if preds == {SH.alternativePath}:
        out = []
        for member in Collection(shapes, shapes.value(path, SH.alternativePath)):
            parsed = _parse_path(shapes, member)
            if parsed is None or len(parsed) != 1:
                return None
            out.extend(parsed)
        return out or None
    return None


def _compile_value_shape(shapes: Graph, node) -> "_ValueShape | None":
    """A nested shape made only of value checks (sh:class, sh:datatype, sh:nodeKind, sh:in,
    sh:hasValue), applied to one value node as its focus."""
    if not isinstance(node, BNode) or not _sh_predicates(shapes, node) <= _VALUE_SHAPE_OK:
        return None
    if any((node, p, None) in shapes for p in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf,
                                               SH.targetObjectsOf, SH.path, SH.property, SH.deactivated)):
        return None
    if any(len(list(shapes.objects(node, p))) > 1 for p in (SH.datatype, SH.nodeKind)):
        return None
    node_kind = shapes.value(node, SH.nodeKind)
    if node_kind is not None and node_kind not in _NODE_KINDS:
        return None
    in_list = shapes.value(node, SH["in"])
    return _ValueShape(
        classes=list(shapes.objects(node, SH["class"])),
        datatype=shapes.value(node, SH.datatype),
        node_kind=_NODE_KINDS.get(node_kind),
        in_values=None if in_list is None else set(Collection(shapes, in_list)),
        has_values=list(shapes.objects(node, SH.hasValue)),
    )


def _compile_property(shapes: Graph, node) -> "_CoreProperty | None":
    for single in _SINGLE:
        if len(list(shapes.objects(node, single))) > 1:
            return None  # pySHACL refuses these shapes; let it say so
    path = shapes.value(node, SH.path)
    alternatives = _parse_path(shapes, path)
    if alternatives is None:
        return None
    messages = list(shapes.objects(node, SH.message))
    if not messages:
        return None  # pySHACL's generated messages are its own business
    in_values = None
    in_list = shapes.value(node, SH["in"])
    if in_list is not None:
        in_values = set(Collection(shapes, in_list))
    flags = shapes.value(node, SH.flags)
    re_flags = 0
    if flags is not None:
        re_flags |= re.I if "i" in str(flags) else 0
        re_flags |= re.M if "m" in str(flags) else 0
    patterns = [re.compile(str(p.value) if isinstance(p, Literal) and p.value is not None and len(p.value) > 1
                           else str(p), re_flags) for p in shapes.objects(node, SH.pattern)]
    node_kind = shapes.value(node, SH.nodeKind)
    if node_kind is not None and node_kind not in _NODE_KINDS:
        return None
    or_lists = []
    for members in shapes.objects(node, SH["or"]):
        compiled = [_compile_value_shape(shapes, m) for m in Collection(shapes, members)]
        if not compiled or any(c is None for c in compiled):
            return None
        or_lists.append(compiled)
    less_or_equal = list(shapes.objects(node, SH.lessThanOrEquals))
    if not all(isinstance(p, URIRef) for p in less_or_equal):
        return None
    qualified = None
    q_shape = shapes.value(node, SH.qualifiedValueShape)
    q_min, q_max = shapes.value(node, SH.qualifiedMinCount), shapes.value(node, SH.qualifiedMaxCount)
    if q_shape is not None or q_min is not None or q_max is not None:
        disjoint = shapes.value(node, SH.qualifiedValueShapesDisjoint)
        if q_shape is None or (disjoint is not None and bool(getattr(disjoint, "value", False))):
            return None
        qualified = _compile_value_shape(shapes, q_shape)
        if qualified is None:
            return None
    min_count = shapes.value(node, SH.minCount)
    max_count = shapes.value(node, SH.maxCount)
    return _CoreProperty(
        node=node,
        path=_path_str(shapes, path),
        alternatives=alternatives,
        messages=messages,
        severity=shapes.value(node, SH.severity) or SH.Violation,
        min_count=None if min_count is None else int(min_count),
        max_count=None if max_count is None else int(max_count),
        datatype=shapes.value(node, SH.datatype),
        classes=list(shapes.objects(node, SH["class"])),
        node_kind=_NODE_KINDS.get(node_kind),
        in_values=in_values,
        patterns=patterns,
        has_values=list(shapes.objects(node, SH.hasValue)),
        or_lists=or_lists,
        less_or_equal=less_or_equal,
        qualified=qualified,
        q_min=None if q_min is None else int(q_min),
        q_max=None if q_max is None else int(q_max),
    )


def _sparql_prefixes(shapes: Graph, constraint) -> dict[str, str]:
    """The PREFIX lines pySHACL prepends: rdf, rdfs, owl, then the sh:declare of sh:prefixes."""
    prefixes = {"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)}
    ontologies = set(shapes.subjects(RDF.type, OWL.Ontology))
    global_declares = {d for o in ontologies for d in shapes.objects(o, SH.declare)}
    for holder in shapes.objects(constraint, SH.prefixes):
        own = set(shapes.objects(holder, SH.declare))
        declares = own if (own and holder in ontologies) else global_declares | own
        for dec in declares:
            prefix, namespace = shapes.value(dec, SH.prefix), shapes.value(dec, SH.namespace)
            if prefix is None or namespace is None:
                return None
            prefixes[str(prefix)] = str(namespace)
    return prefixes


def _compile_sparql(shapes: Graph, shape, node) -> "_SparqlConstraint | None":
    selects = list(shapes.objects(node, SH.select))
    if len(selects) != 1 or not isinstance(selects[0], Literal):
        return None
    text = str(selects[0])
    if not _THIS_PROJECTED.search(text) or _SPARQL_UNSUPPORTED.search(text) or \
            re.search(r"\bMINUS\b", text, re.I):
        return None
    prefixes = _sparql_prefixes(shapes, node)
    if prefixes is None:
        return None
    header = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items())
    return _SparqlConstraint(
        node=node,
        text=f"{header}\n{text}",
        messages=list(shapes.objects(node, SH.message)),
        shape_messages=list(shapes.objects(shape, SH.message)),
        severity=shapes.value(shape, SH.severity) or SH.Violation,
        batch=_batch_template(f"{header}\n{text}"),
    )


@dataclass
class _Target:
    classes: list
    nodes: list
    subjects_of: list
    objects_of: list

    def focus_nodes(self, view: "_UnionView") -> set:
        found = set(self.nodes)
        for cls in self.classes:
            for sub in view.subclasses(cls):
                found.update(view.subjects(RDF.type, sub))
        for p in self.subjects_of:
            found.update(view.by_subject(p).keys())
        for p in self.objects_of:
            found.update(view.by_object(p).keys())
        return found


@dataclass
class _ValueShape:
    classes: list
    datatype: URIRef | None
    node_kind: tuple | None
    in_values: set | None
    has_values: list

    def conforms(self, view: "_UnionView", v) -> bool:
        for cls in self.classes:
            if isinstance(v, Literal) or cls not in view.all_types(v):
                return False
        if self.datatype is not None and not _datatype_ok(v, self.datatype):
            return False
        if self.node_kind is not None and not isinstance(v, self.node_kind):
            return False
        if self.in_values is not None and v not in self.in_values:
            return False
        return all(v == hv for hv in self.has_values)


@dataclass
class _CoreProperty:
    node: object
    path: str
    alternatives: list
    messages: list
    severity: URIRef
    min_count: int | None
    max_count: int | None
    datatype: URIRef | None
    classes: list
    node_kind: tuple | None
    in_values: set | None
    patterns: list
    has_values: list
    or_lists: list
    less_or_equal: list
    qualified: _ValueShape | None
    q_min: int | None
    q_max: int | None

    def evaluate(self, view: "_UnionView", focus_nodes: Iterable) -> Iterable[tuple]:
        indexes = [view.by_object(p) if inverse else view.by_subject(p) for p, inverse in self.alternatives]
        compare = [view.by_subject(p) for p in self.less_or_equal]
        for f in focus_nodes:
            if len(indexes) == 1:
                values = indexes[0].get(f, ())
            else:
                values = set()
                for index in indexes:
                    values.update(index.get(f, ()))
            yield from self._check(view, f, values)
            for index in compare:
                yield from self._less_or_equal(f, values, index.get(f, ()))

    def _result(self, focus, value=None):
        return (focus, self.path, value, self.messages, self.severity, self.node)

    def _check(self, view, f, values):
        if self.min_count is not None and len(values) < self.min_count:
            yield self._result(f)
        if self.max_count is not None and len(values) > self.max_count:
            yield self._result(f)
        for hv in self.has_values:
            if hv not in values:
                yield self._result(f)
        if self.qualified is not None:
            conforming = sum(1 for v in values if self.qualified.conforms(view, v))
            if self.q_max is not None and conforming > self.q_max:
                yield self._result(f)
            if self.q_min is not None and conforming < self.q_min:
                yield self._result(f)
        if not values:
            return
        for v in values:
            if self.datatype is not None and not _datatype_ok(v, self.datatype):
                yield self._result(f, v)
            for cls in self.classes:
                if isinstance(v, Literal) or cls not in view.all_types(v):
                    yield self._result(f, v)
            if self.node_kind is not None and not isinstance(v, self.node_kind):
                yield self._result(f, v)
            if self.in_values is not None and v not in self.in_values:
                yield self._result(f, v)
            for pattern in self.patterns:
                if isinstance(v, BNode) or not pattern.search(_string_value(v)):
                    yield self._result(f, v)
            for members in self.or_lists:
                if not any(m.conforms(view, v) for m in members):
                    yield self._result(f, v)

    def _less_or_equal(self, f, values, compare_values):
        """pySHACL's LessThanOrEqualsConstraintComponent: one result per failing pair."""
        for value in values:
            v, v_str = _comparable(value)
            for compare in compare_values:
                c, c_str = _comparable(compare)
                if v_str != c_str or not v <= c:
                    yield self._result(f, value)


def _comparable(node):
    if isinstance(node, URIRef):
        return str(node), True
    if isinstance(node, Literal) and isinstance(node.value, str):
        return node.value, True
    return node, False


@dataclass
class _SparqlConstraint:
    """A SPARQL-based constraint, run on pyoxigraph and reported as pySHACL reports it.

    pySHACL pre-binds $this to each focus node in turn. Run that way (pyoxigraph's
    ``substitutions``), a constraint costs one query per focus node. When the query allows
    it (see :func:`_batch_template`), focus nodes go in batches instead: ``VALUES $this``
    binds the batch in every group outside EXISTS, which gives each focus node exactly the
    solutions pre-binding gives, with $this bound to it; the rows are then sorted back to
    their focus nodes."""

    node: object
    text: str
    messages: list
    shape_messages: list
    severity: URIRef
    batch: list[str] | None = None  # the query text around each place a VALUES block goes

    def evaluate(self, view: "_UnionView", shape, focus_nodes: Iterable) -> Iterable[tuple]:
        import pyoxigraph as ox

        from concurrent.futures import ThreadPoolExecutor

        store, to_ox, default_graph = view.oxigraph()
        options = {} if default_graph is None else {"default_graph": default_graph}
        this = ox.Variable("this")
        focus_nodes = list(focus_nodes)
        terms = [to_ox(f) for f in focus_nodes]

        def run(term):
            solutions = store.query(self.text, substitutions={this: term}, **options)
            names = [v.value for v in solutions.variables]
            return names, [[solution[n] for n in names] for solution in solutions]

        batched, single = [], []
        for term in terms:
            (batched if self.batch is not None and isinstance(term, ox.NamedNode)
             and _SAFE_IRI.fullmatch(term.value) else single).append(term)

        def run_batch(chunk):
            values = "VALUES $this { " + " ".join(f"<{t.value}>" for t in chunk) + " }"
            solutions = store.query(values.join(self.batch), **options)
            names = [v.value for v in solutions.variables]
            position = names.index("this")
            rows: dict = {}
            for solution in solutions:
                row = [solution[n] for n in names]
                rows.setdefault(row[position], []).append(row)
            return names, rows

        answers: dict = {}
        chunks = [batched[i:i + _BATCH] for i in range(0, len(batched), _BATCH)]
        # pyoxigraph releases the GIL while it evaluates: two threads use both cores.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for names, rows in pool.map(run_batch, chunks):
                for term in rows:
                    answers[term] = (names, rows[term])
            for term, answer in zip(single, pool.map(run, single, chunksize=256) if len(single) > 64
                                    else map(run, single)):
                answers[term] = answer
        for f, term in zip(focus_nodes, terms):
            answer = answers.get(term)
            if answer is None:
                continue
            names, solutions = answer
            seen = []
            for values in solutions:
                row = {n: _from_ox(value) for n, value in zip(names, values) if value is not None}
                if "failure" in row:
                    raise NotImplementedError  # never compiled: see _compile_sparql
                p, v, t = row.pop("path", None), row.pop("value", None), row.pop("this", None)
                if p is None and v is None and t is None:
                    continue
                key = (t, p, v, row)
                if key in seen:
                    continue
                seen.append(key)
                if v is None:
                    v = f  # a node shape reports the focus node as the value
                bound = {"this": t, "path": p, "value": v, **row}
                messages = [_format_message(m, bound) for m in self.messages if m not in self.shape_messages]
                messages += [_format_message(m, bound) for m in self.shape_messages]
                yield (t or f, p, v, messages, self.severity, shape)


_BATCH = 1000
"""Focus nodes per batched query."""
_SAFE_IRI = re.compile(r'[^<>"{}|^`\\\x00-\x20]*')
_TOKEN = re.compile(r'''
    (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'
       |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<comment>\#[^\n]*)
  | (?P<brace>[{}])
  | (?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]+)
  | (?P<word>[A-Za-z_][\w\-.]*(?::[\w\-.%:]*)?|:[\w\-.%:]*)
  | (?P<other>\S)
''', re.X)
# Keywords whose presence anywhere keeps a constraint on one query per focus node: they
# make a query's answer for a batch differ from the union of its answers per focus node
# (sub-queries, aggregates, solution modifiers, its own VALUES or dataset, MINUS, SERVICE).
_BATCH_REFUSED = {"VALUES", "MINUS", "SERVICE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FROM",
                  "COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "BINDINGS"}


def _batch_template(text: str) -> list[str] | None:
    """The query split where ``VALUES $this {…}`` goes, or None when the query must run once
    per focus node.

    The VALUES block goes after the opening brace of every group outside EXISTS, except a
    group that joins a plain sub-group or a UNION of groups (and has no OPTIONAL or BIND of
    its own, whose order matters): those already bind $this to the batch.

    Why the batch is exact: every group outside EXISTS then binds $this to one focus node
    of the batch in each of its solutions, and solutions only combine when their $this
    agree, so the batch's answer is the union over its focus nodes f of the query with
    $this bound to f in every group: the pre-bound query's answer extended with $this = f.
    Inside EXISTS the outer solution's $this is substituted, as pre-binding does. Anything
    this argument does not cover (sub-queries, aggregates, solution modifiers, VALUES,
    MINUS, a group nested in EXISTS, ``AS $this``) refuses.
    """
    tokens = [m for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]

    def word(m) -> str:
        return m.group().upper() if m is not None and m.lastgroup == "word" else ""

    selects = [i for i, m in enumerate(tokens) if word(m) == "SELECT"]
    if len(selects) != 1:
        return None
    select = selects[0]
    first_brace = next((i for i, m in enumerate(tokens) if m.lastgroup == "brace"), None)
    if first_brace is None or first_brace < select or tokens[first_brace].group() != "{":
        return None
    after = tokens[select:]
    if any(word(m) in _BATCH_REFUSED for m in after):
        return None
    if any(word(m) == "AS" and n.lastgroup == "var" and n.group()[1:] == "this" for m, n in zip(after, after[1:])):
        return None

    # Groups as [end of "{", opened by EXISTS, joins a sub-group, has OPTIONAL or BIND].
    cuts: list[int] = []
    stack: list[list] = []
    previous = None
    for i in range(first_brace, len(tokens)):
        m = tokens[i]
        if m.group() == "{":
            if stack and stack[-1][1]:
                return None  # a group nested in EXISTS: pre-binding and joining may differ there
            opens_exists = word(previous) == "EXISTS"
            plain = previous is not None and (previous.group() in ("{", "}", ".") or word(previous) == "UNION")
            if stack and plain and not opens_exists:
                stack[-1][2] = True
            stack.append([m.end(), opens_exists, False, False])
        elif m.group() == "}":
            if not stack:
                return None
            end, in_exists, joins_group, ordered = stack.pop()
            if not in_exists and (not joins_group or ordered):
                cuts.append(end)
            if not stack and i != len(tokens) - 1:
                return None  # something after the WHERE clause
        elif stack and word(m) in ("OPTIONAL", "BIND"):
            stack[-1][3] = True
        previous = m
    if stack or not cuts:
        return None
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(text[start:cut] + " ")
        start = cut
    pieces.append(" " + text[start:])
    return pieces


def _format_message(message: Literal, bound: dict) -> Literal:
    """pySHACL's {?var} / {$var} substitution (plain text, language dropped, as it does)."""
    text = str(message.value) if isinstance(message, Literal) and message.value is not None else str(message)
    for var, val in {k: v for k, v in bound.items() if v is not None}.items():
        text = re.sub("{{[?$]{}}}".format(var), str(val), text)
    return Literal(text)


@dataclass
class _CoreShape:
    node: object
    target: _Target
    properties: list[_CoreProperty]
    sparql: list[_SparqlConstraint] = field(default_factory=list)

    def evaluate(self, view: "_UnionView") -> Iterable[tuple]:
        focus = self.target.focus_nodes(view)
        if not focus:
            return
        focus = sorted(focus, key=str)
        for prop in self.properties:
            yield from prop.evaluate(view, focus)
        for constraint in self.sparql:
            yield from constraint.evaluate(view, self.node, focus)


def _string_value(v) -> str:
    # As pySHACL's value_node_to_string: string literals by value, others by lexical form.
    if isinstance(v, Literal) and v.value is not None and v.datatype in (None, RDF.langString, XSD.string):
        return str(v.value)
    return str(v)


_PY_TYPES = None


def _datatype_ok(v, dtype) -> bool:
    """pySHACL's DatatypeConstraintComponent, rule for rule."""
    global _PY_TYPES
    if not isinstance(v, Literal):
        return False
    if _PY_TYPES is None:
        from datetime import date, datetime
        from datetime import time as time_
        from decimal import Decimal

        _PY_TYPES = {
            XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: (int,),
            XSD.float: (float,), XSD.decimal: (Decimal,), XSD.boolean: (bool,), XSD.date: (date,),
            XSD.time: (time_,), XSD.dateTime: (datetime,),
        }
    datatype, lang = v.datatype, v.language
    if datatype == dtype:
        if getattr(v, "ill_typed", None) is True:
            return False
        return _actual(v, dtype)
    if dtype == RDFS.Literal:
        return True
    if dtype == RDFS.Datatype and datatype:
        return True
    if datatype is None and lang is None and dtype == XSD.string:
        return _actual(v, dtype)
    if dtype == RDF.langString and lang:
        return _actual(v, dtype)
    return False


def _actual(v: Literal, dtype) -> bool:
    kinds = _PY_TYPES.get(dtype)
    return True if kinds is None else isinstance(v.value, kinds)


class _UnionView:
    """Read-only union of the data and the ontology, with per-predicate indexes and a
    memoised class hierarchy (the merged graph, without copying the data)."""

    def __init__(self, data: Graph, ontology: Graph | None, mirror=None):
        self.graphs = [data] if ontology is None else [data, ontology]
        self._by_subject: dict = {}
        self._by_object: dict = {}
        self._supers: dict = {}
        self._types: dict = {}
        self._oxigraph = None
        self._mirror = mirror

    def oxigraph(self):
        """The union in pyoxigraph: (store, term converter, the graphs that make its default
        graph, or None for the store's own default graph). Built once."""
        if self._oxigraph is None:
            mirror = self._mirror
            names = ["data"] if len(self.graphs) == 1 else ["data", "ontology"]
            if mirror is not None and all(mirror.graphs.get(n) == len(g) for n, g in zip(names, self.graphs)) \
                    and not self._overlap():
                # The merge of the named graphs is the union: no triple is in two of them,
                # so every pattern matches as often as in a single graph.
                self._oxigraph = (mirror.store, mirror.term, [mirror.graph_node(n) for n in names])
            else:
                import pyoxigraph as ox

                cache: dict = {}

                def to_ox(term):
                    found = cache.get(term)
                    if found is None:
                        found = cache[term] = _to_ox(term)
                    return found

                store = ox.Store()
                store.bulk_extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for g in self.graphs for s, p, o in g)
                self._oxigraph = (store, to_ox, None)
        return self._oxigraph

    def _overlap(self) -> bool:
        if len(self.graphs) == 1:
            return False
        data, ontology = self.graphs
        small, large = (data, ontology) if len(data) < len(ontology) else (ontology, data)
        return any(t in large for t in small)

    def subjects(self, p, o):
        return self.by_object(p).get(o, ())

    def objects(self, s, p):
        return self.by_subject(p).get(s, ())

    def _index(self, cache: dict, p, by_subject: bool) -> dict:
        index = cache.get(p)
        if index is None:
            grouped = defaultdict(set)
            for g in self.graphs:
                for s, o in subject_objects(g, p):
                    if by_subject:
                        grouped[s].add(o)
                    else:
                        grouped[o].add(s)
            index = cache[p] = dict(grouped)
        return index

    def by_subject(self, p) -> dict:
        return self._index(self._by_subject, p, True)

    def by_object(self, p) -> dict:
        return self._index(self._by_object, p, False)

    def subclasses(self, cls) -> set:
        """``cls`` and everything transitively rdfs:subClassOf it."""
        seen, todo = {cls}, [cls]
        while todo:
            for sub in self.subjects(RDFS.subClassOf, todo.pop()):
                if sub not in seen:
                    seen.add(sub)
                    todo.append(sub)
        return seen

    def superclasses(self, cls) -> frozenset:
        found = self._supers.get(cls)
        if found is None:
            seen, todo = {cls}, [cls]
            while todo:
                for sup in self.objects(todo.pop(), RDFS.subClassOf):
                    if sup not in seen:
                        seen.add(sup)
                        todo.append(sup)
            found = self._supers[cls] = frozenset(seen)
        return found

    def all_types(self, node) -> frozenset:
        found = self._types.get(node)
        if found is None:
            acc = set()
            for t in self.objects(node, RDF.type):
                acc |= self.superclasses(t)
            found = self._types[node] = frozenset(acc)
        return found
