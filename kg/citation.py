"""How to cite partnership-kg and its data, and how the data describes itself to search engines.

``CITATION.cff`` (Citation File Format 1.2.0, at the top of a checkout and in ``kg/_data`` of an
installed wheel) is the one source: :func:`load` reads it, :func:`work` picks the software (its
top level) or the data (its ``preferred-citation``), and :func:`apa` and :func:`bibtex` render a
work in two citation styles. :func:`schema_org_dataset` builds the schema.org ``Dataset`` that
/dataset embeds as JSON-LD, from the build's VoID/DCAT description, the citation, the data's
coverage (:func:`coverage`) and the service's own URLs, which the caller gives.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS

from . import __version__
from .namespaces import HSCP_IRI
from .settings import resource_file

CITATION_FILE = "CITATION.cff"
SCHEMA_ORG = "https://schema.org/"
# JSON-LD context written into the page: self-contained (nothing to fetch to read it), and the
# URL-valued properties typed as IRIs.
SCHEMA_ORG_CONTEXT = {"@vocab": SCHEMA_ORG, **{p: {"@type": "@id"} for p in ("url", "license", "contentUrl")}}


def citation_path() -> Path:
    return resource_file(CITATION_FILE)


@functools.lru_cache(maxsize=4)
def load(path: Path | None = None) -> dict:
    """CITATION.cff as a dict; YAML dates become ISO strings, as the CFF schema expects."""
    with open(path or citation_path(), encoding="utf-8") as handle:
        return _dates_as_text(yaml.safe_load(handle))


def _dates_as_text(value):
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def work(cff: dict, which: str = "data") -> dict:
    """The work to cite: ``"data"`` (the preferred citation) or ``"software"`` (the file's top level)."""
    if which == "data":
        return cff.get("preferred-citation") or cff
    if which == "software":
        return {k: v for k, v in cff.items() if k not in ("preferred-citation", "references")}
    raise ValueError(f"which must be 'data' or 'software', got {which!r}")


def year(entry: dict) -> str:
    released = entry.get("date-released") or entry.get("date-published")
    if released:
        return str(released)[:4]
    return str(entry["year"]) if entry.get("year") else "n.d."


def _kind(entry: dict) -> str:
    return "data" if entry.get("type") in ("data", "dataset", "database") else "software"


def _person_names(author: dict) -> tuple[str, str]:
    """(family names, given names) of a person; an entity's name is its family name, as it were."""
    if "name" in author:
        return author["name"], ""
    family = " ".join(p for p in (author.get("name-particle"), author.get("family-names"), author.get("name-suffix")) if p)
    return family, author.get("given-names", "")


def _initials(given: str) -> str:
    return " ".join(f"{part[0]}." for part in given.replace("-", " ").split() if part)


def apa(entry: dict) -> str:
    """An APA-style reference: Authors. (Year). Title (Version v) [Data set]. URL"""
    names = []
    for author in entry.get("authors", []):
        family, given = _person_names(author)
        names.append(f"{family}, {_initials(given)}" if given else family)
    if len(names) > 1:
        authors = ", ".join(names[:-1]) + ", & " + names[-1]
    else:
        authors = names[0] if names else "Anonymous"
    text = authors if authors.endswith(".") else authors + "."
    text += f" ({year(entry)}). {entry['title']}"
    if entry.get("version"):
        text += f" (Version {entry['version']})"
    text += " [Data set]." if _kind(entry) == "data" else " [Computer software]."
    if entry.get("url"):
        text += f" {entry['url']}"
    return text


_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(text))


