"""The records API: publish, patch, delete, read, list, history, batch and dossier (DESIGN §3-4)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)

API = "/api/v1"
ENVELOPE_KEYS = {
    "type",
    "key",
    "version",
    "project_code",
    "data",
    "published_by",
    "created_at",
    "updated_at",
    "deleted",
    "withheld",
}
PARCEL_WITHHELD = ["rights_holder", "transfer_price"]


def record_url(type_name: str, key: str) -> str:
    return f"{API}/records/{type_name}/{key}"


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status``; with ``field``, that ``errors`` names it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        assert field in body["errors"], body
        assert body["errors"][field]
        assert all(isinstance(message, str) for message in body["errors"][field])
    return body


def history_of(client: Any, headers: Any, type_name: str, key: str, **query: Any) -> Any:
    response = client.get(
        f"{record_url(type_name, key)}/history", headers=headers("land"), query_string=query
    )
    assert response.status_code == 200, response.json
    return response.json


def event_count(client: Any, headers: Any) -> int:
    response = client.get(f"{API}/events", headers=headers("ndrc"), query_string={"limit": 1000})
    assert response.status_code == 200, response.json
    return len(response.json["events"])


def list_all(client: Any, headers: Any, type_name: str, department: str, **query: Any) -> Any:
    response = client.get(
        f"{API}/records/{type_name}", headers=headers(department), query_string=query
    )
    assert response.status_code == 200, response.json
    return response.json


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


# --- GET one and conditional requests ------------------------------------------------------


def test_get_returns_the_record_with_its_etag(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    response = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json["version"] == 2


def test_get_of_a_missing_record_is_404(client, project, headers):
    assert_problem(client.get(record_url("land_parcel", "nope"), headers=headers("land")), 404)


def test_if_none_match_with_the_current_etag_gives_304_without_a_body(
    client, project, publish, headers
):
    publish("land_parcel", "L-1", parcel_data())

    response = client.get(
        record_url("land_parcel", "L-1"), headers={**headers("land"), "If-None-Match": '"1"'}
    )

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == '"1"'


def test_if_none_match_with_a_stale_etag_gives_200(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    response = client.get(
        record_url("land_parcel", "L-1"), headers={**headers("land"), "If-None-Match": '"1"'}
    )

    assert response.status_code == 200
    assert response.json["version"] == 2


def _write(client: Any, method: str, headers: dict[str, str]) -> Any:
    url = record_url("land_parcel", "L-1")
    if method == "PUT":
        return client.put(url, json=parcel_data(area_mu=99), headers=headers)
    if method == "PATCH":
        return client.patch(url, json={"area_mu": 99}, headers=headers)
    return client.delete(url, headers=headers)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_stale_if_match_is_refused_with_412(client, project, publish, headers, method):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    response = _write(client, method, {**headers("land"), "If-Match": '"1"'})

    assert_problem(response, 412)
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 2
    assert current.json["deleted"] is False


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_matching_if_match_lets_the_write_through(client, project, publish, headers, method):
    publish("land_parcel", "L-1", parcel_data())

    response = _write(client, method, {**headers("land"), "If-Match": '"1"'})

    assert response.status_code == 200, response.json
    assert response.json["version"] == 2


def test_if_match_on_a_put_of_a_missing_record_is_412(client, project, headers):
    response = _write(client, "PUT", {**headers("land"), "If-Match": '"1"'})

    assert_problem(response, 412)
    missing = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert missing.status_code == 404


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_if_match_does_not_hide_that_the_target_is_missing(client, project, headers, method):
    # RFC 9110 §13.2.1: preconditions are ignored when the request would fail without them.
    response = _write(client, method, {**headers("land"), "If-Match": '"1"'})

    assert_problem(response, 404)


def test_if_none_match_star_on_put_of_an_existing_record_is_412(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.put(
        record_url("land_parcel", "L-1"),
        json=parcel_data(area_mu=99),
        headers={**headers("land"), "If-None-Match": "*"},
    )

    assert_problem(response, 412)


def test_if_none_match_star_on_put_of_a_new_record_creates_it(client, project, headers):
    response = client.put(
        record_url("land_parcel", "L-1"),
        json=parcel_data(),
        headers={**headers("land"), "If-None-Match": "*"},
    )

    assert response.status_code == 201


# --- Idempotency-Key -----------------------------------------------------------------------


def test_a_repeated_put_with_the_same_idempotency_key_replays_the_first_response(
    client, project, headers
):
    request = {
        "json": parcel_data(),
        "headers": {**headers("land"), "Idempotency-Key": "import-2025-03-01-L-1"},
    }
    first = client.put(record_url("land_parcel", "L-1"), **request)
    events_before = event_count(client, headers)

    again = client.put(record_url("land_parcel", "L-1"), **request)

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert len(history_of(client, headers, "land_parcel", "L-1")["items"]) == 1
    assert event_count(client, headers) == events_before


def test_a_replay_returns_the_first_response_even_after_later_changes(
    client, project, publish, headers
):
    keyed = {**headers("land"), "Idempotency-Key": "k-1"}
    first = client.put(record_url("land_parcel", "L-1"), json=parcel_data(), headers=keyed)
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    again = client.put(record_url("land_parcel", "L-1"), json=parcel_data(), headers=keyed)

    assert again.status_code == 201
    assert again.json == first.json
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 2
    assert current.json["data"]["area_mu"] == 90


def test_an_idempotency_key_reused_with_a_different_body_is_422(client, project, headers):
    keyed = {**headers("land"), "Idempotency-Key": "k-1"}
    client.put(record_url("land_parcel", "L-1"), json=parcel_data(), headers=keyed)

    response = client.put(
        record_url("land_parcel", "L-1"), json=parcel_data(area_mu=1), headers=keyed
    )

    assert_problem(response, 422, "Idempotency-Key")
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 1


def test_idempotency_keys_are_per_department(client, headers):
    shared_key = "nightly-sync-1"
    project = client.put(
        record_url("project", PROJECT_CODE),
        json=project_data(),
        headers={**headers("ndrc"), "Idempotency-Key": shared_key},
    )
    parcel = client.put(
        record_url("land_parcel", "L-1"),
        json=parcel_data(),
        headers={**headers("land"), "Idempotency-Key": shared_key},
    )

    assert project.status_code == 201
    assert parcel.status_code == 201, parcel.json
    assert "Idempotent-Replayed" not in parcel.headers
    assert parcel.json["type"] == "land_parcel"


def test_a_failed_write_does_not_burn_its_idempotency_key(client, headers):
    keyed = {**headers("land"), "Idempotency-Key": "k-1"}
    failed = client.put(record_url("land_parcel", "L-1"), json=parcel_data(), headers=keyed)
    assert_problem(failed, 422, "project_code")
    client.put(record_url("project", PROJECT_CODE), json=project_data(), headers=headers("ndrc"))

    retried = client.put(record_url("land_parcel", "L-1"), json=parcel_data(), headers=keyed)

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


# --- Linking to a project ------------------------------------------------------------------


def test_project_code_must_name_an_existing_project(client, project, publish):
    response = publish("land_parcel", "L-1", parcel_data(project_code=OTHER_PROJECT_CODE))

    assert_problem(response, 422, "project_code")


def test_project_code_must_not_name_a_deleted_project(client, project, publish, headers):
    client.delete(record_url("project", PROJECT_CODE), headers=headers("ndrc"))

    response = publish("funding", "F-1", funding_data())

    assert_problem(response, 422, "project_code")


# --- Publishing rights and scopes ----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_department_that_may_not_publish_the_type_is_refused_403(
    client, project, publish, headers, method
):
    publish("land_parcel", "L-1", parcel_data())

    response = _write(client, method, headers("finance"))

    assert_problem(response, 403)
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 1


def test_a_department_that_publishes_nothing_cannot_create_records(client, project, headers):
    response = client.put(
        record_url("land_parcel", "L-1"), json=parcel_data(), headers=headers("audit")
    )

    assert_problem(response, 403)


READS = [
    ("GET", "/api/v1/records/land_parcel/L-1"),
    ("GET", "/api/v1/records/land_parcel"),
    ("GET", "/api/v1/records/land_parcel/L-1/history"),
    ("GET", f"/api/v1/projects/{PROJECT_CODE}/dossier"),
]
WRITES = [
    ("PUT", "/api/v1/records/land_parcel/L-1"),
    ("PATCH", "/api/v1/records/land_parcel/L-1"),
    ("DELETE", "/api/v1/records/land_parcel/L-1"),
    ("POST", "/api/v1/records/land_parcel/batch"),
]


def _body_for(method: str, path: str) -> Any:
    if path.endswith("/batch"):
        return {"records": [{"key": "L-2", "data": parcel_data()}]}
    if method == "PUT":
        return parcel_data(area_mu=99)
    if method == "PATCH":
        return {"area_mu": 99}
    return None


@pytest.mark.parametrize(("method", "path"), READS)
def test_reading_needs_the_records_read_scope(client, project, publish, headers, method, path):
    publish("land_parcel", "L-1", parcel_data())

    response = client.open(path, method=method, headers=headers("land", ["records:write"]))

    assert_problem(response, 403)


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writing_needs_the_records_write_scope(client, project, publish, headers, method, path):
    publish("land_parcel", "L-1", parcel_data())

    response = client.open(
        path,
        method=method,
        json=_body_for(method, path),
        headers=headers("land", ["records:read", "events:read"]),
    )

    assert_problem(response, 403)
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 1


@pytest.mark.parametrize(("method", "path"), READS + WRITES)
def test_every_records_endpoint_needs_a_token(client, method, path):
    response = client.open(path, method=method, json=_body_for(method, path))

    assert_problem(response, 401)


# --- Sharing classes on every read path ----------------------------------------------------


def _parcel_as_seen_by(client: Any, headers: Any, department: str, path: str) -> dict[str, Any]:
    """The parcel L-1 as ``department`` receives it from one read path."""
    if path == "get":
        response = client.get(record_url("land_parcel", "L-1"), headers=headers(department))
        return dict(response.json)
    if path == "list":
        return dict(list_all(client, headers, "land_parcel", department)["items"][0])
    if path == "history":
        response = client.get(
            f"{record_url('land_parcel', 'L-1')}/history", headers=headers(department)
        )
        return dict(response.json["items"][0])
    response = client.get(f"{API}/projects/{PROJECT_CODE}/dossier", headers=headers(department))
    return dict(response.json["records"]["land_parcel"][0])


READ_PATHS = ["get", "list", "history", "dossier"]


@pytest.mark.parametrize("path", READ_PATHS)
def test_the_publishing_department_sees_every_field(client, project, publish, headers, path):
    publish("land_parcel", "L-1", parcel_data())

    seen = _parcel_as_seen_by(client, headers, "land", path)

    assert seen["data"]["rights_holder"] == "Metro Group"
    assert seen["data"]["transfer_price"] == 1200.5
    assert seen["withheld"] == []


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("department", ["finance", "audit"])
def test_another_department_sees_open_fields_only(
    client, project, publish, headers, path, department
):
    publish("land_parcel", "L-1", parcel_data())

    seen = _parcel_as_seen_by(client, headers, department, path)

    assert seen["withheld"] == PARCEL_WITHHELD
    assert not set(PARCEL_WITHHELD) & set(seen["data"])
    assert seen["data"]["area_mu"] == 86.4
    assert seen["data"]["project_code"] == PROJECT_CODE


def test_withheld_lists_fields_by_class_whether_or_not_the_record_has_them(
    client, project, publish, headers
):
    body = parcel_data()
    del body["rights_holder"], body["transfer_price"]
    publish("land_parcel", "L-1", body)

    seen = client.get(record_url("land_parcel", "L-1"), headers=headers("finance"))

    assert seen.json["withheld"] == PARCEL_WITHHELD


def test_dossier_filters_every_type_for_the_reader(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("funding", "F-1", funding_data())
    publish("permit", "P-1", permit_data())

    dossier = client.get(f"{API}/projects/{PROJECT_CODE}/dossier", headers=headers("land")).json

    assert dossier["project"]["withheld"] == ["contacts"]
    assert "contacts" not in dossier["project"]["data"]
    assert dossier["records"]["land_parcel"][0]["withheld"] == []
    assert dossier["records"]["funding"][0]["withheld"] == ["bank_account"]
    assert "bank_account" not in dossier["records"]["funding"][0]["data"]
    assert dossier["records"]["permit"][0]["withheld"] == ["applicant_contact"]
    assert "applicant_contact" not in dossier["records"]["permit"][0]["data"]


# --- Listing -------------------------------------------------------------------------------


@pytest.fixture
def second_project(publish: Any) -> str:
    """Another published project; returns its code."""
    code = OTHER_PROJECT_CODE
    response = publish("project", code, project_data(admin_division="330106"))
    assert response.status_code == 201, response.json
    return code


def test_list_returns_records_of_the_type_in_change_order(client, project, publish, headers):
    for key in ("L-1", "L-2", "L-3"):
        publish("land_parcel", key, parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))
    publish("funding", "F-1", funding_data())

    page = list_all(client, headers, "land_parcel", "land")

    assert [item["key"] for item in page["items"]] == ["L-2", "L-3", "L-1"]
    assert all(set(item) == ENVELOPE_KEYS for item in page["items"])
    assert page["next_cursor"] is None


def test_list_filters_by_project_code(client, project, second_project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-2", parcel_data(project_code=second_project))
    publish("land_parcel", "L-3", parcel_data())

    page = list_all(client, headers, "land_parcel", "land", project_code=second_project)

    assert [item["key"] for item in page["items"]] == ["L-2"]


def test_list_filters_by_updated_since_with_an_offset(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    middle = publish("land_parcel", "L-2", parcel_data()).json
    publish("land_parcel", "L-3", parcel_data())
    since = datetime.fromisoformat(middle["updated_at"]).astimezone(timezone(timedelta(hours=8)))

    page = list_all(client, headers, "land_parcel", "land", updated_since=since.isoformat())

    assert [item["key"] for item in page["items"]] == ["L-2", "L-3"]


def test_list_refuses_updated_since_without_an_offset(client, project, headers):
    response = client.get(
        f"{API}/records/land_parcel",
        headers=headers("land"),
        query_string={"updated_since": "2025-01-01T00:00:00"},
    )

    assert_problem(response, 422, "updated_since")


def test_list_hides_deleted_records_unless_asked(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-2", parcel_data())
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    live = list_all(client, headers, "land_parcel", "land")
    everything = list_all(client, headers, "land_parcel", "land", include_deleted="true")

    assert [item["key"] for item in live["items"]] == ["L-2"]
    assert {(item["key"], item["deleted"]) for item in everything["items"]} == {
        ("L-1", True),
        ("L-2", False),
    }


def test_list_pages_through_every_record_exactly_once(client, project, publish, headers):
    keys = {f"L-{n:02d}" for n in range(25)}
    for key in sorted(keys):
        assert publish("land_parcel", key, parcel_data()).status_code == 201

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = list_all(client, headers, "land_parcel", "land", **query)
        pages += 1
        assert len(page["items"]) <= 7
        seen.extend(item["key"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert pages < 10, "pagination does not end"

    assert pages == 4
    assert len(seen) == len(keys)
    assert set(seen) == keys


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "!!!", "eyJ1IjoieCJ9", "WzEsMl0", "eyJ1IjoieCIsImkiOjF9", "eyJ1IjoxLCJpIjoiYSJ9"],
    ids=["text", "punctuation", "missing-id", "json-list", "bad-time", "wrong-types"],
)
def test_list_refuses_a_garbage_cursor_with_422(client, project, headers, cursor):
    response = client.get(
        f"{API}/records/land_parcel", headers=headers("land"), query_string={"cursor": cursor}
    )

    assert_problem(response, 422, "cursor")


@pytest.mark.parametrize("limit", ["0", "-1", "max+1", "many"])
def test_list_refuses_a_limit_out_of_range_with_422(client, app, project, headers, limit):
    if limit == "max+1":
        limit = str(app.config["PAGE_SIZE_MAX"] + 1)

    response = client.get(
        f"{API}/records/land_parcel", headers=headers("land"), query_string={"limit": limit}
    )

    assert_problem(response, 422, "limit")


def test_list_accepts_a_limit_of_page_size_max(client, app, project, headers):
    response = client.get(
        f"{API}/records/land_parcel",
        headers=headers("land"),
        query_string={"limit": app.config["PAGE_SIZE_MAX"]},
    )

    assert response.status_code == 200


# --- History -------------------------------------------------------------------------------


def test_history_lists_versions_newest_first_with_what_changed(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    client.patch(
        record_url("land_parcel", "L-1"),
        json={"area_mu": 90, "rights_holder": None},
        headers=headers("land"),
    )
    client.delete(record_url("land_parcel", "L-1"), headers=headers("land"))

    page = history_of(client, headers, "land_parcel", "L-1")

    assert page["next_cursor"] is None
    deleted, updated, created = page["items"]
    assert (deleted["version"], deleted["operation"]) == (3, "deleted")
    assert (updated["version"], updated["operation"]) == (2, "updated")
    assert (created["version"], created["operation"]) == (1, "created")
    assert updated["changed_fields"] == ["area_mu", "rights_holder"]
    assert set(created["changed_fields"]) == set(parcel_data()) | {"parcel_id"}
    for item in page["items"]:
        assert item["published_by"] == "land"
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    stamps = [item["created_at"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_history_is_paginated_by_cursor(client, project, publish, headers):
    for area in (1, 2, 3, 4, 5):
        publish("land_parcel", "L-1", parcel_data(area_mu=area))

    versions: list[int] = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = history_of(client, headers, "land_parcel", "L-1", **query)
        versions.extend(item["version"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(versions) < 10, "pagination does not end"

    assert versions == [5, 4, 3, 2, 1]


def test_history_refuses_a_garbage_cursor_with_422(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())

    response = client.get(
        f"{record_url('land_parcel', 'L-1')}/history",
        headers=headers("land"),
        query_string={"cursor": "garbage"},
    )

    assert_problem(response, 422, "cursor")


def test_history_of_a_missing_record_is_404(client, project, headers):
    response = client.get(f"{record_url('land_parcel', 'nope')}/history", headers=headers("land"))

    assert_problem(response, 404)


# --- Batch ---------------------------------------------------------------------------------


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


# --- Dossier -------------------------------------------------------------------------------


def test_dossier_returns_the_project_and_its_live_records_by_type(
    client, project, second_project, publish, headers
):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-2", parcel_data())
    publish("land_parcel", "L-gone", parcel_data())
    client.delete(record_url("land_parcel", "L-gone"), headers=headers("land"))
    publish("funding", "F-1", funding_data())
    publish("permit", "P-1", permit_data())
    publish("permit", "P-other", permit_data(project_code=second_project))

    response = client.get(f"{API}/projects/{PROJECT_CODE}/dossier", headers=headers("audit"))

    assert response.status_code == 200
    dossier = response.json
    assert dossier["project"]["key"] == PROJECT_CODE
    assert set(dossier["project"]) == ENVELOPE_KEYS
    keys_by_type = {t: sorted(r["key"] for r in rs) for t, rs in dossier["records"].items()}
    assert keys_by_type == {"land_parcel": ["L-1", "L-2"], "funding": ["F-1"], "permit": ["P-1"]}


def test_dossier_of_an_unknown_project_is_404(client, project, headers):
    response = client.get(f"{API}/projects/{OTHER_PROJECT_CODE}/dossier", headers=headers("land"))

    assert_problem(response, 404)


# --- Unknown types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/records/pipeline/P-1"),
        ("GET", "/api/v1/records/pipeline"),
        ("GET", "/api/v1/records/pipeline/P-1/history"),
        ("PUT", "/api/v1/records/pipeline/P-1"),
        ("PATCH", "/api/v1/records/pipeline/P-1"),
        ("DELETE", "/api/v1/records/pipeline/P-1"),
        ("POST", "/api/v1/records/pipeline/batch"),
    ],
)
def test_an_unknown_type_is_404(client, headers, method, path):
    body = {"records": [{"key": "P-1", "data": {}}]} if path.endswith("/batch") else {}
    if method in {"GET", "DELETE"}:
        body = None

    response = client.open(path, method=method, json=body, headers=headers("land"))

    assert_problem(response, 404)


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
