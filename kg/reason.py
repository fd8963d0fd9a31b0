"""OWL reasoning over the ontology and the data: consistency, the resources to blame, inferred types.

HermiT (through owlready2) is the reasoner when ``java`` is found; OWL-RL (owlrl) runs
instead without it, and the result says so.

Two strategies give the same answer on the constructs the ontology uses (subclass chains,
defined classes as intersections of named classes, disjoint classes, domains and ranges,
functional properties, different individuals); ``tests/test_reason.py`` compares them:

- ``naive``: the reasoner runs on ontology + data. Exact for any OWL 2 DL ontology, but
  HermiT needs minutes on a million triples.
- ``scalable``: the reasoner classifies the ontology alone (TBox and concept schemes) once;
  Python then applies the classified hierarchy to the data: each individual gets the
  superclasses of its asserted types and of the domains and ranges of the properties it
  uses, the defined classes (``D ≡ C1 ⊓ … ⊓ Cn``) apply as rules until nothing changes, and
  the checks that can make this ontology inconsistent run on the result (disjoint classes
  sharing an individual, two known-different values of a functional property).

``strategy="auto"`` takes the naive path up to ``NAIVE_LIMIT`` data triples.
"""

from __future__ import annotations

import io
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, XSD

from .errors import ReasonerError
from .leangraph import lean_graph, triple_set
from .namespaces import bind_prefixes
from .provenance import Origin

__all__ = ["ReasoningResult", "reason", "NAIVE_LIMIT"]

NAIVE_LIMIT = 50_000
"""Above this many data triples ``strategy="auto"`` takes the scalable path."""

MAX_EXPLANATION_CALLS = 12
"""Most reasoner runs spent looking for the resources behind an inconsistency."""

# The OWL 2 datatype map (OWL 2 Syntax, section 4). HermiT rejects anything else;
# xsd:gYear, xsd:gYearMonth and xsd:date are not in it.
OWL2_DATATYPES = frozenset(
    [RDF.PlainLiteral, RDF.XMLLiteral, RDF.langString, RDFS.Literal, OWL.real, OWL.rational]
    + [XSD[n] for n in (
        "decimal integer nonNegativeInteger nonPositiveInteger positiveInteger negativeInteger "
        "long int short byte unsignedLong unsignedInt unsignedShort unsignedByte double float "
        "string normalizedString token language Name NCName NMTOKEN boolean hexBinary "
        "base64Binary anyURI dateTime dateTimeStamp").split()]
)


@dataclass
class ReasoningResult:
    """What :func:`reason` found.

    ``inferred`` holds the ``rdf:type`` triples of the individuals under the base IRI that
    the reasoner adds to what is asserted (every named superclass, not ``owl:Thing``).
    ``culprits`` are the IRIs of the resources whose statements make the graph
    inconsistent; ``locations`` the case-file rows they came from, where known.
    """

    consistent: bool
    reasoner: str  # "hermit" | "owlrl"
    inferred: Graph
    culprits: list[str]
    elapsed: float
    message: str
    strategy: str = "naive"  # "naive" | "scalable"
    locations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "consistent": self.consistent,
            "reasoner": self.reasoner,
            "strategy": self.strategy,
            "inferred_triples": len(self.inferred),
            "culprits": list(self.culprits),
            "locations": list(self.locations),
            "elapsed": round(self.elapsed, 3),
            "message": self.message,
        }


