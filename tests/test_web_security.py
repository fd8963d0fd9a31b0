"""Security: escaping, no outbound connections, runaway queries, oversized requests."""

from __future__ import annotations

import socket
from html.parser import HTMLParser

import pytest

from test_web_fixtures import SCRIPT

HTML = {"Accept": "text/html"}


class Scripts(HTMLParser):
    """Every <script> element of a page, and the page's text."""

    def __init__(self, html: str):
        super().__init__()
        self.scripts: list[dict] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def assert_escaped(response) -> None:
    """The page shows the literal as text and runs no script but its own static files."""
    html = response.get_data(as_text=True)
    page = Scripts(html)
    for attrs in page.scripts:
        assert attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json", attrs
    assert SCRIPT in "".join(page.text), "the literal should be shown, as text"
    assert SCRIPT not in html


@pytest.mark.parametrize("path, params", [
    ("/doc/partnership/ayrshire-ijb", {}),
    ("/sparql", {"query": "SELECT ?d WHERE { ?p <http://purl.org/dc/terms/description> ?d }"}),
    ("/sparql", {"query": "CONSTRUCT { ?p <http://purl.org/dc/terms/description> ?d } "
                          "WHERE { ?p <http://purl.org/dc/terms/description> ?d }"}),
    ("/sparql", {"query": f"SELECT * WHERE {{ ?s ?p \"{SCRIPT}\" }}"}),  # echoed in the editor
    ("/sparql", {"query": f"SELECT * WHERE {{ {SCRIPT} }}"}),  # echoed in the error message
    (f"/queries/{SCRIPT}", {}),
    (f"/doc/partnership/{SCRIPT}", {}),
    ("/compare", {"dimension": SCRIPT}),
    ("/compare", {"rows": SCRIPT}),
    ("/compare", {"row": SCRIPT, "column": SCRIPT}),
    ("/compare/side-by-side", {"j": SCRIPT}),
    ("/evidence", {"jurisdiction": SCRIPT}),
])
def test_a_script_literal_is_escaped_everywhere(client, path, params):
    response = client.get(path, query_string=params, headers=HTML)
    assert response.mimetype == "text/html"
    assert_escaped(response)


def test_the_resource_turtle_keeps_the_literal_intact(client):
    from rdflib import Graph, Literal

    response = client.get("/doc/partnership/ayrshire-ijb.ttl")
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    assert any(SCRIPT in str(o) for o in graph.objects() if isinstance(o, Literal))


@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <{url}/sparql> {{ ?s ?p ?o }} }}",
    "SELECT * FROM <{url}/graph> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM NAMED <{url}/graph> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "ASK {{ SERVICE SILENT <{url}/sparql> {{ ?s ?p ?o }} }}",
])
def test_service_and_remote_from_are_refused_without_a_connection(client, template):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        query = template.format(url=url)
        for response in (client.get("/sparql", query_string={"query": query}),
                         client.post("/sparql", data={"query": query}),
                         client.post("/sparql", data=query.encode(), content_type="application/sparql-query")):
            assert response.status_code == 400, response.get_data(as_text=True)
            assert response.get_json()["ok"] is False
        with pytest.raises(BlockingIOError):
            sock.accept()  # nobody connected
    finally:
        sock.close()


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"


def test_a_runaway_query_gets_the_timeout_error_and_the_next_request_is_answered(web_settings, web_store):
    from webapp import create_app

    app = create_app(web_settings.replace(query_timeout=1.0), web_store)
    client = app.test_client()
    response = client.get("/sparql", query_string={"query": RUNAWAY})
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and "KG_QUERY_TIMEOUT" in body["error"]
    assert body["limit"] == {"name": "KG_QUERY_TIMEOUT", "seconds": 1.0}
    assert response.headers["Retry-After"]
    following = client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})
    assert following.status_code == 200 and following.get_json()["boolean"] is True


MEGABYTE = 1024 * 1024


@pytest.mark.parametrize("kwargs", [
    {"data": ("SELECT * WHERE { ?s ?p ?o } #" + "x" * MEGABYTE).encode(), "content_type": "application/sparql-query"},
    {"data": {"query": "SELECT * WHERE { ?s ?p ?o } #" + "x" * MEGABYTE}},
])
def test_a_one_megabyte_body_is_refused_with_413(client, kwargs):
    response = client.post("/sparql", **kwargs)
    assert response.status_code == 413
    body = response.get_json()
    assert body["ok"] is False and "KG_MAX_QUERY_BYTES" in body["error"]


def test_a_one_megabyte_query_string_is_refused_with_413(client):
    response = client.get("/sparql", query_string={"query": "ASK {} #" + "x" * MEGABYTE})
    assert response.status_code == 413


def test_errors_never_carry_a_stack_trace(web_settings, web_store, monkeypatch):
    from webapp import create_app

    app = create_app(web_settings, web_store)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(type(web_store), "stats", broken)
    response = app.test_client().get("/", headers={"Accept": "application/json"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["ok"] is False and "secret" not in body["error"] and "Traceback" not in response.get_data(as_text=True)
