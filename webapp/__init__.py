"""The web layer: HTTP in, calls on kg, representations out.

``create_app(settings, store)`` builds the Flask app; everything per-app (settings, the
store, the query catalogue, the vocabulary) lives in ``app.extensions["kg"]``, opened
lazily on first use so the app can be created cheaply and tests can inject a store.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import quote

from flask import Flask, current_app, has_request_context, request

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

                    self._store = open_store(self.settings)
        return self._store

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


def create_app(settings: Settings | None = None, store=None) -> Flask:
    """Create the web app.

    :param settings: defaults to ``Settings.from_env()``.
    :param store: an open ``kg.store.Store``; when None the app opens one from
        ``settings`` on first use (and closes it with :meth:`KG.close`).
    """
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_prefixed_env("KG_FLASK")
    # Bodies larger than this are refused with 413 before they are read.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_query_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_query_bytes
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["kg"] = KG(settings, store)

    from . import compare, dataset, errors, gallery, overview, rendering, resources, sparql

    errors.init_app(app)
    rendering.init_app(app)
    for module in (overview, resources, sparql, gallery, compare, dataset):
        app.register_blueprint(module.bp)
    return app
