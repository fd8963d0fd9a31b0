"""Records -> rdflib Graph. The only place that mints IRIs.

Every row of the case data becomes one resource ``BASE{kind}/{id}`` typed by its table's
class, carrying ``dct:source`` and ``hscp:confidence``. :func:`to_graph` also returns where
each resource came from (:class:`~kg.provenance.Origin`), so validation and reasoning
messages can name the file and row to fix.
"""

from __future__ import annotations

import dataclasses

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, ORG, OWL, PROV, QB, RDF, RDFS, SKOS, TIME, XSD

from .casedata import DIMENSION_SCHEMES, TABLES, CaseData, PartialDate, Record
from .namespaces import HSCP, SCHEMA, bind_prefixes
from .leangraph import lean_graph
from .provenance import Origin
from .vocabulary import SCHEME_KIND, Vocabulary

SOURCE_CLASSES = {
    "article": SCHEMA.ScholarlyArticle,
    "book": SCHEMA.Book,
    "chapter": SCHEMA.Chapter,
    "thesis": SCHEMA.Thesis,
    "report": SCHEMA.Report,
    "web-page": SCHEMA.WebPage,
    "slides": SCHEMA.PresentationDigitalDocument,
    "blog-post": SCHEMA.BlogPosting,
    "legislation": SCHEMA.Legislation,
    "dataset": SCHEMA.Dataset,
}
OBSERVATION_CLASSES = {
    "governance-mode": (HSCP.GovernanceModeObservation, HSCP.governanceMode),
    "frame": (HSCP.FrameAttribution, HSCP.frame),
    "integration-level": (HSCP.IntegrationClassification, HSCP.integrationLevel),
    "integration-dimension": (HSCP.IntegrationClassification, HSCP.integrationLevel),
}
STATEMENT_CLASSES = {"stated-aim": HSCP.StatedAim, "observed-driver": HSCP.ObservedDriver}
_DATE_TYPES = {"year": XSD.gYear, "month": XSD.gYearMonth, "day": XSD.date}
_TIME_PROPERTIES = {"year": TIME.inXSDgYear, "month": TIME.inXSDgYearMonth, "day": TIME.inXSDDate}


@dataclasses.dataclass(frozen=True)
class Minter:
    """Mints every IRI of the instance data from the base IRI.

    ``owners`` maps (kind, id) to the namespace of the study that defines it: a study's rows are
    minted under its own namespace, and a reference to them by id from anywhere gets that IRI.
    """

    base: str
    owners: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    _minted: dict = dataclasses.field(default_factory=dict, init=False, compare=False, repr=False)

    def resource(self, kind: str, slug: str) -> URIRef:
        key = (kind, slug)
        iri = self._minted.get(key)
        if iri is None:  # one shared term per resource: a big graph names each one many times
            iri = self._minted[key] = URIRef(f"{self.owners.get(key, self.base)}{kind}/{slug}")
        return iri

    def concept(self, scheme: str, slug: str) -> URIRef:
        return URIRef(f"{self.base}{scheme}/{slug}")

    def scheme(self, slug: str) -> URIRef:
        return URIRef(f"{self.base}{SCHEME_KIND}/{slug}")

    def record(self, record: Record) -> URIRef:
        return self.resource(TABLES[record.table].kind, record.id)

    def ref(self, table: str, slug: str) -> URIRef:
        return self.resource(TABLES[table].kind, slug)

    def part(self, iri: URIRef, fragment: str) -> URIRef:
        """A hash IRI for a node that only exists as part of a resource (e.g. its period)."""
        return URIRef(f"{iri}#{fragment}")

    @property
    def dataset(self) -> URIRef:
        return URIRef(f"{self.base}dataset")

    def distribution(self, name: str) -> URIRef:
        return URIRef(f"{self.base}dataset/{name}")

    @property
    def indicator_dataset(self) -> URIRef:
        return URIRef(f"{self.base}dataset/indicators")

    def split(self, iri: str, base: str | None = None) -> tuple[str, str] | None:
        """(kind, slug) of an instance IRI under the base (or under ``base``), or None."""
        base = self.base if base is None else base
        if not iri.startswith(base):
            return None
        kind, sep, slug = iri[len(base):].partition("/")
        return (kind, slug) if sep and slug and "/" not in slug and "#" not in slug else None


