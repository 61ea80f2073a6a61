"""Console users over the API (``/api/v1/admin/users``, ``admin`` scope)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.audit.entries import Actor, AuditFilter, list_entries
from hub.core.db import utcnow
from hub.core.errors import NotFound
from hub.core.extensions import db
from hub.users import service as users
from tests.console.conftest import Browser
from tests.test_errors import assert_problem
from tests.user_helpers import signs_in, stored

USERS = "/api/v1/admin/users"
PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "a different long passphrase"
LINK_PREFIX = "http://127.0.0.1:8000/console/set-password/"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Cheap password hashes, so that signing in stays fast."""
    return {**settings, "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024}


@pytest.fixture
def create(client: FlaskClient, admin: dict[str, str]) -> Callable[..., Any]:
    """POST a user (an officer of land unless told otherwise); returns the response."""

    def post(username: str = "li.na", **fields: Any) -> Any:
        body = {"username": username, "department": "land", "role": "officer", **fields}
        return client.post(USERS, json=body, headers=admin)

    return post


def token_of(link: str) -> str:
    assert link.startswith(LINK_PREFIX), link
    return link.removeprefix(LINK_PREFIX)


def accept(app: Flask, link: str, password: str) -> None:
    """Follow an invitation: set ``password`` with the token ``link`` carries."""
    with app.app_context(), db.unit_of_work() as session:
        users.accept_invitation(session, token_of(link), password, app.config, "127.0.0.1")


def audited(app: Flask, action: str) -> list[Any]:
    """The audit entries of ``action``, newest first."""
    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action=action), 50)
        return entries


def sso_user(app: Flask, username: str, subject: str = "city-0001") -> None:
    """A user made by single sign-on: matched on the provider's subject, with no password."""
    with app.app_context(), db.unit_of_work() as session:
        users.user_from_claims(session, subject, username, "land", "officer", "Lin Hua")


# Creating


