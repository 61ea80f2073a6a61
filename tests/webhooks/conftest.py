"""Webhook subscriptions and the dispatcher, against a real receiver: the settings and fixtures
of the tests in this directory.

Every delivery here crosses a real socket: a ``ThreadingHTTPServer`` on loopback records what
arrives (headers, body, when) and answers from a script given per endpoint path, so a test can
fail the first attempts with 500, 503 and ``Retry-After`` or 410, answer slowly, hold a request
open, or not listen at all. Signatures are checked with the public ``standardwebhooks`` library,
unchanged. Dispatchers are started per test (or driven one round at a time with ``run_once``)
and waits poll with a deadline, failing with what did arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.events import notify
from hub.subscriptions.dispatcher import Dispatcher
from tests.receiver import Receiver
from tests.webhooks.helpers import (
    RETRY_SCHEDULE,
    SUBSCRIBER_SCOPES,
    TIMEOUT,
    Headers,
    Publish,
    SubscriptionApi,
)


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


@pytest.fixture
def api(client: FlaskClient, headers: Headers, publish: Publish) -> SubscriptionApi:
    """The API as ``audit`` (which publishes nothing), publishing as each type's owner."""
    return SubscriptionApi(client, headers("audit", SUBSCRIBER_SCOPES), publish)
