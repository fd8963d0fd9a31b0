"""Case files -> typed records: every table, column and rule of the case data, declared once.

The case data is a folder of CSV files, one table per kind, written by hand in a
spreadsheet. This module reads them into typed :class:`Record` objects and reports every
problem of a run at once as a :class:`~kg.errors.CaseDataError` whose lines read
``FILE:ROW: column 'NAME': what is wrong and what is allowed``. There is no RDF here: the
allowed values of concept columns come in as plain sets of slugs (see
:mod:`kg.vocabulary`), and :mod:`kg.mapping` turns records into a graph.

>>> from kg.casedata import TABLES
>>> TABLES["partnerships"].columns[0].name
'id'
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import CaseDataError, CaseDataProblem

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_BAD_IRI_CHARS = re.compile(r'[\s<>"{}|\\^`]')
SEPARATOR = ";"
CONFIDENCE_LEVELS = ("confirmed", "partial", "unverified")
SOURCE_KINDS = ("article", "book", "chapter", "thesis", "report", "web-page", "slides", "blog-post", "legislation", "dataset")
STATEMENT_KINDS = ("stated-aim", "observed-driver")
BASES = ("stated", "derived")


@dataclasses.dataclass(frozen=True, order=True)
class PartialDate:
    """A date known to the year, the month or the day, as sources give them."""

    year: int
    month: int | None = None
    day: int | None = None

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text

    @property
    def precision(self) -> str:
        return "day" if self.day is not None else "month" if self.month is not None else "year"

    @property
    def earliest(self) -> tuple[int, int, int]:
        return (self.year, self.month or 1, self.day or 1)

    @property
    def latest(self) -> tuple[int, int, int]:
        return (self.year, self.month or 12, self.day or 31)


# --- column types ---------------------------------------------------------------------------


class Problem(ValueError):
    """A cell's value is not allowed; the message says what is allowed."""


@dataclasses.dataclass(frozen=True)
class ColumnType:
    """How a cell is parsed: ``parse(text) -> value`` raises :class:`Problem`."""

    name: str
    description: str
    example: str
    parse: Callable[[str], Any]
    ref: str | None = None  # table the value(s) point into
    scheme: str | None = None  # concept scheme the value(s) come from
    many: bool = False
    # how several values are told apart: ';' by default; web addresses split only where the
    # next one starts, since a URL may hold a ';' itself (http://…?urn:…:1999;229)
    splitter: re.Pattern = re.compile(re.escape(SEPARATOR))


def _text(value: str) -> str:
    return value


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise Problem(
            f"'{value}' is not a valid id: use lower-case letters, digits and single hyphens "
            "(for example 'torbay-care-trust')"
        )
    return value


def _date(value: str) -> PartialDate:
    match = _DATE.match(value)
    if not match:
        raise Problem(f"'{value}' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD (for example 2005-10-01)")
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is not None and not 1 <= month <= 12:
        raise Problem(f"'{value}' has no month {month}: months run from 01 to 12")
    if day is not None:
        try:
            datetime.date(year, month, day)
        except ValueError:
            raise Problem(f"'{value}' is not a day of the calendar") from None
    return PartialDate(year, month, day)


def _year(value: str) -> int:
    if not re.fullmatch(r"\d{4}", value):
        raise Problem(f"'{value}' is not a year: write four digits, for example 2010")
    return int(value)


