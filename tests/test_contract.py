"""The contract holds at its edges: what the OpenAPI document promises the server enforces,
and bodies mean exactly one thing (UTF-8, every key once)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask.testing import FlaskClient

from tests.factories import PROJECT_CODE, funding_data, parcel_data, project_data
from tests.test_errors import assert_problem

RECORD_URL = f"/api/v1/records/project/{PROJECT_CODE}"
ALL_SCOPES = [
    "records:read",
    "records:write",
    "events:read",
    "subscriptions",
    "grants",
    "admin",
]
PATH_VALUES = {
    "type_name": "project",
    "key": "K-1",
    "grant_id": "1",
    "key_id": "0123456789ab",
    "department_id": "land",
    "subscription_id": "1",
    "name": "land-sync",
    "username": "alice",
    "project_code": PROJECT_CODE,
    "code": PROJECT_CODE,
}


def operations_with_a_required_body(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, URL) of every operation whose request body the document marks required."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if operation.get("requestBody", {}).get("required"):
                url = path.format(**PATH_VALUES)
                found.append((method.upper(), url))
    return found


def test_every_body_the_document_requires_is_required_by_the_server(
    client: FlaskClient, headers: Callable[..., dict[str, str]], project: str
) -> None:
    document = client.get("/api/v1/openapi.json").json
    everything = headers("ndrc", ALL_SCOPES)
    operations = operations_with_a_required_body(document)
    assert ("PATCH", "/api/v1/admin/departments/land") in operations
    accepted = []
    for method, url in operations:
        response = client.open(url, method=method, headers=everything)
        if response.status_code < 400:
            accepted.append((method, url, response.status_code))
    assert accepted == [], "these accept a request without its required body"


def test_a_rotation_body_is_optional_in_the_document_as_on_the_server(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    document = client.get("/api/v1/openapi.json").json
    rotate = document["paths"]["/api/v1/admin/keys/{key_id}/rotate"]["post"]
    assert rotate["requestBody"].get("required", False) is False


def test_a_department_change_must_change_something(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    for body in (None, {}):
        response = client.patch("/api/v1/admin/departments/land", json=body, headers=admin)
        assert_problem(response, 422)


@pytest.mark.parametrize("sequence", [1.9, "7000", 2.589e-42, 1.0, True])
def test_an_acknowledged_sequence_must_be_a_json_integer(
    client: FlaskClient, headers: Callable[..., dict[str, str]], sequence: Any
) -> None:
    subscriber = headers("land", ["subscriptions"])
    created = client.post("/api/v1/subscriptions", json={"types": ["project"]}, headers=subscriber)
    assert created.status_code == 201, created.json
    url = f"/api/v1/subscriptions/{created.json['id']}/ack"
    problem = assert_problem(client.post(url, json={"sequence": sequence}, headers=subscriber), 422)
    assert "sequence" in problem["errors"]


def test_a_repeated_key_in_a_json_object_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    body = json.dumps(project_data())[:-1] + ', "name": "Another name"}'
    response = client.put(
        RECORD_URL, data=body, content_type="application/json", headers=headers("ndrc")
    )
    problem = assert_problem(response, 400)
    assert "'name' appears twice" in problem["detail"]
    assert client.get(RECORD_URL, headers=headers("ndrc")).status_code == 404


@pytest.mark.parametrize(
    "encoded",
    [
        json.dumps(project_data()).encode("utf-16"),
        json.dumps(project_data()).encode("utf-16-le"),
        json.dumps(project_data()).encode("utf-32"),
        b"\xef\xbb\xbf" + json.dumps(project_data()).encode(),
    ],
    ids=["utf-16 with BOM", "utf-16-le", "utf-32", "utf-8 with BOM"],
)
def test_a_body_that_is_not_plain_utf8_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], encoded: bytes
) -> None:
    response = client.put(
        RECORD_URL, data=encoded, content_type="application/json", headers=headers("ndrc")
    )
    problem = assert_problem(response, 400)
    assert "UTF-8" in problem["detail"] or "byte-order mark" in problem["detail"]


def test_batch_is_the_batch_endpoint_never_a_key(
    client: FlaskClient, headers: Callable[..., dict[str, str]], project: str
) -> None:
    land = headers("land")
    url = "/api/v1/records/land_parcel/batch"
    for method in ("PUT", "PATCH", "DELETE", "GET"):
        response = client.open(url, method=method, json=parcel_data(), headers=land)
        problem = assert_problem(response, 405)
        assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}, problem
    assert set(client.options(url).headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    # nor can a batch item name it
    item = client.post(
        url, json={"records": [{"key": "batch", "data": parcel_data()}]}, headers=land
    )
    assert item.json["results"][0]["status"] == 422
    assert "key" in item.json["results"][0]["errors"]


def test_a_chinese_document_number_is_a_key_end_to_end(
    client: FlaskClient, headers: Callable[..., dict[str, str]], project: str
) -> None:
    key = "杭财建〔2025〕12号"
    finance, url = headers("finance"), f"/api/v1/records/funding/{quote(key, safe='')}"
    created = client.put(url, json=funding_data(), headers=finance)
    assert created.status_code == 201, created.json
    assert created.json["key"] == key
    assert client.get(url, headers=finance).json["data"]["funding_id"] == key
    listed = client.get("/api/v1/records/funding", headers=finance).json["items"]
    assert [record["key"] for record in listed] == [key]
    history = client.get(f"{url}/history", headers=finance).json["items"]
    assert [version["key"] for version in history] == [key]
    batch = client.post(
        "/api/v1/records/funding/batch",
        json={"records": [{"key": key, "data": funding_data(allocated=200000)}]},
        headers=finance,
    )
    assert batch.json["results"][0]["status"] == 200, batch.json
    events = client.get("/api/v1/events?types=funding", headers=finance).json["events"]
    assert [event["subject"] for event in events] == [f"funding/{key}", f"funding/{key}"]
    assert all(event["id"].isascii() for event in events), "ids go into webhook headers"
    dossier = client.get(f"/api/v1/projects/{PROJECT_CODE}/dossier", headers=finance).json
    assert [record["key"] for record in dossier["records"]["funding"]] == [key]


def test_changed_fields_never_name_a_field_withheld_from_the_reader(
    client: FlaskClient, headers: Callable[..., dict[str, str]], project: str
) -> None:
    land, finance = headers("land"), headers("finance")
    url = "/api/v1/records/land_parcel/P-1"
    assert client.put(url, json=parcel_data(), headers=land).status_code == 201
    changed = parcel_data(rights_holder="Another holder", transfer_price=99, area_mu=7)
    assert client.put(url, json=changed, headers=land).status_code == 200

    def changes(response: Any) -> list[list[str]]:
        return [item["changed_fields"] for item in response.json["items"]]

    assert changes(client.get(f"{url}/history", headers=land))[0] == [
        "area_mu",
        "rights_holder",
        "transfer_price",
    ]
    assert changes(client.get(f"{url}/history", headers=finance))[0] == ["area_mu"]
    feed = client.get("/api/v1/events?types=land_parcel", headers=finance).json["events"]
    assert feed[-1]["data"]["changed_fields"] == ["area_mu"]
    owner_feed = client.get("/api/v1/events?types=land_parcel", headers=land).json["events"]
    assert owner_feed[-1]["data"]["changed_fields"] == [
        "area_mu",
        "rights_holder",
        "transfer_price",
    ]
    # a change only to withheld fields names nothing to the reader
    only_withheld = parcel_data(rights_holder="A third holder", transfer_price=99, area_mu=7)
    assert client.put(url, json=only_withheld, headers=land).status_code == 200
    assert changes(client.get(f"{url}/history", headers=finance))[0] == []


def test_a_feed_cursor_beyond_the_head_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], project: str
) -> None:
    reader = headers("land")
    head = client.get("/api/v1/events", headers=reader).json["next_after"]
    assert head >= 1
    assert client.get(f"/api/v1/events?after={head}", headers=reader).status_code == 200
    problem = assert_problem(client.get(f"/api/v1/events?after={head + 1}", headers=reader), 422)
    assert "after" in problem["errors"]


def test_publishing_before_the_project_says_what_to_publish_first(
    client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    response = client.put(
        "/api/v1/records/land_parcel/P-1", json=parcel_data(), headers=headers("land")
    )
    problem = assert_problem(response, 422)
    assert f"PUT /api/v1/records/project/{PROJECT_CODE}" in problem["detail"]
    assert "publish the project first" in problem["errors"]["project_code"][0]


@pytest.mark.parametrize(("size", "status"), [(3_000_000, 413), (1_000, 401)])
def test_an_oversized_chunked_body_is_refused_like_one_with_a_length(
    live_hub: Any, size: int, status: int
) -> None:
    body = b'{"name": "' + b"a" * size + b'"}'
    url = urlsplit(live_hub.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        connection.request(
            "PUT",
            f"/api/v1/records/project/{PROJECT_CODE}",
            body=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == status  # 401: small enough to be read, then not allowed
        assert response.getheader("Content-Type") == "application/problem+json"
    finally:
        connection.close()
