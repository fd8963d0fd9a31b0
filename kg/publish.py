"""The parts of a static publication that need no web page: dumps, RDF files, redirect rules.

``kg publish OUT`` (the command comes from the web layer, which renders the HTML pages) writes a
static site of a build that works from any static host. This module writes what is not HTML:

- the **dumps**, gzip-compressed, each described as a DCAT distribution with its byte size and
  SHA-256 checksum (:func:`write_dumps`, :func:`distributions`);
- every resource's description as Turtle, JSON-LD, RDF/XML and N-Triples files
  (``doc/{kind}/{id}.ttl`` …), the same triples the live server's ``/doc/…`` pages give
  (:func:`write_resource_files`), serialised by pyoxigraph;
- the **redirect rules**: the ``.htaccess`` that a w3id.org entry for the IRIs would hold (303
  from ``/id/…`` to the document in the representation the ``Accept`` header asks for, and
  ``/def`` to the ontology), the site's own ``.htaccess`` (media types, negotiation of
  extension-less paths) and an equivalent nginx snippet (:func:`redirect_rules`).

>>> sorted(redirect_rules("https://w3id.org/hscp/id/", "https://example.org/hscp/"))
['.htaccess', 'nginx.conf', 'w3id/.htaccess']
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .errors import UsageError
from .formats import JSON_LD, N_QUADS, RDF_FORMATS, TURTLE

DUMPS = (  # (file in the build, media type, title); the large ones are published compressed
    ("graph.nq", N_QUADS.media_type, "All named graphs: ontology, data, inferred, metadata", True),
    ("data.ttl", TURTLE.media_type, "The case data as Turtle", True),
    ("data.jsonld", JSON_LD.media_type, "The case data as JSON-LD", True),
    ("void.ttl", TURTLE.media_type, "The VoID and DCAT description of the dataset", False),
    ("report.json", "application/json", "The build report: counts, validation, reasoner, timings", False),
)
MAX_RESOURCES = 20_000
"""Above this many resources, the static site holds no per-resource files (see docs/publishing.md)."""


@dataclasses.dataclass(frozen=True)
class Dump:
    name: str  # as published, e.g. graph.nq.gz
    source: str  # as in the build, e.g. graph.nq
    media_type: str
    title: str
    compressed: bool
    size: int
    sha256: str


def check_base_url(base_url: str) -> str:
    """The site's base URL, ending in '/'. :raises UsageError: not an absolute http(s) URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--base-url {base_url!r} is not an absolute http(s) URL without query or fragment: "
                         "give the address the site will be served from, e.g. https://example.org/hscp/")
    return base_url if base_url.endswith("/") else base_url + "/"


