"""Retrying a delivery: failures, timeouts, refused connections and ``Retry-After``, each attempt
logged with the same webhook id.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import parcel_data
from tests.receiver import Receiver, Reply
from tests.webhooks.helpers import (
    RETRY_SCHEDULE,
    TIMEOUT,
    SubscriptionApi,
    attempts_of,
    eventually,
    one_round,
    published,
    verified,
)


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def at(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(delivery["at"])


def test_a_failing_endpoint_is_retried_with_a_stable_webhook_id_until_it_answers(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("flaky", Reply(500, body="database down"), Reply(502))
    subscription = api.subscribe(receiver.url("flaky"))
    published(api.publish("land_parcel", "L-1", parcel_data()))
    published(api.publish("land_parcel", "L-2", parcel_data()))

    receipts = receiver.wait_for("flaky", 4)
    api.wait_caught_up(subscription["id"])

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
    deliveries = api.deliveries(subscription["id"])
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
    assert api.get(subscription["id"])["attempts"] == 0


def test_a_timed_out_attempt_is_logged_and_retried(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.script("slow", Reply(delay=TIMEOUT + 0.5))
    subscription = api.subscribe(receiver.url("slow"))
    published(api.publish("land_parcel", "L-1", parcel_data()))

    receipts = receiver.wait_for("slow", 2)
    api.wait_caught_up(subscription["id"])

    assert receipts[0].webhook_id == receipts[1].webhook_id
    first, second = api.deliveries(subscription["id"])
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
    app: Flask,
    api: SubscriptionApi,
    project: str,
    trickler: str,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    subscription = api.subscribe(trickler)
    published(api.publish("land_parcel", "L-1", parcel_data()))
    one_round(app, make_dispatcher("driven", start=False))
    (attempt,) = api.deliveries(subscription["id"])
    assert (attempt["outcome"], attempt["response_code"]) == ("failed", None)
    assert attempt["error"].startswith(f"Timed out: no complete answer within {TIMEOUT:g}s")
    assert attempt["duration_ms"] < (TIMEOUT + 1) * 1000


def test_an_endpoint_that_refuses_connections_is_retried_once_it_listens(
    app: Flask, api: SubscriptionApi, project: str, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/late"
    subscription = api.subscribe(url)
    published(api.publish("land_parcel", "L-1", parcel_data()))
    driven = make_dispatcher("driven", start=False)

    one_round(app, driven)
    (refused,) = api.deliveries(subscription["id"])
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
    assert attempts_of(api.deliveries(subscription["id"]))[-1] == (
        refused["sequence"],
        2,
        "delivered",
        200,
    )
    assert api.get(subscription["id"])["cursor"] == refused["sequence"]


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured(
    api: SubscriptionApi, project: str, receiver: Receiver, dispatcher: Dispatcher, status: int
) -> None:
    receiver.script("busy", Reply(status, headers={"Retry-After": "1"}))
    subscription = api.subscribe(receiver.url("busy"))
    published(api.publish("land_parcel", "L-1", parcel_data()))

    receipts = receiver.wait_for("busy", 2)
    api.wait_caught_up(subscription["id"])

    refused, delivered = api.deliveries(subscription["id"])
    assert (refused["outcome"], refused["response_code"]) == ("failed", status)
    assert (delivered["outcome"], delivered["attempt"]) == ("delivered", 2)
    # the schedule says 0.05 s; the endpoint asked for 1 s
    assert 1.0 <= (at(delivered) - at(refused)).total_seconds() < 3.0
    assert 0.95 <= receipts[1].arrived - receipts[0].arrived < 3.0
