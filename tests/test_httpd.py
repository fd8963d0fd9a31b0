"""The Apache test harness (tests/httpd.py) serves folders with their real .htaccess rules.

A w3id.org-style rules folder mounted at /hscp answers IRIs /hscp/id/NAME with 303 redirects to
documents of a static site mounted at /site, by the request's Accept header; the site's .htaccess
sets media types. Skipped, with the reason, where Debian's apache2 is not installed.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from httpd import Apache, ApacheError, apache_available

AVAILABLE, REASON = apache_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=REASON)

# In .htaccess (per-directory) context mod_rewrite strips the folder's own URL prefix before
# matching: for GET /hscp/id/thing the pattern sees "id/thing", never "/hscp/id/thing", so a
# pattern like ^/id/ or ^hscp/ never matches here. Substitutions that start with "/" are URL paths
# of the whole server and are used as they are. A relative substitution ("id/$1") gets a prefix put
# back in front, and that prefix is the RewriteBase: without it, an external redirect from a
# folder that is reached through an Alias (as here) carries the folder's *filesystem* path
# (Location: http://host/tmp/.../rules/id/thing), and with "RewriteBase /" it would lose "/hscp".
# RewriteBase /hscp/ makes the rules mean the same here and on a w3id-style server where /hscp/ is a
# real folder under the DocumentRoot.
#
# mod_rewrite adds "Vary: Accept" by itself when a RewriteCond reads %{HTTP_ACCEPT}, but only to
# the headers of a normal response: Apache drops them on a redirect (the 303 came back without
# Vary). So the redirects set a flag and mod_headers adds Vary with "always", the header table
# that error and redirect responses keep.
RULES_HTACCESS = """\
RewriteEngine On
RewriteBase /hscp/

Header always merge Vary Accept env=negotiated

# an IRI written with a trailing slash: the canonical IRI (relative substitution: see RewriteBase)
RewriteRule ^id/(.+)/$ id/$1 [R=301,L]

RewriteCond %{HTTP_ACCEPT} text/turtle
RewriteRule ^id/([^/]+)$ /site/doc/$1.ttl [R=303,L,E=negotiated:1]
RewriteRule ^id/([^/]+)$ /site/doc/$1.html [R=303,L,E=negotiated:1]
"""

# .owl is not in Debian's /etc/mime.types (.ttl and .jsonld are): it shows this file is read.
SITE_HTACCESS = """\
AddType text/turtle .ttl
AddType application/ld+json .jsonld
AddType application/rdf+xml .owl
Options +MultiViews
"""

TURTLE = "<https://w3id.org/hscp/id/thing> a <https://w3id.org/hscp/Thing> .\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("published")
    rules, site = base / "hscp", base / "site"
    rules.mkdir()
    (site / "doc").mkdir(parents=True)
    (rules / ".htaccess").write_text(RULES_HTACCESS)
    (site / ".htaccess").write_text(SITE_HTACCESS)
    (site / "index.html").write_text("<!doctype html><title>site</title>\n")
    (site / "doc" / "thing.ttl").write_text(TURTLE)
    (site / "doc" / "thing.html").write_text("<!doctype html><title>thing</title>\n")
    (site / "doc" / "thing.jsonld").write_text('{"@id": "https://w3id.org/hscp/id/thing"}\n')
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    (site / "doc" / "ontology.owl").write_text(f'<?xml version="1.0"?><rdf:RDF xmlns:rdf="{rdf}"/>\n')
    return rules, site


@pytest.fixture(scope="module")
def server(folders):
    rules, site = folders
    with Apache({"/site": site, "/hscp": rules}) as running:
        yield running


def test_an_iri_asked_for_as_turtle_is_redirected_to_the_turtle_document(server):
    response = server.request("/hscp/id/thing", headers={"Accept": "text/turtle"})
    assert response.status == 303, server.error_log
    assert response.header("Location") == f"{server.url}/site/doc/thing.ttl"
    assert response.header("Vary") == "Accept"


@pytest.mark.parametrize(
    "accept",
    [None, "text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
)
def test_an_iri_asked_for_otherwise_is_redirected_to_the_page(server, accept):
    response = server.request("/hscp/id/thing", headers={"Accept": accept} if accept else {})
    assert response.status == 303, server.error_log
    assert response.header("Location") == f"{server.url}/site/doc/thing.html"
    assert response.header("Vary") == "Accept"


def test_a_relative_substitution_keeps_the_rewrite_base(server):
    response = server.request("/hscp/id/thing/")
    assert response.status == 301
    assert response.header("Location") == f"{server.url}/hscp/id/thing"


def test_other_paths_of_the_rules_folder_are_not_found(server):
    assert server.request("/hscp/id/").status == 404
    assert server.request("/hscp/nothing").status == 404


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/site/doc/thing.ttl", "text/turtle"),
        ("/site/doc/thing.html", "text/html"),
        ("/site/doc/thing.jsonld", "application/ld+json"),
        ("/site/doc/ontology.owl", "application/rdf+xml"),
    ],
)
def test_the_documents_are_served_with_their_media_types(server, path, media_type):
    response = server.request(path)
    assert response.status == 200
    assert response.content_type == media_type


def test_the_redirect_targets_are_served(server):
    for accept, media_type in (("text/turtle", "text/turtle"), ("text/html", "text/html")):
        redirect = server.request("/hscp/id/thing", headers={"Accept": accept})
        location = redirect.header("Location")
        assert location.startswith(server.url)
        target = server.request(location[len(server.url):], headers={"Accept": accept})
        assert target.status == 200
        assert target.content_type == media_type
    assert target.body.decode().startswith("<!doctype html>")


def test_multiviews_from_the_site_htaccess_negotiates(server):
    turtle = server.request("/site/doc/thing", headers={"Accept": "text/turtle"})
    assert turtle.status == 200, server.error_log
    assert turtle.content_type == "text/turtle"
    assert turtle.body.decode() == TURTLE
    assert "accept" in turtle.header("Vary", "").lower()
    page = server.request("/site/doc/thing", headers={"Accept": "text/html"})
    assert page.content_type == "text/html"


def test_the_directory_index_is_served(server):
    response = server.request("/site/")
    assert response.status == 200
    assert response.content_type == "text/html"


def test_htaccess_files_and_unmounted_paths_are_refused(server):
    assert server.request("/hscp/.htaccess").status == 403
    assert server.request("/site/.htaccess").status == 403
    assert server.request("/").status == 403
    assert server.request("/etc/passwd").status in (403, 404)


def test_the_server_does_not_run_as_root(server):
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert "0" not in uids


def test_the_server_stops_on_exit(folders):
    rules, site = folders
    with Apache({"/site": site}) as running:
        process, port, root = running.process, running.port, running.root
        assert running.request("/site/doc/thing.ttl").status == 200
    assert process.returncode is not None
    assert not root.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_server_that_cannot_start_says_why(folders):
    rules, site = folders
    with pytest.raises(ApacheError, match="NoSuchDirective"):
        with Apache({"/site": site}, extra_config="NoSuchDirective on"):
            pass
