"""One version from one place (kg.__version__), the releases record, and deprecated terms on /def.

The version is written once, in kg/__init__.py: the package metadata, the ontology header the build
loads and the dataset's description all carry it, and a previous release, once recorded in
kg/release.py, appears as the ontology's owl:priorVersion and the dataset's pav:previousVersion.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import re
import shutil
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, RDF

import kg
from kg import release
from kg.build import build, describe_dataset
from kg.namespaces import ONTOLOGY_IRI, PAV
from kg.settings import Settings
from kg.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = Path(__file__).parent / "data" / "minimal"
ONTOLOGY = URIRef(ONTOLOGY_IRI)
BASE = "https://w3id.org/hscp/id/"
DATASET = URIRef(BASE + "dataset")
DCAT_VERSION = URIRef(str(DCAT) + "version")
HSCP = "https://w3id.org/hscp/def#"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split(".dev")[0].split("rc")[0]))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A build of the minimal case data: (its folder, the Compiled)."""
    root = tmp_path_factory.mktemp("release")
    shutil.copytree(MINIMAL, root / "data")
    settings = Settings.from_env({}, data_dir=root / "data", build_dir=root / "build")
    return settings.build_dir, build(settings)


@pytest.fixture
def second_release(monkeypatch):
    """The releases record as it will read once 0.2.0 is out, with this code at 0.2.0."""
    monkeypatch.setattr(release, "RELEASES", (release.Release("0.2.0", datetime.date(2027, 3, 1)),
                                              release.Release("0.1.0", datetime.date(2026, 11, 27))))
    monkeypatch.setattr(release, "__version__", "0.2.0")


def _metadata(build_dir: Path) -> Graph:
    graph = Graph()
    import pyoxigraph as ox

    for quad in ox.parse(path=build_dir / "graph.nq", format=ox.RdfFormat.N_QUADS):
        if quad.graph_name.value == "https://w3id.org/hscp/graph/metadata":
            graph.parse(data=f"{quad.subject} {quad.predicate} {quad.object} .", format="nt")
    return graph


# --- one version ------------------------------------------------------------------------------------


def test_the_installed_metadata_and_the_package_carry_the_same_version():
    assert importlib.metadata.version("partnership-kg") == kg.__version__ == release.current()


def test_pyproject_takes_the_version_from_kg_init():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "pyproject.toml writes the version itself: take it from kg.__version__"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "kg/__init__.py"


def test_the_releases_record_is_newest_first_and_this_version_is_its_newest_or_not_released_yet():
    versions = [r.version for r in release.RELEASES]
    assert versions and len(set(versions)) == len(versions)
    assert [_key(v) for v in versions] == sorted((_key(v) for v in versions), reverse=True)
    dates = [r.date for r in release.RELEASES]
    assert dates == sorted(dates, reverse=True)
    # this code is the newest release, or the next one (not recorded until it is released)
    assert kg.__version__ == versions[0] or (kg.__version__ not in versions and _key(kg.__version__) >= _key(versions[0]))


def test_previous_release_follows_the_record(second_release):
    assert release.previous() == "0.1.0"
    assert release.previous("0.1.0") is None
    assert release.previous("0.3.0.dev0") == "0.2.0"  # unreleased: after the newest release
    assert release.release_of("0.2.0").date == datetime.date(2027, 3, 1)
    assert release.release_of("0.3.0.dev0") is None


def test_the_ontology_graph_carries_this_version_and_no_prior_one_yet():
    vocabulary = load_vocabulary(Settings.from_env({}).ontology_path)
    for graph in (vocabulary.tbox, vocabulary.ontology_graph()):
        assert set(graph.objects(ONTOLOGY, OWL.versionIRI)) == {URIRef(f"{ONTOLOGY_IRI}/{kg.__version__}")}
        assert set(graph.objects(ONTOLOGY, OWL.versionInfo)) == {Literal(kg.__version__)}
        expected = release.previous()
        assert set(graph.objects(ONTOLOGY, OWL.priorVersion)) == (
            {URIRef(f"{ONTOLOGY_IRI}/{expected}")} if expected else set())


def test_hscp_ttl_states_the_same_version_as_the_record():
    # hscp.ttl keeps its header's version (the file is published and opened on its own, in
    # Protégé or from the wheel); the build sets it from kg.__version__ regardless, and this test
    # makes a release that forgets the file fail.
    tbox = Graph().parse(ROOT / "ontology" / "hscp.ttl", format="turtle")
    assert set(tbox.objects(ONTOLOGY, OWL.versionIRI)) == {URIRef(release.ontology_version_iri(kg.__version__))}
    assert set(tbox.objects(ONTOLOGY, OWL.versionInfo)) == {Literal(kg.__version__)}
    prior = release.previous()
    assert set(tbox.objects(ONTOLOGY, OWL.priorVersion)) == (
        {URIRef(release.ontology_version_iri(prior))} if prior else set())


def test_the_ontology_header_gets_the_prior_version_once_one_is_recorded(second_release):
    tbox = load_vocabulary(Settings.from_env({}).ontology_path).ontology_graph()
    assert set(tbox.objects(ONTOLOGY, OWL.versionIRI)) == {URIRef(f"{ONTOLOGY_IRI}/0.2.0")}
    assert set(tbox.objects(ONTOLOGY, OWL.versionInfo)) == {Literal("0.2.0")}  # hscp.ttl's "0.1.0" replaced
    assert set(tbox.objects(ONTOLOGY, OWL.priorVersion)) == {URIRef(f"{ONTOLOGY_IRI}/0.1.0")}


