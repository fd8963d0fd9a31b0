"""Media types <-> formats, in one table, and the one function that chooses between them.

A view says which kinds of representation it can produce ("html", "results" for SELECT/ASK,
"graph" for RDF) and calls :func:`choose`. An explicit ``format`` parameter (a format name
or a media type) or a file extension wins over the ``Accept`` header; the order of
:data:`FORMATS` is the server's preference when the client does not mind (``*/*``). The
"graph" rows are :data:`kg.formats.RDF_FORMATS`, the one table the static publication, the
service description and query results read too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from werkzeug.datastructures import MIMEAccept

from kg.errors import UsageError
from kg.formats import RDF_FORMATS


class NotAcceptable(UsageError):
    """None of the representations the client accepts can be produced."""

    http_status = 406


@dataclasses.dataclass(frozen=True)
class Format:
    name: str  # what ?format= and the CLI call it
    kind: str  # html | results | graph | json
    media_type: str  # what the response's Content-Type says
    extension: str  # /doc/….EXT, /queries/NAME.EXT
    serializer: str | None  # the argument QueryResult.serialize takes
    aliases: tuple[str, ...] = ()  # other media types that ask for it
    names: tuple[str, ...] = ()  # other ?format= names

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type.endswith(("json", "+xml", "n-triples")):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


FORMATS: tuple[Format, ...] = (
    Format("html", "html", "text/html", "html", None, ("application/xhtml+xml",)),
    Format("json", "results", "application/sparql-results+json", "json", "json", ("application/json",)),
    Format("xml", "results", "application/sparql-results+xml", "xml", "xml", ("application/xml", "text/xml")),
    Format("csv", "results", "text/csv", "csv", "csv"),
    Format("tsv", "results", "text/tab-separated-values", "tsv", "tsv"),
    # the RDF formats, from kg.formats; QueryResult.serialize takes their names
    *(Format(f.name, "graph", f.media_type, f.extension, f.name, f.aliases, f.names) for f in RDF_FORMATS),
    Format("api-json", "json", "application/json", "json", None),
)

HTML = FORMATS[0]
JSON_RESULTS = FORMATS[1]
TURTLE = FORMATS[5]
API_JSON = FORMATS[-1]


def formats(*kinds: str) -> list[Format]:
    """The formats of the given kinds, in preference order."""
    return [f for f in FORMATS if f.kind in kinds]


def by_extension(extension: str, kinds: Iterable[str]) -> Format | None:
    kinds = tuple(kinds)
    return next((f for f in FORMATS if f.kind in kinds and f.extension == extension), None)


def by_name(value: str, kinds: Iterable[str]) -> Format | None:
    """A format named by ``?format=``: its name, another name, its extension or a media type."""
    kinds = tuple(kinds)
    value = value.strip().lower()
    for f in FORMATS:
        if f.kind in kinds and value in (f.name, f.extension, f.media_type, *f.names):
            return f
    for f in FORMATS:
        if f.kind in kinds and value in f.aliases:
            return f
    return None


def choose(accept: MIMEAccept, kinds: Iterable[str], *, requested: str | None = None,
           default: Format | None = None) -> Format:
    """The format to answer with.

    :param accept: the request's parsed ``Accept`` header.
    :param kinds: what the view can produce, e.g. ``("html", "graph")``.
    :param requested: a ``format`` parameter or an extension, which wins over ``Accept``.
    :param default: the answer when the client sends no ``Accept`` at all.
    :raise NotAcceptable: (406) when nothing the client accepts can be produced.
    """
    kinds = tuple(kinds)
    candidates = formats(*kinds)
    if requested:
        chosen = by_name(requested, kinds)
        if chosen is None:
            offered = ", ".join(f.name for f in candidates)
            raise UsageError(f"format={requested!r} is not available here; choose one of: {offered}.")
        return chosen
    if not accept:
        return default or candidates[0]
    media_types: list[str] = []
    for f in candidates:
        for media_type in (f.media_type, *f.aliases):
            if media_type not in media_types:
                media_types.append(media_type)
    best = accept.best_match(media_types)
    if best is None:
        offered = ", ".join(f.media_type for f in candidates)
        raise NotAcceptable(f"None of the media types in the Accept header can be produced here; "
                            f"this resource is available as {offered}.")
    # A wildcard matched: the client does not mind, so the default (or our first) wins.
    if accept.quality(best) == accept.quality("*/*") and best not in accept.values() and default is not None:
        return default
    for f in candidates:
        if best == f.media_type:
            return f
    return next(f for f in candidates if best in f.aliases)
