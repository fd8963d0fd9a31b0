"""The web layer: HTTP in, calls on kg, representations out.

``create_app(settings, store)`` builds the Flask app; everything per-app (settings, the
store, the query catalogue, the vocabulary) lives in ``app.extensions["kg"]``, opened
lazily on first use so the app can be created cheaply and tests can inject a store.
"""

from __future__ import annotations

from flask import Flask

from kg.settings import Settings

from .context import KG, VENDOR_DIR, kg

__all__ = ["KG", "VENDOR_DIR", "create_app", "kg"]


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
