"""A real server: `kg serve` in a subprocess on 127.0.0.1 (granian, then waitress), queried with SPARQLWrapper and plain HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from test_web_fixtures import iri

pytestmark = pytest.mark.server
PARTNERSHIP = URIRef("https://w3id.org/hscp/def#Partnership")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kg serve exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError("kg serve did not answer /health in time")


@pytest.fixture(scope="module", params=["granian", "waitress"])
def server(request, web_settings):
    """`kg serve` under each HTTP server it offers (KG_SERVER): granian in two processes, waitress in one."""
    port = free_port()
    env = dict(os.environ)
    env.update({"KG_DATA_DIR": str(web_settings.data_dir), "KG_QUERIES_DIR": str(web_settings.queries_dir or ""),
                "KG_WORKERS": "1", "KG_THREADS": "4", "KG_SERVER": request.param, "KG_PROCESSES": "2"})
    if web_settings.ontology_dir:
        env["KG_ONTOLOGY_DIR"] = str(web_settings.ontology_dir)
    kg = Path(sys.executable).with_name("kg")
    command = [str(kg)] if kg.exists() else [sys.executable, "-m", "kg.cli"]
    process = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--build", str(web_settings.build_dir)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stderr.close()


def test_sparqlwrapper_select_json(server):
    from SPARQLWrapper import JSON, SPARQLWrapper

    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(f"SELECT ?p WHERE {{ ?p a <{PARTNERSHIP}> }}")
    client.setReturnFormat(JSON)
    document = client.query().convert()
    assert iri("partnership", "torbay-care-trust") in {b["p"]["value"] for b in document["results"]["bindings"]}


def test_sparqlwrapper_ask(server):
    from SPARQLWrapper import JSON, SPARQLWrapper

    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(f"ASK {{ ?p a <{PARTNERSHIP}> }}")
    client.setReturnFormat(JSON)
    assert client.query().convert()["boolean"] is True


def test_sparqlwrapper_construct(server):
    from SPARQLWrapper import POST, TURTLE, SPARQLWrapper

    client = SPARQLWrapper(server + "/sparql")
    client.setMethod(POST)
    client.setQuery(f"CONSTRUCT {{ ?p a <{PARTNERSHIP}> }} WHERE {{ ?p a <{PARTNERSHIP}> }}")
    client.setReturnFormat(TURTLE)
    data = client.query().convert()
    graph = Graph().parse(data=data.decode() if isinstance(data, bytes) else data, format="turtle")
    assert (URIRef(iri("partnership", "torbay-care-trust")), RDF.type, PARTNERSHIP) in graph


def test_plain_http(server):
    request = urllib.request.Request(server + "/id/partnership/torbay-care-trust", headers={"Accept": "text/turtle"})
    with urllib.request.urlopen(request, timeout=10) as response:  # follows the 303
        assert response.url.endswith("/doc/partnership/torbay-care-trust.ttl")
        graph = Graph().parse(data=response.read().decode(), format="turtle")
    assert (URIRef(iri("partnership", "torbay-care-trust")), RDF.type, PARTNERSHIP) in graph
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(server + "/doc/partnership/missing", timeout=10)
    assert error.value.code == 404
    assert json.loads(error.value.read())["status"] == 404
    error.value.close()
    with urllib.request.urlopen(server + "/", timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_body_over_the_limit_is_refused_and_the_server_reports_its_state(server):
    body = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * 70_000  # over KG_MAX_QUERY_BYTES (64 KB)
    request = urllib.request.Request(server + "/sparql", data=body, headers={"Content-Type": "application/sparql-query"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 413
    error.value.close()
    with urllib.request.urlopen(server + "/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["ok"] is True
    assert health["workers"] == {"in_service": 1, "spare": 1, "restarts": 0}
    assert set(health["in_process"]) >= {"ready", "answers"}
