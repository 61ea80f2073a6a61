"""Signing in to the console, and what a signed-out person may open."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.console.conftest import Browser


def test_a_page_sends_a_signed_out_person_to_sign_in(visitor: Browser) -> None:
    response = visitor.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in?next=/console/"


def test_a_user_signs_in_and_sees_their_name(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer", display_name="Lin Hua")
    response = visitor.sign_in("lin")
    assert response.headers["Location"] == "/console/"
    home = visitor.get("/console/")
    assert home.status_code == 200
    assert "Lin Hua" in home.get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_user_are_refused_alike(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    visitor.get("/console/sign-in")
    wrong = visitor.post("/console/sign-in", {"username": "lin", "password": "not it at all"})
    unknown = visitor.post("/console/sign-in", {"username": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True) == unknown.get_data(as_text=True).replace(
        'value="nobody"', 'value="lin"'
    )


def test_a_disabled_user_is_signed_out_at_the_next_request(
    app: Flask, signed_in: Callable[..., Browser]
) -> None:
    from hub.core.extensions import db
    from hub.users import service as users
    from tests.factories import OPERATOR

    visitor = signed_in("land", "officer", "lin")
    assert visitor.get("/console/").status_code == 200
    with app.app_context(), db.unit_of_work() as session:
        users.update_user(session, OPERATOR, "lin", disabled=True)
    assert visitor.get("/console/").status_code == 302
