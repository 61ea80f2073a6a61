"""The change log: GET /api/v1/events, an ordered feed of CloudEvents."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hub import create_app
from hub.core.extensions import db
from hub.events import log as events_log
from hub.events import notify
from hub.records.models import RecordVersion
from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)

API = "/api/v1"
EVENTS = f"{API}/events"
CLOUD_EVENT_KEYS = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "sequence",
    "data",
}
EVENT_DATA_KEYS = {
    "type",
    "key",
    "version",
    "project_code",
    "operation",
    "changed_fields",
    "published_by",
    "record",
}


def record_url(type_name: str, key: str) -> str:
    return f"{API}/records/{type_name}/{key}"


def read_feed(client: Any, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(EVENTS, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    assert set(body) == {"events", "next_after"}
    return body


def all_events(client: Any, headers: Any, department: str = "ndrc", **query: Any) -> list[Any]:
    """Every event after 0 (one page is enough for these small logs)."""
    events: list[Any] = read_feed(client, headers(department), limit=1000, **query)["events"]
    return events


def assert_problem(response: Any, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= response.json.keys()
    if field is not None:
        assert field in response.json["errors"], response.json


# --- One event per change ------------------------------------------------------------------


def test_each_change_appends_exactly_one_event(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))
    publish("land_parcel", "L-1", parcel_data(area_mu=90))  # unchanged: no event
    client.patch(record_url("land_parcel", "L-1"), json={"area_mu": 95}, headers=headers("land"))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))  # already deleted
    publish("land_parcel", "L-1", parcel_data())  # revived

    events = all_events(client, headers)

    assert [(e["subject"], e["data"]["operation"], e["data"]["version"]) for e in events] == [
        (f"project/{PROJECT_CODE}", "created", 1),
        ("land_parcel/L-1", "created", 1),
        ("land_parcel/L-1", "updated", 2),
        ("land_parcel/L-1", "updated", 3),
        ("land_parcel/L-1", "deleted", 4),
        ("land_parcel/L-1", "created", 5),
    ]


def test_an_event_is_a_cloudevent_with_the_contract_fields(app, client, project, publish, headers):
    created = publish("land_parcel", "L-1", parcel_data()).json

    event = all_events(client, headers, "land")[-1]

    assert set(event) >= CLOUD_EVENT_KEYS
    assert event["specversion"] == "1.0"
    # the id names the change (record and version): the same on every read and delivery
    assert event["id"] == f"land_parcel/L-1/{created['version']}"
    assert all_events(client, headers, "land")[-1]["id"] == event["id"]
    assert event["source"] == app.config["EVENT_SOURCE"]
    assert event["type"] == f"{app.config['EVENT_TYPE_PREFIX']}.record.created"
    assert event["subject"] == "land_parcel/L-1"
    assert datetime.fromisoformat(event["time"]) == datetime.fromisoformat(created["updated_at"])
    assert event["datacontenttype"] == "application/json"
    assert isinstance(event["sequence"], int)
    assert event["sequence"] == 2
    data = event["data"]
    assert set(data) >= EVENT_DATA_KEYS
    assert data["type"] == "land_parcel"
    assert data["key"] == "L-1"
    assert data["version"] == 1
    assert data["project_code"] == PROJECT_CODE
    assert data["operation"] == "created"
    assert data["changed_fields"] == sorted({*parcel_data(), "parcel_id"})
    assert data["published_by"] == "land"
    assert data["record"] == created["data"]


def test_event_types_name_the_operation(app, client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    prefix = app.config["EVENT_TYPE_PREFIX"]

    events = all_events(client, headers, types="land_parcel")

    assert [e["type"] for e in events] == [
        f"{prefix}.record.created",
        f"{prefix}.record.updated",
        f"{prefix}.record.deleted",
    ]
    assert [e["data"]["operation"] for e in events] == ["created", "updated", "deleted"]


def test_an_update_event_names_the_changed_fields(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    client.patch(
        record_url("land_parcel", "L-1"),
        json={"area_mu": 95, "rights_holder": None},
        headers=headers("land"),
    )

    event = all_events(client, headers, "land")[-1]

    assert event["data"]["changed_fields"] == ["area_mu", "rights_holder"]
    assert event["data"]["record"]["area_mu"] == 95
    assert "rights_holder" not in event["data"]["record"]


def test_event_ids_are_unique(client, project, publish, headers):
    for n in range(5):
        publish("land_parcel", f"L-{n}", parcel_data())

    events = all_events(client, headers)

    assert len({e["id"] for e in events}) == len(events) == 6


# --- Order, paging and filters -------------------------------------------------------------


def _publish_mixed_changes(client: Any, publish: Any, headers: Any, second_project: str) -> None:
    """Ten changes after the first project's creation, across types and projects."""
    publish("land_parcel", "L-1", parcel_data())
    publish("funding", "F-1", funding_data())
    publish("permit", "P-1", permit_data())
    publish("land_parcel", "L-2", parcel_data(project_code=second_project))
    publish("funding", "F-1", funding_data(disbursed=50000))
    publish("permit", "P-2", permit_data(project_code=second_project))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    publish("funding", "F-2", funding_data(project_code=second_project))


