"""An upper bound on the work a query can do, from its shape and the graph's degrees.

A query may run in the web process, with no worker round trip, only when it is proven cheap:
pyoxigraph cannot be interrupted, so a query started there must end quickly for *every* value
its parameters may take. This module gives that proof. :func:`shape` reduces a query's algebra
(rdflib's translation) to a small tree once per query text; :func:`work_bound` then computes,
for a set of variables the caller binds, an upper bound on the solutions the evaluation can
produce along the way, from the graph's :class:`Degrees`:

- a triple pattern whose subject is bound yields at most the largest number of triples one
  subject has (with that predicate, when the predicate is a constant); whose object is bound,
  the same for objects; with nothing bound, every triple (with that predicate);
- a basic graph pattern is evaluated pattern by pattern, the cheapest bound pattern first, each
  solution so far binding the next (the order pyoxigraph's optimiser chooses from bound terms);
- an OPTIONAL or a join evaluates its right side once per solution of its left side, with the
  left side's variables bound (a hash join that evaluates its right side unbound can cost more:
  that is why the store also requires a query to have *run* quickly before it is taken in
  process; pyoxigraph plans from the query's shape, not from the values, so that measurement
  holds for every value);
- UNION adds, VALUES counts its rows; FILTER, BIND, projection, DISTINCT, ORDER BY, LIMIT,
  GROUP BY and aggregates work on what their pattern produced;
- what the model does not cover (property paths, EXISTS, MINUS, SERVICE, a nested query form it
  does not know) makes the bound infinite.

The bound uses the most triples of any one subject or object, so a hub (a class with a hundred
thousand instances) never passes for cheap when the query looks it up by object.

>>> d = Degrees(triples=1000, out_any=20, in_any=500, out_p={"urn:p": 3}, in_p={"urn:p": 400}, count_p={"urn:p": 900})
>>> s = Shape.bgp([("?s", "urn:p", "?o")])
>>> work_bound(s, {"s"}, d), work_bound(s, {"o"}, d), work_bound(s, set(), d)
(3.0, 400.0, 900.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

from .tokens import CONSTANT

__all__ = ["Degrees", "Shape", "shape", "work_bound", "degrees_of"]

INFINITE = math.inf


@dataclasses.dataclass(frozen=True)
class Degrees:
    """The graph's largest fan-outs, over every named graph (a triple in two graphs counts twice)."""

    triples: int
    out_any: int  # the most triples one subject has
    in_any: int  # the most triples one object has
    out_p: Mapping[str, int]  # per predicate: the most triples one subject has with it
    in_p: Mapping[str, int]  # per predicate: the most triples one object has with it
    count_p: Mapping[str, int]  # per predicate: its triples


def degrees_of(store) -> Degrees:
    """The :class:`Degrees` of a pyoxigraph store (four aggregate queries: about 3 s at 1M triples)."""
    import pyoxigraph as ox

    def rows(text: str) -> list[tuple]:
        # predicates as IRIs, counts as ints; MAX over no rows is unbound (None)
        return [tuple(None if t is None else int(t.value) if isinstance(t, ox.Literal) else t.value for t in row)
                for row in store.query(text)]

    per_p = rows("SELECT ?p (MAX(?c) AS ?m) (SUM(?c) AS ?t) WHERE { SELECT ?s ?p (COUNT(*) AS ?c) "
                 "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?s ?p } GROUP BY ?p")
    in_p = rows("SELECT ?p (MAX(?c) AS ?m) WHERE { SELECT ?o ?p (COUNT(*) AS ?c) "
                "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?o ?p } GROUP BY ?p")
    out_any = rows("SELECT (MAX(?c) AS ?m) WHERE { SELECT ?s (COUNT(*) AS ?c) "
                   "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?s }")
    in_any = rows("SELECT (MAX(?c) AS ?m) WHERE { SELECT ?o (COUNT(*) AS ?c) "
                  "WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?o }")
    count_p = {p: t for p, _m, t in per_p}
    return Degrees(
        triples=sum(count_p.values()),
        out_any=out_any[0][0] or 0,
        in_any=in_any[0][0] or 0,
        out_p={p: m for p, m, _t in per_p},
        in_p=dict(in_p),
        count_p=count_p,
    )


@dataclasses.dataclass(frozen=True)
class Shape:
    """One node of a query's shape: ``kind`` and its parts.

    Terms are ``"?name"`` for a variable and the IRI or literal text for a constant.
    """

    kind: str  # bgp | join | optional | union | values | pass | extend | graph | unbounded
    parts: tuple = ()
    triples: tuple = ()
    rows: int = 0
    var: str | None = None
    names: tuple[str, ...] = ()  # the variables a VALUES block binds

    @staticmethod
    def bgp(triples: Iterable[tuple[str, str, str]]) -> "Shape":
        return Shape("bgp", triples=tuple(tuple(t) for t in triples))


_PASS = {"Project", "Distinct", "Reduced", "Slice", "OrderBy", "Filter", "Group", "AggregateJoin",
         "ToMultiSet", "SelectQuery", "AskQuery", "ConstructQuery", "DescribeQuery", "SubSelect"}


