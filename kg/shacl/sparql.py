"""SPARQL-based constraints (``sh:sparql`` with ``sh:select``), run on pyoxigraph.

pySHACL pre-binds ``$this`` to each focus node in turn. Run that way (pyoxigraph's
``substitutions``), a constraint costs one query per focus node. When the query allows it
(see :func:`batch_template`), focus nodes go in batches instead, a thousand to a query.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH

from ..iri import is_valid_iri
from ..mirror import from_ox as _from_ox
from ..tokens import Token, tokens
from .report import Result
from .view import UnionView

BATCH = 1000
"""Focus nodes per batched query."""

# Variables pySHACL pre-binds or rewrites in SPARQL constraints besides $this.
_SPARQL_UNSUPPORTED = re.compile(r"[?$](PATH|currentShape|shapesGraph)\b")
_THIS_PROJECTED = re.compile(r"SELECT\s+(?:DISTINCT\s+|REDUCED\s+)?[^{]*?\$this\b", re.I | re.S)
# What SHACL forbids in a query with pre-bound variables (MINUS, VALUES, SERVICE, AS of a
# pre-bound variable), and nested SELECTs, which it allows only when they project $this:
# pySHACL reports the failure where there is one, so the core leaves all of these to it.
# Searched in the raw text, strings and comments included, as pySHACL's own checks are: a
# word that might make pySHACL fail sends the constraint to pySHACL.
_PRE_BINDING_FORBIDDEN = re.compile(
    r"\b(?:MINUS|VALUES|SERVICE)\b|\bAS\s+[?$](?:this|shapesGraph|currentShape)\b", re.I)
_SELECT = re.compile(r"\bSELECT\b", re.I)
# Keywords whose presence anywhere keeps a constraint on one query per focus node: they
# make a query's answer for a batch differ from the union of its answers per focus node
# (sub-queries, aggregates, solution modifiers, its own VALUES or dataset, MINUS, SERVICE).
_BATCH_REFUSED = {"VALUES", "MINUS", "SERVICE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FROM",
                  "COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "BINDINGS"}


@dataclass
class SparqlConstraint:
    """A SPARQL-based constraint, run on pyoxigraph and reported as pySHACL reports it.

    In batches, ``VALUES $this`` binds the batch in every group outside EXISTS, which gives
    each focus node exactly the solutions pre-binding gives, with $this bound to it; the rows
    are then sorted back to their focus nodes."""

    node: object
    text: str
    messages: list
    shape_messages: list
    severity: URIRef
    batch: list[str] | None = None  # the query text around each place a VALUES block goes

    def evaluate(self, view: UnionView, shape, focus_nodes: Iterable) -> Iterable[Result]:
        import pyoxigraph as ox

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
             and is_valid_iri(term.value) else single).append(term)

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
        chunks = [batched[i:i + BATCH] for i in range(0, len(batched), BATCH)]
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
                    raise NotImplementedError  # never compiled: see compile_sparql
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
                messages = [format_message(m, bound) for m in self.messages if m not in self.shape_messages]
                messages += [format_message(m, bound) for m in self.shape_messages]
                yield Result(t or f, p, v, messages, self.severity, shape)


def compile_sparql(shapes: Graph, shape, node) -> SparqlConstraint | None:
    """The constraint ``node`` of ``shape``, or None when the core evaluator cannot run it as
    pySHACL does (pre-bound variables other than $this, $this not projected, what SHACL
    forbids with pre-binding)."""
    selects = list(shapes.objects(node, SH.select))
    if len(selects) != 1 or not isinstance(selects[0], Literal):
        return None
    text = str(selects[0])
    if not _THIS_PROJECTED.search(text) or _SPARQL_UNSUPPORTED.search(text) or \
            _PRE_BINDING_FORBIDDEN.search(text) or len(_SELECT.findall(text)) > 1:
        return None
    prefixes = _sparql_prefixes(shapes, node)
    if prefixes is None:
        return None
    header = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items())
    return SparqlConstraint(
        node=node,
        text=f"{header}\n{text}",
        messages=list(shapes.objects(node, SH.message)),
        shape_messages=list(shapes.objects(shape, SH.message)),
        severity=shapes.value(shape, SH.severity) or SH.Violation,
        batch=batch_template(f"{header}\n{text}"),
    )


def _sparql_prefixes(shapes: Graph, constraint) -> dict[str, str] | None:
    """The PREFIX lines pySHACL prepends: rdf, rdfs, owl, then the sh:declare of sh:prefixes,
    and, as SHACL has it, of the nodes those reach through owl:imports."""
    prefixes = {"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)}
    ontologies = set(shapes.subjects(RDF.type, OWL.Ontology))
    global_declares = {d for o in ontologies for d in shapes.objects(o, SH.declare)}
    holders = list(shapes.objects(constraint, SH.prefixes))
    for holder in holders:
        holders.extend(i for i in shapes.objects(holder, OWL.imports) if i not in holders)
    for holder in holders:
        own = set(shapes.objects(holder, SH.declare))
        declares = own if (own and holder in ontologies) else global_declares | own
        for dec in declares:
            prefix, namespace = shapes.value(dec, SH.prefix), shapes.value(dec, SH.namespace)
            if prefix is None or namespace is None:
                return None
            prefixes[str(prefix)] = str(namespace)
    return prefixes


def batch_template(text: str) -> list[str] | None:
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
    code = list(tokens(text, comments=False))

    selects = [i for i, t in enumerate(code) if t.keyword == "SELECT"]
    if len(selects) != 1:
        return None
    select = selects[0]
    first_brace = next((i for i, t in enumerate(code) if t.kind == "brace"), None)
    if first_brace is None or first_brace < select or code[first_brace].text != "{":
        return None
    after = code[select:]
    if any(t.keyword in _BATCH_REFUSED for t in after):
        return None
    if any(t.keyword == "AS" and n.kind == "var" and n.text[1:] == "this" for t, n in zip(after, after[1:])):
        return None

    # Groups as [end of "{", opened by EXISTS, joins a sub-group, has OPTIONAL or BIND].
    cuts: list[int] = []
    stack: list[list] = []
    previous: Token | None = None
    for i in range(first_brace, len(code)):
        t = code[i]
        if t.kind == "brace" and t.text == "{":
            if stack and stack[-1][1]:
                return None  # a group nested in EXISTS: pre-binding and joining may differ there
            opens_exists = previous is not None and previous.keyword == "EXISTS"
            plain = previous is not None and (previous.text in ("{", "}", ".") or previous.keyword == "UNION")
            if stack and plain and not opens_exists:
                stack[-1][2] = True
            stack.append([t.end, opens_exists, False, False])
        elif t.kind == "brace":
            if not stack:
                return None
            end, in_exists, joins_group, ordered = stack.pop()
            if not in_exists and (not joins_group or ordered):
                cuts.append(end)
            if not stack and i != len(code) - 1:
                return None  # something after the WHERE clause
        elif stack and t.keyword in ("OPTIONAL", "BIND"):
            stack[-1][3] = True
        previous = t
    if stack or not cuts:
        return None
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(text[start:cut] + " ")
        start = cut
    pieces.append(" " + text[start:])
    return pieces


def format_message(message: Literal, bound: dict) -> Literal:
    """pySHACL's {?var} / {$var} substitution (plain text, language dropped, as it does)."""
    text = str(message.value) if isinstance(message, Literal) and message.value is not None else str(message)
    for var, val in {k: v for k, v in bound.items() if v is not None}.items():
        text = re.sub("{{[?$]{}}}".format(var), str(val), text)
    return Literal(text)
