"""The one error handler: an HTML error page for browsers, one JSON shape for everyone else.

Every error becomes ``{"ok": false, "error": "<a sentence>", "status": <code>, "title": …}``
(plus ``"limit"`` when a limit was hit). ``KGError`` subclasses carry their HTTP status;
werkzeug's HTTP errors keep theirs; anything else is a real 500 whose details go to the
log, never to the client.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from kg.errors import KGError, QueryTimeout

log = logging.getLogger("webapp")

_TITLES = {
    400: "Bad request", 401: "Authentication required", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 413: "Request too large",
    415: "Unsupported media type", 500: "Internal error", 501: "Not implemented",
    502: "Store unavailable", 503: "Service unavailable",
}


def error_body(message: str, status: int, **extra) -> dict:
    """The JSON error shape every endpoint answers with."""
    return {"ok": False, "error": message, "status": status, "title": _TITLES.get(status, "Error"), **extra}


def wants_html() -> bool:
    """Whether the client is a browser asking for a page (not an API client, not a download)."""
    last = request.path.rsplit("/", 1)[-1]
    if "." in last and not last.endswith(".html"):
        return False
    try:
        requested = request.args.get("format", "html")
    except UnicodeDecodeError:  # werkzeug cannot read a URL holding a raw byte that is not UTF-8
        requested = "html"
    if requested != "html":
        return False
    accept = request.accept_mimetypes
    explicit = max((q for value, q in accept if value in ("text/html", "application/xhtml+xml")), default=0)
    return explicit > 0 and explicit >= accept.quality("application/json")


def _describe(error: Exception) -> tuple[int, str, dict]:
    if isinstance(error, KGError):
        extra = {}
        if isinstance(error, QueryTimeout):
            from flask import current_app

            extra["limit"] = {"name": "KG_QUERY_TIMEOUT", "seconds": current_app.extensions["kg"].settings.query_timeout}
        return error.http_status, str(error), extra
    if isinstance(error, RequestEntityTooLarge):
        from flask import current_app

        limit = current_app.extensions["kg"].settings.max_query_bytes
        return 413, (f"The request body is larger than the {limit} byte limit (KG_MAX_QUERY_BYTES). "
                     "Send a shorter query."), {"limit": {"name": "KG_MAX_QUERY_BYTES", "bytes": limit}}
    if isinstance(error, HTTPException):
        status = error.code or 500
        if status == 404:
            return 404, f"Nothing is published at {request.path}. Start from / or /dataset.", {"path": request.path}
        if status == 405:
            allowed = ", ".join(sorted(error.valid_methods or [])) if hasattr(error, "valid_methods") else ""
            return 405, f"{request.method} is not allowed on {request.path}" + (f"; use {allowed}." if allowed else "."), {}
        return status, error.description or _TITLES.get(status, "Error"), {}
    log.exception("unhandled error answering %s %s", request.method, request.path)
    return 500, "The server failed to answer this request; the error has been logged.", {}


def handle(error: Exception) -> Response:
    status, message, extra = _describe(error)
    if wants_html():
        response = Response(render_template("error.html", status=status, message=message,
                                            title=_TITLES.get(status, "Error")), status=status)
    else:
        response = jsonify(error_body(message, status, **extra))
        response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "1"
    if status == 405 and isinstance(error, HTTPException):
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sparql-update"'
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle)
