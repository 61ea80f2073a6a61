"""Sharing requests in the console: a department asks another for conditional fields, the
owner answers in its inbox (approve until a date, refuse with a reason, revoke), and the
answer takes effect in the API at once, audited with the person as actor."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from hub.console.views import grants as grant_views
from tests.console.conftest import Browser
from tests.factories import parcel_data

API = "/api/v1"
PURPOSE = "Check transfer prices against the budget's land-acquisition lines."
XSS = "<script>alert(1)</script>"
GRANT_SCOPES = ["grants", "records:read"]
LOCATION = re.compile(r"/console/grants/(\d+)$")


def english(visitor: Browser) -> Browser:
    """Switch the visitor's console to English, whose words the assertions read."""
    visitor.get("/console/")
    assert visitor.post("/console/language", {"locale": "en"}).status_code == 302
    return visitor


@pytest.fixture
def officer(signed_in: Callable[..., Browser]) -> Callable[[str, str], Browser]:
    """An English-speaking officer of a department: ``officer("land", "lin")``."""

    def make(department: str, username: str) -> Browser:
        return english(signed_in(department, "officer", username))

    return make


@pytest.fixture
def parcel(project: str, publish: Callable[..., Any]) -> str:
    """A published land parcel with a transfer price (conditional); returns its key."""
    response = publish("land_parcel", "L-1", parcel_data())
    assert response.status_code == 201, response.json
    return "L-1"


@pytest.fixture
def apply_by_api(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., int]:
    """Apply over the API as a department (finance for land_parcel by default); the id."""

    def apply(department: str = "finance", **body: Any) -> int:
        body.setdefault("type", "land_parcel")
        body.setdefault("purpose", PURPOSE)
        response = client.post(
            f"{API}/grants", json=body, headers=headers(department, GRANT_SCOPES)
        )
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    return apply


def city_day(app: Flask, days_from_today: int) -> date:
    """A day counted from today in the city's time zone."""
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    return today + timedelta(days=days_from_today)


