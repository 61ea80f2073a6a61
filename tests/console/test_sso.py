"""Single sign-on: people sign in through the city's OpenID Connect provider (a small one the
tests serve on loopback, tests/console/oidc_provider.py), with the department and role its
ID token names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.test import TestResponse

from hub import create_app
from hub.audit.entries import AuditFilter, list_entries
from hub.auth import service as auth
from hub.core.errors import NotFound
from hub.core.extensions import db
from hub.events import notify
from hub.users import service as users
from hub.users.models import User
from tests.console.conftest import Browser
from tests.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, Person
from tests.factories import OPERATOR

LIN = Person("city-0001", "lin", "Lin Hua", department="land", hub_role="officer")


@pytest.fixture(autouse=True)
def english_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the console's English messages: make English the pages' language
    (as a person who chose it would see them), for every visitor a test makes."""
    monkeypatch.setattr("hub.console.locale.DEFAULT_LOCALE", "en")


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    """The city's provider, about to sign Lin in."""
    with OidcProvider() as running:
        running.person = LIN
        yield running


@pytest.fixture
def settings(settings: dict[str, Any], provider: OidcProvider) -> dict[str, Any]:
    """A hub that signs people in through ``provider``."""
    return {
        **settings,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }


def go_to_provider(visitor: Browser, start: str = "/console/sso") -> str:
    """Press "sign in with single sign-on": the hub sends the visitor to the provider; the
    provider's answer is where it sends the visitor back (a URL of the hub)."""
    started = visitor.get(start)
    assert started.status_code == 302, started.get_data(as_text=True)
    answer = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def come_back(visitor: Browser, location: str) -> TestResponse:
    """Follow the provider's redirect back to the hub (which the test client cannot do)."""
    back = urlsplit(location)
    return visitor.get(f"{back.path}?{back.query}")


def sign_on(visitor: Browser, start: str = "/console/sso") -> TestResponse:
    """The whole round trip through the provider; the hub's last answer."""
    return come_back(visitor, go_to_provider(visitor, start))


def user_named(app: Flask, username: str) -> User | None:
    with app.app_context(), db.unit_of_work(write=False) as session:
        try:
            return users.get_user(session, username)
        except NotFound:
            return None


def assert_refused(response: TestResponse, visitor: Browser, message: str) -> None:
    """The hub shows the sign-in page with ``message``, and nobody is signed in."""
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert message in page
    assert 'name="password"' in page, "the page still offers the password form"
    assert visitor.get("/console/").status_code == 302