def _integer(value: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", value):
        raise Problem(f"'{value}' is not a whole number: write digits only, for example 3")
    return int(value)


def _decimal(value: str) -> Decimal:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", value):
        raise Problem(
            f"'{value}' is not a number: write digits with an optional decimal point and no "
            "thousands separators or units, for example 3800000000"
        )
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern above already checks
        raise Problem(f"'{value}' is not a number") from None


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or _BAD_IRI_CHARS.search(value):
        raise Problem(
            f"'{value}' is not a web address: write a full http:// or https:// URL without spaces"
        )
    return value


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("yes", "no"):
        return lowered == "yes"
    raise Problem(f"'{value}' is not yes or no")


def _doi(value: str) -> str:
    if not re.fullmatch(r"10\.\d{4,9}/\S+", value):
        raise Problem(f"'{value}' is not a DOI: write it as 10.NNNN/suffix, without https://doi.org/")
    return value


def _one_of(noun: str, allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise Problem(f"'{value}' is not {noun}: use one of {', '.join(allowed)}")
        return value

    return parse


def _matching(pattern: str, noun: str, example: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(value: str) -> str:
        if not compiled.fullmatch(value):
            raise Problem(f"'{value}' is not {noun}: write e.g. {example}")
        return value

    return parse


def _domain(value: str) -> tuple[str, str]:
    scheme, sep, slug = value.partition(":")
    if not sep or not SLUG.match(scheme) or not SLUG.match(slug):
        raise Problem(
            f"'{value}' is not an outcome domain: write scheme:concept, for example ascof-2011:safeguarding"
        )
    return scheme, slug


TEXT = ColumnType("text", "free text", "Torbay Care Trust", _text)
TEXTS = ColumnType("texts", "free texts separated by ';'", "POET; Partnership Outcomes Evaluation Toolkit", _text, many=True)
ID = ColumnType("id", "an id: lower-case letters, digits and single hyphens, unique in the table", "torbay-care-trust", _slug)
DATE = ColumnType("date", "a date: YYYY, YYYY-MM or YYYY-MM-DD, as precise as the source", "2005-10", _date)
YEAR = ColumnType("year", "a year, four digits", "2010", _year)
INTEGER = ColumnType("integer", "a whole number", "2", _integer)
DECIMAL = ColumnType("decimal", "a number, no units or thousands separators", "3800000000", _decimal)
URL = ColumnType("url", "a full http(s) web address", "https://www.ijic.org/articles/10.5334/ijic.246/", _url)
BOOL = ColumnType("yes/no", "yes or no", "yes", _bool)
DOI = ColumnType("doi", "a DOI without the resolver prefix", "10.5334/ijic.246", _doi)
DOMAIN = ColumnType(
    "outcome domain",
    "scheme:concept, an outcome domain from one of the outcome frameworks",
    "ascof-2011:safeguarding",
    _domain,
)


def _claim_ref(value: str) -> tuple[str, str]:
    table, sep, slug = value.partition(":")
    if not sep or not SLUG.match(table) or not SLUG.match(slug):
        raise Problem(f"'{value}' is not a row reference: write table:id, for example indicators:cisss-count-2015")
    return table, slug


CLAIMS = ColumnType("rows", "rows of other tables as table:id separated by ';'", "indicators:a;indicators:b", _claim_ref, many=True)


def ref(table: str, example: str, many: bool = False) -> ColumnType:
    noun = f"ids from {table}.csv" + (" separated by ';'" if many else "")
    return ColumnType("ids" if many else "id", noun if many else f"an id from {table}.csv", example, _slug, ref=table, many=many)


def concept(scheme: str, example: str, many: bool = False) -> ColumnType:
    noun = f"concepts of the '{scheme}' scheme" + (" separated by ';'" if many else "")
    return ColumnType("concepts" if many else "concept", noun if many else f"a concept of the '{scheme}' scheme", example, _slug, scheme=scheme, many=many)


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool
    help: str
    sample: str | None = None  # an example value when the type's own example does not fit

    @property
    def example(self) -> str:
        return self.sample if self.sample is not None else self.type.example


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    kind: str  # the IRI kind of its rows (kg.mapping mints BASE{kind}/{id})
    help: str
    columns: tuple[Column, ...]
    required: bool = False  # must the file exist?
    claims: bool = True  # does every row state a claim (source + confidence)?
    one_of: tuple[str, ...] = ()  # exactly one of these columns must be filled

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type_: ColumnType, required: bool = False, help: str = "", example: str | None = None) -> Column:
    return Column(name, type_, required, help, example)


def _claim_columns() -> tuple[Column, ...]:
    return (
        _c("source", ref("sources", "glasby-dickinson-2008-ijic", many=True), True, "the source(s) stating this row"),
        _c("confidence", concept("confidence", "confirmed"), True,
           "confirmed: seen in the cited source; partial: secondary source, truncated text or inference; "
           "unverified: not confirmed, from general knowledge or a summary only"),
        _c("note", TEXT, False, "anything a reader should know about this row (e.g. 'analyst's label')", "analyst's label, not the source's"),
    )


def _table(name, kind, help, *columns, required=False, claims=True, one_of=()):
    cols = (_c("id", ID, True, "the row's id; the resource's IRI ends with it"), *columns)
    if claims:
        cols = (*cols, *_claim_columns())
    return Table(name, kind, help, cols, required, claims, one_of)


SUBJECT_COLUMNS = (
    _c("partnership", ref("partnerships", "torbay-care-trust"), False, "the partnership the claim is about"),
    _c("form", ref("forms", "care-trust"), False, "or: the partnership form (policy) the claim is about"),
)
PERIOD_COLUMNS = (
    _c("start", DATE, False, "start of the period the claim holds for"),
    _c("end", DATE, False, "end of that period"),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "sources", "source", "Bibliographic sources that rows cite. Confidence here is how far the citation details are verified.",
            _c("kind", ColumnType("kind", "one of: " + ", ".join(SOURCE_KINDS), "article", _one_of("a kind of source", SOURCE_KINDS)), True, "what kind of document"),
            _c("citation", TEXT, True, "the full citation as it should be printed", 'Glasby J, Dickinson H (2008) Greater than the sum of our parts? IJIC 8.'),
            _c("year", YEAR, False, "year of publication"),
            _c("url", ColumnType("urls", "full http(s) web addresses separated by ';'", "https://pmc.ncbi.nlm.nih.gov/articles/PMC3111890", _url, many=True,
                                splitter=re.compile(r";(?=\s*https?://)")), False, "where it can be read"),
            _c("doi", DOI, False, "its DOI"),
            _c("confidence", concept("confidence", "confirmed"), True, "how far the bibliographic details are verified"),
            _c("note", TEXT, False, "anything a reader should know", 'citation details from a secondary source'),
            required=True,
            claims=False,
        ),
        _table(
            "jurisdictions", "jurisdiction", "Countries and nations whose partnerships are compared.",
            _c("label", TEXT, True, "its English name", 'Scotland'),
            _c("iso_code", ColumnType("ISO 3166 code", "an ISO 3166-1 alpha-2 or ISO 3166-2 code", "GB-SCT", _matching(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", "an ISO 3166 code", "SE or GB-SCT")), False, "its ISO 3166 code, when a source gives it"),
            _c("parent", ref("jurisdictions", "united-kingdom"), False, "the jurisdiction it is part of"),
            _c("wikidata", ColumnType("Wikidata IRI", "a Wikidata entity IRI", "http://www.wikidata.org/entity/Q22", _matching(r"http://www\.wikidata\.org/entity/Q\d+", "a Wikidata entity IRI", "http://www.wikidata.org/entity/Q22")), False, "the same place in Wikidata"),
            required=True,
        ),
        _table(
            "legislation", "legislation", "Acts, sections and regulations that enable partnership forms.",
            _c("label", TEXT, True, "its short title, with the section", 'Health Act 1999, section 31'),
            _c("iri", URL, False, "its legislation.gov.uk identifier, e.g. http://www.legislation.gov.uk/id/ukpga/1999/8/section/31"),
            _c("jurisdiction", ref("jurisdictions", "england"), True, "where it applies"),
            _c("date", DATE, False, "when it was enacted or made"),
        ),
        _table(
            "forms", "partnership-form", "Partnership forms: the kinds of arrangement that policy and law provide for.",
            _c("label", TEXT, True, "its name"),
            _c("definition", TEXT, True, "what it is, in a sentence", 'An NHS body designated to commission or provide both health and social care.'),
            _c("jurisdiction", ref("jurisdictions", "england"), True, "where the form exists"),
            _c("legislation", ref("legislation", "health-act-1999-s31", many=True), False, "what enables it"),
            _c("broader", ref("forms", "section-75-arrangement"), False, "the broader form it is a kind of"),
            _c("legal_entity", BOOL, False, "do its instances have legal personality (yes: statutory bodies); empty when the sources do not say"),
            _c("native_label", TEXT, False, "its name in the jurisdiction's own language, as the source gives it", 'Centres intégrés de santé et de services sociaux'),
            _c("start", DATE, False, "when the form was introduced (first instances or the enabling law in force)"),
            _c("end", DATE, False, "when it was abolished or replaced"),
            required=True,
        ),
        _table(
            "organisations", "organisation", "Organisations that are members of partnerships or develop evaluation designs.",
            _c("label", TEXT, True, "its name"),
            _c("alt_labels", TEXTS, False, "other names", 'Torbay PCT'),
            _c("sector", concept("sector", "health;social-care", many=True), True, "its sector(s)"),
            _c("jurisdiction", ref("jurisdictions", "england"), False, "where it operates"),
            _c("start", DATE, False, "when it was set up"),
            _c("end", DATE, False, "when it ceased"),
            _c("homepage", URL, False, "its web site"),
        ),
        _table(
            "partnerships", "partnership", "Partnerships: each a real instance of a form, in one jurisdiction.",
            _c("label", TEXT, True, "its name"),
            _c("alt_labels", TEXTS, False, "other names", 'Torbay PCT'),
            _c("form", ref("forms", "care-trust"), True, "its form"),
            _c("jurisdiction", ref("jurisdictions", "england"), True, "where it is"),
            _c("legal_entity", BOOL, False, "yes: a statutory body with legal personality; no: a collaboration; empty when the sources do not say"),
            _c("start", DATE, False, "when it was established"),
            _c("end", DATE, False, "when it ended"),
            _c("description", TEXT, False, "what it does, in a sentence or two", 'Integrated NHS and adult social care provider.'),
            _c("homepage", URL, False, "its web site"),
            required=True,
        ),
        _table(
            "memberships", "membership", "Which organisation took part in which partnership, in what role, when.",
            _c("partnership", ref("partnerships", "torbay-care-trust"), True, "the partnership"),
            _c("organisation", ref("organisations", "torbay-council"), True, "the member organisation"),
            _c("role", concept("role", "member"), True, "its role in the partnership"),
            *PERIOD_COLUMNS,
        ),
        _table(
            "changes", "change", "Renamings, mergers, designations and abolitions of organisations and partnerships.",
            _c("kind", concept("change-kind", "rename"), True, "what kind of change"),
            _c("date", DATE, True, "when it took effect"),
            _c("original", ColumnType("ids", "ids from organisations.csv or partnerships.csv separated by ';'", "sandwell-mh-trust", _slug, ref="organisations|partnerships", many=True), False, "what existed before"),
            _c("resulting", ColumnType("ids", "ids from organisations.csv or partnerships.csv separated by ';'", "black-country-partnership-ft", _slug, ref="organisations|partnerships", many=True), False, "what existed after"),
            _c("label", TEXT, True, "the change, in a few words", 'Renamed Black Country Partnership NHS Foundation Trust'),
        ),
        _table(
            "observations", "observation",
            "Classifications: a partnership or form placed on one comparison dimension (governance mode, frame, "
            "integration level, budget integration, provider payment, sectors, legal basis, ...), for a period, from a "
            "source, stated by the source or derived by the project's analyst.",
            *SUBJECT_COLUMNS,
            _c("dimension", concept("dimension", "budget-integration"), True, "the comparison dimension the row places its subject on"),
            _c("value", ColumnType("concepts", "concepts of the dimension's scheme separated by ';' (see the 'dimension' scheme)", "pooled", _slug, many=True), True,
               "the value(s) on that dimension; several values (e.g. sectors) may share one row and one source"),
            _c("basis", ColumnType("basis", "stated or derived", "stated", _one_of("a basis", BASES)), True,
               "stated: the source itself classifies the subject so; derived: the project's analyst applied a rule to the source's facts (then at most 'partial')"),
            _c("rule", TEXT, False, "for a derived row: the rule applied to the source's facts", "budget pooled: the partners contribute to one fund that the board directs"),
            *PERIOD_COLUMNS,
            _c("observer", TEXT, False, "who made the classification", 'partnership-kg analyst'),
            one_of=("partnership", "form"),
        ),
        _table(
            "statements", "statement", "Stated aims and observed drivers of a partnership or form, side by side.",
            *SUBJECT_COLUMNS,
            _c("kind", ColumnType("kind", "stated-aim or observed-driver", "stated-aim", _one_of("a kind of statement", STATEMENT_KINDS)), True, "an aim the partnership states, or a driver observers found"),
            _c("statement", TEXT, True, "the aim or driver in a sentence", 'To improve outcomes for people who use services.'),
            _c("domain", DOMAIN, False, "the outcome domain the aim concerns"),
            _c("frame", concept("frame", "third-way"), False, "the frame the statement expresses"),
            _c("jurisdiction", ref("jurisdictions", "scotland"), False, "or: the jurisdiction whose policy the statement is about"),
            one_of=("partnership", "form", "jurisdiction"),
        ),
        _table(
            "outcomes", "outcome", "Evidence about a partnership's or form's effect on an outcome domain.",
            *SUBJECT_COLUMNS,
            _c("domain", DOMAIN, False, "the outcome domain, when the source names one (empty: service-user outcomes in general)"),
            _c("direction", concept("direction", "unclear"), True, "direction of the effect"),
            _c("measure", TEXT, True, "what was measured or found, in a sentence", 'Most evidence points to limited impact on outcomes.'),
            _c("method", TEXT, False, "how (study design)", 'literature review'),
            *PERIOD_COLUMNS,
            _c("evaluation", ref("evaluations", "poet-sandwell"), False, "the evaluation that produced it"),
            one_of=("partnership", "form"),
        ),
        _table(
            "indicators", "indicator", "Numeric facts (budgets, populations, counts) as statistical observations.",
            *SUBJECT_COLUMNS,
            _c("jurisdiction", ref("jurisdictions", "scotland"), False, "or: the jurisdiction the number is about"),
            _c("indicator", concept("indicator", "budget"), True, "what is counted or measured"),
            _c("value", DECIMAL, True, "the number"),
            _c("unit", concept("unit", "gbp"), True, "its unit"),
            _c("period", TEXT, True, "the period it refers to, e.g. 2015/16 or 2016", '2015/16'),
            _c("approximate", BOOL, False, "yes: the source gives the number as approximate ('about', 'some', 'more than')"),
            one_of=("partnership", "form", "jurisdiction"),
        ),
        _table(
            "evaluation-designs", "evaluation-design", "Evaluation designs and toolkits (e.g. POET).",
            _c("label", TEXT, True, "its name or acronym", 'POET'),
            _c("alt_labels", TEXTS, False, "other names and expansions", 'Partnership Outcomes Evaluation Toolkit'),
            _c("description", TEXT, False, "what it is", 'A web-based toolkit for partnerships to evaluate themselves.'),
            _c("developer", ref("organisations", "hsmc"), False, "who built it"),
            _c("year", YEAR, False, "when it was introduced"),
            _c("purpose", concept("evaluation-purpose", "formative", many=True), False, "formative and/or summative"),
            _c("dimension", concept("evaluation-dimension", "process;outcome", many=True), False, "process and/or outcome"),
            _c("revision_of", ref("evaluation-designs", "poet"), False, "the design it revises"),
            _c("homepage", URL, False, "its web page"),
        ),
        _table(
            "instruments", "instrument", "The instruments of an evaluation design (survey, schedule, ...).",
            _c("design", ref("evaluation-designs", "poet"), True, "the design it belongs to"),
            _c("label", TEXT, True, "its name"),
            _c("description", TEXT, False, "what it asks and how", 'Online survey of every member of staff.'),
            _c("respondents", concept("respondent-group", "staff"), False, "who answers it"),
            _c("stage", INTEGER, False, "its stage in the design (1, 2, ...)"),
            _c("method", TEXT, False, "e.g. online survey, research schedule", 'online survey'),
        ),
        _table(
            "evaluations", "evaluation",
            "Evaluations and evidence syntheses: what was studied (partnerships, forms, jurisdictions, or integrated care in "
            "general when all three are empty), by what design, run by whom, on what population and period.",
            _c("label", TEXT, True, "the evaluation's title or a short description of it", 'Does vertical integration of health and social care organizations work? Evidence from Scotland'),
            _c("partnership", ref("partnerships", "sandwell-integrated-support-service", many=True), False, "the partnership(s) evaluated"),
            _c("form", ref("forms", "integration-joint-board", many=True), False, "the form(s) evaluated"),
            _c("jurisdiction", ref("jurisdictions", "scotland", many=True), False,
               "the jurisdiction(s) it covers; empty with no partnership or form: a cross-country synthesis about integrated care in general"),
            _c("study_design", concept("study-design", "difference-in-differences"), False, "the study design"),
            _c("evaluator", concept("evaluator", "independent"), False, "who ran it: independent, programme-affiliated or audit-body; empty when the source does not say"),
            _c("population", TEXT, False, "who or what was studied, as the source says", 'Scottish integration authorities vs local authority areas in the North of England'),
            _c("year", YEAR, False, "year of publication"),
            _c("toolkit", ref("evaluation-designs", "poet"), False, "the evaluation toolkit used, when one is named (e.g. POET)"),
            *PERIOD_COLUMNS,
        ),
        _table(
            "findings", "finding",
            "Outcome findings of evaluations: one row per outcome measured, with its direction and magnitude.",
            _c("evaluation", ref("evaluations", "alonso-andrews-2022"), True, "the evaluation that found it"),
            _c("outcome", concept("outcome-measure", "delayed-discharge"), True, "the outcome measured"),
            _c("direction", concept("direction", "improved"), True, "direction of the effect (not-reported when the source gives no result)"),
            _c("measure", TEXT, True, "what was found, in a sentence, as the source says it", 'Delayed discharges fell relative to the comparison areas.'),
            _c("magnitude", TEXT, False, "the size of the effect as the source gives it (estimate, interval, counts)", 'point estimate -0.236; 95% CI -0.443 to -0.029'),
            _c("domain", DOMAIN, False, "the outcome domain of an outcome framework it concerns, when the source names one"),
            *PERIOD_COLUMNS,
        ),
        _table(
            "contexts", "context",
            "System context of a jurisdiction: who funds and who provides health and social care, at what level of government.",
            _c("jurisdiction", ref("jurisdictions", "scotland"), True, "the jurisdiction"),
            _c("topic", concept("context-topic", "health-provision"), True, "what the fact is about"),
            _c("level", concept("government-level", "national", many=True), False, "the level(s) of government (or social insurance) responsible"),
            _c("statement", TEXT, True, "the fact, in a sentence, as the source says it", 'Councils are responsible for social services.'),
            *PERIOD_COLUMNS,
        ),
        _table(
            "events", "event",
            "Timeline: dated events of a jurisdiction's partnership policy (laws, reforms, establishments, abolitions, reports).",
            _c("jurisdiction", ref("jurisdictions", "scotland"), True, "where it happened"),
            _c("date", DATE, True, "when (as precise as the source)"),
            _c("end", DATE, False, "when it ended, for an event that spans years (e.g. 2005-2007)"),
            _c("kind", concept("event-kind", "legislation"), True, "what kind of event"),
            _c("label", TEXT, True, "the event, in a sentence", 'Public Bodies (Joint Working) (Scotland) Act receives Royal Assent'),
            _c("partnership", ref("partnerships", "glasgow-city-ijb"), False, "the partnership it concerns"),
            _c("form", ref("forms", "integration-joint-board"), False, "the form it concerns"),
            _c("legislation", ref("legislation", "pbjw-scotland-act-2014"), False, "the law it concerns"),
        ),
        _table(
            "conflicts", "conflict",
            "Conflicting sources: two or more rows that give different values for the same thing, each kept with its own source.",
            _c("label", TEXT, True, "what the sources disagree about", 'Number of centres: 94 or 95'),
            _c("claims", CLAIMS, True, "the conflicting rows, as table:id separated by ';' (at least two)", 'indicators:cisss-count-2015-a;indicators:cisss-count-2015-b'),
        ),
    )
}

# observations.value is checked against the scheme its dimension names
DIMENSION_SCHEMES = {
    "governance-mode": "governance-mode",
    "frame": "frame",
    "integration-level": "leutz-level",
    "integration-dimension": "rainbow-model",
    "integration-scope": "rainbow-scope",
    "integration-domain": "kodner-domain",
    "budget-integration": "budget-integration",
    "provider-payment": "provider-payment",
    "legal-basis": "legal-basis",
    "statutory-status": "statutory-status",
    "sectors": "service-sector",
}
# dimensions observed of partnerships for a period, never of a form as a whole
PARTNERSHIP_DIMENSIONS = ("governance-mode",)
OUTCOME_SCHEMES = ("green-paper-2005", "ascof-2011", "care-act-2014")


# --- records ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Record:
    """One row of a case file, typed. ``row`` is the spreadsheet row (the header is row 1)."""

    table: str
    path: str
    row: int
    id: str
    values: Mapping[str, Any]
    dataset: str = ""  # the slug of the dataset (kg.datasets) it comes from; "" for the primary data

    def get(self, column: str, default: Any = None) -> Any:
        value = self.values.get(column)
        return default if value is None or value == () else value

    def __getitem__(self, column: str) -> Any:
        return self.values[column]


@dataclasses.dataclass(frozen=True)
class CaseData:
    """All tables of a case-data folder, typed and cross-checked."""

    folder: Path
    tables: Mapping[str, tuple[Record, ...]]
    datasets: tuple = ()  # kg.datasets.DatasetSpec of each dataset merged in (empty: one folder read alone)

    def __getitem__(self, table: str) -> tuple[Record, ...]:
        return self.tables.get(table, ())

    def records(self) -> Iterable[Record]:
        for name in TABLES:
            yield from self[name]

    def counts(self) -> dict[str, int]:
        return {name: len(self[name]) for name in TABLES if self[name]}


# --- reading -----------------------------------------------------------------------------


def _decode(raw: bytes, path: str, problems: list[CaseDataProblem]) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problems.append(
            CaseDataProblem(
                path, line, None,
                f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x} cannot be read): "
                "save it from the spreadsheet as 'CSV UTF-8'",
            )
        )
        return None


def read_table(table: Table, text: str, path: str, problems: list[CaseDataProblem],
               vocabularies: Mapping[str, frozenset[str]]) -> list[Record]:
    """Parse one table's text into records; append every problem found to ``problems``."""
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=False))
    return read_rows(table, [(i + 1, r) for i, r in enumerate(rows)], path, problems, vocabularies)


