"""The console's administration pages: departments, access keys and users, as an administrator
uses them, checked against the API and the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from hub.audit.models import AuditEntry
from hub.auth import service as auth
from hub.core.extensions import db
from hub.users import service as users
from tests.console.conftest import PASSWORD, Browser
from tests.factories import OPERATOR

ADMIN = "root"
SECRET = re.compile(r"hubk_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
INVITATION = re.compile(r"https?://[^<\s\"]+/console/set-password/[A-Za-z0-9_-]+")
XSS = "<script>alert(1)</script>"


@pytest.fixture
def admin_browser(
    make_department: Callable[..., str], signed_in: Callable[..., Browser]
) -> Browser:
    """The hub's administrator, signed in (the standard departments exist too)."""
    make_department("cityadmin", [], name="Hub administration")
    return signed_in("cityadmin", "admin", ADMIN)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def english(visitor: Browser) -> None:
    """Switch the visitor's console to English, the language these tests read."""
    visitor.get("/console/")
    visitor.post("/console/language", {"locale": "en", "next": "/console/"})


def follow(visitor: Browser, response: TestResponse) -> TestResponse:
    """Open the page a POST redirected to, as a visitor does."""
    assert response.status_code == 302, text(response)
    return visitor.get(response.headers["Location"])


def create_key(visitor: Browser, department: str = "land", **form: Any) -> tuple[str, str]:
    """Create a key through the form; return its id and the secret its page showed."""
    visitor.get("/console/keys")
    data = {"department": department, "scopes": ["records:read", "events:read"], **form}
    created = visitor.post("/console/keys", data)
    key_id = created.headers["Location"].rsplit("/", 1)[-1]
    page = follow(visitor, created)
    assert page.status_code == 200
    found = SECRET.search(text(page))
    assert found, "the new key's page shows its secret"
    return key_id, found.group(0)


def exchange(client: FlaskClient, secret: str) -> int:
    """Exchange an access key for a token over the API; return the status."""
    response = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code


def audit_entries(app: Flask, **where: Any) -> list[AuditEntry]:
    with app.app_context(), db.unit_of_work(write=False) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(query))


# Departments


def test_an_admin_adds_a_department_that_is_listed_and_audited(
    app: Flask, admin_browser: Browser
) -> None:
    admin_browser.get("/console/departments")
    created = admin_browser.post(
        "/console/departments",
        {"id": "transport", "name": "Transport Bureau", "publishes": ["permit", "project"]},
    )
    assert created.headers["Location"] == "/console/departments/transport"
    page = follow(admin_browser, created)
    assert "Transport Bureau" in text(page)
    listing = text(admin_browser.get("/console/departments"))
    assert "/console/departments/transport" in listing
    [entry] = audit_entries(app, action=auth.DEPARTMENT_CREATE, target="department/transport")
    assert entry.actor == f"user:{ADMIN}"
    assert entry.details["publishes"] == ["permit", "project"]


def test_an_invalid_department_keeps_what_was_typed_and_names_the_field(
    admin_browser: Browser,
) -> None:
    admin_browser.get("/console/departments")
    refused = admin_browser.post(
        "/console/departments",
        {"id": "Not Valid!", "name": "Somewhere", "publishes": ["permit"]},
    )
    assert refused.status_code == 422
    page = text(refused)
    assert 'value="Not Valid!"' in page
    assert 'value="Somewhere"' in page
    assert re.search(r'value="permit" id="[^"]+" checked', page)
    assert 'href="#field-id"' in page  # the error summary names the field
    assert 'id="field-id-error"' in page


def test_a_taken_department_id_is_named(admin_browser: Browser) -> None:
    admin_browser.get("/console/departments")
    refused = admin_browser.post("/console/departments", {"id": "land", "name": "Again"})
    assert refused.status_code == 422
    assert 'id="field-id-error"' in text(refused)


def test_a_department_is_renamed_disabled_after_confirming_and_enabled(
    app: Flask, admin_browser: Browser, client: FlaskClient, make_key: Callable[..., str]
) -> None:
    secret = make_key("land")
    admin_browser.get("/console/departments/land")
    saved = admin_browser.post(
        "/console/departments/land", {"name": "Natural Resources", "publishes": ["land_parcel"]}
    )
    assert "Natural Resources" in text(follow(admin_browser, saved))

    confirm = admin_browser.get("/console/departments/land/disable")
    assert confirm.status_code == 200
    assert 'action="/console/departments/land/disable"' in text(confirm)
    assert exchange(client, secret) == 200  # nothing changes before the confirmation
    follow(admin_browser, admin_browser.post("/console/departments/land/disable"))
    assert exchange(client, secret) == 401

    follow(admin_browser, admin_browser.post("/console/departments/land/enable"))
    assert exchange(client, secret) == 200
    changes = audit_entries(app, action=auth.DEPARTMENT_UPDATE, target="department/land")
    assert [entry.details.get("disabled") for entry in changes] == [None, True, False]
    assert {entry.actor for entry in changes} == {f"user:{ADMIN}"}


