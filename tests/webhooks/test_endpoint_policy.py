"""Which endpoints a webhook may call: https and public addresses by default, networks allowed
by settings, checked at creation and again before each delivery, to the address checked.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import create_app
from hub.core.extensions import db
from hub.events import notify
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import parcel_data
from tests.receiver import Receiver
from tests.webhooks.helpers import (
    SUBSCRIBER_SCOPES,
    SUBSCRIPTIONS,
    Headers,
    SubscriptionApi,
    body_of,
    one_round,
    published,
)


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
# with http and 127.0.0.0/8 allowed, as in these tests' settings (conftest.py)
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


def test_allowed_networks_open_only_themselves(api: SubscriptionApi, departments: Any) -> None:
    assert refusals(api.client, api.auth, UNSAFE_HERE) == {}
    assert api.subscribe("http://127.0.0.2:8080/hook")["endpoint_url"].startswith("http://127")


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
    api: SubscriptionApi,
    project: str,
    receiver: Receiver,
    strict_app: Flask,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    # accepted under the loopback-friendly policy, then worked by a strict dispatcher
    subscription = api.subscribe(receiver.url("refused"))
    published(api.publish("land_parcel", "L-1", parcel_data()))
    strict = make_dispatcher("strict", start=False, of=strict_app)

    one_round(strict_app, strict)

    assert receiver.receipts("refused") == []
    (attempt,) = api.deliveries(subscription["id"])
    assert (attempt["outcome"], attempt["response_code"]) == ("failed", None)
    assert attempt["error"].startswith("Endpoint refused by policy")
    assert api.get(subscription["id"])["cursor"] == subscription["cursor"]


def test_a_delivery_goes_to_the_address_that_was_checked(
    app: Flask,
    api: SubscriptionApi,
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
    subscription = api.subscribe(url)
    published(api.publish("land_parcel", "L-1", parcel_data()))
    one_round(app, make_dispatcher("driven", start=False))
    (receipt,) = receiver.receipts("named")
    assert receipt.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert api.get(subscription["id"])["cursor"] == receipt.sequence
