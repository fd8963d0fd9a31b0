"""Value type constraints: ``sh:class``, ``sh:datatype`` and ``sh:nodeKind``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD

from .base import Constraint, ValueConstraint, at_most_one
from .view import UnionView

PARAMETERS = frozenset({SH["class"], SH.datatype, SH.nodeKind})

NODE_KINDS = {
    SH.IRI: (URIRef,),
    SH.BlankNode: (BNode,),
    SH.Literal: (Literal,),
    SH.BlankNodeOrIRI: (BNode, URIRef),
    SH.BlankNodeOrLiteral: (BNode, Literal),
    SH.IRIOrLiteral: (URIRef, Literal),
}
"""The rdflib term types of each ``sh:nodeKind``."""

# The Python value a well-formed literal of these datatypes has in rdflib.
_PY_TYPES = {
    XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: (int,),
    XSD.float: (float,), XSD.decimal: (Decimal,), XSD.boolean: (bool,), XSD.date: (date,),
    XSD.time: (time,), XSD.dateTime: (datetime,),
}


@dataclass(frozen=True)
class Class(ValueConstraint):
    """``sh:class``: an IRI or blank node typed with the class or a subclass of it."""

    cls: URIRef

    def conforms(self, view: UnionView, value) -> bool:
        return not isinstance(value, Literal) and self.cls in view.all_types(value)


@dataclass(frozen=True)
class Datatype(ValueConstraint):
    datatype: URIRef

    def conforms(self, view: UnionView, value) -> bool:
        return datatype_ok(value, self.datatype)


@dataclass(frozen=True)
class NodeKind(ValueConstraint):
    kinds: tuple

    def conforms(self, view: UnionView, value) -> bool:
        return isinstance(value, self.kinds)


def datatype_ok(v, dtype) -> bool:
    """pySHACL's DatatypeConstraintComponent, rule for rule."""
    if not isinstance(v, Literal):
        return False
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


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    if not at_most_one(shapes, node, SH.datatype, SH.nodeKind):
        return None
    out: list[Constraint] = [Class(c) for c in shapes.objects(node, SH["class"])]
    datatype = shapes.value(node, SH.datatype)
    if datatype is not None:
        out.append(Datatype(datatype))
    node_kind = shapes.value(node, SH.nodeKind)
    if node_kind is not None:
        if node_kind not in NODE_KINDS:
            return None
        out.append(NodeKind(NODE_KINDS[node_kind]))
    return out
