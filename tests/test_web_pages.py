"""Every page and representation of the web app, through the Flask test client.

RDF answers are parsed with rdflib and JSON answers with json; HTML is parsed with the
standard library's HTMLParser, never matched as bytes.
"""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, VOID

from test_web_fixtures import iri

from kg.sparql import parse

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HSCP = "https://w3id.org/hscp/def#"
TORBAY = iri("partnership", "torbay-care-trust")
RDF_FORMATS = [("text/turtle", "turtle", "ttl"), ("application/ld+json", "json-ld", "jsonld"),
               ("application/rdf+xml", "xml", "rdf"), ("application/n-triples", "nt", "nt")]


class Page(HTMLParser):
    """Text, links and elements of an HTML page."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[str] = []
        self.text_parts: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[dict] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "script":
            self.scripts.append(attrs)

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def has(self, tag: str, **attrs) -> bool:
        return any(t == tag and all(a.get(k) == v for k, v in attrs.items()) for t, a in self.tags)


def page(response) -> Page:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


# --- linked data ---------------------------------------------------------------------------


@pytest.mark.parametrize("accept, target", [
    ("text/html", "/doc/partnership/torbay-care-trust"),
    ("text/turtle", "/doc/partnership/torbay-care-trust.ttl"),
    ("application/ld+json", "/doc/partnership/torbay-care-trust.jsonld"),
    ("application/rdf+xml", "/doc/partnership/torbay-care-trust.rdf"),
    ("application/n-triples", "/doc/partnership/torbay-care-trust.nt"),
])
def test_id_answers_303_to_the_document_for_the_accept_header(client, accept, target):
    response = client.get("/id/partnership/torbay-care-trust", headers={"Accept": accept})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(target)
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("media_type, rdflib_format, extension", RDF_FORMATS)
def test_doc_serves_each_rdf_representation(client, media_type, rdflib_format, extension):
    direct = client.get(f"/doc/partnership/torbay-care-trust.{extension}")
    negotiated = client.get("/doc/partnership/torbay-care-trust", headers={"Accept": media_type})
    for response in (direct, negotiated):
        assert response.status_code == 200
        assert response.mimetype == media_type
        graph = Graph().parse(data=response.get_data(as_text=True), format=rdflib_format)
        assert (URIRef(TORBAY), RDF.type, URIRef(HSCP + "Partnership")) in graph
        assert (URIRef(TORBAY), RDFS.label, Literal("Torbay Care Trust", lang="en")) in graph


def test_resource_page_shows_label_types_properties_claims_and_backlinks(client):
    html = page(client.get("/doc/partnership/torbay-care-trust", headers=HTML))
    assert "Torbay Care Trust" in html.text
    assert "Care trust" in html.text  # the form, by its label, not its IRI
    assert "England" in html.text
    assert "/id/partnership-form/care-trust" in html.links
    assert "/def#Partnership" in html.links  # a type links to the ontology documentation
    # the governance-mode claim: its value, confidence and its source, linked
    assert "/id/observation/torbay-hierarchy" in html.links
    assert "Hierarchy" in html.text and "partial" in html.text
    assert "/id/source/fixture-analyst" in html.links
    # backlinks: the membership points at the partnership
    assert "/id/membership/torbay-council-in-torbay-care-trust" in html.links


def test_resource_page_uses_one_labels_batch(web_app, web_store, monkeypatch):
    calls = []
    original = type(web_store).labels

    def counting(self, iris):
        calls.append(len(list(iris)) if not isinstance(iris, (set, list)) else len(iris))
        return original(self, iris)

    monkeypatch.setattr(type(web_store), "labels", counting)
    web_app.test_client().get("/doc/partnership/torbay-care-trust", headers=HTML)
    assert len(calls) == 1


def test_claim_page_links_its_source_and_shows_its_confidence(client):
    html = page(client.get("/doc/observation/torbay-hierarchy", headers=HTML))
    assert "/id/source/fixture-analyst" in html.links
    assert "partial" in html.text


def test_a_conflicting_claim_says_so_and_links_the_other(client):
    html = page(client.get("/doc/indicator/scotland-budget", headers=HTML))
    assert "Sources disagree" in html.text
    assert "/id/indicator/scotland-budget-other" in html.links
    assert "/id/conflict/scotland-budget-figures" in html.links  # the conflict, as a backlink
    # and in the data a client reads
    graph = Graph().parse(data=client.get("/doc/indicator/scotland-budget.jsonld").get_data(as_text=True), format="json-ld")
    assert (URIRef(iri("indicator", "scotland-budget")), URIRef("https://w3id.org/hscp/def#conflictsWith"),
            URIRef(iri("indicator", "scotland-budget-other"))) in graph
    assert "Sources disagree" not in page(client.get("/doc/partnership/torbay-care-trust", headers=HTML)).text


def test_unknown_resource_is_a_404_naming_the_iri(client):
    response = client.get("/doc/partnership/no-such-thing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    body = response.get_json()
    assert body["ok"] is False and body["status"] == 404
    assert iri("partnership", "no-such-thing") in body["error"]
    html = client.get("/doc/partnership/no-such-thing", headers=HTML)
    assert html.status_code == 404 and html.mimetype == "text/html"
    assert iri("partnership", "no-such-thing") in Page(html.get_data(as_text=True)).text


def test_unknown_path_is_a_404_saying_what_was_asked_for(client):
    body = client.get("/no/such/page").get_json()
    assert body == {"ok": False, "error": body["error"], "status": 404, "title": "Not found", "path": "/no/such/page"}
    assert "/no/such/page" in body["error"]


def test_unacceptable_media_type_is_406(client):
    response = client.get("/doc/partnership/torbay-care-trust", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.get_json()["ok"] is False


# --- overview, health ------------------------------------------------------------------------


def test_overview_shows_counts_and_entry_points(client):
    html = page(client.get("/", headers=HTML))
    for link in ("/queries", "/compare", "/sparql", "/def", "/dataset"):
        assert link in html.links
    assert "triples" in html.text


def test_health_answers_json(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json()["ok"] is True


# --- gallery -----------------------------------------------------------------------------------


def _catalogue(web_app):
    return list(web_app.extensions["kg"].catalogue)


def test_gallery_lists_every_canned_query(client, web_app):
    html = page(client.get("/queries", headers=HTML))
    for query in _catalogue(web_app):
        assert f"/queries/{query.name}" in html.links
    listing = client.get("/queries", headers={"Accept": "application/json"}).get_json()
    assert [q["name"] for q in listing["queries"]] == [q.name for q in _catalogue(web_app)]


def _example_args(query) -> dict:
    return {k: v for k, v in query.example_params().items()}


def test_every_canned_query_runs_in_the_gallery_with_its_examples(client_for, web_app):
    queries = _catalogue(web_app)
    assert queries, "no canned queries: the queries/ folder is missing"
    for query in queries:
        response = client_for(query).get(f"/queries/{query.name}", query_string=_example_args(query), headers=HTML)
        html = page(response)
        assert query.title in html.text
        assert html.has("form", method="get")
        kind = parse(query.sparql).kind
        if kind == "select":
            assert html.has("table", **{"class": "results"}), query.name
        elif kind == "ask":
            assert "Answer:" in html.text, query.name
        else:
            assert html.has("pre", **{"class": "turtle"}), query.name
        if query.chart:
            assert html.has("svg", **{"class": "chart"}), query.name


@pytest.mark.parametrize("extension, parse", [
    ("csv", lambda text: list(csv.reader(io.StringIO(text)))),
    ("tsv", lambda text: [line.split("\t") for line in text.splitlines()]),
    ("json", json.loads),
])
def test_gallery_downloads(client_for, web_app, extension, parse):
    queries = [q for q in _catalogue(web_app) if "CONSTRUCT" not in q.sparql.upper()]
    assert queries, "no canned SELECT queries: the queries/ folder is missing"
    for query in queries:
        response = client_for(query).get(f"/queries/{query.name}.{extension}", query_string=_example_args(query))
        assert response.status_code == 200, response.get_data(as_text=True)
        parsed = parse(response.get_data(as_text=True))
        if extension == "json":
            assert "head" in parsed
        else:
            assert parsed[0]  # a header row


def test_gallery_parameter_errors_are_400_with_the_json_shape(client, web_app):
    with_iri = [q for q in _catalogue(web_app) if any(p.type == "iri" for p in q.params)]
    assert with_iri, "no canned query takes an IRI parameter: the test catalogue lost them"
    query = with_iri[0]
    name = next(p.name for p in query.params if p.type == "iri")
    response = client.get(f"/queries/{query.name}.json", query_string={**_example_args(query), name: "not an iri"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["ok"] is False and body["status"] == 400 and name in body["error"]


def test_unknown_canned_query_is_404(client):
    response = client.get("/queries/no-such-query", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert "no-such-query" in response.get_json()["error"]


def test_openapi_describes_every_canned_query(client, web_app):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for query in _catalogue(web_app):
        operation = document["paths"][f"/queries/{query.name}"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {p.name for p in query.params} <= names


# --- compare ------------------------------------------------------------------------------------

SCOTLAND = iri("jurisdiction", "scotland")
DELEGATED = iri("budget-integration", "delegated")


@pytest.mark.parametrize("measure", ["forms", "partnerships", "evaluations", "findings"])
def test_every_pivot_cell_counts_the_units_it_opens(client, measure):
    data = client.get("/compare.json", query_string={"rows": "jurisdiction", "columns": "budget-integration",
                                                      "measure": measure}).get_json()
    assert data["cells"]
    for cell in data["cells"]:
        assert cell["count"] == len(cell["units"]) == len({u["unit"] for u in cell["units"]})


def test_a_pivot_cell_matches_the_graph(client, web_store):
    """Scotland's forms with a delegated budget: the pivot against a query of the graph itself."""
    data = client.get("/compare.json", query_string={"rows": "jurisdiction", "columns": "budget-integration"}).get_json()
    cell = next(c for c in data["cells"] if (c["row"], c["column"]) == (SCOTLAND, DELEGATED))
    forms = web_store.query(
        "SELECT DISTINCT ?form ?v ?j WHERE { ?c a <https://w3id.org/hscp/def#Classification> ; "
        "<https://w3id.org/hscp/def#placement> ?v ; <https://w3id.org/hscp/def#about> ?form . "
        "?form <https://w3id.org/hscp/def#jurisdiction> ?j }", {"v": URIRef(DELEGATED), "j": URIRef(SCOTLAND)}).rows
    assert cell["count"] == len(forms) == 1
    assert cell["units"][0]["evidence"][1]["claim"] == iri("observation", "ijb-budget-delegated")


