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
import zipfile
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import CaseDataError, CaseDataProblem
from .iri import is_valid_iri

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
SEPARATOR = ";"
CONFIDENCE_LEVELS = ("confirmed", "partial", "unverified")
SOURCE_KINDS = ("article", "book", "chapter", "thesis", "report", "web-page", "slides", "blog-post", "legislation", "dataset")
STATEMENT_KINDS = ("stated-aim", "observed-driver")
BASES = ("stated", "derived")

# Characters XML 1.0 forbids (its Char production allows tab, LF, CR and everything from U+0020 on
# but the surrogates and U+FFFE/U+FFFF): a cell holding one would make the RDF/XML pages and the
# SPARQL XML results malformed, so reading refuses it.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The longest text a cell may hold: what an Excel cell holds. The case data is written and read
# back in spreadsheets (and `kg export --format xlsx` writes workbooks), so a longer cell could not
# be edited without being cut. The longest cell of the bundled data is under 1,000 characters; a
# text longer than this belongs in a source the row cites.
MAX_CELL_CHARS = 32_767
# Dates are as precise as the source, and some look ahead: contexts hold projections (people aged
# 85+ in 2050, the bundled data's latest date), forms planned ends (2027), events plans that run
# ten years. No date the case data holds lies after LATEST_YEAR, in any table: a later one is a
# slip (2205 for 2025).
LATEST_YEAR = 2100
# Tables that record what happened or was decided (set up, merged, enacted, evaluated, published)
# hold no date more than YEARS_AHEAD years after the current year: ten years leaves room for what
# is scheduled or planned (a merger taking effect next April, a body's announced end, an event
# spanning a ten-year plan, an evaluation running to the end of one) and still catches a slip such
# as 2052 for 2025. Findings and outcomes are left out (a model may project an effect decades
# ahead), and so are forms, contexts and observations (policy, projections and classifications may
# run ahead). The bundled data's latest date in these tables is 2026.
HAPPENED_TABLES = ("partnerships", "organisations", "memberships", "changes", "events", "legislation",
                   "evaluations", "evaluation-designs", "sources")
YEARS_AHEAD = 10


def _this_year() -> int:
    return datetime.date.today().year


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
    # An IRI may hold a no-break space or another space beyond ASCII; a web address typed in a
    # spreadsheet that holds one was pasted with it, so any whitespace is refused.
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or not is_valid_iri(value) \
            or any(c.isspace() for c in value):
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
    _allow_fields_of(len(text))
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as error:
        # the rows before it are still read: their problems and ids count
        problems.append(CaseDataProblem(path, len(rows) + 1, None,
                                        f"the file cannot be read as CSV at line {reader.line_num} ({error}): check that "
                                        "every quote that opens a cell closes it, and save the file again as 'CSV UTF-8'"))
        if not rows:
            return []
    return read_rows(table, [(i + 1, r) for i, r in enumerate(rows)], path, problems, vocabularies)


def _allow_fields_of(length: int) -> None:
    """Let csv.reader return every cell of a text ``length`` characters long.

    csv.reader stops at a field longer than csv.field_size_limit() (128 KiB by default) with an
    error that names no file, row or column. No field is longer than the text it comes from, so
    with the limit above the text's length each cell reaches :func:`read_rows`, which refuses one
    longer than MAX_CELL_CHARS naming all three. The limit is the csv module's (process-wide): it
    is only ever raised, and only for a text longer than it.
    """
    if csv.field_size_limit() <= length:
        csv.field_size_limit(min(length + 1, 2**31 - 1))


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
    for i, cell in enumerate(header):
        trouble = _cell_trouble(cell)
        if trouble:
            problems.append(CaseDataProblem(path, header_row, None, f"the header's column {i + 1} {trouble}"))
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
        refused = set()
        # one look at the whole row first: most rows are fine, and reading is per row
        troubled = max(map(len, cells), default=0) > MAX_CELL_CHARS or _XML_ILLEGAL.search("".join(cells))
        for i, cell in enumerate(cells if troubled else ()):
            trouble = _cell_trouble(cell)
            if trouble:
                name = header[i] if i < len(header) else None
                problems.append(CaseDataProblem(path, row_number, name,
                                                f"the text {trouble}" if name else f"cell {i + 1}: the text {trouble}"))
                refused.add(name)
        raw = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.name in refused:  # said once: its value is not read
                values[column.name] = () if column.type.many else None
                continue
            values[column.name] = _parse_cell(column, raw.get(column.name, ""), path, row_number, problems, vocabularies)
        records.append(Record(table.name, path, row_number, values.get("id") or raw.get("id", ""), values))
    return records