def test_the_build_describes_the_dataset_with_this_version(built):
    build_dir, compiled = built
    report = json.loads((build_dir / "report.json").read_text(encoding="utf-8"))
    assert report["version"] == kg.__version__
    for graph in (_metadata(build_dir), Graph().parse(build_dir / "void.ttl", format="turtle")):
        assert set(graph.objects(DATASET, DCAT_VERSION)) == {Literal(kg.__version__)}
        assert set(graph.objects(DATASET, OWL.versionInfo)) == {Literal(kg.__version__)}
        versioned = URIRef(f"{BASE}dataset/{kg.__version__}")
        assert set(graph.objects(DATASET, DCTERMS.hasVersion)) == {versioned}
        assert (versioned, DCTERMS.isVersionOf, DATASET) in graph
        assert set(graph.objects(versioned, DCTERMS.issued)) == {
            Literal(release.release_of().date.isoformat(), datatype=URIRef("http://www.w3.org/2001/XMLSchema#date"))}
        previous = release.previous()
        assert set(graph.objects(DATASET, PAV.previousVersion)) == (
            {URIRef(f"{BASE}dataset/{previous}")} if previous else set())
    assert compiled.ontology.value(ONTOLOGY, OWL.versionInfo) == Literal(kg.__version__)


def test_the_dataset_description_names_the_previous_version_once_one_is_recorded(built, second_release):
    _, compiled = built
    graph = describe_dataset(compiled)
    assert set(graph.objects(DATASET, DCAT_VERSION)) == {Literal("0.2.0")}
    assert set(graph.objects(DATASET, OWL.versionInfo)) == {Literal("0.2.0")}
    assert set(graph.objects(DATASET, PAV.previousVersion)) == {URIRef(BASE + "dataset/0.1.0")}
    assert (URIRef(BASE + "dataset/0.2.0"), PAV.previousVersion, URIRef(BASE + "dataset/0.1.0")) in graph
    assert "@prefix pav: <http://purl.org/pav/>" in graph.serialize(format="turtle")


def test_an_unreleased_version_has_no_release_date_but_names_the_newest_release(built, monkeypatch):
    _, compiled = built
    monkeypatch.setattr(release, "__version__", "9.0.0.dev0")
    graph = describe_dataset(compiled)
    versioned = URIRef(BASE + "dataset/9.0.0.dev0")
    assert set(graph.objects(DATASET, DCAT_VERSION)) == {Literal("9.0.0.dev0")}
    assert not list(graph.objects(versioned, DCTERMS.issued))
    assert set(graph.objects(DATASET, PAV.previousVersion)) == {URIRef(f"{BASE}dataset/{release.RELEASES[0].version}")}


# --- deprecated terms on /def --------------------------------------------------------------------


class _Sections(HTMLParser):
    """The /def page's term sections: id -> (class attribute, text, links)."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            if "term" in (attrs.get("class") or "").split():
                self.sections[attrs["id"]] = {"class": attrs["class"].split(), "text": "", "links": []}
                self._open.append(attrs["id"])
            else:
                self._open.append(None)
        elif tag == "a" and self._current():
            self.sections[self._current()]["links"].append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == "section" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._current():
            self.sections[self._current()]["text"] += data

    def _current(self):
        return self._open[-1] if self._open else None


def test_a_deprecated_term_stays_on_def_marked_with_its_replacement(web_settings, web_store, tmp_path):
    from webapp import create_app

    # The bundled ontology has no deprecated term: deprecate one in a copy.
    ontology = tmp_path / "ontology"
    shutil.copytree(Settings.from_env({}).ontology_path, ontology)
    with (ontology / "hscp.ttl").open("a", encoding="utf-8") as handle:
        handle.write(f"\n<{HSCP}ObservedDriver> <{OWL.deprecated}> true ; "
                     f"<{DCTERMS.isReplacedBy}> <{HSCP}StatedAim> .\n")
    app = create_app(web_settings.replace(ontology_dir=ontology), web_store)
    app.config["TESTING"] = True
    response = app.test_client().get("/def", headers={"Accept": "text/html"})
    assert response.status_code == 200
    parser = _Sections()
    parser.feed(response.get_data(as_text=True))
    old = parser.sections["ObservedDriver"]  # still there: /def#ObservedDriver resolves
    assert "deprecated" in old["class"]
    assert "(deprecated)" in old["text"] and "Replaced by" in old["text"]
    assert "/def#StatedAim" in old["links"]
    current = parser.sections["StatedAim"]
    assert "deprecated" not in current["class"] and "Replaced by" not in current["text"]
    # the page states the version the ontology was loaded with
    assert f"version {kg.__version__}" in response.get_data(as_text=True)
    # and the term's RDF says so too
    graph = Graph().parse(data=app.test_client().get("/def.ttl").get_data(as_text=True), format="turtle")
    assert (URIRef(HSCP + "ObservedDriver"), OWL.deprecated, Literal(True)) in graph
    assert (URIRef(HSCP + "ObservedDriver"), RDF.type, OWL.Class) in graph
