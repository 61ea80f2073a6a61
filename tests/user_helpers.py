"""What the console-user tests ask of the users service directly, beside the API and CLI."""

from __future__ import annotations

from flask import Flask

from hub.core.errors import Unauthorized
from hub.core.extensions import db
from hub.users import service as users
from hub.users.models import User


def stored(app: Flask, username: str) -> User:
    """The user as the database holds it."""
    with app.app_context(), db.unit_of_work(write=False) as session:
        return users.get_user(session, username)


def signs_in(app: Flask, username: str, password: str) -> bool:
    """Whether ``password`` signs ``username`` in (the service's own check)."""
    with app.app_context(), db.unit_of_work() as session:
        try:
            users.authenticate(session, username, password, app.config)
        except Unauthorized:
            return False
        return True