def read_rows(table: Table, numbered: list[tuple[int, list[str]]], path: str, problems: list[CaseDataProblem],
              vocabularies: Mapping[str, frozenset[str]]) -> list[Record]:
    """Parse one table's rows (spreadsheet row number, cells as text) into records."""
    # trailing (and interior) rows where every cell is empty are what spreadsheets leave behind
    numbered = [(n, r) for n, r in numbered if any(cell.strip() for cell in r)]
    if not numbered:
        problems.append(CaseDataProblem(path, None, None,
                                        f"the file is empty: it needs a header row ({', '.join(c.name for c in table.columns)})"))
        return []
    header_row, header = numbered[0]
    header = [h.strip() for h in header]
    known = {c.name for c in table.columns}
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(CaseDataProblem(path, header_row, name, "the column appears twice in the header: keep one"))
            ok = False
        seen.add(name)
        if name and name not in known:
            problems.append(CaseDataProblem(path, header_row, name,
                                            f"unknown column: {table.filename} has the columns {', '.join(c.name for c in table.columns)}"))
            ok = False
        if not name:
            problems.append(CaseDataProblem(path, header_row, None, "a column has no name in the header: name it or delete it"))
            ok = False
    for column in table.columns:
        if column.required and column.name not in header:
            problems.append(CaseDataProblem(path, header_row, column.name,
                                            f"missing column: add a '{column.name}' column ({column.type.description})"))
            ok = False
    if header and header[0] != "id" and "id" in header:
        problems.append(CaseDataProblem(path, header_row, "id", "the 'id' column must come first"))
    if not ok:
        return []

    records: list[Record] = []
    for row_number, cells in numbered[1:]:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            problems.append(CaseDataProblem(path, row_number, None,
                                            f"the row has {len(cells)} cells but the header has {len(header)} columns: "
                                            "a value may contain an unquoted comma"))
            continue
        raw = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
        values: dict[str, Any] = {}
        for column in table.columns:
            values[column.name] = _parse_cell(column, raw.get(column.name, ""), path, row_number, problems, vocabularies)
        records.append(Record(table.name, path, row_number, values.get("id") or raw.get("id", ""), values))
    return records


