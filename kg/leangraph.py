"""A lean in-memory rdflib Graph for the build: a set of triples with indexes built on demand.

rdflib's default store keeps three nested dictionaries per triple and costs about 1.3 KB a
triple, so a million-triple build would need well over a gigabyte for the data graph alone.
:class:`LeanStore` keeps the triples as one ``set`` of tuples (about 100 bytes a triple
plus the terms) and builds a by-subject, by-predicate or by-object index only when a
pattern first asks for it. :func:`lean_graph` wraps it in a plain :class:`rdflib.Graph`,
so everything that reads a Graph (iteration, ``subjects``/``objects``, ``value``,
``in``, ``serialize``, rdflib's SPARQL engine) works unchanged.

>>> from rdflib import URIRef, Literal
>>> g = lean_graph([(URIRef("urn:a"), URIRef("urn:p"), Literal(1))])
>>> len(g), g.value(URIRef("urn:a"), URIRef("urn:p")).toPython()
(1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import Graph
from rdflib.plugins.stores.memory import SimpleMemory

__all__ = ["LeanStore", "lean_graph", "subject_objects", "triple_set"]

_NO_CONTEXTS = ()
_POSITIONS = {"s": 0, "p": 1, "o": 2}


class LeanStore(SimpleMemory):
    """A context-unaware store holding one set of ``(s, p, o)`` tuples.

    Namespace bindings come from :class:`SimpleMemory`; its nested dictionaries stay empty.
    """

    def __init__(self, triples: Iterable[tuple] = ()):
        super().__init__()
        self._triples: set[tuple] = triples if isinstance(triples, set) else set(triples)
        self._indexes: dict[str, dict] = {}

    # -- indexes ---------------------------------------------------------------------------

    def _index(self, which: str) -> dict:
        index = self._indexes.get(which)
        if index is None:
            position = _POSITIONS[which]
            index = {}
            get = index.get
            for triple in self._triples:
                key = triple[position]
                bucket = get(key)
                if bucket is None:
                    index[key] = [triple]
                else:
                    bucket.append(triple)
            self._indexes[which] = index
        return index

    # -- the Store interface ---------------------------------------------------------------

    def add(self, triple, context=None, quoted=False) -> None:
        if triple in self._triples:
            return
        self._triples.add(triple)
        for which, index in self._indexes.items():
            index.setdefault(triple[_POSITIONS[which]], []).append(triple)

    def addN(self, quads) -> None:  # noqa: N802 - rdflib's name
        for s, p, o, _c in quads:
            self.add((s, p, o))

    def remove(self, triple_pattern, context=None) -> None:
        doomed = [t for t, _ in self.triples(triple_pattern)]
        if not doomed:
            return
        self._triples.difference_update(doomed)
        for which, index in self._indexes.items():
            position = _POSITIONS[which]
            for t in doomed:
                bucket = index.get(t[position])
                if bucket is not None:
                    bucket.remove(t)
                    if not bucket:
                        del index[t[position]]

    def triples(self, triple_pattern, context=None):
        s, p, o = triple_pattern
        if s is not None and p is not None and o is not None:
            if (s, p, o) in self._triples:
                yield (s, p, o), _NO_CONTEXTS
            return
        if s is not None:
            candidates = self._index("s").get(s, ())
        elif o is not None:
            candidates = self._index("o").get(o, ())
        elif p is not None:
            candidates = self._index("p").get(p, ())
        else:
            for t in list(self._triples):
                yield t, _NO_CONTEXTS
            return
        for t in list(candidates):
            if (p is None or t[1] == p) and (o is None or t[2] == o) and (s is None or t[0] == s):
                yield t, _NO_CONTEXTS

    def __len__(self, context=None) -> int:
        return len(self._triples)

    def contexts(self, triple=None):
        return iter(())


def lean_graph(triples: Iterable[tuple] = (), identifier=None) -> Graph:
    """An rdflib Graph over a :class:`LeanStore` holding ``triples`` (a set is taken as is)."""
    return Graph(store=LeanStore(triples), identifier=identifier)


def triple_set(graph: Graph) -> set:
    """The triples of ``graph`` as a set: the store's own set for a lean graph (do not modify)."""
    store = graph.store
    if isinstance(store, LeanStore):
        return store._triples
    return set(graph)


def subject_objects(graph: Graph, predicate) -> Iterable[tuple]:
    """The (subject, object) pairs of ``predicate`` in ``graph``: for a lean graph straight
    from its by-predicate index (no other index is built, no per-triple pattern matching)."""
    store = graph.store
    if isinstance(store, LeanStore):
        return [(t[0], t[2]) for t in store._index("p").get(predicate, ())]
    return graph.subject_objects(predicate)
