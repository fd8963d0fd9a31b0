"""Two builds compared: ``kg diff OLD_BUILD NEW_BUILD`` (what a release changes).

A *claim* is a case-data row's resource: a subject of the data graphs (``graph/data`` and every
``graph/study/ID``) that :func:`kg.export.table_of` knows and that is typed there. Its triples are
those with it as subject, together with those of its hash parts (``IRI#period``, ``IRI#start``,
...). A claim is *added* when only the new build has it, *removed* when only the old one has it,
and *changed* when both have it with different triples (the properties whose values differ are
listed). The inferred and metadata graphs hold no claims.

Each claim is grouped by its table and by its jurisdictions: its own (``hscp:jurisdiction``,
``hscp:coversJurisdiction``, or the jurisdiction itself), else those of what it is about
(``hscp:about``, ``org:organization``, ``hscp:conflictingClaim``, a change's organisations), else
those its ``hscp:evaluation`` covers, else ``none``; read from the new build, and from the old one
for removed claims. Ontology terms of the hscp namespace declared in the ontology graph are
compared too: added, removed, and newly ``owl:deprecated``.

Blank nodes are compared by their labels in graph.nq: the mapping writes none into the data.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path

from .errors import UsageError
from .export import table_of
from .namespaces import GRAPH_BASE, HSCP_IRI, ONTOLOGY_IRI, PREFIXES, STUDY_GRAPH, graph_iri

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OWL = "http://www.w3.org/2002/07/owl#"
DCT_IS_REPLACED_BY = "http://purl.org/dc/terms/isReplacedBy"
ORG = "http://www.w3.org/ns/org#"
TERM_TYPES = frozenset({OWL + "Class", OWL + "ObjectProperty", OWL + "DatatypeProperty", OWL + "AnnotationProperty",
                        "http://www.w3.org/1999/02/22-rdf-syntax-ns#Property"})
NONE = "none"
"""The jurisdiction group of a claim that no jurisdiction can be found for."""

_OWN_PLACES = (HSCP_IRI + "jurisdiction", HSCP_IRI + "coversJurisdiction")
_POINTS_AT = (HSCP_IRI + "about", ORG + "organization", HSCP_IRI + "conflictingClaim",
              ORG + "originalOrganization", ORG + "resultingOrganization")
_EVALUATION = HSCP_IRI + "evaluation"
_KINDS = ("added", "removed", "changed")

Triple = tuple[str, str, str]
"""(part, predicate, object): part is "" for the claim itself or "#fragment" for a hash part; the
predicate an IRI; the object in N-Triples syntax."""


# --- one build, read ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Build:
    folder: Path
    claims: dict[str, frozenset[Triple]]
    terms: dict[str, bool]  # hscp term IRI -> owl:deprecated true
    replaced_by: dict[str, list[str]]
    version: str | None
    ontology_version: str | None
    built: str | None

    def refs(self, iri: str, predicate: str) -> list[str]:
        """The IRIs the claim points at with ``predicate``."""
        return sorted(o[1:-1] for part, p, o in self.claims.get(iri, ()) if not part and p == predicate
                      and o.startswith("<"))

    def info(self) -> dict:
        return {"build": str(self.folder), "version": self.version, "ontology_version": self.ontology_version,
                "built": self.built}


def _read(folder: Path, which: str) -> _Build:
    import pyoxigraph as ox

    folder = Path(folder)
    path = folder / "graph.nq"
    if not path.is_file():
        where = "no such folder" if not folder.exists() else "it holds no graph.nq"
        raise UsageError(f"kg diff: {which} build {folder} is not a build ({where}): "
                         f"run kg build --out {folder} first")
    data_graph, study_graphs, ontology_graph = graph_iri("data"), GRAPH_BASE + STUDY_GRAPH, graph_iri("ontology")
    own: dict[str, set[Triple]] = defaultdict(set)
    parts: dict[str, set[Triple]] = defaultdict(set)
    typed: set[str] = set()
    declared: set[str] = set()
    deprecated: set[str] = set()
    replaced_by: dict[str, list[str]] = defaultdict(list)
    ontology_version = None
    try:
        for quad in ox.parse(path=path, format=ox.RdfFormat.N_QUADS):
            graph = quad.graph_name
            if not isinstance(graph, ox.NamedNode) or not isinstance(quad.subject, ox.NamedNode):
                continue
            graph, subject, predicate, obj = graph.value, quad.subject.value, quad.predicate.value, quad.object
            if graph == data_graph or graph.startswith(study_graphs):
                iri, hash_, fragment = subject.partition("#")
                if hash_:
                    parts[iri].add(("#" + fragment, predicate, str(obj)))
                else:
                    own[iri].add(("", predicate, str(obj)))
                    if predicate == RDF_TYPE:
                        typed.add(iri)
            elif graph == ontology_graph:
                if subject == ONTOLOGY_IRI and predicate == OWL + "versionInfo":
                    ontology_version = obj.value
                if not subject.startswith(HSCP_IRI):
                    continue
                if predicate == RDF_TYPE and isinstance(obj, ox.NamedNode) and obj.value in TERM_TYPES:
                    declared.add(subject)
                elif predicate == OWL + "deprecated" and isinstance(obj, ox.Literal) and _true(obj.value):
                    deprecated.add(subject)
                elif predicate == DCT_IS_REPLACED_BY and isinstance(obj, ox.NamedNode):
                    replaced_by[subject].append(obj.value)
    except (SyntaxError, ValueError, OSError) as err:
        raise UsageError(f"kg diff: {path} cannot be read as N-Quads ({err}): run kg build --out {folder} again") from None
    claims = {iri: frozenset(own[iri] | parts.get(iri, set())) for iri in typed if table_of(iri) is not None}
    report = _report(folder / "report.json")
    return _Build(folder, claims, {t: t in deprecated for t in declared},
                  {t: sorted(r) for t, r in replaced_by.items()}, report.get("version"), ontology_version,
                  report.get("built"))


def _true(lexical: str) -> bool:
    """An xsd:boolean's lexical form that means true."""
    return lexical.strip().lower() in ("true", "1")