def _parse_cell(column: Column, text: str, path: str, row: int, problems: list[CaseDataProblem],
                vocabularies: Mapping[str, frozenset[str]]) -> Any:
    ctype = column.type
    if text == "":
        if column.required:
            problems.append(CaseDataProblem(path, row, column.name,
                                            f"empty, but required: fill in {ctype.description} (for example '{ctype.example}')"))
        return () if ctype.many else None
    parts = [p.strip() for p in ctype.splitter.split(text)] if ctype.many else [text]
    parts = [p for p in parts if p] if ctype.many else parts
    values = []
    for part in parts:
        try:
            value = ctype.parse(part)
        except Problem as problem:
            problems.append(CaseDataProblem(path, row, column.name, str(problem)))
            continue
        if ctype.scheme is not None:
            allowed = vocabularies.get(ctype.scheme)
            if allowed is not None and value not in allowed:
                problems.append(CaseDataProblem(path, row, column.name,
                                                f"'{value}' is not in the '{ctype.scheme}' scheme: use one of {', '.join(sorted(allowed))}"))
                continue
        values.append(value)
    if ctype.many:
        return tuple(values)
    return values[0] if values else None


def _check_references(data: dict[str, list[Record]], problems: list[CaseDataProblem],
                      vocabularies: Mapping[str, frozenset[str]], known: Mapping[str, frozenset[str]] = {}) -> None:
    ids = {name: {r.id for r in records} | known.get(name, frozenset()) for name, records in data.items()}
    for name, records in data.items():
        table = TABLES[name]
        # duplicate ids
        first_row: dict[str, int] = {}
        for record in records:
            if not record.id:
                continue
            if record.id in first_row:
                problems.append(CaseDataProblem(record.path, record.row, "id",
                                                f"duplicate id '{record.id}': row {first_row[record.id]} already uses it; ids must be unique in {table.filename}"))
            else:
                first_row[record.id] = record.row
        for record in records:
            for column in table.columns:
                if column.type.ref is None:
                    continue
                targets = column.type.ref.split("|")
                for value in _as_tuple(record.values.get(column.name)):
                    if not any(value in ids.get(t, ()) for t in targets):
                        where = " or ".join(f"{t}.csv" for t in targets)
                        problems.append(CaseDataProblem(record.path, record.row, column.name,
                                                        f"'{value}' is not an id in {where}: add that row or correct the id"))
            _check_row_rules(table, record, problems, vocabularies)


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def _check_row_rules(table: Table, record: Record, problems: list[CaseDataProblem],
                     vocabularies: Mapping[str, frozenset[str]]) -> None:
    if table.one_of:
        filled = [c for c in table.one_of if record.values.get(c)]
        if len(filled) != 1:
            names = " or ".join(f"'{c}'" for c in table.one_of)
            what = "none is" if not filled else f"{len(filled)} are"
            problems.append(CaseDataProblem(record.path, record.row, filled[1] if len(filled) > 1 else table.one_of[0],
                                            f"fill exactly one of {names}: {what} filled"))
    start, end = record.values.get("start"), record.values.get("end")
    if isinstance(start, PartialDate) and isinstance(end, PartialDate) and start.earliest > end.latest:
        problems.append(CaseDataProblem(record.path, record.row, "end",
                                        f"ends ({end}) before it starts ({start}): swap or correct the dates"))
    if table.name == "observations":
        _check_observation(record, problems, vocabularies)
    for column in table.columns:
        if column.type is DOMAIN:
            domain = record.values.get(column.name)
            if domain:
                scheme, slug = domain
                if scheme not in OUTCOME_SCHEMES:
                    problems.append(CaseDataProblem(record.path, record.row, column.name,
                                                    f"'{scheme}' is not an outcome framework: use one of {', '.join(OUTCOME_SCHEMES)}"))
                elif vocabularies.get(scheme) is not None and slug not in vocabularies[scheme]:
                    problems.append(CaseDataProblem(record.path, record.row, column.name,
                                                    f"'{slug}' is not in the '{scheme}' scheme: use one of {', '.join(sorted(vocabularies[scheme]))}"))