def test_a_pivot_shows_not_known_and_opens_a_cell_with_its_claims(client):
    html = page(client.get("/compare", query_string={"rows": "jurisdiction", "columns": "budget-integration",
                                                     "row": SCOTLAND, "column": DELEGATED}, headers=HTML))
    assert html.has("table", **{"class": "matrix pivot", "id": "pivot"})
    assert "not known" in html.text  # England's care trust: no budget placement
    assert "/id/partnership-form/integration-joint-board" in html.links
    assert "/id/observation/ijb-budget-delegated" in html.links


def test_pivot_filters_by_confidence_and_basis(client):
    def count(**params):
        data = client.get("/compare.json", query_string={"rows": "jurisdiction", "columns": "integration-level",
                                                         "measure": "partnerships", **params}).get_json()
        return sum(c["count"] for c in data["cells"] if c["column"] != "not-known")

    assert count() == 1  # Torbay: full integration, derived and partial
    assert count(confidence="confirmed") == 0
    assert count(basis="stated") == 0


def test_the_first_compare_urls_redirect_to_the_pivot(client):
    response = client.get("/compare", query_string={"dimension": "governance-mode", "confidence": "partial"})
    assert response.status_code == 301
    target = response.headers["Location"]
    assert "rows=jurisdiction" in target and "columns=governance-mode" in target and "confidence=partial" in target
    assert client.get(target, headers=HTML).status_code == 200