def _cell_trouble(text: str) -> str | None:
    """What makes a cell's text unfit to read (to follow 'the text '), or None."""
    if len(text) > MAX_CELL_CHARS:
        return (f"is {len(text):,} characters long, more than the {MAX_CELL_CHARS:,} a spreadsheet cell holds: "
                "shorten it (a long text belongs in a source that the row cites)")
    bad = _XML_ILLEGAL.search(text)
    if bad is None:
        return None
    more = len(_XML_ILLEGAL.findall(text, bad.end()))
    others = f" (and {more} more such character{'s' if more != 1 else ''})" if more else ""
    return (f"holds U+{ord(bad.group()):04X} at character {bad.start() + 1}{others}, a control character that XML "
            "cannot carry (pages and query results would break): delete it (it often comes with text copied from "
            "a PDF or another program)")


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
    if table.name == "changes":
        _check_change(record, problems)
    _check_dates(table, record, problems)
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


def _check_dates(table: Table, record: Record, problems: list[CaseDataProblem]) -> None:
    """No date after LATEST_YEAR; none more than YEARS_AHEAD years ahead in HAPPENED_TABLES."""
    for column in table.columns:
        if column.type is not DATE and column.type is not YEAR:
            continue
        value = record.values.get(column.name)
        year = value.year if isinstance(value, PartialDate) else value
        if not isinstance(year, int):
            continue
        if year > LATEST_YEAR:
            problems.append(CaseDataProblem(record.path, record.row, column.name,
                                            f"'{value}' lies after {LATEST_YEAR}, later than any date the case data "
                                            "holds, even a projection's: correct the year"))
        elif table.name in HAPPENED_TABLES and year > _this_year() + YEARS_AHEAD:
            problems.append(CaseDataProblem(record.path, record.row, column.name,
                                            f"'{value}' lies more than {YEARS_AHEAD} years ahead (after "
                                            f"{_this_year() + YEARS_AHEAD}), but {table.filename} records what "
                                            "happened or was decided: correct the year"))


def _check_change(record: Record, problems: list[CaseDataProblem]) -> None:
    """A change turns bodies into other bodies: an id on both sides only where the body carries on.

    A designation gives a body a new status (Torbay Care Trust takes on adult social care: it is
    the original and the resulting body), and a merger may keep one of the bodies it merges (the
    others are absorbed into it); a rename, an establishment or an abolition has nothing that is
    both before and after, and a merger of a body with nothing but itself changes nothing.
    """
    original = _as_tuple(record.values.get("original"))
    resulting = _as_tuple(record.values.get("resulting"))
    shared = [slug for slug in resulting if slug in original]
    if not shared:
        return
    kind = record.values.get("kind")
    if kind == "designation" or (kind == "merger" and any(slug not in resulting for slug in original)):
        return
    problems.append(CaseDataProblem(record.path, record.row, "resulting",
                                    f"{shared[0]} is both original and resulting: a {kind or 'change'} turns bodies "
                                    "into others (only a designation gives a body a new status, and a merger may keep "
                                    "one of the bodies it merges): correct 'original' or 'resulting'"))


def _rows_text(records: list[Record]) -> str:
    """'rows 2, 4', or each row with its file when they are in several files."""
    unique = list(dict.fromkeys((r.path, r.row) for r in records))
    if len({path for path, _ in unique}) == 1:
        return "row " + str(unique[0][1]) if len(unique) == 1 else "rows " + ", ".join(str(row) for _, row in unique)
    return ", ".join(f"{path} row {row}" for path, row in unique)


