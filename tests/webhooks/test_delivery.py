"""Webhook deliveries: signed CloudEvents that ``standardwebhooks`` verifies, from where a new
subscription starts, woken by each commit, in sequence order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.core.db import utcnow
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import funding_data, parcel_data
from tests.receiver import Receipt, Receiver, Reply
from tests.webhooks.helpers import (
    API,
    SUBSCRIPTIONS,
    Headers,
    SubscriptionApi,
    body_of,
    fails_verification,
    published,
    verified,
)


def test_a_delivery_is_a_cloudevent_that_standardwebhooks_verifies(
    app: Flask, api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("signed"))
    secret = subscription["secret"]
    before = utcnow()
    created = published(api.publish("land_parcel", "L-1", parcel_data()))

    (receipt,) = receiver.wait_for("signed", 1)

    event = verified(secret, receipt)
    assert secret.startswith("whsec_")
    assert event == receipt.event
    assert event["specversion"] == "1.0"
    assert event["id"] == f"land_parcel/L-1/{created['version']}"
    assert event["subject"] == "land_parcel/L-1"
    assert event["type"] == f"{app.config['EVENT_TYPE_PREFIX']}.record.created"
    assert event["sequence"] == subscription["cursor"] + 1
    assert event["data"]["record"]["area_mu"] == 86.4
    assert event["data"]["operation"] == "created"
    # the same event as the feed serves the same reader
    assert api.feed(after=subscription["cursor"], types="land_parcel") == [event]
    assert receipt.headers["webhook-id"] == event["id"]
    sent_at = int(receipt.headers["webhook-timestamp"])
    assert int(before.timestamp()) <= sent_at <= int(time.time())
    assert receipt.headers["content-type"].startswith("application/json")
    assert receipt.headers["webhook-signature"].startswith("v1,")
    # another secret, or a body changed on the way, does not verify
    assert fails_verification(api.subscribe(receiver.url("other"))["secret"], receipt)
    tampered = Receipt(
        receipt.path,
        receipt.headers,
        receipt.body.replace(b"86.4", b"96.4"),
        receipt.arrived,
        receipt.status,
    )
    assert fails_verification(secret, tampered)
    # the subscription moved on: its cursor is the event, nothing owed
    api.wait_caught_up(subscription["id"])
    shown = api.get(subscription["id"])
    assert (shown["cursor"], shown["lag"], shown["attempts"]) == (event["sequence"], 0, 0)
    assert "secret" not in shown


def test_a_new_subscription_starts_after_the_changes_already_committed(
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    published(api.publish("land_parcel", "L-0", parcel_data()))
    # created straight away, the changes above not yet numbered by anyone
    response = api.client.post(
        SUBSCRIPTIONS,
        json={"types": ["project", "land_parcel"], "endpoint_url": receiver.url("fresh")},
        headers=api.auth,
    )
    created = body_of(response, 201)
    make_dispatcher("late")

    published(api.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("fresh", 1)
    api.wait_caught_up(created["id"])

    assert created["cursor"] == 2  # the project and L-0
    assert (receipt.sequence, receipt.event["subject"]) == (3, "land_parcel/L-1")
    assert len(receiver.receipts("fresh")) == 1


@pytest.mark.parametrize("extra_settings", [{"EVENTS_POLL_INTERVAL": 30.0}])
def test_a_commit_wakes_the_dispatcher_without_waiting_for_a_poll(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    api.subscribe(receiver.url("awake"))
    time.sleep(0.3)  # the dispatcher has settled into its 30 s sleep

    started = time.monotonic()
    published(api.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("awake", 1)

    assert receipt.arrived - started < 1.0


def test_events_arrive_in_sequence_order(
    client: FlaskClient,
    api: SubscriptionApi,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    subscription = api.subscribe(receiver.url("ordered"), types=["land_parcel", "funding"])
    receiver.script("ordered", *(Reply(delay=0.01 * (n % 3)) for n in range(30)))
    batch = client.post(
        f"{API}/records/land_parcel/batch",
        json={"records": [{"key": f"B-{n}", "data": parcel_data()} for n in range(8)]},
        headers=headers("land"),
    )
    assert batch.status_code == 200, batch.get_data(as_text=True)
    for n in range(6):
        published(api.publish("land_parcel", f"L-{n}", parcel_data(area_mu=10 + n)))
        published(api.publish("funding", f"F-{n}", funding_data(disbursed=n)))
        published(api.publish("land_parcel", f"B-{n}", parcel_data(area_mu=50 + n)))
    api.head()
    wanted = [
        e["sequence"] for e in api.feed(after=subscription["cursor"], types="land_parcel,funding")
    ]
    assert len(wanted) == 26

    receipts = receiver.wait_for("ordered", len(wanted))
    api.wait_caught_up(subscription["id"])

    assert [r.sequence for r in receipts] == wanted
    assert len(receiver.receipts("ordered")) == len(wanted)  # nothing twice
    assert [r.webhook_id for r in receipts] == [r.event["id"] for r in receipts]
    deliveries = api.deliveries(subscription["id"])
    assert [(d["sequence"], d["outcome"], d["attempt"]) for d in deliveries] == [
        (sequence, "delivered", 1) for sequence in wanted
    ]