@pytest.mark.parametrize("params, word", [({"rows": "colour"}, "colour"), ({"measure": "votes"}, "votes"),
                                          ({"confidence": "certain"}, "certain"), ({"basis": "hunch"}, "hunch"),
                                          ({"dimension": "colour"}, "colour")])
def test_pivot_parameters_are_checked(client, params, word):
    response = client.get("/compare.json", query_string=params)
    assert response.status_code == 400
    assert word in response.get_json()["error"]


def test_side_by_side_puts_jurisdictions_in_columns(client):
    html = page(client.get("/compare/side-by-side", query_string=[("j", "scotland"), ("j", "england")], headers=HTML))
    assert html.has("table", **{"class": "matrix side-by-side", "id": "side-by-side"})
    assert "/id/observation/ijb-sectors" in html.links and "not known" in html.text
    data = client.get("/compare/side-by-side.json", query_string=[("j", "scotland"), ("j", "england"),
                                                                   ("basis", "stated")]).get_json()
    sectors = data["dimensions"]["sectors"][SCOTLAND]
    assert {c["value"] for c in sectors} == {iri("service-sector", s) for s in ("adult-social-care", "primary-care", "community-health")}
    assert all(c["basis"] == "stated" for row in data["dimensions"].values() for cells in row.values() for c in cells)


@pytest.mark.parametrize("j", [["scotland"], ["scotland", "atlantis"]])
def test_side_by_side_needs_two_to_six_known_jurisdictions(client, j):
    response = client.get("/compare/side-by-side.json", query_string=[("j", x) for x in j])
    assert response.status_code == 400


