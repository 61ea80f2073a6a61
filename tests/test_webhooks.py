"""Webhook subscriptions and the dispatcher (DESIGN §4, issue 4 §4-5), against a real receiver.

Every delivery here crosses a real socket: a ``ThreadingHTTPServer`` on loopback records what
arrives (headers, body, when) and answers from a script given per endpoint path, so a test can
fail the first attempts with 500, 503 and ``Retry-After`` or 410, answer slowly, hold a request
open, or not listen at all. Signatures are checked with the public ``standardwebhooks`` library,
unchanged. Dispatchers are started per test (or driven one round at a time with ``run_once``)
and waits poll with a deadline, failing with what did arrive.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub import create_app
from hub.audit.models import AuditEntry
from hub.db import utcnow
from hub.events import follow, notify
from hub.events import service as events_service
from hub.extensions import db
from hub.subscriptions.dispatcher import Dispatcher
from hub.subscriptions.models import Subscription
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)
from tests.receiver import DEADLINE, Receipt, Receiver, Reply

API = "/api/v1"
SUBSCRIPTIONS = f"{API}/subscriptions"
SUBSCRIBER_SCOPES = ["subscriptions", "events:read", "records:read"]
GRANT_SCOPES = ["grants", "records:read"]
RETRY_SCHEDULE = [0.05, 0.05, 0.05]
TIMEOUT = 1.0

Headers = Callable[..., dict[str, str]]
Publish = Callable[..., Any]


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    """More overrides for one test: parametrize ``extra_settings`` to change them."""
    return {}


@pytest.fixture
def settings(settings: dict[str, Any], extra_settings: dict[str, Any]) -> dict[str, Any]:
    """Loopback endpoints allowed, a short retry schedule without jitter, a short timeout."""
    return {
        **settings,
        "WEBHOOK_ALLOW_HTTP": True,
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"],
        "WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE,
        "WEBHOOK_RETRY_JITTER": 0,
        "WEBHOOK_TIMEOUT": TIMEOUT,
        "EVENTS_POLL_INTERVAL": 0.2,
        **extra_settings,
    }


# --- The receiver ----------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- Dispatchers -----------------------------------------------------------------------------


@pytest.fixture
def make_dispatcher(app: Flask, receiver: Receiver) -> Iterator[Callable[..., Dispatcher]]:
    """Dispatchers of the app, stopped at the end (before the receiver closes)."""
    made: list[Dispatcher] = []

    def make(name: str | None = None, *, start: bool = True, of: Flask | None = None) -> Dispatcher:
        dispatcher = Dispatcher(of or app, name=name)
        made.append(dispatcher)
        if start:
            dispatcher.start()
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.stop()
    for application in {app, *(d.app for d in made)}:
        stop_listening(application)


def stop_listening(app: Flask) -> None:
    """Stop the app's PostgreSQL change listener (held by a dispatcher with webhooks)."""
    notify.notifier(app).close()


@pytest.fixture
def dispatcher(make_dispatcher: Callable[..., Dispatcher]) -> Dispatcher:
    """A running dispatcher."""
    return make_dispatcher("dispatcher-1")


def one_round(app: Flask, dispatcher: Dispatcher) -> bool:
    """One claiming round of a dispatcher that is not started, and its deliveries."""
    with app.app_context():
        dispatcher.run_once()
    assert dispatcher.wait_idle(DEADLINE), "deliveries still in flight"
    return True


# --- The API ---------------------------------------------------------------------------------


