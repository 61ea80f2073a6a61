"""Who may use the records endpoints (publishing rights, scopes, tokens; unknown types are 404)
and what each reader sees: sharing classes on every read path (ARCHITECTURE.md, Invariants:
sharing on every exit path).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PROJECT_CODE, funding_data, parcel_data, permit_data
from tests.record_helpers import API, assert_problem, list_all, record_url, write_parcel

PARCEL_WITHHELD = ["rights_holder", "transfer_price"]


# --- Publishing rights and scopes ----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_department_that_may_not_publish_the_type_is_refused_403(
    client, project, publish, headers, method
):
    publish("land_parcel", "L-1", parcel_data())

    response = write_parcel(client, method, headers("finance"))

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