def test_evidence_gap_map_cells_and_gaps(client):
    data = client.get("/evidence.json", query_string={"rows": "form"}).get_json()
    cells = {(c["row"], c["outcome"]): c for c in data["cells"]}
    ijb = cells[(iri("partnership-form", "integration-joint-board"), iri("outcome-measure", "delayed-discharge"))]
    assert ijb["directions"] == {iri("direction", "improved"): 1} and ijb["strongest_design_rank"] == 3
    html = page(client.get("/evidence", query_string={"rows": "form", "row": iri("partnership-form", "integration-joint-board"),
                                                      "column": iri("outcome-measure", "mortality")}, headers=HTML))
    assert "/id/finding/ijb-did-mortality" in html.links and "/id/evaluation/ijb-did" in html.links
    assert "/id/source/glasby-2008" in html.links  # each finding with its source
    assert html.has("span", **{"class": "zero", "aria-label": "gap: no evidence"})  # a visible gap


def test_evidence_gap_map_filters(client):
    independent = client.get("/evidence.json", query_string={"evaluator": "independent"}).get_json()
    affiliated = client.get("/evidence.json", query_string={"evaluator": "programme-affiliated"}).get_json()
    assert independent["cells"] and not affiliated["cells"]  # the fixture's affiliated evaluation has no findings
    assert client.get("/evidence.json", query_string={"design": "astrology"}).status_code == 400
    assert client.get("/evidence.json", query_string={"jurisdiction": "atlantis"}).status_code == 400


def test_a_country_profile_links_every_value_to_its_claim(client):
    html = page(client.get("/doc/jurisdiction/scotland", headers=HTML))
    for section in ("System context", "Partnership forms on the shared dimensions", "Named partnerships", "Reform timeline",
                    "Evaluations, by outcome measured", "Stated aims against observed drivers", "Conflicting sources", "Sources"):
        assert section in html.text, section
    assert "Councils are responsible for social services." in html.text
    assert "/id/context/scotland-councils-social-care" in html.links
    assert "/id/observation/ijb-budget-delegated" in html.links and "not known" in html.text  # provider payment
    assert "/id/partnership/ayrshire-ijb" in html.links
    assert "/id/event/scotland-act-2014" in html.links
    assert "/id/finding/ijb-did-delayed-discharge" in html.links and "/id/evaluation/ijb-did" in html.links
    assert "/id/statement/scotland-shift-aim" in html.links
    assert "/id/conflict/scotland-budget-figures" in html.links
    assert "/id/source/glasby-2008" in html.links
    assert html.has("svg", role="img")  # the timeline and the directions, drawn on the server
    # other resources keep the plain resource page
    assert "Country profile" not in page(client.get("/doc/partnership/torbay-care-trust", headers=HTML)).text


@pytest.mark.parametrize("path, params, schema", [
    ("/compare.json", {"rows": "form", "columns": "outcome", "measure": "findings"}, "PIVOT_SCHEMA"),
    ("/compare/side-by-side.json", [("j", "scotland"), ("j", "england")], "SIDE_BY_SIDE_SCHEMA"),
    ("/evidence.json", {"rows": "budget-integration"}, "GAP_MAP_SCHEMA"),
])
def test_comparison_json_has_the_published_shape(client, path, params, schema):
    import jsonschema

    from kg import compare

    document = client.get(path, query_string=params).get_json()
    assert "CC BY 4.0" in document["licence"] and "partnership-kg" in document["citation"] and path in document["url"]
    jsonschema.Draft202012Validator.check_schema(getattr(compare, schema))
    jsonschema.validate(document, getattr(compare, schema))
    spec = client.get("/openapi.json").get_json()
    assert spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == getattr(compare, schema)


@pytest.mark.parametrize("path, params", [
    ("/compare", {"rows": "jurisdiction", "columns": "budget-integration"}),
    ("/compare/side-by-side", [("j", "scotland"), ("j", "england")]),
    ("/evidence", {"rows": "form"}),
])
def test_comparison_downloads_carry_citation_and_licence(client, path, params):
    import openpyxl

    response = client.get(path + ".csv", query_string=params)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) > 3 and rows[0]
    metadata = " ".join(cell for row in rows if row and row[0].startswith("# ") for cell in row)
    assert "Cite as:" in metadata and "CC BY 4.0" in metadata and path in metadata
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(path + ".xlsx", query_string=params).data))
    assert [c.value for c in next(workbook["data"].iter_rows(max_row=1))] == rows[0]
    about = " ".join(str(c.value) for row in workbook["about"].iter_rows() for c in row if c.value)
    assert "CC BY 4.0" in about and "partnership-kg" in about


