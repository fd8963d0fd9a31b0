"""String-based constraints: ``sh:pattern`` with its ``sh:flags``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal
from rdflib.namespace import RDF, SH, XSD

from .base import Constraint, ValueConstraint, at_most_one
from .view import UnionView

PARAMETERS = frozenset({SH.pattern, SH.flags})


@dataclass(frozen=True)
class Pattern(ValueConstraint):
    """``sh:pattern``: the value's text matches somewhere (a blank node never does)."""

    pattern: re.Pattern

    def conforms(self, view: UnionView, value) -> bool:
        return not isinstance(value, BNode) and self.pattern.search(_string_value(value)) is not None


def _string_value(v) -> str:
    # As pySHACL's value_node_to_string: string literals by value, others by lexical form.
    if isinstance(v, Literal) and v.value is not None and v.datatype in (None, RDF.langString, XSD.string):
        return str(v.value)
    return str(v)


def compile_constraints(shapes: Graph, node) -> list[Constraint] | None:
    if not at_most_one(shapes, node, SH.flags):
        return None
    flags = shapes.value(node, SH.flags)
    re_flags = 0
    if flags is not None:
        re_flags |= re.I if "i" in str(flags) else 0
        re_flags |= re.M if "m" in str(flags) else 0
    return [Pattern(re.compile(str(p.value) if isinstance(p, Literal) and p.value is not None and len(p.value) > 1
                               else str(p), re_flags))
            for p in shapes.objects(node, SH.pattern)]
