"""The graph the core evaluator reads: the data and the ontology as one, without a copy."""

from __future__ import annotations

from collections import defaultdict

from rdflib import Graph
from rdflib.namespace import RDF, RDFS

from ..leangraph import subject_objects
from ..mirror import to_ox as _to_ox


class UnionView:
    """Read-only union of the data and the ontology, with per-predicate indexes and a
    memoised class hierarchy (the merged graph, without copying the data).

    Each index is built on first use, in one pass over the predicate's triples: a constraint
    on a predicate then costs a dictionary look-up per focus node, where a pattern match on
    rdflib's own indexes would cost one per node and graph.
    """

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
        """{subject: its objects} for predicate ``p``."""
        return self._index(self._by_subject, p, True)

    def by_object(self, p) -> dict:
        """{object: its subjects} for predicate ``p``."""
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
        """``cls`` and everything it is transitively rdfs:subClassOf."""
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
        """The node's rdf:types and their superclasses: the classes sh:class sees it in."""
        found = self._types.get(node)
        if found is None:
            acc = set()
            for t in self.objects(node, RDF.type):
                acc |= self.superclasses(t)
            found = self._types[node] = frozenset(acc)
        return found