def reason(
    ontology: Graph,
    data: Graph,
    settings,
    *,
    origins: Mapping[str, Origin] | None = None,
    strategy: str = "auto",
    namespaces: tuple[str, ...] = (),
) -> ReasoningResult:
    """Check ``ontology`` + ``data`` for consistency and compute the inferred types.

    ``settings.reasoner`` chooses HermiT or OWL-RL ("auto": HermiT when ``settings.java`` is
    on PATH); ``strategy`` is "auto", "naive" or "scalable". ``namespaces``: the studies' IRI
    namespaces, whose individuals are typed as those under the base IRI are.

    :raises ReasonerError: when HermiT was asked for and cannot run.
    """
    if strategy not in ("auto", "naive", "scalable"):
        raise ValueError(f"strategy must be 'auto', 'naive' or 'scalable', got {strategy!r}")
    started = time.perf_counter()
    reasoner, java, note = _choose_reasoner(settings)
    if strategy == "auto":
        strategy = "naive" if len(data) <= NAIVE_LIMIT else "scalable"
    engine = _Engine(reasoner, java)
    tbox = _TBox(ontology)
    # the individuals are those of the case data: under the base IRI, or a study's namespace
    base = (str(settings.base_iri), *namespaces)

    ontology_alone = engine.classify(ontology)
    if ontology_alone is None:
        return _result(False, reasoner, Graph(), [], started,
                       "The ontology itself is inconsistent, without any data: check its "
                       "disjointness and equivalence axioms.", strategy, origins, note)

    if strategy == "naive":
        closed = engine.run(_union(ontology, data))
        if closed is not None:
            types = closed.individual_types(base)
            # OWL-RL misses some clashes HermiT finds (owl:AllDifferent with distinctMembers
            # after a functional property merges two values): the checks fill the gap.
            if reasoner == "hermit" or not _clashes(tbox, types, data, ontology):
                return _consistent(tbox, ontology, data, types, reasoner, started, strategy, note)
    else:
        types = _apply(tbox, ontology_alone, data, base)
        if not _clashes(tbox, types, data, ontology):
            return _consistent(tbox, ontology, data, types, reasoner, started, strategy, note)

    # Inconsistent: name the resources to blame.
    types = _apply(tbox, ontology_alone, data, base)
    clashes = _clashes(tbox, types, data, ontology)
    if clashes:
        culprits = sorted({iri for clash in clashes for iri in clash.iris})
        sentences = [clash.sentence(origins or {}) for clash in clashes]
    else:
        culprits = engine.explain(ontology, data)
        sentences = [_blame(culprits, origins or {})]
    message = "The ontology and the data are inconsistent: " + " ".join(sentences)
    return _result(False, reasoner, Graph(), culprits, started, message, strategy, origins, note)


# --- choosing and running a reasoner ------------------------------------------------------


def _choose_reasoner(settings) -> tuple[str, str | None, str]:
    wanted = settings.reasoner
    if wanted == "owlrl":
        return "owlrl", None, "OWL-RL (KG_REASONER=owlrl)"
    java = shutil.which(settings.java)
    if java is None:
        if wanted == "hermit":
            raise ReasonerError(
                f"KG_REASONER=hermit, but {settings.java!r} was not found on PATH: install Java "
                "or set KG_JAVA to the java executable (or KG_REASONER=owlrl)."
            )
        return "owlrl", None, f"{settings.java} not found on PATH: used OWL-RL instead of HermiT"
    return "hermit", java, "HermiT"


class _Engine:
    """Runs one reasoner on a graph; ``None`` means inconsistent."""

    def __init__(self, reasoner: str, java: str | None):
        self.reasoner, self.java = reasoner, java
        self.calls = 0

    def run(self, graph: Graph) -> "_Closed | None":
        self.calls += 1
        return _run_hermit(graph, self.java) if self.reasoner == "hermit" else _run_owlrl(graph)

    def classify(self, ontology: Graph) -> "_Closed | None":
        return self.run(ontology)

    def explain(self, ontology: Graph, data: Graph) -> list[str]:
        """Explanation by removal: the fewest subjects whose statements, with the ontology,
        are inconsistent, found by halving; stops after MAX_EXPLANATION_CALLS runs."""
        by_subject: dict = defaultdict(list)
        for t in data:
            by_subject[t[0]].append(t)
        suspects = sorted(by_subject, key=str)

        def inconsistent(subjects) -> bool:
            g = Graph()
            g += ontology
            for s in subjects:
                for t in by_subject[s]:
                    g.add(t)
            return self.run(g) is None

        budget = MAX_EXPLANATION_CALLS
        while len(suspects) > 1 and budget >= 2:
            half = len(suspects) // 2
            first, second = suspects[:half], suspects[half:]
            budget -= 1
            if inconsistent(first):
                suspects = first
                continue
            budget -= 1
            if inconsistent(second):
                suspects = second
                continue
            break  # the clash needs statements from both halves: keep them all
        return [str(s) for s in suspects if isinstance(s, URIRef)]