def _check_parent_cycles(records: Iterable[Record], problems: list[CaseDataProblem]) -> None:
    """A jurisdiction is never (through its parents) part of itself; each cycle is said once, at
    the row of its member that comes first, and named from there: a → b → a."""
    first: dict[str, Record] = {}
    for record in records:
        if record.id and record.id not in first:
            first[record.id] = record
    order = {slug: i for i, slug in enumerate(first)}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: walked
    for slug in first:
        path: list[str] = []
        node = slug
        while node in first and node not in state:
            state[node] = 1
            path.append(node)
            node = first[node].get("parent")
        if node in state and state[node] == 1:  # the walk came back to itself
            cycle = path[path.index(node):]
            start = cycle.index(min(cycle, key=order.__getitem__))
            cycle = cycle[start:] + cycle[:start]
            record = first[cycle[0]]
            names = " → ".join([*cycle, cycle[0]])
            if len(cycle) == 1:
                message = f"{names}: a jurisdiction cannot be part of itself: empty its parent or name the one it is part of"
            else:
                message = (f"{names}: a jurisdiction cannot be part of itself ({_rows_text([first[c] for c in cycle])}): "
                           "correct the parent of one of them")
            problems.append(CaseDataProblem(record.path, record.row, "parent", message))
        for node in path:
            state[node] = 2


def _check_change_cycles(records: list[Record], problems: list[CaseDataProblem],
                         rank: Callable[[Record], int] = lambda record: 0) -> None:
    """Nothing comes out of what it became: the changes (original → resulting) hold no cycle.

    Each cycle (each strongly connected group of bodies) is said once, at the row of its first
    change (the lowest ``rank`` first: with several datasets, the latest dataset's row, the one
    that closed it), and named from there: a → b → a, with the rows of its changes.
    """
    edges: dict[str, list[tuple[str, int, Record]]] = {}
    for index, record in enumerate(records):
        for a in _as_tuple(record.values.get("original")):
            for b in _as_tuple(record.values.get("resulting")):
                if a != b:  # a body that carries on (see _check_change)
                    edges.setdefault(a, []).append((b, index, record))
    for group in _strongly_connected(edges):
        if len(group) < 2:
            continue
        inside = [(rank(record), index, a, b, record) for a in group for b, index, record in edges.get(a, ()) if b in group]
        _, _, a, b, record = min(inside, key=lambda edge: edge[:2])
        # the shortest way back from b to a inside the group
        back: dict[str, tuple[str, Record] | None] = {b: None}
        queue = [b]
        for node in queue:
            if node == a:
                break
            for target, _, via in edges.get(node, ()):
                if target in group and target not in back:
                    back[target] = (node, via)
                    queue.append(target)
        steps: list[tuple[str, Record]] = []
        node = a
        while back[node] is not None:
            previous, via = back[node]
            steps.append((node, via))
            node = previous
        steps.reverse()
        names = " → ".join([a, b, *(node for node, _ in steps)])
        rows = _rows_text([record, *(via for _, via in steps)])
        problems.append(CaseDataProblem(record.path, record.row, "resulting",
                                        f"{names} is a cycle of changes ({rows}): a body cannot come out of what it "
                                        "became; one that returns after a change is a new body: give it an id of its "
                                        "own, or correct 'original' or 'resulting'"))


