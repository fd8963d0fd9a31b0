"""A SPARQL 1.1 endpoint as a store (:class:`RemoteStore`), and pushing a build to one.

Queries are checked here as on the embedded stores (:meth:`Store.query`), then sent over
HTTP(S) with their bindings written inline (:func:`kg.store.inline.bind_inline`); the HTTP
timeout is the deadline, since the server, not this process, runs the query.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections.abc import Iterator

import pyoxigraph as ox
import rdflib

from ..errors import QuerySyntaxError, QueryTimeout, StoreError
from ..namespaces import GRAPH_BASE, GRAPH_NAMES, STUDY_GRAPH
from .base import ProtocolDataset, Store
from .dump import _PinnedDump
from .inline import bind_inline
from .results import QueryResult, _cells_from_json


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint reached over HTTP(S) through SPARQLWrapper.

    Queries see the build's named graphs only (``https://w3id.org/hscp/graph/…``): unless the
    query has its own FROM clauses, each request names them as ``default-graph-uri`` and
    ``named-graph-uri``, so the server's other graphs (Virtuoso keeps system graphs of its own)
    never show up. A server that cuts a result at its own row cap and says so (Virtuoso's
    ``X-SPARQL-MaxRows`` header) gives a result marked truncated; a server that stops a query
    at its own time limit and returns what it has so far (Virtuoso's anytime answers,
    ``X-SQL-State: S1TAT``) gives ``QueryTimeout``, never partial rows.
    """

    backend = "remote"
    chunk_triples = 500  # Virtuoso refuses an INSERT DATA whose SQL would exceed 10,000 lines
    build_graphs = tuple(GRAPH_BASE + name for name in GRAPH_NAMES)

    def __init__(self, settings, url: str):
        super().__init__(settings)
        self.url = url
        self.update_url = settings.store_update_url or url
        self._graphs: tuple[float, list[str]] | None = None

    def __repr__(self) -> str:
        return f"<RemoteStore {self.url}>"

    def _wrapper(self, url: str, timeout: float, auth: str | None = None):
        from SPARQLWrapper import POST, SPARQLWrapper

        wrapper = SPARQLWrapper(url)
        wrapper.setTimeout(max(1, int(math.ceil(timeout))))
        wrapper.setMethod(POST)
        if auth and self.settings.store_user:
            wrapper.setHTTPAuth(auth)
            wrapper.setCredentials(self.settings.store_user, self.settings.store_password or "")
        return wrapper

    def graphs(self) -> list[str]:
        """The build graphs the remote store holds (listed at most once a minute)."""
        now = time.monotonic()
        if self._graphs is None or now - self._graphs[0] > 60:
            # the build's graphs: the four of every build, and the studies its metadata names
            metadata = GRAPH_BASE + "metadata"
            response = self._send("PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
                                  "SELECT DISTINCT ?g WHERE { ?named sd:name ?g }", "json", self.settings.query_timeout,
                                  dataset=ProtocolDataset((metadata,), ()))
            _, cells, _ = self._parse_select(response)
            studies = tuple(c[0][1] for c in cells if c[0] and c[0][1].startswith(GRAPH_BASE + STUDY_GRAPH))
            project = self.build_graphs + tuple(sorted(studies))
            response = self._send("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", "json",
                                  self.settings.query_timeout, dataset=ProtocolDataset(project, project))
            _, cells, _ = self._parse_select(response)
            self._graphs = (now, sorted(c[0][1] for c in cells if c[0]))
        return list(self._graphs[1])

    @property
    def project_graphs(self) -> tuple[str, ...]:
        """The graphs a query sees: the build's graphs the store holds (else the four of every build)."""
        return tuple(self.graphs()) or self.build_graphs

    def _send(self, text: str, return_format: str, timeout: float, *, dataset: ProtocolDataset | None):
        """POST one query; return the HTTP response (body unread). ``dataset``: the graphs to name."""
        wrapper = self._wrapper(self.url, timeout)
        wrapper.setQuery(text)
        wrapper.setReturnFormat(return_format)
        if dataset is not None:
            for graph in dataset.default_graphs:
                wrapper.addDefaultGraph(graph)
            for graph in dataset.named_graphs:
                wrapper.addNamedGraph(graph)
        try:
            response = wrapper.query().response
        except Exception as error:  # noqa: BLE001 - SPARQLWrapper and urllib raise many kinds
            if "timed out" in str(error).lower() or isinstance(error, TimeoutError):
                raise QueryTimeout(
                    f"The query ran longer than the {timeout:g} s limit (KG_QUERY_TIMEOUT) and was "
                    "abandoned. Narrow it or raise the limit."
                ) from None
            if type(error).__name__ == "QueryBadFormed":
                raise QuerySyntaxError(f"The remote store at {self.url} rejected the query: "
                                       f"{_remote_message(error)}") from None
            raise StoreError(f"The remote store at {self.url} could not answer: {_remote_message(error)}") from None
        state = response.headers.get("X-SQL-State", "")
        if state == "S1TAT":
            raise QueryTimeout(
                f"The remote store at {self.url} stopped the query at its own time limit and offered "
                "partial results, which are not returned. Narrow the query, or raise the server's "
                "limit (Virtuoso: [SPARQL] MaxQueryExecutionTime)."
            )
        return response

    @staticmethod
    def _server_cap(response) -> int | None:
        cap = response.headers.get("X-SPARQL-MaxRows")
        try:
            return int(cap) if cap else None
        except ValueError:
            return None

    def _parse_select(self, response):
        """(variables or boolean, cells, the server's row cap if it cut the result)."""
        document = json.loads(response.read())
        cap = self._server_cap(response)
        if "boolean" in document:
            return document["boolean"], [], None
        variables, rows = _cells_from_json(document)
        return variables, rows, cap

    def _execute(self, parsed, cells, timeout, limit, dataset=None, output=None):
        text = bind_inline(parsed, cells) if cells else parsed.text
        if dataset is None and not parsed.has_dataset_clause:
            dataset = ProtocolDataset(tuple(self.project_graphs), tuple(self.project_graphs))
        if parsed.kind in ("ask", "select"):
            head, rows, cap = self._parse_select(self._send(text, "json", timeout, dataset=dataset))
            if parsed.kind == "ask":
                return QueryResult("ask", boolean=bool(head))
            return QueryResult("select", variables=head, cells=rows[:limit],
                               truncated=len(rows) > limit or cap is not None)
        from SPARQLWrapper import TURTLE

        response = self._send(text, TURTLE, timeout, dataset=dataset)
        data = response.read().decode("utf-8")
        cap = self._server_cap(response)
        graph = rdflib.Graph().parse(data=data, format="turtle") if data.strip() else rdflib.Graph()
        triples = list(itertools.islice(graph, limit + 1))
        out = rdflib.Graph()
        for triple in triples[:limit]:
            out.add(triple)
        return QueryResult("graph", ntriples=out.serialize(format="nt", encoding="utf-8") if len(out) else b"",
                           truncated=len(triples) > limit or cap is not None)

    def push(self, build_dir: str | os.PathLike) -> dict[str, int]:
        """Load a build graph by graph, replacing each graph; return the triples per graph loaded.

        Each graph goes into a staging graph first, in chunks, and is then moved over the old
        one in a single ``MOVE`` request, so every graph is either entirely old or entirely new.
        A failure names the graph; the graphs loaded before it stay new, the failed one and
        those after it stay as they were, and the staging graph is dropped.
        """
        by_graph: dict[str, list[ox.Quad]] = {}
        with _PinnedDump.open(build_dir) as pinned:
            for quad in ox.parse(**pinned.where(), format=ox.RdfFormat.N_QUADS):
                if isinstance(quad.graph_name, ox.NamedNode):
                    by_graph.setdefault(quad.graph_name.value, []).append(quad)
        loaded: dict[str, int] = {}
        for graph, quads in by_graph.items():
            staging = f"{graph}#staging"
            try:
                self._update(f"DROP SILENT GRAPH <{staging}>")
                for chunk in _chunks(quads, self.chunk_triples):
                    body = "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in chunk)
                    if any(isinstance(t, ox.BlankNode) for q in chunk for t in (q.subject, q.object)):
                        # INSERT DATA may not hold blank nodes on Virtuoso 7; a template may
                        # (one fresh node per label, as the chunk holds every use of each label)
                        self._update(f"INSERT {{ GRAPH <{staging}> {{\n{body}\n}} }} WHERE {{}}")
                    else:
                        self._update(f"INSERT DATA {{ GRAPH <{staging}> {{\n{body}\n}} }}")
                self._update(f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{graph}>")
            except StoreError as error:
                cleanup = ""
                try:
                    self._update(f"DROP SILENT GRAPH <{staging}>")
                except StoreError as again:
                    cleanup = f" The staging graph <{staging}> could not be dropped ({again}): drop it by hand."
                done = ", ".join(f"<{g}>" for g in loaded) or "none"
                raise StoreError(
                    f"Pushing graph <{graph}> to {self.update_url} failed: {error}. That graph and "
                    f"the ones after it were left as they were; graphs replaced before it: {done}.{cleanup}"
                ) from None
            loaded[graph] = len(quads)
        self._graphs = None
        return loaded

    def _update(self, text: str) -> None:
        """One SPARQL Update request, POSTed: digest auth first (Virtuoso's /sparql-auth), then basic."""
        from SPARQLWrapper import BASIC, DIGEST

        for auth in (DIGEST, BASIC):
            wrapper = self._wrapper(self.update_url, max(self.settings.query_timeout, 300), auth)
            wrapper.setQuery(text)
            try:
                wrapper.query().response.read()
                return
            except Exception as error:  # noqa: BLE001 - SPARQLWrapper and urllib raise many kinds
                message = _remote_message(error)
                if auth == DIGEST and self.settings.store_user and type(error).__name__ == "Unauthorized":
                    continue
                raise StoreError(message) from None


def _remote_message(error: Exception) -> str:
    """A one-line reason from a SPARQLWrapper or urllib error (its response body, shortened)."""
    text = " ".join(str(error).split())
    text = text.replace("Response: b'", "Response: ").replace("\\n", " ")
    return (text[:400] + "…") if len(text) > 400 else (text or type(error).__name__)


def _chunks(quads: list, size: int) -> Iterator[list]:
    """Chunks of about ``size`` triples for INSERT DATA requests.

    A blank node's label means something only within one request, so all the triples that
    share blank nodes (an OWL restriction, an RDF list) travel in the same chunk.
    """
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    plain, blank = [], []
    for quad in quads:
        labels = [t.value for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
        if not labels:
            plain.append(quad)
            continue
        blank.append((labels[0], quad))
        for other in labels[1:]:
            parent[root(other)] = root(labels[0])
    components: dict[str, list] = {}
    for label, quad in blank:
        components.setdefault(root(label), []).append(quad)
    chunk: list = []
    for group in [*components.values(), *([q] for q in plain)]:
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk.extend(group)
    if chunk:
        yield chunk

