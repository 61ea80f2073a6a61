"""What the records API tests share: URLs, the envelope, problem checks and read helpers."""

from __future__ import annotations

from typing import Any

from tests.factories import parcel_data

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


def write_parcel(client: Any, method: str, headers: dict[str, str]) -> Any:
    url = record_url("land_parcel", "L-1")
    if method == "PUT":
        return client.put(url, json=parcel_data(area_mu=99), headers=headers)
    if method == "PATCH":
        return client.patch(url, json={"area_mu": 99}, headers=headers)
    return client.delete(url, headers=headers)
