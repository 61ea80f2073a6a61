"""Subscriptions: create, list, show, pause, resume, delete; pull with acknowledgements."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import OTHER_PROJECT_CODE, PROJECT_CODE, parcel_data, project_data

API = "/api/v1"
SUBSCRIPTIONS = f"{API}/subscriptions"
SUBSCRIBER = ["subscriptions", "records:read"]
Headers = Any


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A poll interval far longer than any wait here: only a wake-up can end a long-poll."""
    return {**settings, "EVENTS_POLL_INTERVAL": 30.0}


def subscribe(client: FlaskClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(SUBSCRIPTIONS, json={"types": ["land_parcel"], **body}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.json
    return created


def pull(
    client: FlaskClient, auth: dict[str, str], subscription_id: int, **query: Any
) -> dict[str, Any]:
    response = client.get(
        f"{SUBSCRIPTIONS}/{subscription_id}/events", headers=auth, query_string=query
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    page: dict[str, Any] = response.json
    return page


def ack(client: FlaskClient, auth: dict[str, str], subscription_id: int, sequence: int) -> Any:
    return client.post(
        f"{SUBSCRIPTIONS}/{subscription_id}/ack", json={"sequence": sequence}, headers=auth
    )


def subjects(page: dict[str, Any]) -> list[str]:
    return [event["subject"] for event in page["events"]]


def assert_problem(response: Any, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if field is not None:
        assert field in response.json["errors"], response.json


# --- Lifecycle ----------------------------------------------------------------------------


def test_a_pull_subscription_starts_at_the_head_and_shows_where_it_stands(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    publish("land_parcel", "P-0", parcel_data())
    created = subscribe(client, headers("finance", SUBSCRIBER), filter={"category": "industry"})
    assert created["kind"] == "pull"
    assert created["secret"] is None
    assert created["status"] == "active"
    assert created["cursor"] == 0 or created["cursor"] >= 1
    assert created["filter"] == {"category": "industry"}
    shown = client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=headers("finance", SUBSCRIBER))
    assert shown.status_code == 200
    assert shown.json["lag"] == 0
    assert "secret" not in shown.json


def test_a_subscription_receives_only_changes_made_after_it(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    publish("land_parcel", "P-0", parcel_data())
    auth = headers("finance", SUBSCRIBER)
    created = subscribe(client, auth)
    publish("land_parcel", "P-1", parcel_data())
    assert subjects(pull(client, auth, created["id"])) == ["land_parcel/P-1"]


def test_subscriptions_list_newest_first_and_page(client: FlaskClient, headers: Headers) -> None:
    auth = headers("finance", SUBSCRIBER)
    ids = [subscribe(client, auth)["id"] for _ in range(3)]
    first = client.get(SUBSCRIPTIONS, headers=auth, query_string={"limit": 2}).json
    assert [s["id"] for s in first["items"]] == ids[::-1][:2]
    rest = client.get(
        SUBSCRIPTIONS, headers=auth, query_string={"limit": 2, "cursor": first["next_cursor"]}
    ).json
    assert [s["id"] for s in rest["items"]] == ids[:1]
    assert rest["next_cursor"] is None


def test_other_departments_cannot_see_or_touch_a_subscription(
    client: FlaskClient, headers: Headers
) -> None:
    created = subscribe(client, headers("finance", SUBSCRIBER))
    other = headers("land", SUBSCRIBER)
    url = f"{SUBSCRIPTIONS}/{created['id']}"
    assert_problem(client.get(url, headers=other), 404)
    assert_problem(client.post(f"{url}/pause", headers=other), 404)
    assert_problem(client.delete(url, headers=other), 404)
    assert_problem(client.get(f"{url}/events", headers=other), 404)
    assert client.get(SUBSCRIPTIONS, headers=other).json["items"] == []


def test_pause_resume_and_delete(client: FlaskClient, headers: Headers) -> None:
    auth = headers("finance", SUBSCRIBER)
    url = f"{SUBSCRIPTIONS}/{subscribe(client, auth)['id']}"
    paused = client.post(f"{url}/pause", headers=auth)
    assert (paused.status_code, paused.json["status"]) == (200, "paused")
    resumed = client.post(f"{url}/resume", headers=auth)
    assert (resumed.json["status"], resumed.json["status_reason"]) == ("active", None)
    assert client.delete(url, headers=auth).status_code == 204
    assert_problem(client.get(url, headers=auth), 404)


def test_subscriptions_need_the_subscriptions_scope(client: FlaskClient, headers: Headers) -> None:
    assert_problem(
        client.post(SUBSCRIPTIONS, json={"types": ["project"]}, headers=headers("land")), 403
    )
    assert_problem(client.get(SUBSCRIPTIONS, headers=headers("land")), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "types"),
        ({"types": []}, "types"),
        ({"types": ["no_such_type"]}, "types"),
        ({"types": ["project"], "filter": {"category": "spaceport"}}, "filter.category"),
        ({"types": ["project"], "filter": {"admin_division": "33"}}, "filter.admin_division"),
        ({"types": ["project"], "filter": {"colour": "red"}}, "filter.colour"),
        ({"types": ["project"], "endpoint_url": "ftp://example.com/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://127.0.0.1/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://10.1.2.3/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://u:p@example.com/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://[64:ff9b::7f00:1]/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://[2002:7f00:1::]/x"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://[::7f00:1]/x"}, "endpoint_url"),
        ({"types": "project"}, "types"),
        ({"types": ["project"], "filter": {"project_code": "A\u0000"}}, "filter.project_code"),
        ({"types": ["project"], "endpoint_url": "https://1.1.1.1/a\u0000b"}, "endpoint_url"),
        ({"types": ["project"], "endpoint_url": "https://1.1.1.1/\ud800"}, "endpoint_url"),
        ({"types": ["proj\u0000ect"]}, "types.0"),
    ],
)
def test_bad_subscriptions_are_422_naming_the_field(
    client: FlaskClient, headers: Headers, body: dict[str, Any], field: str
) -> None:
    response = client.post(SUBSCRIPTIONS, json=body, headers=headers("finance", SUBSCRIBER))
    assert_problem(response, 422, field)
    assert client.get(SUBSCRIPTIONS, headers=headers("finance", SUBSCRIBER)).json["items"] == []


# --- Pull and acknowledge ----------------------------------------------------------------


def test_unacknowledged_events_come_again_and_ack_moves_the_cursor(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    for key in ("P-1", "P-2", "P-3"):
        publish("land_parcel", key, parcel_data())
    first = pull(client, auth, subscription, limit=2)
    assert subjects(first) == ["land_parcel/P-1", "land_parcel/P-2"]
    # a consumer that crashed before acknowledging gets the same events again
    assert pull(client, auth, subscription, limit=2) == first
    acked = ack(client, auth, subscription, first["events"][-1]["sequence"])
    assert acked.status_code == 200
    assert acked.json["cursor"] == first["events"][-1]["sequence"]
    assert subjects(pull(client, auth, subscription)) == ["land_parcel/P-3"]


def test_ack_is_idempotent_and_never_moves_back(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    publish("land_parcel", "P-1", parcel_data())
    publish("land_parcel", "P-2", parcel_data())
    last = pull(client, auth, subscription)["events"][-1]["sequence"]
    assert ack(client, auth, subscription, last).json["cursor"] == last
    assert ack(client, auth, subscription, last).json["cursor"] == last
    assert ack(client, auth, subscription, 0).json["cursor"] == last


def test_ack_beyond_the_log_is_refused(client: FlaskClient, headers: Headers) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    assert_problem(ack(client, auth, subscription, 10**6), 422, "sequence")
    for body in ({}, {"sequence": -1}, {"sequence": "x"}):
        response = client.post(f"{SUBSCRIPTIONS}/{subscription}/ack", json=body, headers=auth)
        assert_problem(response, 422, "sequence")


def test_next_after_lets_a_consumer_skip_events_its_filter_passed_over(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth, filter={"project_code": OTHER_PROJECT_CODE})["id"]
    publish("land_parcel", "P-1", parcel_data())
    page = pull(client, auth, subscription)
    assert page["events"] == []
    assert page["next_after"] > 0
    assert ack(client, auth, subscription, page["next_after"]).json["lag"] == 0


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, ["project/A", "project/B", "land_parcel/P-A", "land_parcel/P-B"]),
        ({"project_code": "A"}, ["project/A", "land_parcel/P-A"]),
        ({"admin_division": "330106"}, ["project/B", "land_parcel/P-B"]),
        ({"category": "industry"}, ["project/B", "land_parcel/P-B"]),
        ({"category": "industry", "admin_division": "330102"}, []),
    ],
    ids=["none", "project_code", "admin_division", "category", "both"],
)
def test_filters_choose_events_by_project(
    client: FlaskClient,
    headers: Headers,
    publish: Any,
    filter_: dict[str, str],
    expected: list[str],
) -> None:
    codes = {"A": PROJECT_CODE, "B": OTHER_PROJECT_CODE}
    filter_ = {k: codes.get(v, v) if k == "project_code" else v for k, v in filter_.items()}
    auth = headers("audit", SUBSCRIBER)
    subscription = subscribe(client, auth, types=["project", "land_parcel"], filter=filter_)["id"]
    publish("project", PROJECT_CODE, project_data())
    publish(
        "project",
        OTHER_PROJECT_CODE,
        project_data(category="industry", admin_division="330106"),
    )
    publish("land_parcel", "P-A", parcel_data(PROJECT_CODE))
    publish("land_parcel", "P-B", parcel_data(OTHER_PROJECT_CODE))
    names = {PROJECT_CODE: "A", OTHER_PROJECT_CODE: "B"}
    got = [
        f"{e['data']['type']}/{names.get(e['data']['key'], e['data']['key'])}"
        for e in pull(client, auth, subscription)["events"]
    ]
    assert got == expected


def test_pulled_events_are_filtered_for_the_subscriber(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    outsider, owner = headers("audit", SUBSCRIBER), headers("land", SUBSCRIBER)
    theirs, ours = subscribe(client, outsider)["id"], subscribe(client, owner)["id"]
    publish("land_parcel", "P-1", parcel_data())
    [seen] = pull(client, outsider, theirs)["events"]
    assert {"transfer_price", "rights_holder"} <= set(seen["data"]["withheld"])
    assert "rights_holder" not in seen["data"]["record"]
    [full] = pull(client, owner, ours)["events"]
    assert full["data"]["record"]["rights_holder"] == "Metro Group"
    assert full["data"]["withheld"] == []


def test_a_webhook_subscription_is_not_pulled(app: Flask, headers: Headers) -> None:
    app.config.update(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])
    client = app.test_client()
    auth = headers("finance", SUBSCRIBER)
    created = subscribe(client, auth, endpoint_url="https://127.0.0.1:9/hook")
    assert created["kind"] == "webhook"
    assert created["secret"].startswith("whsec_")
    url = f"{SUBSCRIPTIONS}/{created['id']}"
    assert_problem(client.get(f"{url}/events", headers=auth), 409)
    assert_problem(ack(client, auth, created["id"], 0), 409)


def test_a_pull_subscription_has_no_secret_to_rotate(client: FlaskClient, headers: Headers) -> None:
    auth = headers("finance", SUBSCRIBER)
    url = f"{SUBSCRIPTIONS}/{subscribe(client, auth)['id']}/rotate-secret"
    assert_problem(client.post(url, json={}, headers=auth), 409)


# --- Long-poll ---------------------------------------------------------------------------


def test_a_pull_long_poll_returns_as_soon_as_a_matching_event_commits(
    app: Flask, client: FlaskClient, headers: Headers, project: str
) -> None:
    auth, writer = headers("finance", SUBSCRIBER), headers("land")
    subscription = subscribe(client, auth)["id"]

    def publish_later() -> None:
        time.sleep(0.3)
        app.test_client().put(f"{API}/records/land_parcel/P-1", json=parcel_data(), headers=writer)

    thread = threading.Thread(target=publish_later)
    started = time.monotonic()
    thread.start()
    try:
        page = pull(client, auth, subscription, wait=20)
    finally:
        thread.join(10)
    # the poll interval is 30 s: only the commit's wake-up can have ended the wait
    assert subjects(page) == ["land_parcel/P-1"]
    assert time.monotonic() - started < 5


def test_a_pull_long_poll_with_nothing_new_returns_empty_after_the_wait(
    client: FlaskClient, headers: Headers
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    started = time.monotonic()
    assert pull(client, auth, subscription, wait=0.5)["events"] == []
    assert 0.45 <= time.monotonic() - started < 5


# --- Replay and retention ----------------------------------------------------------------


def test_replay_by_sequence_or_time_delivers_again(
    client: FlaskClient, headers: Headers, project: str, publish: Any
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    publish("land_parcel", "P-1", parcel_data())
    publish("land_parcel", "P-2", parcel_data())
    page = pull(client, auth, subscription)
    ack(client, auth, subscription, page["next_after"])
    assert pull(client, auth, subscription)["events"] == []
    first = page["events"][0]

    url = f"{SUBSCRIPTIONS}/{subscription}/replay"
    replayed = client.post(url, json={"after": first["sequence"]}, headers=auth)
    assert (replayed.status_code, replayed.json["cursor"]) == (200, first["sequence"])
    assert subjects(pull(client, auth, subscription)) == ["land_parcel/P-2"]

    client.post(url, json={"since": first["time"]}, headers=auth)
    assert subjects(pull(client, auth, subscription)) == ["land_parcel/P-1", "land_parcel/P-2"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"after": 1, "since": "2026-01-01T00:00:00Z"}, "_schema"),
        ({"after": 10**6}, "after"),
        ({"after": -1}, "after"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_bad_replays_are_422(
    client: FlaskClient, headers: Headers, body: dict[str, Any], field: str
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    response = client.post(f"{SUBSCRIPTIONS}/{subscription}/replay", json=body, headers=auth)
    assert_problem(response, 422, field)


def test_a_pull_cursor_behind_the_retained_log_is_410(
    app: Flask, client: FlaskClient, headers: Headers, project: str, publish: Any, hub_cli: Any
) -> None:
    auth = headers("finance", SUBSCRIBER)
    subscription = subscribe(client, auth)["id"]
    publish("land_parcel", "P-1", parcel_data())
    assert len(pull(client, auth, subscription)["events"]) == 1
    assert hub_cli("events", "compact", "--older-than", "0").exit_code == 0
    gone = client.get(f"{SUBSCRIPTIONS}/{subscription}/events", headers=auth)
    assert_problem(gone, 410)
    assert gone.json["retained_after"] == 2
    replay = client.post(f"{SUBSCRIPTIONS}/{subscription}/replay", json={"after": 0}, headers=auth)
    assert_problem(replay, 410)
    # moving the cursor up to the horizon (as the problem says) lets the consumer go on
    assert ack(client, auth, subscription, gone.json["resume_after"]).status_code == 200
    assert pull(client, auth, subscription)["events"] == []
