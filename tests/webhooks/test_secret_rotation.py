"""Rotating a webhook secret: shown once, both secrets sign during the grace period."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from hub.core.db import utcnow
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import parcel_data
from tests.receiver import Receiver, Reply
from tests.webhooks.helpers import SubscriptionApi, body_of, fails_verification, published, verified


def test_a_rotated_secret_is_shown_once_and_both_secrets_sign_during_the_grace(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("rotated"))
    old = subscription["secret"]
    published(api.publish("land_parcel", "L-1", parcel_data()))
    (before,) = receiver.wait_for("rotated", 1)

    response = api.post(subscription["id"], "rotate-secret", {})
    rotated = body_of(response, 200)
    published(api.publish("land_parcel", "L-2", parcel_data()))
    during = receiver.wait_for("rotated", 2)[1]

    assert response.headers["Cache-Control"] == "no-store"
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    grace = datetime.fromisoformat(rotated["previous_secret_until"]) - utcnow()
    assert timedelta(hours=23) < grace <= timedelta(hours=24)
    assert "secret" not in api.get(subscription["id"])
    assert verified(old, before)
    assert fails_verification(new, before)
    # during the grace the old and the new secret each verify, unchanged library
    assert verified(old, during)["sequence"] == verified(new, during)["sequence"]
    assert len(during.headers["webhook-signature"].split(" ")) == 2


def test_a_rotation_without_grace_signs_with_the_new_secret_only(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("at-once"))
    old = subscription["secret"]

    rotated = api.act(subscription["id"], "rotate-secret", {"grace_seconds": 0})
    published(api.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("at-once", 1)

    assert rotated["previous_secret_until"] is None
    assert verified(rotated["secret"], receipt)
    assert fails_verification(old, receipt)
    assert len(receipt.headers["webhook-signature"].split(" ")) == 1


def test_a_retry_after_a_rotation_is_signed_with_the_new_secret(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hold = threading.Event()
    receiver.script("rotating", Reply(500, hold=hold))
    subscription = api.subscribe(receiver.url("rotating"))
    old = subscription["secret"]
    published(api.publish("land_parcel", "L-1", parcel_data()))
    (first,) = receiver.wait_for("rotating", 1)

    new = api.act(subscription["id"], "rotate-secret", {"grace_seconds": 0})["secret"]
    hold.set()
    retried = receiver.wait_for("rotating", 2)[1]

    assert first.webhook_id == retried.webhook_id
    assert verified(old, first)
    assert verified(new, retried)
    assert fails_verification(old, retried)
