"""What every console page uses: the scope check, forms read through marshmallow schemas,
and error pages."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import marshmallow as ma
from flask import Response, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hub.console.locale import html_lang
from hub.core.errors import Forbidden, HubError, flatten_messages

P = ParamSpec("P")
R = TypeVar("R")
FormErrors = dict[str, list[str]]


def safe_next(target: str | None) -> str:
    """Where to go after signing in or switching language: a console path of this hub, never
    another site (nor a header broken by a line break, nor a path a browser reads with a
    backslash as a slash)."""
    if target and target.isprintable() and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/console/"):
            return target
    return url_for("console.home")


def require_scope(*scopes: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let a page be used only by a user whose role carries one of ``scopes`` (else 403),
    the scopes the API asks of the same action."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not g.identity.scopes & set(scopes):
                raise Forbidden("")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def read_form(schema: ma.Schema, names: tuple[str, ...]) -> tuple[dict[str, Any], FormErrors]:
    """The posted fields ``names`` loaded through ``schema``: (values, {}) or, when they are
    not valid, (what was typed, errors by field)."""
    typed: dict[str, Any] = {}
    # the form's names are the schema's wire names (data_key), as in the API's bodies
    by_wire_name = {field.data_key or name: field for name, field in schema.fields.items()}
    for name in names:
        values = [value for value in request.form.getlist(name) if value != ""]
        if isinstance(by_wire_name.get(name), ma.fields.List):
            typed[name] = values
        elif values:
            typed[name] = values[0]
    try:
        return schema.load(typed), {}
    except ma.ValidationError as exc:
        return typed, flatten_messages(exc.messages)


def errors_of(error: HubError) -> FormErrors:
    """A service's refusal as form errors: by field, or for the form as a whole."""
    return dict(error.errors) if error.errors else {"_form": [error.detail]}


def render_page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A page and its status."""
    return render_template(template, **context), status


def _error_page(status: int, message: str) -> Response:
    body = render_template("console/error.html", status=status, message=message, lang=html_lang())
    return Response(body, status=status, mimetype="text/html")


def render_error(error: HTTPException) -> Response:
    """The console's page for an HTTP error (404 for an unknown page, 400 for a form sent
    without its CSRF token ...), in the page's language."""
    status = error.code or 500
    message = ""
    if isinstance(error, CSRFError):
        message = _("The form had expired or did not come from this page. Please try again.")
    return _error_page(status, message)


def render_hub_error(error: HubError) -> Response:
    """The console's page for a service's refusal (403 not allowed, 404 no such thing ...)."""
    return _error_page(error.status, error.detail)


def problems(messages: Mapping[str, Any]) -> FormErrors:
    """marshmallow's nested messages, flattened to dotted field names."""
    return flatten_messages(messages)
