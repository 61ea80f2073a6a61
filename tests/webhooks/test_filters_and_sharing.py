"""What each subscription receives: its filters choose the events, and sharing classes and grants
in force at delivery time choose the fields (ARCHITECTURE.md, Invariants: sharing on every
exit path).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.audit.models import AuditEntry
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)
from tests.receiver import Receiver
from tests.webhooks.helpers import (
    API,
    SUBSCRIBER_SCOPES,
    Headers,
    SubscriptionApi,
    body_of,
    published,
    verified,
)

GRANT_SCOPES = ["grants", "records:read"]


def api_as(api: SubscriptionApi, headers: Headers, department: str) -> SubscriptionApi:
    return SubscriptionApi(api.client, headers(department, SUBSCRIBER_SCOPES), api.publish)


def test_filters_choose_the_events_each_subscription_receives(
    client: FlaskClient,
    api: SubscriptionApi,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    other = OTHER_PROJECT_CODE
    published(
        api.publish(
            "project", other, project_data(admin_division="330106", category="culture_tourism")
        )
    )
    by_type = api.subscribe(receiver.url("types"), types=["funding", "permit"])
    by_code = api.subscribe(
        receiver.url("code"), types=["land_parcel", "permit"], filter={"project_code": other}
    )
    by_division = api.subscribe(
        receiver.url("division"),
        types=["project", "land_parcel", "funding", "permit"],
        filter={"admin_division": "330106"},
    )
    by_category = api.subscribe(
        receiver.url("category"),
        types=["project", "land_parcel"],
        filter={"category": "infrastructure"},
    )
    both = api.subscribe(
        receiver.url("both"),
        types=["land_parcel"],
        filter={"category": "culture_tourism", "project_code": other},
    )

    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("funding", "F-1", funding_data()))
    published(api.publish("permit", "P-1", permit_data(project_code=other)))
    published(api.publish("land_parcel", "L-2", parcel_data(project_code=other)))
    published(
        api.publish(
            "project",
            other,
            project_data(admin_division="330106", category="culture_tourism", stage="completed"),
        )
    )
    published(api.publish("funding", "F-2", funding_data(project_code=other)))
    published(api.publish("project", PROJECT_CODE, project_data(stage="completed")))
    response = client.delete(f"{API}/records/land_parcel/L-2", headers=headers("land"))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    ids = [s["id"] for s in (by_type, by_code, by_division, by_category, both)]
    api.wait_caught_up(*ids)

    def subjects(path: str) -> list[str]:
        return [
            f"{r.event['subject']}:{r.event['data']['operation']}" for r in receiver.receipts(path)
        ]

    assert subjects("types") == ["funding/F-1:created", "permit/P-1:created", "funding/F-2:created"]
    assert subjects("code") == [
        "permit/P-1:created",
        "land_parcel/L-2:created",
        "land_parcel/L-2:deleted",
    ]
    assert subjects("division") == [
        "permit/P-1:created",
        "land_parcel/L-2:created",
        f"project/{other}:updated",
        "funding/F-2:created",
        "land_parcel/L-2:deleted",
    ]
    assert subjects("category") == [
        "land_parcel/L-1:created",
        f"project/{PROJECT_CODE}:updated",
    ]
    assert subjects("both") == ["land_parcel/L-2:created", "land_parcel/L-2:deleted"]
    # every subscription stands at the head, past what its filter passed over
    for subscription_id in ids:
        assert api.get(subscription_id)["lag"] == 0


@pytest.fixture
def grant_transfer_price(client: FlaskClient, headers: Headers) -> Callable[[], None]:
    """Approve finance's application to see land parcels' transfer prices."""

    def grant() -> None:
        applied = client.post(
            f"{API}/grants",
            json={
                "type": "land_parcel",
                "fields": ["transfer_price"],
                "purpose": "Check transfer prices against the budget.",
            },
            headers=headers("finance", GRANT_SCOPES),
        )
        approved = client.post(
            f"{API}/grants/{body_of(applied, 201)['id']}/approve",
            json={"expires_at": (utcnow() + timedelta(days=30)).isoformat()},
            headers=headers("land", GRANT_SCOPES),
        )
        assert body_of(approved, 200)["status"] == "approved"

    return grant


def test_delivered_events_withhold_what_the_subscriber_may_not_see(
    app: Flask,
    api: SubscriptionApi,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    land = api_as(api, headers, "land")
    owner = land.subscribe(receiver.url("owner"))
    stranger = api_as(api, headers, "finance").subscribe(receiver.url("stranger"))
    projects = api_as(api, headers, "approval").subscribe(receiver.url("projects"), ["project"])

    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("project", PROJECT_CODE, project_data(stage="completed")))
    (as_owner,) = receiver.wait_for("owner", 1)
    (as_stranger,) = receiver.wait_for("stranger", 1)
    (as_approval,) = receiver.wait_for("projects", 1)

    full = verified(owner["secret"], as_owner)["data"]
    assert full["record"]["transfer_price"] == 1200.5  # conditional
    assert full["record"]["rights_holder"] == "Metro Group"  # restricted
    assert full["withheld"] == []
    shown = verified(stranger["secret"], as_stranger)["data"]
    assert shown["withheld"] == ["rights_holder", "transfer_price"]
    assert "transfer_price" not in shown["record"]
    assert "rights_holder" not in shown["record"]
    assert shown["record"]["area_mu"] == 86.4
    # that a withheld field changed is withheld too
    assert {"rights_holder", "transfer_price"} <= set(full["changed_fields"])
    assert shown["changed_fields"] == [
        name for name in full["changed_fields"] if name not in shown["withheld"]
    ]
    assert "1200.5" not in as_stranger.body.decode()
    assert "Metro Group" not in as_stranger.body.decode()
    project_shown = verified(projects["secret"], as_approval)["data"]
    assert project_shown["withheld"] == ["contacts"]
    assert "contacts" not in project_shown["record"]
    # what the owner's delivery disclosed is in the audit log; the stranger's disclosed nothing
    land.wait_caught_up(owner["id"])
    with app.app_context(), db.unit_of_work(write=False) as session:
        disclosures = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "subscription.deliver")
        ).all()
        assert [(e.department_id, e.target) for e in disclosures] == [
            ("land", f"subscription/{owner['id']}")
        ]
        assert disclosures[0].details["fields"] == ["rights_holder", "transfer_price"]


def test_a_grant_in_force_at_delivery_time_opens_its_fields(
    api: SubscriptionApi,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
    grant_transfer_price: Callable[[], None],
) -> None:
    finance = api_as(api, headers, "finance")
    subscription = finance.subscribe(receiver.url("granted"))
    finance.act(subscription["id"], "pause")
    published(api.publish("land_parcel", "L-1", parcel_data()))

    grant_transfer_price()  # after the change, before its delivery
    finance.act(subscription["id"], "resume")
    (receipt,) = receiver.wait_for("granted", 1)

    data = verified(subscription["secret"], receipt)["data"]
    assert data["record"]["transfer_price"] == 1200.5
    assert data["withheld"] == ["rights_holder"]
    assert "rights_holder" not in data["record"]
