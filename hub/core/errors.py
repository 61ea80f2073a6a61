"""Domain exceptions and their one mapping to HTTP: RFC 9457 problem+json.

Services raise the exceptions below; nothing else in the app builds an error response.
Validation messages are flattened to dotted field paths (``responsible_leader.name``,
``milestones.0.status``) so a client can point at the failing field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, has_request_context, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:project-hub:problem:"
log = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]


class HubError(Exception):
    """A failure the client should hear about, with its HTTP status."""

    status = 500
    slug = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: FieldErrors | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        # members of the problem document beyond the standard ones (RFC 9457 §3.2)
        self.extensions = dict(extensions or {})


class BadRequest(HubError):
    status, slug = 400, "bad-request"


class Unauthorized(HubError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="project-hub"'})


class Forbidden(HubError):
    status, slug = 403, "forbidden"


class NotFound(HubError):
    status, slug = 404, "not-found"


class Conflict(HubError):
    status, slug = 409, "conflict"


class Gone(HubError):
    status, slug = 410, "gone"


class PreconditionFailed(HubError):
    status, slug = 412, "precondition-failed"


class UnsupportedMediaType(HubError):
    status, slug = 415, "unsupported-media-type"


class Unprocessable(HubError):
    status, slug = 422, "validation-error"


class TooManyRequests(HubError):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(HubError):
    status, slug = 503, "unavailable"


def flatten_messages(messages: Any, prefix: str = "") -> FieldErrors:
    """Flatten marshmallow's nested messages into ``{"a.b.0.c": ["..."]}``."""
    if isinstance(messages, Mapping):
        flat: FieldErrors = {}
        for name, inner in messages.items():
            path = str(name) if not prefix else f"{prefix}.{name}"
            if name == ma.exceptions.SCHEMA:
                path = prefix or ma.exceptions.SCHEMA
            for field_path, texts in flatten_messages(inner, path).items():
                flat.setdefault(field_path, []).extend(texts)
        return flat
    if isinstance(messages, list | tuple):
        if all(isinstance(text, str) for text in messages):
            return {prefix or ma.exceptions.SCHEMA: [str(text) for text in messages]}
        flat = {}
        for inner in messages:
            for field_path, texts in flatten_messages(inner, prefix).items():
                flat.setdefault(field_path, []).extend(texts)
        return flat
    return {prefix or ma.exceptions.SCHEMA: [str(messages)]}


def validation_error(error: ma.ValidationError, detail: str | None = None) -> Unprocessable:
    """The 422 for a marshmallow validation failure, each field named."""
    errors = flatten_messages(error.messages)
    return Unprocessable(
        detail or f"The request has {len(errors)} invalid field(s): {', '.join(errors)}.",
        errors=errors,
    )


def problem(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: FieldErrors | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Build a problem+json response."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": f"{PROBLEM_BASE}{slug}" if slug else "about:blank",
        "title": phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(dict(headers or {}))
    return response


def problem_for(error: HubError) -> Response:
    """The response for a domain error."""
    return problem(
        error.status,
        error.detail,
        slug=error.slug,
        errors=error.errors,
        headers=error.headers,
        extensions=error.extensions,
    )


def problem_for_database_error(error: SQLAlchemyError) -> Response:
    """A database that is busy or unreachable is the client's cue to retry, not a crash."""
    if isinstance(error, OperationalError):
        log.warning("database unavailable: %s", error)
        return problem(
            503,
            "The database is busy or unreachable; retry shortly.",
            slug="unavailable",
            headers={"Retry-After": "1"},
        )
    log.exception("database error", exc_info=error)
    return problem(500, "Internal error; it has been logged.", slug="internal-error")


def _http_error_messages(error: HTTPException) -> FieldErrors | None:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if not messages:
        return None
    # webargs keys messages by location (json, query, headers); clients need the field.
    if isinstance(messages, Mapping) and len(messages) == 1:
        location = next(iter(messages))
        if location in {"json", "query", "path", "headers", "form", "view_args"}:
            messages = messages[location]
    return flatten_messages(messages)


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document (for the OpenAPI description of errors)."""

    type = ma.fields.String(metadata={"description": "A URI naming the kind of problem."})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages by field, as dotted paths."},
    )


class HubApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with every HTTP error rendered as problem+json, except under the
    paths whose pages render their own (:meth:`render_errors_under`)."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_renderers: dict[str, Callable[[HTTPException], Response]] = {}

    def render_errors_under(self, prefix: str, render: Callable[[HTTPException], Response]) -> None:
        """Let ``render`` answer the HTTP errors of requests under ``prefix`` (HTML pages)."""
        self._page_renderers[prefix] = render

    def _register_responses(self) -> None:
        # flask-smorest documents its error responses as application/json; ours are
        # problem+json, and the document should say so.
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render a werkzeug or webargs HTTP error as problem+json (or as a page)."""
        for prefix, render in self._page_renderers.items():
            if has_request_context() and request.path.startswith(prefix):
                return render(error)
        status = error.code or 500
        if isinstance(error, InternalServerError):
            return _internal_error(error)
        errors = _http_error_messages(error)
        headers: dict[str, str] = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        data = getattr(error, "data", None) or {}
        headers.update(data.get("headers") or {})
        if errors:
            detail = f"The request has {len(errors)} invalid field(s): {', '.join(errors)}."
            return problem(status, detail, slug="validation-error", errors=errors, headers=headers)
        return problem(status, data.get("message") or error.description, headers=headers)


def _internal_error(error: InternalServerError) -> Response:
    original = error.original_exception
    if isinstance(original, HubError):
        return problem_for(original)
    if isinstance(original, SQLAlchemyError):
        return problem_for_database_error(original)
    log.error("unhandled error", exc_info=original or error)
    return problem(500, "Internal error; it has been logged.", slug="internal-error")


def init_app(app: Flask) -> None:
    """Register the handlers that turn domain and library errors into problem+json."""
    app.register_error_handler(HubError, problem_for)
    app.register_error_handler(
        ma.ValidationError, lambda error: problem_for(validation_error(error))
    )
    app.register_error_handler(SQLAlchemyError, problem_for_database_error)