def test_an_admin_cannot_disable_their_own_department(admin_browser: Browser) -> None:
    page = text(admin_browser.get("/console/departments/cityadmin"))
    assert "/console/departments/cityadmin/disable" not in page
    assert admin_browser.get("/console/departments/cityadmin/disable").status_code == 409
    assert admin_browser.post("/console/departments/cityadmin/disable").status_code == 409


# Access keys


def test_a_new_key_secret_is_shown_once_and_works_against_the_api(
    admin_browser: Browser, client: FlaskClient
) -> None:
    key_id, secret = create_key(admin_browser, name="land connector")
    again = text(admin_browser.get(f"/console/keys/{key_id}"))
    assert secret not in again
    assert not SECRET.search(again)
    assert exchange(client, secret) == 200


def test_the_key_page_says_the_secret_will_not_be_shown_again(admin_browser: Browser) -> None:
    admin_browser.get("/console/keys")
    created = admin_browser.post(
        "/console/keys", {"department": "land", "scopes": ["records:read"]}
    )
    english(admin_browser)
    page = text(follow(admin_browser, created))
    assert "will not be shown again" in page
    assert 'data-copy-target="key-secret"' in page


def test_revoking_a_key_through_its_confirmation_makes_the_api_refuse_it(
    app: Flask, admin_browser: Browser, client: FlaskClient
) -> None:
    key_id, secret = create_key(admin_browser)
    assert exchange(client, secret) == 200
    english(admin_browser)
    confirm = admin_browser.get(f"/console/keys/{key_id}/revoke")
    assert confirm.status_code == 200
    assert f'action="/console/keys/{key_id}/revoke"' in text(confirm)
    revoked = follow(admin_browser, admin_browser.post(f"/console/keys/{key_id}/revoke"))
    assert "Revoked" in text(revoked)
    assert exchange(client, secret) == 401

    [revocation] = audit_entries(app, action=auth.KEY_REVOKE, target=f"key/{key_id}")
    assert revocation.actor == f"user:{ADMIN}"


def test_rotating_shows_the_new_secret_once_and_ends_the_old_one_after_its_grace(
    app: Flask, admin_browser: Browser, client: FlaskClient
) -> None:
    key_id, old = create_key(admin_browser)
    confirm = text(admin_browser.get(f"/console/keys/{key_id}/rotate"))
    assert f'value="{app.config["KEY_ROTATION_GRACE"]}"' in confirm
    rotated = admin_browser.post(f"/console/keys/{key_id}/rotate", {"grace_seconds": "0"})
    page = text(follow(admin_browser, rotated))
    found = SECRET.search(page)
    assert found
    assert found.group(0) != old
    assert found.group(0) not in text(admin_browser.get(f"/console/keys/{key_id}"))
    assert exchange(client, old) == 401
    assert exchange(client, found.group(0)) == 200
    [entry] = audit_entries(app, action=auth.KEY_ROTATE)
    assert entry.actor == f"user:{ADMIN}"
    assert entry.details["grace_seconds"] == 0


def test_a_bad_grace_period_is_named(admin_browser: Browser) -> None:
    key_id, _ = create_key(admin_browser)
    admin_browser.get(f"/console/keys/{key_id}/rotate")
    refused = admin_browser.post(f"/console/keys/{key_id}/rotate", {"grace_seconds": "soon"})
    assert refused.status_code == 422
    assert 'value="soon"' in text(refused)
    assert 'id="field-grace_seconds-error"' in text(refused)


def test_a_key_expires_at_the_end_of_the_chosen_day_in_the_city(
    app: Flask, admin_browser: Browser, client: FlaskClient
) -> None:
    key_id, secret = create_key(admin_browser)
    zone = ZoneInfo(app.config["TIMEZONE"])
    last = datetime.now(zone).date() + timedelta(days=3)
    admin_browser.post(f"/console/keys/{key_id}/expire", {"expires_on": last.isoformat()})
    with app.app_context():
        expires_at = auth.get_key(db.session, key_id).expires_at
    assert expires_at == datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    page = text(admin_browser.get(f"/console/keys/{key_id}"))
    assert f'value="{last.isoformat()}"' in page

    admin_browser.post(f"/console/keys/{key_id}/expire", {"action": "now"})
    assert exchange(client, secret) == 401
    admin_browser.post(f"/console/keys/{key_id}/expire", {"action": "clear"})
    assert exchange(client, secret) == 200
    assert len(audit_entries(app, action=auth.KEY_EXPIRE, actor=f"user:{ADMIN}")) == 3