def text_of(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def grant_as(client: FlaskClient, headers: Callable[..., dict[str, str]], grant_id: int) -> Any:
    response = client.get(f"{API}/grants/{grant_id}", headers=headers("finance", GRANT_SCOPES))
    assert response.status_code == 200, response.json
    return response.json


def withheld_from_finance(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Any:
    response = client.get(f"{API}/records/land_parcel/L-1", headers=headers("finance"))
    assert response.status_code == 200, response.json
    return response.json["withheld"]


def audit_actors(client: FlaskClient, admin: dict[str, str], action: str) -> list[str]:
    response = client.get(f"{API}/admin/audit", query_string={"action": action}, headers=admin)
    assert response.status_code == 200, response.json
    return [entry["actor"] for entry in response.json["items"] if entry["outcome"] < 400]


# --- the journey --------------------------------------------------------------------------


def test_a_requested_field_is_approved_in_the_inbox_and_then_shown_to_the_applicant(
    app: Flask,
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    admin: dict[str, str],
    parcel: str,
    officer: Callable[[str, str], Browser],
) -> None:
    assert "transfer_price" in withheld_from_finance(client, headers)
    finance = officer("finance", "fang")
    land = officer("land", "lin")

    form = finance.get("/console/grants/new?type=land_parcel&fields=transfer_price")
    assert form.status_code == 200
    page = text_of(form)
    assert '<input type="hidden" name="type" value="land_parcel">' in page
    assert re.search(r'value="transfer_price" id="field-fields" checked', page)
    assert "The request goes to land" in page

    sent = finance.post(
        "/console/grants/new",
        {"type": "land_parcel", "fields": "transfer_price", "purpose": PURPOSE},
    )
    assert sent.status_code == 302
    match = LOCATION.search(sent.headers["Location"])
    assert match, sent.headers["Location"]
    grant_id = int(match.group(1))
    shown = text_of(finance.get(f"/console/grants/{grant_id}"))
    assert "Your request is sent to land" in shown
    assert "Withdraw request" in shown

    inbox = text_of(land.get("/console/grants"))
    waiting = inbox.split("Waiting for your answer")[1].split("Answered requests")[0]
    assert f"/console/grants/{grant_id}" in waiting
    assert "15 days left" in waiting
    assert "transfer_price" in waiting

    land.get(f"/console/grants/{grant_id}")
    until = city_day(app, 30)
    approved = land.post(f"/console/grants/{grant_id}/approve", {"expires_at": until.isoformat()})
    assert approved.status_code == 302
    assert approved.headers["Location"].endswith(f"/console/grants/{grant_id}")
    assert "is approved" in text_of(land.get(f"/console/grants/{grant_id}"))

    grant = grant_as(client, headers, grant_id)
    assert grant["status"] == "approved"
    expires = datetime.fromisoformat(grant["expires_at"])
    local = expires.astimezone(ZoneInfo(app.config["TIMEZONE"]))
    assert (local.date(), local.hour, local.minute) == (until, 23, 59)
    assert withheld_from_finance(client, headers) == ["rights_holder"]
    assert audit_actors(client, admin, "grant.apply") == ["user:fang"]
    assert audit_actors(client, admin, "grant.approve") == ["user:lin"]


def test_the_outbox_shows_status_fields_owner_and_expiry(
    app: Flask,
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api(fields=["transfer_price"])
    until = city_day(app, 10)
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")
    land.post(f"/console/grants/{grant_id}/approve", {"expires_at": until.isoformat()})

    outbox = text_of(officer("finance", "fang").get("/console/grants?box=outbox"))

    assert f"/console/grants/{grant_id}" in outbox
    assert "Approved" in outbox
    assert "transfer_price" in outbox
    assert "land" in outbox
    assert until.isoformat() in outbox


def test_an_overdue_request_is_marked_in_the_inbox(
    app: Flask,
    parcel: str,
    apply_by_api: Callable[..., int],
    officer: Callable[[str, str], Browser],
) -> None:
    app.config["GRANT_RESPONSE_DAYS"] = -2
    grant_id = apply_by_api()

    inbox = text_of(officer("land", "lin").get("/console/grants"))

    assert "grant-row--overdue" in inbox
    assert "2 days overdue" in inbox
    assert f"/console/grants/{grant_id}" in inbox


def test_the_inbox_filters_by_status_and_pages_with_cursors(
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = apply_by_api("finance")
    second = apply_by_api("audit")
    refused = client.post(
        f"{API}/grants/{first}/refuse",
        json={"reason": "Not needed for the budget."},
        headers=headers("land", GRANT_SCOPES),
    )
    assert refused.status_code == 200
    monkeypatch.setattr(grant_views, "PAGE_SIZE", 1)
    land = officer("land", "lin")

    pending = text_of(land.get("/console/grants?box=inbox&status=pending"))
    assert f"/console/grants/{second}" in pending
    assert f"/console/grants/{first}" not in pending

    page_one = text_of(land.get("/console/grants?box=inbox&status=refused"))
    assert f"/console/grants/{first}" in page_one
    every = land.get("/console/grants?box=inbox&status=")
    next_link = re.search(r'href="([^"]+)" rel="next"', text_of(every))
    assert next_link, "a full page links to the next one"
    page_two = text_of(land.get(next_link.group(1).replace("&amp;", "&")))
    assert f"/console/grants/{first}" in page_two
    assert "First page" in page_two


# --- answers ------------------------------------------------------------------------------


def test_refusing_without_a_reason_is_422_naming_reason_and_keeps_the_page(
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api()
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")

    for blank in ("", "  \n "):
        refused = land.post(f"/console/grants/{grant_id}/refuse", {"reason": blank})

        assert refused.status_code == 422
        page = text_of(refused)
        assert 'href="#field-reason"' in page
        assert 'id="field-reason"' in page
        assert 'aria-invalid="true"' in page
        assert "Give the reason for refusing" in page
        assert f"/console/grants/{grant_id}/approve" in page
    assert grant_as(client, headers, grant_id)["status"] == "pending"


def test_a_refusal_with_a_reason_is_shown_to_the_applicant(
    parcel: str, apply_by_api: Callable[..., int], officer: Callable[[str, str], Browser]
) -> None:
    grant_id = apply_by_api()
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")

    refused = land.post(f"/console/grants/{grant_id}/refuse", {"reason": "Prices are sealed."})

    assert refused.status_code == 302
    page = text_of(officer("finance", "fang").get(f"/console/grants/{grant_id}"))
    assert "Refused" in page
    assert "Prices are sealed." in page
    assert "Withdraw request" not in page


@pytest.mark.parametrize("typed", ["past", "", "31/12/2026"])
def test_an_expiry_that_is_missing_invalid_or_past_is_refused_naming_expires_at(
    app: Flask,
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
    typed: str,
) -> None:
    grant_id = apply_by_api()
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")
    value = city_day(app, -1).isoformat() if typed == "past" else typed

    response = land.post(f"/console/grants/{grant_id}/approve", {"expires_at": value})

    assert response.status_code == 422
    page = text_of(response)
    assert 'href="#field-expires_at"' in page
    assert "Enter a date that has not passed" in page
    if value:
        assert f'value="{value}"' in page
    assert grant_as(client, headers, grant_id)["status"] == "pending"


def test_a_decision_the_service_refuses_is_shown_on_the_page(
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api()
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")
    withdrawn = client.delete(f"{API}/grants/{grant_id}", headers=headers("finance", GRANT_SCOPES))
    assert withdrawn.status_code == 200

    response = land.post(f"/console/grants/{grant_id}/refuse", {"reason": "Too late."})

    assert response.status_code == 409
    page = text_of(response)
    assert "There is a problem" in page
    assert "only a pending one can be refused" in page


def test_the_owner_revokes_after_confirming_and_the_field_is_withheld_again(
    app: Flask,
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    admin: dict[str, str],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api()
    land = officer("land", "lin")
    land.get(f"/console/grants/{grant_id}")
    land.post(f"/console/grants/{grant_id}/approve", {"expires_at": city_day(app, 5).isoformat()})
    assert withheld_from_finance(client, headers) == ["rights_holder"]

    confirm = land.get(f"/console/grants/{grant_id}/revoke")
    assert confirm.status_code == 200
    assert "Yes, revoke the grant" in text_of(confirm)
    assert withheld_from_finance(client, headers) == ["rights_holder"]
    revoked = land.post(f"/console/grants/{grant_id}/revoke")

    assert revoked.status_code == 302
    assert grant_as(client, headers, grant_id)["status"] == "revoked"
    assert withheld_from_finance(client, headers) == ["rights_holder", "transfer_price"]
    assert audit_actors(client, admin, "grant.revoke") == ["user:lin"]


def test_the_applicant_withdraws_a_pending_request_after_confirming(
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api()
    finance = officer("finance", "fang")

    assert "Yes, withdraw the request" in text_of(
        finance.get(f"/console/grants/{grant_id}/withdraw")
    )
    assert finance.post(f"/console/grants/{grant_id}/withdraw").status_code == 302

    assert grant_as(client, headers, grant_id)["status"] == "withdrawn"
    again = finance.get(f"/console/grants/{grant_id}/withdraw")
    assert again.status_code == 302
    assert finance.post(f"/console/grants/{grant_id}/withdraw").status_code == 409


def test_the_applicant_cannot_approve_its_own_request(
    parcel: str,
    apply_by_api: Callable[..., int],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api()
    finance = officer("finance", "fang")
    page = text_of(finance.get(f"/console/grants/{grant_id}"))
    assert "/approve" not in page
    assert "/refuse" not in page

    response = finance.post(f"/console/grants/{grant_id}/approve", {"expires_at": "2099-01-01"})

    assert response.status_code == 403
    assert grant_as(client, headers, grant_id)["status"] == "pending"


# --- asking -------------------------------------------------------------------------------


def test_the_request_form_starts_with_the_types_that_have_conditional_fields(
    officer: Callable[[str, str], Browser],
) -> None:
    page = text_of(officer("finance", "fang").get("/console/grants/new"))

    options = set(re.findall(r'<option value="([a-z_]+)"', page))
    assert options == {"coordination_item", "land_parcel", "permit", "project"}
    assert 'method="get"' in page


def test_a_link_to_a_type_that_cannot_be_asked_for_names_the_type(
    officer: Callable[[str, str], Browser],
) -> None:
    page = text_of(officer("finance", "fang").get("/console/grants/new?type=no_such_type"))

    assert 'href="#field-type"' in page
    assert 'name="purpose"' not in page


def test_asking_for_a_type_the_department_publishes_says_it_sees_it_already(
    officer: Callable[[str, str], Browser],
) -> None:
    page = text_of(officer("land", "lin").get("/console/grants/new?type=land_parcel"))

    assert "already sees all its fields" in page
    assert 'name="purpose"' not in page


def test_a_request_without_purpose_is_422_keeping_the_chosen_fields(
    parcel: str, officer: Callable[[str, str], Browser]
) -> None:
    finance = officer("finance", "fang")
    finance.get("/console/grants/new?type=land_parcel")

    response = finance.post(
        "/console/grants/new", {"type": "land_parcel", "fields": "transfer_price", "purpose": " "}
    )

    assert response.status_code == 422
    page = text_of(response)
    assert 'href="#field-purpose"' in page
    assert re.search(r'value="transfer_price" id="field-fields" checked', page)


def test_with_several_publishers_the_form_asks_which_department(
    parcel: str,
    make_department: Callable[..., str],
    officer: Callable[[str, str], Browser],
) -> None:
    make_department("land2", ["land_parcel"], name="District land bureau")
    finance = officer("finance", "fang")
    form = text_of(finance.get("/console/grants/new?type=land_parcel"))
    assert 'name="owner"' in form
    assert "District land bureau" in form

    unnamed = finance.post("/console/grants/new", {"type": "land_parcel", "purpose": PURPOSE})
    named = finance.post(
        "/console/grants/new", {"type": "land_parcel", "purpose": PURPOSE, "owner": "land2"}
    )

    assert unnamed.status_code == 422
    assert 'href="#field-owner"' in text_of(unnamed)
    assert named.status_code == 302


def test_a_second_request_while_one_is_pending_is_refused_with_the_services_reason(
    parcel: str, apply_by_api: Callable[..., int], officer: Callable[[str, str], Browser]
) -> None:
    apply_by_api()
    finance = officer("finance", "fang")
    finance.get("/console/grants/new?type=land_parcel")

    response = finance.post("/console/grants/new", {"type": "land_parcel", "purpose": PURPOSE})

    assert response.status_code == 409
    assert "already holds a pending or active grant" in text_of(response)
    assert str(escape(PURPOSE)) in text_of(response)


# --- who sees what ------------------------------------------------------------------------


def test_an_officer_of_a_third_department_cannot_open_or_answer_the_request(
    parcel: str, apply_by_api: Callable[..., int], officer: Callable[[str, str], Browser]
) -> None:
    grant_id = apply_by_api()
    outsider = officer("approval", "ann")

    assert outsider.get(f"/console/grants/{grant_id}").status_code == 404
    outsider.get("/console/grants")
    approved = outsider.post(f"/console/grants/{grant_id}/approve", {"expires_at": "2099-01-01"})
    assert approved.status_code == 404
    assert outsider.get(f"/console/grants/{grant_id}/revoke").status_code == 404
    inbox = text_of(outsider.get("/console/grants"))
    outbox = text_of(outsider.get("/console/grants?box=outbox"))
    assert f"/console/grants/{grant_id}" not in inbox + outbox


def test_a_viewer_cannot_open_sharing_requests(
    parcel: str, apply_by_api: Callable[..., int], signed_in: Callable[..., Browser]
) -> None:
    grant_id = apply_by_api()
    viewer = signed_in("land", "viewer")

    assert viewer.get("/console/grants").status_code == 403
    assert viewer.get(f"/console/grants/{grant_id}").status_code == 403
    assert viewer.get("/console/grants/new").status_code == 403
    viewer.get("/console/")
    assert (
        viewer.post(f"/console/grants/{grant_id}/approve", {"expires_at": "2099-01-01"}).status_code
        == 403
    )


def test_an_administrator_sees_every_request_with_both_parties_and_answers_none(
    admin: dict[str, str],
    parcel: str,
    apply_by_api: Callable[..., int],
    signed_in: Callable[..., Browser],
) -> None:
    parcel_grant = apply_by_api("finance")
    project_grant = apply_by_api("approval", type="project")
    administrator = english(signed_in("admin", "admin", "ada"))

    listing = text_of(administrator.get("/console/grants"))
    assert f"/console/grants/{parcel_grant}" in listing
    assert f"/console/grants/{project_grant}" in listing
    assert "Asked by" in listing
    assert "Asked of" in listing
    assert "Inbox" not in listing
    page = administrator.get(f"/console/grants/{project_grant}")
    assert page.status_code == 200
    assert "/approve" not in text_of(page)
    assert "Request access to conditional fields" not in listing
    assert administrator.get("/console/grants/new").status_code == 403


def test_a_script_in_the_purpose_is_shown_as_text_everywhere(
    parcel: str,
    apply_by_api: Callable[..., int],
    officer: Callable[[str, str], Browser],
) -> None:
    grant_id = apply_by_api(purpose=XSS)
    land = officer("land", "lin")
    finance = officer("finance", "fang")

    for page in (
        land.get("/console/grants"),
        finance.get("/console/grants?box=outbox"),
        land.get(f"/console/grants/{grant_id}"),
        finance.get(f"/console/grants/{grant_id}"),
    ):
        assert page.status_code == 200
        assert XSS not in text_of(page)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(page)
