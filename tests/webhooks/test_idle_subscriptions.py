"""Idle webhook subscriptions, whose filters accept none of what is published: they cost no
statements per commit, yet get a matching event as soon as one comes, their cursors (and lag)
catch up within the idle advance period, and leases, replays and other dispatchers hold.
Also the lease margin, a setting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, update

from hub.core.config import ConfigError, load_settings
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.subscriptions import dispatcher as dispatcher_module
from hub.subscriptions.delivery import Batch
from hub.subscriptions.dispatcher import IDLE_ADVANCE, Dispatcher
from hub.subscriptions.leases import Leases
from hub.subscriptions.models import Subscription
from tests.factories import OTHER_PROJECT_CODE, funding_data, parcel_data
from tests.receiver import DEADLINE, Receiver, Reply
from tests.webhooks.helpers import (
    SubscriptionApi,
    attempts_of,
    dying_before_confirming,
    eventually,
    one_round,
    published,
)

# filters none of the land parcels published here pass
IDLE_CHOICES: list[dict[str, Any]] = [
    {"types": ["funding"]},
    {"types": ["permit", "coordination_item"]},
    {"types": ["land_parcel"], "filter": {"project_code": OTHER_PROJECT_CODE}},
    {"types": ["funding"], "filter": {"admin_division": "330102"}},
]


@contextmanager
def subscription_updates(app: Flask) -> Iterator[list[str]]:
    """The UPDATE statements on subscriptions run meanwhile, from any thread."""
    seen: list[str] = []

    def note(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SUBSCRIPTIONS"):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def counting_batches(monkeypatch: pytest.MonkeyPatch, dispatcher: Dispatcher) -> dict[int, int]:
    """How many times the dispatcher read each subscription's next events."""
    reads: dict[int, int] = {}
    read = dispatcher.courier.next_batch

    def counted(subscription_id: int) -> Batch | None:
        reads[subscription_id] = reads.get(subscription_id, 0) + 1
        return read(subscription_id)

    monkeypatch.setattr(dispatcher.courier, "next_batch", counted)
    return reads


def test_idle_subscriptions_are_not_worked_per_commit(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    idle = [
        api.subscribe(receiver.url(f"idle-{n}"), **IDLE_CHOICES[n % len(IDLE_CHOICES)])
        for n in range(8)
    ]
    running = make_dispatcher("counted", start=False)
    reads = counting_batches(monkeypatch, running)
    running.start()
    commits = 20

    with subscription_updates(app) as updates:
        started = time.monotonic()
        for n in range(commits):
            published(api.publish("land_parcel", f"L-{n}", parcel_data()))
            time.sleep(0.03)  # a claiming round (at least) after each commit
        time.sleep(0.2)
        taken = time.monotonic() - started
        counted = len(updates)

    # before, each round leased, advanced and released every idle subscription: 2M + 1
    # updates a round; now one update moves them all, once an advance period
    assert counted <= taken / IDLE_ADVANCE + 2, (counted, taken)
    assert reads == {}
    # and their cursors reach the head within the advance period
    head = api.head()
    eventually(
        lambda: all(api.get(s["id"])["cursor"] == head for s in idle),
        "the idle subscriptions' cursors reach the head",
        timeout=IDLE_ADVANCE + 2,
    )
    assert all(api.get(s["id"])["lag"] == 0 for s in idle)
    assert receiver.receipts() == []
    assert reads == {}


def test_an_idle_subscription_gets_a_matching_event_promptly(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = api.subscribe(receiver.url("waiting"), types=["funding"])
    for n in range(30):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))

    started = time.monotonic()
    published(api.publish("funding", "F-1", funding_data()))
    (receipt,) = receiver.wait_for("waiting", 1)

    assert receipt.arrived - started < 1.0
    assert receipt.event["subject"] == "funding/F-1"
    assert receipt.sequence == subscription["cursor"] + 31
    api.wait_caught_up(subscription["id"])
    assert attempts_of(api.deliveries(subscription["id"])) == [
        (receipt.sequence, 1, "delivered", 200)
    ]


def test_a_replayed_idle_subscription_gets_its_events_again_and_catches_up(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatcher_module, "IDLE_ADVANCE", 0.0)  # an advance every round
    subscription = api.subscribe(receiver.url("again"), types=["funding"])
    start = subscription["cursor"]
    published(api.publish("funding", "F-1", funding_data()))
    for n in range(5):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    driven = make_dispatcher("driven", start=False)
    one_round(app, driven)
    one_round(app, driven)
    head = api.head()
    assert api.get(subscription["id"])["cursor"] == head
    assert [r.sequence for r in receiver.receipts("again")] == [start + 1]

    # replayed from the start, F-1 comes again: the advance does not jump over it
    api.act(subscription["id"], "replay", {"after": start})
    one_round(app, driven)
    one_round(app, driven)
    assert [r.sequence for r in receiver.receipts("again")] == [start + 1, start + 1]
    assert api.get(subscription["id"])["cursor"] == head

    # replayed past it, there is nothing to deliver: the cursor goes back to the head
    api.act(subscription["id"], "replay", {"after": start + 2})
    assert api.get(subscription["id"])["lag"] == head - start - 2
    one_round(app, driven)
    assert api.get(subscription["id"])["cursor"] == head
    assert len(receiver.receipts("again")) == 2