def test_a_user_is_created_listed_read_and_changed(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    created = client.post(
        USERS, json={"username": "li.na", "department": "land", "role": "officer"}, headers=admin
    )
    assert created.status_code == 201, created.json
    assert created.headers["Cache-Control"] == "no-store"
    user = created.json
    assert user["invite_link"].startswith("http://127.0.0.1:8000/console/")
    assert {key: user[key] for key in ("username", "department", "role")} == {
        "username": "li.na",
        "department": "land",
        "role": "officer",
    }
    assert (user["disabled"], user["has_password"], user["single_sign_on"]) == (False, False, False)

    listed = client.get(f"{USERS}?department=land", headers=admin).json["items"]
    assert [(u["username"], u["disabled"]) for u in listed] == [("li.na", False)]
    assert "invite_link" not in listed[0]

    changed = client.patch(f"{USERS}/li.na", json={"disabled": True}, headers=admin)
    assert changed.status_code == 200, changed.json
    assert changed.json["disabled"] is True
    assert client.get(f"{USERS}/li.na", headers=admin).json["disabled"] is True


def test_a_user_created_with_a_password_gets_no_invitation(
    app: Flask, create: Callable[..., Any]
) -> None:
    created = create(password=PASSWORD, display_name="Li Na")
    assert created.status_code == 201, created.json
    assert created.headers["Cache-Control"] == "no-store"
    user = created.json
    assert user["invite_link"] is None
    assert user["invite_expires_at"] is None
    assert (user["has_password"], user["display_name"]) == (True, "Li Na")
    assert "password" not in user
    assert "password_hash" not in user
    assert signs_in(app, "li.na", PASSWORD)
    assert not signs_in(app, "li.na", OTHER_PASSWORD)


def test_an_invited_user_sets_a_password_with_the_link_once(
    app: Flask, create: Callable[..., Any]
) -> None:
    before = utcnow()
    created = create()
    assert created.status_code == 201, created.json
    user = created.json
    link = user["invite_link"]
    assert link.startswith(LINK_PREFIX)
    assert user["display_name"] == "li.na", "the username stands in for a missing name"
    expires = stored(app, "li.na").invite_expires_at
    assert expires is not None
    assert before + timedelta(hours=23, minutes=59) < expires <= utcnow() + timedelta(hours=24)
    assert not signs_in(app, "li.na", PASSWORD)

    accept(app, link, PASSWORD)
    assert signs_in(app, "li.na", PASSWORD)
    with pytest.raises(NotFound):
        accept(app, link, OTHER_PASSWORD)
    assert signs_in(app, "li.na", PASSWORD)


def test_the_invitation_link_is_shown_only_on_create_and_reset(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    assert create().json["invite_link"]
    read = client.get(f"{USERS}/li.na", headers=admin)
    assert "invite_link" not in read.json
    assert read.json["invite_expires_at"] is not None
    patched = client.patch(f"{USERS}/li.na", json={"display_name": "Li Na"}, headers=admin)
    assert "invite_link" not in patched.json
    listed = client.get(USERS, headers=admin).json["items"]
    assert all("invite_link" not in user for user in listed)
    reset = client.post(f"{USERS}/li.na/reset-password", headers=admin)
    assert reset.headers["Cache-Control"] == "no-store"
    assert reset.json["invite_link"].startswith(LINK_PREFIX)


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("Li.Na", id="upper-case"),
        pytest.param("LINA", id="all-upper-case"),
        pytest.param("l", id="too-short"),
        pytest.param(".lina", id="leading-dot"),
        pytest.param("-lina", id="leading-dash"),
        pytest.param("li na", id="space"),
        pytest.param("li/na", id="slash"),
        pytest.param("l" * 65, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_an_invalid_username_is_refused_naming_the_field(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any], username: str
) -> None:
    problem = assert_problem(create(username), 422)
    assert "username" in problem["errors"], problem
    assert client.get(USERS, headers=admin).json["items"] == []


@pytest.mark.parametrize("username", ["li.na@city.gov.cn", "ln", "0lina", "li_na-2"])
def test_an_e_mail_like_or_short_username_is_accepted(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any], username: str
) -> None:
    created = create(username)
    assert created.status_code == 201, created.json
    assert created.json["username"] == username
    read = client.get(f"{USERS}/{username}", headers=admin)
    assert read.status_code == 200, read.json
    assert read.json["username"] == username


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"department": "nowhere"}, "department"),
        ({"role": "superuser"}, "role"),
        ({"role": "Admin"}, "role"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 9}, "password"),
        ({"password": ""}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x\nroot\tadmin\tadmin\tactive\tpassword\tRoot"}, "display_name"),
        ({"display_name": "Li Na\u202eadmin"}, "display_name"),
    ],
)
def test_a_bad_field_is_refused_naming_it(
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    fields: dict[str, Any],
    field: str,
) -> None:
    problem = assert_problem(create(**fields), 422)
    assert list(problem["errors"]) == [field], problem
    assert client.get(USERS, headers=admin).json["items"] == []


def test_an_unknown_department_is_named_in_the_detail(create: Callable[..., Any]) -> None:
    problem = assert_problem(create(department="nowhere"), 422)
    assert "nowhere" in problem["detail"]


def test_a_password_of_the_least_length_is_accepted(app: Flask, create: Callable[..., Any]) -> None:
    password = "x" * users.MIN_PASSWORD_LENGTH
    assert create(password=password).status_code == 201
    assert signs_in(app, "li.na", password)


@pytest.mark.parametrize("missing", ["username", "department", "role"])
def test_a_required_field_must_be_sent(
    client: FlaskClient, admin: dict[str, str], missing: str
) -> None:
    body = {"username": "li.na", "department": "land", "role": "officer"}
    del body[missing]
    problem = assert_problem(client.post(USERS, json=body, headers=admin), 422)
    assert missing in problem["errors"], problem


