"""What the webhook tests share: the subscription API, waits, signature checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub.core.extensions import db
from hub.events import follow
from hub.events import log as events_log
from hub.subscriptions.dispatcher import Dispatcher
from tests.receiver import DEADLINE, Receipt

API = "/api/v1"
SUBSCRIPTIONS = f"{API}/subscriptions"
SUBSCRIBER_SCOPES = ["subscriptions", "events:read", "records:read"]
RETRY_SCHEDULE = [0.05, 0.05, 0.05]
TIMEOUT = 1.0

Headers = Callable[..., dict[str, str]]
Publish = Callable[..., Any]


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
class SubscriptionApi:
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
                return not events_log.has_unnumbered(db.session)

        eventually(numbered, "every committed change is numbered")
        with app.app_context():
            return events_log.head_sequence(db.session)

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


def attempts_of(deliveries: list[dict[str, Any]]) -> list[tuple[int, int, str, int | None]]:
    """(sequence, attempt, outcome, response code) of each attempt."""
    return [(d["sequence"], d["attempt"], d["outcome"], d["response_code"]) for d in deliveries]


@contextmanager
def dying_before_confirming(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> Iterator[threading.Event]:
    """``dispatcher`` dies the moment an endpoint has answered, before it writes that down
    (as a killed process would); yields the event set when it has died. Its delivery thread
    stays stuck until the block ends."""
    died, killed = threading.Event(), threading.Event()

    def dies(*args: Any) -> bool:
        died.set()
        killed.wait(DEADLINE)
        raise SystemExit("killed")

    monkeypatch.setattr(dispatcher.courier, "_record", dies)
    try:
        yield died
    finally:
        killed.set()