def test_a_past_expiry_day_is_refused(admin_browser: Browser) -> None:
    admin_browser.get("/console/keys")
    refused = admin_browser.post(
        "/console/keys",
        {
            "department": "land",
            "scopes": ["records:read"],
            "name": "late",
            "expires_on": "2001-01-01",
        },
    )
    assert refused.status_code == 422
    page = text(refused)
    assert 'id="field-expires_on-error"' in page
    assert 'value="late"' in page


def test_a_key_needs_a_scope_and_a_department(admin_browser: Browser) -> None:
    admin_browser.get("/console/keys")
    refused = admin_browser.post("/console/keys", {"department": "nowhere", "name": "x"})
    assert refused.status_code == 422
    page = text(refused)
    assert 'id="field-scopes-error"' in page
    assert 'id="field-department-error"' in page


def test_keys_are_listed_by_department_with_their_state(admin_browser: Browser) -> None:
    land_key, _ = create_key(admin_browser, "land", name="parcels")
    finance_key, _ = create_key(admin_browser, "finance", name="funds")
    admin_browser.post(f"/console/keys/{finance_key}/revoke")
    english(admin_browser)
    everything = text(admin_browser.get("/console/keys"))
    assert land_key in everything
    assert finance_key in everything
    finance = text(admin_browser.get("/console/keys?department=finance"))
    assert finance_key in finance
    assert land_key not in finance
    assert "Revoked" in finance


def test_the_audit_log_names_the_admin_as_actor_of_each_change(
    app: Flask, admin_browser: Browser
) -> None:
    admin_browser.get("/console/departments")
    admin_browser.post("/console/departments", {"id": "transport", "name": "Transport"})
    key_id, _ = create_key(admin_browser, "transport")
    admin_browser.get(f"/console/keys/{key_id}/revoke")
    admin_browser.post(f"/console/keys/{key_id}/revoke")
    mine = [(entry.action, entry.target) for entry in audit_entries(app, actor=f"user:{ADMIN}")]
    assert (auth.DEPARTMENT_CREATE, "department/transport") in mine
    assert (auth.KEY_CREATE, f"key/{key_id}") in mine
    assert (auth.KEY_REVOKE, f"key/{key_id}") in mine
    [created] = audit_entries(app, action=auth.KEY_CREATE, target=f"key/{key_id}")
    assert created.department_id == "cityadmin"
    assert created.details["path"] == "/console/keys"


def test_a_refused_action_is_audited_like_over_the_api(
    app: Flask, signed_in: Callable[..., Browser], make_key: Callable[..., str]
) -> None:
    make_key("land")
    with app.app_context():
        [key] = auth.list_keys(db.session, "land")
    officer = signed_in("land", "officer", "lin")
    officer.get("/console/")
    assert officer.post(f"/console/keys/{key.id}/revoke").status_code == 403
    [refused] = audit_entries(app, action=auth.KEY_REVOKE)
    assert refused.actor == "user:lin"
    assert refused.outcome == 403
    assert refused.target == f"key/{key.id}"


# Users


def test_an_invited_user_sets_a_password_with_the_link_and_signs_in(
    app: Flask, admin_browser: Browser, visitor: Browser
) -> None:
    english(admin_browser)
    admin_browser.get("/console/users")
    created = admin_browser.post(
        "/console/users",
        {
            "username": "lin",
            "display_name": "Lin Hua",
            "department": "land",
            "role": "officer",
            "sign_in": "invite",
        },
    )
    assert created.headers["Location"] == "/console/users/lin"
    page = text(follow(admin_browser, created))
    found = INVITATION.search(page)
    assert found, "the new user's page shows the invitation link"
    assert "will not be shown again" in page
    assert found.group(0) not in text(admin_browser.get("/console/users/lin"))

    link = urlsplit(found.group(0)).path
    assert visitor.get(link).status_code == 200
    set_password = visitor.post(
        link, {"password": "a new long password", "confirm": "a new long password"}
    )
    # the link was the person's proof: setting the password signs them in
    assert set_password.headers["Location"] == "/console/"
    assert "Lin Hua" in text(visitor.get("/console/"))
    assert visitor.post("/console/sign-out").status_code == 302
    visitor.sign_in("lin", "a new long password")
    assert "Lin Hua" in text(visitor.get("/console/"))
    [entry] = audit_entries(app, action=users.CREATE, target="user/lin")
    assert entry.actor == f"user:{ADMIN}"
    assert entry.details["invited"] is True