def _check_observation(record: Record, problems: list[CaseDataProblem],
                       vocabularies: Mapping[str, frozenset[str]]) -> None:
    dimension = record.values.get("dimension")
    scheme = DIMENSION_SCHEMES.get(dimension or "")
    allowed = vocabularies.get(scheme) if scheme else None
    for value in _as_tuple(record.values.get("value")):
        if allowed is not None and value not in allowed:
            problems.append(CaseDataProblem(record.path, record.row, "value",
                                            f"'{value}' is not a {dimension} value: use one of {', '.join(sorted(allowed))} (scheme '{scheme}')"))
    if record.values.get("basis") == "derived":
        if not record.values.get("rule"):
            problems.append(CaseDataProblem(record.path, record.row, "rule",
                                            "empty, but the row is derived: write the rule the analyst applied to the source's facts"))
        if record.values.get("confidence") == "confirmed":
            problems.append(CaseDataProblem(record.path, record.row, "confidence",
                                            "a derived classification is at most 'partial': the source does not state it"))
    if dimension in PARTNERSHIP_DIMENSIONS:
        if not record.values.get("partnership"):
            problems.append(CaseDataProblem(record.path, record.row, "partnership",
                                            f"a {dimension} belongs to a partnership for a period, not to a form: name the partnership"))
        if not record.values.get("start"):
            problems.append(CaseDataProblem(record.path, record.row, "start",
                                            f"a {dimension} holds for a period: give at least its start"))