def _report(path: Path) -> dict:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _places(build: _Build, iri: str, depth: int = 0) -> set[str]:
    """The jurisdictions of a claim in one build (IRIs): its own, else those of what it points at,
    else those its evaluation covers."""
    found = table_of(iri)
    if found is not None and found[0] == "jurisdictions":
        return {iri}
    places = {p for predicate in _OWN_PLACES for p in build.refs(iri, predicate)}
    if places or depth >= 2:
        return places
    for predicate in _POINTS_AT:
        for target in build.refs(iri, predicate):
            places |= _places(build, target, depth + 1)
    if places:
        return places
    for evaluation in build.refs(iri, _EVALUATION):
        places |= _places(build, evaluation, depth + 1)
    return places


def _jurisdictions(iri: str, first: _Build, second: _Build) -> tuple[str, ...]:
    """Jurisdiction ids of a claim: from ``first`` (where it is), else from ``second``; else ("none",)."""
    for build in (first, second):
        if iri in build.claims:
            places = _places(build, iri)
            if places:
                return tuple(sorted((table_of(p) or ("", p))[1] for p in places))
    return (NONE,)


# --- the differences ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClaimDiff:
    """One claim added, removed or changed, with its table, id and jurisdictions (ids)."""

    kind: str  # added | removed | changed
    iri: str
    table: str
    id: str
    jurisdictions: tuple[str, ...]
    added: tuple[Triple, ...] = ()  # a changed claim's triples only the new build has
    removed: tuple[Triple, ...] = ()  # and those only the old build has

    @property
    def properties(self) -> list[str]:
        """The properties whose values differ (of the claim or of its hash parts)."""
        return sorted({p for _, p, _ in (*self.added, *self.removed)})

    @property
    def short(self) -> str:
        """``kind/id``: the end of the IRI, which names the row."""
        return "/".join(self.iri.rsplit("/", 2)[-2:])

    def to_json(self) -> dict:
        found = {"iri": self.iri, "table": self.table, "id": self.id, "jurisdictions": list(self.jurisdictions)}
        if self.kind == "changed":
            found["properties"] = self.properties
            found["added"] = [_triple_json(t) for t in self.added]
            found["removed"] = [_triple_json(t) for t in self.removed]
        return found


