"""The console's defences: security headers on every response, the session cookie's flags,
CSRF tokens, sign-in rate limits, idle sessions, signing out, redirects that stay on the
console, the language switch, and invitations that work once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from hub.console import COOKIE_MARGIN_HOURS
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.users import service as users
from tests.console.conftest import PASSWORD, Browser
from tests.factories import OPERATOR

IDLE_MINUTES = 30
NEW_PASSWORD = "a brand new passphrase"
HTTPS_HUB = "https://hub.example.gov.cn"


@pytest.fixture
def settings(settings: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The console's settings, with a test's own (``parametrize("settings", [...],
    indirect=True)``)."""
    return {**settings, **getattr(request, "param", {})}


def with_settings(**overrides: Any) -> pytest.MarkDecorator:
    """Run a test on a hub with these settings."""
    label = ",".join(f"{name}={value}" for name, value in overrides.items())
    return pytest.mark.parametrize("settings", [overrides], indirect=True, ids=[label])


def cookies_set(response: TestResponse) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def console_cookie(response: TestResponse) -> dict[str, str]:
    """The attributes of the session cookie a response sets (lower-case names)."""
    (cookie,) = [value for value in cookies_set(response) if value.startswith("hub_console=")]
    attributes: dict[str, str] = {}
    for part in cookie.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def assert_secured(response: TestResponse) -> None:
    """The console's security headers."""
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }
    assert directives.get("script-src") == ["'self'"], policy
    assert directives.get("frame-ancestors") == ["'none'"], policy
    assert directives.get("default-src") == ["'none'"], policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert response.headers.get("Referrer-Policy") == "same-origin"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"


def assert_signed_out(visitor: Browser) -> None:
    response = visitor.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")


@pytest.fixture
def invite(app: Flask, departments: dict[str, list[str]]) -> Callable[[str], str]:
    """Create a user without a password: ``invite("wu")``; the path of their set-password
    link."""

    def make(username: str) -> str:
        with app.app_context(), db.unit_of_work() as session:
            _, token = users.add_user(session, OPERATOR, username, "land", "officer", app.config)
        assert token is not None
        return f"{users.SET_PASSWORD_PATH}/{token}"

    return make


# --- security headers ---------------------------------------------------------------------


