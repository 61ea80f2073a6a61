"""The console: people in the browser, at ``/console/``.

Every page acts through the same services as the API, with an identity built from the signed-in
user (``hub.users.service.identity_of``): the same scopes, the same sharing, the same audit
entries, with the user as actor. The console adds what people need and programs do not: a
signed session cookie (only under ``/console``), CSRF tokens on every form, sign-in with a
password or the city's single sign-on, pages in Simplified Chinese (English on request), and a
strict Content-Security-Policy: every script, style and chart library is the hub's own file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask, Response, request

from hub.console.blueprint import blp, csrf
from hub.console.cookies import ConsoleSessions
from hub.console.locale import babel, select_locale
from hub.console.pages import render_error
from hub.core.extensions import api

PREFIX = "/console"
# how long past the idle limit a session cookie is still read (to say the session ended)
COOKIE_MARGIN_HOURS = 12
TRANSLATIONS = Path(__file__).parent / "translations"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _secure_headers(response: Response) -> Response:
    if request.path.startswith(PREFIX):
        response.headers.update(SECURITY_HEADERS)
        if request.endpoint != "console.static":
            # pages show what a person may see: no shared cache keeps them
            response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Serve the console: its cookie sessions, CSRF, languages, pages and error pages."""
    app.session_interface = ConsoleSessions(PREFIX)
    app.config.update(
        SESSION_COOKIE_NAME="hub_console",
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The idle limit is enforced by hub.console.signin, which can say why a session ended;
        # the cookie's signed age only bounds how long a forgotten cookie is read at all.
        PERMANENT_SESSION_LIFETIME=timedelta(
            minutes=app.config["CONSOLE_IDLE_MINUTES"], hours=COOKIE_MARGIN_HOURS
        ),
        # forms are protected where the console asks (hub.console.blueprint), not the API
        WTF_CSRF_CHECK_DEFAULT=False,
        # a token lives as long as the session it is tied to
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE=app.config["TIMEZONE"],
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    from hub.console import sso, views

    views.register()
    sso.init_app(app)
    app.register_blueprint(blp)
    api.render_errors_under(PREFIX, render_error)
    app.after_request(_secure_headers)