def _triple_json(triple: Triple) -> dict:
    part, predicate, value = triple
    found = {"property": predicate, "value": value}
    if part:
        found["part"] = part
    return found


@dataclasses.dataclass(frozen=True)
class Deprecation:
    """An ontology term newly marked ``owl:deprecated true``, and what replaces it."""

    iri: str
    replaced_by: tuple[str, ...] = ()


@dataclasses.dataclass
class Diff:
    """What changed from one build to another: claims by table and jurisdiction, and ontology terms."""

    old: dict
    new: dict
    added: list[ClaimDiff]
    removed: list[ClaimDiff]
    changed: list[ClaimDiff]
    terms_added: list[str]
    terms_removed: list[str]
    terms_deprecated: list[Deprecation]

    def __bool__(self) -> bool:
        """True when the builds differ."""
        return any((self.added, self.removed, self.changed, self.terms_added, self.terms_removed, self.terms_deprecated))

    @property
    def claims(self) -> list[ClaimDiff]:
        return [*self.added, *self.removed, *self.changed]

    def by_table(self) -> dict[str, dict[str, list[ClaimDiff]]]:
        """table -> added/removed/changed -> the claims."""
        return self._group(lambda claim: (claim.table,))

    def by_jurisdiction(self) -> dict[str, dict[str, list[ClaimDiff]]]:
        """jurisdiction id (or "none") -> added/removed/changed -> the claims (a claim about two
        jurisdictions is listed under both)."""
        return self._group(lambda claim: claim.jurisdictions)

    def _group(self, keys) -> dict[str, dict[str, list[ClaimDiff]]]:
        groups: dict[str, dict[str, list[ClaimDiff]]] = {}
        for claim in self.claims:
            for key in keys(claim):
                groups.setdefault(key, {kind: [] for kind in _KINDS})[claim.kind].append(claim)
        return dict(sorted(groups.items()))

    def to_json(self) -> dict:
        """A JSON-ready dict: the two builds (``old``, ``new``), ``differ``, the ``counts``; the claims
        ``added``, ``removed`` and ``changed``; their IRIs ``by_table`` and ``by_jurisdiction``; the
        ``ontology`` terms added, removed and newly deprecated."""
        def counts(groups):
            return {key: {kind: len(found[kind]) for kind in _KINDS} for key, found in groups.items()}

        def iris(groups):
            return {key: {kind: [c.iri for c in found[kind]] for kind in _KINDS} for key, found in groups.items()}

        tables, places = self.by_table(), self.by_jurisdiction()
        return {
            "old": self.old,
            "new": self.new,
            "differ": bool(self),
            "counts": {
                "claims": {kind: len(getattr(self, kind)) for kind in _KINDS},
                "ontology": {"added": len(self.terms_added), "removed": len(self.terms_removed),
                             "deprecated": len(self.terms_deprecated)},
                "by_table": counts(tables),
                "by_jurisdiction": counts(places),
            },
            **{kind: [c.to_json() for c in getattr(self, kind)] for kind in _KINDS},
            "by_table": iris(tables),
            "by_jurisdiction": iris(places),
            "ontology": {"added": self.terms_added, "removed": self.terms_removed,
                         "deprecated": [{"iri": d.iri, "replaced_by": list(d.replaced_by)} for d in self.terms_deprecated]},
        }

    def to_text(self) -> str:
        """A readable listing: the claims by table (with what changed), the jurisdictions, the terms."""
        def build(info):
            facts = [f"version {info['version']}" if info.get("version") else None,
                     f"built {info['built']}" if info.get("built") else None]
            facts = [f for f in facts if f]
            return info["build"] + (f" ({', '.join(facts)})" if facts else "")

        def tally(found):
            return ", ".join(f"{len(found[kind])} {kind}" for kind in _KINDS if found[kind])

        lines = [f"old: {build(self.old)}", f"new: {build(self.new)}"]
        if not self:
            lines.append("no differences: the same claims with the same triples, and the same ontology terms")
            return "\n".join(lines) + "\n"
        lines.append("claims: " + ", ".join(f"{len(getattr(self, kind))} {kind}" for kind in _KINDS))
        lines.append(f"ontology terms: {len(self.terms_added)} added, {len(self.terms_removed)} removed, "
                     f"{len(self.terms_deprecated)} newly deprecated")
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for table, found in self.by_table().items():
            lines.append("")
            lines.append(f"{table} ({tally(found)})")
            for kind in _KINDS:
                for claim in found[kind]:
                    head = f"  {marks[kind]} {kind:8} {claim.short}  [{', '.join(claim.jurisdictions)}]"
                    if kind == "changed":
                        head += ": " + ", ".join(_curie(p) for p in claim.properties)
                    lines.append(head)
                    for sign, triples in (("-", claim.removed), ("+", claim.added)):
                        for part, predicate, value in triples:
                            lines.append(f"      {sign} {part + ' ' if part else ''}{_curie(predicate)} {_short_value(value)}")
        places = self.by_jurisdiction()
        if places:
            lines.append("")
            lines.append("by jurisdiction:")
            for place, found in places.items():
                lines.append(f"  {place}: {tally(found)}")
        if self.terms_added or self.terms_removed or self.terms_deprecated:
            lines.append("")
            lines.append("ontology terms:")
            lines += [f"  + added      {_curie(t)}" for t in self.terms_added]
            lines += [f"  - removed    {_curie(t)}" for t in self.terms_removed]
            for d in self.terms_deprecated:
                replacement = f" (replaced by {', '.join(_curie(r) for r in d.replaced_by)})" if d.replaced_by else ""
                lines.append(f"  ! deprecated {_curie(d.iri)}{replacement}")
        return "\n".join(lines) + "\n"


