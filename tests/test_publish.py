"""kg publish: a static site of the build that works from a static host, behind w3id-style rules.

The bundled build is published once, with Debian's Apache 2 serving it (tests/httpd.py) the way a
host and a w3id.org entry would: ``/site/`` is the published folder, ``/hscp/`` the entry whose
``.htaccess`` kg publish wrote (``w3id/.htaccess``). A link checker walks every page of the site.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import random
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT

from httpd import Apache, apache_available
from kg.errors import UsageError
from kg.settings import Settings
from webapp.publish import publish

ID = "https://w3id.org/hscp/id/"
LINK = re.compile(r'\b(?:href|src)="([^"]*)"')
SPDX = Namespace("http://spdx.org/rdf/terms#")
ACCEPT = {"text/turtle": ("ttl", "turtle"), "application/ld+json": ("jsonld", "json-ld"),
          "application/rdf+xml": ("rdf", "xml"), "application/n-triples": ("nt", "nt")}


def internal_links(root: Path):
    """(page, link, resolved path) of every internal link of every page of the site."""
    for page in sorted(root.rglob("*.html")):
        for url in LINK.findall(page.read_text(encoding="utf-8")):
            url = html.unescape(url)
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "#", "mailto:", "data:")):
                continue
            yield page, url, (page.parent / unquote(parts.path)).resolve()


def broken_links(root: Path) -> list[str]:
    broken = []
    for page, url, target in internal_links(root):
        if url.startswith("/"):
            broken.append(f"{page.relative_to(root)}: {url} (absolute: breaks under another base URL)")
        elif not (target.is_file() or (target / "index.html").is_file()):
            broken.append(f"{page.relative_to(root)}: {url}")
    return broken


@pytest.fixture(scope="module")
def apache(tmp_path_factory):
    ok, reason = apache_available()
    if not ok:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("published")
    site, entry = root / "site", root / "w3id-entry"
    site.mkdir()
    entry.mkdir()
    with Apache({"/site": site, "/hscp": entry}) as server:
        yield server, site, entry


@pytest.fixture(scope="module")
def published(apache, bundled_build_dir):
    server, site, entry = apache
    summary = publish(Settings.from_env({}, build_dir=bundled_build_dir), site, server.url + "/site/")
    # the w3id entry's rules go into the w3id.org repository, not onto the site's host
    shutil.copy(site / "w3id" / ".htaccess", entry / ".htaccess")
    return server, site, summary


def test_the_published_site_has_no_broken_internal_link(published):
    _, site, summary = published
    pages = list(site.rglob("*.html"))
    assert len(pages) == summary["pages"] + 0 and len(pages) > 6000
    assert summary["resource_pages"] == summary["resources"] > 6000
    checked = sum(1 for _ in internal_links(site))
    assert checked > 100_000
    assert broken_links(site) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html">b</a> <a href="c.html#x">c</a> <img src="/static/x.png">')
    (tmp_path / "b.html").write_text("")
    assert broken_links(tmp_path) == ["a.html: c.html#x", "a.html: /static/x.png (absolute: breaks under another base URL)"]


def test_resources_redirect_and_negotiate_through_apache(published, bundled_build_dir):
    server, site, _ = published
    docs = sorted(p.relative_to(site / "doc").with_suffix("").as_posix() for p in (site / "doc").rglob("*.html"))
    sample = ["partnership/torbay-care-trust", "jurisdiction/scotland", "partnership-form/integration-joint-board",
              *random.Random(3).sample(docs, 12)]
    for path in sample:
        for accept, (ext, rdf_format) in ACCEPT.items():
            answer = server.request(f"/hscp/id/{path}", headers={"Accept": accept})
            assert answer.status == 303, (path, accept, answer.status)
            assert answer.header("Location") == f"{server.url}/site/doc/{path}.{ext}"
            assert "Accept" in (answer.header("Vary") or "")
            document = server.request(f"/site/doc/{path}.{ext}")
            assert document.status == 200 and document.content_type == accept, (path, document.content_type)
            graph = Graph().parse(data=document.body, format=rdf_format)
            assert (URIRef(ID + path), None, None) in graph, (path, ext)
        browser = server.request(f"/hscp/id/{path}", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
        assert browser.status == 303 and browser.header("Location") == f"{server.url}/site/doc/{path}.html"
        page = server.request(f"/site/doc/{path}.html")
        assert page.status == 200 and page.content_type == "text/html" and ID + path in page.body.decode()
        # the site itself negotiates its extension-less paths
        plain = server.request(f"/site/doc/{path}", headers={"Accept": "text/turtle"})
        assert plain.status == 200 and plain.content_type == "text/turtle"


def test_the_ontology_and_the_dataset_redirect(published):
    server, site, _ = published
    for accept, (ext, rdf_format) in ACCEPT.items():
        answer = server.request("/hscp/def", headers={"Accept": accept})
        assert answer.status == 303 and answer.header("Location") == f"{server.url}/site/def.{ext}"
        assert len(Graph().parse(data=server.request(f"/site/def.{ext}").body, format=rdf_format)) > 1000
        answer = server.request("/hscp/id/dataset", headers={"Accept": accept})
        assert answer.status == 303 and answer.header("Location") == f"{server.url}/site/dataset.{ext}"
    assert server.request("/hscp/def").header("Location") == f"{server.url}/site/def.html"
    dump = server.request("/hscp/id/dataset/graph.nq")
    assert dump.status == 303 and dump.header("Location") == f"{server.url}/site/dataset/graph.nq.gz"
    from kg import __version__

    versioned = server.request(f"/hscp/id/dataset/{__version__}")
    assert versioned.status == 303 and versioned.header("Location") == f"{server.url}/site/dataset.html"


def test_every_link_of_sample_pages_resolves_through_apache(published):
    server, site, _ = published
    for page in ("index.html", "compare.html", "queries.html", "dataset.html", "doc/partnership/torbay-care-trust.html",
                 "doc/jurisdiction/scotland.html", "queries/claims-by-confidence.html"):
        seen = set()
        text = (site / page).read_text(encoding="utf-8")
        base = f"/site/{page}"
        for url in {html.unescape(u) for u in LINK.findall(text)}:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("#"):
                continue
            path = urlsplit(_join(base, parts.path)).path
            if path in seen:
                continue
            seen.add(path)
            answer = server.request(path, method="HEAD")
            assert answer.status == 200, (page, url, path, answer.status)


def _join(base: str, relative: str) -> str:
    from posixpath import dirname, normpath

    return normpath(dirname(base) + "/" + relative)


def test_dumps_are_compressed_with_their_size_and_checksum(published, bundled_build_dir):
    server, site, summary = published
    description = Graph().parse(site / "dataset.ttl", format="turtle")
    for name in ("graph.nq", "data.ttl", "data.jsonld"):
        packed = site / "dataset" / f"{name}.gz"
        assert gzip.decompress(packed.read_bytes()) == (bundled_build_dir / name).read_bytes()
        url = URIRef(f"{server.url}/site/dataset/{name}.gz")
        assert (None, DCAT.distribution, url) in description
        assert int(description.value(url, DCAT.byteSize)) == packed.stat().st_size
        checksum = description.value(url, SPDX.checksum)
        assert str(description.value(checksum, SPDX.checksumValue)) == hashlib.sha256(packed.read_bytes()).hexdigest()
        assert description.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert server.request(f"/site/dataset/{name}.gz", method="HEAD").status == 200
    assert summary["dumps"]["graph.nq.gz"]["sha256"] == hashlib.sha256((site / "dataset" / "graph.nq.gz").read_bytes()).hexdigest()


def test_gallery_and_comparison_pages_hold_their_results(published):
    _, site, _ = published
    page = (site / "queries" / "claims-by-confidence.html").read_text(encoding="utf-8")
    assert "<table" in page and "confirmed" in page
    assert (site / "queries" / "claims-by-confidence.csv").read_text(encoding="utf-8").startswith("\ufeff") or \
        "confidence" in (site / "queries" / "claims-by-confidence.csv").read_text(encoding="utf-8")
    compare = (site / "compare.html").read_text(encoding="utf-8")
    cells = re.findall(r'href="(compare/cell-[0-9a-f]+\.html)#opened"', compare)
    assert len(cells) > 10 and all((site / c).is_file() for c in cells)
    opened = (site / cells[0]).read_text(encoding="utf-8")
    assert 'id="opened"' in opened
    assert "needs the live service" in compare  # the filter form cannot work without it, and says so
    assert 'href="/' not in compare


def test_publishing_refuses_bad_input(bundled_build_dir, tmp_path):
    settings = Settings.from_env({}, build_dir=bundled_build_dir)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep")
    with pytest.raises(UsageError, match="not an empty folder"):
        publish(settings, taken, "https://example.org/")
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    with pytest.raises(UsageError, match="not an absolute http"):
        publish(settings, tmp_path / "x", "example.org/site")
    with pytest.raises(UsageError, match="no build in"):
        publish(Settings.from_env({}, build_dir=tmp_path / "none"), tmp_path / "y", "https://example.org/")
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.staging-*"))


def test_beyond_the_resource_threshold_only_jurisdictions_and_forms_get_pages(settings, case_dir, tmp_path):
    from kg.build import build

    # the previous release: one partnership's label differs
    previous_data = tmp_path / "previous-data"
    shutil.copytree(case_dir, previous_data)
    partnerships = previous_data / "partnerships.csv"
    lines = partnerships.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    lines[1] = ",".join([first[0], first[1] + " (old name)", *first[2:]])
    partnerships.write_text("\n".join(lines) + "\n", encoding="utf-8")
    previous = tmp_path / "previous-build"
    build(Settings.from_env({}, data_dir=previous_data, build_dir=previous))
    build(settings)
    site = tmp_path / "small"
    summary = publish(settings, site, "https://example.org/small/", max_resources=1, processes=1, previous=previous)
    pages = {p.relative_to(site / "doc").parts[0] for p in (site / "doc").rglob("*.html")}
    assert pages == {"jurisdiction", "partnership-form"}
    assert summary["resources"] > summary["resource_pages"] > 0
    assert broken_links(site) == []
    changelog = (site / "changelog.html").read_text(encoding="utf-8")
    assert "0 claims added, 0 removed,\n1 changed" in changelog and f"partnership/{first[0]}" in changelog