def test_the_idle_advance_moves_only_what_has_nothing_to_deliver(
    app: Flask, api: SubscriptionApi, project: str, receiver: Receiver
) -> None:
    def subscribe(**body: Any) -> int:
        return int(api.subscribe(receiver.url("never"), **body)["id"])

    idle = {subscribe(**choice) for choice in IDLE_CHOICES}
    # these may have events: the land parcels below, or (a project's fields being judged
    # only when events are read) parcels of some project
    owed = {
        subscribe(types=["land_parcel"]),
        subscribe(types=["funding", "land_parcel"]),
        subscribe(types=["land_parcel"], filter={"project_code": project}),
        subscribe(types=["land_parcel"], filter={"admin_division": "999999"}),
    }
    held = subscribe(types=["funding"])
    paused = subscribe(types=["funding"])
    api.act(paused, "pause")
    pull = api.client.post(
        "/api/v1/subscriptions", json={"types": ["funding"]}, headers=api.auth
    ).get_json()["id"]
    for n in range(3):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    before = api.get(held)["cursor"]
    head = api.head()
    leases = Leases("probe", timedelta(seconds=60))
    with app.app_context(), db.unit_of_work() as session:
        # another dispatcher holds this one
        session.execute(
            update(Subscription)
            .where(Subscription.id == held)
            .values(lease_owner="other", lease_until=utcnow() + timedelta(seconds=60))
        )

    with app.app_context():
        claimed = set(leases.claim(100))
        leases.release_all()
        moved = leases.advance_idle()

    assert claimed == owed
    assert moved == len(idle)
    cursors = {i: api.get(i)["cursor"] for i in (*idle, *owed, held, paused, pull)}
    assert {i for i, cursor in cursors.items() if cursor == head} == idle
    assert {cursors[i] for i in (*owed, held, paused, pull)} == {before}

    # once the other's lease has run out, the held one moves too
    with app.app_context(), db.unit_of_work() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == held)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    with app.app_context():
        assert leases.advance_idle() == 1
    assert api.get(held)["cursor"] == head


# a timeout longer than the receiver holds the request here
@pytest.mark.parametrize("extra_settings", [{"WEBHOOK_TIMEOUT": 8.0}])
def test_a_second_dispatcher_leaves_a_held_subscription_alone(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatcher_module, "IDLE_ADVANCE", 0.0)
    hold = threading.Event()
    receiver.script("held", Reply(hold=hold))
    subscription = api.subscribe(receiver.url("held"), types=["funding"])
    published(api.publish("funding", "F-1", funding_data()))
    first, second = make_dispatcher("first", start=False), make_dispatcher("second", start=False)
    with app.app_context():
        first.run_once()
    receiver.wait_for("held", 1)
    # while first delivers F-1, events F-1's subscription does not want pile up
    for n in range(3):
        published(api.publish("land_parcel", f"L-{n}", parcel_data()))
    try:
        for _ in range(3):
            one_round(app, second)
        assert api.get(subscription["id"])["cursor"] == subscription["cursor"]
        assert len(receiver.receipts("held")) == 1
    finally:
        hold.set()
    assert first.wait_idle(DEADLINE)

    one_round(app, second)
    api.wait_caught_up(subscription["id"])
    assert attempts_of(api.deliveries(subscription["id"])) == [
        (subscription["cursor"] + 1, 1, "delivered", 200)
    ]
    assert len(receiver.receipts("held")) == 1


@pytest.mark.parametrize(
    "extra_settings",
    [{"DISPATCHER_LEASE_MARGIN_SECONDS": 0.5, "DISPATCHER_TURN_SECONDS": 0.5}],
)
def test_a_short_lease_margin_lets_another_dispatcher_take_over_sooner(
    app: Flask,
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscription = api.subscribe(receiver.url("orphan"))
    published(api.publish("land_parcel", "L-1", parcel_data()))
    doomed = make_dispatcher("doomed", start=False)
    # turn + timeout + margin
    assert doomed.leases.duration == timedelta(seconds=0.5 + 1.0 + 0.5)
    with dying_before_confirming(doomed, monkeypatch) as died:
        with app.app_context():
            doomed.run_once()
        assert died.wait(DEADLINE)
        died_at = time.monotonic()
        make_dispatcher("heir")
        receipts = receiver.wait_for("orphan", 2)
        assert receipts[1].arrived - died_at < 2.0 + 1.0
    assert receipts[0].webhook_id == receipts[1].webhook_id
    api.wait_caught_up(subscription["id"])


@pytest.mark.parametrize("margin", [0, -1.0])
def test_the_lease_margin_must_be_positive(tmp_path: Path, margin: float) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            tmp_path,
            {"SECRET_KEY": "s" * 40, "DISPATCHER_LEASE_MARGIN_SECONDS": margin},
            environ={},
        )
    assert "DISPATCHER_LEASE_MARGIN_SECONDS must be positive" in str(caught.value)


def test_the_lease_margin_is_read_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        {"SECRET_KEY": "s" * 40},
        environ={"HUB_DISPATCHER_LEASE_MARGIN_SECONDS": "5"},
    )
    assert settings["DISPATCHER_LEASE_MARGIN_SECONDS"] == 5
