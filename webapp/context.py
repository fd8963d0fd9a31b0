"""What every view shares: the per-app :class:`KG` (settings, store, catalogue, vocabulary) and
``kg()``, which finds it for the current request.

Its own module, so that the views import it from here and ``webapp/__init__`` (which imports
the views to register them) is imported by none of them: no import cycle.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import quote

from flask import current_app, has_request_context, request

from kg.mapping import Minter
from kg.namespaces import HSCP_IRI, ONTOLOGY_IRI
from kg.settings import Settings

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"


class KG:
    """What the views need from kg, for one app: opened once, shared by every request."""

    def __init__(self, settings: Settings, store=None):
        self.settings = settings
        self.mint = Minter(settings.base_iri)
        self._store = store
        self._owns_store = store is None
        self._lock = threading.Lock()
        self._cache: dict[str, object] = {}

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from kg.store import open_store

                    self._store = open_store(self.settings, local=True)
        return self._store

    def warm(self) -> None:
        """Pay before the first request what it would pay: the canned queries read and parsed
        (rdflib, tens of milliseconds each). A server's fresh process otherwise made its first
        lookup wait seconds behind that, under load (benchmarks/stall_bench.py)."""
        from kg import sparql

        for query in self.catalogue:
            sparql.parse_bounded(query.sparql, max_terms=self.settings.max_query_terms,
                                 timeout=self.settings.query_timeout)

    def cached(self, key: str, compute):
        """A value computed once per app (the data does not change while it runs)."""
        if key not in self._cache:
            value = compute()
            with self._lock:
                self._cache.setdefault(key, value)
        return self._cache[key]

    @property
    def catalogue(self):
        from kg.queries import Catalogue

        return self.cached("catalogue", lambda: Catalogue.load(self.settings.queries_path))

    @property
    def comparison(self):
        """The comparison index (kg.compare) over this app's store, read once."""
        from kg.compare import ComparisonIndex

        return ComparisonIndex.load(self.store, self.catalogue)

    @property
    def datasets(self):
        """The build's datasets (kg.datasets.DatasetIndex): the bundled evidence and its studies."""
        from kg.datasets import DatasetIndex

        return DatasetIndex.load(self.store, self.catalogue)

    @property
    def vocabulary(self):
        from kg.vocabulary import load_vocabulary

        return self.cached("vocabulary", lambda: load_vocabulary(self.settings.ontology_path, self.settings.base_iri))

    def stats(self) -> dict:
        return self.cached("stats", self.store.stats)

    @property
    def build_dir(self) -> Path:
        return Path(self.settings.build_dir)

    def local_href(self, iri: str) -> str:
        """Where a browser of this server finds an IRI: /id/… for the data, /def#… for terms."""
        iri = str(iri)
        base = self.settings.base_iri
        if iri.startswith(base):
            return "/id/" + quote(iri[len(base):], safe="/#-._~")
        if iri.startswith(("http://", "https://")) and not iri.startswith(HSCP_IRI):
            study = self.datasets.of(iri)  # a study's resource: served here under /study/{id}/
            if study is not None and study.study:
                return f"/study/{study.id}/" + quote(iri[len(study.namespace):], safe="/#-._~")
        if iri.startswith(HSCP_IRI):
            return "/def#" + quote(iri[len(HSCP_IRI):], safe="-._~")
        if iri == ONTOLOGY_IRI or iri.startswith(ONTOLOGY_IRI + "/"):
            return "/def"
        return iri

    def public_url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` (a path of this app, with any query) as the public reaches it.

        Under ``KG_PUBLIC_URL`` when it is set (the app behind a proxy), else under the URL the
        request came in on. Every URL the app publishes about itself is made here.
        """
        base = self.settings.public_url
        if not base:
            base = request.url_root if has_request_context() else "/"
        return base.rstrip("/") + "/" + path.lstrip("/")

    def request_url(self, canonical: bool = False) -> str:
        """The public URL of the current request; ``canonical``: without a ``.html`` suffix."""
        path = request.path
        if canonical and path.endswith(".html"):
            path = path[: -len(".html")]
        query = request.query_string.decode("latin-1")
        return self.public_url(quote(path, safe="/:@!$&'()*+,;=-._~") + ("?" + query if query else ""))

    def close(self) -> None:
        if self._owns_store and self._store is not None:
            self._store.close()


def kg() -> KG:
    """The current app's :class:`KG`."""
    return current_app.extensions["kg"]
