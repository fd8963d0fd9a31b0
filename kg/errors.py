"""The one error hierarchy of partnership-kg: str(error) is a sentence a user can act on."""

from __future__ import annotations


class KGError(Exception):
    """Base of every error partnership-kg raises on purpose.

    ``exit_code`` is what the CLI exits with: 1 when the data is wrong, 2 for usage or
    environment errors. ``http_status`` is what the web app answers with.
    """

    exit_code = 2
    http_status = 500


# --- the data is wrong (exit 1) -------------------------------------------------------


class DataError(KGError):
    """The case data, its validation or its reasoning failed."""

    exit_code = 1
    http_status = 500


class CaseDataProblem:
    """One problem in one case file: FILE:ROW: column 'NAME': message."""

    __slots__ = ("path", "row", "field", "message")

    def __init__(self, path: str, row: int | None, field: str | None, message: str):
        self.path, self.row, self.field, self.message = path, row, field, message

    def __str__(self) -> str:
        where = self.path if self.row is None else f"{self.path}:{self.row}"
        column = f" column '{self.field}':" if self.field else ""
        return f"{where}:{column} {self.message}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"CaseDataProblem({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaseDataProblem) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class CaseDataError(DataError):
    """One or more problems in the case files, all reported at once.

    ``problems`` holds every problem. The message shows the first :attr:`shown` of them and, when
    there are more, ends with a line counting the rest and every problem by file and column: a
    file of 420,000 bad rows would otherwise print tens of megabytes that nobody reads.
    """

    shown = 200  # problems the message lists; the fix for the first ones usually fixes most
    places = 20  # (file, column) counts the summary line names, the largest first

    def __init__(self, problems: list[CaseDataProblem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count:,} problem{'s' if count != 1 else ''} in the case data:"
        lines = [head, *(f"  {p}" for p in self.problems[: self.shown])]
        if count > self.shown:
            lines.append(f"  … and {count - self.shown:,} more (kg validate --format json lists every one). "
                         f"All {count:,} by file and column: {self._by_place()}")
        super().__init__("\n".join(lines))

    def _by_place(self) -> str:
        counts: dict[tuple[str, str | None], int] = {}
        for problem in self.problems:
            key = (problem.path, problem.field)
            counts[key] = counts.get(key, 0) + 1
        # the largest first; ties in the order the problems came (dicts keep insertion order)
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        text = "; ".join(f"{path} column '{field}' {n:,}" if field else f"{path} {n:,}"
                         for (path, field), n in ranked[: self.places])
        if len(ranked) > self.places:
            rest = sum(n for _, n in ranked[self.places:])
            text += f"; {len(ranked) - self.places:,} other files and columns {rest:,}"
        return text


class ValidationFailed(DataError):
    """The graph does not conform to the SHACL shapes."""

    def __init__(self, report):
        self.report = report
        super().__init__(report.text)


class InconsistentOntology(DataError):
    """The ontology together with the data is inconsistent under the OWL reasoner."""

    def __init__(self, message: str, culprits: list[str] | None = None):
        self.culprits = list(culprits or [])
        super().__init__(message)


# --- usage and environment (exit 2) ---------------------------------------------------


class UsageError(KGError):
    """The command line or a request was wrong."""

    exit_code = 2
    http_status = 400


class ConfigurationError(KGError):
    """A setting has a value that cannot be used."""

    exit_code = 2


class BuildNotFound(KGError):
    """There is no build where one was expected."""

    exit_code = 2
    http_status = 503


class BuildWriteError(KGError):
    """The build could not be written: a full disk, a quota, a read-only file system, no permission.

    Not a problem of the data: the previous build is left as it was.
    """

    exit_code = 2


class OntologyFileError(KGError):
    """An ontology, scheme or shapes file cannot be read."""

    exit_code = 2


class ReasonerError(KGError):
    """The reasoner could not run (not: the data is inconsistent)."""

    exit_code = 2


# --- queries ----------------------------------------------------------------------------


class QueryError(KGError):
    """A query could not be answered."""

    exit_code = 2
    http_status = 400


class QuerySyntaxError(QueryError):
    """The SPARQL text does not parse."""


class QueryRefused(QueryError):
    """The query asks for something the service never does (SERVICE, updates, LOAD, ...)."""

    http_status = 400


class QueryTimeout(QueryError):
    """The query ran past its time limit and was stopped."""

    http_status = 503


class ServiceBusy(QueryTimeout):
    """The query was not started: every worker it may use stayed busy, or too many slow queries
    were already waiting. Nothing is known of the query's own cost."""


class QueryOverMemory(QueryError):
    """The query's worker went past its memory limit (KG_WORKER_MEMORY) and was stopped."""

    http_status = 503


class QueryParameterError(QueryError):
    """A canned query's parameter value is missing or not of its type."""

    http_status = 400


class QueryNotFound(QueryError):
    """No canned query has that name."""

    http_status = 404


class QueryFileError(KGError):
    """A canned-query file is malformed (header, parameters or SPARQL)."""

    exit_code = 2


class ResourceNotFound(KGError):
    """No resource in the graph has that IRI."""

    http_status = 404


class StoreError(KGError):
    """The store could not be opened, loaded or reached."""

    exit_code = 2
    http_status = 502


class BuildDamaged(StoreError):
    """A build's graph.nq does not match what its report.json records (truncated or changed)."""

    http_status = 503