@pytest.fixture
def second_project(publish: Any) -> str:
    """Another published project; returns its code."""
    response = publish("project", OTHER_PROJECT_CODE, project_data(admin_division="330106"))
    assert response.status_code == 201, response.json
    return OTHER_PROJECT_CODE


def test_sequences_are_dense_and_increasing(client, project, second_project, publish, headers):
    _publish_mixed_changes(client, publish, headers, second_project)

    page = read_feed(client, headers("audit"))

    assert [e["sequence"] for e in page["events"]] == list(range(1, 11))
    assert page["next_after"] == 10


def test_after_and_limit_page_through_the_feed(client, project, second_project, publish, headers):
    _publish_mixed_changes(client, publish, headers, second_project)
    everything = read_feed(client, headers("audit"))["events"]

    pages, after = [], 0
    while True:
        page = read_feed(client, headers("audit"), after=after, limit=3)
        if not page["events"]:
            assert page["next_after"] == after
            break
        assert len(page["events"]) <= 3
        assert page["next_after"] == page["events"][-1]["sequence"]
        pages.append(page["events"])
        after = page["next_after"]

    assert [len(events) for events in pages] == [3, 3, 3, 1]
    assert [e for events in pages for e in events] == everything
    assert after == 10


def test_next_after_resumes_exactly_where_the_page_ended(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    first = read_feed(client, headers("audit"))
    publish("land_parcel", "L-2", parcel_data())
    publish("land_parcel", "L-3", parcel_data())

    resumed = read_feed(client, headers("audit"), after=first["next_after"])

    assert first["next_after"] == 2
    assert [e["subject"] for e in resumed["events"]] == ["land_parcel/L-2", "land_parcel/L-3"]
    assert resumed["next_after"] == 4


def test_types_filter_takes_a_comma_separated_list(
    client, project, second_project, publish, headers
):
    _publish_mixed_changes(client, publish, headers, second_project)

    page = read_feed(client, headers("audit"), types="land_parcel,funding")

    assert [e["subject"] for e in page["events"]] == [
        "land_parcel/L-1",
        "funding/F-1",
        "land_parcel/L-2",
        "funding/F-1",
        "land_parcel/L-1",
        "funding/F-2",
    ]
    assert page["next_after"] == 10


def test_project_code_filter_keeps_one_projects_events(
    client, project, second_project, publish, headers
):
    _publish_mixed_changes(client, publish, headers, second_project)

    page = read_feed(client, headers("audit"), project_code=second_project)

    assert [e["subject"] for e in page["events"]] == [
        f"project/{second_project}",
        "land_parcel/L-2",
        "permit/P-2",
        "funding/F-2",
    ]
    assert all(e["data"]["project_code"] == second_project for e in page["events"])


def test_filters_combine_and_page_without_losing_events(
    client, project, second_project, publish, headers
):
    _publish_mixed_changes(client, publish, headers, second_project)

    seen, after = [], 0
    for _ in range(10):
        page = read_feed(
            client,
            headers("audit"),
            after=after,
            limit=1,
            types="funding,permit",
            project_code=PROJECT_CODE,
        )
        seen.extend(e["subject"] for e in page["events"])
        if page["next_after"] == after:
            break
        after = page["next_after"]

    assert seen == ["funding/F-1", "permit/P-1", "funding/F-1"]
    assert after == 10


@pytest.mark.parametrize(
    "query",
    [
        {"types": "permit"},
        {"project_code": OTHER_PROJECT_CODE},
        {"types": "permit", "limit": 2},
    ],
    ids=["type", "project", "type-small-page"],
)
def test_a_filter_matching_nothing_still_advances_next_after_to_the_head(
    client, project, publish, headers, query
):
    for n in range(4):
        publish("land_parcel", f"L-{n}", parcel_data())

    page = read_feed(client, headers("audit"), **query)

    assert page["events"] == []
    assert page["next_after"] == 5


def test_reading_at_the_head_returns_nothing_and_keeps_the_cursor(client, project, headers):
    page = read_feed(client, headers("audit"), after=1)

    assert page == {"events": [], "next_after": 1}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"after": -1}, "after"),
        ({"after": "latest"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": "max+1"}, "limit"),
        ({"wait": -1}, "wait"),
        ({"wait": 61}, "wait"),
        ({"wait": "soon"}, "wait"),
    ],
)
def test_bad_feed_parameters_are_422_naming_them(app, client, departments, headers, query, field):
    if query.get("limit") == "max+1":
        query = {"limit": app.config["EVENTS_PAGE_SIZE_MAX"] + 1}

    response = client.get(EVENTS, headers=headers("audit"), query_string=query)

    assert_problem(response, 422, field)