def _owl2_only(graph: Graph) -> Graph:
    """A copy HermiT accepts: literals outside the OWL 2 datatype map are dropped.

    Dates by precision (xsd:gYear, xsd:gYearMonth, xsd:date) are rejected by HermiT; the
    ontology states no axioms about their values (the integer hscp:startYear/endYear carry
    what reasoning could use), so dropping them changes no inference.
    """
    out = Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype is not None and o.datatype not in OWL2_DATATYPES:
            continue
        if p == RDFS.range and isinstance(o, URIRef) and str(o).startswith(str(XSD)) \
                and o not in OWL2_DATATYPES:
            continue
        out.add((s, p, o))
    return out


def _run_hermit(graph: Graph, java: str) -> "_Closed | None":
    import owlready2

    owlready2.JAVA_EXE = java
    world = owlready2.World()  # fresh per call: nothing leaks between runs
    try:
        nt = _owl2_only(graph).serialize(format="nt", encoding="utf-8")
        # owlready2 reads N-Triples or RDF/XML; format="turtle" would load nothing, silently.
        world.get_ontology("urn:x-kg:reasoning#").load(fileobj=io.BytesIO(nt), format="ntriples")
        try:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return None
        except owlready2.OwlReadyJavaError as error:
            raise ReasonerError(f"HermiT failed to run: {str(error).strip()[:500]}") from None
        out = Graph()
        for p in (RDF.type, RDFS.subClassOf, OWL.equivalentClass):
            for s, o in world.as_rdflib_graph().subject_objects(p):
                if isinstance(s, URIRef) and isinstance(o, URIRef):
                    out.add((s, p, o))
        return _Closed(out)
    finally:
        world.close()


def _run_owlrl(graph: Graph) -> "_Closed | None":
    import owlrl
    from owlrl.Namespaces import ERRNS

    # Expanded in place, but on a private copy: owlrl 7.6's destination= mode reads only
    # the source graph, so a two-step chain (x ∈ C1 ⊓ C2, then x ∈ D ≡ C1 ⊓ C2) never
    # completes there. The input stays as it was; the reflexive owl:sameAs triples OWL-RL
    # adds for every resource are dropped below (only class triples are kept).
    closure = Graph()
    closure += graph
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closure)
    if (None, RDF.type, ERRNS.ErrorMessage) in closure:
        return None
    out = Graph()
    for p in (RDF.type, RDFS.subClassOf, OWL.equivalentClass):
        for s, o in closure.subject_objects(p):
            if isinstance(s, URIRef) and isinstance(o, URIRef) and s != o:
                out.add((s, p, o))
    return _Closed(out)


