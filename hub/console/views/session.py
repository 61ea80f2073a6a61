"""Signing in and out, setting a password from an invitation, and choosing the language."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from hub.audit.entries import Actor, Entry, record_apart
from hub.console import signin, sso
from hub.console.blueprint import blp
from hub.console.locale import LOCALES
from hub.console.pages import render_page, safe_next
from hub.core import ratelimit
from hub.core.errors import TooManyRequests, Unauthorized, Unprocessable
from hub.core.extensions import db
from hub.users import service as users

Page = tuple[str, int] | Response


def _sign_in_page(status: int = 200, **context: Any) -> tuple[str, int]:
    return render_page(
        "console/sign_in.html",
        status,
        oidc_enabled=sso.enabled(),
        next=request.values.get("next"),
        **context,
    )


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Page:
    """Sign in with a username and password."""
    if request.method == "GET":
        if signin.current_user() is not None:
            return redirect(safe_next(request.args.get("next")))
        return _sign_in_page()
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    values = {"username": username}
    missing = {}
    if not username:
        missing["username"] = [_("Enter your username.")]
    if not password:
        missing["password"] = [_("Enter your password.")]
    if missing:
        return _sign_in_page(422, values=values, errors=missing)
    try:
        ratelimit.limiter.check_sign_in(username, request.remote_addr or "unknown")
    except TooManyRequests as refusal:
        message = _("Too many sign-in attempts. Wait a few minutes and try again.")
        page = _sign_in_page(429, values=values, errors={"_form": [message]})
        return Response(page[0], 429, headers=refusal.headers, mimetype="text/html")
    try:
        user = users.authenticate(db.session, username, password, current_app.config)
    except Unauthorized:
        _record_refused(username)
        message = _("Wrong username or password.")
        return _sign_in_page(401, values=values, errors={"_form": [message]})
    users.signed_in(db.session, user, request.remote_addr)
    signin.start_session(user)
    return redirect(safe_next(request.form.get("next")))


def _record_refused(username: str) -> None:
    # the request's own transaction holds SQLite's write lock, and has nothing to keep
    db.rollback()
    actor = Actor(f"user:{username[:64]}", remote_addr=request.remote_addr)
    entry = Entry(actor, users.SIGN_IN, f"user/{username[:64]}", {"path": request.path})
    record_apart(entry, 401)


@blp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the session, and every copy of its cookie.

    A session lives in its signed cookie alone, and a copy cannot be told from the original:
    signing out ends the person's sessions in every browser.
    """
    user = signin.current_user()
    if user is not None:
        users.end_sessions(db.session, user)
    signin.sign_out()
    flash(_("You have signed out."), "success")
    return redirect(url_for("console.sign_in"))


def _set_password_page(username: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_page(
        "console/set_password.html",
        status,
        username=username,
        min_length=users.MIN_PASSWORD_LENGTH,
        **context,
    )


@blp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Page:
    """Set a password with the one-time link an administrator handed out."""
    user = users.invited_user(db.session, token)
    if request.method == "GET":
        return _set_password_page(user.username)
    password = request.form.get("password", "")
    if not password:
        return _set_password_page(
            user.username, 422, errors={"password": [_("Enter a new password.")]}
        )
    if password != request.form.get("confirm", ""):
        errors = {"confirm": [_("The two passwords differ.")]}
        return _set_password_page(user.username, 422, errors=errors)
    try:
        users.accept_invitation(
            db.session, token, password, current_app.config, request.remote_addr or ""
        )
    except Unprocessable:
        message = _(
            "Use %(low)s to %(high)s characters.",
            low=users.MIN_PASSWORD_LENGTH,
            high=users.MAX_PASSWORD_LENGTH,
        )
        return _set_password_page(user.username, 422, errors={"password": [message]})
    # the link was the person's proof: they are signed in with the password they chose
    users.signed_in(db.session, user, request.remote_addr)
    signin.start_session(user)
    flash(_("Your password is set, and you are signed in."), "success")
    return redirect(url_for("console.home"))


@blp.route("/language", methods=["POST"])
def set_language() -> Response:
    """Switch the console's language (Simplified Chinese or English)."""
    locale = request.form.get("locale")
    if locale in LOCALES:
        session["locale"] = locale
    return redirect(safe_next(request.form.get("next")))