# --- What readers see ----------------------------------------------------------------------


def test_the_record_in_an_event_is_filtered_for_the_reader(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    as_owner = all_events(client, headers, "land", types="land_parcel")[0]["data"]
    as_other = all_events(client, headers, "finance", types="land_parcel")[0]["data"]

    assert as_owner["record"]["rights_holder"] == "Metro Group"
    assert as_owner["record"]["transfer_price"] == 1200.5
    assert "rights_holder" not in as_other["record"]
    assert "transfer_price" not in as_other["record"]
    assert as_other["record"]["area_mu"] == 86.4
    # that a withheld field changed is not for the other department to learn either
    withheld = {"rights_holder", "transfer_price"}
    assert withheld <= set(as_owner["changed_fields"])
    assert as_other["changed_fields"] == [
        name for name in as_owner["changed_fields"] if name not in withheld
    ]


def test_the_project_record_in_an_event_hides_conditional_contacts(client, project, headers):
    as_owner = all_events(client, headers, "ndrc")[0]["data"]["record"]
    as_other = all_events(client, headers, "approval")[0]["data"]["record"]

    assert as_owner["contacts"] == project_data()["contacts"]
    assert "contacts" not in as_other
    assert as_other["name"] == project_data()["name"]


# --- Failures append nothing ---------------------------------------------------------------


def _head(client: Any, headers: Any) -> int:
    return int(read_feed(client, headers("audit"))["next_after"])


@pytest.mark.parametrize(
    "failure",
    ["invalid", "not-publisher", "stale-if-match", "unknown-project", "linked-project-delete"],
)
def test_a_failed_write_appends_no_event(client, project, publish, headers, failure):
    publish("land_parcel", "L-1", parcel_data())
    head = _head(client, headers)
    url = record_url("land_parcel", "L-1")

    if failure == "invalid":
        response = publish("land_parcel", "L-2", parcel_data(area_mu=-1))
    elif failure == "not-publisher":
        response = client.put(url, json=parcel_data(area_mu=1), headers=headers("finance"))
    elif failure == "stale-if-match":
        response = publish("land_parcel", "L-1", parcel_data(area_mu=1), **{"If-Match": '"9"'})
    elif failure == "unknown-project":
        response = publish("land_parcel", "L-2", parcel_data(project_code=OTHER_PROJECT_CODE))
    else:
        response = client.delete(record_url("project", PROJECT_CODE), headers=headers("ndrc"))

    assert response.status_code >= 400
    assert _head(client, headers) == head
    assert read_feed(client, headers("audit"), after=head)["events"] == []


def test_a_batch_with_failures_appends_events_only_for_its_successes(
    client, project, publish, headers
):
    publish("land_parcel", "L-2", parcel_data())
    head = _head(client, headers)

    response = client.post(
        f"{API}/records/land_parcel/batch",
        json={
            "records": [
                {"key": "L-1", "data": parcel_data()},
                {"key": "L-bad", "data": parcel_data(area_mu=-1)},
                {"key": "L-2", "data": parcel_data(area_mu=90), "if_match": '"7"'},
                {"key": "L-2", "data": parcel_data(area_mu=91), "if_match": '"1"'},
                {"key": "L-3", "data": parcel_data(project_code=OTHER_PROJECT_CODE)},
                {"key": "L-4", "data": parcel_data()},
            ]
        },
        headers=headers("land"),
    )

    assert [r["status"] for r in response.json["results"]] == [201, 422, 412, 200, 422, 201]
    events = read_feed(client, headers("audit"), after=head)["events"]
    assert [(e["sequence"], e["subject"], e["data"]["version"]) for e in events] == [
        (head + 1, "land_parcel/L-1", 1),
        (head + 2, "land_parcel/L-2", 2),
        (head + 3, "land_parcel/L-4", 1),
    ]


# --- Long-poll -----------------------------------------------------------------------------


def test_a_long_poll_with_no_events_returns_empty_after_the_wait(client, departments, headers):
    auth = headers("audit")

    started = time.monotonic()
    page = read_feed(client, auth, wait=0.5)
    elapsed = time.monotonic() - started

    assert page == {"events": [], "next_after": 0}
    assert 0.45 <= elapsed < 2.0


def test_a_long_poll_returns_an_event_committed_during_the_wait(app, client, project, headers):
    reader_auth, writer_auth = headers("audit"), headers("land")
    outcome: dict[str, Any] = {}

    def publish_later() -> None:
        time.sleep(0.3)
        response = app.test_client().put(
            record_url("land_parcel", "L-1"), json=parcel_data(), headers=writer_auth
        )
        outcome["status"] = response.status_code

    writer = threading.Thread(target=publish_later)
    started = time.monotonic()
    writer.start()
    try:
        page = read_feed(client, reader_auth, after=1, wait=10)
    finally:
        writer.join(timeout=10)
    elapsed = time.monotonic() - started

    assert outcome["status"] == 201
    assert [e["subject"] for e in page["events"]] == ["land_parcel/L-1"]
    assert page["next_after"] == 2
    assert elapsed < 5.0


# --- Concurrent writers --------------------------------------------------------------------

WRITERS = [
    ("land", "land_parcel", parcel_data),
    ("finance", "funding", funding_data),
    ("approval", "permit", permit_data),
    ("land", "land_parcel", parcel_data),
]
RECORDS_PER_WRITER = 15


def test_concurrent_writers_never_make_a_reader_skip_an_event(app, project, headers):
    writer_auth = [headers(department) for department, _, _ in WRITERS]
    reader_auth = headers("audit")
    total = 1 + len(WRITERS) * RECORDS_PER_WRITER
    failures: list[str] = []
    seen: list[int] = []
    writers_done = threading.Event()

    def write(number: int) -> None:
        _, type_name, body = WRITERS[number]
        writer = app.test_client()
        try:
            for n in range(RECORDS_PER_WRITER):
                response = writer.put(
                    record_url(type_name, f"W{number}-{n}"),
                    json=body(),
                    headers=writer_auth[number],
                )
                if response.status_code != 201:
                    failures.append(f"writer {number}: {response.status_code} {response.json}")
        except Exception as exc:  # report, do not hang the reader
            failures.append(f"writer {number}: {exc!r}")

    def read() -> None:
        reader = app.test_client()
        after, deadline = 0, time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                response = reader.get(
                    EVENTS,
                    headers=reader_auth,
                    query_string={"after": after, "limit": 7, "wait": 0.1},
                )
                if response.status_code != 200:
                    failures.append(f"reader: {response.status_code} {response.json}")
                    return
                page = response.json
                seen.extend(e["sequence"] for e in page["events"])
                if page["events"]:
                    assert page["next_after"] == page["events"][-1]["sequence"]
                assert page["next_after"] >= after
                after = page["next_after"]
                if writers_done.is_set() and after >= total:
                    return
            failures.append(f"reader: timed out at {after}")
        except Exception as exc:
            failures.append(f"reader: {exc!r}")

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(WRITERS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    writers_done.set()
    reader.join(timeout=70)

    assert not failures, failures
    assert seen == list(range(1, total + 1))


def test_writers_a_feed_reader_and_a_dispatcher_each_see_every_event_once_in_order(
    app, project, headers, receiver
):
    """Several writers at once; the feed reader and a webhook subscription each get every
    event exactly once, in sequence order."""
    app.config.update(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])
    subscriber = headers("audit", ["subscriptions"])
    created = app.test_client().post(
        f"{API}/subscriptions",
        json={"types": ["land_parcel", "funding", "permit"], "endpoint_url": receiver.url("hook")},
        headers=subscriber,
    )
    assert created.status_code == 201, created.json
    dispatcher = Dispatcher(app)
    dispatcher.start()
    feed_seen: list[int] = []
    failures: list[str] = []
    try:
        threads = [
            threading.Thread(target=_write_records, args=(app, headers, n, failures))
            for n in range(len(WRITERS))
        ]
        for thread in threads:
            thread.start()
        after = 1
        deadline = time.monotonic() + 60
        expected = len(WRITERS) * RECORDS_PER_WRITER
        while len(feed_seen) < expected and time.monotonic() < deadline:
            page = read_feed(app.test_client(), headers("audit"), after=after, wait=0.2, limit=9)
            feed_seen.extend(e["sequence"] for e in page["events"])
            after = page["next_after"]
        for thread in threads:
            thread.join(timeout=60)
        receiver.wait_for("hook", expected, timeout=30)
    finally:
        dispatcher.stop()
    assert not failures, failures
    assert feed_seen == list(range(2, expected + 2))
    assert [r.sequence for r in receiver.receipts("hook")] == feed_seen


def _write_records(app, headers, number: int, failures: list[str]) -> None:
    department, type_name, body = WRITERS[number]
    writer, auth = app.test_client(), headers(department)
    for n in range(RECORDS_PER_WRITER):
        response = writer.put(record_url(type_name, f"D{number}-{n}"), json=body(), headers=auth)
        if response.status_code != 201:
            failures.append(f"writer {number}: {response.status_code} {response.json}")


# --- Access --------------------------------------------------------------------------------


def test_the_feed_needs_the_events_read_scope(client, departments, headers):
    response = client.get(EVENTS, headers=headers("audit", ["records:read", "records:write"]))

    assert_problem(response, 403)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", "Basic YTpi"], ids=["none", "garbage", "basic"]
)
def test_the_feed_needs_a_valid_token(client, departments, authorization):
    request_headers = {"Authorization": authorization} if authorization else {}

    response = client.get(EVENTS, headers=request_headers)

    assert_problem(response, 401)