def eventually(
    check: Callable[[], Any],
    what: str,
    timeout: float = DEADLINE,
    show: Callable[[], Any] | None = None,
) -> Any:
    """``check()`` once it is truthy; fail naming ``what`` (and what ``show()`` returns) if it
    is not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            seen = f"; {show()!r}" if show is not None else ""
            pytest.fail(f"Not within {timeout}s: {what} (last: {result!r}){seen}")
        time.sleep(0.02)


@dataclass
class Hub:
    """The subscription API as one department, and publishing as the owners."""

    client: FlaskClient
    auth: dict[str, str]
    publish: Publish

    def subscribe(
        self, endpoint_url: str, types: list[str] | None = None, **body: Any
    ) -> dict[str, Any]:
        """A new webhook subscription, starting after everything published so far."""
        response = self.client.post(
            SUBSCRIPTIONS,
            json={"types": types or ["land_parcel"], "endpoint_url": endpoint_url, **body},
            headers=self.auth,
        )
        created = body_of(response, 201)
        assert created["kind"] == "webhook"
        return created

    def get(self, subscription_id: int) -> dict[str, Any]:
        response = self.client.get(f"{SUBSCRIPTIONS}/{subscription_id}", headers=self.auth)
        return body_of(response, 200)

    def post(self, subscription_id: int, action: str, body: Any = None) -> Any:
        return self.client.post(
            f"{SUBSCRIPTIONS}/{subscription_id}/{action}", json=body, headers=self.auth
        )

    def act(self, subscription_id: int, action: str, body: Any = None) -> dict[str, Any]:
        return body_of(self.post(subscription_id, action, body), 200)

    def deliveries(self, subscription_id: int) -> list[dict[str, Any]]:
        """The attempt log, oldest first."""
        response = self.client.get(
            f"{SUBSCRIPTIONS}/{subscription_id}/deliveries",
            headers=self.auth,
            query_string={"limit": 1000},
        )
        items: list[dict[str, Any]] = body_of(response, 200)["items"]
        return items[::-1]

    def head(self) -> int:
        """The last event's sequence once every change committed so far is numbered (waiting
        for a numbering round that runs elsewhere, which the feed's own catch-up skips)."""
        app = self.client.application

        def numbered() -> bool:
            with app.app_context():
                follow.catch_up()
                db.end_read()
                return not events_service.has_unnumbered(db.session)

        eventually(numbered, "every committed change is numbered")
        with app.app_context():
            return events_service.head_sequence(db.session)

    def feed(self, **query: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            f"{API}/events", headers=self.auth, query_string={"limit": 1000, **query}
        )
        events: list[dict[str, Any]] = body_of(response, 200)["events"]
        return events

    def wait_status(self, subscription_id: int, status: str) -> dict[str, Any]:
        found: dict[str, Any] = eventually(
            lambda: (s := self.get(subscription_id))["status"] == status and s,
            f"subscription {subscription_id} becomes {status}",
        )
        return found

    def wait_caught_up(self, *subscription_ids: int) -> None:
        """Until every subscription's cursor is at the head of the log."""
        head = self.head()
        for subscription_id in subscription_ids:
            eventually(
                lambda i=subscription_id: self.get(i)["cursor"] == head,  # type: ignore[misc]
                f"subscription {subscription_id} reaches the head {head}",
                show=lambda i=subscription_id: (  # type: ignore[misc]
                    self.get(i),
                    attempts_of(self.deliveries(i))[-3:],
                ),
            )


@pytest.fixture
def hub(client: FlaskClient, headers: Headers, publish: Publish) -> Hub:
    """The API as ``audit`` (which publishes nothing), publishing as each type's owner."""
    return Hub(client, headers("audit", SUBSCRIBER_SCOPES), publish)


def hub_as(hub: Hub, headers: Headers, department: str) -> Hub:
    return Hub(hub.client, headers(department, SUBSCRIBER_SCOPES), hub.publish)