REQUESTS: dict[str, tuple[str, str, int]] = {
    # what a person may ask for: (method, path, the status it gets)
    "sign-in page, signed in already": ("GET", "/console/sign-in", 302),
    "home page": ("GET", "/console/", 200),
    "slash redirect": ("GET", "/console", 308),
    "page of another role": ("GET", "/console/departments", 403),
    "unknown page": ("GET", "/console/no-such-page", 404),
    "static file": ("GET", "/console/static/console.css", 200),
    "unknown static file": ("GET", "/console/static/no-such-file.css", 404),
    "form without token": ("POST", "/console/sign-out", 400),
    "method not allowed": ("DELETE", "/console/sign-in", 405),
    "unknown invitation": ("GET", "/console/set-password/not-a-token", 404),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_every_console_response_carries_the_security_headers(
    signed_in: Callable[..., Browser], name: str
) -> None:
    method, path, status = REQUESTS[name]
    visitor = signed_in("land", "viewer")
    response = visitor.client.open(path, method=method)
    assert response.status_code == status
    assert_secured(response)


def test_a_signed_out_person_gets_the_headers_with_every_redirect(visitor: Browser) -> None:
    for path in ("/console/sign-in", "/console/", "/console/departments", "/console/nothing"):
        response = visitor.get(path)
        assert response.status_code in (200, 302, 404)
        assert_secured(response)


def test_the_sign_in_refusals_and_throttling_carry_the_headers(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    visitor.get("/console/sign-in")
    assert_secured(visitor.post("/console/sign-in", {"username": "lin", "password": ""}))
    assert_secured(visitor.post("/console/sign-in", {"username": "lin", "password": "wrong!"}))


def test_pages_carry_no_inline_script_or_style(signed_in: Callable[..., Browser]) -> None:
    visitor = signed_in("land", "viewer")
    for path in ("/console/", "/console/sign-out", "/console/no-such-page"):
        page = visitor.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", page), path


def test_console_pages_are_not_cached_but_static_files_may_be(
    signed_in: Callable[..., Browser],
) -> None:
    visitor = signed_in("land", "viewer")
    assert visitor.get("/console/").headers["Cache-Control"] == "no-store"
    assert "no-store" not in visitor.get("/console/static/console.css").headers.get(
        "Cache-Control", ""
    )


# --- the session cookie -------------------------------------------------------------------


def test_the_session_cookie_is_http_only_same_site_and_kept_to_the_console(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    flags = console_cookie(visitor.get("/console/sign-in"))
    assert "httponly" in flags
    assert flags["samesite"] == "Lax"
    assert flags["path"] == "/console"
    assert "secure" not in flags, "plain HTTP on loopback: a developer's own machine"
    signed = console_cookie(visitor.sign_in("lin"))
    assert "httponly" in signed
    assert signed["samesite"] == "Lax"
    assert signed["path"] == "/console"


def test_the_session_cookie_outlives_the_idle_limit_by_a_margin_only(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    # the server ends an idle session (and can say so); the cookie's own age only bounds
    # how long a forgotten cookie is read at all
    make_user("lin", "land", "officer")
    expires = parsedate_to_datetime(console_cookie(visitor.sign_in("lin"))["expires"])
    lifetime = timedelta(minutes=IDLE_MINUTES, hours=COOKIE_MARGIN_HOURS)
    assert abs(expires - (utcnow() + lifetime)) < timedelta(minutes=1)


@pytest.mark.parametrize("host", ["https://hub.example.gov.cn", "http://hub.example.gov.cn"])
def test_the_cookie_is_secure_when_the_hub_is_reached_by_its_name(
    visitor: Browser, make_user: Callable[..., str], host: str
) -> None:
    make_user("lin", "land", "officer")
    page = visitor.get("/console/sign-in", base_url=host)
    assert "secure" in console_cookie(page)
    signed = visitor.post(
        "/console/sign-in",
        {"username": "lin", "password": PASSWORD},
        base_url=host,
        headers={"Referer": f"{host}/console/sign-in"},
    )
    assert signed.status_code == 302
    assert "secure" in console_cookie(signed)


@pytest.mark.parametrize("host", ["http://localhost", "http://127.0.0.1:8000", "http://[::1]"])
def test_the_cookie_is_not_secure_on_loopback(visitor: Browser, host: str) -> None:
    assert "secure" not in console_cookie(visitor.get("/console/sign-in", base_url=host))


@with_settings(PUBLIC_URL=HTTPS_HUB)
def test_the_cookie_is_secure_on_loopback_when_the_hub_is_public_over_https(
    visitor: Browser,
) -> None:
    """A proxy in front may reach the hub on loopback: the public URL says it serves HTTPS."""
    assert "secure" in console_cookie(visitor.get("/console/sign-in", base_url="http://127.0.0.1"))


@with_settings(CONSOLE_SECURE_COOKIES="on")
def test_secure_cookies_on_means_always(visitor: Browser) -> None:
    assert "secure" in console_cookie(visitor.get("/console/sign-in", base_url="http://127.0.0.1"))
    assert "secure" in console_cookie(visitor.get("/console/sign-in", base_url=HTTPS_HUB))


@with_settings(CONSOLE_SECURE_COOKIES="off")
def test_secure_cookies_off_means_never(visitor: Browser) -> None:
    assert "secure" not in console_cookie(visitor.get("/console/sign-in", base_url=HTTPS_HUB))


def test_the_api_sets_no_cookie_and_takes_none(
    client: FlaskClient, headers: Callable[..., dict[str, str]], signed_in: Callable[..., Browser]
) -> None:
    answered = client.get("/api/v1/types", headers=headers("land"))
    assert answered.status_code == 200
    assert cookies_set(answered) == []
    visitor = signed_in("land", "admin")
    cookie = visitor.client.get_cookie("hub_console", path="/console")
    assert cookie is not None
    with_cookie = visitor.client.get(
        "/api/v1/types", headers={"Cookie": f"hub_console={cookie.value}"}
    )
    assert with_cookie.status_code == 401, "a console session is no credential for the API"
    assert cookies_set(with_cookie) == []


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_form_without_its_token_is_refused_and_changes_nothing(
    signed_in: Callable[..., Browser], token: str | None
) -> None:
    visitor = signed_in("land", "officer")
    form = {} if token is None else {"csrf_token": token}
    refused = visitor.client.post("/console/sign-out", data=form)
    assert refused.status_code == 400
    assert "did not come from this page" in refused.get_data(as_text=True) or (
        "来自" in refused.get_data(as_text=True)
    )
    # a language switch without its token starts again at a fresh form, switching nothing
    restarted = visitor.client.post("/console/language", data={**form, "locale": "en"})
    assert restarted.status_code == 302
    assert restarted.headers["Location"] == "/console/sign-in"
    home = visitor.get("/console/")
    assert home.status_code == 200, "still signed in"
    assert '<html lang="zh-CN">' in home.get_data(as_text=True), "still in Chinese"


def test_a_token_from_another_session_is_refused(
    signed_in: Callable[..., Browser], app: Flask, make_user: Callable[..., str]
) -> None:
    victim = signed_in("land", "officer", "lin")
    attacker = Browser(app.test_client())
    attacker.get("/console/sign-in")
    forged = victim.client.post("/console/sign-out", data={"csrf_token": attacker.token})
    assert forged.status_code == 400
    assert victim.get("/console/").status_code == 200


def test_over_https_a_form_sent_from_another_site_is_refused(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    visitor.get("/console/sign-in", base_url=HTTPS_HUB)
    form = {"username": "lin", "password": PASSWORD}
    for referer in ("https://evil.example/console/sign-in", None):
        headers = {"Referer": referer} if referer else {}
        refused = visitor.post("/console/sign-in", form, base_url=HTTPS_HUB, headers=headers)
        # back to a fresh sign-in form, nobody signed in
        assert refused.status_code == 302
        assert refused.headers["Location"] == "/console/sign-in"
    signed = visitor.post(
        "/console/sign-in", form, base_url=HTTPS_HUB, headers={"Referer": f"{HTTPS_HUB}/console/"}
    )
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/console/"


def test_a_sign_in_without_its_token_signs_nobody_in(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    refused = visitor.client.post(
        "/console/sign-in", data={"username": "lin", "password": PASSWORD}
    )
    assert refused.status_code == 302
    assert refused.headers["Location"] == "/console/sign-in"  # a fresh form, not signed in
    assert_signed_out(visitor)


def test_a_set_password_without_its_token_sets_nothing(
    invite: Callable[[str], str], visitor: Browser
) -> None:
    link = invite("wu")
    refused = visitor.client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 400
    assert visitor.get(link).status_code == 200, "the invitation is still unused"


# --- sign-in attempts ---------------------------------------------------------------------


def attempt(visitor: Browser, username: str, password: str, address: str) -> TestResponse:
    visitor.get("/console/sign-in")
    return visitor.post(
        "/console/sign-in",
        {"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@with_settings(SIGN_IN_RATE_LIMIT="3/minute")
def test_guessing_one_users_password_hits_the_limit_even_from_many_addresses(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    for guess in range(3):
        assert attempt(visitor, "lin", f"guess {guess}", f"10.0.0.{guess}").status_code == 401
    blocked = attempt(visitor, "lin", PASSWORD, "10.0.0.9")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True) or (
        "尝试" in blocked.get_data(as_text=True)
    )
    assert_secured(blocked)
    assert_signed_out(visitor)
    make_user("wu", "land", "officer")
    assert attempt(visitor, "wu", PASSWORD, "10.0.0.9").status_code == 302, "others sign in"


@with_settings(SIGN_IN_ADDRESS_RATE_LIMIT="3/minute")
def test_guessing_from_one_address_hits_the_limit_whatever_the_user(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    for name in ("ann", "bo", "cy"):
        assert attempt(visitor, name, "a guess", "10.0.0.1").status_code == 401
    assert attempt(visitor, "lin", PASSWORD, "10.0.0.1").status_code == 429
    assert_signed_out(visitor)
    assert attempt(visitor, "lin", PASSWORD, "10.0.0.2").status_code == 302


# --- idle sessions and signing out --------------------------------------------------------


def later(monkeypatch: pytest.MonkeyPatch, minutes: float) -> None:
    """Let the console believe ``minutes`` have passed (its idle clock only)."""
    moment = time.time() + minutes * 60
    monkeypatch.setattr("hub.console.signin.time", SimpleNamespace(time=lambda: moment))


def test_an_idle_session_is_sent_to_sign_in(
    signed_in: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    visitor = signed_in("land", "officer")
    later(monkeypatch, IDLE_MINUTES + 1)
    response = visitor.get("/console/grants")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in?next=/console/grants"
    page = visitor.get(response.headers["Location"]).get_data(as_text=True)
    assert "会话" in page or "session ended" in page
    monkeypatch.undo()
    assert_signed_out(visitor)


def test_activity_keeps_a_session_alive(
    signed_in: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    visitor = signed_in("land", "officer")
    later(monkeypatch, IDLE_MINUTES - 5)
    assert visitor.get("/console/").status_code == 200
    later(monkeypatch, IDLE_MINUTES - 5)
    assert visitor.get("/console/").status_code == 200


def test_a_cookie_signed_longer_ago_than_its_lifetime_is_refused(
    signed_in: Callable[..., Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask checks the cookie's signed age too, whatever the session says inside."""
    visitor = signed_in("land", "officer")
    moment = time.time() + (IDLE_MINUTES + 1) * 60 + COOKIE_MARGIN_HOURS * 3600
    monkeypatch.setattr("itsdangerous.timed.time", SimpleNamespace(time=lambda: moment))
    assert_signed_out(visitor)


def test_after_signing_out_the_browser_is_signed_out(signed_in: Callable[..., Browser]) -> None:
    visitor = signed_in("land", "officer")
    assert visitor.get("/console/").status_code == 200
    signed_out = visitor.post("/console/sign-out")
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"] == "/console/sign-in"
    assert any(value.startswith("hub_console=") for value in cookies_set(signed_out))
    assert_signed_out(visitor)


def test_signing_out_only_answers_a_post(signed_in: Callable[..., Browser]) -> None:
    visitor = signed_in("land", "officer")
    assert visitor.client.get("/console/sign-out").status_code == 405
    assert visitor.get("/console/").status_code == 200


def test_a_new_sign_in_starts_a_new_session(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    """A token planted before signing in (session fixation) is worthless after it."""
    make_user("lin", "land", "officer")
    visitor.get("/console/sign-in")
    planted = visitor.token
    visitor.sign_in("lin")
    refused = visitor.client.post("/console/sign-out", data={"csrf_token": planted})
    assert refused.status_code == 400


# --- where redirects go -------------------------------------------------------------------


ELSEWHERE = [
    "https://evil.example/",
    "//evil.example/console/",
    "/\\evil.example",
    "javascript:alert(1)",
    "/console/\r\nSet-Cookie: planted=1",
    "/console/\u2028",
]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_in_never_leaves_the_console(
    visitor: Browser, make_user: Callable[..., str], target: str
) -> None:
    make_user("lin", "land", "officer")
    visitor.get("/console/sign-in")
    response = visitor.post(
        "/console/sign-in", {"username": "lin", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    assert (
        visitor.get("/console/sign-in?" + urlencode({"next": target})).headers["Location"]
        == "/console/"
    )


@pytest.mark.parametrize("target", ELSEWHERE)
def test_switching_language_never_leaves_the_console(visitor: Browser, target: str) -> None:
    visitor.get("/console/sign-in")
    response = visitor.post("/console/language", {"locale": "en", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_signing_in_goes_on_to_the_page_asked_for(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer")
    asked = visitor.get("/console/grants?box=out")
    assert asked.headers["Location"] == "/console/sign-in?next=/console/grants?box%3Dout"
    page = visitor.get(asked.headers["Location"])
    assert 'name="next" value="/console/grants?box=out"' in page.get_data(as_text=True)
    signed = visitor.post(
        "/console/sign-in",
        {"username": "lin", "password": PASSWORD, "next": "/console/grants?box=out"},
    )
    assert signed.headers["Location"] == "/console/grants?box=out"


# --- language -----------------------------------------------------------------------------


def test_the_language_switch_changes_the_page_and_back(
    visitor: Browser, make_user: Callable[..., str]
) -> None:
    chinese = visitor.get("/console/sign-in").get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese
    assert "登录" in chinese
    switched = visitor.post("/console/language", {"locale": "en", "next": "/console/sign-in"})
    assert switched.headers["Location"] == "/console/sign-in"
    english = visitor.get("/console/sign-in").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert ">Sign in<" in english
    assert "登录" not in english
    make_user("lin", "land", "officer")
    visitor.sign_in("lin")
    assert '<html lang="en">' in visitor.get("/console/").get_data(as_text=True), "kept"
    visitor.post("/console/language", {"locale": "zh_Hans_CN"})
    assert '<html lang="zh-CN">' in visitor.get("/console/").get_data(as_text=True)


def test_an_unknown_language_changes_nothing(visitor: Browser) -> None:
    visitor.get("/console/sign-in")
    visitor.post("/console/language", {"locale": "xx"})
    assert '<html lang="zh-CN">' in visitor.get("/console/sign-in").get_data(as_text=True)


def test_error_pages_speak_the_chosen_language(visitor: Browser) -> None:
    visitor.get("/console/sign-in")
    visitor.post("/console/language", {"locale": "en"})
    missing = visitor.get("/console/no-such-page").get_data(as_text=True)
    assert '<html lang="en">' in missing
    assert "Page not found" in missing


# --- invitations --------------------------------------------------------------------------


def test_an_invitation_sets_a_password_once(invite: Callable[[str], str], visitor: Browser) -> None:
    link = invite("wu")
    page = visitor.get(link)
    assert page.status_code == 200
    assert "wu" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    done = visitor.post(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/"  # signed in by the link
    assert visitor.get("/console/").status_code == 200
    assert visitor.post("/console/sign-out").status_code == 302
    visitor.sign_in("wu", NEW_PASSWORD)
    used = visitor.get(link)
    assert used.status_code == 404
    assert_secured(used)
    assert (
        visitor.post(link, {"password": "another one!", "confirm": "another one!"}).status_code
        == 404
    )


def test_an_expired_invitation_is_a_404_page(
    invite: Callable[[str], str], visitor: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = invite("wu")
    monkeypatch.setattr(users, "utcnow", lambda: utcnow() + users.INVITE_TTL + timedelta(minutes=1))
    expired = visitor.get(link)
    assert expired.status_code == 404
    assert "<h1>" in expired.get_data(as_text=True)


def test_mismatching_passwords_keep_the_page_with_the_error(
    invite: Callable[[str], str], visitor: Browser
) -> None:
    link = invite("wu")
    visitor.get(link)
    response = visitor.post(link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="field-confirm"' in page
    assert 'aria-invalid="true"' in page
    assert 'class="error-summary"' in page
    assert NEW_PASSWORD not in page, "passwords are never written back into the page"
    assert visitor.get(link).status_code == 200, "the invitation is still unused"


def test_a_short_password_keeps_the_page_with_the_error(
    invite: Callable[[str], str], visitor: Browser
) -> None:
    link = invite("wu")
    visitor.get(link)
    response = visitor.post(link, {"password": "short", "confirm": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="field-password"[^>]*aria-invalid="true"', page)
    assert visitor.get(link).status_code == 200


def test_an_invitation_of_a_disabled_user_is_a_404_page(
    app: Flask, invite: Callable[[str], str], visitor: Browser
) -> None:
    link = invite("wu")
    with app.app_context(), db.unit_of_work() as session:
        users.update_user(session, OPERATOR, "wu", disabled=True)
    assert visitor.get(link).status_code == 404


def test_signing_out_ends_every_copy_of_the_session_cookie(
    app: Flask, signed_in: Callable[..., Browser]
) -> None:
    person = signed_in("land", "officer", "lin")
    assert person.get("/console/").status_code == 200
    copied = app.test_client()
    cookie = person.client.get_cookie("hub_console", path="/console")
    assert cookie is not None
    copied.set_cookie(cookie.key, cookie.value, path="/console")
    assert copied.get("/console/").status_code == 200  # the copy works while the session does
    assert person.post("/console/sign-out").status_code == 302
    assert copied.get("/console/").status_code == 302  # and not after the sign-out