class _Closed:
    """The named-class hierarchy and class assertions a reasoner returned."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.parents: dict = defaultdict(set)
        for s, o in graph.subject_objects(RDFS.subClassOf):
            self.parents[s].add(o)
        for s, o in graph.subject_objects(OWL.equivalentClass):
            self.parents[s].add(o)
            self.parents[o].add(s)
        self._supers: dict = {}

    def supers(self, cls) -> frozenset:
        """``cls`` and all its named superclasses (equivalents included), transitively."""
        found = self._supers.get(cls)
        if found is None:
            seen, todo = {cls}, [cls]
            while todo:
                for p in self.parents.get(todo.pop(), ()):
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
            found = self._supers[cls] = frozenset(seen)
        return found

    def individual_types(self, base: str | tuple[str, ...]) -> dict:
        types: dict = defaultdict(set)
        for s, o in self.graph.subject_objects(RDF.type):
            if str(s).startswith(base):
                types[s] |= self.supers(o)
        return types


# --- the scalable path ------------------------------------------------------------------


class _TBox:
    """The axioms of the ontology the scalable path applies and checks, read once."""

    def __init__(self, ontology: Graph):
        g = ontology
        self.classes = {c for k in (OWL.Class, RDFS.Class) for c in g.subjects(RDF.type, k)
                        if isinstance(c, URIRef)}
        self.intersections: list[tuple[URIRef, frozenset]] = []
        for d, expr in g.subject_objects(OWL.equivalentClass):
            for a, b in ((d, expr), (expr, d)):
                members = g.value(b, OWL.intersectionOf) if isinstance(b, BNode) else None
                if isinstance(a, URIRef) and members is not None:
                    parts = list(Collection(g, members))
                    if all(isinstance(p, URIRef) for p in parts):
                        self.intersections.append((a, frozenset(parts)))
        self.disjoint: set[frozenset] = set()
        for a, b in g.subject_objects(OWL.disjointWith):
            self.disjoint.add(frozenset((a, b)))
        for node in g.subjects(RDF.type, OWL.AllDisjointClasses):
            members = list(Collection(g, g.value(node, OWL.members)))
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    self.disjoint.add(frozenset((a, b)))
        self.functional = set(g.subjects(RDF.type, OWL.FunctionalProperty))
        self.different: set[frozenset] = set()
        for node in g.subjects(RDF.type, OWL.AllDifferent):
            lst = g.value(node, OWL.distinctMembers) or g.value(node, OWL.members)
            members = list(Collection(g, lst)) if lst is not None else []
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    self.different.add(frozenset((a, b)))
        for a, b in g.subject_objects(OWL.differentFrom):
            self.different.add(frozenset((a, b)))
        # Domains and ranges, inherited down rdfs:subPropertyOf and across owl:inverseOf.
        self.domains: dict = defaultdict(set)
        self.ranges: dict = defaultdict(set)
        props = set(g.subjects(RDFS.domain, None)) | set(g.subjects(RDFS.range, None)) \
            | set(g.subjects(RDFS.subPropertyOf, None)) | set(g.subjects(OWL.inverseOf, None)) \
            | set(g.objects(None, OWL.inverseOf))
        for p in props:
            for sup in g.transitive_objects(p, RDFS.subPropertyOf):
                self.domains[p] |= {c for c in g.objects(sup, RDFS.domain) if isinstance(c, URIRef)}
                self.ranges[p] |= {c for c in g.objects(sup, RDFS.range) if isinstance(c, URIRef)}
        for p, q in list(g.subject_objects(OWL.inverseOf)):
            for a, b in ((p, q), (q, p)):
                for sup in g.transitive_objects(b, RDFS.subPropertyOf):
                    self.domains[a] |= {c for c in g.objects(sup, RDFS.range) if isinstance(c, URIRef)}
                    self.ranges[a] |= {c for c in g.objects(sup, RDFS.domain) if isinstance(c, URIRef)}
        self.domains = {p: c for p, c in self.domains.items() if c}
        self.ranges = {p: c for p, c in self.ranges.items() if c}


def _apply(tbox: _TBox, classified: _Closed, data: Graph, base: str | tuple[str, ...]) -> dict:
    """Types of every individual under ``base``: asserted, from domains and ranges, from
    the ontology's own classification, closed upwards; then the defined classes."""
    asserted: dict = defaultdict(set)
    for s, o in classified.individual_types(base).items():
        asserted[s] |= o
    rdf_type = RDF.type
    triples = triple_set(data)
    domains, ranges = tbox.domains, tbox.ranges
    for s, p, o in triples:
        if p == rdf_type:
            asserted[s].add(o)
        if p in domains:
            asserted[s].update(domains[p])
        if p in ranges and not isinstance(o, Literal):
            asserted[o].update(ranges[p])
    types: dict = {}
    supers = classified.supers
    for ind, direct in asserted.items():
        if isinstance(ind, BNode) or not str(ind).startswith(base):
            continue
        closed = set()
        for c in direct:
            closed |= supers(c)
        changed = True
        while changed:
            changed = False
            for defined, parts in tbox.intersections:
                if defined not in closed and parts <= closed:
                    closed |= supers(defined)
                    changed = True
        types[ind] = closed
    return types


@dataclass
class _Clash:
    iris: list[str]
    kind: str
    detail: tuple

    def sentence(self, origins: Mapping[str, Origin]) -> str:
        g = Graph()
        bind_prefixes(g)
        q = lambda term: g.namespace_manager.normalizeUri(term) if isinstance(term, URIRef) else str(term)  # noqa: E731
        who = _where(self.iris[0], origins)
        if self.kind == "disjoint":
            a, b = sorted(self.detail, key=str)
            return f"{who} is both {_article(q(a))} and {_article(q(b))}, which are disjoint."
        if self.kind == "unsatisfiable":
            return f"{who} is {_article(q(self.detail[0]))}, a class that can have no members."
        prop, values = self.detail
        listed = " and ".join(q(v) for v in values)
        return (f"{who} has {len(values)} different values of the functional property "
                f"{q(prop)}: {listed}; it allows one.")


