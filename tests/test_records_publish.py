"""Publishing one record: PUT creates or replaces, PATCH merges, DELETE tombstones; linking
to a project; concurrent writers of one key.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from tests.factories import OTHER_PROJECT_CODE, PROJECT_CODE, funding_data, parcel_data
from tests.record_helpers import ENVELOPE_KEYS, assert_problem, event_count, history_of, record_url

# --- PUT: create and replace ---------------------------------------------------------------


def test_put_of_a_new_record_creates_it_with_201_location_and_etag_1(client, project, publish):
    response = publish("land_parcel", "L-1", parcel_data())

    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith("/api/v1/records/land_parcel/L-1")
    body = response.json
    assert body["type"] == "land_parcel"
    assert body["key"] == "L-1"
    assert body["version"] == 1
    assert body["project_code"] == PROJECT_CODE
    assert body["published_by"] == "land"
    assert body["deleted"] is False
    assert body["data"]["parcel_id"] == "L-1"
    assert body["data"]["area_mu"] == 86.4


def test_put_of_an_existing_record_replaces_it_with_200_and_etag_2(client, project, publish):
    publish("land_parcel", "L-1", parcel_data())

    response = publish("land_parcel", "L-1", parcel_data(area_mu=90, supply_status="acquiring"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert "Location" not in response.headers
    assert response.json["version"] == 2
    assert response.json["data"]["area_mu"] == 90
    assert response.json["data"]["supply_status"] == "acquiring"
    assert response.json["created_at"] <= response.json["updated_at"]


def test_put_replaces_the_whole_record_dropping_fields_not_sent(client, project, publish):
    publish("land_parcel", "L-1", parcel_data())
    body = parcel_data()
    del body["rights_holder"]

    response = publish("land_parcel", "L-1", body)

    assert response.status_code == 200
    assert "rights_holder" not in response.json["data"]


def test_record_envelope_has_exactly_the_contract_keys(client, project, publish, headers):
    created = publish("land_parcel", "L-1", parcel_data())
    read = client.get(record_url("land_parcel", "L-1"), headers=headers("finance"))

    assert set(created.json) == ENVELOPE_KEYS
    assert set(read.json) == ENVELOPE_KEYS
    for stamp in ("created_at", "updated_at"):
        assert datetime.fromisoformat(read.json[stamp]).tzinfo is not None


def test_put_with_unchanged_content_is_a_no_op(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    events_before = event_count(client, headers)

    # The same content, this time naming its key field and sending an absent field as null.
    response = publish("land_parcel", "L-1", parcel_data(parcel_id="L-1", supplied_on=None))

    assert response.status_code == 200
    assert response.json["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert [
        item["version"] for item in history_of(client, headers, "land_parcel", "L-1")["items"]
    ] == [1]
    assert event_count(client, headers) == events_before


def test_put_with_invalid_data_is_422_naming_each_field(client, project, publish):
    response = publish("land_parcel", "L-1", parcel_data(area_mu=-1, colour="red"))

    body = assert_problem(response, 422, "area_mu")
    assert "colour" in body["errors"]


def test_put_naming_another_key_in_the_body_is_422(client, project, publish):
    response = publish("land_parcel", "L-1", parcel_data(parcel_id="L-2"))

    assert_problem(response, 422, "parcel_id")


# --- PATCH: JSON merge patch ---------------------------------------------------------------


def test_patch_changes_only_the_fields_it_names(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(
        record_url("land_parcel", "L-1"), json={"area_mu": 100}, headers=headers("land")
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json["version"] == 2
    expected = {**parcel_data(), "parcel_id": "L-1", "area_mu": 100}
    assert response.json["data"] == expected


def test_patch_with_null_removes_an_optional_field(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(
        record_url("land_parcel", "L-1"), json={"rights_holder": None}, headers=headers("land")
    )

    assert response.status_code == 200
    assert "rights_holder" not in response.json["data"]
    assert response.json["data"]["transfer_price"] == 1200.5


def test_patch_with_null_on_a_required_field_is_422(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(
        record_url("land_parcel", "L-1"), json={"land_use": None}, headers=headers("land")
    )

    assert_problem(response, 422, "land_use")
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 1
    assert current.json["data"]["land_use"] == "infrastructure"


def test_patch_merges_nested_objects(client, project, headers):
    response = client.patch(
        record_url("project", PROJECT_CODE),
        json={"responsible_leader": {"title": "Mayor"}},
        headers=headers("ndrc"),
    )

    assert response.status_code == 200
    assert response.json["data"]["responsible_leader"] == {"name": "Wang Li", "title": "Mayor"}


def test_patch_accepts_the_merge_patch_content_type(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(
        record_url("land_parcel", "L-1"),
        data='{"supply_status": "acquiring"}',
        content_type="application/merge-patch+json",
        headers=headers("land"),
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["supply_status"] == "acquiring"


def test_patch_with_no_change_is_a_no_op(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(
        record_url("land_parcel", "L-1"), json={"area_mu": 86.4}, headers=headers("land")
    )

    assert response.status_code == 200
    assert response.json["version"] == 1


@pytest.mark.parametrize("deleted_first", [False, True], ids=["never-published", "deleted"])
def test_patch_on_a_missing_record_is_404(client, project, publish, headers, deleted_first):
    if deleted_first:
        publish("land_parcel", "L-1", parcel_data())
        client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    response = client.patch(
        record_url("land_parcel", "L-1"), json={"area_mu": 1}, headers=headers("land")
    )

    assert_problem(response, 404)


def test_patch_that_is_not_an_object_is_refused(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.patch(record_url("land_parcel", "L-1"), json=[1], headers=headers("land"))

    assert_problem(response, 422)


# --- DELETE: tombstones --------------------------------------------------------------------


def test_delete_tombstones_the_record_with_a_new_version(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json["deleted"] is True
    assert response.json["version"] == 2


def test_a_deleted_record_can_still_be_read(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    response = client.get(record_url("land_parcel", "L-1"), headers=headers("finance"))

    assert response.status_code == 200
    assert response.json["deleted"] is True
    assert response.json["version"] == 2
    assert response.json["data"]["area_mu"] == 86.4


def test_history_keeps_every_version_through_a_delete(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    items = history_of(client, headers, "land_parcel", "L-1")["items"]

    assert [(i["version"], i["operation"], i["deleted"]) for i in items] == [
        (3, "deleted", True),
        (2, "updated", False),
        (1, "created", False),
    ]
    assert [i["data"]["area_mu"] for i in items[1:]] == [90, 86.4]


def test_deleting_a_deleted_record_makes_no_new_version(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    events_before = event_count(client, headers)

    response = client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    assert response.status_code == 200
    assert response.json["version"] == 2
    assert response.json["deleted"] is True
    assert len(history_of(client, headers, "land_parcel", "L-1")["items"]) == 2
    assert event_count(client, headers) == events_before


def test_put_after_delete_revives_the_record_with_201(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    response = publish("land_parcel", "L-1", parcel_data())

    assert response.status_code == 201
    assert response.headers["ETag"] == '"3"'
    assert response.json["version"] == 3
    assert response.json["deleted"] is False
    items = history_of(client, headers, "land_parcel", "L-1")["items"]
    assert [i["operation"] for i in items] == ["created", "deleted", "created"]


def test_delete_of_a_missing_record_is_404(client, project, headers):
    response = client.delete(record_url("land_parcel", "L-404"), headers=headers("land"))

    assert_problem(response, 404)


def test_a_project_with_live_linked_records_cannot_be_deleted(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("funding", "F-1", funding_data())

    refused = client.delete(record_url("project", PROJECT_CODE), headers=headers("ndrc"))

    assert_problem(refused, 409)
    still = client.get(record_url("project", PROJECT_CODE), headers=headers("ndrc"))
    assert still.json["deleted"] is False
    assert still.json["version"] == 1

    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))
    client.delete(record_url("funding", "F-1"), headers=headers("finance"))
    accepted = client.delete(record_url("project", PROJECT_CODE), headers=headers("ndrc"))

    assert accepted.status_code == 200, accepted.json
    assert accepted.json["deleted"] is True


# --- Linking to a project ------------------------------------------------------------------


def test_project_code_must_name_an_existing_project(client, project, publish):
    response = publish("land_parcel", "L-1", parcel_data(project_code=OTHER_PROJECT_CODE))

    assert_problem(response, 422, "project_code")


def test_project_code_must_not_name_a_deleted_project(client, project, publish, headers):
    client.delete(record_url("project", PROJECT_CODE), headers=headers("ndrc"))

    response = publish("funding", "F-1", funding_data())

    assert_problem(response, 422, "project_code")


# --- Concurrent writers --------------------------------------------------------------------


def test_concurrent_writers_of_one_new_key_make_one_creation_and_a_dense_history(
    app, project, headers
):
    writers = 6
    land = headers("land")
    barrier = threading.Barrier(writers)
    responses: list[Any] = [None] * writers

    def write(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        responses[n] = client.put(
            "/api/v1/records/land_parcel/RACE-1", json=parcel_data(area_mu=n + 1), headers=land
        )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (writers - 1) + [201]
    assert sorted(response.json["version"] for response in responses) == list(range(1, writers + 1))
    client = app.test_client()
    history = client.get("/api/v1/records/land_parcel/RACE-1/history", headers=land).json
    assert [item["version"] for item in history["items"]] == list(range(writers, 0, -1))
    assert [item["operation"] for item in history["items"]][-1] == "created"
    feed = client.get("/api/v1/events?types=land_parcel", headers=land).json["events"]
    assert [event["data"]["version"] for event in feed] == list(range(1, writers + 1))


# --- the write statements on PostgreSQL's driver ------------------------------------------


@pytest.fixture
def on_postgres(app: Any) -> None:
    from hub.core.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the single-record write statements run on the driver on PostgreSQL")


@pytest.mark.parametrize("statement", ["WITH existing", "WITH written"])
def test_a_database_failure_in_a_write_is_a_503_and_the_next_write_goes_through(
    client, project, publish, headers, on_postgres, monkeypatch, statement
):
    import psycopg

    publish("land_parcel", "L-1", parcel_data())
    execute = psycopg.Cursor.execute

    def timing_out(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(query, str) and query.startswith(statement):
            raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", timing_out)
    key = "L-2" if statement == "WITH existing" else "L-1"
    refused = publish("land_parcel", key, parcel_data(area_mu=5))
    monkeypatch.undo()
    done = publish("land_parcel", key, parcel_data(area_mu=6))

    assert_problem(refused, 503)
    assert refused.headers["Retry-After"]
    assert done.status_code in (200, 201), done.json
    assert done.json["data"]["area_mu"] == 6


def test_a_write_is_told_to_whoever_listens_to_the_engine(client, project, publish, on_postgres):
    from sqlalchemy import event

    from hub.core.extensions import db

    seen: list[str] = []

    def note(connection, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with client.application.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        created = publish("land_parcel", "L-1", parcel_data())
        updated = publish("land_parcel", "L-1", parcel_data(area_mu=9))
    finally:
        event.remove(engine, "before_cursor_execute", note)

    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json["version"] == 2
    assert any(statement.startswith("WITH existing") for statement in seen)
    assert any(statement.startswith("WITH written") for statement in seen)


# --- a PUT's statements commit alone on PostgreSQL -----------------------------------------


@pytest.fixture
def transaction_states(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, str]]:
    """Each statement run on the driver while the test goes: its start, whether the
    connection was in autocommit, and the transaction status the statement left."""
    import psycopg

    seen: list[tuple[str, bool, str]] = []
    execute = psycopg.Cursor.execute

    def noting(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        result = execute(cursor, query, *args, **kwargs)
        connection = cursor.connection
        status = connection.info.transaction_status.name
        seen.append((str(query)[:20], connection.autocommit, status))
        return result

    monkeypatch.setattr(psycopg.Cursor, "execute", noting)
    return seen


def test_a_put_creating_a_record_commits_each_statement_alone(
    client, project, publish, headers, admin, on_postgres, transaction_states
):
    land = headers("land")
    transaction_states.clear()

    created = publish("land_parcel", "L-1", parcel_data())

    assert created.status_code == 201, created.json
    # no BEGIN and no COMMIT: the key's state read, then the one statement writing the record,
    # its version and its audit entry, each committing alone
    started = [query for query, _, _ in transaction_states]
    assert len(started) == 2
    assert started[0].startswith("SELECT access_keys")
    assert started[1].startswith("WITH existing")
    assert all(autocommit and status == "IDLE" for _, autocommit, status in transaction_states)
    history = client.get(record_url("land_parcel", "L-1") + "/history", headers=land).json
    assert [item["version"] for item in history["items"]] == [1]
    audit = client.get(
        "/api/v1/admin/audit?target=land_parcel/L-1&action=record.put", headers=admin
    ).json
    assert [(entry["action"], entry["outcome"]) for entry in audit["items"]] == [
        ("record.put", 201)
    ]


def test_a_put_with_an_idempotency_key_claims_and_writes_in_one_transaction(
    client, project, publish, headers, on_postgres, transaction_states
):
    headers("land")
    transaction_states.clear()

    created = publish("land_parcel", "L-1", parcel_data(), **{"Idempotency-Key": "k-1"})

    assert created.status_code == 201, created.json
    writes = [state for state in transaction_states if not state[0].startswith("SELECT access")]
    assert writes
    assert all(not autocommit for _, autocommit, _ in writes)
    assert all(status == "INTRANS" for _, _, status in writes)
    replayed = publish("land_parcel", "L-1", parcel_data(), **{"Idempotency-Key": "k-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"


def test_a_change_overtaken_between_its_read_and_its_write_is_written_again_locked(
    app, client, project, publish, headers, on_postgres, monkeypatch
):
    from hub.records import writes

    publish("land_parcel", "L-1", parcel_data(area_mu=1))
    lock_or_insert = writes.lock_or_insert
    overtaken: list[int] = []

    def overtaken_once(*args: Any, **kwargs: Any) -> Any:
        found = lock_or_insert(*args, **kwargs)
        if not overtaken and threading.current_thread() is threading.main_thread():
            # another writer's change commits after this write read the row: nothing is
            # locked between the statements of a PUT
            other = threading.Thread(
                target=lambda: overtaken.append(
                    app.test_client()
                    .put(
                        record_url("land_parcel", "L-1"),
                        json=parcel_data(area_mu=2),
                        headers=headers("land"),
                    )
                    .status_code
                )
            )
            other.start()
            other.join(timeout=30)
        return found

    monkeypatch.setattr(writes, "lock_or_insert", overtaken_once)
    ours = publish("land_parcel", "L-1", parcel_data(area_mu=3, rights_holder="Ours"))

    assert overtaken == [200]
    assert ours.status_code == 200, ours.json
    assert ours.json["version"] == 3
    assert ours.json["data"]["area_mu"] == 3
    history = client.get(record_url("land_parcel", "L-1") + "/history", headers=headers("land"))
    items = history.json["items"]
    assert [item["version"] for item in items] == [3, 2, 1]
    assert [item["data"]["area_mu"] for item in items] == [3, 2, 1]
    # what changed is told against the version it replaced: the overtaking one
    assert "area_mu" in items[0]["changed_fields"]


def test_a_connection_goes_back_to_the_pool_transactional(app, on_postgres):
    from hub.core.extensions import db

    with app.app_context():
        with db.engine.connect() as connection:
            driver = connection.connection.driver_connection
            driver.autocommit = True

        assert driver.autocommit is False


def test_a_put_on_a_connection_the_database_dropped_is_a_503_and_the_next_put_goes_through(
    app, client, project, publish, headers, on_postgres
):
    import psycopg

    from hub.core.extensions import db

    headers("land")
    with app.app_context():
        with db.engine.connect() as connection:
            backend = connection.connection.driver_connection.info.backend_pid
            url = connection.connection.driver_connection.info.dsn
        # what a database restart leaves in the pool: a connection whose server has gone
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (backend,))

    refused = publish("land_parcel", "L-1", parcel_data())
    done = publish("land_parcel", "L-1", parcel_data())

    assert_problem(refused, 503)
    assert done.status_code == 201, done.json


def test_a_put_refused_before_its_first_statement_takes_no_connection(
    app, client, project, on_postgres
):
    from sqlalchemy import event

    from hub.core.extensions import db

    taken: list[object] = []

    def note(*args: Any) -> None:
        taken.append(args)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", note)
    try:
        refused = client.put(
            record_url("land_parcel", "L-1"),
            json=parcel_data(),
            headers={"Authorization": "Bearer not-a-token"},
        )
    finally:
        event.remove(engine, "checkout", note)

    assert_problem(refused, 401)
    assert taken == []


def test_after_a_put_the_next_write_in_the_same_app_context_runs_in_a_transaction(
    app, client, project, publish, headers, on_postgres, transaction_states
):
    land = headers("land")
    with app.app_context():
        publish("land_parcel", "L-1", parcel_data())
        transaction_states.clear()
        patched = client.patch(
            record_url("land_parcel", "L-1"),
            json={"area_mu": 7},
            headers={**land, "Content-Type": "application/merge-patch+json"},
        )

    assert patched.status_code == 200, patched.json
    assert transaction_states
    assert all(not autocommit for _, autocommit, _ in transaction_states)
    assert all(status == "INTRANS" for _, _, status in transaction_states)
