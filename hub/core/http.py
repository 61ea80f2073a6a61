"""Request helpers shared by the API's views: bodies, strict JSON, the city's date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from flask import Flask, Request, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.response import Response as BaseResponse

from hub.core.errors import BadRequest, UnsupportedMediaType

API_PREFIX = "/api/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The token exchange takes its credential from a header; clients may send an empty form.
BODY_FREE_ENDPOINTS = frozenset({"auth.token"})
# Record bodies are a few levels deep; anything deeper is an attack on the parser's stack.
MAX_JSON_DEPTH = 32


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _is_json(mimetype: str) -> bool:
    # application/json, and its suffixed kinds such as application/merge-patch+json
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _depth_exceeds(document: Any, limit: int) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


def check_request() -> None:
    """Refuse what no view should see: NUL in the URL, an API body that is not (sane) JSON.

    The body is parsed here, once, and cached for the view and for webargs. Pages for people
    (the console) post forms, and read them themselves.
    """
    if "\x00" in request.path or (
        request.query_string and any("\x00" in k + v for k, v in request.args.items(multi=True))
    ):
        raise BadRequest("The URL contains a NUL character.")
    if request.method not in BODY_METHODS or request.endpoint in BODY_FREE_ENDPOINTS:
        return
    if not request.path.startswith(API_PREFIX):
        return
    if not _has_body():
        return
    if not _is_json(request.mimetype):
        raise UnsupportedMediaType(
            f"Send the body as application/json, not {request.mimetype or 'without a type'}."
        )
    _refuse_oversized_stream()
    try:
        document = request.get_json(force=True, cache=True)
    except RecursionError as exc:
        raise BadRequest("The JSON body is nested too deeply.") from exc
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        raise BadRequest(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")


def _refuse_oversized_stream() -> None:
    """413 for a chunked body longer than MAX_CONTENT_LENGTH, as for one with a length.

    werkzeug stops reading a body without ``Content-Length`` at the limit and says nothing:
    the view would parse the body cut short. If the server still holds more of it, it was too
    long."""
    limit = request.max_content_length
    if limit is None or request.content_length is not None:
        return
    if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def json_body() -> Any:
    """The request's JSON body (already parsed by :func:`check_request`); 400 when missing."""
    if not _has_body():
        raise BadRequest("The request needs a JSON body.")
    return request.get_json(force=True, cache=True)


class HubRequest(Request):
    """A request whose JSON parse failures say what was wrong."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Turn a parse failure into a 400 problem naming the error."""
        raise BadRequest(f"The body is not valid JSON: {e}.")


class NoCookieSessions(SessionInterface):
    """The hub keeps no cookie sessions: every request carries its own bearer token."""

    def open_session(self, app: Flask, request: Request) -> None:
        """No session; Flask then hands views a null one."""

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        """Nothing to save."""


class HubJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing the non-standard ``NaN`` and ``Infinity`` that Python accepts,
    and writing responses with orjson: a feed page of a thousand events is most of a megabyte,
    which the standard library takes several times longer to write."""

    sort_keys = False  # responses keep the contract's field order

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        """A compact UTF-8 JSON response."""
        document = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(document, default=self.default, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # what orjson does not take: integers beyond 64 bits, lone surrogates
            return super().response(*args, **kwargs)
        return Response(body, mimetype=self.mimetype)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse strict JSON: UTF-8 without a byte-order mark (RFC 8259 §8.1), no
        non-standard constants, no key twice in one object; ``ValueError`` (a 400) otherwise.

        The standard library would guess UTF-16 or UTF-32 from the bytes and keep the last of
        two equal keys: a client would never learn that the hub read something else than it
        meant.
        """
        if isinstance(s, bytes | bytearray):
            if s.startswith(b"\xef\xbb\xbf"):
                raise ValueError("it starts with a byte-order mark; send UTF-8 without one")
            if b"\x00" in s:  # JSON text never holds a raw NUL; UTF-16 and UTF-32 text does
                raise ValueError("it holds NUL bytes, as UTF-16 or UTF-32 text does; send UTF-8")
            try:
                s = bytes(s).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
        kwargs.setdefault("parse_constant", _refuse_constant)
        kwargs.setdefault("object_pairs_hook", _object_without_repeated_keys)
        return super().loads(s, **kwargs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the key {name!r} appears twice in one object")
            seen.add(name)
    return document


def city_today() -> date:
    """Today's date in the city's time zone."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def init_app(app: Flask) -> None:
    """Install the request-level checks."""
    app.before_request(check_request)
