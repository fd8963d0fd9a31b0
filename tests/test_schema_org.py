"""/dataset embeds a schema.org Dataset as JSON-LD, read here as RDF the way a harvester reads it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

import kg
from kg import citation
from test_web_fixtures import MINIMAL, SCRIPT

SDO = "https://schema.org/"
DATASET = URIRef("https://w3id.org/hscp/id/dataset")
HSCP = "https://w3id.org/hscp/def#"


class JsonLd(HTMLParser):
    """The text of every <script type="application/ld+json"> of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.blocks: list[str] = []
        self._inside = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._inside = tag == "script" and dict(attrs).get("type") == "application/ld+json"
        if self._inside:
            self.blocks.append("")

    def handle_endtag(self, tag):
        self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.blocks[-1] += data


def markup(client) -> Graph:
    response = client.get("/dataset", headers={"Accept": "text/html"})
    assert response.status_code == 200
    [block] = JsonLd(response.get_data(as_text=True)).blocks
    return Graph().parse(data=block, format="json-ld")


def s(name: str) -> URIRef:
    return URIRef(SDO + name)


@pytest.fixture(scope="module")
def graph(web_app):
    return markup(web_app.test_client())


def test_it_is_a_dataset_with_name_licence_version_and_creator(graph):
    assert (DATASET, RDF.type, s("Dataset")) in graph
    assert str(graph.value(DATASET, s("name"))) == "Health and social care partnerships: evidence knowledge graph"
    assert graph.value(DATASET, s("license")) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert graph.value(DATASET, s("version")) == Literal(kg.__version__)
    assert graph.value(DATASET, s("isAccessibleForFree")) == Literal(True)
    creator = graph.value(DATASET, s("creator"))
    assert (creator, RDF.type, s("Organization")) in graph
    assert str(graph.value(creator, s("name"))) == "partnership-kg contributors"
    assert str(graph.value(DATASET, s("description")))
    assert {str(k) for k in graph.objects(DATASET, s("keywords"))} >= {"integrated care", "linked data"}
    assert str(graph.value(DATASET, s("url"))) == "http://localhost/dataset"


def test_each_dump_is_a_data_download_that_the_app_serves(graph, client):
    from kg.build import DUMPS

    downloads = list(graph.objects(DATASET, s("distribution")))
    assert len(downloads) == len(DUMPS)
    formats = {}
    for download in downloads:
        assert (download, RDF.type, s("DataDownload")) in graph
        url = graph.value(download, s("contentUrl"))
        assert isinstance(url, URIRef) and str(url).startswith("http://localhost/dataset/")
        formats[str(url).rsplit("/", 1)[1]] = str(graph.value(download, s("encodingFormat")))
        response = client.get(str(url).removeprefix("http://localhost"))
        assert response.status_code == 200 and response.mimetype == formats[str(url).rsplit("/", 1)[1]]
    assert formats == {name: media for name, (media, _title) in DUMPS.items()}


def test_spatial_coverage_is_the_jurisdictions_of_the_data(graph):
    import csv

    with (MINIMAL / "jurisdictions.csv").open(encoding="utf-8") as handle:
        expected = {row["label"] for row in csv.DictReader(handle)}
    places = list(graph.objects(DATASET, s("spatialCoverage")))
    assert all((p, RDF.type, s("Place")) in graph for p in places)
    assert {str(graph.value(p, s("name"))) for p in places} == expected
    assert URIRef("https://w3id.org/hscp/id/jurisdiction/scotland") in places


def test_temporal_coverage_spans_the_start_years_of_the_data(graph, client):
    dump = Graph().parse(data=client.get("/dataset/data.ttl").get_data(as_text=True), format="turtle")
    years = [int(y) for y in dump.objects(None, URIRef(HSCP + "startYear"))]
    assert years
    assert str(graph.value(DATASET, s("temporalCoverage"))) == f"{min(years)}/{max(years)}"


def test_future_years_are_left_out_of_the_temporal_coverage(web_store):
    everything = citation.coverage(web_store)
    assert everything.first_year < everything.last_year
    cut = citation.coverage(web_store, until=everything.last_year - 1)
    assert cut.first_year == everything.first_year and cut.last_year < everything.last_year


def test_the_markup_is_escaped_in_the_page(web_app, monkeypatch):
    """Text with a closing script tag stays inside the JSON-LD block and reads back unchanged."""
    from webapp import dataset

    build = citation.schema_org_dataset

    def with_script(*args, **kwargs):
        found = build(*args, **kwargs)
        return dict(found, name=SCRIPT + "</script>")

    monkeypatch.setattr(dataset.citation, "schema_org_dataset", with_script)
    response = web_app.test_client().get("/dataset", headers={"Accept": "text/html"})
    assert SCRIPT not in response.get_data(as_text=True)
    [block] = JsonLd(response.get_data(as_text=True)).blocks
    assert str(Graph().parse(data=block, format="json-ld").value(DATASET, s("name"))) == SCRIPT + "</script>"