def _article(curie: str) -> str:
    return ("an " if curie[:1].lower() in "aeiou" else "a ") + curie


def _where(iri: str, origins: Mapping[str, Origin]) -> str:
    origin = origins.get(iri)
    return f"<{iri}> ({origin})" if origin is not None else f"<{iri}>"


def _blame(culprits: list[str], origins: Mapping[str, Origin]) -> str:
    if not culprits:
        return "the resources involved could not be narrowed down."
    named = ", ".join(_where(c, origins) for c in culprits[:10])
    more = f" and {len(culprits) - 10} more" if len(culprits) > 10 else ""
    return f"the statements about {named}{more} cannot all be true together."


def _clashes(tbox: _TBox, types: dict, data: Graph, ontology: Graph) -> list[_Clash]:
    clashes: list[_Clash] = []
    nothing = OWL.Nothing
    # Only an individual with two classes that appear in some disjointness can clash.
    disjoint_classes = frozenset(c for pair in tbox.disjoint for c in pair)
    for ind, closed in types.items():
        if nothing in closed or len(disjoint_classes.intersection(closed)) > 1:
            break
    else:
        closed = None
    if closed is not None:  # some individual may clash: check them all, in order
        for ind in sorted(types, key=str):
            closed = types[ind]
            if nothing in closed:
                clashes.append(_Clash([str(ind)], "unsatisfiable", (nothing,)))
                continue
            if len(disjoint_classes.intersection(closed)) < 2:
                continue
            for pair in tbox.disjoint:
                if pair <= closed:
                    clashes.append(_Clash([str(ind)], "disjoint", tuple(pair)))
    for prop in sorted(tbox.functional, key=str):
        values: dict = defaultdict(set)
        for g in (data, ontology):
            for s, o in g.subject_objects(prop):
                values[s].add(o)
        for s in sorted(values, key=str):
            vals = sorted(values[s], key=str)
            if len(vals) < 2:
                continue
            if _distinct(tbox, types, vals):
                clashes.append(_Clash([str(s)], "functional", (prop, tuple(vals))))
    return clashes


def _distinct(tbox: _TBox, types: dict, values: list) -> bool:
    """Whether two of the values are known to be different individuals (or data values)."""
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            if isinstance(a, Literal) or isinstance(b, Literal):
                if isinstance(a, Literal) and isinstance(b, Literal) and a.eq(b) is not True:
                    return True
                continue
            if frozenset((a, b)) in tbox.different:
                return True
            merged = set(types.get(a, ())) | set(types.get(b, ()))
            if any(pair <= merged for pair in tbox.disjoint):
                return True
    return False


# --- results ----------------------------------------------------------------------------


def _union(*graphs: Graph) -> Graph:
    out = Graph()
    for g in graphs:
        out += g
    return out


def _consistent(tbox, ontology, data, types, reasoner, started, strategy, note) -> ReasoningResult:
    rdf_type, thing, classes_ = RDF.type, OWL.Thing, tbox.classes
    asserted, axioms = triple_set(data), set(ontology)
    triples = set()
    for ind, classes in types.items():
        for c in classes:
            if c in classes_ and c != thing:
                t = (ind, rdf_type, c)
                if t not in asserted and t not in axioms:
                    triples.add(t)
    inferred = lean_graph(triples)
    bind_prefixes(inferred)
    message = f"consistent ({note}, {strategy}): {len(inferred)} inferred types"
    return _result(True, reasoner, inferred, [], started, message, strategy, None, note)


def _result(consistent, reasoner, inferred, culprits, started, message, strategy, origins, note):
    if reasoner == "owlrl" and note not in message:
        message = f"{message} [{note}]"
    origins = origins or {}
    locations = [str(origins[c]) for c in culprits if c in origins]
    return ReasoningResult(
        consistent=consistent,
        reasoner=reasoner,
        inferred=inferred,
        culprits=list(culprits),
        elapsed=time.perf_counter() - started,
        message=message,
        strategy=strategy,
        locations=locations,
    )