# --- Waking and retention ------------------------------------------------------------------


def test_a_long_poll_wakes_at_the_commit_not_at_the_next_look(
    app, client, project, headers, settings
):
    """With the safety-net interval far longer than the wait, only a wake-up can end it early:
    on PostgreSQL the writer is another app (as another process would be: LISTEN/NOTIFY), on
    SQLite the same app (the in-process signal)."""
    app.config["EVENTS_POLL_INTERVAL"] = 30.0
    postgres = settings["DATABASE_URL"].startswith("postgresql")
    writer_app = create_app(settings) if postgres else app
    reader_auth, writer_auth = headers("audit"), headers("land")
    read_feed(client, reader_auth, after=1, wait=0.05)  # a first wait starts the listener
    time.sleep(0.5)  # let it connect (the wake-up on connecting must not count)

    def publish_later() -> None:
        time.sleep(0.5)
        writer_app.test_client().put(
            record_url("land_parcel", "L-1"), json=parcel_data(), headers=writer_auth
        )

    writer = threading.Thread(target=publish_later)
    started = time.monotonic()
    writer.start()
    try:
        page = read_feed(client, reader_auth, after=1, wait=20)
    finally:
        writer.join(timeout=10)
        if writer_app is not app:
            notify.notifier(writer_app).close()
            db.dispose(writer_app)
    assert [e["subject"] for e in page["events"]] == ["land_parcel/L-1"]
    assert time.monotonic() - started < 5


