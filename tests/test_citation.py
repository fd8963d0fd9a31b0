"""CITATION.cff: a valid CFF 1.2.0 file for the software and the data, at the current version,
rendered in two citation styles on /dataset.

The CFF schema's validator (cffconvert) pins jsonschema below 4, which the other tests need, so
the file is checked here against the rules of the CFF 1.2.0 schema that apply to it: the
required keys, the allowed keys, the version, the date format, SPDX licence ids, the reference
types and the authors' shape.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import kg
from kg import citation

ROOT = Path(__file__).resolve().parent.parent

# The CFF 1.2.0 schema's top-level keys, and the reference types it allows.
CFF_KEYS = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi", "identifiers",
            "keywords", "license", "license-url", "message", "preferred-citation", "references", "repository",
            "repository-artifact", "repository-code", "title", "type", "url", "version"}
REFERENCE_TYPES = {"art", "article", "audiovisual", "bill", "blog", "book", "catalogue", "conference-paper",
                   "conference", "data", "database", "dictionary", "edited-work", "encyclopedia", "film-broadcast",
                   "generic", "government-document", "grant", "hearing", "historical-work", "legal-case",
                   "legal-rule", "magazine-article", "manual", "map", "multimedia", "music", "newspaper-article",
                   "pamphlet", "patent", "personal-communication", "proceedings", "report", "serial", "slides",
                   "software-code", "software-container", "software-executable", "software-virtual-machine",
                   "software", "sound-recording", "standard", "statute", "thesis", "unpublished", "video", "website"}
DATE = re.compile(r"^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$")
URL = re.compile(r"^(https|http|ftp|sftp)://.+")


@pytest.fixture(scope="module")
def cff() -> dict:
    return citation.load(ROOT / "CITATION.cff")


def test_the_checkout_s_citation_file_is_the_one_read():
    assert citation.citation_path() == ROOT / "CITATION.cff"


def test_citation_version_is_the_package_version(cff):
    assert cff["version"] == kg.__version__
    assert cff["preferred-citation"]["version"] == kg.__version__


def _check_authors(authors, where):
    assert isinstance(authors, list) and authors, f"{where}: authors must be a non-empty list"
    for author in authors:
        # an entity needs a name; a person has no 'name' key
        assert author.get("name") or author.get("family-names") or author.get("given-names"), where


def _check_work(work: dict, where: str):
    assert isinstance(work["title"], str) and work["title"], where
    if "date-released" in work:
        assert DATE.match(work["date-released"]), f"{where}: date-released {work['date-released']!r}"
    if "url" in work:
        assert URL.match(work["url"]), where
    if "keywords" in work:
        assert len(set(work["keywords"])) == len(work["keywords"]) > 0, where
    _check_authors(work["authors"], where)


def test_citation_file_follows_the_cff_1_2_0_schema(cff):
    raw = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert set(raw) <= CFF_KEYS, set(raw) - CFF_KEYS
    assert {"authors", "cff-version", "message", "title"} <= set(raw)
    assert raw["cff-version"] == "1.2.0"  # a string, not a number
    assert isinstance(raw["message"], str) and raw["message"]
    assert raw.get("type", "software") in ("software", "dataset")
    assert raw["license"] == "MIT"  # the code's licence (README, pyproject)
    _check_work(cff, "top level")
    preferred = cff["preferred-citation"]
    assert {"authors", "title", "type"} <= set(preferred)
    assert preferred["type"] in REFERENCE_TYPES and preferred["type"] == "data"
    assert preferred["license"] == "CC-BY-4.0"  # the data's licence
    _check_work(preferred, "preferred-citation")


def test_code_licence_agrees_with_pyproject(cff):
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == cff["license"]


@pytest.mark.parametrize("which", ["data", "software"])
@pytest.mark.parametrize("style", [citation.apa, citation.bibtex])
def test_both_styles_name_title_version_year_and_authors(cff, which, style):
    work = citation.work(cff, which)
    text = style(work)
    assert work["title"] in text
    assert kg.__version__ in text
    assert work["date-released"][:4] in text
    assert "partnership-kg contributors" in text


def test_apa_and_bibtex_shapes(cff):
    data = citation.work(cff, "data")
    assert citation.apa(data).startswith("partnership-kg contributors. (")
    assert "[Data set]" in citation.apa(data) and "[Computer software]" in citation.apa(citation.work(cff, "software"))
    entry = citation.bibtex(data)
    assert entry.startswith("@misc{") and entry.endswith("}")
    assert entry.count("{") == entry.count("}")
    assert "author = {{partnership-kg contributors}}" in entry  # an organisation is not split into names


def test_people_and_special_characters():
    work = {"type": "data", "title": "Costs & benefits_of 100% integration", "version": "2.0", "date-released": "2024-05-01",
            "authors": [{"given-names": "Ann Marie", "family-names": "Smith"}, {"given-names": "Jo", "family-names": "Lee"},
                        {"name": "Team X"}], "url": "https://example.org/d"}
    assert citation.apa(work) == ("Smith, A. M., Lee, J., & Team X. (2024). Costs & benefits_of 100% integration "
                                  "(Version 2.0) [Data set]. https://example.org/d")
    entry = citation.bibtex(work)
    assert "author = {Smith, Ann Marie and Lee, Jo and {Team X}}" in entry
    assert r"Costs \& benefits\_of 100\% integration" in entry
    assert entry.count("{") - entry.count(r"\{") == entry.count("}") - entry.count(r"\}")


class Citations(HTMLParser):
    """The texts of the page's citation blocks."""

    def __init__(self, html: str):
        super().__init__()
        self.blocks: list[str] = []
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if "citation" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        self._depth = 0

    def handle_data(self, data):
        if self._depth:
            self.blocks[-1] += data


def test_dataset_page_shows_the_citation_in_two_styles(client, cff):
    response = client.get("/dataset", headers={"Accept": "text/html"})
    assert response.status_code == 200
    blocks = Citations(response.get_data(as_text=True)).blocks
    data = citation.work(cff, "data")
    assert blocks == [citation.apa(data), citation.bibtex(data)]


def test_the_data_is_cited_by_the_title_the_build_gives_it(client, cff):
    from rdflib import Graph, URIRef
    from rdflib.namespace import DCTERMS

    graph = Graph().parse(data=client.get("/dataset.ttl").get_data(as_text=True), format="turtle")
    title = graph.value(URIRef("https://w3id.org/hscp/id/dataset"), DCTERMS.title)
    assert str(title) == cff["preferred-citation"]["title"]
