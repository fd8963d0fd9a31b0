"""The canned-query catalogue: one ``.rq`` file per query, a YAML header in ``#+`` lines.

The header keys are a closed set (title, description, params, tags, chart); every problem
with a file (bad YAML, an unknown key, a bad parameter type, SPARQL that does not parse, a
parameter the query has no variable for) is a ``QueryFileError`` naming the file and line,
raised when the catalogue loads. Parameter values are validated against their type and
returned as rdflib terms for the store to bind; they never touch the query text.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyoxigraph as ox
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from . import iri as _iri
from . import sparql as _sparql
from .errors import QueryError, QueryFileError, QueryNotFound, QueryParameterError

HEADER_KEYS = {"title", "description", "params", "tags", "chart"}
PARAM_KEYS = {"type", "required", "default", "example", "description", "choices", "choices_query"}
PARAM_TYPES = ("iri", "string", "integer", "decimal", "date", "language", "choice")
CHART_KEYS = {"kind", "x", "y", "series", "label"}
CHART_KINDS = ("bar", "stacked-bar", "heatmap", "timeline")
MAX_VALUE_LENGTH = 10_000

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def _bad(name: str, kind: str, value: str, why: str) -> QueryParameterError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return QueryParameterError(f"Parameter '{name}' ({kind}): {shown!r} {why}.")


def validate_iri(value: str, name: str = "iri") -> str:
    """An absolute IRI with none of ``<>"{}|^`\\``, spaces or control characters, or raise."""
    if not _iri.has_scheme(value):
        raise _bad(name, "iri", value, "is not an absolute IRI (it needs a scheme such as https:)")
    if _iri.FORBIDDEN.search(value):
        raise _bad(name, "iri", value, 'contains a character an IRI may not hold (<>"{}|^`\\, spaces)')
    try:
        ox.NamedNode(value)
    except ValueError:
        raise _bad(name, "iri", value, "is not a valid IRI") from None
    return value