def bibtex(entry: dict) -> str:
    """A BibTeX ``@misc`` entry; an organisation as author is braced so it is not split into names."""
    authors = []
    for author in entry.get("authors", []):
        family, given = _person_names(author)
        authors.append(f"{_tex(family)}, {_tex(given)}" if given else "{" + _tex(family) + "}")
    first = _person_names(entry["authors"][0])[0] if entry.get("authors") else "anonymous"
    key = "".join(c for c in first.lower() if c.isalnum()) + year(entry) + ("data" if _kind(entry) == "data" else "")
    fields = [("author", " and ".join(authors)), ("title", "{" + _tex(entry["title"]) + "}"), ("year", year(entry))]
    if entry.get("version"):
        fields.append(("version", _tex(entry["version"])))
    fields.append(("howpublished", "Dataset" if _kind(entry) == "data" else "Computer software"))
    if entry.get("url"):
        fields.append(("url", entry["url"]))
    if entry.get("license"):
        licences = entry["license"] if isinstance(entry["license"], list) else [entry["license"]]
        fields.append(("note", "Licence: " + _tex(" or ".join(licences))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


# --- schema.org ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Where and when the data is about: jurisdictions (IRI, label) and the first and last year."""

    places: tuple[tuple[str, str], ...]
    first_year: int | None
    last_year: int | None

    @property
    def period(self) -> str | None:
        """An ISO 8601 interval of years, ``"1999/2024"``, as schema.org's temporalCoverage takes it."""
        if self.first_year is None:
            return None
        return f"{self.first_year}/{self.last_year}"


def coverage(store, until: int | None = None) -> Coverage:
    """The jurisdictions in the store with their labels, and the span of its ``hscp:startYear`` values.

    Years after ``until`` (the build's year) are left out: a start year in the future is a
    projection or a plan (a population forecast for 2050), not a period the data covers.
    """
    jurisdictions = store.query(
        f"SELECT DISTINCT ?jurisdiction WHERE {{ ?jurisdiction a <{HSCP_IRI}Jurisdiction> }}", limit=100_000)
    iris = [str(row[0]) for row in jurisdictions.rows if isinstance(row[0], URIRef)]
    labels = store.labels(iris) if iris else {}
    places = tuple(sorted(((iri, labels.get(iri) or iri) for iri in iris), key=lambda p: p[1].casefold()))
    bound = f"FILTER(?year <= {int(until)})" if until is not None else ""
    years = store.query(f"SELECT (MIN(?year) AS ?first) (MAX(?year) AS ?last) "
                        f"WHERE {{ ?s <{HSCP_IRI}startYear> ?year {bound} }}")
    first, last = years.rows[0] if years.rows else (None, None)
    return Coverage(places, int(first) if first is not None else None, int(last) if last is not None else None)


def _schema_person(author: dict) -> dict:
    if "name" in author:
        return {"@type": "Organization", "name": author["name"]}
    family, given = _person_names(author)
    person = {"@type": "Person", "name": f"{given} {family}".strip(), "familyName": family}
    if given:
        person["givenName"] = given
    if author.get("orcid"):
        person["@id"] = author["orcid"]
    return person


def schema_org_dataset(description: Graph, dataset: URIRef, *, url: Callable[[str], str],
                       downloads: Iterable[tuple[str, str, str]], where_when: Coverage,
                       cff: dict | None = None) -> dict:
    """The schema.org ``Dataset`` (a JSON-LD dict) of the build described by ``description``.

    :param url: the public URL of a path of the web app (``url("/dataset")``).
    :param downloads: ``(file name, media type, title)`` of each dump served under /dataset/.
    :param where_when: the data's coverage (:func:`coverage`).
    :param cff: CITATION.cff as read by :func:`load` (default: the bundled file).
    """
    entry = work(cff if cff is not None else load(), "data")
    node = URIRef(dataset)
    title = description.value(node, DCTERMS.title) or entry.get("title")
    text = description.value(node, DCTERMS.description) or entry.get("abstract")
    licence = description.value(node, DCTERMS.license)
    markup = {
        "@context": SCHEMA_ORG_CONTEXT,
        "@type": "Dataset",
        "@id": str(node),
        "name": str(title),
        "description": str(text or ""),
        "url": url("/dataset"),
        "identifier": str(node),
        "version": __version__,
        "license": str(licence) if licence is not None else "https://creativecommons.org/licenses/by/4.0/",
        "isAccessibleForFree": True,
        "creator": [_schema_person(a) for a in entry.get("authors", [])],
    }
    modified = description.value(node, DCTERMS.modified)
    if modified is not None:
        markup["dateModified"] = str(modified)
    if entry.get("keywords"):
        markup["keywords"] = list(entry["keywords"])
    if where_when.places:
        markup["spatialCoverage"] = [{"@type": "Place", "@id": iri, "name": label} for iri, label in where_when.places]
    if where_when.period:
        markup["temporalCoverage"] = where_when.period
    markup["distribution"] = [{"@type": "DataDownload", "name": name, "description": title_,
                               "encodingFormat": media_type, "contentUrl": url(f"/dataset/{name}")}
                              for name, media_type, title_ in downloads]
    return markup
