"""Batch publishing: one result per item, each item alone, history and limits as single writes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.factories import OTHER_PROJECT_CODE, parcel_data, project_data
from tests.record_helpers import API, assert_problem, event_count, history_of, record_url


def batch(client: Any, headers: Any, items: list[dict[str, Any]], type_name: str = "land_parcel"):
    return client.post(
        f"{API}/records/{type_name}/batch", json={"records": items}, headers=headers("land")
    )


def test_batch_gives_one_result_per_item_in_request_order(client, project, publish, headers):
    publish("land_parcel", "L-2", parcel_data())
    publish("land_parcel", "L-4", parcel_data())
    publish("land_parcel", "L-4", parcel_data(area_mu=90))

    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "data": parcel_data()},
            {"key": "L-2", "data": parcel_data(area_mu=70), "if_match": '"1"'},
            {"key": "L-3", "data": parcel_data(area_mu=-5)},
            {"key": "L-4", "data": parcel_data(area_mu=60), "if_match": '"1"'},
            {"key": "L-5", "data": parcel_data()},
        ],
    )

    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["key"], r["status"]) for r in results] == [
        ("L-1", 201),
        ("L-2", 200),
        ("L-3", 422),
        ("L-4", 412),
        ("L-5", 201),
    ]
    assert results[0]["version"] == 1
    assert results[1]["version"] == 2
    assert "area_mu" in results[2]["errors"]
    assert results[4]["version"] == 1


def test_failed_batch_items_leave_nothing_behind(client, project, publish, headers):
    publish("land_parcel", "L-4", parcel_data())
    publish("land_parcel", "L-4", parcel_data(area_mu=90))
    events_before = event_count(client, headers)

    batch(
        client,
        headers,
        [
            {"key": "L-3", "data": parcel_data(area_mu=-5)},
            {"key": "L-4", "data": parcel_data(area_mu=60), "if_match": '"1"'},
            {"key": "L-5", "data": parcel_data(project_code=OTHER_PROJECT_CODE)},
            {"key": "L-6", "data": parcel_data()},
        ],
    )

    assert client.get(record_url("land_parcel", "L-3"), headers=headers("land")).status_code == 404
    assert client.get(record_url("land_parcel", "L-5"), headers=headers("land")).status_code == 404
    l4 = client.get(record_url("land_parcel", "L-4"), headers=headers("land")).json
    assert (l4["version"], l4["data"]["area_mu"]) == (2, 90)
    assert len(history_of(client, headers, "land_parcel", "L-4")["items"]) == 2
    assert client.get(record_url("land_parcel", "L-6"), headers=headers("land")).status_code == 200
    assert event_count(client, headers) == events_before + 1


def test_batch_items_with_unchanged_content_make_no_version(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = batch(client, headers, [{"key": "L-1", "data": parcel_data()}])

    assert response.json["results"] == [
        {"key": "L-1", "status": 200, "outcome": "unchanged", "version": 1}
    ]


def test_batch_results_say_what_each_item_did(client, project, publish, headers):
    publish("land_parcel", "L-2", parcel_data())
    publish("land_parcel", "L-3", parcel_data())

    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "data": parcel_data()},
            {"key": "L-2", "data": parcel_data(area_mu=70)},
            {"key": "L-3", "data": parcel_data()},
        ],
    )

    assert [r["outcome"] for r in response.json["results"]] == ["created", "updated", "unchanged"]


def test_batch_items_can_tombstone_records(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-2", parcel_data())
    client.delete(record_url("land_parcel", "L-2"), headers=headers("land"))

    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "deleted": True},
            {"key": "L-2", "deleted": True},
            {"key": "L-9", "deleted": True},
        ],
    )

    assert [(r["status"], r.get("outcome")) for r in response.json["results"]] == [
        (200, "deleted"),
        (200, "unchanged"),
        (404, None),
    ]
    l1 = client.get(record_url("land_parcel", "L-1"), headers=headers("land")).json
    assert (l1["deleted"], l1["version"]) == (True, 2)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"key": "L-1"}, "data"),
        ({"key": "L-1", "deleted": True, "data": {}}, "data"),
        ({"key": "L-1", "deleted": "yes please"}, "deleted"),
    ],
)
def test_a_batch_item_needs_data_or_deleted_but_not_both(client, project, headers, item, field):
    response = batch(client, headers, [item])

    assert_problem(response, 422, f"records.0.{field}")


def test_a_key_repeated_in_a_batch_is_written_in_request_order(client, project, headers):
    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "data": parcel_data(area_mu=10)},
            {"key": "L-2", "data": parcel_data()},
            {"key": "L-1", "data": parcel_data(area_mu=11)},
            {"key": "L-1", "data": parcel_data(area_mu=11)},
        ],
    )

    assert [(r["key"], r["outcome"], r["version"]) for r in response.json["results"]] == [
        ("L-1", "created", 1),
        ("L-2", "created", 1),
        ("L-1", "updated", 2),
        ("L-1", "unchanged", 2),
    ]
    l1 = client.get(record_url("land_parcel", "L-1"), headers=headers("land")).json
    assert l1["data"]["area_mu"] == 11
    feed = client.get(f"{API}/events?types=land_parcel", headers=headers("land")).json
    assert [(e["subject"], e["data"]["version"]) for e in feed["events"]] == [
        ("land_parcel/L-1", 1),
        ("land_parcel/L-2", 1),
        ("land_parcel/L-1", 2),
    ]


def test_a_batch_writes_history_as_single_writes_do(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-2", parcel_data())
    client.delete(record_url("land_parcel", "L-2"), headers=headers("land"))

    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "data": parcel_data(area_mu=70, land_use="mixed")},
            {"key": "L-2", "data": parcel_data()},
        ],
    )

    assert [(r["outcome"], r["version"]) for r in response.json["results"]] == [
        ("updated", 2),
        ("created", 3),
    ]
    [updated, _] = history_of(client, headers, "land_parcel", "L-1")["items"]
    assert (updated["operation"], updated["changed_fields"]) == ("updated", ["area_mu", "land_use"])
    revived = history_of(client, headers, "land_parcel", "L-2")["items"][0]
    assert (revived["operation"], revived["deleted"]) == ("created", False)
    l2 = client.get(record_url("land_parcel", "L-2"), headers=headers("land")).json
    assert (l2["deleted"], l2["version"]) == (False, 3)


def test_concurrent_batches_over_the_same_keys_neither_deadlock_nor_lose_a_version(
    app, project, headers
):
    writers, keys = 4, [f"L-{n}" for n in range(40)]
    land = headers("land")
    barrier = threading.Barrier(writers)
    responses: list[Any] = [None] * writers

    def write(n: int) -> None:
        client = app.test_client()
        # each writer sends the keys in its own order: only locking in key order avoids
        # a deadlock between them
        ordered = keys[n * 10 :] + keys[: n * 10]
        records = [{"key": key, "data": parcel_data(area_mu=n + 1)} for key in ordered]
        barrier.wait()
        responses[n] = client.post(
            f"{API}/records/land_parcel/batch", json={"records": records}, headers=land
        )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in responses] == [200] * writers, [
        r.json for r in responses
    ]
    client = app.test_client()
    for key in keys:
        record = client.get(record_url("land_parcel", key), headers=land).json
        assert record["version"] == writers
        versions = [
            item["version"] for item in history_of(client, headers, "land_parcel", key)["items"]
        ]
        assert versions == list(range(writers, 0, -1))


@pytest.mark.parametrize("key", ["L\u0000x", "L\ud800x", "", "L/1"])
def test_a_batch_item_with_an_impossible_key_is_refused_alone(client, project, headers, key):
    response = batch(
        client,
        headers,
        [
            {"key": key, "deleted": True},
            {"key": key, "data": parcel_data()},
            {"key": "L-1", "data": parcel_data()},
        ],
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["status"] for r in response.json["results"]] == [422, 422, 201]


@pytest.mark.parametrize("key", ["L\u0000x", "L\ud800x"])
def test_an_impossible_key_published_once_in_a_batch_is_refused_alone(
    client, project, headers, key
):
    # a plain publish (no condition, its key once) is locked and read with the batch's rows:
    # an impossible key must not reach that statement (PostgreSQL refuses a NUL in text)
    items = [{"key": key, "data": parcel_data()}, {"key": "L-1", "data": parcel_data()}]
    response = batch(client, headers, items)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["status"] for r in response.json["results"]] == [422, 201]


def test_batches_mixing_conditions_over_the_same_keys_do_not_deadlock(app, project, headers):
    land = headers("land")
    client = app.test_client()
    for key in ("A", "C"):
        client.put(record_url("land_parcel", key), json=parcel_data(), headers=land)

    def batch_of(first: str, second: str, area: int) -> list[dict[str, Any]]:
        return [
            {"key": first, "data": parcel_data(area_mu=area)},
            {"key": second, "data": parcel_data(area_mu=area), "if_match": "*"},
        ]

    for round_number in range(5):
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def send(
            records: list[dict[str, Any]], barrier: threading.Barrier, statuses: list[int]
        ) -> None:
            own = app.test_client()
            barrier.wait()
            response = own.post(
                f"{API}/records/land_parcel/batch", json={"records": records}, headers=land
            )
            statuses.append(response.status_code)

        threads = [
            threading.Thread(
                target=send, args=(batch_of("A", "C", 10 + round_number), barrier, statuses)
            ),
            threading.Thread(
                target=send, args=(batch_of("C", "A", 20 + round_number), barrier, statuses)
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]


@pytest.fixture
def small_batches(settings: dict[str, Any]) -> int:
    """Limit batches to 3 records; request it before ``app`` so the app is built with it."""
    settings["BATCH_MAX_RECORDS"] = 3
    return 3


def test_a_batch_above_the_configured_maximum_is_422_naming_records(
    small_batches, app, client, project, headers
):
    assert app.config["BATCH_MAX_RECORDS"] == small_batches
    items = [{"key": f"L-{n}", "data": parcel_data()} for n in range(small_batches + 1)]

    too_many = batch(client, headers, items)
    just_enough = batch(client, headers, items[:small_batches])

    assert_problem(too_many, 422, "records")
    assert just_enough.status_code == 200
    assert [r["status"] for r in just_enough.json["results"]] == [201] * small_batches
    missing = client.get(record_url("land_parcel", f"L-{small_batches}"), headers=headers("land"))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"records": []}, {"records": [{"data": {}}]}, {"records": "L-1"}],
    ids=["no-records", "empty", "item-without-key", "not-a-list"],
)
def test_a_malformed_batch_is_422_naming_records(client, project, headers, body):
    response = client.post(f"{API}/records/land_parcel/batch", json=body, headers=headers("land"))

    problem = assert_problem(response, 422)
    assert any(name.split(".")[0] == "records" for name in problem["errors"]), problem


def test_a_batch_s_changes_of_every_kind_are_versioned_in_request_order(
    client, project, publish, headers
):
    # new, changed, unchanged and revived records, written together: their versions (and
    # events) follow the request, whatever kind each is
    for key in ("L-2", "L-3", "L-4"):
        publish("land_parcel", key, parcel_data())
    client.delete(record_url("land_parcel", "L-4"), headers=headers("land"))
    feed = f"{API}/events?types=land_parcel"
    seen = len(client.get(feed, headers=headers("land")).json["events"])

    response = batch(
        client,
        headers,
        [
            {"key": "L-4", "data": parcel_data(area_mu=40)},
            {"key": "L-1", "data": parcel_data()},
            {"key": "L-3", "data": parcel_data()},
            {"key": "L-2", "data": parcel_data(area_mu=20)},
            {"key": "L-0", "data": parcel_data()},
        ],
    )

    results = response.json["results"]
    assert [(r["key"], r["outcome"], r["version"]) for r in results] == [
        ("L-4", "created", 3),
        ("L-1", "created", 1),
        ("L-3", "unchanged", 1),
        ("L-2", "updated", 2),
        ("L-0", "created", 1),
    ]
    events = client.get(feed, headers=headers("land")).json["events"][seen:]
    assert [(e["subject"], e["data"]["version"]) for e in events] == [
        ("land_parcel/L-4", 3),
        ("land_parcel/L-1", 1),
        ("land_parcel/L-2", 2),
        ("land_parcel/L-0", 1),
    ]
    l2 = client.get(record_url("land_parcel", "L-2"), headers=headers("land")).json
    assert (l2["version"], l2["data"]["area_mu"]) == (2, 20)


def test_a_key_created_by_another_writer_after_the_batch_read_its_rows_is_published_over(
    client, project, publish, headers, monkeypatch
):
    from hub.records import writes

    # the batch reads no row for L-1, as if a single write created it just after
    publish("land_parcel", "L-1", parcel_data())
    read = writes.lock_batch
    monkeypatch.setattr(
        writes,
        "lock_batch",
        lambda connection, type_name, keys, rows: {
            key: row for key, row in read(connection, type_name, keys, rows).items() if key != "L-1"
        },
    )

    response = batch(
        client,
        headers,
        [{"key": "L-1", "data": parcel_data(area_mu=30)}, {"key": "L-2", "data": parcel_data()}],
    )

    assert [(r["key"], r["outcome"], r["version"]) for r in response.json["results"]] == [
        ("L-1", "updated", 2),
        ("L-2", "created", 1),
    ]
    [updated, created] = history_of(client, headers, "land_parcel", "L-1")["items"]
    assert (updated["version"], updated["changed_fields"]) == (2, ["area_mu"])


def test_a_batch_item_of_a_tombstoned_project_is_refused_alone(client, project, publish, headers):
    publish("project", OTHER_PROJECT_CODE, project_data(admin_division="330106"))
    publish("land_parcel", "L-1", parcel_data(project_code=OTHER_PROJECT_CODE))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    client.delete(record_url("project", OTHER_PROJECT_CODE), headers=headers("ndrc"))

    response = batch(
        client,
        headers,
        [
            {"key": "L-1", "data": parcel_data(project_code=OTHER_PROJECT_CODE)},
            {"key": "L-2", "data": parcel_data(project_code=OTHER_PROJECT_CODE)},
            {"key": "L-3", "data": parcel_data()},
        ],
    )

    results = response.json["results"]
    assert [r["status"] for r in results] == [422, 422, 201]
    assert all(list(r["errors"]) == ["project_code"] for r in results[:2])
    l1 = client.get(record_url("land_parcel", "L-1"), headers=headers("land")).json
    assert (l1["deleted"], l1["version"]) == (True, 2)


def test_a_batch_that_waited_for_another_sees_the_rows_it_created(
    app, project, headers, monkeypatch
):
    # A second batch over the same keys waits for the first one's key locks; once they are
    # its, it must read the rows the first one created (not the ones it could see when it
    # started waiting), so its versions follow its own request order.
    from hub.records import writes

    land = headers("land")
    written = threading.Event()
    release = threading.Event()
    write_set = writes.write_set

    def held_open(*args: Any, **kwargs: Any) -> dict[str, int]:
        ids = write_set(*args, **kwargs)
        if not written.is_set():  # the first batch: hold its transaction open a moment
            written.set()
            release.wait(10)
        return ids

    monkeypatch.setattr(writes, "write_set", held_open)
    answers: dict[str, Any] = {}

    def send(name: str, records: list[dict[str, Any]]) -> None:
        answers[name] = app.test_client().post(
            f"{API}/records/land_parcel/batch", json={"records": records}, headers=land
        )

    first = threading.Thread(
        target=send,
        args=("first", [{"key": k, "data": parcel_data()} for k in ("L-1", "L-2")]),
    )
    first.start()
    assert written.wait(10)
    second = threading.Thread(
        target=send,
        args=("second", [{"key": k, "data": parcel_data(area_mu=70)} for k in ("L-2", "L-1")]),
    )
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second batch waits for the first one's keys"
    release.set()
    first.join(30)
    second.join(30)

    assert [r["outcome"] for r in answers["first"].json["results"]] == ["created", "created"]
    assert [(r["key"], r["outcome"], r["version"]) for r in answers["second"].json["results"]] == [
        ("L-2", "updated", 2),
        ("L-1", "updated", 2),
    ]
    client = app.test_client()
    events = client.get(f"{API}/events?types=land_parcel", headers=land).json["events"]
    assert [(e["subject"], e["data"]["version"]) for e in events] == [
        ("land_parcel/L-1", 1),
        ("land_parcel/L-2", 1),
        ("land_parcel/L-2", 2),
        ("land_parcel/L-1", 2),
    ]
