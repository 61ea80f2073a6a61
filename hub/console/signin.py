"""Who is signed in to the console, and the identity they act with.

The session holds only the user's id and when they were last seen. Each request reads the user
afresh: a disabled user, or one whose department was disabled, is signed out at once, and a
changed role applies at once. A session idle for CONSOLE_IDLE_MINUTES is ended (the cookie's
signed age says so too, see ``hub.console.cookies``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from flask import current_app, flash, g, request, session
from flask_babel import gettext as _

from hub.auth.identity import Identity
from hub.core.extensions import db
from hub.users import service as users
from hub.users.models import User


def load_user() -> None:
    """Find the signed-in user of this request (``g.identity`` for the services)."""
    g.console_user = None
    user_id = session.get("uid")
    if user_id is None:
        return
    idle = current_app.config["CONSOLE_IDLE_MINUTES"] * 60
    seen = session.get("seen", 0)
    if time.time() - seen > idle:
        sign_out()
        flash(_("Your session ended after a time without activity. Please sign in again."))
        return
    user = db.session.get(User, user_id)
    identity = users.identity_of(db.session, user) if user is not None else None
    if (
        user is None
        or identity is None
        or not users.session_is_current(user, session.get("since", 0.0))
    ):
        sign_out()
        return
    session["seen"] = time.time()
    g.console_user = user
    g.identity = replace(
        identity, actor=identity.actor.over(request.method, request.path, request.remote_addr)
    )


def current_user() -> User | None:
    """The signed-in user, or None."""
    user: User | None = g.get("console_user")
    return user


def console_identity() -> Identity:
    """The identity the signed-in user acts with (after :func:`load_user`)."""
    identity: Identity = g.identity
    return identity


def start_session(user: User) -> None:
    """Begin a fresh session for ``user`` (nothing of the one before survives but the
    language)."""
    locale = session.get("locale")
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    # sub-second, so that a sign-in right after a sign-out is not taken for an ended session
    session["since"] = session["seen"] = time.time()
    if locale:
        session["locale"] = locale


def sign_out() -> None:
    """End the session (keeping the chosen language)."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def describe(user: User) -> dict[str, Any]:
    """What the page frame shows of the signed-in user."""
    return {"name": user.display_name, "department": user.department_id, "role": user.role}
