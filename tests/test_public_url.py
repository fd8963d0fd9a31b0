"""KG_PUBLIC_URL: behind a proxy, every URL the app publishes about itself is under the public URL.

The requests below come in on an internal host (``http://internal.invalid:8080``); with
``public_url`` set, that host must appear nowhere in what the app answers, and without it the
app keeps naming the host the request came in on.
"""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, VOID

from kg.errors import ConfigurationError
from kg.namespaces import SD
from kg.settings import Settings

PUBLIC = "https://example.org/kg/"
INTERNAL = "http://internal.invalid:8080"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def public_app(web_settings, web_store):
    from webapp import create_app

    app = create_app(web_settings.replace(public_url=PUBLIC), web_store)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def public(public_app):
    return public_app.test_client()


def get(client, path, **kwargs):
    response = client.get(path, base_url=INTERNAL, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert "internal.invalid" not in body, f"{path} names the request's host"
    return response


class Links(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.canonical: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "canonical":
            self.canonical.append(attrs["href"])


def canonical(response) -> str:
    [href] = Links(response.get_data(as_text=True)).canonical
    return href


@pytest.mark.parametrize("path, expected", [
    ("/", ""),
    ("/doc/partnership/torbay-care-trust", "doc/partnership/torbay-care-trust"),
    ("/doc/partnership/torbay-care-trust.html", "doc/partnership/torbay-care-trust"),
    ("/doc/jurisdiction/scotland", "doc/jurisdiction/scotland"),
    ("/dataset", "dataset"),
    ("/def", "def"),
    ("/queries", "queries"),
    ("/queries/web-test-partnerships-by-jurisdiction", "queries/web-test-partnerships-by-jurisdiction"),
    ("/compare?rows=jurisdiction&columns=budget-integration", "compare?rows=jurisdiction&columns=budget-integration"),
    ("/jurisdictions", "jurisdictions"),
    ("/sparql", "sparql"),
])
def test_pages_name_their_canonical_url_under_the_public_url(public, client, path, expected):
    assert canonical(get(public, path, headers=HTML)) == PUBLIC + expected
    # without KG_PUBLIC_URL: the host the request came in on, as before
    assert canonical(client.get(path, headers=HTML, base_url=INTERNAL)) == f"{INTERNAL}/{expected}"


def endpoints(response) -> list:
    assert response.mimetype == "text/turtle"
    return list(Graph().parse(data=response.get_data(as_text=True), format="turtle").objects(None, SD.endpoint))


def test_the_service_description_names_the_public_endpoint(public, client):
    assert endpoints(get(public, "/sparql", headers={"Accept": "text/turtle"})) == [URIRef(PUBLIC + "sparql")]
    assert endpoints(client.get("/sparql", headers={"Accept": "text/turtle"}, base_url=INTERNAL)) == \
        [URIRef(INTERNAL + "/sparql")]


def test_the_dataset_description_gives_the_public_urls_of_the_service(public, client):
    graph = Graph().parse(data=get(public, "/dataset.ttl").get_data(as_text=True), format="turtle")
    dataset = URIRef("https://w3id.org/hscp/id/dataset")
    assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef(PUBLIC + "sparql")
    assert graph.value(dataset, DCAT.landingPage) == URIRef(PUBLIC + "dataset")
    assert (URIRef(PUBLIC + "sparql"), DCAT.endpointURL, URIRef(PUBLIC + "sparql")) in graph
    distributions = set(graph.objects(dataset, DCAT.distribution))
    assert len(distributions) == 4
    for distribution in distributions:
        name = str(distribution).rsplit("/", 1)[1]
        assert graph.value(distribution, DCAT.accessURL) == URIRef(f"{PUBLIC}dataset/{name}")
        assert URIRef(f"{PUBLIC}dataset/{name}") in set(graph.objects(distribution, DCAT.downloadURL))
        # and the URL given is one this app serves
        assert client.get(f"/dataset/{name}").status_code == 200
    # the other RDF formats say the same
    other = Graph().parse(data=get(public, "/dataset.jsonld").get_data(as_text=True), format="json-ld")
    assert other.value(dataset, VOID.sparqlEndpoint) == URIRef(PUBLIC + "sparql")
    # without KG_PUBLIC_URL: the request's host
    graph = Graph().parse(data=client.get("/dataset.ttl", base_url=INTERNAL).get_data(as_text=True), format="turtle")
    assert graph.value(dataset, VOID.sparqlEndpoint) == URIRef(INTERNAL + "/sparql")


def test_the_openapi_document_serves_from_the_public_url(public, client):
    assert get(public, "/openapi.json").get_json()["servers"] == [{"url": PUBLIC.rstrip("/")}]
    assert client.get("/openapi.json", base_url=INTERNAL).get_json()["servers"] == [{"url": INTERNAL}]


@pytest.mark.parametrize("path, params", [
    ("/jurisdictions/scotland.json", {}),
    ("/compare.json", {"rows": "jurisdiction", "columns": "budget-integration"}),
    ("/evidence.json", {"rows": "form"}),
])
def test_json_downloads_carry_their_public_url(public, client, path, params):
    from urllib.parse import urlencode

    query = ("?" + urlencode(params)) if params else ""
    assert get(public, path, query_string=params).get_json()["url"] == PUBLIC + path.lstrip("/") + query
    assert client.get(path, query_string=params, base_url=INTERNAL).get_json()["url"] == INTERNAL + path + query


def test_csv_downloads_carry_their_public_url(public):
    response = get(public, "/compare.csv", query_string={"rows": "jurisdiction", "columns": "budget-integration"})
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    metadata = " ".join(cell for row in rows if row and row[0].startswith("# ") for cell in row)
    assert PUBLIC + "compare.csv?rows=jurisdiction&columns=budget-integration" in metadata


def test_the_schema_org_markup_uses_the_public_url(public):
    html = get(public, "/dataset", headers=HTML).get_data(as_text=True)
    block = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    markup = json.loads(block)
    assert markup["url"] == PUBLIC + "dataset"
    assert markup["distribution"] and all(d["contentUrl"].startswith(PUBLIC + "dataset/") for d in markup["distribution"])


def test_public_url_without_a_proxy_prefix_has_no_double_slash(web_settings, web_store):
    from webapp import create_app

    app = create_app(web_settings.replace(public_url="https://example.org"), web_store)
    assert endpoints(app.test_client().get("/sparql", headers={"Accept": "text/turtle"})) == \
        [URIRef("https://example.org/sparql")]


def test_public_url_is_read_from_the_environment_and_checked():
    assert Settings.from_env({"KG_PUBLIC_URL": PUBLIC}).public_url == PUBLIC
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"KG_PUBLIC_URL": "example.org/kg"})
    assert "KG_PUBLIC_URL" in str(caught.value)
