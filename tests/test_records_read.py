"""Reading records: one record, lists (filters, paging), a record's history, a project's dossier."""

from __future__ import annotations

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
from tests.record_helpers import (
    API,
    ENVELOPE_KEYS,
    assert_problem,
    history_of,
    list_all,
    record_url,
)

# --- GET one -------------------------------------------------------------------------------


def test_get_returns_the_record_with_its_etag(client, project, publish, headers):
    publish("land_parcel", "L-1", parcel_data())
    publish("land_parcel", "L-1", parcel_data(area_mu=90))

    response = client.get(record_url("land_parcel", "L-1"), headers=headers("land"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json["version"] == 2


def test_get_of_a_missing_record_is_404(client, project, headers):
    assert_problem(client.get(record_url("land_parcel", "nope"), headers=headers("land")), 404)


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