def test_a_user_added_with_a_typed_password_signs_in_with_it(
    admin_browser: Browser, visitor: Browser
) -> None:
    admin_browser.get("/console/users")
    created = admin_browser.post(
        "/console/users",
        {
            "username": "wang",
            "department": "finance",
            "role": "viewer",
            "sign_in": "password",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    page = text(follow(admin_browser, created))
    assert not INVITATION.search(page)
    visitor.sign_in("wang")
    listing = text(admin_browser.get("/console/users"))
    assert "/console/users/wang" in listing


def test_an_invalid_user_keeps_what_was_typed_but_not_the_password(
    admin_browser: Browser,
) -> None:
    admin_browser.get("/console/users")
    refused = admin_browser.post(
        "/console/users",
        {
            "username": "Not Valid!",
            "display_name": "Zhao",
            "department": "land",
            "role": "viewer",
            "sign_in": "password",
            "password": "first password here",
            "confirm": "another one entirely",
        },
    )
    assert refused.status_code == 422
    page = text(refused)
    assert 'value="Not Valid!"' in page
    assert 'value="Zhao"' in page
    assert "first password here" not in page
    assert 'id="field-username-error"' in page
    assert re.search(r'value="password" id="[^"]+" checked', page)


def test_passwords_that_differ_are_named(admin_browser: Browser) -> None:
    admin_browser.get("/console/users")
    refused = admin_browser.post(
        "/console/users",
        {
            "username": "zhao",
            "department": "land",
            "role": "viewer",
            "sign_in": "password",
            "password": "first password here",
            "confirm": "another one entirely",
        },
    )
    assert refused.status_code == 422
    assert 'id="field-confirm-error"' in text(refused)


def test_a_user_changed_on_their_page_gets_the_new_role_at_once(
    admin_browser: Browser, signed_in: Callable[..., Browser]
) -> None:
    lin = signed_in("land", "viewer", "lin")
    assert lin.get("/console/keys").status_code == 403
    admin_browser.get("/console/users/lin")
    saved = admin_browser.post(
        "/console/users/lin", {"display_name": "Lin Hua", "department": "land", "role": "admin"}
    )
    assert "Lin Hua" in text(follow(admin_browser, saved))
    assert lin.get("/console/keys").status_code == 200


def test_disabling_a_user_through_the_page_signs_them_out(
    app: Flask, admin_browser: Browser, signed_in: Callable[..., Browser]
) -> None:
    lin = signed_in("land", "officer", "lin")
    assert lin.get("/console/").status_code == 200
    confirm = admin_browser.get("/console/users/lin/disable")
    assert 'action="/console/users/lin/disable"' in text(confirm)
    assert lin.get("/console/").status_code == 200  # not before the confirmation
    follow(admin_browser, admin_browser.post("/console/users/lin/disable"))
    signed_out = lin.get("/console/")
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/console/sign-in")
    [entry] = audit_entries(app, action=users.UPDATE, target="user/lin")
    assert entry.actor == f"user:{ADMIN}"
    assert entry.details == {
        "disabled": True,
        "method": "POST",
        "path": "/console/users/lin/disable",
    }

    follow(admin_browser, admin_browser.post("/console/users/lin/enable"))
    lin.sign_in("lin")


def test_an_admin_cannot_disable_themselves(admin_browser: Browser) -> None:
    page = text(admin_browser.get(f"/console/users/{ADMIN}"))
    assert f"/console/users/{ADMIN}/disable" not in page
    assert admin_browser.post(f"/console/users/{ADMIN}/disable").status_code == 409
    assert admin_browser.get("/console/").status_code == 200


def test_a_password_reset_shows_a_new_invitation_once(
    admin_browser: Browser, signed_in: Callable[..., Browser], visitor: Browser
) -> None:
    signed_in("land", "officer", "lin")
    confirm = admin_browser.get("/console/users/lin/reset-password")
    assert 'action="/console/users/lin/reset-password"' in text(confirm)
    page = text(follow(admin_browser, admin_browser.post("/console/users/lin/reset-password")))
    found = INVITATION.search(page)
    assert found
    assert not INVITATION.search(text(admin_browser.get("/console/users/lin")))
    visitor.get("/console/sign-in")
    refused = visitor.post("/console/sign-in", {"username": "lin", "password": PASSWORD})
    assert refused.status_code == 401  # the old password is gone
    link = urlsplit(found.group(0)).path
    visitor.get(link)
    done = visitor.post(
        link, {"password": "yet another password", "confirm": "yet another password"}
    )
    assert done.headers["Location"] == "/console/"
    assert visitor.get("/console/").status_code == 200
    assert visitor.post("/console/sign-out").status_code == 302
    visitor.sign_in("lin", "yet another password")


def test_the_user_list_says_how_each_signs_in(
    app: Flask, admin_browser: Browser, make_user: Callable[..., str]
) -> None:
    make_user("lin", "land", "officer", display_name="Lin Hua")
    with app.app_context(), db.unit_of_work() as session:
        users.add_user(session, OPERATOR, "zhao", "land", "viewer", app.config)
    english(admin_browser)
    listing = text(admin_browser.get("/console/users?department=land"))
    assert "/console/users/lin" in listing
    assert "/console/users/zhao" in listing
    assert f"/console/users/{ADMIN}" not in listing
    rows = {
        row.group(1): row.group(0)
        for row in re.finditer(r'/console/users/([\w.-]+)">.*?</tr>', listing, re.S)
    }
    assert "Password" in rows["lin"]
    assert "Department officer" in rows["lin"]
    assert "Invited" in rows["zhao"]
    assert "Never" in rows["zhao"]


# Who may open these pages


ADMIN_PAGES = (
    "/console/departments",
    "/console/departments/land",
    "/console/departments/land/disable",
    "/console/keys",
    "/console/users",
    "/console/users/someone",
    "/console/users/someone/disable",
    "/console/users/someone/reset-password",
    "/console/audit",
)
ADMIN_FORMS = (
    "/console/departments",
    "/console/departments/land",
    "/console/departments/land/disable",
    "/console/departments/land/enable",
    "/console/keys",
    "/console/users",
    "/console/users/someone",
    "/console/users/someone/disable",
    "/console/users/someone/enable",
    "/console/users/someone/reset-password",
    "/console/audit/verify",
)


@pytest.mark.parametrize("role", ["officer", "viewer", "office"])
def test_only_admins_open_the_administration_pages(
    role: str,
    signed_in: Callable[..., Browser],
    make_key: Callable[..., str],
    make_user: Callable[..., str],
    app: Flask,
) -> None:
    make_user("someone", "finance", "viewer")
    make_key("land")
    with app.app_context():
        [key] = auth.list_keys(db.session, "land")
    key_pages = (f"/console/keys/{key.id}", f"/console/keys/{key.id}/rotate")
    key_forms = (
        f"/console/keys/{key.id}/rotate",
        f"/console/keys/{key.id}/revoke",
        f"/console/keys/{key.id}/expire",
    )
    person = signed_in("land", role)
    english(person)
    for path in (*ADMIN_PAGES, *key_pages, f"/console/keys/{key.id}/revoke"):
        page = person.get(path)
        assert page.status_code == 403, path
        assert "You cannot see this page" in text(page), path
    person.get("/console/")
    for path in (*ADMIN_FORMS, *key_forms):
        assert person.post(path, {"name": "x", "grace_seconds": "0"}).status_code == 403, path
    with app.app_context():
        assert not auth.get_key(db.session, key.id).revoked_at
    home = text(person.get("/console/"))
    assert "/console/keys" not in home
    assert "/console/departments" not in home


# Escaping


def test_names_holding_markup_are_shown_as_text(
    app: Flask, admin_browser: Browser, make_department: Callable[..., str]
) -> None:
    make_department("xss", [], name=XSS)
    create_key(admin_browser, "xss", name=XSS)
    admin_browser.get("/console/users")
    admin_browser.post(
        "/console/users",
        {"username": "mallory", "display_name": XSS, "department": "xss", "role": "viewer"},
    )
    with app.app_context():
        [key] = auth.list_keys(db.session, "xss")
    for path in (
        "/console/departments",
        "/console/departments/xss",
        "/console/departments/xss/disable",
        "/console/keys",
        f"/console/keys/{key.id}",
        f"/console/keys/{key.id}/revoke",
        "/console/users",
        "/console/users/mallory",
        "/console/users/mallory/disable",
        "/console/audit",
    ):
        page = text(admin_browser.get(path))
        assert XSS not in page, path
        assert "&lt;script&gt;" in page, path


def test_today_is_a_valid_last_day(admin_browser: Browser, app: Flask) -> None:
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    key_id, _ = create_key(admin_browser, expires_on=today.isoformat())
    with app.app_context():
        expires_at = auth.get_key(db.session, key_id).expires_at
    assert expires_at is not None
    assert expires_at > datetime.now(UTC)
