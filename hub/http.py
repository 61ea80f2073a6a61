"""Request helpers shared by the API's views: bodies, the caller's view, the city's date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request

from hub.auth.identity import current_identity
from hub.errors import BadRequest, UnsupportedMediaType
from hub.sharing.service import ReaderView, reader_view

JSON_TYPES = ("application/json", "application/merge-patch+json")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The token exchange takes its credential from a header; clients may send an empty form.
BODY_FREE_ENDPOINTS = frozenset({"auth.token"})


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def refuse_non_json_bodies() -> None:
    """415 for a request body that is not JSON, before any view or parser reads it."""
    if request.method not in BODY_METHODS or request.endpoint in BODY_FREE_ENDPOINTS:
        return
    if _has_body() and not _is_json(request.mimetype):
        raise UnsupportedMediaType(
            f"Send the body as application/json, not {request.mimetype or 'without a type'}."
        )


def json_body() -> Any:
    """The request's JSON body; 400 when it is missing or not valid JSON."""
    if not _has_body():
        raise BadRequest("The request needs a JSON body.")
    body = request.get_json(silent=True, force=True)
    if body is None and request.get_data(cache=True).strip() != b"null":
        raise BadRequest("The body is not valid JSON.")
    return body


def reader() -> ReaderView:
    """What the current caller may see, computed once per request."""
    view: ReaderView | None = g.get("reader")
    if view is None:
        view = g.reader = reader_view(current_identity())
    return view


def city_today() -> date:
    """Today's date in the city's time zone."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def init_app(app: Flask) -> None:
    """Install the request-level checks."""
    app.before_request(refuse_non_json_bodies)