def _strongly_connected(edges: Mapping[str, list[tuple[str, int, Record]]]) -> list[set[str]]:
    """The strongly connected groups of a graph (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, ())
            while i < len(targets):
                target = targets[i][0]
                i += 1
                if target not in index:
                    work.append((node, i))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return groups


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
    # cycles within this dataset; read_datasets looks for those through several datasets
    _check_parent_cycles(data.get("jurisdictions", ()), problems)
    _check_change_cycles(data.get("changes", []), problems)
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
    if not problems and len(parts) > 1:
        # each dataset was checked alone: what is found now runs through several. A jurisdiction's
        # parent cycle cannot (a dataset refers only to the ones before it, and cannot give their
        # rows another parent), but a study's change may lead back to where a bundled one started.
        _check_parent_cycles(tables["jurisdictions"], problems)
        rank = {id(record): -i for i, part in enumerate(parts) for record in part["changes"]}
        _check_change_cycles(tables["changes"], problems, lambda record: rank.get(id(record), 0))
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
    marked = False
    try:
        workbook = openpyxl.load_workbook(path, data_only=False)  # formulas as formulas, to refuse them
    except Exception as error:  # noqa: BLE001 - openpyxl and zipfile raise several unrelated types
        workbook = _load_marked(path)
        if workbook is None:
            raise CaseDataError([CaseDataProblem(name, None, None, f"cannot be read as an .xlsx workbook ({error.__class__.__name__}: "
                                                 f"{error}): save it from the spreadsheet as 'Excel Workbook (.xlsx)'")]) from None
        marked = True
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
        header = next(([_cell_text(c, marked) for c in cells] for _, cells in rows if any(_cell_text(c, marked).strip() for c in cells)), [])
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
                texts.append(_cell_text(cell, marked))
            numbered.append((number, texts))
        data[table.name] = read_rows(table, numbered, where, problems, vocabularies)
    return _finish(path, data, problems, vocabularies, reading)


def _cell_text(cell, marked: bool = False) -> str:
    """The text a CSV export of the cell would hold (with the characters :func:`_load_marked`
    marked back as they were)."""
    value = cell.value
    if value is None:
        return ""
    if marked and isinstance(value, str):
        return _MARKED.sub(lambda m: chr(ord(m.group()) - _MARK), value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# A cell of a workbook's XML cannot hold a character XML forbids, so openpyxl refuses the whole
# workbook when a tool wrote one (raw or as a reference like &#1;), naming only a line of XML. To
# name the sheet, the row and the column instead, such a workbook is read again with each of these
# characters written as one of the private-use plane 16 (U+100000 + its code point), which
# _cell_text turns back, so that read_rows refuses it like any cell of a CSV file.
_MARK = 0x100000
_MARKED = re.compile("[\U00100000-\U00100008\U0010000B\U0010000C\U0010000E-\U0010001F"
                     "\U0010D800-\U0010DFFF\U0010FFFE\U0010FFFF]")
_XML_REFERENCE = re.compile(rb"&#(?:x([0-9A-Fa-f]+)|([0-9]+));")
_RAW_ILLEGAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]|\xed[\xa0-\xbf][\x80-\xbf]")


def _xml_illegal(code: int) -> bool:
    return _XML_ILLEGAL.match(chr(code)) is not None if code <= 0xFFFF else False


def _mark_xml(data: bytes) -> bytes:
    """The XML (UTF-8) with every character XML forbids written as its mark."""
    def reference(match: re.Match) -> bytes:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return b"&#x%X;" % (_MARK + code) if _xml_illegal(code) else match.group()

    def raw(match: re.Match) -> bytes:
        found = match.group()
        if len(found) == 1:
            code = found[0]
        else:  # a UTF-8 sequence of three bytes: U+FFFE, U+FFFF or a surrogate
            code = ((found[0] & 0x0F) << 12) | ((found[1] & 0x3F) << 6) | (found[2] & 0x3F)
        return chr(_MARK + code).encode("utf-8")

    return _RAW_ILLEGAL.sub(raw, _XML_REFERENCE.sub(reference, data))


def _load_marked(path: Path):
    """The workbook read with the characters XML forbids marked, or None when it holds none or
    still cannot be read."""
    import openpyxl

    try:
        with zipfile.ZipFile(path) as source:
            parts = [(info, source.read(info.filename)) for info in source.infolist()]
        changed = False
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
            for info, data in parts:
                if info.filename.startswith("xl/") and info.filename.endswith(".xml"):
                    marked = _mark_xml(data)
                    changed = changed or marked != data
                    data = marked
                target.writestr(info, data)
        if not changed:
            return None
        buffer.seek(0)
        return openpyxl.load_workbook(buffer, data_only=False)
    except Exception:  # noqa: BLE001 - as in read_workbook: the first error is the one reported
        return None
