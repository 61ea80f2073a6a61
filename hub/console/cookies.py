"""The console's session: Flask's signed cookie, only under the console's path.

The API keeps no sessions (every call carries its token), so requests elsewhere get none. The
cookie is ``HttpOnly`` and ``SameSite=Lax``, and ``Secure`` unless CONSOLE_SECURE_COOKIES says
otherwise ("auto": secure unless the hub is reached over plain HTTP on loopback, where a
developer runs it, with a PUBLIC_URL that is not HTTPS). Its signature carries its time: a
cookie older than CONSOLE_IDLE_MINUTES is refused on arrival, and each request renews it, so
an idle session expires.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConsoleSessions(SecureCookieSessionInterface):
    """Signed cookie sessions for requests under ``prefix``; none elsewhere."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The console's session; None (Flask's null session) outside the console."""
        if not request.path.startswith(self.prefix):
            return None
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Write the cookie of a console request."""
        if request.path.startswith(self.prefix):
            super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Whether the cookie is sent over HTTPS only (see CONSOLE_SECURE_COOKIES)."""
        mode = app.config["CONSOLE_SECURE_COOKIES"]
        if mode == "auto":
            return not plain_http_on_loopback(app)
        return bool(mode == "on")


def plain_http_on_loopback(app: Flask) -> bool:
    """Whether this request reaches a developer's hub over plain HTTP on loopback: the hub is
    asked under a loopback name, not over HTTPS, and its PUBLIC_URL is not HTTPS either (a
    proxy in front of a public hub may well reach it on 127.0.0.1)."""
    return (
        urlsplit(f"//{request.host}").hostname in LOOPBACK_HOSTS
        and not request.is_secure
        and urlsplit(app.config["PUBLIC_URL"]).scheme != "https"
    )