def _check_conflicts(data: Mapping[str, list[Record]], problems: list[CaseDataProblem],
                     known: Mapping[str, frozenset[str]] = {}) -> None:
    ids = {name: {r.id for r in records} | known.get(name, frozenset()) for name, records in data.items()}
    for record in data.get("conflicts", ()):
        claims = _as_tuple(record.values.get("claims"))
        if claims and len(set(claims)) < 2:
            problems.append(CaseDataProblem(record.path, record.row, "claims",
                                            "a conflict needs at least two different rows: name every row that disagrees"))
        for table, slug in claims:
            if table not in TABLES or not TABLES[table].claims:
                problems.append(CaseDataProblem(record.path, record.row, "claims",
                                                f"'{table}' is not a table of claims: use one of "
                                                f"{', '.join(n for n, t in TABLES.items() if t.claims and n != 'conflicts')}"))
            elif slug not in ids.get(table, ()):
                problems.append(CaseDataProblem(record.path, record.row, "claims",
                                                f"'{slug}' is not an id in {table}.csv: add that row or correct the id"))


@dataclasses.dataclass(frozen=True)
class Reading:
    """How one dataset is read: as the primary data (every required table) or as a study (only
    the tables it needs, referring by id to the rows of the datasets read before it)."""

    study: bool = False
    prefix: str = ""  # what file names in messages start with (a study's folder name and '/')
    dataset: str = ""  # the dataset's slug, kept on every record
    known: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)  # table -> ids defined before


