"""Targets: which shapes are top-level, and the focus nodes a shape's targets select."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph
from rdflib.namespace import OWL, RDF, RDFS, SH

from .view import UnionView

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
"""The SHACL Core target predicates."""


def top_level_shapes(shapes: Graph) -> set:
    """The shapes pySHACL validates on their own: those with a target (SHACL-AF ``sh:target``
    included) and the classes that are shapes (implicit class targets)."""
    found = set()
    for predicate in (*TARGETS, SH.target):
        found.update(shapes.subjects(predicate, None))
    for kind in (RDFS.Class, OWL.Class):
        for s in shapes.subjects(RDF.type, kind):
            if (s, RDF.type, SH.NodeShape) in shapes or (s, RDF.type, SH.PropertyShape) in shapes \
                    or (s, SH.property, None) in shapes or (s, SH.path, None) in shapes:
                found.add(s)
    return found


@dataclass
class Target:
    """A shape's SHACL Core targets."""

    classes: list
    nodes: list
    subjects_of: list
    objects_of: list

    @classmethod
    def of(cls, shapes: Graph, shape) -> Target:
        return cls(
            classes=list(shapes.objects(shape, SH.targetClass)),
            nodes=list(shapes.objects(shape, SH.targetNode)),
            subjects_of=list(shapes.objects(shape, SH.targetSubjectsOf)),
            objects_of=list(shapes.objects(shape, SH.targetObjectsOf)),
        )

    def focus_nodes(self, view: UnionView) -> set:
        """The focus nodes: instances of the classes (subclasses included), the nodes, the
        subjects and the objects of the predicates."""
        found = set(self.nodes)
        for cls in self.classes:
            for sub in view.subclasses(cls):
                found.update(view.subjects(RDF.type, sub))
        for p in self.subjects_of:
            found.update(view.by_subject(p).keys())
        for p in self.objects_of:
            found.update(view.by_object(p).keys())
        return found