def _until(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_listener_listens_only_while_held_and_a_linger_after(app, settings):
    if not settings["DATABASE_URL"].startswith("postgresql"):
        assert not notify.notifier(app).listening  # SQLite: nothing crosses processes
        return
    with app.app_context():
        signal = notify.ChangeSignal()
        listener = notify.PostgresListener(db.engine, signal, linger=0.3)
    try:
        time.sleep(0.3)
        assert not listener.listening
        seen = signal.generation
        listener.hold()
        assert _until(lambda: listener.listening)
        assert signal.generation != seen  # connecting wakes waiters: changes may have been missed
        listener.release()
        assert listener.listening  # for the linger
        assert _until(lambda: not listener.listening)
        listener.hold()  # held again later: listens again
        assert _until(lambda: listener.listening)
    finally:
        listener.stop()
    assert not listener.listening


def test_a_process_with_nothing_waiting_is_not_woken_by_other_processes_commits(
    app, project, headers, settings
):
    # ... even with a dispatcher running, as long as it has no webhook subscription to serve
    postgres = settings["DATABASE_URL"].startswith("postgresql")
    writer_app = create_app(settings) if postgres else app
    dispatcher = Dispatcher(app)
    dispatcher.start()
    try:
        for n in range(3):
            response = writer_app.test_client().put(
                record_url("land_parcel", f"L-{n}"), json=parcel_data(), headers=headers("land")
            )
            assert response.status_code == 201
        time.sleep(0.5)
        assert not notify.notifier(app).listening
    finally:
        dispatcher.stop()
        if writer_app is not app:
            notify.notifier(writer_app).close()
            db.dispose(writer_app)


def test_a_dispatcher_listens_while_it_has_webhooks_to_serve_and_not_after(
    project, headers, receiver, settings, monkeypatch
):
    if not settings["DATABASE_URL"].startswith("postgresql"):
        return
    monkeypatch.setattr(notify, "LINGER", 0.2)
    served = create_app(settings)
    served.config.update(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"])
    subscriber = headers("audit", ["subscriptions"])
    client = served.test_client()
    created = client.post(
        f"{API}/subscriptions",
        json={"types": ["land_parcel"], "endpoint_url": receiver.url("hook")},
        headers=subscriber,
    )
    assert created.status_code == 201, created.json
    dispatcher = Dispatcher(served)
    notifier = notify.notifier(served)
    try:
        with served.app_context():
            dispatcher.run_once()
        assert _until(lambda: notifier.listening)

        deleted = client.delete(f"{API}/subscriptions/{created.json['id']}", headers=subscriber)
        assert deleted.status_code == 204
        with served.app_context():
            dispatcher.run_once()
        assert _until(lambda: not notifier.listening)
    finally:
        dispatcher.stop()
        notifier.close()
        db.dispose(served)


def _age_events(app, through: int, days: int) -> None:
    with app.app_context(), db.unit_of_work() as session:
        session.execute(
            update(RecordVersion)
            .where(RecordVersion.sequence <= through)
            .values(created_at=datetime.now(UTC) - timedelta(days=days))
        )


def test_compaction_sends_readers_behind_the_horizon_a_410_that_says_how_to_resume(
    app, client, project, publish, headers, hub_cli
):
    for n in range(3):
        publish("land_parcel", f"L-{n}", parcel_data())
    auth = headers("audit")
    assert len(read_feed(client, auth)["events"]) == 4
    _age_events(app, through=2, days=100)

    result = hub_cli("events", "compact", "--older-than", "30")
    assert result.exit_code == 0, result.stderr
    assert "after 2" in result.stderr

    gone = client.get(EVENTS, headers=auth, query_string={"after": 1})
    assert_problem(gone, 410)
    assert gone.json["retained_after"] == 2
    assert gone.json["resume_after"] == 4
    assert "after=4" in gone.json["detail"]
    # from the horizon on, the feed reads as before; records and history are untouched
    assert [e["sequence"] for e in read_feed(client, auth, after=2)["events"]] == [3, 4]
    history = client.get(f"{record_url('project', PROJECT_CODE)}/history", headers=auth)
    assert len(history.json["items"]) == 1


def test_compaction_never_moves_the_horizon_back(app, client, project, publish, headers, hub_cli):
    publish("land_parcel", "L-1", parcel_data())
    read_feed(client, headers("audit"))
    _age_events(app, through=2, days=100)
    assert hub_cli("events", "compact", "--older-than", "30").exit_code == 0
    assert "after 2" in hub_cli("events", "compact", "--older-than", "365").stderr
    assert_problem(client.get(EVENTS, headers=headers("audit"), query_string={"after": 0}), 410)


@pytest.mark.parametrize("old", [0, 1, 6, 12, 13])
def test_compaction_finds_the_last_old_event_wherever_it_is(
    app, project, publish, hub_cli, old: int
):
    for n in range(12):
        publish("land_parcel", f"L-{n}", parcel_data())
    assert hub_cli("events", "number").exit_code == 0
    _age_events(app, through=old, days=100)
    assert f"after {old}" in hub_cli("events", "compact", "--older-than", "30").stderr


def test_events_number_command_numbers_pending_changes(app, client, project, headers, hub_cli):
    result = hub_cli("events", "number")
    assert (result.exit_code, result.stderr.strip()) == (0, "Numbered 1 events.")
    with app.app_context(), db.unit_of_work(write=False) as session:
        assert events_log.head_sequence(session) == 1
