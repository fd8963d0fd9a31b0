"""SHACL property paths: the ones the core evaluator follows, and every one as text."""

from __future__ import annotations

from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH


def parse_path(shapes: Graph, path) -> list[tuple[URIRef, bool]] | None:
    """A predicate path, an inverse path, or alternatives of those, as [(predicate, inverse)];
    None for any other path (sequences, ``*``, ``+``, ``?``), which the core leaves to pySHACL."""
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
            parsed = parse_path(shapes, member)
            if parsed is None or len(parsed) != 1:
                return None
            out.extend(parsed)
        return out or None
    return None


def path_str(graph: Graph, path) -> str | None:
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
        return "^" + path_str(graph, inverse)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(path_str(graph, p) for p in Collection(graph, alternatives))
    if graph.value(path, RDF.first) is not None:
        return "/".join(path_str(graph, p) for p in Collection(graph, path))
    for modifier, mark in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = graph.value(path, modifier)
        if inner is not None:
            return f"({path_str(graph, inner)}){mark}"
    return f"_:{path}" if isinstance(path, BNode) else str(path)
