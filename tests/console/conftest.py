"""Console fixtures: people of each role, and a visitor-like client signed in as one of them.

Passwords are hashed at the cheapest argon2 cost here, so that signing in stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from hub.core.extensions import db
from hub.users import service as users
from tests.factories import OPERATOR

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Cheap password hashes."""
    return {**settings, "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024}


@pytest.fixture
def make_user(app: Flask, departments: dict[str, list[str]]) -> Callable[..., str]:
    """Create a console user (the standard departments exist): ``make_user("lin", "land",
    "officer")``; returns the username. Its password is ``PASSWORD``."""

    def make(username: str, department: str, role: str, **options: Any) -> str:
        with app.app_context(), db.unit_of_work() as session:
            users.add_user(
                session,
                OPERATOR,
                username,
                department,
                role,
                app.config,
                password=options.pop("password", PASSWORD),
                **options,
            )
        return username

    return make


def csrf_token(page: TestResponse) -> str:
    """The CSRF token a console page's forms carry."""
    match = CSRF_FIELD.search(page.get_data(as_text=True))
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


class Browser:
    """A test client that behaves as a person's visitor: it keeps the session cookie, and
    posts forms with the CSRF token of the page it last read."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """Open a page (remembering its form token, if it has one)."""
        response = self.client.get(path, **kwargs)
        match = CSRF_FIELD.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """Submit a form, with the token of the last page read (unless ``data`` has one)."""
        if self.token is None:
            self.get("/console/sign-in")
        form = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD) -> TestResponse:
        """Sign in through the sign-in form."""
        self.get("/console/sign-in")
        response = self.post("/console/sign-in", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response


@pytest.fixture
def visitor(app: Flask) -> Browser:
    """A signed-out visitor."""
    return Browser(app.test_client())


@pytest.fixture
def signed_in(app: Flask, make_user: Callable[..., str]) -> Callable[..., Browser]:
    """A visitor signed in as a new user: ``signed_in("land", "officer")``."""

    def sign_in(department: str, role: str, username: str | None = None) -> Browser:
        name = username or f"{role}-{department}"
        make_user(name, department, role)
        visitor = Browser(app.test_client())
        visitor.sign_in(name)
        return visitor

    return sign_in
