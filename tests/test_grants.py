"""Grants: apply, approve with an expiry, refuse with a reason, revoke, withdraw."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.core.db import utcnow
from tests.factories import OPERATOR, parcel_data, permit_data

API = "/api/v1"
GRANTS = f"{API}/grants"
SCOPES = ["grants", "records:read", "events:read"]
PURPOSE = "Check transfer prices against the budget's land-acquisition lines."


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status``; with ``field``, that ``errors`` names it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def iso(moment: datetime) -> str:
    return moment.isoformat()


def in_days(days: float) -> str:
    return iso(utcnow() + timedelta(days=days))


@pytest.fixture
def grants(client, headers):
    """Shortcuts for the grant endpoints, as a named department with the ``grants`` scope."""

    class Grants:
        def apply(self, department: str = "finance", **body: Any) -> Any:
            body.setdefault("type", "land_parcel")
            body.setdefault("purpose", PURPOSE)
            return client.post(GRANTS, json=body, headers=headers(department, SCOPES))

        def applied(self, department: str = "finance", **body: Any) -> dict[str, Any]:
            response = self.apply(department, **body)
            assert response.status_code == 201, response.json
            grant: dict[str, Any] = response.json
            return grant

        def approve(self, grant_id: int, department: str = "land", **body: Any) -> Any:
            body.setdefault("expires_at", in_days(30))
            return client.post(
                f"{GRANTS}/{grant_id}/approve", json=body, headers=headers(department, SCOPES)
            )

        def refuse(self, grant_id: int, department: str = "land", **body: Any) -> Any:
            return client.post(
                f"{GRANTS}/{grant_id}/refuse", json=body, headers=headers(department, SCOPES)
            )

        def revoke(self, grant_id: int, department: str = "land") -> Any:
            return client.delete(f"{GRANTS}/{grant_id}", headers=headers(department, SCOPES))

        def get(self, grant_id: int, department: str = "finance") -> Any:
            return client.get(f"{GRANTS}/{grant_id}", headers=headers(department, SCOPES))

        def listing(self, department: str = "finance", **query: Any) -> dict[str, Any]:
            response = client.get(GRANTS, headers=headers(department, SCOPES), query_string=query)
            assert response.status_code == 200, response.json
            page: dict[str, Any] = response.json
            return page

    return Grants()


@pytest.fixture
def parcel(project, publish):
    """A land parcel with conditional and restricted data; returns its key."""
    response = publish("land_parcel", "L-1", parcel_data())
    assert response.status_code == 201, response.json
    return "L-1"


def parcel_as(client, headers, department: str) -> dict[str, Any]:
    response = client.get(f"{API}/records/land_parcel/L-1", headers=headers(department, SCOPES))
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


# --- applying ------------------------------------------------------------------------------


def test_an_application_is_pending_with_a_response_deadline(client, grants):
    before = utcnow()

    response = grants.apply(fields=["transfer_price"])

    assert response.status_code == 201, response.json
    grant = response.json
    assert response.headers["Location"].endswith(f"/api/v1/grants/{grant['id']}")
    assert grant["type"] == "land_parcel"
    assert grant["fields"] == ["transfer_price"]
    assert grant["purpose"] == PURPOSE
    assert (grant["applicant"], grant["owner"]) == ("finance", "land")
    assert grant["status"] == "pending"
    assert grant["overdue"] is False
    requested = datetime.fromisoformat(grant["requested_at"])
    assert before <= requested <= utcnow()
    assert datetime.fromisoformat(grant["respond_by"]) == requested + timedelta(days=15)
    for undecided in ("decided_at", "expires_at", "reason", "revoked_at"):
        assert grant[undecided] is None


def test_both_parties_see_the_request_and_its_deadline(grants):
    grant = grants.applied()

    as_applicant = grants.get(grant["id"], "finance")
    as_owner = grants.get(grant["id"], "land")

    assert as_applicant.status_code == as_owner.status_code == 200
    assert as_applicant.json == as_owner.json == grant
    assert [g["id"] for g in grants.listing("finance")["items"]] == [grant["id"]]
    assert [g["id"] for g in grants.listing("land")["items"]] == [grant["id"]]


def test_a_request_without_fields_asks_for_all_conditional_fields(grants):
    assert grants.applied()["fields"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "no_such_type"}, "type"),
        ({"type": "funding"}, "type"),  # no conditional fields, only a restricted one
        ({"type": "land_parcel", "fields": ["rights_holder"]}, "fields"),  # restricted
        ({"type": "land_parcel", "fields": ["area_mu"]}, "fields"),  # open
        ({"type": "land_parcel", "fields": ["no_such_field"]}, "fields"),
        ({"type": "land_parcel", "fields": "transfer_price"}, "fields"),
        ({"type": "land_parcel", "purpose": ""}, "purpose"),
        ({"type": "land_parcel", "purpose": "   \n"}, "purpose"),
        ({"type": "land_parcel", "purpose": "x" * 2001}, "purpose"),
        ({"type": "land_parcel", "purpose": None}, "purpose"),
        ({"type": "land_parcel", "owner": "finance"}, "owner"),  # does not publish it
        ({"type": "land_parcel", "owner": "nobody"}, "owner"),
        ({"type": "land_parcel", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_application_is_422_naming_the_field(client, headers, body, field):
    body.setdefault("purpose", PURPOSE)

    response = client.post(GRANTS, json=body, headers=headers("finance", SCOPES))

    assert_problem(response, 422, field)


def test_a_request_must_state_its_type_and_purpose(client, headers):
    response = client.post(GRANTS, json={}, headers=headers("finance", SCOPES))

    body = assert_problem(response, 422)
    assert {"type", "purpose"} <= body["errors"].keys()


def test_a_purpose_of_2000_characters_is_accepted(grants):
    assert grants.apply(purpose="x" * 2000).status_code == 201


def test_a_department_cannot_apply_for_a_type_it_publishes(grants):
    assert_problem(grants.apply("land"), 422, "type")


def test_nobody_can_grant_a_type_no_department_publishes(client, make_department, token_for):
    make_department("finance", ["funding"])
    token = token_for("finance", SCOPES)

    response = client.post(
        GRANTS,
        json={"type": "land_parcel", "purpose": PURPOSE},
        headers={"Authorization": f"Bearer {token}"},
    )

    body = assert_problem(response, 422, "type")
    assert "No department publishes" in body["detail"]


def test_with_several_publishers_the_applicant_names_the_owner(grants, make_department):
    make_department("land2", ["land_parcel"])

    unnamed = grants.apply()
    named = grants.apply(owner="land2")

    body = assert_problem(unnamed, 422, "owner")
    assert "land, land2" in body["errors"]["owner"][0]
    assert named.status_code == 201
    assert named.json["owner"] == "land2"


def test_a_second_request_while_one_is_pending_or_active_is_409(grants):
    first = grants.applied()
    while_pending = grants.apply(fields=["transfer_price"])
    grants.approve(first["id"])
    while_active = grants.apply()

    assert "already holds" in assert_problem(while_pending, 409)["detail"]
    assert_problem(while_active, 409)


def test_a_department_may_apply_again_after_a_refusal(grants):
    first = grants.applied()
    grants.refuse(first["id"], reason="Not needed for budgeting.")

    again = grants.apply()

    assert again.status_code == 201
    assert again.json["id"] != first["id"]


def test_applying_needs_the_grants_scope(client, headers):
    response = client.post(
        GRANTS,
        json={"type": "land_parcel", "purpose": PURPOSE},
        headers=headers("finance", ["records:read"]),
    )

    assert_problem(response, 403)


# --- approving: conditional data reaches the grantee ---------------------------------------


def test_an_approved_grant_opens_conditional_fields_but_never_restricted_ones(
    client, headers, grants, parcel
):
    before = parcel_as(client, headers, "finance")
    grant = grants.applied()
    expires_at = utcnow() + timedelta(days=30)

    response = grants.approve(grant["id"], expires_at=iso(expires_at))
    after = parcel_as(client, headers, "finance")

    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert response.json["decided_at"] is not None
    assert datetime.fromisoformat(response.json["expires_at"]) == expires_at
    assert before["withheld"] == ["rights_holder", "transfer_price"]
    assert "transfer_price" not in before["data"]
    assert after["data"]["transfer_price"] == 1200.5
    assert after["withheld"] == ["rights_holder"]
    assert "rights_holder" not in after["data"]


def test_a_grant_opens_nothing_to_other_departments(client, headers, grants, parcel):
    grants.approve(grants.applied()["id"])

    assert parcel_as(client, headers, "audit")["withheld"] == ["rights_holder", "transfer_price"]


def test_only_the_owner_approves(grants):
    grant = grants.applied()

    by_applicant = grants.approve(grant["id"], "finance")
    by_stranger = grants.approve(grant["id"], "approval")

    assert "Only the owner" in assert_problem(by_applicant, 403)["detail"]
    assert_problem(by_stranger, 404)
    assert grants.get(grant["id"]).json["status"] == "pending"


@pytest.mark.parametrize(
    "expires_at",
    [None, "", "2020-01-01T00:00:00+00:00", "2099-01-01T00:00:00", "tomorrow", 12],
)
def test_approval_needs_a_future_expiry_with_an_offset(grants, expires_at):
    grant = grants.applied()

    response = grants.approve(grant["id"], expires_at=expires_at)

    assert_problem(response, 422, "expires_at")
    assert grants.get(grant["id"]).json["status"] == "pending"


def test_approval_without_an_expiry_is_422(client, headers, grants):
    grant = grants.applied()

    response = client.post(
        f"{GRANTS}/{grant['id']}/approve", json={}, headers=headers("land", SCOPES)
    )

    assert_problem(response, 422, "expires_at")


def test_only_a_pending_request_can_be_decided(grants):
    approved = grants.applied()
    grants.approve(approved["id"])

    assert_problem(grants.approve(approved["id"]), 409)
    assert_problem(grants.refuse(approved["id"], reason="Changed my mind."), 409)


def test_an_owner_that_no_longer_publishes_the_type_cannot_approve(
    app, client, grants, headers, token_for
):
    from hub.auth import service as auth
    from hub.core.extensions import db

    grant = grants.applied()
    land = {"Authorization": f"Bearer {token_for('land', SCOPES)}"}
    with app.app_context(), db.unit_of_work() as session:
        auth.update_department(session, OPERATOR, "land", publishes=[])

    response = client.post(
        f"{GRANTS}/{grant['id']}/approve", json={"expires_at": in_days(1)}, headers=land
    )

    assert_problem(response, 409)


def test_a_grant_naming_fields_opens_those_fields(client, headers, grants, parcel):
    grant = grants.applied(fields=["transfer_price"])
    grants.approve(grant["id"])

    seen = parcel_as(client, headers, "finance")

    assert seen["data"]["transfer_price"] == 1200.5
    assert seen["withheld"] == ["rights_holder"]


def test_a_grant_opens_only_its_own_type(client, headers, grants, parcel, publish):
    publish("permit", "P-1", permit_data())
    grant = grants.applied(type="permit")
    grants.approve(grant["id"], "approval")

    permit = client.get(f"{API}/records/permit/P-1", headers=headers("finance", SCOPES)).json

    assert permit["data"]["applicant_contact"] == "Li Na"
    assert parcel_as(client, headers, "finance")["withheld"] == ["rights_holder", "transfer_price"]


# --- expiry --------------------------------------------------------------------------------


def test_a_grant_expires_by_itself(client, headers, grants, parcel):
    grant = grants.applied()
    expires_at = utcnow() + timedelta(seconds=2)
    assert grants.approve(grant["id"], expires_at=iso(expires_at)).status_code == 200
    while_active = parcel_as(client, headers, "finance")

    time.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + 0.1)
    after_expiry = parcel_as(client, headers, "finance")

    assert while_active["data"]["transfer_price"] == 1200.5
    assert "transfer_price" not in after_expiry["data"]
    assert after_expiry["withheld"] == ["rights_holder", "transfer_price"]
    assert grants.get(grant["id"]).json["status"] == "expired"
    assert grants.get(grant["id"], "land").json["status"] == "expired"
    assert [g["id"] for g in grants.listing(status="expired")["items"]] == [grant["id"]]
    assert grants.listing(status="approved")["items"] == []
    # an expired grant cannot be revoked, but a new one may be asked for
    assert_problem(grants.revoke(grant["id"]), 409)
    assert grants.apply().status_code == 201


# --- refusing ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": None}])
def test_a_refusal_needs_a_reason(grants, body):
    grant = grants.applied()

    response = grants.refuse(grant["id"], **body)

    assert_problem(response, 422, "reason")
    assert grants.get(grant["id"]).json["status"] == "pending"


def test_a_refusal_and_its_reason_are_seen_by_the_applicant(client, headers, grants, parcel):
    grant = grants.applied()

    response = grants.refuse(grant["id"], reason="Prices are confidential until supply.")
    seen = grants.get(grant["id"]).json

    assert response.status_code == 200, response.json
    assert seen["status"] == "refused"
    assert seen["reason"] == "Prices are confidential until supply."
    assert seen["decided_at"] is not None
    assert seen["expires_at"] is None
    assert "transfer_price" not in parcel_as(client, headers, "finance")["data"]


def test_only_the_owner_refuses(grants):
    grant = grants.applied()

    assert_problem(grants.refuse(grant["id"], "finance", reason="No."), 403)
    assert_problem(grants.refuse(grant["id"], "audit", reason="No."), 404)


# --- revoking and withdrawing --------------------------------------------------------------


def test_the_owner_revokes_an_active_grant_and_the_data_is_withheld_again(
    client, headers, grants, parcel
):
    grant = grants.applied()
    grants.approve(grant["id"])
    assert "transfer_price" in parcel_as(client, headers, "finance")["data"]

    response = grants.revoke(grant["id"])

    assert response.status_code == 200, response.json
    assert response.json["status"] == "revoked"
    assert response.json["revoked_at"] is not None
    assert grants.get(grant["id"]).json["status"] == "revoked"
    assert parcel_as(client, headers, "finance")["withheld"] == ["rights_holder", "transfer_price"]
    assert_problem(grants.revoke(grant["id"]), 409)
    assert [g["id"] for g in grants.listing(status="revoked")["items"]] == [grant["id"]]


def test_the_applicant_cannot_revoke_an_approved_grant(grants):
    grant = grants.applied()
    grants.approve(grant["id"])

    assert_problem(grants.revoke(grant["id"], "finance"), 403)
    assert grants.get(grant["id"]).json["status"] == "approved"


def test_the_applicant_withdraws_a_pending_request(grants):
    grant = grants.applied()

    response = grants.revoke(grant["id"], "finance")

    assert response.status_code == 200, response.json
    assert response.json["status"] == "withdrawn"
    assert response.json["revoked_at"] is not None
    assert response.json["decided_at"] is None
    assert grants.get(grant["id"], "land").json["status"] == "withdrawn"
    assert_problem(grants.approve(grant["id"]), 409)
    assert_problem(grants.revoke(grant["id"], "finance"), 409)
    assert grants.apply().status_code == 201


def test_the_owner_refuses_rather_than_revokes_a_pending_request(grants):
    grant = grants.applied()

    body = assert_problem(grants.revoke(grant["id"], "land"), 409)

    assert "Refuse it" in body["detail"]


def test_a_refused_request_cannot_be_withdrawn_or_revoked(grants):
    grant = grants.applied()
    grants.refuse(grant["id"], reason="No.")

    assert_problem(grants.revoke(grant["id"], "finance"), 409)
    assert_problem(grants.revoke(grant["id"], "land"), 409)


def test_a_stranger_cannot_revoke(grants):
    grant = grants.applied()
    grants.approve(grant["id"])

    assert_problem(grants.revoke(grant["id"], "audit"), 404)


# --- reading grants ------------------------------------------------------------------------


def test_a_grant_the_caller_is_not_party_to_is_404(grants):
    grant = grants.applied()

    assert_problem(grants.get(grant["id"], "audit"), 404)
    assert grants.listing("audit")["items"] == []


@pytest.mark.parametrize("grant_id", ["999", "9223372036854775807", "99999999999999999999999"])
def test_a_missing_grant_is_404(grants, grant_id):
    assert_problem(grants.get(grant_id), 404)
    assert_problem(grants.approve(grant_id), 404)
    assert_problem(grants.revoke(grant_id), 404)


def test_reading_grants_needs_the_grants_or_admin_scope(client, headers, grants):
    grant = grants.applied()
    readers = headers("finance", ["records:read"])

    assert_problem(client.get(GRANTS, headers=readers), 403)
    assert_problem(client.get(f"{GRANTS}/{grant['id']}", headers=readers), 403)


def test_an_administrator_sees_every_grant(client, headers, grants):
    first = grants.applied()
    second = grants.applied("approval", fields=["transfer_price"])
    admin = headers("audit", ["admin"])

    listing = client.get(GRANTS, headers=admin)
    one = client.get(f"{GRANTS}/{first['id']}", headers=admin)

    assert listing.status_code == 200, listing.json
    assert [g["id"] for g in listing.json["items"]] == [second["id"], first["id"]]
    assert one.status_code == 200
    assert one.json == first


def test_an_administrator_does_not_decide_for_the_owner(client, headers, grants):
    grant = grants.applied()

    response = client.post(
        f"{GRANTS}/{grant['id']}/approve",
        json={"expires_at": in_days(1)},
        headers=headers("audit", ["admin"]),
    )

    assert_problem(response, 403)


def test_the_listing_filters_by_role_and_status(grants):
    asked = grants.applied("land", type="project")  # land asks ndrc
    received = grants.applied("finance")  # finance asks land
    grants.approve(received["id"])

    def ids(**query: Any) -> list[int]:
        return [g["id"] for g in grants.listing("land", **query)["items"]]

    assert ids() == [received["id"], asked["id"]]
    assert ids(role="applicant") == [asked["id"]]
    assert ids(role="owner") == [received["id"]]
    assert ids(status="pending") == [asked["id"]]
    assert ids(status="approved") == [received["id"]]
    assert ids(status="approved", role="applicant") == []
    assert ids(type="project") == [asked["id"]]


@pytest.mark.parametrize(
    "query",
    [{"status": "lost"}, {"role": "judge"}, {"limit": 0}, {"limit": "x"}, {"cursor": "garbage"}],
)
def test_a_bad_listing_query_is_422(client, headers, query):
    response = client.get(GRANTS, headers=headers("finance", SCOPES), query_string=query)

    assert_problem(response, 422, next(iter(query)))


def test_the_listing_is_paginated_newest_first(grants):
    made = []
    for n in range(5):
        grant = grants.applied(purpose=f"Request {n}")
        grants.refuse(grant["id"], reason="Not this time.")
        made.append(grant["id"])

    seen, cursor, pages = [], None, 0
    while True:
        page = grants.listing(limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [g["id"] for g in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(made))
    assert pages == 3


def test_a_pending_request_past_its_deadline_is_overdue(grants, monkeypatch):
    grant = grants.applied()
    later = utcnow() + timedelta(days=16)
    monkeypatch.setattr("hub.sharing.routes.utcnow", lambda: later)

    seen = grants.get(grant["id"], "land").json

    assert seen["status"] == "pending"
    assert seen["overdue"] is True