def test_a_person_signs_in_through_the_provider_as_a_new_user(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    landed = sign_on(visitor)
    assert landed.status_code == 302
    assert landed.headers["Location"] == "/console/"
    home = visitor.get("/console/")
    assert home.status_code == 200
    assert "Lin Hua" in home.get_data(as_text=True)
    user = user_named(app, "lin")
    assert user is not None
    assert (user.department_id, user.role, user.display_name) == ("land", "officer", "Lin Hua")
    assert user.oidc_subject == "city-0001"
    assert user.password_hash is None


def test_the_hub_asks_the_provider_for_an_id_token_with_a_nonce_and_a_state(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    started = visitor.get("/console/sso")
    asked = parse_qs(urlsplit(started.headers["Location"]).query)
    assert started.headers["Location"].startswith(f"{provider.issuer}/authorize?")
    assert asked["client_id"] == [CLIENT_ID]
    assert asked["response_type"] == ["code"]
    assert "openid" in asked["scope"][0].split()
    assert asked["redirect_uri"] == ["http://localhost/console/sso/callback"]
    assert asked["state"][0]
    assert asked["nonce"][0]


def test_claims_the_id_token_leaves_out_are_asked_of_the_userinfo_endpoint(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.userinfo_only = {"department", "hub_role"}
    assert sign_on(visitor).headers["Location"] == "/console/"
    user = user_named(app, "lin")
    assert user is not None
    assert (user.department_id, user.role) == ("land", "officer")


def test_a_sign_on_is_audited_with_the_user_as_actor(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    sign_on(visitor)
    with app.app_context(), db.unit_of_work(write=False) as session:
        entries, _ = list_entries(session, AuditFilter(action=users.SIGN_IN), 10)
    assert [(entry.actor, entry.target, entry.outcome) for entry in entries] == [
        ("user:lin", "user/lin", 200)
    ]
    assert entries[0].department_id == "land"


def test_each_sign_on_gives_the_user_the_role_the_provider_says_now(
    app: Flask, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    sign_on(Browser(app.test_client()))
    provider.person = Person("city-0001", "lin", "Lin Hua", department="finance", hub_role="viewer")
    second = Browser(app.test_client())
    assert sign_on(second).status_code == 302
    user = user_named(app, "lin")
    assert user is not None
    assert (user.department_id, user.role) == ("finance", "viewer")
    with app.app_context(), db.unit_of_work(write=False) as session:
        assert [each.username for each in users.list_users(session)] == ["lin"]


def test_a_sign_on_goes_on_to_the_page_asked_for_but_never_off_the_console(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    landed = sign_on(visitor, "/console/sso?" + urlencode({"next": "/console/grants?box=in"}))
    assert landed.headers["Location"] == "/console/grants?box=in"
    elsewhere = Browser(visitor.client.application.test_client())
    for target in ("https://evil.example/", "//evil.example/console"):
        landed = sign_on(elsewhere, "/console/sso?" + urlencode({"next": target}))
        assert landed.headers["Location"] == "/console/"


def test_a_department_the_hub_does_not_know_signs_nobody_in(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.person = Person("city-0002", "wu", "Wu Fang", department="harbour", hub_role="viewer")
    assert_refused(sign_on(visitor), visitor, "names a department or role this hub lacks")
    assert user_named(app, "wu") is None


def test_a_role_the_hub_does_not_know_signs_nobody_in(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.person = Person("city-0002", "wu", "Wu Fang", department="land", hub_role="mayor")
    assert_refused(sign_on(visitor), visitor, "names a department or role this hub lacks")
    assert user_named(app, "wu") is None


@pytest.mark.parametrize("missing", ["hub_role", "department"])
def test_a_token_without_department_or_role_signs_nobody_in(
    app: Flask,
    visitor: Browser,
    provider: OidcProvider,
    departments: dict[str, list[str]],
    missing: str,
) -> None:
    claims = {"department": "land", "hub_role": "viewer", missing: None}
    provider.person = Person("city-0002", "wu", "Wu Fang", **claims)
    assert_refused(sign_on(visitor), visitor, "does not say your department and role")
    assert user_named(app, "wu") is None


def test_an_id_token_with_another_nonce_signs_nobody_in(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.nonce = "a-nonce-from-another-sign-on"
    assert_refused(sign_on(visitor), visitor, "did not confirm who you are")
    assert user_named(app, "lin") is None


def test_a_callback_with_another_state_signs_nobody_in(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    back = urlsplit(go_to_provider(visitor))
    query = {**parse_qs(back.query), "state": ["forged-state"]}
    forged = back._replace(query=urlencode(query, doseq=True)).geturl()
    assert_refused(come_back(visitor, forged), visitor, "did not confirm who you are")
    assert user_named(app, "lin") is None


def test_a_callback_in_another_browser_signs_nobody_in(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    location = go_to_provider(visitor)
    stranger = Browser(app.test_client())
    assert_refused(come_back(stranger, location), stranger, "did not confirm who you are")


def test_a_callback_used_twice_signs_in_once(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    location = go_to_provider(visitor)
    assert come_back(visitor, location).status_code == 302
    assert come_back(visitor, location).status_code == 403


def test_the_provider_refusing_signs_nobody_in(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.refuse = True
    assert_refused(sign_on(visitor), visitor, "did not confirm who you are")


def test_a_provider_that_does_not_know_the_hub_as_its_client_signs_nobody_in(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    provider.client_secret = "the secret the hub was not given"
    assert_refused(sign_on(visitor), visitor, "did not confirm who you are")


def test_a_provider_gone_away_during_sign_on_is_a_page_not_an_error(
    visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    location = go_to_provider(visitor)
    provider.close()
    response = come_back(visitor, location)
    assert response.status_code == 502
    assert "could not reach the sign-on provider" in response.get_data(as_text=True)
    assert visitor.get("/console/").status_code == 302


def test_a_disabled_user_is_refused(
    app: Flask, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    sign_on(Browser(app.test_client()))
    with app.app_context(), db.unit_of_work() as session:
        users.update_user(session, OPERATOR, "lin", disabled=True)
    visitor = Browser(app.test_client())
    assert_refused(sign_on(visitor), visitor, "Your account or your department is disabled")


def test_a_user_of_a_disabled_department_is_refused(
    app: Flask, visitor: Browser, provider: OidcProvider, departments: dict[str, list[str]]
) -> None:
    with app.app_context(), db.unit_of_work() as session:
        auth.update_department(session, OPERATOR, "land", disabled=True)
    assert_refused(sign_on(visitor), visitor, "Your account or your department is disabled")


def test_a_sign_on_identity_cannot_take_over_a_password_user(
    app: Flask,
    visitor: Browser,
    provider: OidcProvider,
    make_user: Any,
) -> None:
    make_user("lin", "finance", "admin")
    assert_refused(sign_on(visitor), visitor, "already")
    user = user_named(app, "lin")
    assert user is not None
    assert (user.department_id, user.role, user.oidc_subject) == ("finance", "admin", None)


def test_the_sign_in_page_offers_single_sign_on_only_when_it_is_set_up(
    app: Flask, visitor: Browser, settings: dict[str, Any]
) -> None:
    page = visitor.get("/console/sign-in?next=/console/grants").get_data(as_text=True)
    assert 'href="/console/sso?next=/console/grants"' in page
    without = create_app({**settings, "OIDC_ISSUER": ""})
    try:
        plain = without.test_client()
        assert "/console/sso" not in plain.get("/console/sign-in").get_data(as_text=True)
        response = plain.get("/console/sso")
        assert response.status_code == 404
        assert "Single sign-on is not set up" in response.get_data(as_text=True)
    finally:
        notify.notifier(without).close()
        db.dispose(without)
