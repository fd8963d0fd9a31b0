"""Claims and the cross-country comparison: the queries behind them, in one place.

:func:`claims_about` lists the sourced claims about one resource (observations, statements,
outcome evidence, indicators) with their value, source and confidence. :func:`matrix`
builds the jurisdictions x dimension table of :data:`DIMENSIONS`, every cell keeping the
partnerships and claims behind it, so a view can link each number to its evidence.
Confidence filtering is by minimum level (confirmed > partial > unverified).

>>> m = matrix(store, "governance-mode", minimum="partial")     # doctest: +SKIP
>>> m.cell(england, hierarchy)                                  # doctest: +SKIP
[Entry(subject=…torbay-care-trust, claim=…observation/torbay-hierarchy, confidence='partial')]
"""

from __future__ import annotations

import dataclasses

from rdflib import URIRef

from .errors import QueryParameterError

CONFIDENCE_LEVELS = ("confirmed", "partial", "unverified")
_PREFIXES = """PREFIX hscp: <https://w3id.org/hscp/def#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""


@dataclasses.dataclass(frozen=True)
class Dimension:
    name: str
    title: str
    description: str
    sparql: str  # selects ?jurisdiction ?value ?subject ?claim ?confidence


def _claims(cls: str, prop: str) -> str:
    return _PREFIXES + f"""SELECT ?jurisdiction ?value ?subject ?claim ?confidence WHERE {{
  ?claim a hscp:{cls} ; hscp:about ?subject ; hscp:{prop} ?value .
  OPTIONAL {{ ?claim hscp:confidence ?confidence }}
  ?subject hscp:jurisdiction ?jurisdiction .
}}"""


DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("form", "Partnership form",
              "Partnerships by the form they take (each partnership counted once, with its own confidence).",
              _PREFIXES + """SELECT ?jurisdiction ?value ?subject ?claim ?confidence WHERE {
  ?subject a hscp:Partnership ; hscp:form ?value ; hscp:jurisdiction ?jurisdiction .
  OPTIONAL { ?subject hscp:confidence ?confidence }
}"""),
    Dimension("governance-mode", "Governance mode",
              "Observations of the governance mode (hierarchy, market, network, hybrid) of partnerships and forms.",
              _claims("GovernanceModeObservation", "governanceMode")),
    Dimension("frame", "Frame",
              "Attributions of a frame (structural, social challenges, high performance, third way).",
              _claims("FrameAttribution", "frame")),
    Dimension("integration-level", "Integration level",
              "Classifications by Leutz level or Rainbow Model dimension.",
              _claims("IntegrationClassification", "integrationLevel")),
    Dimension("outcome-evidence", "Outcome evidence",
              "Evidence of effects on outcomes, by the direction of the effect.",
              _claims("OutcomeEvidence", "direction")),
)}

_CLAIMS_ABOUT = _PREFIXES + """SELECT ?subject ?claim ?type ?property ?value ?source ?confidence WHERE {
  ?claim hscp:about ?subject .
  OPTIONAL { ?claim a ?type FILTER(STRSTARTS(STR(?type), "https://w3id.org/hscp/def#")) }
  OPTIONAL { ?claim ?property ?value
             VALUES ?property { hscp:governanceMode hscp:frame hscp:integrationLevel hscp:direction
                                hscp:outcomeDomain hscp:statement hscp:value hscp:indicator
                                hscp:dimension hscp:placement hscp:analystDerived hscp:derivationRule
                                hscp:outcomeMeasure hscp:magnitude hscp:evaluation
                                hscp:contextTopic hscp:eventKind hscp:startDate } }
  OPTIONAL { ?claim dct:source ?source }
  OPTIONAL { ?claim hscp:confidence ?confidence }
}"""


@dataclasses.dataclass(frozen=True)
class Entry:
    subject: URIRef
    claim: URIRef | None
    confidence: str | None


@dataclasses.dataclass
class Matrix:
    dimension: Dimension
    minimum: str
    jurisdictions: list[URIRef]
    values: list[URIRef]
    cells: dict[tuple[URIRef, URIRef], list[Entry]]

    def cell(self, jurisdiction, value) -> list[Entry]:
        return self.cells.get((URIRef(str(jurisdiction)), URIRef(str(value))), [])

    def iris(self) -> set[str]:
        found = {str(i) for i in (*self.jurisdictions, *self.values)}
        for entries in self.cells.values():
            found.update(str(e.subject) for e in entries)
        return found


@dataclasses.dataclass
class Claim:
    claim: URIRef
    types: set[URIRef] = dataclasses.field(default_factory=set)
    values: list[tuple[URIRef, object]] = dataclasses.field(default_factory=list)
    sources: set[URIRef] = dataclasses.field(default_factory=set)
    confidence: URIRef | None = None


def confidence_slug(term) -> str | None:
    return None if term is None else str(term).rstrip("/").rsplit("/", 1)[-1]


def accepted(levels_minimum: str | None) -> tuple[str, ...]:
    """The confidence levels at or above a minimum (None or 'unverified': all of them)."""
    if not levels_minimum:
        return CONFIDENCE_LEVELS
    if levels_minimum not in CONFIDENCE_LEVELS:
        raise QueryParameterError(f"confidence={levels_minimum!r} is not a level; use one of "
                                  f"{', '.join(CONFIDENCE_LEVELS)}.")
    return CONFIDENCE_LEVELS[: CONFIDENCE_LEVELS.index(levels_minimum) + 1]


def dimension(name: str) -> Dimension:
    try:
        return DIMENSIONS[name]
    except KeyError:
        raise QueryParameterError(f"dimension={name!r} is not a comparison dimension; use one of "
                                  f"{', '.join(DIMENSIONS)}.") from None


def matrix(store, name: str, minimum: str | None = None) -> Matrix:
    """The jurisdictions x values table of one dimension, cells holding their evidence."""
    dim = dimension(name)
    levels = accepted(minimum)
    result = store.query(dim.sparql, limit=1_000_000)
    cells: dict[tuple[URIRef, URIRef], list[Entry]] = {}
    jurisdictions: set[URIRef] = set()
    values: set[URIRef] = set()
    for row in result.bindings():
        level = confidence_slug(row.get("confidence"))
        if level is not None and level not in levels:
            continue
        if level is None and len(levels) < len(CONFIDENCE_LEVELS):
            continue
        j, v = row["jurisdiction"], row["value"]
        jurisdictions.add(j)
        values.add(v)
        cells.setdefault((j, v), []).append(Entry(row["subject"], row.get("claim"), level))
    return Matrix(dim, minimum or "unverified", sorted(jurisdictions), sorted(values), cells)


def claims_about(store, iri: str) -> list[Claim]:
    """Every claim whose hscp:about is ``iri``, with its values, sources and confidence."""
    result = store.query(_CLAIMS_ABOUT, {"subject": URIRef(str(iri))}, limit=100_000)
    claims: dict[URIRef, Claim] = {}
    for row in result.bindings():
        claim = claims.setdefault(row["claim"], Claim(row["claim"]))
        if "type" in row:
            claim.types.add(row["type"])
        if "property" in row and (row["property"], row["value"]) not in claim.values:
            claim.values.append((row["property"], row["value"]))
        if "source" in row:
            claim.sources.add(row["source"])
        if "confidence" in row:
            claim.confidence = row["confidence"]
    return sorted(claims.values(), key=lambda c: (sorted(map(str, c.types)), str(c.claim)))