def read_case_data(folder: Path | str, vocabularies: Mapping[str, frozenset[str]],
                   reading: Reading | None = None) -> CaseData:
    """Read every case file in ``folder`` (or every sheet of an ``.xlsx`` workbook); raise
    :class:`CaseDataError` listing all problems.

    ``vocabularies`` maps a scheme slug to the concept slugs it allows (see
    :func:`kg.vocabulary.load_vocabulary`). Paths in messages are relative to nothing: the
    file's name (after ``reading.prefix``), so messages read the same wherever the folder lives.
    """
    folder = Path(folder)
    reading = reading or Reading()
    problems: list[CaseDataProblem] = []
    if folder.is_file() and folder.suffix.lower() == ".xlsx":
        return read_workbook(folder, vocabularies, reading)
    if not folder.is_dir():
        raise CaseDataError([CaseDataProblem(str(folder), None, None, "no such folder of case data")])
    present = {p.name: p for p in sorted(folder.glob("*.csv"))}
    expected = {t.filename for t in TABLES.values()}
    for name in sorted(set(present) - expected):
        problems.append(CaseDataProblem(reading.prefix + name, None, None,
                                        f"unknown table: the case-data tables are {', '.join(sorted(expected))}"))
    data: dict[str, list[Record]] = {}
    for table in TABLES.values():
        path = present.get(table.filename)
        where = reading.prefix + table.filename
        if path is None:
            if table.required and not reading.study:
                problems.append(CaseDataProblem(where, None, None,
                                                f"missing file: {table.filename} is required ({table.help})"))
            data[table.name] = []
            continue
        text = _decode(path.read_bytes(), where, problems)
        data[table.name] = [] if text is None else read_table(table, text, where, problems, vocabularies)
    return _finish(folder, data, problems, vocabularies, reading)


def _finish(origin: Path, data: dict[str, list[Record]], problems: list[CaseDataProblem],
            vocabularies: Mapping[str, frozenset[str]], reading: Reading) -> CaseData:
    _check_references(data, problems, vocabularies, reading.known)
    _check_conflicts(data, problems, reading.known)
    if problems:
        raise CaseDataError(problems)
    if reading.dataset:
        data = {name: [dataclasses.replace(r, dataset=reading.dataset) for r in records] for name, records in data.items()}
    return CaseData(origin, {name: tuple(records) for name, records in data.items()})


