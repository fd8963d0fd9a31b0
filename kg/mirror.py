"""The build's graphs mirrored once into an in-memory pyoxigraph store.

A build needs pyoxigraph twice: SHACL validation runs the shapes' SPARQL constraints on it,
and writing dumps graph.nq, data.ttl and the large data.jsonld from it. Converting a million
rdflib triples to pyoxigraph terms and loading them takes seconds and a few hundred
megabytes, so :class:`OxMirror` does it once: each graph goes into its own named graph
(``graph_iri(name)``) as soon as it exists, and both steps read from the same store.

>>> from rdflib import Graph, URIRef
>>> g = Graph(); _ = g.add((URIRef("urn:a"), URIRef("urn:p"), URIRef("urn:b")))
>>> mirror = OxMirror(); mirror.add("data", g); len(mirror.store)
1
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import Graph

from .namespaces import graph_iri
from .store.terms import from_ox, to_ox  # re-exported: the converters live with the store's terms

__all__ = ["OxMirror", "from_ox", "to_ox"]


class OxMirror:
    """An in-memory pyoxigraph store holding some of the build's graphs, each in its named
    graph, and a converter that turns each distinct rdflib term into a pyoxigraph term once."""

    def __init__(self):
        import pyoxigraph as ox

        self.store = ox.Store()
        self.graphs: dict[str, int] = {}
        self._cache: dict = {}

    def term(self, term):
        """``term`` as a pyoxigraph term (converted once, then cached)."""
        found = self._cache.get(term)
        if found is None:
            found = self._cache[term] = to_ox(term)
        return found

    def graph_node(self, name: str):
        import pyoxigraph as ox

        return ox.NamedNode(graph_iri(name))

    def add(self, name: str, graph: Graph | Iterable[tuple]) -> None:
        """Load ``graph``'s triples into the named graph ``name`` (once per name)."""
        import pyoxigraph as ox

        if name in self.graphs:
            raise ValueError(f"graph {name!r} is already in the mirror")
        g = self.graph_node(name)
        convert, count = self.term, 0

        def quads():
            nonlocal count
            for s, p, o in graph:
                count += 1
                yield ox.Quad(convert(s), convert(p), convert(o), g)

        self.store.bulk_extend(quads())
        self.graphs[name] = count

    def forget_terms(self) -> None:
        """Drop the term cache (the store keeps its own copy of every term)."""
        self._cache = {}