@dataclasses.dataclass
class Mapped:
    graph: Graph  # every dataset's triples
    origins: dict[str, Origin]
    parts: dict[str, Graph] = dataclasses.field(default_factory=dict)  # named graph ("data", "study/x") -> its triples


class _Mapper:
    def __init__(self, data: CaseData, vocabulary: Vocabulary, base: str):
        self.data = data
        self.vocabulary = vocabulary
        studies = [spec for spec in data.datasets if spec.study]
        namespaces = {spec.slug: spec.namespace for spec in studies}
        owners = {(TABLES[r.table].kind, r.id): namespaces[r.dataset] for r in data.records() if r.dataset}
        self.mint = Minter(base, owners)
        # A plain set per named graph while mapping (rdflib's Graph.add costs ~10 us and ~1.3 KB
        # a triple); wrapped in lean rdflib Graphs at the end. A row's triples go to the graph of
        # the dataset that states it.
        self.graph_of = {"": "data", **{spec.slug: spec.graph_name for spec in studies}}
        self.parts: dict[str, set[tuple]] = {name: set() for name in self.graph_of.values()}
        self.triples = self.parts["data"]
        self._add = self.triples.add
        self._literals: dict[tuple, Literal] = {}
        self._partnership_ids = frozenset(r.id for r in data["partnerships"])
        self._jurisdiction_of = {(table, r.id): r["jurisdiction"] for table in ("partnerships", "forms") for r in data[table]}
        self._evaluations = {r.id: r for r in data["evaluations"]}
        self.origins: dict[str, Origin] = {}

    # -- small builders --------------------------------------------------------------------

    def add(self, s, p, o) -> None:
        if o is not None:
            self._add((s, p, o))

    def literal(self, value, lang: str | None = None, datatype: URIRef | None = None) -> Literal:
        """One shared Literal per distinct value (notes, years, dates repeat a lot)."""
        key = (value, lang, datatype)
        term = self._literals.get(key)
        if term is None:
            term = self._literals[key] = Literal(value, lang=lang, datatype=datatype)
        return term

    def text(self, s, p, value: str | None, lang: str | None = "en") -> None:
        if value:
            self._add((s, p, self.literal(value, lang)))

    def date(self, date: PartialDate) -> Literal:
        return self.literal(str(date), datatype=_DATE_TYPES[date.precision])

    def year(self, year: int) -> Literal:
        return self.literal(year, datatype=XSD.integer)

    def concept(self, scheme: str, slug: str) -> URIRef:
        return self.vocabulary.concepts.get(scheme, {}).get(slug) or self.mint.concept(scheme, slug)

    def period(self, s: URIRef, record: Record, start_col: str = "start", end_col: str = "end") -> None:
        for col, date_p, year_p in ((start_col, HSCP.startDate, HSCP.startYear), (end_col, HSCP.endDate, HSCP.endYear)):
            date = record.get(col)
            if isinstance(date, PartialDate):
                self._add((s, date_p, self.date(date)))
                self._add((s, year_p, self.year(date.year)))

    def interval(self, s: URIRef, link: URIRef, record: Record) -> None:
        """An OWL-Time interval for ORG's memberDuring, beside the plain start/end dates."""
        start, end = record.get("start"), record.get("end")
        if not (start or end):
            return
        interval = self.mint.part(s, "period")
        self._add((s, link, interval))
        self._add((interval, RDF.type, TIME.Interval))
        for date, fragment, edge in ((start, "start", TIME.hasBeginning), (end, "end", TIME.hasEnd)):
            if isinstance(date, PartialDate):
                instant = self.mint.part(s, fragment)
                self._add((interval, edge, instant))
                self._add((instant, RDF.type, TIME.Instant))
                self._add((instant, _TIME_PROPERTIES[date.precision], self.date(date)))

    def resource(self, record: Record, *types: URIRef) -> URIRef:
        s = self.mint.record(record)
        self.origins[str(s)] = Origin(record.table, record.path, record.row, record.id)
        for t in types:
            self._add((s, RDF.type, t))
        if TABLES[record.table].claims:
            for source in record.get("source", ()):
                self._add((s, DCTERMS.source, self.mint.ref("sources", source)))
        confidence = record.get("confidence")
        if confidence:
            self._add((s, HSCP.confidence, self.concept("confidence", confidence)))
        self.text(s, RDFS.comment, record.get("note"))
        return s

    def labels(self, s: URIRef, record: Record, concept: bool = False) -> None:
        self.text(s, RDFS.label, record.get("label"))
        if concept:
            self.text(s, SKOS.prefLabel, record.get("label"))
        for alt in record.get("alt_labels", ()):
            self.text(s, SKOS.altLabel, alt)

    def subject(self, record: Record) -> URIRef:
        for table, column in (("partnerships", "partnership"), ("forms", "form"), ("jurisdictions", "jurisdiction")):
            if record.get(column):
                return self.mint.ref(table, record[column])
        raise AssertionError("kg.casedata checks that exactly one subject column is filled")

    def domain(self, value: tuple[str, str] | None) -> URIRef | None:
        return self.concept(*value) if value else None

    # -- one method per table --------------------------------------------------------------

    def sources(self, r: Record) -> None:
        s = self.resource(r, DCTERMS.BibliographicResource, SOURCE_CLASSES[r["kind"]])
        self.text(s, DCTERMS.bibliographicCitation, r["citation"], lang=None)
        self.text(s, RDFS.label, r["citation"], lang=None)
        if r.get("year"):
            self.add(s, DCTERMS.issued, Literal(f"{r['year']:04d}", datatype=XSD.gYear))
        for url in r.get("url", ()):
            self.add(s, FOAF.page, URIRef(url))
        if r.get("doi"):
            self.add(s, DCTERMS.identifier, Literal(r["doi"]))
            self.add(s, FOAF.page, URIRef("https://doi.org/" + r["doi"]))

    def jurisdictions(self, r: Record) -> None:
        s = self.resource(r, HSCP.Jurisdiction, SKOS.Concept)
        self.labels(s, r, concept=True)
        self.add(s, SKOS.inScheme, self.mint.scheme("jurisdiction"))
        if r.get("iso_code"):  # most sub-national jurisdictions have none in the sources
            self.add(s, SKOS.notation, Literal(r["iso_code"]))
        if r.get("parent"):
            self.add(s, SKOS.broader, self.mint.ref("jurisdictions", r["parent"]))
        if r.get("wikidata"):
            self.add(s, SKOS.exactMatch, URIRef(r["wikidata"]))

    def legislation(self, r: Record) -> None:
        s = self.resource(r, HSCP.Legislation)
        self.labels(s, r)
        if r.get("iri"):
            self.add(s, OWL.sameAs, URIRef(r["iri"]))
        self.add(s, HSCP.jurisdiction, self.mint.ref("jurisdictions", r["jurisdiction"]))
        if r.get("date"):
            self.add(s, DCTERMS.date, self.date(r["date"]))

    def forms(self, r: Record) -> None:
        s = self.resource(r, HSCP.PartnershipForm, SKOS.Concept)
        self.labels(s, r, concept=True)
        self.text(s, SKOS.definition, r["definition"])
        self.add(s, SKOS.inScheme, self.mint.scheme("partnership-form"))
        self.add(s, HSCP.jurisdiction, self.mint.ref("jurisdictions", r["jurisdiction"]))
        for law in r.get("legislation", ()):
            self.add(s, HSCP.enabledBy, self.mint.ref("legislation", law))
        if r.get("broader"):
            self.add(s, SKOS.broader, self.mint.ref("forms", r["broader"]))
        if r.get("legal_entity") is not None:
            self.add(s, HSCP.legalEntity, Literal(r["legal_entity"]))
        self.text(s, SKOS.altLabel, r.get("native_label"), lang=None)
        self.period(s, r)

    def organisations(self, r: Record) -> None:
        s = self.resource(r, ORG.Organization)
        self.labels(s, r)
        for sector in r.get("sector", ()):
            self.add(s, HSCP.sector, self.concept("sector", sector))
        if r.get("jurisdiction"):
            self.add(s, HSCP.jurisdiction, self.mint.ref("jurisdictions", r["jurisdiction"]))
        self.period(s, r)
        if r.get("homepage"):
            self.add(s, FOAF.page, URIRef(r["homepage"]))

    def partnerships(self, r: Record) -> None:
        legal = r.get("legal_entity")
        kinds = () if legal is None else (ORG.FormalOrganization if legal else ORG.OrganizationalCollaboration,)
        s = self.resource(r, HSCP.Partnership, *kinds)
        self.labels(s, r)
        self.add(s, HSCP.form, self.mint.ref("forms", r["form"]))
        self.add(s, HSCP.jurisdiction, self.mint.ref("jurisdictions", r["jurisdiction"]))
        self.period(s, r)
        self.text(s, DCTERMS.description, r.get("description"))
        if r.get("homepage"):
            self.add(s, FOAF.page, URIRef(r["homepage"]))

    def memberships(self, r: Record) -> None:
        s = self.resource(r, ORG.Membership)
        self.add(s, ORG.organization, self.mint.ref("partnerships", r["partnership"]))
        self.add(s, ORG.member, self.mint.ref("organisations", r["organisation"]))
        self.add(s, ORG.role, self.concept("role", r["role"]))
        self.period(s, r)
        self.interval(s, ORG.memberDuring, r)

    def changes(self, r: Record) -> None:
        s = self.resource(r, ORG.ChangeEvent)
        self.labels(s, r)
        self.add(s, HSCP.changeKind, self.concept("change-kind", r["kind"]))
        date = r["date"]
        self.add(s, HSCP.startDate, self.date(date))
        self.add(s, HSCP.startYear, self.year(date.year))
        for column, link in (("original", ORG.originalOrganization), ("resulting", ORG.resultingOrganization)):
            for ref in r.get(column, ()):
                table = "partnerships" if ref in self._partnership_ids else "organisations"
                self.add(s, link, self.mint.ref(table, ref))

    def observations(self, r: Record) -> None:
        dimension = r["dimension"]
        cls, link = OBSERVATION_CLASSES.get(dimension, (HSCP.Classification, None))
        s = self.resource(r, cls)
        self.add(s, HSCP.about, self.subject(r))
        self.add(s, HSCP.dimension, self.concept("dimension", dimension))
        for value in r["value"]:
            concept = self.concept(DIMENSION_SCHEMES[dimension], value)
            self.add(s, HSCP.placement, concept)
            if link is not None:
                self.add(s, link, concept)
        self.add(s, HSCP.analystDerived, self.literal(r["basis"] == "derived"))
        self.text(s, HSCP.derivationRule, r.get("rule"))
        self.period(s, r)
        self.text(s, HSCP.observer, r.get("observer"), lang=None)

    def statements(self, r: Record) -> None:
        s = self.resource(r, STATEMENT_CLASSES[r["kind"]])
        self.add(s, HSCP.about, self.subject(r))
        self.text(s, HSCP.statement, r["statement"])
        self.add(s, HSCP.outcomeDomain, self.domain(r.get("domain")))
        if r.get("frame"):
            self.add(s, HSCP.frame, self.concept("frame", r["frame"]))

    def outcomes(self, r: Record) -> None:
        s = self.resource(r, HSCP.OutcomeEvidence)
        self.add(s, HSCP.about, self.subject(r))
        self.add(s, HSCP.outcomeDomain, self.domain(r["domain"]))
        self.add(s, HSCP.direction, self.concept("direction", r["direction"]))
        self.text(s, HSCP.measure, r["measure"])
        self.text(s, HSCP.method, r.get("method"))
        self.period(s, r)
        if r.get("evaluation"):
            self.add(s, HSCP.evaluation, self.mint.ref("evaluations", r["evaluation"]))

    def indicators(self, r: Record) -> None:
        s = self.resource(r, HSCP.IndicatorObservation, QB.Observation)
        subject = self.subject(r)
        self.add(s, HSCP.about, subject)
        self.add(s, HSCP.refSubject, subject)
        self.add(s, QB.dataSet, self.mint.indicator_dataset)
        self.add(s, HSCP.indicator, self.concept("indicator", r["indicator"]))
        self.add(s, HSCP.value, Literal(r["value"], datatype=XSD.decimal))
        self.add(s, HSCP.unit, self.concept("unit", r["unit"]))
        self.add(s, HSCP.refPeriod, Literal(r["period"]))
        if r.get("approximate") is not None:
            self.add(s, HSCP.approximate, self.literal(r["approximate"]))

    def evaluation_designs(self, r: Record) -> None:
        s = self.resource(r, HSCP.EvaluationDesign)
        self.labels(s, r)
        self.text(s, DCTERMS.description, r.get("description"))
        if r.get("developer"):
            self.add(s, HSCP.developedBy, self.mint.ref("organisations", r["developer"]))
        if r.get("year"):
            self.add(s, DCTERMS.issued, Literal(f"{r['year']:04d}", datatype=XSD.gYear))
        for purpose in r.get("purpose", ()):
            self.add(s, HSCP.purpose, self.concept("evaluation-purpose", purpose))
        for dimension in r.get("dimension", ()):
            self.add(s, HSCP.evaluationDimension, self.concept("evaluation-dimension", dimension))
        if r.get("revision_of"):
            self.add(s, PROV.wasRevisionOf, self.mint.ref("evaluation-designs", r["revision_of"]))
        if r.get("homepage"):
            self.add(s, FOAF.page, URIRef(r["homepage"]))

    def instruments(self, r: Record) -> None:
        s = self.resource(r, HSCP.Instrument)
        self.labels(s, r)
        design = self.mint.ref("evaluation-designs", r["design"])
        self.add(s, HSCP.instrumentOf, design)
        self.add(design, HSCP.hasInstrument, s)
        self.text(s, DCTERMS.description, r.get("description"))
        if r.get("respondents"):
            self.add(s, HSCP.respondentGroup, self.concept("respondent-group", r["respondents"]))
        if r.get("stage") is not None:
            self.add(s, HSCP.stage, Literal(r["stage"], datatype=XSD.integer))
        self.text(s, HSCP.method, r.get("method"))

    def evaluations(self, r: Record) -> None:
        s = self.resource(r, HSCP.Evaluation)
        self.labels(s, r)
        if r.get("toolkit"):
            self.add(s, HSCP.usedDesign, self.mint.ref("evaluation-designs", r["toolkit"]))
        for table, column in (("partnerships", "partnership"), ("forms", "form")):
            for ref in r.get(column, ()):
                self.add(s, HSCP.evaluated, self.mint.ref(table, ref))
        for ref in self._evaluation_jurisdictions(r):
            self.add(s, HSCP.coversJurisdiction, self.mint.ref("jurisdictions", ref))
        if r.get("study_design"):
            self.add(s, HSCP.studyDesign, self.concept("study-design", r["study_design"]))
        if r.get("evaluator"):
            self.add(s, HSCP.evaluatorKind, self.concept("evaluator", r["evaluator"]))
        self.text(s, HSCP.population, r.get("population"))
        if r.get("year"):
            self.add(s, DCTERMS.issued, Literal(f"{r['year']:04d}", datatype=XSD.gYear))
        self.period(s, r)

    def _evaluation_jurisdictions(self, r: Record) -> list[str]:
        """The jurisdictions an evaluation covers: its own column, else those of what it evaluated."""
        found = list(r.get("jurisdiction", ()))
        for ref in r.get("partnership", ()):
            found.append(self._jurisdiction_of[("partnerships", ref)])
        for ref in r.get("form", ()):
            found.append(self._jurisdiction_of[("forms", ref)])
        return sorted(set(found))

    def findings(self, r: Record) -> None:
        s = self.resource(r, HSCP.Finding)
        evaluation = self._evaluations[r["evaluation"]]
        self.add(s, HSCP.evaluation, self.mint.ref("evaluations", r["evaluation"]))
        for table, column in (("partnerships", "partnership"), ("forms", "form")):
            for ref in evaluation.get(column, ()):
                self.add(s, HSCP.about, self.mint.ref(table, ref))
        if not evaluation.get("partnership") and not evaluation.get("form"):
            for ref in evaluation.get("jurisdiction", ()):
                self.add(s, HSCP.about, self.mint.ref("jurisdictions", ref))
        self.add(s, HSCP.outcomeMeasure, self.concept("outcome-measure", r["outcome"]))
        self.add(s, HSCP.direction, self.concept("direction", r["direction"]))
        self.text(s, HSCP.measure, r["measure"])
        self.text(s, HSCP.magnitude, r.get("magnitude"))
        self.add(s, HSCP.outcomeDomain, self.domain(r.get("domain")))
        self.period(s, r)

    def contexts(self, r: Record) -> None:
        s = self.resource(r, HSCP.ContextStatement)
        self.add(s, HSCP.about, self.mint.ref("jurisdictions", r["jurisdiction"]))
        self.add(s, HSCP.contextTopic, self.concept("context-topic", r["topic"]))
        for level in r.get("level", ()):
            self.add(s, HSCP.governmentLevel, self.concept("government-level", level))
        self.text(s, HSCP.statement, r["statement"])
        self.period(s, r)

    def events(self, r: Record) -> None:
        s = self.resource(r, HSCP.PolicyEvent)
        self.labels(s, r)
        self.add(s, HSCP.about, self.mint.ref("jurisdictions", r["jurisdiction"]))
        self.add(s, HSCP.eventKind, self.concept("event-kind", r["kind"]))
        self.period(s, r, start_col="date")
        for table, column in (("partnerships", "partnership"), ("forms", "form"), ("legislation", "legislation")):
            if r.get(column):
                self.add(s, HSCP.concerns, self.mint.ref(table, r[column]))

    def conflicts(self, r: Record) -> None:
        s = self.resource(r, HSCP.Conflict)
        self.labels(s, r)
        claims = [self.mint.ref(table, slug) for table, slug in r["claims"]]
        for claim in claims:
            self.add(s, HSCP.conflictingClaim, claim)
            for other in claims:
                if other != claim:
                    self.add(claim, HSCP.conflictsWith, other)

    # -- whole dataset ---------------------------------------------------------------------

    def run(self) -> Mapped:
        several = len(self.parts) > 1
        for name in TABLES:
            method = getattr(self, name.replace("-", "_"))
            for record in self.data[name]:
                if several:
                    self._add = self.parts[self.graph_of[record.dataset]].add
                method(record)
        self._add = self.triples.add
        self.schemes_of_data()
        parts = {}
        for name, triples in self.parts.items():
            parts[name] = lean_graph(triples)
            bind_prefixes(parts[name])
        graph = parts["data"]
        if several:
            graph = lean_graph(set().union(*self.parts.values()))
            bind_prefixes(graph)
        return Mapped(graph, self.origins, parts)

    def schemes_of_data(self) -> None:
        """The two schemes whose concepts come from the case data rather than ontology/schemes."""
        for slug, title, definition in (
            ("jurisdiction", "Jurisdictions", "Countries and nations whose health and social care partnerships are compared."),
            ("partnership-form", "Partnership forms", "The kinds of partnership arrangement that policy and legislation provide for."),
        ):
            scheme = self.mint.scheme(slug)
            self._add((scheme, RDF.type, SKOS.ConceptScheme))
            self.text(scheme, SKOS.prefLabel, title)
            self.text(scheme, RDFS.label, title)
            self.text(scheme, SKOS.definition, definition)
        if self.data["indicators"]:
            ds = self.mint.indicator_dataset
            self._add((ds, RDF.type, QB.DataSet))
            self._add((ds, QB.structure, HSCP.indicatorStructure))
            self.text(ds, RDFS.label, "Numeric facts about partnerships, forms and jurisdictions")


def to_graph(data: CaseData, vocabulary: Vocabulary, base_iri: str) -> Mapped:
    """Map typed case data to an RDF graph; return it with each resource's origin."""
    return _Mapper(data, vocabulary, base_iri).run()
