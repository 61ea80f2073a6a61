"""The connectors' hub client against a hub served over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors import client as client_module
from connectors.client import HubClient, HubRefused, retry_policy
from tests.factories import PROJECT_CODE, parcel_data

API = "/api/v1"


@pytest.fixture
def hub_client(
    live_hub: Any, departments: Any, make_key: Callable[..., str], project: str
) -> Iterator[HubClient]:
    """A client of the land department, with retries short enough for tests."""
    key = make_key("land", ["records:read", "records:write", "events:read", "subscriptions"])
    with HubClient(live_hub.url, key, retry=retry_policy(3, backoff=0.01)) as client:
        yield client


def token_exchanges(live_hub: Any) -> int:
    """Token exchanges the hub has seen (the test client's own among them)."""
    return live_hub.outage.paths.count(f"{API}/auth/token")


def test_one_token_serves_many_requests_and_is_renewed_before_it_expires(
    hub_client, live_hub, monkeypatch
):
    before = token_exchanges(live_hub)
    hub_client.get_record("land_parcel", "L-1")
    hub_client.get_record("land_parcel", "L-2")
    assert token_exchanges(live_hub) == before + 1

    # the hub's tokens last 900 s: 850 s later the client must not risk the old one
    later = time.monotonic() + 850
    monkeypatch.setattr(client_module.time, "monotonic", lambda: later)
    hub_client.get_record("land_parcel", "L-3")

    assert token_exchanges(live_hub) == before + 2


def test_a_token_the_hub_refuses_is_exchanged_again_once(hub_client, live_hub):
    hub_client.get_record("land_parcel", "L-1")
    before = token_exchanges(live_hub)
    hub_client._token = "no.longer.valid"

    assert hub_client.get_record("land_parcel", "L-1") is None
    assert token_exchanges(live_hub) == before + 1


def test_a_key_the_hub_refuses_is_a_hub_error(live_hub, departments):
    client = HubClient(live_hub.url, "hubk_000000000000_" + "x" * 30)
    with client, pytest.raises(HubRefused) as refused:
        client.get_record("land_parcel", "L-1")
    assert refused.value.status == 401


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_failures_worth_retrying_are_retried(hub_client, live_hub, status):
    live_hub.outage.fail_next(2, "/batch", status=status)

    [result] = hub_client.publish_batch("land_parcel", [{"key": "L-1", "data": parcel_data()}])

    assert (result["status"], result["outcome"]) == (201, "created")
    assert live_hub.outage.refused == 2


def test_retry_after_is_honoured(hub_client, live_hub):
    hub_client.token()
    live_hub.outage.fail_next(1, "/records", status=429, retry_after=1)
    started = time.monotonic()

    hub_client.get_record("land_parcel", "L-1")

    assert time.monotonic() - started >= 1.0


def test_failures_past_the_retries_raise_with_the_hubs_problem(hub_client, live_hub):
    live_hub.outage.fail_next(100, "/records")

    with pytest.raises(HubRefused) as failed:
        hub_client.get_record("land_parcel", "L-1")

    assert failed.value.status == 503
    assert live_hub.outage.refused == 4


def test_a_refused_request_carries_the_problem(hub_client):
    with pytest.raises(HubRefused) as refused:
        hub_client.put_record("land_parcel", "L-1", parcel_data(area_mu=-1))

    assert refused.value.status == 422
    assert "area_mu" in refused.value.problem["errors"]


def test_batches_say_what_each_record_did_and_deletions_ride_along(hub_client):
    hub_client.put_record("land_parcel", "L-1", parcel_data())

    results = hub_client.publish_batch(
        "land_parcel",
        [
            {"key": "L-1", "deleted": True},
            {"key": "L-2", "data": parcel_data()},
            {"key": "L-3", "data": parcel_data(area_mu=0)},
        ],
    )

    assert [(r["status"], r.get("outcome")) for r in results] == [
        (200, "deleted"),
        (201, "created"),
        (422, None),
    ]


def test_records_are_listed_across_pages(hub_client):
    for key in ("L-1", "L-2", "L-3"):
        hub_client.put_record("land_parcel", key, parcel_data())

    keys = [record["key"] for record in hub_client.iter_records("land_parcel", limit=2)]

    assert sorted(keys) == ["L-1", "L-2", "L-3"]


def test_delete_of_a_record_the_hub_never_had_is_false(hub_client):
    hub_client.put_record("land_parcel", "L-1", parcel_data())

    assert hub_client.delete_record("land_parcel", "L-1") is True
    assert hub_client.delete_record("land_parcel", "L-9") is False


def test_the_feed_and_a_pull_subscription_with_acknowledgement(hub_client):
    subscription = hub_client.create_subscription(["land_parcel"], {"project_code": PROJECT_CODE})
    hub_client.put_record("land_parcel", "L-1", parcel_data())

    feed = hub_client.events(0, types=["land_parcel"])
    first = hub_client.pull(subscription["id"])
    again = hub_client.pull(subscription["id"])
    hub_client.ack(subscription["id"], first.next_after)
    after_ack = hub_client.pull(subscription["id"], wait=0.1)

    assert [e["subject"] for e in feed.events] == ["land_parcel/L-1"]
    assert [e["sequence"] for e in first.events] == [e["sequence"] for e in again.events]
    assert len(first.events) == 1
    assert after_ack.events == []
    assert hub_client.get_subscription(subscription["id"])["id"] == subscription["id"]
    assert hub_client.get_subscription(10**9) is None


def test_decimals_are_sent_as_json_numbers():
    from decimal import Decimal

    assert client_module.encode_json({"a": Decimal("120.000001")}) == b'{"a": 120.000001}'


def test_a_retry_after_longer_than_the_longest_backoff_is_cut_to_it(
    live_hub, departments, make_key
):
    key = make_key("land", ["records:read"])
    live_hub.outage.fail_next(1, "/records", status=503, retry_after=3600)
    started = time.monotonic()

    with HubClient(live_hub.url, key, retry=retry_policy(3, 0.01, backoff_max=1)) as client:
        assert client.get_record("land_parcel", "L-1") is None

    assert time.monotonic() - started < 60  # not the hour the server asked for


def test_creating_a_subscription_is_not_sent_twice(hub_client, live_hub, client, headers):
    live_hub.outage.fail_next(1, "/subscriptions", status=503)

    with pytest.raises(HubRefused) as failed:
        hub_client.create_subscription(["land_parcel"])

    assert failed.value.status == 503
    assert live_hub.outage.refused == 1
    listed = client.get("/api/v1/subscriptions", headers=headers("land", ["subscriptions"]))
    assert listed.json["items"] == []


@pytest.mark.parametrize("key", ["杭政储出〔2025〕7号", "地块#3[A]", "P:1"])
def test_keys_the_owning_systems_use_travel_whole(hub_client: HubClient, key: str) -> None:
    created = hub_client.put_record("land_parcel", key, parcel_data())
    assert created["key"] == key
    fetched = hub_client.get_record("land_parcel", key)
    assert fetched is not None
    assert fetched["key"] == key
    results = hub_client.publish_batch(
        "land_parcel", [{"key": key, "data": parcel_data(area_mu=9)}]
    )
    assert [result["key"] for result in results] == [key]
    assert hub_client.delete_record("land_parcel", key) is True
    assert hub_client.get_record("land_parcel", key)["deleted"] is True  # type: ignore[index]