def write_dumps(build_dir: Path, folder: Path) -> list[Dump]:
    """Copy the build's dumps into ``folder`` (gzip for the large ones); return them with size and SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source, media_type, title, compress in DUMPS:
        path = Path(build_dir) / source
        if not path.is_file():
            continue
        name = source + (".gz" if compress else "")
        target = folder / name
        if compress:
            with path.open("rb") as raw, gzip.GzipFile(target, "wb", compresslevel=6, mtime=0) as packed:
                shutil.copyfileobj(raw, packed, 1 << 20)
        else:
            shutil.copyfile(path, target)
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        written.append(Dump(name, source, media_type, title, compress, target.stat().st_size, digest.hexdigest()))
    return written


def distributions(description, dataset_iri: str, dumps: Iterable[Dump], base_url: str):
    """The dataset description (an rdflib Graph) with one DCAT distribution per published dump:
    its download URL under the site, media type, compression, byte size and SHA-256 (SPDX)."""
    from rdflib import BNode, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD

    spdx = Namespace("http://spdx.org/rdf/terms#")
    graph = description
    graph.bind("spdx", spdx)
    dataset = URIRef(dataset_iri)
    for old in list(graph.objects(dataset, DCAT.distribution)):  # the live server's downloads
        graph.remove((dataset, DCAT.distribution, old))
        graph.remove((dataset, VOID.dataDump, old))
        graph.remove((old, None, None))
    for dump in dumps:
        url = URIRef(f"{base_url}dataset/{dump.name}")
        graph.add((dataset, DCAT.distribution, url))
        if dump.source != "report.json":
            graph.add((dataset, VOID.dataDump, url))
        graph.add((url, RDF.type, DCAT.Distribution))
        graph.add((url, DCTERMS.title, Literal(dump.title, lang="en")))
        graph.add((url, DCAT.downloadURL, url))
        graph.add((url, DCAT.mediaType, URIRef(f"https://www.iana.org/assignments/media-types/{dump.media_type}")))
        if dump.compressed:
            graph.add((url, DCAT.compressFormat, URIRef("https://www.iana.org/assignments/media-types/application/gzip")))
        graph.add((url, DCAT.byteSize, Literal(dump.size, datatype=XSD.nonNegativeInteger)))
        checksum = BNode()
        graph.add((url, spdx.checksum, checksum))
        graph.add((checksum, RDF.type, spdx.Checksum))
        graph.add((checksum, spdx.algorithm, spdx.checksumAlgorithm_sha256))
        graph.add((checksum, spdx.checksumValue, Literal(dump.sha256, datatype=XSD.hexBinary)))
    return graph


# --- resources ----------------------------------------------------------------------------------


def resources(store, namespaces: dict[str, str]) -> dict[str, str]:
    """IRI -> the path of its page ("doc/partnership/x", "study/s/partnership/y") for every subject
    under one of ``namespaces`` (namespace -> page prefix) in a pyoxigraph store of the build."""
    import pyoxigraph as ox

    found: dict[str, str] = {}
    ordered = sorted(namespaces.items(), key=lambda item: -len(item[0]))
    for quad in store.quads_for_pattern(None, None, None):
        subject = quad.subject
        if not isinstance(subject, ox.NamedNode):
            continue
        iri = subject.value.partition("#")[0]
        if iri in found:
            continue
        for namespace, prefix in ordered:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                rest = iri[len(namespace):]
                if "." not in rest.rpartition("/")[2] and not rest.endswith("/"):  # a slug never holds a dot
                    found[iri] = prefix + rest
                break
    return found


def write_resource_files(store, pages: dict[str, str], folder: Path, prefixes: dict[str, str],
                         progress: Callable[[int], None] | None = None) -> int:
    """Each resource's description (the live server's DESCRIBE) in every RDF format; return files written."""
    import pyoxigraph as ox

    from .store import DESCRIBE

    formats = [(f.extension, f.oxigraph_format()) for f in RDF_FORMATS]
    count = 0
    for index, (iri, page) in enumerate(sorted(pages.items())):
        triples = list(store.query(DESCRIBE, substitutions={ox.Variable("r"): ox.NamedNode(iri)},
                                   use_default_graph_as_union=True))
        target = folder / page
        target.parent.mkdir(parents=True, exist_ok=True)
        for ext, rdf_format in formats:  # the formats without prefixes (N-Triples) ignore them
            ox.serialize(triples, str(target) + "." + ext, rdf_format, prefixes=prefixes)
            count += 1
        if progress and index % 1000 == 999:
            progress(index + 1)
    return count


# --- redirect rules -----------------------------------------------------------------------------


def redirect_rules(base_iri: str, base_url: str, version: str | None = None) -> dict[str, str]:
    """{file: text}: the w3id.org entry's .htaccess, the site's .htaccess and an nginx snippet.

    ``base_iri`` is the instance namespace (``https://w3id.org/hscp/id/``); its parent is the
    w3id entry (``https://w3id.org/hscp/``), whose ``id/…`` and ``def`` paths redirect to the
    site at ``base_url``.
    """
    from .release import current

    version = version or current()
    entry = base_iri.rstrip("/").rpartition("/")[0] + "/"
    id_path = base_iri[len(entry):]  # "id/"
    lines = [
        f"# The w3id.org entry for {entry}: put this file in the entry's folder of the",
        "# w3id.org repository (https://github.com/perma-id/w3id.org). IRIs redirect (303 See Other)",
        f"# to the documents of the static site at {base_url}, in the representation asked for.",
        "Options +FollowSymLinks",
        "RewriteEngine on",
        "# Apache drops the Vary that a RewriteCond on Accept adds once the answer is a redirect:",
        "# every negotiated rule sets 'negotiated', and the header is put back.",
        "<IfModule mod_headers.c>",
        "  Header always merge Vary Accept env=negotiated",
        "</IfModule>",
        "",
        "# the ontology: https://w3id.org/…/def and its terms (…/def#Term)",
    ]
    for f in RDF_FORMATS:
        lines += [f"RewriteCond %{{HTTP_ACCEPT}} {f.accept_pattern}",
                  f"RewriteRule ^def/?$ {base_url}def.{f.extension} [R=303,L,NE,E=negotiated:1]"]
    lines += [f"RewriteRule ^def/?$ {base_url}def.html [R=303,L,NE,E=negotiated:1]", "",
              "# the dataset's description",]
    for f in RDF_FORMATS:
        lines += [f"RewriteCond %{{HTTP_ACCEPT}} {f.accept_pattern}",
                  f"RewriteRule ^{id_path}dataset$ {base_url}dataset.{f.extension} [R=303,L,NE,E=negotiated:1]"]
    lines += [f"RewriteRule ^{id_path}dataset$ {base_url}dataset.html [R=303,L,NE,E=negotiated:1]",
              "# this version of the dataset (its versioned IRI): the same description",
              f"RewriteRule ^{id_path}dataset/{re.escape(version)}$ {base_url}dataset.html [R=303,L,NE]",
              "# the dumps (the large ones are published compressed)",
              *(f"RewriteRule ^{id_path}dataset/{name.replace('.', chr(92) + '.')}$ {base_url}dataset/{name}.gz [R=303,L,NE]"
                for name, _m, _t, compress in DUMPS if compress),
              f"RewriteRule ^{id_path}dataset/(.+)$ {base_url}dataset/$1 [R=303,L,NE]", "",
              "# every other resource: its document"]
    for f in RDF_FORMATS:
        lines += [f"RewriteCond %{{HTTP_ACCEPT}} {f.accept_pattern}",
                  f"RewriteRule ^{id_path}(.+)$ {base_url}doc/$1.{f.extension} [R=303,L,NE,E=negotiated:1]"]
    lines += [f"RewriteRule ^{id_path}(.+)$ {base_url}doc/$1.html [R=303,L,NE,E=negotiated:1]", ""]
    w3id = "\n".join(lines)

    rdf_files = (*RDF_FORMATS, N_QUADS)  # the resources' files and the graph.nq dump
    site = "\n".join([
        "# The static site's own rules (Apache): media types, and the documents' extension-less",
        "# paths (/doc/partnership/x) negotiated by Accept.",
        "AddType text/html .html",
        *(f"AddType {f.media_type} .{f.extension}" for f in rdf_files),
        "AddType application/json .json",
        "AddType text/csv .csv",
        "AddType text/tab-separated-values .tsv",
        "AddType application/sparql-results+json .srj",
        "AddType application/vnd.openxmlformats-officedocument.spreadsheetml.sheet .xlsx",
        "AddCharset utf-8 .html " + " ".join(f".{f.extension}" for f in rdf_files) + " .json .csv .tsv",
        "DirectoryIndex index.html",
        "Options -Indexes +FollowSymLinks",
        "RewriteEngine on",
        *[rule for f in RDF_FORMATS for rule in (
            f"RewriteCond %{{HTTP_ACCEPT}} {f.accept_pattern}",
            "RewriteCond %{REQUEST_FILENAME} !-f",
            f"RewriteCond %{{REQUEST_FILENAME}}.{f.extension} -f",
            f"RewriteRule ^(.+)$ $1.{f.extension} [L]")],
        "RewriteCond %{REQUEST_FILENAME} !-f",
        "RewriteCond %{REQUEST_FILENAME}.html -f",
        "RewriteRule ^(.+)$ $1.html [L]",
        "<IfModule mod_headers.c>",
        '  Header append Vary Accept',
        "</IfModule>",
        "",
    ])

    site_path = urlsplit(base_url).path
    entry_path = urlsplit(entry).path
    accept_map = "\n".join(f"    ~{f.accept_pattern} {f.extension};" for f in RDF_FORMATS)
    types = "; ".join(f"{f.media_type} {f.extension}" for f in rdf_files)
    nginx = "\n".join([
        f"# nginx equivalent of the rules: IRIs under {entry} (the w3id entry) and the site at {base_url}.",
        "# In the http block:",
        "map $http_accept $hscp_ext {",
        "    default html;",
        accept_map,
        "}",
        f"types {{ {types}; }}",
        "# In the server block of the IRIs' host:",
        f"location = {entry_path}def {{ return 303 {base_url}def.$hscp_ext; }}",
        f"location = {entry_path}{id_path}dataset {{ return 303 {base_url}dataset.$hscp_ext; }}",
        f"location = {entry_path}{id_path}dataset/{version} {{ return 303 {base_url}dataset.html; }}",
        *(f"location = {entry_path}{id_path}dataset/{name} {{ return 303 {base_url}dataset/{name}.gz; }}"
          for name, _m, _t, compress in DUMPS if compress),
        f"location ~ ^{entry_path}{id_path}dataset/(.+)$ {{ return 303 {base_url}dataset/$1; }}",
        f"location ~ ^{entry_path}{id_path}(.+)$ {{ return 303 {base_url}doc/$1.$hscp_ext; }}",
        "# In the server block of the site:",
        f"location {site_path} {{",
        "    add_header Vary Accept;",
        "    try_files $uri $uri.$hscp_ext $uri.html $uri/index.html =404;",
        "}",
        "",
    ])
    return {"w3id/.htaccess": w3id, ".htaccess": site, "nginx.conf": nginx}