def shape(algebra) -> Shape:
    """The shape of an rdflib algebra tree (``translateQuery(tree).algebra``)."""
    from rdflib.paths import Path
    from rdflib.plugins.sparql.parserutils import CompValue
    from rdflib.term import Variable

    def term(t) -> str | None:
        if isinstance(t, Variable):
            return "?" + str(t)
        if isinstance(t, Path):
            return None
        return str(t)

    def has_pattern(expr) -> bool:
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, CompValue):
                if node.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                    return True
                stack.extend(node.values())
            elif isinstance(node, (list, tuple)):
                stack.extend(node)
        return False

    def walk(node) -> Shape:
        if not isinstance(node, CompValue):
            return Shape("unbounded")
        name = node.name
        if name == "BGP":
            triples = []
            for s, p, o in node.get("triples") or ():
                parts = (term(s), term(p), term(o))
                if None in parts:
                    return Shape("unbounded")  # a property path
                triples.append(parts)
            return Shape.bgp(triples)
        if name == "Join":
            return Shape("join", (walk(node["p1"]), walk(node["p2"])))
        if name == "LeftJoin":
            if has_pattern(node.get("expr")):
                return Shape("unbounded")
            return Shape("optional", (walk(node["p1"]), walk(node["p2"])))
        if name == "Union":
            return Shape("union", (walk(node["p1"]), walk(node["p2"])))
        if name == "values":
            rows = node.get("res") or []
            # bound only where every row binds it: an UNDEF (rdflib writes the plain str 'UNDEF',
            # never an rdflib term) leaves the pattern it joins to scan
            bound_by_row = [{str(v) for v, t in row.items() if t is not None and type(t) is not str} for row in rows]
            names = sorted(set.intersection(*bound_by_row)) if rows else []
            return Shape("values", rows=len(rows), names=tuple(names))
        if name == "Extend":
            if has_pattern(node.get("expr")):
                return Shape("unbounded")
            return Shape("extend", (walk(node["p"]),), var=str(node["var"]))
        if name == "Graph":
            return Shape("graph", (walk(node["p"]),), var=term(node["term"]))
        if name in _PASS:
            if name == "Filter" and has_pattern(node.get("expr")):
                return Shape("unbounded")
            return Shape("pass", (walk(node["p"]),))
        return Shape("unbounded")  # Minus, a path, SERVICE, anything the model does not know

    return walk(algebra)


def _pattern_factor(triple: tuple[str, str, str], bound: set[str], d: Degrees, constants: tuple[str, ...]) -> float:
    s, p, o = triple
    if p.startswith(CONSTANT):  # a placeholder of kg.tokens.iri_template: the query's own IRI
        p = constants[int(p[len(CONSTANT):])]

    def is_bound(t: str) -> bool:
        return not t.startswith("?") or t[1:] in bound

    p_const = None if p.startswith("?") and p[1:] not in bound else (p if not p.startswith("?") else None)
    if p_const is not None:
        if p_const not in d.count_p:
            return 0
        candidates = [d.count_p[p_const]]
        if is_bound(s):
            candidates.append(d.out_p.get(p_const, 0))
        if is_bound(o):
            candidates.append(d.in_p.get(p_const, 0))
        return min(candidates)
    candidates = [d.triples]
    if is_bound(s):
        candidates.append(d.out_any)
    if is_bound(o):
        candidates.append(d.in_any)
    return min(candidates)


def _variables(triple) -> set[str]:
    return {t[1:] for t in triple if t.startswith("?")}


def _bound(node: Shape, bound: set[str], d: Degrees, c: tuple[str, ...]) -> tuple[float, float, set[str]]:
    """(solutions, work, variables bound after) for ``node`` evaluated with ``bound`` bound."""
    kind = node.kind
    if kind == "bgp":
        left = list(node.triples)
        have = set(bound)
        n, work = 1.0, 0.0
        while left:
            best = min(left, key=lambda t: _pattern_factor(t, have, d, c))
            n *= _pattern_factor(best, have, d, c)
            work += n
            have |= _variables(best)
            left.remove(best)
        return n, work, have
    if kind in ("join", "optional"):
        na, wa, after_a = _bound(node.parts[0], bound, d, c)
        nb, wb, after_b = _bound(node.parts[1], after_a, d, c)
        n = na * nb if kind == "join" else na * max(nb, 1.0)
        return n, wa + na * wb + n, after_b
    if kind == "union":
        na, wa, after_a = _bound(node.parts[0], bound, d, c)
        nb, wb, after_b = _bound(node.parts[1], bound, d, c)
        return na + nb, wa + wb, after_a & after_b
    if kind == "values":
        return float(node.rows), float(node.rows), set(bound) | set(node.names)
    if kind == "extend":
        n, w, after = _bound(node.parts[0], bound, d, c)
        return n, w, after | {node.var}
    if kind == "graph":
        n, w, after = _bound(node.parts[0], bound, d, c)
        return n, w, after | ({node.var[1:]} if node.var and node.var.startswith("?") else set())
    if kind == "pass":
        return _bound(node.parts[0], bound, d, c)
    return INFINITE, INFINITE, set(bound)


def work_bound(node: Shape, bound: Iterable[str], degrees: Degrees, constants: tuple[str, ...] = ()) -> float:
    """The most solutions evaluating ``node`` can produce on the way, ``bound`` variables given.

    ``constants``: the IRIs that the placeholders of an IRI template stand for (see
    :func:`kg.tokens.iri_template`), in order.
    """
    return _bound(node, set(bound), degrees, constants)[1]