def read_datasets(specs: list, vocabularies: Mapping[str, frozenset[str]]) -> CaseData:
    """Read the primary dataset and each study (kg.datasets.DatasetSpec, in order) into one CaseData.

    A study may hold only the tables it needs and refer by id to the rows of the datasets before
    it. An id that two datasets both define is an error naming both files and rows, unless both
    rows say exactly the same (a study may repeat a bundled source, say): the first one is kept.
    Every problem of every dataset is reported at once.
    """
    problems: list[CaseDataProblem] = []
    parts: list[CaseData] = []
    known: dict[str, set[str]] = {name: set() for name in TABLES}
    defined: dict[tuple[str, str], Record] = {}
    tables: dict[str, list[Record]] = {name: [] for name in TABLES}
    for spec in specs:
        # with several datasets, every file is named with its folder: two of them hold partnerships.csv
        prefix = spec.prefix or (f"{Path(spec.path).name}/" if len(specs) > 1 else "")
        reading = Reading(spec.study, prefix, spec.slug if spec.study else "",
                          {name: frozenset(ids) for name, ids in known.items()})
        try:
            part = read_case_data(spec.path, vocabularies, reading)
        except CaseDataError as error:
            problems.extend(error.problems)
            continue
        parts.append(part)
        for record in part.records():
            earlier = defined.get((record.table, record.id))
            if earlier is None:
                defined[(record.table, record.id)] = record
                tables[record.table].append(record)
                known[record.table].add(record.id)
            elif dict(earlier.values) != dict(record.values):
                differ = sorted(k for k in set(earlier.values) | set(record.values)
                                if earlier.values.get(k) != record.values.get(k))
                problems.append(CaseDataProblem(record.path, record.row, "id",
                                                f"'{record.id}' is also defined by {earlier.path} row {earlier.row}, differently "
                                                f"({', '.join(differ)}): refer to that row by its id and delete this one, "
                                                "or give yours another id"))
    if problems:
        raise CaseDataError(problems)
    if len(specs) == 1 and parts:
        return dataclasses.replace(parts[0], datasets=tuple(specs))
    return CaseData(Path(specs[0].path), {name: tuple(records) for name, records in tables.items()}, tuple(specs))


# --- spreadsheets ------------------------------------------------------------------------------


def read_workbook(path: Path, vocabularies: Mapping[str, frozenset[str]], reading: Reading | None = None) -> CaseData:
    """Read an ``.xlsx`` workbook with one sheet per table (named ``partnerships`` or
    ``partnerships.csv``). Cells are read as the text a CSV export would hold; problems name the
    workbook, the sheet, the row and the column. Formulas and merged cells are refused (a formula's
    value is whatever the spreadsheet last computed, and a merged cell's value stands in one cell
    only), and so are numbers in date columns (Excel's serial dates): type dates as text."""
    import openpyxl

    reading = reading or Reading()
    name = reading.prefix + path.name
    problems: list[CaseDataProblem] = []
    try:
        workbook = openpyxl.load_workbook(path, data_only=False)  # formulas as formulas, to refuse them
    except Exception as error:  # noqa: BLE001 - openpyxl and zipfile raise several unrelated types
        raise CaseDataError([CaseDataProblem(name, None, None, f"cannot be read as an .xlsx workbook ({error.__class__.__name__}: "
                                             f"{error}): save it from the spreadsheet as 'Excel Workbook (.xlsx)'")]) from None
    by_name = {t.name: t for t in TABLES.values()} | {t.filename: t for t in TABLES.values()}
    sheets = {}
    for sheet in workbook.worksheets:
        table = by_name.get(sheet.title.strip())
        if table is None:
            problems.append(CaseDataProblem(f"{name} (sheet {sheet.title})", None, None,
                                            f"unknown table: name each sheet after a case-data table ({', '.join(TABLES)})"))
            continue
        sheets[table.name] = sheet
    if not workbook.worksheets or not sheets:
        problems.append(CaseDataProblem(name, None, None, "the workbook holds no case-data table: add one sheet per table, "
                                        f"named after it ({', '.join(TABLES)})"))
    data: dict[str, list[Record]] = {}
    for table in TABLES.values():
        sheet = sheets.get(table.name)
        where = f"{name} (sheet {table.name})"
        if sheet is None:
            if table.required and not reading.study:
                problems.append(CaseDataProblem(name, None, None, f"missing sheet: {table.name} is required ({table.help})"))
            data[table.name] = []
            continue
        for merged in sheet.merged_cells.ranges:
            problems.append(CaseDataProblem(where, merged.min_row, None,
                                            f"merged cells {merged.coord}: unmerge them and fill in each cell"))
        rows = [(cells[0].row if cells else i + 1, cells) for i, cells in enumerate(sheet.iter_rows())]
        header = next(([_cell_text(c) for c in cells] for _, cells in rows if any(_cell_text(c).strip() for c in cells)), [])
        columns = {i: table.column(h.strip()) for i, h in enumerate(header) if h.strip() in {c.name for c in table.columns}}
        numbered = []
        for number, cells in rows:
            texts = []
            for i, cell in enumerate(cells):
                column = columns.get(i)
                if cell.data_type == "f":
                    problems.append(CaseDataProblem(where, number, column.name if column else None,
                                                    f"the cell holds a formula ({cell.value}): type the value itself"))
                    texts.append("")
                    continue
                if column is not None and column.type is DATE and isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    problems.append(CaseDataProblem(where, number, column.name,
                                                    f"{cell.value!r} looks like an Excel serial date: format the column as text "
                                                    "and write YYYY, YYYY-MM or YYYY-MM-DD"))
                    texts.append("")
                    continue
                texts.append(_cell_text(cell))
            numbered.append((number, texts))
        data[table.name] = read_rows(table, numbered, where, problems, vocabularies)
    return _finish(path, data, problems, vocabularies, reading)


def _cell_text(cell) -> str:
    """The text a CSV export of the cell would hold."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
