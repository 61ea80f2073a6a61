"""The console's blueprint: every page asks for a signed-in person (except signing in), and
every form post for its CSRF token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect

from hub.console import signin
from hub.console.locale import format_day, format_moment, html_lang
from hub.console.navigation import nav_items
from hub.console.pages import render_hub_error
from hub.core.db import SAFE_METHODS
from hub.core.errors import HubError

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
csrf = CSRFProtect()
# a service's refusal (403, 404, 409 ...) of a console action is a page, not problem+json
blp.register_error_handler(HubError, render_hub_error)
# dates as people read them: {{ grant.respond_by|day }}, {{ run.finished_at|moment }}
blp.add_app_template_filter(format_day, "day")
blp.add_app_template_filter(format_moment, "moment")
# pages anyone may open: signing in, and what signing in needs
PUBLIC_ENDPOINTS = frozenset(
    {
        "console.sign_in",
        "console.set_password",
        "console.set_language",
        "console.oidc_sign_in",
        "console.oidc_callback",
        "console.static",
    }
)


# forms whose expired token sends the person back to a fresh sign-in form
FRESH_START_ENDPOINTS = frozenset({"console.sign_in", "console.set_language"})


@blp.before_request
def _signed_in_and_protected() -> Response | None:
    """Check the form's CSRF token, then who is signed in; send strangers to sign in."""
    if request.endpoint == "console.static":
        return None
    if request.method not in SAFE_METHODS:
        try:
            csrf.protect()
        except CSRFError:
            if request.endpoint not in FRESH_START_ENDPOINTS:
                raise
            # a sign-in or language form left open for longer than its session lived: start
            # again with a fresh form, rather than a dead end
            flash(_("The page had been open too long. Please try again."), "warning")
            return redirect(url_for("console.sign_in"))  # type: ignore[return-value]
    signin.load_user()
    if signin.current_user() is None and request.endpoint not in PUBLIC_ENDPOINTS:
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.sign_in", next=wanted))  # type: ignore[return-value]
    return None


@blp.context_processor
def _page_context() -> dict[str, Any]:
    user = signin.current_user()
    return {
        "lang": html_lang(),
        "current_user": signin.describe(user) if user is not None else None,
        "nav_items": nav_items() if user is not None else [],
    }