def body_of(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    """The JSON body of a response of ``status``."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.get_data(as_text=True)
    found: dict[str, Any] = response.get_json()
    return found


def published(response: Any) -> dict[str, Any]:
    return body_of(response, (200, 201))


def verified(secret: str, receipt: Receipt) -> dict[str, Any]:
    """The body of ``receipt`` as ``standardwebhooks`` verifies it with ``secret``."""
    event: dict[str, Any] = Webhook(secret).verify(receipt.body, receipt.headers)
    return event


def fails_verification(secret: str, receipt: Receipt) -> bool:
    try:
        Webhook(secret).verify(receipt.body, receipt.headers)
    except WebhookVerificationError:
        return True
    return False


def at(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(delivery["at"])


def attempts_of(deliveries: list[dict[str, Any]]) -> list[tuple[int, int, str, int | None]]:
    """(sequence, attempt, outcome, response code) of each attempt."""
    return [(d["sequence"], d["attempt"], d["outcome"], d["response_code"]) for d in deliveries]


# --- Signed CloudEvents ------------------------------------------------------------------------


def test_a_delivery_is_a_cloudevent_that_standardwebhooks_verifies(
    app: Flask, hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("signed"))
    secret = subscription["secret"]
    before = utcnow()
    created = published(hub.publish("land_parcel", "L-1", parcel_data()))

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
    assert hub.feed(after=subscription["cursor"], types="land_parcel") == [event]
    assert receipt.headers["webhook-id"] == event["id"]
    sent_at = int(receipt.headers["webhook-timestamp"])
    assert int(before.timestamp()) <= sent_at <= int(time.time())
    assert receipt.headers["content-type"].startswith("application/json")
    assert receipt.headers["webhook-signature"].startswith("v1,")
    # another secret, or a body changed on the way, does not verify
    assert fails_verification(hub.subscribe(receiver.url("other"))["secret"], receipt)
    tampered = Receipt(
        receipt.path,
        receipt.headers,
        receipt.body.replace(b"86.4", b"96.4"),
        receipt.arrived,
        receipt.status,
    )
    assert fails_verification(secret, tampered)
    # the subscription moved on: its cursor is the event, nothing owed
    hub.wait_caught_up(subscription["id"])
    shown = hub.get(subscription["id"])
    assert (shown["cursor"], shown["lag"], shown["attempts"]) == (event["sequence"], 0, 0)
    assert "secret" not in shown


def test_a_new_subscription_starts_after_the_changes_already_committed(
    hub: Hub, project: str, receiver: Receiver, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    published(hub.publish("land_parcel", "L-0", parcel_data()))
    # created straight away, the changes above not yet numbered by anyone
    response = hub.client.post(
        SUBSCRIPTIONS,
        json={"types": ["project", "land_parcel"], "endpoint_url": receiver.url("fresh")},
        headers=hub.auth,
    )
    created = body_of(response, 201)
    make_dispatcher("late")

    published(hub.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("fresh", 1)
    hub.wait_caught_up(created["id"])

    assert created["cursor"] == 2  # the project and L-0
    assert (receipt.sequence, receipt.event["subject"]) == (3, "land_parcel/L-1")
    assert len(receiver.receipts("fresh")) == 1


@pytest.mark.parametrize("extra_settings", [{"EVENTS_POLL_INTERVAL": 30.0}])
def test_a_commit_wakes_the_dispatcher_without_waiting_for_a_poll(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hub.subscribe(receiver.url("awake"))
    time.sleep(0.3)  # the dispatcher has settled into its 30 s sleep

    started = time.monotonic()
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("awake", 1)

    assert receipt.arrived - started < 1.0


def test_events_arrive_in_sequence_order(
    client: FlaskClient,
    hub: Hub,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    subscription = hub.subscribe(receiver.url("ordered"), types=["land_parcel", "funding"])
    receiver.script("ordered", *(Reply(delay=0.01 * (n % 3)) for n in range(30)))
    batch = client.post(
        f"{API}/records/land_parcel/batch",
        json={"records": [{"key": f"B-{n}", "data": parcel_data()} for n in range(8)]},
        headers=headers("land"),
    )
    assert batch.status_code == 200, batch.get_data(as_text=True)
    for n in range(6):
        published(hub.publish("land_parcel", f"L-{n}", parcel_data(area_mu=10 + n)))
        published(hub.publish("funding", f"F-{n}", funding_data(disbursed=n)))
        published(hub.publish("land_parcel", f"B-{n}", parcel_data(area_mu=50 + n)))
    hub.head()
    wanted = [
        e["sequence"] for e in hub.feed(after=subscription["cursor"], types="land_parcel,funding")
    ]
    assert len(wanted) == 26

    receipts = receiver.wait_for("ordered", len(wanted))
    hub.wait_caught_up(subscription["id"])

    assert [r.sequence for r in receipts] == wanted
    assert len(receiver.receipts("ordered")) == len(wanted)  # nothing twice
    assert [r.webhook_id for r in receipts] == [r.event["id"] for r in receipts]
    deliveries = hub.deliveries(subscription["id"])
    assert [(d["sequence"], d["outcome"], d["attempt"]) for d in deliveries] == [
        (sequence, "delivered", 1) for sequence in wanted
    ]


# --- Retries -----------------------------------------------------------------------------------


def test_a_failing_endpoint_is_retried_with_a_stable_webhook_id_until_it_answers(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("flaky", Reply(500, body="database down"), Reply(502))
    subscription = hub.subscribe(receiver.url("flaky"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("land_parcel", "L-2", parcel_data()))

    receipts = receiver.wait_for("flaky", 4)
    hub.wait_caught_up(subscription["id"])

    first, second = subscription["cursor"] + 1, subscription["cursor"] + 2
    assert [(r.sequence, r.status) for r in receipts] == [
        (first, 500),
        (first, 502),
        (first, 200),
        (second, 200),
    ]
    # the same message each time: same webhook-id, same body, each signed afresh
    assert {r.webhook_id for r in receipts[:3]} == {"land_parcel/L-1/1"}
    assert {r.body for r in receipts[:3]} == {receipts[0].body}
    for receipt in receipts:
        assert verified(subscription["secret"], receipt)["id"] == receipt.webhook_id
    deliveries = hub.deliveries(subscription["id"])
    assert attempts_of(deliveries) == [
        (first, 1, "failed", 500),
        (first, 2, "failed", 502),
        (first, 3, "delivered", 200),
        (second, 1, "delivered", 200),
    ]
    assert [d["event_id"] for d in deliveries] == [r.webhook_id for r in receipts]
    assert deliveries[0]["error"] == "HTTP 500: database down"
    assert deliveries[1]["error"] == "HTTP 502"
    assert deliveries[2]["error"] is None
    assert all(d["duration_ms"] > 0 for d in deliveries)
    # the schedule's 50 ms between attempts, no more than a moment beyond
    gaps = [(at(deliveries[n + 1]) - at(deliveries[n])).total_seconds() for n in (0, 1)]
    assert all(RETRY_SCHEDULE[0] <= gap < 1.0 for gap in gaps), gaps
    assert hub.get(subscription["id"])["attempts"] == 0


def test_a_timed_out_attempt_is_logged_and_retried(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("slow", Reply(delay=TIMEOUT + 0.5))
    subscription = hub.subscribe(receiver.url("slow"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))

    receipts = receiver.wait_for("slow", 2)
    hub.wait_caught_up(subscription["id"])

    assert receipts[0].webhook_id == receipts[1].webhook_id
    first, second = hub.deliveries(subscription["id"])
    assert (first["attempt"], first["outcome"], first["response_code"]) == (1, "failed", None)
    assert "timed out" in first["error"].lower()
    assert TIMEOUT * 1000 * 0.9 <= first["duration_ms"] < TIMEOUT * 1000 + 1000
    assert (second["attempt"], second["outcome"], second["response_code"]) == (
        2,
        "delivered",
        200,
    )


@pytest.fixture
def trickler() -> Iterator[str]:
    """An endpoint that answers one byte every 0.2 s, for ever: each read succeeds in time."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                try:
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 1000:
                        if stop.wait(0.2):
                            return
                        connection.sendall(bytes([byte]))
                except OSError:
                    continue  # the hub gave up on us

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/trickle"
    stop.set()
    server.close()


def test_an_endpoint_trickling_its_answer_is_cut_off_at_the_timeout(
    app: Flask, hub: Hub, project: str, trickler: str, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    subscription = hub.subscribe(trickler)
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    one_round(app, make_dispatcher("driven", start=False))
    (attempt,) = hub.deliveries(subscription["id"])
    assert (attempt["outcome"], attempt["response_code"]) == ("failed", None)
    assert attempt["error"].startswith(f"Timed out: no complete answer within {TIMEOUT:g}s")
    assert attempt["duration_ms"] < (TIMEOUT + 1) * 1000


def test_a_delivery_goes_to_the_address_that_was_checked(
    app: Flask,
    hub: Hub,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name is resolved once, by the policy, and the connection goes to that address
    with the name in ``Host``: a name cannot answer one address to the check and another to
    the connection (here the name resolves nowhere else at all)."""
    resolve = socket.getaddrinfo

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return resolve("127.0.0.1" if host == "hooks.example.test" else host, port, *args, **kwargs)

    monkeypatch.setattr("hub.subscriptions.policy.socket.getaddrinfo", fake)
    url = receiver.url("named").replace("127.0.0.1", "hooks.example.test")
    subscription = hub.subscribe(url)
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    one_round(app, make_dispatcher("driven", start=False))
    (receipt,) = receiver.receipts("named")
    assert receipt.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert hub.get(subscription["id"])["cursor"] == receipt.sequence


def test_an_endpoint_that_refuses_connections_is_retried_once_it_listens(
    app: Flask, hub: Hub, project: str, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/late"
    subscription = hub.subscribe(url)
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    driven = make_dispatcher("driven", start=False)

    one_round(app, driven)
    (refused,) = hub.deliveries(subscription["id"])
    late = Receiver(port)
    try:
        eventually(
            lambda: one_round(app, driven) and late.receipts("late"), "a delivery once listening"
        )
        (receipt,) = late.receipts("late")
    finally:
        late.close()

    assert (refused["attempt"], refused["outcome"], refused["response_code"]) == (1, "failed", None)
    assert "refused" in refused["error"].lower() or "connect" in refused["error"].lower()
    assert receipt.webhook_id == refused["event_id"] == "land_parcel/L-1/1"
    assert verified(subscription["secret"], receipt)["sequence"] == refused["sequence"]
    assert attempts_of(hub.deliveries(subscription["id"]))[-1] == (
        refused["sequence"],
        2,
        "delivered",
        200,
    )
    assert hub.get(subscription["id"])["cursor"] == refused["sequence"]


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher, status: int
) -> None:
    receiver.script("busy", Reply(status, headers={"Retry-After": "1"}))
    subscription = hub.subscribe(receiver.url("busy"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))

    receipts = receiver.wait_for("busy", 2)
    hub.wait_caught_up(subscription["id"])

    refused, delivered = hub.deliveries(subscription["id"])
    assert (refused["outcome"], refused["response_code"]) == ("failed", status)
    assert (delivered["outcome"], delivered["attempt"]) == ("delivered", 2)
    # the schedule says 0.05 s; the endpoint asked for 1 s
    assert 1.0 <= (at(delivered) - at(refused)).total_seconds() < 3.0
    assert 0.95 <= receipts[1].arrived - receipts[0].arrived < 3.0


# --- Failing, paused, resume and replay ----------------------------------------------------


def test_an_exhausted_schedule_marks_the_subscription_failing_and_keeps_its_place(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    attempts = len(RETRY_SCHEDULE) + 1
    receiver.script("down", *(Reply(500) for _ in range(attempts)))
    subscription = hub.subscribe(receiver.url("down"))
    start = subscription["cursor"]
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("land_parcel", "L-2", parcel_data()))

    failing = hub.wait_status(subscription["id"], "failing")

    assert (failing["cursor"], failing["lag"]) == (start, 2)
    assert failing["attempts"] == attempts
    assert "HTTP 500" in failing["status_reason"]
    assert attempts_of(hub.deliveries(subscription["id"])) == [
        (start + 1, 1, "failed", 500),
        (start + 1, 2, "failed", 500),
        (start + 1, 3, "failed", 500),
        (start + 1, 4, "exhausted", 500),
    ]
    # a failing subscription is left alone: no more attempts, however long it waits
    time.sleep(0.5)
    assert len(receiver.receipts("down")) == attempts
    assert hub.get(subscription["id"])["status"] == "failing"

    resumed = hub.act(subscription["id"], "resume")
    receipts = receiver.wait_for("down", attempts + 2)
    hub.wait_caught_up(subscription["id"])

    assert (resumed["status"], resumed["status_reason"], resumed["attempts"]) == (
        "active",
        None,
        0,
    )
    assert [(r.sequence, r.status) for r in receipts[attempts:]] == [
        (start + 1, 200),
        (start + 2, 200),
    ]
    assert attempts_of(hub.deliveries(subscription["id"])[attempts:]) == [
        (start + 1, 1, "delivered", 200),
        (start + 2, 1, "delivered", 200),
    ]
    shown = hub.get(subscription["id"])
    assert (shown["status"], shown["cursor"], shown["lag"]) == ("active", start + 2, 0)


def test_replay_after_a_sequence_sends_the_events_again(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("replayed"))
    for n in range(3):
        published(hub.publish("land_parcel", f"L-{n}", parcel_data()))
    first = receiver.wait_for("replayed", 3)
    hub.wait_caught_up(subscription["id"])

    replayed = hub.act(subscription["id"], "replay", {"after": first[0].sequence})
    again = receiver.wait_for("replayed", 5)[3:]
    hub.wait_caught_up(subscription["id"])

    assert (replayed["cursor"], replayed["status"]) == (first[0].sequence, "active")
    assert [r.sequence for r in again] == [r.sequence for r in first[1:]]
    assert [r.webhook_id for r in again] == [r.webhook_id for r in first[1:]]
    assert [r.event for r in again] == [r.event for r in first[1:]]
    assert len(receiver.receipts("replayed")) == 5
    assert hub.get(subscription["id"])["cursor"] == first[-1].sequence


def test_replay_since_a_time_sends_the_events_committed_since(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("since"))
    for n in range(3):
        published(hub.publish("land_parcel", f"L-{n}", parcel_data()))
    first = receiver.wait_for("since", 3)
    hub.wait_caught_up(subscription["id"])

    since = first[1].event["time"]
    replayed = hub.act(subscription["id"], "replay", {"since": since})
    again = receiver.wait_for("since", 5)[3:]
    hub.wait_caught_up(subscription["id"])

    assert replayed["cursor"] == first[1].sequence - 1
    assert [r.webhook_id for r in again] == [r.webhook_id for r in first[1:]]
    # since after the last event: nothing to send again, the cursor stays at the head
    later = hub.act(subscription["id"], "replay", {"since": utcnow().isoformat()})
    assert later["cursor"] == first[-1].sequence
    time.sleep(0.3)
    assert len(receiver.receipts("since")) == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "_schema"), ({"after": 1, "since": "2025-01-01T00:00:00+00:00"}, "_schema")],
    ids=["neither", "both"],
)
def test_replay_needs_exactly_one_of_after_and_since(
    hub: Hub, receiver: Receiver, departments: Any, body: dict[str, Any], field: str
) -> None:
    subscription = hub.subscribe(receiver.url("bad-replay"))

    response = hub.post(subscription["id"], "replay", body)

    assert field in body_of(response, 422)["errors"]


def test_replay_beyond_the_head_is_422(
    hub: Hub, project: str, receiver: Receiver, departments: Any
) -> None:
    subscription = hub.subscribe(receiver.url("beyond"))

    response = hub.post(subscription["id"], "replay", {"after": subscription["cursor"] + 1})

    assert "after" in body_of(response, 422)["errors"]


def test_410_from_the_endpoint_pauses_the_subscription(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("gone", Reply(410, body="unsubscribed"))
    subscription = hub.subscribe(receiver.url("gone"))
    start = subscription["cursor"]
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("land_parcel", "L-2", parcel_data()))

    paused = hub.wait_status(subscription["id"], "paused")

    assert (paused["cursor"], paused["lag"]) == (start, 2)
    assert "410" in paused["status_reason"]
    (gone,) = hub.deliveries(subscription["id"])
    assert (gone["sequence"], gone["outcome"], gone["response_code"]) == (start + 1, "gone", 410)
    assert gone["error"] == "HTTP 410: unsubscribed"
    time.sleep(0.5)  # no retries while paused
    assert len(receiver.receipts("gone")) == 1

    hub.act(subscription["id"], "resume")
    receipts = receiver.wait_for("gone", 3)

    assert [(r.sequence, r.status) for r in receipts[1:]] == [(start + 1, 200), (start + 2, 200)]


def test_a_paused_subscription_is_not_delivered_to_until_resumed(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("paused"))
    assert hub.act(subscription["id"], "pause")["status"] == "paused"
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    time.sleep(0.5)
    assert receiver.receipts("paused") == []

    hub.act(subscription["id"], "resume")

    (receipt,) = receiver.wait_for("paused", 1)
    assert receipt.sequence == subscription["cursor"] + 1


# --- Secret rotation ---------------------------------------------------------------------------


def test_a_rotated_secret_is_shown_once_and_both_secrets_sign_during_the_grace(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("rotated"))
    old = subscription["secret"]
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    (before,) = receiver.wait_for("rotated", 1)

    response = hub.post(subscription["id"], "rotate-secret", {})
    rotated = body_of(response, 200)
    published(hub.publish("land_parcel", "L-2", parcel_data()))
    during = receiver.wait_for("rotated", 2)[1]

    assert response.headers["Cache-Control"] == "no-store"
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    grace = datetime.fromisoformat(rotated["previous_secret_until"]) - utcnow()
    assert timedelta(hours=23) < grace <= timedelta(hours=24)
    assert "secret" not in hub.get(subscription["id"])
    assert verified(old, before)
    assert fails_verification(new, before)
    # during the grace the old and the new secret each verify, unchanged library
    assert verified(old, during)["sequence"] == verified(new, during)["sequence"]
    assert len(during.headers["webhook-signature"].split(" ")) == 2


def test_a_rotation_without_grace_signs_with_the_new_secret_only(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    subscription = hub.subscribe(receiver.url("at-once"))
    old = subscription["secret"]

    rotated = hub.act(subscription["id"], "rotate-secret", {"grace_seconds": 0})
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    (receipt,) = receiver.wait_for("at-once", 1)

    assert rotated["previous_secret_until"] is None
    assert verified(rotated["secret"], receipt)
    assert fails_verification(old, receipt)
    assert len(receipt.headers["webhook-signature"].split(" ")) == 1


def test_a_retry_after_a_rotation_is_signed_with_the_new_secret(
    hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hold = threading.Event()
    receiver.script("rotating", Reply(500, hold=hold))
    subscription = hub.subscribe(receiver.url("rotating"))
    old = subscription["secret"]
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    (first,) = receiver.wait_for("rotating", 1)

    new = hub.act(subscription["id"], "rotate-secret", {"grace_seconds": 0})["secret"]
    hold.set()
    retried = receiver.wait_for("rotating", 2)[1]

    assert first.webhook_id == retried.webhook_id
    assert verified(old, first)
    assert verified(new, retried)
    assert fails_verification(old, retried)


# --- Endpoint policy ---------------------------------------------------------------------------


@pytest.fixture
def strict_app(app: Flask, settings: dict[str, Any]) -> Iterator[Flask]:
    """A second app on the same database with the default endpoint policy: https only, public
    addresses only."""
    strict = create_app({**settings, "WEBHOOK_ALLOW_HTTP": False, "WEBHOOK_ALLOWED_NETWORKS": []})
    yield strict
    notify.notifier(strict).close()
    db.dispose(strict)


UNSAFE_BY_DEFAULT = {
    "http://example.com/hook": "must use https",
    "https://127.0.0.1/hook": "not a public address",
    "https://localhost/hook": "not a public address",
    "https://[::1]/hook": "not a public address",
    "https://[::ffff:127.0.0.1]/hook": "not a public address",
    "https://0.0.0.0/hook": "not a public address",
    "https://10.1.2.3/hook": "not a public address",
    "https://172.16.0.9/hook": "not a public address",
    "https://192.168.1.20/hook": "not a public address",
    "https://169.254.169.254/latest/meta-data": "not a public address",
    "https://[fd00::1]/hook": "not a public address",
    "https://user:password@93.184.215.14/hook": "credentials",
    "ftp://93.184.215.14/hook": "must use https",
    "https:///hook": "no host",
    "https://93.184.215.14:99999/hook": "not a valid url",
}
# with http and 127.0.0.0/8 allowed, as in this module's settings
UNSAFE_HERE = {
    "http://user:password@127.0.0.1:8080/hook": "credentials",
    "http://token@127.0.0.1:8080/hook": "credentials",
    "http://10.0.0.1/hook": "not a public address",
    "http://[::1]:8080/hook": "not a public address",
    "file:///etc/passwd": "must use https or http",
}


def refusals(client: FlaskClient, auth: dict[str, str], urls: Mapping[str, str]) -> dict[str, Any]:
    """How the creation of a webhook at each URL went where it was not a 422 naming
    ``endpoint_url`` with the expected reason (empty when all were)."""
    wrong: dict[str, Any] = {}
    for url, reason in urls.items():
        response = client.post(
            SUBSCRIPTIONS, json={"types": ["land_parcel"], "endpoint_url": url}, headers=auth
        )
        problem = response.get_json()
        if (
            response.status_code != 422
            or response.mimetype != "application/problem+json"
            or list(problem.get("errors", {})) != ["endpoint_url"]
            or reason not in " ".join(problem["errors"]["endpoint_url"]).lower()
        ):
            wrong[url] = (response.status_code, problem)
    return wrong


def test_the_default_policy_refuses_unsafe_endpoints_with_422(
    strict_app: Flask, headers: Headers
) -> None:
    auth = headers("audit", SUBSCRIBER_SCOPES)

    assert refusals(strict_app.test_client(), auth, UNSAFE_BY_DEFAULT) == {}


def test_allowed_networks_open_only_themselves(hub: Hub, departments: Any) -> None:
    assert refusals(hub.client, hub.auth, UNSAFE_HERE) == {}
    assert hub.subscribe("http://127.0.0.2:8080/hook")["endpoint_url"].startswith("http://127")


def test_the_default_policy_accepts_a_public_https_endpoint(
    strict_app: Flask, headers: Headers
) -> None:
    response = strict_app.test_client().post(
        SUBSCRIPTIONS,
        json={"types": ["land_parcel"], "endpoint_url": "https://93.184.215.14/hook"},
        headers=headers("audit", SUBSCRIBER_SCOPES),
    )

    assert body_of(response, 201)["secret"].startswith("whsec_")


def test_the_policy_is_checked_again_before_each_delivery(
    hub: Hub,
    project: str,
    receiver: Receiver,
    strict_app: Flask,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    # accepted under the loopback-friendly policy, then worked by a strict dispatcher
    subscription = hub.subscribe(receiver.url("refused"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    strict = make_dispatcher("strict", start=False, of=strict_app)

    one_round(strict_app, strict)

    assert receiver.receipts("refused") == []
    (attempt,) = hub.deliveries(subscription["id"])
    assert (attempt["outcome"], attempt["response_code"]) == ("failed", None)
    assert attempt["error"].startswith("Endpoint refused by policy")
    assert hub.get(subscription["id"])["cursor"] == subscription["cursor"]


# --- Filters and sharing classes ---------------------------------------------------------------


def test_filters_choose_the_events_each_subscription_receives(
    client: FlaskClient,
    hub: Hub,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    other = OTHER_PROJECT_CODE
    published(
        hub.publish(
            "project", other, project_data(admin_division="330106", category="culture_tourism")
        )
    )
    by_type = hub.subscribe(receiver.url("types"), types=["funding", "permit"])
    by_code = hub.subscribe(
        receiver.url("code"), types=["land_parcel", "permit"], filter={"project_code": other}
    )
    by_division = hub.subscribe(
        receiver.url("division"),
        types=["project", "land_parcel", "funding", "permit"],
        filter={"admin_division": "330106"},
    )
    by_category = hub.subscribe(
        receiver.url("category"),
        types=["project", "land_parcel"],
        filter={"category": "infrastructure"},
    )
    both = hub.subscribe(
        receiver.url("both"),
        types=["land_parcel"],
        filter={"category": "culture_tourism", "project_code": other},
    )

    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("funding", "F-1", funding_data()))
    published(hub.publish("permit", "P-1", permit_data(project_code=other)))
    published(hub.publish("land_parcel", "L-2", parcel_data(project_code=other)))
    published(
        hub.publish(
            "project",
            other,
            project_data(admin_division="330106", category="culture_tourism", stage="completed"),
        )
    )
    published(hub.publish("funding", "F-2", funding_data(project_code=other)))
    published(hub.publish("project", PROJECT_CODE, project_data(stage="completed")))
    response = client.delete(f"{API}/records/land_parcel/L-2", headers=headers("land"))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    ids = [s["id"] for s in (by_type, by_code, by_division, by_category, both)]
    hub.wait_caught_up(*ids)

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
        assert hub.get(subscription_id)["lag"] == 0


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
    hub: Hub,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    land = hub_as(hub, headers, "land")
    owner = land.subscribe(receiver.url("owner"))
    stranger = hub_as(hub, headers, "finance").subscribe(receiver.url("stranger"))
    projects = hub_as(hub, headers, "approval").subscribe(receiver.url("projects"), ["project"])

    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("project", PROJECT_CODE, project_data(stage="completed")))
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
    assert shown["changed_fields"] == full["changed_fields"]
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
    hub: Hub,
    headers: Headers,
    project: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
    grant_transfer_price: Callable[[], None],
) -> None:
    finance = hub_as(hub, headers, "finance")
    subscription = finance.subscribe(receiver.url("granted"))
    finance.act(subscription["id"], "pause")
    published(hub.publish("land_parcel", "L-1", parcel_data()))

    grant_transfer_price()  # after the change, before its delivery
    finance.act(subscription["id"], "resume")
    (receipt,) = receiver.wait_for("granted", 1)

    data = verified(subscription["secret"], receipt)["data"]
    assert data["record"]["transfer_price"] == 1200.5
    assert data["withheld"] == ["rights_holder"]
    assert "rights_holder" not in data["record"]


# --- Dispatchers that die, and dispatchers that share --------------------------------------------


def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    app: Flask,
    hub: Hub,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscription = hub.subscribe(receiver.url("survivor"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    published(hub.publish("land_parcel", "L-2", parcel_data()))
    doomed = make_dispatcher("doomed", start=False)
    died = threading.Event()
    killed = threading.Event()

    def dies_before_confirming(*args: Any) -> bool:
        # the endpoint answered 200, but the process dies before it writes that down
        died.set()
        killed.wait(DEADLINE)
        raise SystemExit("killed")

    monkeypatch.setattr(doomed, "_record", dies_before_confirming)
    try:
        with app.app_context():
            doomed.run_once()
        assert died.wait(DEADLINE), "the doomed dispatcher never delivered"
        (first,) = receiver.receipts("survivor")

        # while the dead one's lease runs, nobody else takes the subscription
        heir = make_dispatcher("heir", start=False)
        one_round(app, heir)
        assert len(receiver.receipts("survivor")) == 1
        assert hub.get(subscription["id"])["cursor"] == subscription["cursor"]
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
    finally:
        killed.set()

    receipts = receiver.receipts("survivor")
    assert [r.webhook_id for r in receipts] == [
        "land_parcel/L-1/1",
        "land_parcel/L-1/1",  # again: its delivery was never confirmed
        "land_parcel/L-2/1",
    ]
    assert receipts[1].body == first.body
    hub.wait_caught_up(subscription["id"])
    assert attempts_of(hub.deliveries(subscription["id"])) == [
        (first.sequence, 1, "delivered", 200),
        (first.sequence + 1, 1, "delivered", 200),
    ]


# a timeout longer than the receiver holds requests here
@pytest.mark.parametrize("extra_settings", [{"DISPATCHER_CONCURRENCY": 2, "WEBHOOK_TIMEOUT": 8.0}])
def test_two_dispatchers_claim_different_subscriptions(
    app: Flask,
    hub: Hub,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    hold = threading.Event()
    paths = [f"shared-{n}" for n in range(5)]
    for path in paths:
        receiver.script(path, then=Reply(hold=hold))
    subscriptions = [hub.subscribe(receiver.url(path)) for path in paths]
    published(hub.publish("land_parcel", "L-1", parcel_data()))
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
    hub.wait_caught_up(*(s["id"] for s in subscriptions))
    assert sorted(r.path for r in receiver.receipts()) == paths


def test_two_dispatchers_share_the_work_in_order_without_duplicates(
    client: FlaskClient,
    hub: Hub,
    headers: Headers,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    choices = [["land_parcel"], ["funding"], ["land_parcel", "funding"], ["land_parcel"]]
    subscriptions = {
        f"pair-{n}": hub.subscribe(receiver.url(f"pair-{n}"), types=types)
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
    hub.wait_caught_up(*(s["id"] for s in subscriptions.values()))

    for path, subscription in subscriptions.items():
        wanted = [
            e["sequence"] for e in hub.feed(after=start, types=",".join(subscription["types"]))
        ]
        receipts = receiver.receipts(path)
        assert [r.sequence for r in receipts] == wanted, path
        assert len(wanted) == 16 * len(subscription["types"])
        assert receiver.most_at_once[path] == 1, path
        deliveries = hub.deliveries(subscription["id"])
        assert [(d["sequence"], d["attempt"], d["outcome"]) for d in deliveries] == [
            (sequence, 1, "delivered") for sequence in wanted
        ], path
    # a healthy run has nothing to warn about (no failed rounds, no discarded connections)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("extra_settings", [{"DISPATCHER_CONCURRENCY": 4}])
def test_slow_endpoints_do_not_starve_a_healthy_one(
    app: Flask, hub: Hub, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    slow_paths = [f"slow-{n}" for n in range(6)]
    for path in slow_paths:
        receiver.script(path, then=Reply(delay=0.8))
    healthy = hub.subscribe(receiver.url("healthy"), types=["funding"])
    slow = [hub.subscribe(receiver.url(path)) for path in slow_paths]
    for n in range(3):
        published(hub.publish("land_parcel", f"L-{n}", parcel_data()))
    eventually(lambda: len(receiver.receipts()) >= 4, "the slow endpoints are busy")

    started = time.monotonic()
    published(hub.publish("funding", "F-1", funding_data()))
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
    hub: Hub,
    project: str,
    receiver: Receiver,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot render")

    monkeypatch.setattr("hub.subscriptions.dispatcher.cloud_event", broken)
    subscription = hub.subscribe(receiver.url("poison"))
    published(hub.publish("land_parcel", "L-1", parcel_data()))
    driven = make_dispatcher("driven", start=False)

    one_round(app, driven)
    shown = hub.get(subscription["id"])
    assert (shown["status"], shown["attempts"]) == ("active", 1)
    assert "RuntimeError: cannot render" in shown["status_reason"]

    def attempts() -> int:
        one_round(app, driven)
        return int(hub.get(subscription["id"])["attempts"])

    # each failed turn waits out its place in the schedule; the one after the last fails it
    eventually(lambda: attempts() > len(RETRY_SCHEDULE), "the schedule running out")
    assert hub.get(subscription["id"])["status"] == "failing"
    assert hub.get(subscription["id"])["cursor"] == subscription["cursor"]
    assert receiver.receipts("poison") == []