def test_a_country_profile_downloads_as_csv_json_and_xlsx(client):
    import jsonschema
    import openpyxl

    from kg.tables import JSON_SCHEMA

    document = client.get("/jurisdictions/scotland.json").get_json()
    jsonschema.validate(document, JSON_SCHEMA)
    sections = {row["section"] for row in document["rows"]}
    assert {"context", "placement", "partnership", "finding", "event", "stated aim", "conflict"} <= sections
    assert "CC BY 4.0" in document["licence"] and document["url"].endswith("/jurisdictions/scotland.json")
    rows = list(csv.reader(io.StringIO(client.get("/jurisdictions/scotland.csv").get_data().decode("utf-8-sig"))))
    assert rows[0] == ["section", "subject", "what", "value", "basis", "confidence", "claim"]
    assert any(r[:1] == ["placement"] and r[3] == "Delegated budget" and r[4] == "stated" for r in rows)
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/jurisdictions/scotland.xlsx").data))["data"]
    assert sheet.max_row == len(document["rows"]) + 1
    assert client.get("/jurisdictions/atlantis.csv").status_code == 400


def test_jurisdictions_index_links_profiles(client):
    html = page(client.get("/jurisdictions", headers=HTML))
    assert "/id/jurisdiction/scotland" in html.links and "/id/jurisdiction/england" in html.links


# --- dataset, ontology ------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type, rdflib_format, extension", RDF_FORMATS)
def test_dataset_description_by_conneg_and_extension(client, media_type, rdflib_format, extension):
    for response in (client.get("/dataset", headers={"Accept": media_type}), client.get(f"/dataset.{extension}")):
        assert response.status_code == 200 and response.mimetype == media_type
        graph = Graph().parse(data=response.get_data(as_text=True), format=rdflib_format)
        assert (None, RDF.type, VOID.Dataset) in graph


def test_dataset_page_has_downloads_licence_and_citation(client):
    html = page(client.get("/dataset", headers=HTML))
    assert "https://creativecommons.org/licenses/by/4.0/" in html.links
    assert "/dataset/graph.nq" in html.links
    assert "How to cite" in html.text


def test_dump_downloads(client):
    response = client.get("/dataset/data.ttl")
    assert response.status_code == 200
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    assert (URIRef(TORBAY), RDF.type, URIRef(HSCP + "Partnership")) in graph
    assert client.get("/dataset/secrets.txt").status_code == 404


def test_distribution_iris_dereference_to_the_downloads(client):
    response = client.get("/id/dataset/graph.nq")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dataset/graph.nq")


def test_ontology_page_documents_terms_with_counts_and_constraints(client):
    html = page(client.get("/def", headers=HTML))
    assert html.has("section", **{"class": "term", "id": "Partnership"})
    assert html.has("section", **{"class": "term", "id": "confidence"})
    assert "Constraints (SHACL)" in html.text
    assert "Governance modes" in html.text  # a concept scheme


@pytest.mark.parametrize("media_type, rdflib_format, extension", RDF_FORMATS)
def test_ontology_as_rdf(client, media_type, rdflib_format, extension):
    for response in (client.get("/def", headers={"Accept": media_type}), client.get(f"/def.{extension}")):
        assert response.status_code == 200 and response.mimetype == media_type
        graph = Graph().parse(data=response.get_data(as_text=True), format=rdflib_format)
        assert (URIRef("https://w3id.org/hscp/def"), RDF.type, URIRef("http://www.w3.org/2002/07/owl#Ontology")) in graph


def test_term_links_point_at_their_anchor_in_the_ontology_page(client):
    html = page(client.get("/doc/partnership/torbay-care-trust", headers=HTML))
    anchors = [link for link in html.links if link.startswith("/def#")]
    assert anchors
    ontology = page(client.get("/def", headers=HTML))
    ids = {attrs.get("id") for _, attrs in ontology.tags}
    for link in anchors:
        assert link.split("#", 1)[1] in ids, link
    assert client.get("/def/0.1.0").status_code == 303


def test_the_versioned_dataset_iri_resolves_to_its_description(client):
    from kg import __version__

    answer = client.get(f"/id/dataset/{__version__}")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/dataset")
    assert client.get("/id/dataset/0.0.0-not-a-release").status_code in (303, 404)
    assert client.get(client.get("/id/dataset/0.0.0-not-a-release").headers.get("Location", "/dataset/x")).status_code == 404
