"""Abuse limits: requests per access key, token exchanges per address, body and batch sizes.

Limits in these tests are per hour: the sliding window counter weighs the previous window's
count, so a run that straddled a window boundary could let one request more through. The
``steady_window`` fixture waits out the last seconds of an hour before such a test starts.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits.errors import StorageError
from limits.storage import MemoryStorage

from hub import create_app
from hub.core.config import ConfigError
from hub.core.extensions import db
from hub.core.ratelimit import EXTENSION
from tests.factories import PROJECT_CODE, parcel_data, project_data

API = "/api/v1"
TOKEN_URL = f"{API}/auth/token"
PARCELS_URL = f"{API}/records/land_parcel"
HOUR = 3600
READ_ONLY = ["records:read"]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status``; with ``field``, that ``errors`` names it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert body["errors"][field], body
    return body


def assert_rate_limited(response: Any, limit: str) -> int:
    """Assert a 429 problem naming ``limit`` with a whole, positive Retry-After; return it."""
    body = assert_problem(response, 429)
    assert body["type"].endswith("too-many-requests")
    assert limit in body["detail"], body
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= HOUR
    return retry_after


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@pytest.fixture
def steady_window() -> None:
    """Start away from the end of an hourly window (see the module docstring)."""
    into_window = time.time() % HOUR
    if into_window > HOUR - 15:
        time.sleep(HOUR - into_window + 0.1)


@pytest.fixture
def five_per_hour(settings: dict[str, Any], steady_window: None) -> str:
    """Five requests per key and hour; request it before ``app``."""
    settings["RATE_LIMIT"] = "5/hour"
    settings["RATE_LIMIT_STORAGE"] = "memory://"
    return "5 per 1 hour"


@pytest.fixture
def three_tokens_per_hour(settings: dict[str, Any], steady_window: None) -> str:
    """Three token exchanges per address and hour; request it before ``app``."""
    settings["TOKEN_RATE_LIMIT"] = "3/hour"
    settings["RATE_LIMIT_STORAGE"] = "memory://"
    return "3 per 1 hour"


@pytest.fixture
def two_limits(settings: dict[str, Any], steady_window: None) -> str:
    """A loose and a tight limit per key; request it before ``app``."""
    settings["RATE_LIMIT"] = "100/hour;3/hour"
    return "3 per 1 hour"


@pytest.fixture
def no_limits(settings: dict[str, Any]) -> None:
    """Both limits switched off; request it before ``app``."""
    settings["RATE_LIMIT"] = ""
    settings["TOKEN_RATE_LIMIT"] = ""


@pytest.fixture
def small_bodies(settings: dict[str, Any]) -> int:
    """Bodies of at most 2048 bytes; request it before ``app``."""
    settings["MAX_CONTENT_LENGTH"] = 2048
    return 2048


@pytest.fixture
def small_batches(settings: dict[str, Any]) -> int:
    """Batches of at most 2 records; request it before ``app``."""
    settings["BATCH_MAX_RECORDS"] = 2
    return 2


@pytest.fixture
def land_token(
    departments: dict[str, list[str]], token_for: Callable[..., str]
) -> Callable[..., Any]:
    """A fresh token of a new land key each call: ``land_token()`` → bearer headers."""

    def make(scopes: list[str] | None = None) -> dict[str, str]:
        return bearer(token_for("land", scopes))

    return make


# --- per access key ---------------------------------------------------------------------------


def test_the_sixth_request_of_a_key_is_429_with_retry_after(
    five_per_hour: str, client: FlaskClient, land_token: Callable[..., Any]
) -> None:
    headers = land_token()
    statuses = [client.get(PARCELS_URL, headers=headers).status_code for _ in range(5)]
    refused = client.get(PARCELS_URL, headers=headers)

    assert statuses == [200] * 5
    assert_rate_limited(refused, five_per_hour)
    assert_rate_limited(client.get(PARCELS_URL, headers=headers), five_per_hour)


def test_another_key_of_the_same_department_is_not_affected(
    five_per_hour: str, client: FlaskClient, land_token: Callable[..., Any]
) -> None:
    first, second = land_token(), land_token()
    for _ in range(5):
        client.get(PARCELS_URL, headers=first)

    assert_rate_limited(client.get(PARCELS_URL, headers=first), five_per_hour)
    assert client.get(PARCELS_URL, headers=second).status_code == 200


def test_a_new_token_of_the_same_key_does_not_reset_its_count(
    five_per_hour: str,
    client: FlaskClient,
    departments: dict[str, list[str]],
    make_key: Callable[..., str],
) -> None:
    secret = make_key("land")
    tokens = [client.post(TOKEN_URL, headers=bearer(secret)).json["access_token"] for _ in "ab"]
    for _ in range(5):
        client.get(PARCELS_URL, headers=bearer(tokens[0]))

    assert_rate_limited(client.get(PARCELS_URL, headers=bearer(tokens[1])), five_per_hour)


def test_writes_and_reads_count_against_one_limit_and_a_refused_write_writes_nothing(
    five_per_hour: str,
    client: FlaskClient,
    project: str,
    land_token: Callable[..., Any],
) -> None:
    headers, observer = land_token(), land_token()
    writes = [
        client.put(f"{PARCELS_URL}/L-{n}", json=parcel_data(), headers=headers).status_code
        for n in range(3)
    ]
    reads = [client.get(f"{PARCELS_URL}/L-{n}", headers=headers).status_code for n in range(2)]

    refused_write = client.put(f"{PARCELS_URL}/L-9", json=parcel_data(), headers=headers)
    refused_batch = client.post(
        f"{PARCELS_URL}/batch",
        json={"records": [{"key": "L-8", "data": parcel_data()}]},
        headers=headers,
    )
    refused_read = client.get(f"{PARCELS_URL}/L-0", headers=headers)

    assert writes == [201] * 3
    assert reads == [200] * 2
    for response in (refused_write, refused_batch, refused_read):
        assert_rate_limited(response, five_per_hour)
    for key in ("L-9", "L-8"):
        assert client.get(f"{PARCELS_URL}/{key}", headers=observer).status_code == 404


def test_calls_refused_for_want_of_scope_count_too(
    five_per_hour: str, client: FlaskClient, land_token: Callable[..., Any]
) -> None:
    reader = land_token(READ_ONLY)
    forbidden = [
        client.put(f"{PARCELS_URL}/L-{n}", json=parcel_data(), headers=reader).status_code
        for n in range(5)
    ]

    assert forbidden == [403] * 5
    assert_rate_limited(client.get(PARCELS_URL, headers=reader), five_per_hour)


def test_the_tightest_of_several_limits_is_named(
    two_limits: str, client: FlaskClient, land_token: Callable[..., Any]
) -> None:
    headers = land_token()
    statuses = [client.get(PARCELS_URL, headers=headers).status_code for _ in range(3)]

    assert statuses == [200] * 3
    assert_rate_limited(client.get(PARCELS_URL, headers=headers), two_limits)


# --- token exchange per address ---------------------------------------------------------------


def test_token_exchanges_are_limited_per_address_failed_or_not(
    three_tokens_per_hour: str,
    client: FlaskClient,
    departments: dict[str, list[str]],
    make_key: Callable[..., str],
) -> None:
    secret = make_key("land")
    guesses = [
        client.post(TOKEN_URL, headers=bearer(f"hubk_{n:012x}_" + "s" * 43)).status_code
        for n in range(2)
    ]
    granted = client.post(TOKEN_URL, headers=bearer(secret))
    refused = client.post(TOKEN_URL, headers=bearer(secret))
    elsewhere = client.post(
        TOKEN_URL, headers=bearer(secret), environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )

    assert guesses == [401, 401]
    assert granted.status_code == 200
    assert_rate_limited(refused, three_tokens_per_hour)
    assert "address" in refused.json["detail"]
    assert elsewhere.status_code == 200


def test_the_token_limit_does_not_count_api_calls(
    three_tokens_per_hour: str, client: FlaskClient, land_token: Callable[..., Any]
) -> None:
    headers = land_token()
    for _ in range(5):
        assert client.get(PARCELS_URL, headers=headers).status_code == 200

    assert client.get(PARCELS_URL, headers=land_token()).status_code == 200


# --- switched off, defaults, configuration ----------------------------------------------------


def test_empty_limits_switch_limiting_off(
    no_limits: None,
    client: FlaskClient,
    departments: dict[str, list[str]],
    make_key: Callable[..., str],
) -> None:
    secret = make_key("land")
    exchanges = [client.post(TOKEN_URL, headers=bearer(secret)) for _ in range(25)]
    headers = bearer(exchanges[-1].json["access_token"])
    calls = [client.get(PARCELS_URL, headers=headers).status_code for _ in range(25)]

    assert [response.status_code for response in exchanges] == [200] * 25
    assert calls == [200] * 25


def test_the_default_limits_are_generous(app: Flask) -> None:
    assert app.config["RATE_LIMIT"] == "1200/minute"
    assert app.config["TOKEN_RATE_LIMIT"] == "60/minute"
    assert app.config["RATE_LIMIT_STORAGE"] == "memory://"


def test_counts_are_per_app_with_memory_storage(
    five_per_hour: str,
    settings: dict[str, Any],
    client: FlaskClient,
    land_token: Callable[..., Any],
) -> None:
    headers = land_token()
    for _ in range(5):
        client.get(PARCELS_URL, headers=headers)
    other_process = create_app(settings)
    try:
        elsewhere = other_process.test_client().get(PARCELS_URL, headers=headers)
    finally:
        db.dispose(other_process)

    assert_rate_limited(client.get(PARCELS_URL, headers=headers), five_per_hour)
    assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT", "lots"),
        ("RATE_LIMIT", "5/fortnight"),
        ("TOKEN_RATE_LIMIT", "-1/minute"),
        ("RATE_LIMIT_STORAGE", "carrier-pigeon://loft"),
    ],
)
def test_an_unusable_setting_stops_the_app_at_start(
    settings: dict[str, Any], name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        create_app({**settings, name: value})


def test_redis_storage_without_the_redis_client_stops_the_app_at_start(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as on a hub installed without the redis extra (the test extra installs it)
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigError, match="RATE_LIMIT_STORAGE"):
        create_app({**settings, "RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379"})


def test_counting_in_memory_starts_no_thread_per_request(
    five_per_hour: str,
    client: FlaskClient,
    land_token: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # limits' own memory storage starts a sweeper thread 10 ms after a hit; the hub's must not.
    assert hasattr(MemoryStorage, "_MemoryStorage__schedule_expiry"), "limits changed its hook"
    headers = land_token()
    started: list[threading.Thread] = []
    monkeypatch.setattr(threading.Thread, "start", started.append)
    for _ in range(3):
        assert client.get(PARCELS_URL, headers=headers).status_code == 200
        time.sleep(0.03)

    assert started == []


# --- a failing storage ------------------------------------------------------------------------


def test_a_failing_storage_lets_requests_through_and_is_left_alone_for_a_while(
    five_per_hour: str,
    app: Flask,
    client: FlaskClient,
    land_token: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = land_token()
    attempts: list[str] = []

    def broken(*args: Any, **kwargs: Any) -> bool:
        attempts.append("hit")
        raise StorageError(ConnectionError("redis is down"))

    monkeypatch.setattr(app.extensions[EXTENSION].strategy, "hit", broken)
    with caplog.at_level(logging.WARNING, logger="hub.core.ratelimit"):
        statuses = [client.get(PARCELS_URL, headers=headers).status_code for _ in range(8)]

    assert statuses == [200] * 8
    assert attempts == ["hit"]
    assert "redis is down" in caplog.text


# --- body and batch sizes ---------------------------------------------------------------------


def test_a_body_of_exactly_the_configured_size_passes_and_one_byte_more_is_413(
    small_bodies: int, client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    url = f"{API}/records/project/{PROJECT_CODE}"

    def body_of(size: int) -> bytes:
        empty = json.dumps(project_data(description=""))
        return json.dumps(project_data(description="x" * (size - len(empty)))).encode()

    too_big = client.put(
        url,
        data=body_of(small_bodies + 1),
        content_type="application/json",
        headers=headers("ndrc"),
    )
    exact = client.put(
        url, data=body_of(small_bodies), content_type="application/json", headers=headers("ndrc")
    )

    assert len(body_of(small_bodies)) == small_bodies
    assert_problem(too_big, 413)
    assert exact.status_code == 201, exact.json


def test_a_batch_over_the_configured_size_is_422_naming_records_and_the_maximum(
    small_batches: int,
    client: FlaskClient,
    project: str,
    headers: Callable[..., dict[str, str]],
) -> None:
    items = [{"key": f"L-{n}", "data": parcel_data()} for n in range(small_batches + 1)]

    response = client.post(f"{PARCELS_URL}/batch", json={"records": items}, headers=headers("land"))

    problem = assert_problem(response, 422, "records")
    assert any(str(small_batches) in message for message in problem["errors"]["records"])
