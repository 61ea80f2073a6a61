"""Conditional requests and retries: ``If-None-Match`` on reads, ``If-Match`` and
``If-None-Match: *`` on writes, and ``Idempotency-Key`` replays.
"""

from __future__ import annotations

import pytest

from tests.factories import PROJECT_CODE, parcel_data, project_data
from tests.record_helpers import assert_problem, event_count, history_of, record_url, write_parcel

# --- Conditional requests ------------------------------------------------------------------


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


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_stale_if_match_is_refused_with_412(client, project, publish, headers, method):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    response = write_parcel(client, method, {**headers("land"), "If-Match": '"1"'})

    assert_problem(response, 412)
    current = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert current.json["version"] == 2
    assert current.json["deleted"] is False


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_matching_if_match_lets_the_write_through(client, project, publish, headers, method):
    publish("land_parcel", "L-1", parcel_data())

    response = write_parcel(client, method, {**headers("land"), "If-Match": '"1"'})

    assert response.status_code == 200, response.json
    assert response.json["version"] == 2


def test_if_match_on_a_put_of_a_missing_record_is_412(client, project, headers):
    response = write_parcel(client, "PUT", {**headers("land"), "If-Match": '"1"'})

    assert_problem(response, 412)
    missing = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))
    assert missing.status_code == 404


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_if_match_does_not_hide_that_the_target_is_missing(client, project, headers, method):
    # RFC 9110 §13.2.1: preconditions are ignored when the request would fail without them.
    response = write_parcel(client, method, {**headers("land"), "If-Match": '"1"'})

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
