"""The RDF serialisation formats, in one table: what each is called by HTTP, files, rdflib, pyoxigraph and W3C.

The web server negotiates them, the static publication writes a file and a redirect rule per
format, and query results and graphs are serialised in them; each of those reads its names here,
so that adding or renaming a format is one row. :data:`RDF_FORMATS` is in the server's order of
preference (the first is what a client that does not mind gets). SPARQL *results* formats (JSON,
XML, CSV, TSV) are not RDF and are not here.

>>> [f.extension for f in RDF_FORMATS]
['ttl', 'jsonld', 'rdf', 'nt']
>>> by_name("JSON-LD").rdflib, by_extension("rdf").oxigraph, by_name("ntriples").media_type
('json-ld', 'RDF_XML', 'application/n-triples')
>>> by_name("csv") is None
True
>>> by_extension("jsonld").accept_pattern, N_TRIPLES.accept_pattern  # for mod_rewrite's and nginx's Accept rules
('application/ld\\\\+json', 'application/n-triples')
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyoxigraph as ox

_SPECIAL = re.compile(r"[.^$*+?()\[\]{}|\\]")


@dataclasses.dataclass(frozen=True)
class RdfFormat:
    """One RDF syntax under every name the parts of the project know it by."""

    name: str  # what ?format= and QueryResult.serialize call it
    media_type: str  # the Content-Type it is served as
    extension: str  # of its files: /doc/….EXT, the static site's files
    rdflib: str  # rdflib's serializer and parser name
    oxigraph: str  # the pyoxigraph.RdfFormat member's name
    w3c: str  # its IRI under W3C (http://www.w3.org/ns/formats/), for service descriptions
    aliases: tuple[str, ...] = ()  # other media types that ask for it
    names: tuple[str, ...] = ()  # other names that ask for it

    @property
    def accept_pattern(self) -> str:
        """The media type as a regular expression, for the redirect rules that match ``Accept`` with it.

        Only what is special outside a character class is escaped (``+``, not ``-``, which
        :func:`re.escape` would), so that the rules read as the media types they match."""
        return _SPECIAL.sub(r"\\\g<0>", self.media_type)

    def oxigraph_format(self) -> ox.RdfFormat:
        """The ``pyoxigraph.RdfFormat`` to read or write it with, imported only when asked for."""
        import pyoxigraph

        return getattr(pyoxigraph.RdfFormat, self.oxigraph)


W3C = "http://www.w3.org/ns/formats/"
TURTLE = RdfFormat("turtle", "text/turtle", "ttl", "turtle", "TURTLE", W3C + "Turtle",
                   ("application/x-turtle",), ("ttl",))
JSON_LD = RdfFormat("jsonld", "application/ld+json", "jsonld", "json-ld", "JSON_LD", W3C + "JSON-LD",
                    ("application/json",), ("json-ld", "json"))
RDF_XML = RdfFormat("rdfxml", "application/rdf+xml", "rdf", "xml", "RDF_XML", W3C + "RDF_XML",
                    ("application/xml", "text/xml"), ("rdf", "xml"))
N_TRIPLES = RdfFormat("nt", "application/n-triples", "nt", "nt", "N_TRIPLES", W3C + "N-Triples",
                      ("text/plain",), ("ntriples", "n-triples"))
RDF_FORMATS: tuple[RdfFormat, ...] = (TURTLE, JSON_LD, RDF_XML, N_TRIPLES)
"""The formats a graph (a resource's description, a CONSTRUCT, the dataset, the ontology) is offered in."""

N_QUADS = RdfFormat("nquads", "application/n-quads", "nq", "nquads", "N_QUADS", W3C + "N-Quads")
"""The dump of every named graph (graph.nq): a dataset, not a graph, so not in :data:`RDF_FORMATS`
and never offered for negotiation; hosts still need its media type."""


def by_name(value: str) -> RdfFormat | None:
    """The graph format called ``value`` (its name, extension or another name, in any case), or None."""
    value = value.strip().lower()
    return next((f for f in RDF_FORMATS if value in (f.name, f.extension, *f.names)), None)


def by_extension(extension: str) -> RdfFormat | None:
    """The graph format whose files end in ``.extension``, or None."""
    return next((f for f in RDF_FORMATS if f.extension == extension), None)