def _curie(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(str(namespace)) and len(iri) > len(str(namespace)):
            return f"{prefix}:{iri[len(str(namespace)):]}"
    return f"<{iri}>"


def _short_value(value: str) -> str:
    """An object in N-Triples syntax, its IRI as a CURIE where a prefix fits."""
    if value.startswith("<") and value.endswith(">"):
        return _curie(value[1:-1])
    return value


def diff(old_build_dir: Path | str, new_build_dir: Path | str) -> Diff:
    """Compare two build folders (each with its graph.nq): claims and ontology terms.

    :raises UsageError: when a folder holds no build (no graph.nq) or its graph.nq cannot be read.
    """
    old, new = _read(Path(old_build_dir), "old"), _read(Path(new_build_dir), "new")
    found: dict[str, list[ClaimDiff]] = {kind: [] for kind in _KINDS}

    def claim(kind: str, iri: str, first: _Build, second: _Build, added=(), removed=()) -> ClaimDiff:
        table, slug = table_of(iri)
        return ClaimDiff(kind, iri, table, slug, _jurisdictions(iri, first, second), tuple(sorted(added)),
                         tuple(sorted(removed)))

    for iri in new.claims.keys() - old.claims.keys():
        found["added"].append(claim("added", iri, new, old))
    for iri in old.claims.keys() - new.claims.keys():
        found["removed"].append(claim("removed", iri, old, new))
    for iri in new.claims.keys() & old.claims.keys():
        before, after = old.claims[iri], new.claims[iri]
        if before != after:
            found["changed"].append(claim("changed", iri, new, old, after - before, before - after))
    for kind in _KINDS:
        found[kind].sort(key=lambda c: (c.table, c.iri))
    deprecated = [Deprecation(t, tuple(new.replaced_by.get(t, ()))) for t, flag in sorted(new.terms.items())
                  if flag and not old.terms.get(t, False)]
    return Diff(old.info(), new.info(), found["added"], found["removed"], found["changed"],
                sorted(new.terms.keys() - old.terms.keys()), sorted(old.terms.keys() - new.terms.keys()), deprecated)