def test_a_taken_username_is_a_conflict(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    assert create(password=PASSWORD).status_code == 201
    problem = assert_problem(create(department="finance", role="admin"), 409)
    assert "li.na" in problem["detail"]
    [user] = client.get(USERS, headers=admin).json["items"]
    assert (user["department"], user["role"], user["has_password"]) == ("land", "officer", True)


def test_two_creations_of_one_username_at_once_make_one_user_and_a_conflict(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    inserted, release = threading.Event(), threading.Event()

    def first() -> None:
        with app.app_context(), db.unit_of_work() as session:
            users.add_user(
                session, Actor.cli(), "li.na", "land", "officer", app.config, password=PASSWORD
            )
            inserted.set()
            release.wait(10)  # still uncommitted while the second request checks and inserts

    answers: list[Any] = []
    body = {"username": "li.na", "department": "finance", "role": "viewer"}
    holder = threading.Thread(target=first)
    holder.start()
    assert inserted.wait(10)
    second = threading.Thread(
        target=lambda: answers.append(client.post(USERS, json=body, headers=admin))
    )
    second.start()
    second.join(0.5)  # on PostgreSQL it now waits on the first's uncommitted key
    release.set()
    holder.join(10)
    second.join(30)
    assert_problem(answers[0], 409)
    assert stored(app, "li.na").department_id == "land"


def test_a_username_taken_by_a_single_sign_on_user_is_a_conflict(
    app: Flask, create: Callable[..., Any]
) -> None:
    sso_user(app, "lin")
    assert_problem(create("lin"), 409)


def test_a_name_from_single_sign_on_is_kept_on_one_line(
    app: Flask, departments: dict[str, list[str]]
) -> None:
    with app.app_context(), db.unit_of_work() as session:
        users.user_from_claims(session, "city-7", "lin", "land", "officer", "Lin\nroot\tHua")
    assert stored(app, "lin").display_name == "Lin root Hua"


# Reading


def test_an_unknown_user_is_not_found(client: FlaskClient, admin: dict[str, str]) -> None:
    problem = assert_problem(client.get(f"{USERS}/nobody", headers=admin), 404)
    assert "nobody" in problem["detail"]
    for response in (
        client.patch(f"{USERS}/nobody", json={"role": "viewer"}, headers=admin),
        client.post(f"{USERS}/nobody/reset-password", headers=admin),
    ):
        assert_problem(response, 404)


def test_the_list_is_by_username_and_narrows_to_a_department(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    for username, department in [
        ("wang", "finance"),
        ("chen", "land"),
        ("zhao", "land"),
        ("an", "ndrc"),
    ]:
        assert create(username, department=department).status_code == 201
    everyone = client.get(USERS, headers=admin)
    assert everyone.status_code == 200, everyone.json
    assert [u["username"] for u in everyone.json["items"]] == ["an", "chen", "wang", "zhao"]
    land = client.get(f"{USERS}?department=land", headers=admin).json["items"]
    assert [(u["username"], u["department"]) for u in land] == [("chen", "land"), ("zhao", "land")]
    assert client.get(f"{USERS}?department=audit", headers=admin).json["items"] == []
    assert client.get(f"{USERS}?department=nowhere", headers=admin).json["items"] == []


def test_the_list_is_not_paginated(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    """The route returns every user at once (no cursor, no limit): a city's staff is small."""
    names = [f"user{n:02}" for n in range(30)]
    for username in names:
        assert create(username).status_code == 201
    listed = client.get(USERS, headers=admin)
    assert list(listed.json) == ["items"]
    assert [u["username"] for u in listed.json["items"]] == names


def test_the_wire_form_tells_how_a_user_signs_in(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create("invited")
    create("withpassword", password=PASSWORD)
    sso_user(app, "lin")
    seen = {
        u["username"]: (u["has_password"], u["single_sign_on"], u["invite_expires_at"] is not None)
        for u in client.get(USERS, headers=admin).json["items"]
    }
    assert seen == {
        "invited": (False, False, True),
        "withpassword": (True, False, False),
        "lin": (False, True, False),
    }


# Changing


def test_role_department_and_name_are_changed(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(display_name="Li Na")
    changed = client.patch(
        f"{USERS}/li.na",
        json={"role": "viewer", "department": "finance", "display_name": "Li Na (Finance)"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.json
    expected = {"role": "viewer", "department": "finance", "display_name": "Li Na (Finance)"}
    assert {key: changed.json[key] for key in expected} == expected
    read = client.get(f"{USERS}/li.na", headers=admin).json
    assert {key: read[key] for key in expected} == expected
    assert client.get(f"{USERS}?department=land", headers=admin).json["items"] == []


def test_one_field_is_changed_alone(
    client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(display_name="Li Na")
    changed = client.patch(f"{USERS}/li.na", json={"role": "admin"}, headers=admin).json
    assert (changed["role"], changed["department"], changed["display_name"]) == (
        "admin",
        "land",
        "Li Na",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"department": "nowhere"}, "department"),
        ({"role": "superuser"}, "role"),
        ({"display_name": ""}, "display_name"),
        ({"disabled": "perhaps"}, "disabled"),
    ],
)
def test_a_bad_change_is_refused_naming_the_field(
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    body: dict[str, Any],
    field: str,
) -> None:
    create()
    problem = assert_problem(client.patch(f"{USERS}/li.na", json=body, headers=admin), 422)
    assert field in problem["errors"], problem
    read = client.get(f"{USERS}/li.na", headers=admin).json
    assert (read["department"], read["role"], read["disabled"]) == ("land", "officer", False)


def test_a_change_must_change_something(client: FlaskClient, admin: dict[str, str]) -> None:
    client.post(
        USERS, json={"username": "li.na", "department": "land", "role": "viewer"}, headers=admin
    )
    for body in (None, {}):
        assert_problem(client.patch(f"{USERS}/li.na", json=body, headers=admin), 422)


def test_disabling_a_user_ends_their_sessions_and_keeps_them_out(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(password=PASSWORD)
    assert stored(app, "li.na").sessions_valid_after is None
    visitor = Browser(app.test_client())
    visitor.sign_in("li.na", PASSWORD)
    assert visitor.get("/console/").status_code == 200

    before = utcnow()
    disabled = client.patch(f"{USERS}/li.na", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200, disabled.json
    user = stored(app, "li.na")
    assert user.disabled_at is not None
    assert user.sessions_valid_after is not None
    assert before <= user.sessions_valid_after <= utcnow()
    assert visitor.get("/console/").status_code == 302
    assert not signs_in(app, "li.na", PASSWORD)

    enabled = client.patch(f"{USERS}/li.na", json={"disabled": False}, headers=admin)
    assert enabled.status_code == 200, enabled.json
    assert enabled.json["disabled"] is False
    assert stored(app, "li.na").disabled_at is None
    assert signs_in(app, "li.na", PASSWORD)
    assert visitor.get("/console/").status_code == 302, "the old session stays over"
    visitor.sign_in("li.na", PASSWORD)
    assert visitor.get("/console/").status_code == 200


def test_disabling_a_disabled_user_keeps_the_first_moment(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create()
    client.patch(f"{USERS}/li.na", json={"disabled": True}, headers=admin)
    first = stored(app, "li.na")
    again = client.patch(f"{USERS}/li.na", json={"disabled": True}, headers=admin)
    assert again.status_code == 200, again.json
    assert again.json["disabled"] is True
    second = stored(app, "li.na")
    assert (second.disabled_at, second.sessions_valid_after) == (
        first.disabled_at,
        first.sessions_valid_after,
    )


def test_a_disabled_user_cannot_use_an_invitation(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    link = create().json["invite_link"]
    client.patch(f"{USERS}/li.na", json={"disabled": True}, headers=admin)
    with pytest.raises(NotFound):
        accept(app, link, PASSWORD)


# Resetting passwords


def test_a_reset_with_a_password_sets_it(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(password=PASSWORD)
    visitor = Browser(app.test_client())
    visitor.sign_in("li.na", PASSWORD)
    before = utcnow()
    reset = client.post(
        f"{USERS}/li.na/reset-password", json={"password": OTHER_PASSWORD}, headers=admin
    )
    assert reset.status_code == 200, reset.json
    assert reset.json == {"invite_link": None}
    assert reset.headers["Cache-Control"] == "no-store"
    assert signs_in(app, "li.na", OTHER_PASSWORD)
    assert not signs_in(app, "li.na", PASSWORD)
    user = stored(app, "li.na")
    assert user.sessions_valid_after is not None
    assert user.sessions_valid_after >= before
    assert visitor.get("/console/").status_code == 302, "whoever knew the old one is signed out"


def test_a_reset_with_a_password_uses_up_a_pending_invitation(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    link = create().json["invite_link"]
    reset = client.post(
        f"{USERS}/li.na/reset-password", json={"password": OTHER_PASSWORD}, headers=admin
    )
    assert reset.status_code == 200, reset.json
    assert client.get(f"{USERS}/li.na", headers=admin).json["invite_expires_at"] is None
    with pytest.raises(NotFound):
        accept(app, link, PASSWORD)
    assert signs_in(app, "li.na", OTHER_PASSWORD)


def test_a_reset_without_a_password_gives_a_new_link(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(password=PASSWORD)
    for request in ({}, {"json": {}}):
        reset = client.post(f"{USERS}/li.na/reset-password", headers=admin, **request)
        assert reset.status_code == 200, reset.json
        assert reset.headers["Cache-Control"] == "no-store"
        link = reset.json["invite_link"]
        assert link.startswith(LINK_PREFIX)
        assert not signs_in(app, "li.na", PASSWORD), "the old password no longer works"
        read = client.get(f"{USERS}/li.na", headers=admin).json
        assert (read["has_password"], read["invite_expires_at"] is not None) == (False, True)
    accept(app, link, OTHER_PASSWORD)
    assert signs_in(app, "li.na", OTHER_PASSWORD)


def test_a_new_link_replaces_the_one_before(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    first = create().json["invite_link"]
    second = client.post(f"{USERS}/li.na/reset-password", headers=admin).json["invite_link"]
    assert second != first
    with pytest.raises(NotFound):
        accept(app, first, PASSWORD)
    accept(app, second, PASSWORD)
    assert signs_in(app, "li.na", PASSWORD)


@pytest.mark.parametrize("password", ["short", "", "x" * 257])
def test_a_reset_to_a_bad_password_changes_nothing(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    password: str,
) -> None:
    create(password=PASSWORD)
    visitor = Browser(app.test_client())
    visitor.sign_in("li.na", PASSWORD)
    problem = assert_problem(
        client.post(f"{USERS}/li.na/reset-password", json={"password": password}, headers=admin),
        422,
    )
    assert list(problem["errors"]) == ["password"], problem
    assert signs_in(app, "li.na", PASSWORD)
    assert stored(app, "li.na").sessions_valid_after is None
    assert visitor.get("/console/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"pasword": OTHER_PASSWORD}, "pasword"), ({"password": None}, "password")],
)
def test_a_reset_with_a_misspelt_or_null_password_is_refused_not_taken_for_an_invitation(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    body: dict[str, Any],
    field: str,
) -> None:
    create(password=PASSWORD)
    problem = assert_problem(
        client.post(f"{USERS}/li.na/reset-password", json=body, headers=admin), 422
    )
    assert list(problem["errors"]) == [field], problem
    assert signs_in(app, "li.na", PASSWORD)
    assert stored(app, "li.na").invite_digest is None


def test_a_password_is_not_changed_through_patch(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(password=PASSWORD)
    problem = assert_problem(
        client.patch(f"{USERS}/li.na", json={"password": OTHER_PASSWORD}, headers=admin), 422
    )
    assert list(problem["errors"]) == ["password"], problem
    assert signs_in(app, "li.na", PASSWORD)


def test_a_single_sign_on_user_has_no_password_to_reset(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    sso_user(app, "lin")
    for body in (None, {"password": OTHER_PASSWORD}):
        problem = assert_problem(
            client.post(f"{USERS}/lin/reset-password", json=body, headers=admin), 409
        )
        assert "single sign-on" in problem["detail"]
        assert "lin" in problem["detail"]
    user = stored(app, "lin")
    assert (user.password_hash, user.invite_digest, user.sessions_valid_after) == (None, None, None)
    assert not signs_in(app, "lin", OTHER_PASSWORD)


# Who may


@pytest.mark.parametrize("scopes", [["records:read", "records:write", "events:read"], ["grants"]])
def test_only_administrators_manage_users(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    headers: Callable[..., dict[str, str]],
    scopes: list[str],
) -> None:
    create(password=PASSWORD)
    officer = headers("land", scopes)
    body = {"username": "wang", "department": "land", "role": "admin", "password": PASSWORD}
    for response in (
        client.get(USERS, headers=officer),
        client.get(f"{USERS}/li.na", headers=officer),
        client.post(USERS, json=body, headers=officer),
        client.patch(f"{USERS}/li.na", json={"role": "admin"}, headers=officer),
        client.post(f"{USERS}/li.na/reset-password", headers=officer),
    ):
        problem = assert_problem(response, 403)
        assert "admin" in problem["detail"]
    assert [u["username"] for u in client.get(USERS, headers=admin).json["items"]] == ["li.na"]
    assert client.get(f"{USERS}/li.na", headers=admin).json["role"] == "officer"
    assert signs_in(app, "li.na", PASSWORD)


def test_without_a_token_nothing_is_shown(client: FlaskClient, create: Callable[..., Any]) -> None:
    create()
    assert_problem(client.get(USERS), 401)
    assert_problem(client.get(f"{USERS}/li.na"), 401)


# The audit log


def test_each_change_is_audited(
    app: Flask, client: FlaskClient, admin: dict[str, str], create: Callable[..., Any]
) -> None:
    create(role="viewer")
    client.patch(f"{USERS}/li.na", json={"role": "officer", "disabled": True}, headers=admin)
    client.post(f"{USERS}/li.na/reset-password", json={"password": PASSWORD}, headers=admin)
    client.post(f"{USERS}/li.na/reset-password", headers=admin)

    [created] = audited(app, users.CREATE)
    assert (created.target, created.outcome, created.department_id) == ("user/li.na", 201, "admin")
    assert created.actor.startswith("key:")
    assert created.details["department"] == "land"
    assert created.details["role"] == "viewer"
    assert created.details["invited"] is True
    assert created.details["method"] == "POST"

    [updated] = audited(app, users.UPDATE)
    assert (updated.target, updated.outcome) == ("user/li.na", 200)
    assert updated.details["role"] == "officer"
    assert updated.details["disabled"] is True
    assert updated.details["path"] == f"{USERS}/li.na"

    invited, with_password = audited(app, users.RESET_PASSWORD)
    assert (with_password.target, with_password.outcome) == ("user/li.na", 200)
    assert with_password.details["invited"] is False
    assert invited.details["invited"] is True
    for entry in (created, updated, invited, with_password):
        assert "password" not in entry.details
        assert PASSWORD not in str(entry.details)


def test_a_user_created_with_a_password_is_audited_as_not_invited(
    app: Flask, create: Callable[..., Any]
) -> None:
    create(password=PASSWORD)
    [entry] = audited(app, users.CREATE)
    assert entry.details["invited"] is False
    assert PASSWORD not in str(entry.details)


def test_refused_writes_are_audited_and_reads_are_not(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    create: Callable[..., Any],
    headers: Callable[..., dict[str, str]],
) -> None:
    create()
    assert create().status_code == 409
    officer = headers("land")
    client.patch(f"{USERS}/li.na", json={"role": "admin"}, headers=officer)
    client.post(f"{USERS}/li.na/reset-password", headers=officer)
    client.get(USERS, headers=officer)

    outcomes = sorted((e.outcome, e.target) for e in audited(app, users.CREATE))
    assert outcomes == [(201, "user/li.na"), (409, USERS)]
    [refused_update] = audited(app, users.UPDATE)
    assert (refused_update.outcome, refused_update.target) == (403, "user/li.na")
    assert refused_update.department_id == "land"
    [refused_reset] = audited(app, users.RESET_PASSWORD)
    assert (refused_reset.outcome, refused_reset.target) == (403, "user/li.na")


def test_a_refused_reset_of_a_single_sign_on_user_is_audited(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    sso_user(app, "lin")
    client.post(f"{USERS}/lin/reset-password", headers=admin)
    [entry] = audited(app, users.RESET_PASSWORD)
    assert (entry.outcome, entry.target) == (409, "user/lin")
    assert "single sign-on" in entry.details["detail"]
