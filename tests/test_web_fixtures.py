"""The web tests' shared data: one build of the minimal case data per test run, and its store.

The other ``test_web_*`` modules import the fixtures from here. The build is made once per
process (``web_env()`` is cached) from a copy of tests/data/minimal in which one
partnership's description holds a ``<script>`` element, so every page can be checked for
escaping.
"""

from __future__ import annotations

import atexit
import csv
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from kg.settings import Settings

TESTS = Path(__file__).parent
MINIMAL = TESTS / "data" / "minimal"
BASE = "https://w3id.org/hscp/id/"
SCRIPT = "<script>alert('kg')</script>"
SCRIPT_PARTNERSHIP = "ayrshire-ijb"


# Canned queries of the tests' own, beside the bundled ones: every chart kind and parameter type.
TEST_QUERIES = {
    "web-test-partnerships-by-jurisdiction": """#+ title: Partnerships per jurisdiction (test)
#+ description: Counts partnerships per jurisdiction, optionally of one form.
#+ params:
#+   form: {type: choice, choices_query: "PREFIX hscp: <https://w3id.org/hscp/def#> SELECT DISTINCT ?value ?label WHERE { ?p hscp:form ?value . OPTIONAL { ?value <http://www.w3.org/2004/02/skos/core#prefLabel> ?label } }", example: "https://w3id.org/hscp/id/partnership-form/care-trust"}
#+ tags: [test]
#+ chart: {kind: bar, x: jurisdiction, y: count}
PREFIX hscp: <https://w3id.org/hscp/def#>
SELECT ?jurisdiction ?form (COUNT(?p) AS ?count) WHERE {
  ?p a hscp:Partnership ; hscp:jurisdiction ?jurisdiction ; hscp:form ?form .
} GROUP BY ?jurisdiction ?form
""",
    "web-test-claims-heatmap": """#+ title: Claims by kind and confidence (test)
#+ tags: [test]
#+ chart: {kind: heatmap, x: confidence, y: count, series: type}
PREFIX hscp: <https://w3id.org/hscp/def#>
SELECT ?type ?confidence (COUNT(?c) AS ?count) WHERE {
  ?c hscp:about ?s ; a ?type ; hscp:confidence ?confidence .
  FILTER(?type IN (hscp:GovernanceModeObservation, hscp:FrameAttribution, hscp:IntegrationClassification, hscp:OutcomeEvidence, hscp:StatedAim, hscp:ObservedDriver))
} GROUP BY ?type ?confidence
""",
    "web-test-stacked": """#+ title: Partnerships by form and jurisdiction (test)
#+ tags: [test]
#+ chart: {kind: stacked-bar, x: jurisdiction, y: count, series: form}
PREFIX hscp: <https://w3id.org/hscp/def#>
SELECT ?jurisdiction ?form (COUNT(?p) AS ?count) WHERE {
  ?p a hscp:Partnership ; hscp:jurisdiction ?jurisdiction ; hscp:form ?form .
} GROUP BY ?jurisdiction ?form
""",
    "web-test-timeline": """#+ title: Partnership lifetimes (test)
#+ params:
#+   partnership: {type: iri, required: true, example: "https://w3id.org/hscp/id/partnership/torbay-care-trust"}
#+ tags: [test]
#+ chart: {kind: timeline, x: start, y: end, label: partnership}
PREFIX hscp: <https://w3id.org/hscp/def#>
SELECT ?partnership ?label ?start ?end WHERE {
  ?partnership a hscp:Partnership ; hscp:startYear ?start .
  OPTIONAL { ?partnership <http://www.w3.org/2000/01/rdf-schema#label> ?label }
  OPTIONAL { ?partnership hscp:endYear ?end }
}
""",
}


def _write_queries(target: Path, bundled: Path) -> None:
    target.mkdir()
    for path in sorted(bundled.glob("*.rq")):
        shutil.copy(path, target / path.name)
    for name, text in TEST_QUERIES.items():
        (target / f"{name}.rq").write_text(text, encoding="utf-8")


def _write_case_data(target: Path) -> None:
    shutil.copytree(MINIMAL, target)
    path = target / "partnerships.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0])
    for row in rows:
        if row["id"] == SCRIPT_PARTNERSHIP:
            row["description"] = f"Description with {SCRIPT} inside."
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@functools.lru_cache(maxsize=None)
def web_env() -> tuple[Settings, object]:
    """(settings, open store) over a build of the test data; made once per process."""
    from kg.store import open_store

    root = Path(tempfile.mkdtemp(prefix="kg-web-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _write_case_data(root / "data")
    _write_queries(root / "queries", Settings.from_env({}).queries_path)
    settings = Settings.from_env({}, data_dir=root / "data", build_dir=root / "build", queries_dir=root / "queries",
                                 workers=2, query_timeout=5.0, row_limit=1000)
    from kg.build import build

    build(settings)
    store = open_store(settings)
    atexit.register(store.close)
    return settings, store


@pytest.fixture(scope="session")
def web_settings() -> Settings:
    return web_env()[0]


@pytest.fixture(scope="session")
def web_store():
    return web_env()[1]


@pytest.fixture(scope="session")
def web_app(web_settings, web_store):
    from webapp import create_app

    app = create_app(web_settings, web_store)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture(scope="session")
def bundled_app(bundled_build_dir):
    """The app over a build of the bundled data, for the bundled queries' own examples."""
    from kg.store import open_store
    from webapp import create_app

    settings = Settings.from_env({}, build_dir=bundled_build_dir, workers=1, query_timeout=30.0)
    store = open_store(settings)
    app = create_app(settings, store)
    app.config["TESTING"] = True
    yield app
    store.close()


@pytest.fixture
def client_for(web_app, bundled_app):
    """The test client that can answer a query's examples: the bundled app for bundled queries."""
    bundled = {q.name for q in bundled_app.extensions["kg"].catalogue}

    def choose(query):
        return (bundled_app if query.name in bundled else web_app).test_client()

    return choose


def iri(kind: str, slug: str) -> str:
    return f"{BASE}{kind}/{slug}"


def test_the_build_holds_the_data_and_the_ontology(web_store):
    graphs = web_store.graphs()
    assert "https://w3id.org/hscp/graph/data" in graphs
    assert "https://w3id.org/hscp/graph/ontology" in graphs
    ask = web_store.query("ASK { ?p a <https://w3id.org/hscp/def#Partnership> }")
    assert ask.boolean is True