def _text(value: str, name: str, kind: str) -> str:
    if len(value) > MAX_VALUE_LENGTH:
        raise _bad(name, kind, value, f"is longer than {MAX_VALUE_LENGTH} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(name, kind, value, "is not valid Unicode text") from None
    return value


def convert(kind: str, value: str, name: str):
    """The rdflib term for one raw value of a parameter type, or QueryParameterError."""
    value = _text(str(value), name, kind)
    if kind == "string":
        return Literal(value)
    value = value.strip()
    if kind == "iri":
        return URIRef(validate_iri(value, name))
    if kind == "integer":
        if not _INTEGER.fullmatch(value):
            raise _bad(name, kind, value, "is not a whole number")
        return Literal(str(int(value)), datatype=XSD.integer)
    if kind == "decimal":
        if not _DECIMAL.fullmatch(value):
            raise _bad(name, kind, value, "is not a decimal number such as 12.5")
        return Literal(value.lstrip("+"), datatype=XSD.decimal)
    if kind == "date":
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            datetime.date.fromisoformat(value)
        except ValueError:
            raise _bad(name, kind, value, "is not a date written YYYY-MM-DD") from None
        return Literal(value, datatype=XSD.date)
    if kind == "language":
        if not _LANGUAGE.fullmatch(value):
            raise _bad(name, kind, value, "is not a language tag such as en or en-GB")
        return Literal(value.lower())
    raise QueryParameterError(f"Parameter '{name}' has an unknown type {kind!r}.")  # pragma: no cover


def _choice_term(value: str):
    """A fixed choice is an IRI when it looks like one, else a plain literal."""
    if _iri.is_valid_iri(value):
        try:
            ox.NamedNode(value)
            return URIRef(value)
        except ValueError:
            pass
    return Literal(value)


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool = False
    default: str | None = None
    example: str | None = None
    description: str = ""
    choices: tuple[str, ...] | None = None
    choices_query: str | None = None

    def options(self, store=None) -> list[tuple[object, str]]:
        """A choice parameter's (term, label) pairs; a choices_query runs once per store."""
        if self.choices is not None:
            return [(_choice_term(c), c) for c in self.choices]
        if self.choices_query is None or store is None:
            return []

        def compute():
            result = store.query(self.choices_query)
            index = {v: i for i, v in enumerate(result.variables)}
            pairs = []
            for row in result.rows:
                term = row[index["value"]]
                if term is None:
                    continue
                label = row[index["label"]] if "label" in index else None
                pairs.append((term, str(label) if label is not None else str(term)))
            return pairs

        return store.memo(("choices", self.choices_query), compute)

    def convert(self, raw: str, store=None):
        """The term for one raw value, or QueryParameterError naming this parameter and its type."""
        if self.type != "choice":
            return convert(self.type, raw, self.name)
        value = _text(str(raw), self.name, "choice").strip()
        if self.choices is None and store is None:
            # Without a store the choices are unknown: accept a well-formed IRI or text.
            return _choice_term(value)
        for term, _label in self.options(store):
            if str(term) == value:
                return term
        allowed = [str(t) for t, _ in self.options(store)]
        listed = ", ".join(allowed[:10]) + (", …" if len(allowed) > 10 else "")
        raise _bad(self.name, "choice", value, f"is not one of the choices ({listed or 'none'})")


@dataclasses.dataclass(frozen=True)
class CannedQuery:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    tags: tuple[str, ...]
    chart: dict | None
    sparql: str
    path: Path | None = None

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise QueryParameterError(f"The query '{self.name}' has no parameter '{name}'.")

    def bindings(self, raw: Mapping[str, str], store=None) -> dict[str, object]:
        """Validate raw values (defaults applied); return {variable name: rdflib term}."""
        known = {p.name for p in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            expected = ", ".join(sorted(known)) or "none"
            raise QueryParameterError(
                f"The query '{self.name}' has no parameter {', '.join(repr(u) for u in unknown)} "
                f"(its parameters: {expected})."
            )
        bound = {}
        for param in self.params:
            value = raw.get(param.name)
            if value is None or (isinstance(value, str) and value == "" and param.type != "string"):
                value = param.default
            if value is None:
                if param.required:
                    raise QueryParameterError(
                        f"Parameter '{param.name}' ({param.type}) is required by the query '{self.name}'"
                        + (f", e.g. {param.example}." if param.example else ".")
                    )
                continue
            bound[param.name] = param.convert(value, store)
        return bound

    def example_params(self) -> dict[str, str]:
        return {p.name: p.example for p in self.params if p.example is not None}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "params": [
                {"name": p.name, "type": p.type, "required": p.required, "default": p.default,
                 "example": p.example}
                for p in self.params
            ],
        }


# --- reading files ---------------------------------------------------------------------------


def _split_header(text: str) -> tuple[str, list[int]]:
    """The YAML of the ``#+`` lines before the query, and the file line of each YAML line."""
    yaml_lines, numbers = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#+"):
            content = stripped[2:]
            yaml_lines.append(content[1:] if content.startswith(" ") else content)
            numbers.append(number)
        elif stripped and not stripped.startswith("#"):
            break
    return "\n".join(yaml_lines), numbers


def _key_line(numbers: list[int], yaml_text: str, key: str, default: int = 1) -> int:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*:")
    for index, line in enumerate(yaml_text.splitlines()):
        if pattern.match(line):
            return numbers[index]
    return numbers[0] if numbers else default


def _shown(path: Path) -> str:
    """A query file as messages name it: its folder and name, never the machine's full path."""
    return f"{path.parent.name}/{path.name}"


def parse_file(path: str | Path) -> CannedQuery:
    """Read one ``.rq`` file; raise QueryFileError naming the file and line for any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QueryFileError(f"{_shown(path)}: cannot be read: {error.__class__.__name__}") from None
    return parse_text(text, name=path.stem, path=path)


def parse_text(text: str, name: str, path: Path | None = None) -> CannedQuery:
    where = _shown(path) if path else name

    def fail(line: int, message: str) -> QueryFileError:
        return QueryFileError(f"{where}:{line}: {message}")

    yaml_text, numbers = _split_header(text)
    if not numbers:
        raise fail(1, "no '#+' header: a canned query starts with '#+ title: …' lines.")
    try:
        header = yaml.safe_load(yaml_text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = numbers[min(mark.line, len(numbers) - 1)] if mark is not None else numbers[0]
        problem = getattr(error, "problem", None) or str(error)
        raise fail(line, f"the '#+' header is not valid YAML: {problem}.") from None
    if not isinstance(header, dict):
        raise fail(numbers[0], "the '#+' header must be a mapping of keys (title, description, …).")
    line_of = lambda key: _key_line(numbers, yaml_text, key)  # noqa: E731
    for key in header:
        if key not in HEADER_KEYS:
            raise fail(line_of(str(key)), f"unknown header key '{key}'; allowed: {', '.join(sorted(HEADER_KEYS))}.")
    title = header.get("title")
    if not isinstance(title, str) or not title.strip():
        raise fail(line_of("title"), "the header needs a 'title' (text).")
    description = header.get("description") or ""
    if not isinstance(description, str):
        raise fail(line_of("description"), "'description' must be text.")
    tags = header.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fail(line_of("tags"), "'tags' must be a list of words, e.g. [membership].")

    try:
        parsed = _sparql.parse(text)
    except QueryError as error:
        line = getattr(error, "line", None) or (numbers[-1] + 1)
        raise fail(line, f"the SPARQL is not acceptable: {error}") from None

    params_raw = header.get("params") or {}
    if not isinstance(params_raw, dict):
        raise fail(line_of("params"), "'params' must be a mapping of parameter names to their settings.")
    params = []
    for pname, spec in params_raw.items():
        pline = line_of(str(pname))
        params.append(_parse_param(str(pname), spec, parsed, lambda m, pl=pline: fail(pl, m)))

    chart = header.get("chart")
    if chart is not None:
        cline = line_of("chart")
        if not isinstance(chart, dict):
            raise fail(cline, "'chart' must be a mapping such as {kind: bar, x: jurisdiction, y: count}.")
        for key in chart:
            if key not in CHART_KEYS:
                raise fail(cline, f"unknown chart key '{key}'; allowed: {', '.join(sorted(CHART_KEYS))}.")
        if chart.get("kind") not in CHART_KINDS:
            raise fail(cline, f"chart 'kind' must be one of {', '.join(CHART_KINDS)}.")
        for key in ("x", "y"):
            if key not in chart:
                raise fail(cline, f"the chart needs '{key}' (a variable the query selects).")
        for key in ("x", "y", "series", "label"):
            if key in chart and (not isinstance(chart[key], str) or chart[key].lstrip("?") not in parsed.variables):
                raise fail(cline, f"chart '{key}': ?{chart[key]} is not a variable the query selects.")
        chart = {k: v.lstrip("?") if isinstance(v, str) and k != "kind" else v for k, v in chart.items()}

    return CannedQuery(
        name=name,
        title=title.strip(),
        description=description.strip(),
        params=tuple(params),
        tags=tuple(tags),
        chart=chart,
        sparql=text,
        path=path,
    )


def _parse_param(name: str, spec, parsed, fail) -> Param:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise fail(f"parameter name '{name}' is not a SPARQL variable name.")
    if not isinstance(spec, dict):
        raise fail(f"parameter '{name}' must be a mapping such as {{type: iri, example: \"…\"}}.")
    for key in spec:
        if key not in PARAM_KEYS:
            raise fail(f"parameter '{name}': unknown key '{key}'; allowed: {', '.join(sorted(PARAM_KEYS))}.")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise fail(f"parameter '{name}': type {kind!r} is not one of {', '.join(PARAM_TYPES)}.")
    if name not in parsed.mentioned:
        raise fail(f"parameter '{name}' has no matching ?{name} in the query.")
    try:
        _sparql.check_bindings(parsed, [name])
    except QueryParameterError as error:
        raise fail(f"parameter '{name}': {error}") from None
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"parameter '{name}': 'required' must be true or false.")
    choices = spec.get("choices")
    choices_query = spec.get("choices_query")
    if kind == "choice":
        if (choices is None) == (choices_query is None):
            raise fail(f"parameter '{name}': a choice needs exactly one of 'choices' (a list) or 'choices_query'.")
        if choices is not None:
            if not isinstance(choices, list) or not choices or not all(isinstance(c, (str, int, float)) for c in choices):
                raise fail(f"parameter '{name}': 'choices' must be a non-empty list of values.")
            choices = tuple(str(c) for c in choices)
        if choices_query is not None:
            try:
                sub = _sparql.parse(str(choices_query))
            except QueryError as error:
                raise fail(f"parameter '{name}': choices_query: {error}") from None
            if sub.form != "select" or "value" not in sub.variables:
                raise fail(f"parameter '{name}': choices_query must be a SELECT of ?value (and ?label).")
    elif choices is not None or choices_query is not None:
        raise fail(f"parameter '{name}': 'choices' and 'choices_query' are for type choice only.")
    text = {}
    for key in ("default", "example", "description"):
        value = spec.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise fail(f"parameter '{name}': '{key}' must be a single value.")
        text[key] = None if value is None else str(value)
    if text["example"] is None and text["default"] is None:
        raise fail(f"parameter '{name}' needs an 'example' (the form shows it and the tests run it).")
    param = Param(name=name, type=kind, required=required, default=text["default"], example=text["example"],
                  description=text["description"] or "", choices=choices,
                  choices_query=None if choices_query is None else str(choices_query))
    for key in ("default", "example"):
        if text[key] is not None:
            try:
                param.convert(text[key])
            except QueryParameterError as error:
                raise fail(f"'{key}' is not valid: {error}") from None
    return param


class Catalogue:
    """Every canned query in a folder, by name."""

    def __init__(self, queries: Mapping[str, CannedQuery]):
        self._queries = dict(sorted(queries.items()))

    @classmethod
    def load(cls, directory: str | Path) -> "Catalogue":
        directory = Path(directory)
        if not directory.is_dir():
            raise QueryFileError(f"{Path(directory).name}/: there is no folder of canned queries here (KG_QUERIES_DIR).")
        return cls({path.stem: parse_file(path) for path in sorted(directory.glob("*.rq"))})

    def get(self, name: str) -> CannedQuery:
        try:
            return self._queries[name]
        except KeyError:
            known = ", ".join(self._queries) or "none"
            raise QueryNotFound(f"There is no canned query named '{name}' (known: {known}).") from None

    def __iter__(self) -> Iterator[CannedQuery]:
        return iter(self._queries.values())

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def names(self) -> list[str]:
        return list(self._queries)

    def to_json(self) -> list[dict]:
        return [query.to_json() for query in self]
