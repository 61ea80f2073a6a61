"""A subscription's status and place: failing once its retries run out, paused by a 410 or by
its owner, resumed, and replayed from a sequence or a time.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hub.core.db import utcnow
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import parcel_data
from tests.receiver import Receiver, Reply
from tests.webhooks.helpers import RETRY_SCHEDULE, SubscriptionApi, attempts_of, body_of, published


def test_an_exhausted_schedule_marks_the_subscription_failing_and_keeps_its_place(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    attempts = len(RETRY_SCHEDULE) + 1
    receiver.script("down", *(Reply(500) for _ in range(attempts)))
    subscription = api.subscribe(receiver.url("down"))
    start = subscription["cursor"]
    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("land_parcel", "L-2", parcel_data()))

    failing = api.wait_status(subscription["id"], "failing")

    assert (failing["cursor"], failing["lag"]) == (start, 2)
    assert failing["attempts"] == attempts
    assert "HTTP 500" in failing["status_reason"]
    assert attempts_of(api.deliveries(subscription["id"])) == [
        (start + 1, 1, "failed", 500),
        (start + 1, 2, "failed", 500),
        (start + 1, 3, "failed", 500),
        (start + 1, 4, "exhausted", 500),
    ]
    # a failing subscription is left alone: no more attempts, however long it waits
    time.sleep(0.5)
    assert len(receiver.receipts("down")) == attempts
    assert api.get(subscription["id"])["status"] == "failing"

    resumed = api.act(subscription["id"], "resume")
    receipts = receiver.wait_for("down", attempts + 2)
    api.wait_caught_up(subscription["id"])

    assert (resumed["status"], resumed["status_reason"], resumed["attempts"]) == (
        "active",
        None,
        0,
    )
    assert [(r.sequence, r.status) for r in receipts[attempts:]] == [
        (start + 1, 200),
        (start + 2, 200),
    ]
    assert attempts_of(api.deliveries(subscription["id"])[attempts:]) == [
        (start + 1, 1, "delivered", 200),
        (start + 2, 1, "delivered", 200),
    ]
    shown = api.get(subscription["id"])
    assert (shown["status"], shown["cursor"], shown["lag"]) == ("active", start + 2, 0)


def test_replay_after_a_sequence_sends_the_events_again(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("replayed"))
    for n in range(3):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    first = receiver.wait_for("replayed", 3)
    api.wait_caught_up(subscription["id"])

    replayed = api.act(subscription["id"], "replay", {"after": first[0].sequence})
    again = receiver.wait_for("replayed", 5)[3:]
    api.wait_caught_up(subscription["id"])

    assert (replayed["cursor"], replayed["status"]) == (first[0].sequence, "active")
    assert [r.sequence for r in again] == [r.sequence for r in first[1:]]
    assert [r.webhook_id for r in again] == [r.webhook_id for r in first[1:]]
    assert [r.event for r in again] == [r.event for r in first[1:]]
    assert len(receiver.receipts("replayed")) == 5
    assert api.get(subscription["id"])["cursor"] == first[-1].sequence


def test_replay_since_a_time_sends_the_events_committed_since(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("since"))
    for n in range(3):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    first = receiver.wait_for("since", 3)
    api.wait_caught_up(subscription["id"])

    since = first[1].event["time"]
    replayed = api.act(subscription["id"], "replay", {"since": since})
    again = receiver.wait_for("since", 5)[3:]
    api.wait_caught_up(subscription["id"])

    assert replayed["cursor"] == first[1].sequence - 1
    assert [r.webhook_id for r in again] == [r.webhook_id for r in first[1:]]
    # since after the last event: nothing to send again, the cursor stays at the head
    later = api.act(subscription["id"], "replay", {"since": utcnow().isoformat()})
    assert later["cursor"] == first[-1].sequence
    time.sleep(0.3)
    assert len(receiver.receipts("since")) == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "_schema"), ({"after": 1, "since": "2025-01-01T00:00:00+00:00"}, "_schema")],
    ids=["neither", "both"],
)
def test_replay_needs_exactly_one_of_after_and_since(
    api: SubscriptionApi, receiver: Receiver, departments: Any, body: dict[str, Any], field: str
) -> None:
    subscription = api.subscribe(receiver.url("bad-replay"))

    response = api.post(subscription["id"], "replay", body)

    assert field in body_of(response, 422)["errors"]


def test_replay_beyond_the_head_is_422(
    api: SubscriptionApi, project: str, receiver: Receiver, departments: Any
) -> None:
    subscription = api.subscribe(receiver.url("beyond"))

    response = api.post(subscription["id"], "replay", {"after": subscription["cursor"] + 1})

    assert "after" in body_of(response, 422)["errors"]


def test_410_from_the_endpoint_pauses_the_subscription(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("gone", Reply(410, body="unsubscribed"))
    subscription = api.subscribe(receiver.url("gone"))
    start = subscription["cursor"]
    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("land_parcel", "L-2", parcel_data()))

    paused = api.wait_status(subscription["id"], "paused")

    assert (paused["cursor"], paused["lag"]) == (start, 2)
    assert "410" in paused["status_reason"]
    (gone,) = api.deliveries(subscription["id"])
    assert (gone["sequence"], gone["outcome"], gone["response_code"]) == (start + 1, "gone", 410)
    assert gone["error"] == "HTTP 410: unsubscribed"
    time.sleep(0.5)  # no retries while paused
    assert len(receiver.receipts("gone")) == 1

    api.act(subscription["id"], "resume")
    receipts = receiver.wait_for("gone", 3)

    assert [(r.sequence, r.status) for r in receipts[1:]] == [(start + 1, 200), (start + 2, 200)]


def test_a_paused_subscription_is_not_delivered_to_until_resumed(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("paused"))
    assert api.act(subscription["id"], "pause")["status"] == "paused"
    published(api.publish("land_parcel", "L-1", parcel_data()))
    time.sleep(0.5)
    assert receiver.receipts("paused") == []

    api.act(subscription["id"], "resume")

    (receipt,) = receiver.wait_for("paused", 1)
    assert receipt.sequence == subscription["cursor"] + 1
