"""Dispatchers: one that dies loses nothing, several share the work without duplicates or
reordering, slow endpoints do not starve healthy ones, a poisoned event backs off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from hub.core.db import utcnow
from hub.core.extensions import db
from hub.subscriptions.dispatcher import Dispatcher
from hub.subscriptions.models import Subscription
from tests.factories import funding_data, parcel_data
from tests.receiver import DEADLINE, Receiver, Reply
from tests.webhooks.helpers import (
    API,
    RETRY_SCHEDULE,
    Headers,
    SubscriptionApi,
    attempts_of,
    dying_before_confirming,
    eventually,
    one_round,
    published,
)


def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscription = api.subscribe(receiver.url("survivor"))
    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("land_parcel", "L-2", parcel_data()))
    doomed = make_dispatcher("doomed", start=False)
    # the endpoint answers 200, but the process dies before it writes that down
    with dying_before_confirming(doomed, monkeypatch) as died:
        with app.app_context():
            doomed.run_once()
        assert died.wait(DEADLINE), "the doomed dispatcher never delivered"
        (first,) = receiver.receipts("survivor")

        # while the dead one's lease runs, nobody else takes the subscription
        heir = make_dispatcher("heir", start=False)
        one_round(app, heir)
        assert len(receiver.receipts("survivor")) == 1
        assert api.get(subscription["id"])["cursor"] == subscription["cursor"]
        with app.app_context(), db.unit_of_work() as session:
            lease = session.get(Subscription, subscription["id"])
            assert lease is not None
            assert lease.lease_owner == doomed.owner
            # time passes: the dead dispatcher's lease runs out
            session.execute(
                update(Subscription)
                .where(Subscription.id == subscription["id"])
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )

        eventually(
            lambda: one_round(app, heir) and len(receiver.receipts("survivor")) >= 3,
            "the heir delivers both events",
        )

    receipts = receiver.receipts("survivor")
    assert [r.webhook_id for r in receipts] == [
        "land_parcel/L-1/1",
        "land_parcel/L-1/1",  # again: its delivery was never confirmed
        "land_parcel/L-2/1",
    ]
    assert receipts[1].body == first.body
    api.wait_caught_up(subscription["id"])
    assert attempts_of(api.deliveries(subscription["id"])) == [
        (first.sequence, 1, "delivered", 200),
        (first.sequence + 1, 1, "delivered", 200),
    ]


# a timeout longer than the receiver holds requests here
@pytest.mark.parametrize("extra_settings", [{"DISPATCHER_CONCURRENCY": 2, "WEBHOOK_TIMEOUT": 8.0}])
def test_two_dispatchers_claim_different_subscriptions(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    hold = threading.Event()
    paths = [f"shared-{n}" for n in range(5)]
    for path in paths:
        receiver.script(path, then=Reply(hold=hold))
    subscriptions = [api.subscribe(receiver.url(path)) for path in paths]
    published(api.publish("land_parcel", "L-1", parcel_data()))
    first, second = make_dispatcher("first", start=False), make_dispatcher("second", start=False)

    with app.app_context():
        first.run_once()
        first.run_once()  # it has no thread free: claims nothing more
    taken_first = {
        r.path
        for r in eventually(
            lambda: len(receiver.receipts()) == 2 and receiver.receipts(), "first's two deliveries"
        )
    }
    with app.app_context():
        second.run_once()
    every = eventually(
        lambda: len(receiver.receipts()) == 4 and receiver.receipts(), "second's two deliveries"
    )
    taken_second = {r.path for r in every} - taken_first
    hold.set()
    assert first.wait_idle(DEADLINE)
    assert second.wait_idle(DEADLINE)

    assert len(taken_first) == len(taken_second) == 2
    assert len({r.path for r in every}) == 4  # none claimed twice
    eventually(
        lambda: one_round(app, first) and len(receiver.receipts()) == 5, "the fifth delivery"
    )
    api.wait_caught_up(*(s["id"] for s in subscriptions))
    assert sorted(r.path for r in receiver.receipts()) == paths


def test_two_dispatchers_share_the_work_in_order_without_duplicates(
    client: FlaskClient,
    api: SubscriptionApi,
    headers: Headers,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    choices = [["land_parcel"], ["funding"], ["land_parcel", "funding"], ["land_parcel"]]
    subscriptions = {
        f"pair-{n}": api.subscribe(receiver.url(f"pair-{n}"), types=types)
        for n, types in enumerate(choices)
    }
    for path in subscriptions:
        receiver.script(path, then=Reply(delay=0.005))
    make_dispatcher("one")
    make_dispatcher("two")
    failures: list[str] = []

    def write(type_name: str, body: Callable[..., dict[str, Any]], department: str) -> None:
        writer = client.application.test_client()
        auth = headers(department)
        for n in range(4):
            response = writer.post(
                f"{API}/records/{type_name}/batch",
                json={"records": [{"key": f"K{n}-{m}", "data": body()} for m in range(4)]},
                headers=auth,
            )
            if response.status_code != 200:
                failures.append(f"{type_name}: {response.status_code}")

    headers("land"), headers("finance")  # tokens made before the threads start
    writers = [
        threading.Thread(target=write, args=("land_parcel", parcel_data, "land")),
        threading.Thread(target=write, args=("funding", funding_data, "finance")),
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(DEADLINE)
    assert not failures, failures
    start = min(s["cursor"] for s in subscriptions.values())
    api.wait_caught_up(*(s["id"] for s in subscriptions.values()))

    for path, subscription in subscriptions.items():
        wanted = [
            e["sequence"] for e in api.feed(after=start, types=",".join(subscription["types"]))
        ]
        receipts = receiver.receipts(path)
        assert [r.sequence for r in receipts] == wanted, path
        assert len(wanted) == 16 * len(subscription["types"])
        assert receiver.most_at_once[path] == 1, path
        deliveries = api.deliveries(subscription["id"])
        assert [(d["sequence"], d["attempt"], d["outcome"]) for d in deliveries] == [
            (sequence, 1, "delivered") for sequence in wanted
        ], path
    # a healthy run has nothing to warn about (no failed rounds, no discarded connections)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("extra_settings", [{"DISPATCHER_CONCURRENCY": 4}])
def test_slow_endpoints_do_not_starve_a_healthy_one(
    app: Flask, api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    slow_paths = [f"slow-{n}" for n in range(6)]
    for path in slow_paths:
        receiver.script(path, then=Reply(delay=0.8))
    healthy = api.subscribe(receiver.url("healthy"), types=["funding"])
    slow = [api.subscribe(receiver.url(path)) for path in slow_paths]
    for n in range(3):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    eventually(lambda: len(receiver.receipts()) >= 4, "the slow endpoints are busy")

    started = time.monotonic()
    published(api.publish("funding", "F-1", funding_data()))
    (receipt,) = receiver.wait_for("healthy", 1)
    waited = receipt.arrived - started

    # serially, the healthy endpoint would wait for 6 x 3 answers of 0.8 s
    serial = len(slow_paths) * 3 * 0.8
    # at worst it waits for one slow turn to end: far below serial, though not instant
    bound = app.config["DISPATCHER_TURN_SECONDS"] + 0.8 + 0.7
    assert waited < bound, f"{waited:.2f}s, bound {bound:.1f}s (serial: {serial:.1f}s)"
    assert receipt.event["subject"] == "funding/F-1"
    assert receipt.sequence == healthy["cursor"] + 4
    # and the slow ones lose nothing meanwhile
    for path in slow_paths:
        assert [r.sequence for r in receiver.wait_for(path, 3)] == [
            slow[0]["cursor"] + n for n in (1, 2, 3)
        ]


def test_an_event_that_cannot_be_rendered_backs_off_and_says_why(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot render")

    monkeypatch.setattr("hub.subscriptions.delivery.cloud_event", broken)
    subscription = api.subscribe(receiver.url("poison"))
    published(api.publish("land_parcel", "L-1", parcel_data()))
    driven = make_dispatcher("driven", start=False)

    one_round(app, driven)
    shown = api.get(subscription["id"])
    assert (shown["status"], shown["attempts"]) == ("active", 1)
    assert "RuntimeError: cannot render" in shown["status_reason"]

    def attempts() -> int:
        one_round(app, driven)
        return int(api.get(subscription["id"])["attempts"])

    # each failed turn waits out its place in the schedule; the one after the last fails it
    eventually(lambda: attempts() > len(RETRY_SCHEDULE), "the schedule running out")
    assert api.get(subscription["id"])["status"] == "failing"
    assert api.get(subscription["id"])["cursor"] == subscription["cursor"]
    assert receiver.receipts("poison") == []
