"""The administration API: departments and the access-key lifecycle.

Every change an administrator makes applies from the very next request of the department or
key concerned, with the tokens it already holds: rights and key state are read per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.core.db import utcnow
from tests.factories import parcel_data

API = "/api/v1"
ADMIN = f"{API}/admin"
TOKEN_URL = f"{API}/auth/token"
READ = ["records:read"]
SECRET_FREE_KEY_FIELDS = {
    "id",
    "department",
    "name",
    "scopes",
    "state",
    "created_at",
    "expires_at",
    "revoked_at",
    "generation",
    "rotated_at",
    "previous_valid_until",
}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status`` whose ``errors`` name each of ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    for field in fields:
        assert field in body.get("errors", {}), body
    return body


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def new_key(client: FlaskClient, admin: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Create a key through the API; returns the creation response's body."""

    def create(department: str = "land", scopes: list[str] | None = None, **extra: Any) -> Any:
        body = {"department": department, "scopes": scopes or READ, **extra}
        response = client.post(f"{ADMIN}/keys", json=body, headers=admin)
        assert response.status_code == 201, response.json
        return response.json

    return create


def exchange(client: FlaskClient, secret: str) -> Any:
    return client.post(TOKEN_URL, headers=bearer(secret))


def token_of(client: FlaskClient, secret: str) -> dict[str, str]:
    """Bearer headers of a token exchanged for ``secret``."""
    response = exchange(client, secret)
    assert response.status_code == 200, response.json
    return bearer(response.json["access_token"])


def works(client: FlaskClient, token_headers: dict[str, str]) -> int:
    """The status of an ordinary read with ``token_headers``."""
    return client.get(f"{API}/records/land_parcel", headers=token_headers).status_code


# Who may administer


ENDPOINTS = [
    ("post", "/departments", {"id": "water", "name": "Water", "publishes": []}),
    ("get", "/departments", None),
    ("get", "/departments/land", None),
    ("patch", "/departments/land", {"name": "Land"}),
    ("post", "/keys", {"department": "land", "scopes": READ}),
    ("get", "/keys", None),
    ("get", "/keys/0123456789ab", None),
    ("post", "/keys/0123456789ab/rotate", {}),
    ("patch", "/keys/0123456789ab", {"expires_at": None}),
    ("delete", "/keys/0123456789ab", None),
]
ENDPOINT_IDS = [f"{method}-{path}" for method, path, _ in ENDPOINTS]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_admin_endpoint_needs_a_token(
    client: FlaskClient, admin: dict[str, str], method: str, path: str, body: Any
) -> None:
    response = getattr(client, method)(f"{ADMIN}{path}", json=body)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_admin_endpoint_refuses_a_token_without_the_admin_scope(
    client: FlaskClient,
    admin: dict[str, str],
    headers: Callable[..., dict[str, str]],
    method: str,
    path: str,
    body: Any,
) -> None:
    everything_but_admin = ["records:read", "records:write", "events:read", "grants"]
    response = getattr(client, method)(
        f"{ADMIN}{path}", json=body, headers=headers("land", everything_but_admin)
    )
    body = assert_problem(response, 403)
    assert "admin" in body["detail"]
    assert client.get(f"{ADMIN}/departments/water", headers=admin).status_code == 404


def test_the_openapi_document_describes_the_admin_endpoints(client: FlaskClient) -> None:
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/admin/departments"])
    assert {"get", "patch"} <= set(paths["/api/v1/admin/departments/{department_id}"])
    assert {"post", "get"} <= set(paths["/api/v1/admin/keys"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/admin/keys/{key_id}"])
    assert "200" in paths["/api/v1/admin/keys/{key_id}"]["delete"]["responses"]
    assert "201" in paths["/api/v1/admin/keys"]["post"]["responses"]
    assert "post" in paths["/api/v1/admin/keys/{key_id}/rotate"]


# Departments


def test_an_administrator_registers_a_department_and_reads_it_back(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = {"id": "water", "name": "Water Bureau", "publishes": ["permit", "land_parcel"]}
    created = client.post(f"{ADMIN}/departments", json=body, headers=admin)
    assert created.status_code == 201, created.json
    department = created.json
    assert set(department) == {"id", "name", "publishes", "disabled", "disabled_at", "created_at"}
    assert department["id"] == "water"
    assert department["name"] == "Water Bureau"
    assert department["publishes"] == ["land_parcel", "permit"]
    assert department["disabled"] is False
    assert department["disabled_at"] is None
    assert abs(moment(department["created_at"]) - utcnow()) < timedelta(minutes=1)

    fetched = client.get(f"{ADMIN}/departments/water", headers=admin)
    assert fetched.status_code == 200
    assert fetched.json == department

    listed = client.get(f"{ADMIN}/departments", headers=admin)
    assert listed.status_code == 200
    ids = [item["id"] for item in listed.json["items"]]
    assert ids == sorted(ids)
    assert set(ids) == {"admin", "approval", "audit", "finance", "land", "ndrc", "water"}
    assert department in listed.json["items"]


def test_a_department_may_publish_nothing(client: FlaskClient, admin: dict[str, str]) -> None:
    created = client.post(f"{ADMIN}/departments", json={"id": "stats", "name": "S"}, headers=admin)
    assert created.status_code == 201, created.json
    assert created.json["publishes"] == []


def test_registering_an_existing_department_is_a_conflict(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = {"id": "land", "name": "Another", "publishes": []}
    response = client.post(f"{ADMIN}/departments", json=body, headers=admin)
    assert "land" in assert_problem(response, 409)["detail"]
    assert client.get(f"{ADMIN}/departments/land", headers=admin).json["name"] == "land"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param({"name": "Water"}, "id", id="no-id"),
        pytest.param({"id": "water"}, "name", id="no-name"),
        pytest.param({"id": "water", "name": ""}, "name", id="empty-name"),
        pytest.param({"id": "Water", "name": "Water"}, "id", id="upper-case-id"),
        pytest.param({"id": "w", "name": "Water"}, "id", id="short-id"),
        pytest.param({"id": 7, "name": "Water"}, "id", id="id-not-a-string"),
        pytest.param({"id": "water", "name": "W", "publishes": "permit"}, "publishes", id="str"),
        pytest.param(
            {"id": "water", "name": "W", "publishes": ["permit", "no_such_type"]},
            "publishes",
            id="unknown-type",
        ),
        pytest.param({"id": "water", "name": "W", "colour": "blue"}, "colour", id="unknown-field"),
    ],
)
def test_a_bad_department_is_refused_with_422_naming_the_field(
    client: FlaskClient, admin: dict[str, str], body: dict[str, Any], named: str
) -> None:
    response = client.post(f"{ADMIN}/departments", json=body, headers=admin)
    problem = assert_problem(response, 422, named)
    if "no_such_type" in str(body):
        assert "no_such_type" in problem["detail"]
        assert "no_such_type" in " ".join(problem["errors"]["publishes"])
    assert client.get(f"{ADMIN}/departments/water", headers=admin).status_code == 404


def test_unknown_departments_are_404(client: FlaskClient, admin: dict[str, str]) -> None:
    assert_problem(client.get(f"{ADMIN}/departments/water", headers=admin), 404)
    patched = client.patch(f"{ADMIN}/departments/water", json={"name": "W"}, headers=admin)
    assert_problem(patched, 404)


def test_a_department_is_renamed_and_its_types_replaced(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.patch(
        f"{ADMIN}/departments/finance",
        json={"name": "Finance Bureau", "publishes": ["funding", "permit"]},
        headers=admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["name"] == "Finance Bureau"
    assert response.json["publishes"] == ["funding", "permit"]
    assert client.get(f"{ADMIN}/departments/finance", headers=admin).json == response.json


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param({"publishes": ["no_such_type"]}, "publishes", id="unknown-type"),
        pytest.param({"publishes": None}, "publishes", id="null-publishes"),
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"disabled": "maybe"}, "disabled", id="not-a-boolean"),
        pytest.param({"id": "water"}, "id", id="id-is-not-changeable"),
    ],
)
def test_a_bad_department_change_is_refused_with_422_and_changes_nothing(
    client: FlaskClient, admin: dict[str, str], body: dict[str, Any], named: str
) -> None:
    before = client.get(f"{ADMIN}/departments/land", headers=admin).json
    response = client.patch(f"{ADMIN}/departments/land", json=body, headers=admin)
    assert_problem(response, 422, named)
    assert client.get(f"{ADMIN}/departments/land", headers=admin).json == before


def test_removing_a_type_from_publishes_refuses_the_next_put_with_the_existing_token(
    client: FlaskClient, admin: dict[str, str], project: str, publish: Callable[..., Any]
) -> None:
    assert publish("land_parcel", "L-1", parcel_data()).status_code == 201

    response = client.patch(f"{ADMIN}/departments/land", json={"publishes": []}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["publishes"] == []
    assert_problem(publish("land_parcel", "L-1", parcel_data(area_mu=90)), 403)

    client.patch(f"{ADMIN}/departments/land", json={"publishes": ["land_parcel"]}, headers=admin)
    assert publish("land_parcel", "L-1", parcel_data(area_mu=90)).status_code == 200


def test_disabling_a_department_refuses_its_tokens_and_keys_from_the_next_request(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    land = token_of(client, key["secret"])
    assert works(client, land) == 200

    response = client.patch(f"{ADMIN}/departments/land", json={"disabled": True}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["disabled"] is True
    assert abs(moment(response.json["disabled_at"]) - utcnow()) < timedelta(minutes=1)

    assert_problem(client.get(f"{API}/records/land_parcel", headers=land), 401)
    assert_problem(exchange(client, key["secret"]), 401)
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json["state"] == "disabled"
    listed = client.get(f"{ADMIN}/departments", headers=admin).json["items"]
    assert [d["id"] for d in listed if d["disabled"]] == ["land"]

    enabled = client.patch(f"{ADMIN}/departments/land", json={"disabled": False}, headers=admin)
    assert enabled.json["disabled"] is False
    assert enabled.json["disabled_at"] is None
    assert works(client, land) == 200
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json["state"] == "active"


def test_a_disabled_departments_new_keys_are_refused_too(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    client.patch(f"{ADMIN}/departments/land", json={"disabled": True}, headers=admin)
    key = new_key("land")
    assert key["state"] == "disabled"
    assert_problem(exchange(client, key["secret"]), 401)
    rotated = client.post(f"{ADMIN}/keys/{key['id']}/rotate", json={}, headers=admin)
    assert_problem(rotated, 409)


# Access keys: creation and reading


def test_a_new_key_is_returned_once_with_its_secret_and_works(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    expires_at = (utcnow() + timedelta(days=30)).isoformat()
    body = {
        "department": "land",
        "scopes": ["records:write", "records:read"],
        "name": "sync",
        "expires_at": expires_at,
    }
    response = client.post(f"{ADMIN}/keys", json=body, headers=admin)
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    key = response.json
    assert set(key) == SECRET_FREE_KEY_FIELDS | {"secret"}
    assert key["secret"].startswith(f"hubk_{key['id']}_")
    assert key["department"] == "land"
    assert key["name"] == "sync"
    assert key["scopes"] == ["records:read", "records:write"]
    assert key["state"] == "active"
    assert key["generation"] == 1
    assert moment(key["expires_at"]) == moment(expires_at)
    assert key["revoked_at"] is None
    assert key["rotated_at"] is None
    assert key["previous_valid_until"] is None

    assert works(client, token_of(client, key["secret"])) == 200


def test_a_key_is_named_after_its_department_when_no_name_is_given(
    new_key: Callable[..., dict[str, Any]],
) -> None:
    key = new_key("finance")
    assert key["name"] == "finance key"
    assert key["expires_at"] is None


def test_reading_keys_never_shows_a_secret_or_digest(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    random_part = key["secret"].split("_", 2)[2]
    rotated = client.post(
        f"{ADMIN}/keys/{key['id']}/rotate", json={"grace_seconds": 60}, headers=admin
    ).json
    new_random_part = rotated["secret"].split("_", 2)[2]

    fetched = client.get(f"{ADMIN}/keys/{key['id']}", headers=admin)
    listed = client.get(f"{ADMIN}/keys", headers=admin)
    for response in (fetched, listed):
        assert response.status_code == 200, response.json
        text = response.get_data(as_text=True)
        assert random_part not in text
        assert new_random_part not in text
        assert "secret" not in text
        assert "digest" not in text
    assert set(fetched.json) == SECRET_FREE_KEY_FIELDS
    assert all(set(item) == SECRET_FREE_KEY_FIELDS for item in listed.json["items"])


def test_keys_are_listed_newest_first_and_narrowed_to_a_department(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    land = new_key("land")
    finance = new_key("finance")

    everything = client.get(f"{ADMIN}/keys", headers=admin).json["items"]
    ids = [item["id"] for item in everything]
    assert land["id"] in ids
    assert finance["id"] in ids
    assert ids.index(finance["id"]) < ids.index(land["id"])

    only_finance = client.get(
        f"{ADMIN}/keys", query_string={"department": "finance"}, headers=admin
    )
    assert only_finance.status_code == 200
    assert [item["id"] for item in only_finance.json["items"]] == [finance["id"]]
    nobody = client.get(f"{ADMIN}/keys", query_string={"department": "water"}, headers=admin)
    assert nobody.json["items"] == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param({"scopes": READ}, "department", id="no-department"),
        pytest.param({"department": "water", "scopes": READ}, "department", id="unknown-dept"),
        pytest.param({"department": "land"}, "scopes", id="no-scopes"),
        pytest.param({"department": "land", "scopes": []}, "scopes", id="empty-scopes"),
        pytest.param({"department": "land", "scopes": "records:read"}, "scopes", id="str-scopes"),
        pytest.param(
            {"department": "land", "scopes": ["records:read", "everything"]},
            "scopes.1",
            id="unknown-scope",
        ),
        pytest.param(
            {"department": "land", "scopes": READ, "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
            id="expiry-in-the-past",
        ),
        pytest.param(
            {"department": "land", "scopes": READ, "expires_at": "2999-01-01T00:00:00"},
            "expires_at",
            id="expiry-without-offset",
        ),
        pytest.param(
            {"department": "land", "scopes": READ, "expires_at": "soon"},
            "expires_at",
            id="expiry-not-a-date",
        ),
        pytest.param({"department": "land", "scopes": READ, "name": "x" * 201}, "name", id="long"),
        pytest.param({"department": "land", "scopes": READ, "secret": "mine"}, "secret", id="own"),
    ],
)
def test_a_bad_key_request_is_refused_with_422_naming_the_field(
    client: FlaskClient, admin: dict[str, str], body: dict[str, Any], named: str
) -> None:
    before = client.get(f"{ADMIN}/keys", headers=admin).json["items"]
    response = client.post(f"{ADMIN}/keys", json=body, headers=admin)
    assert_problem(response, 422, named)
    assert "hubk_" not in response.get_data(as_text=True)
    assert client.get(f"{ADMIN}/keys", headers=admin).json["items"] == before


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"expires_at": None}),
        ("delete", "", None),
        ("post", "/rotate", {}),
    ],
)
@pytest.mark.parametrize("key_id", ["0123456789ab", "not-a-key-id"])
def test_unknown_keys_are_404(
    client: FlaskClient,
    admin: dict[str, str],
    method: str,
    suffix: str,
    body: Any,
    key_id: str,
) -> None:
    response = getattr(client, method)(f"{ADMIN}/keys/{key_id}{suffix}", json=body, headers=admin)
    assert key_id in assert_problem(response, 404)["detail"]


# Rotation


def test_during_the_grace_period_old_and_new_secrets_and_tokens_all_work(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    old_token = token_of(client, key["secret"])

    response = client.post(
        f"{ADMIN}/keys/{key['id']}/rotate", json={"grace_seconds": 3600}, headers=admin
    )
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    rotated = response.json
    assert rotated["id"] == key["id"]
    assert rotated["secret"].startswith(f"hubk_{key['id']}_")
    assert rotated["secret"] != key["secret"]
    assert rotated["generation"] == 2
    assert rotated["state"] == "active"
    grace = moment(rotated["previous_valid_until"]) - moment(rotated["rotated_at"])
    assert grace == timedelta(seconds=3600)

    assert works(client, old_token) == 200
    assert works(client, token_of(client, key["secret"])) == 200
    assert works(client, token_of(client, rotated["secret"])) == 200
    fetched = client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json
    assert fetched["generation"] == 2
    assert fetched["rotated_at"] == rotated["rotated_at"]


def test_after_the_grace_period_only_the_new_secret_and_its_tokens_work(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    old_token = token_of(client, key["secret"])
    rotated = client.post(
        f"{ADMIN}/keys/{key['id']}/rotate", json={"grace_seconds": 1}, headers=admin
    ).json
    token_from_old_secret = token_of(client, key["secret"])
    new_token = token_of(client, rotated["secret"])

    time.sleep(1.5)

    assert_problem(exchange(client, key["secret"]), 401)
    assert_problem(client.get(f"{API}/records/land_parcel", headers=old_token), 401)
    assert_problem(client.get(f"{API}/records/land_parcel", headers=token_from_old_secret), 401)
    assert works(client, new_token) == 200
    assert works(client, token_of(client, rotated["secret"])) == 200


def test_rotating_with_no_grace_ends_the_old_secret_and_its_tokens_at_once(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    old_token = token_of(client, key["secret"])
    rotated = client.post(
        f"{ADMIN}/keys/{key['id']}/rotate", json={"grace_seconds": 0}, headers=admin
    ).json
    assert rotated["previous_valid_until"] == rotated["rotated_at"]

    assert_problem(exchange(client, key["secret"]), 401)
    assert_problem(client.get(f"{API}/records/land_parcel", headers=old_token), 401)
    assert works(client, token_of(client, rotated["secret"])) == 200


def test_rotating_twice_ends_the_first_generation_at_once(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    first_token = token_of(client, key["secret"])
    url = f"{ADMIN}/keys/{key['id']}/rotate"
    second = client.post(url, json={"grace_seconds": 3600}, headers=admin).json
    second_token = token_of(client, second["secret"])
    third = client.post(url, json={"grace_seconds": 3600}, headers=admin).json
    assert third["generation"] == 3

    assert_problem(exchange(client, key["secret"]), 401)
    assert_problem(client.get(f"{API}/records/land_parcel", headers=first_token), 401)
    assert works(client, second_token) == 200
    assert works(client, token_of(client, second["secret"])) == 200
    assert works(client, token_of(client, third["secret"])) == 200


@pytest.fixture
def two_minute_grace(settings: dict[str, Any]) -> int:
    """Set KEY_ROTATION_GRACE for the app about to be built."""
    settings["KEY_ROTATION_GRACE"] = 120
    return 120


@pytest.mark.parametrize("request_body", [{}, None], ids=["empty-object", "no-body"])
def test_rotation_grace_defaults_to_the_setting(
    two_minute_grace: int,
    client: FlaskClient,
    admin: dict[str, str],
    new_key: Callable[..., dict[str, Any]],
    request_body: dict[str, Any] | None,
) -> None:
    key = new_key("land")
    response = client.post(f"{ADMIN}/keys/{key['id']}/rotate", json=request_body, headers=admin)
    assert response.status_code == 200, response.json
    rotated = response.json
    grace = moment(rotated["previous_valid_until"]) - moment(rotated["rotated_at"])
    assert grace == timedelta(seconds=two_minute_grace)
    assert works(client, token_of(client, key["secret"])) == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"grace_seconds": -1}, id="negative"),
        pytest.param({"grace_seconds": "60"}, id="string"),
        pytest.param({"grace_seconds": 1.5}, id="fraction"),
        pytest.param({"grace_seconds": 10**12}, id="huge"),
        pytest.param({"grace": 60}, id="unknown-field"),
    ],
)
def test_a_bad_grace_period_is_refused_with_422_and_the_key_is_not_rotated(
    client: FlaskClient,
    admin: dict[str, str],
    new_key: Callable[..., dict[str, Any]],
    body: dict[str, Any],
) -> None:
    key = new_key("land")
    response = client.post(f"{ADMIN}/keys/{key['id']}/rotate", json=body, headers=admin)
    assert_problem(response, 422, next(iter(body)))
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json["generation"] == 1
    assert works(client, token_of(client, key["secret"])) == 200


def test_a_revoked_or_expired_key_cannot_be_rotated(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    revoked, expired = new_key("land"), new_key("land")
    client.delete(f"{ADMIN}/keys/{revoked['id']}", headers=admin)
    past = {"expires_at": "2001-01-01T00:00:00Z"}
    client.patch(f"{ADMIN}/keys/{expired['id']}", json=past, headers=admin)
    for key in (revoked, expired):
        response = client.post(f"{ADMIN}/keys/{key['id']}/rotate", json={}, headers=admin)
        assert_problem(response, 409)
        assert "hubk_" not in response.get_data(as_text=True)


# Revocation and expiry


def test_a_revoked_key_and_its_tokens_are_refused_from_the_next_request(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    token = token_of(client, key["secret"])

    response = client.delete(f"{ADMIN}/keys/{key['id']}", headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "revoked"
    assert "secret" not in response.json
    revoked_at = response.json["revoked_at"]
    assert abs(moment(revoked_at) - utcnow()) < timedelta(minutes=1)

    assert_problem(client.get(f"{API}/records/land_parcel", headers=token), 401)
    assert_problem(exchange(client, key["secret"]), 401)
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json["state"] == "revoked"

    again = client.delete(f"{ADMIN}/keys/{key['id']}", headers=admin)
    assert again.status_code == 200
    assert again.json["revoked_at"] == revoked_at


def test_expiring_a_key_now_refuses_it_and_its_tokens_from_the_next_request(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    token = token_of(client, key["secret"])

    now = utcnow().isoformat()
    response = client.patch(f"{ADMIN}/keys/{key['id']}", json={"expires_at": now}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "expired"
    assert moment(response.json["expires_at"]) == moment(now)

    assert_problem(client.get(f"{API}/records/land_parcel", headers=token), 401)
    assert_problem(exchange(client, key["secret"]), 401)

    cleared = client.patch(f"{ADMIN}/keys/{key['id']}", json={"expires_at": None}, headers=admin)
    assert cleared.status_code == 200
    assert cleared.json["expires_at"] is None
    assert cleared.json["state"] == "active"
    assert works(client, token) == 200


def test_a_future_expiry_is_set_and_the_key_keeps_working_until_then(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    later = (utcnow() + timedelta(days=7)).isoformat()
    response = client.patch(f"{ADMIN}/keys/{key['id']}", json={"expires_at": later}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "active"
    assert moment(response.json["expires_at"]) == moment(later)
    assert works(client, token_of(client, key["secret"])) == 200


def test_an_expiry_given_in_another_time_zone_is_stored_in_utc(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    body = {"expires_at": "2999-06-01T08:00:00+08:00"}
    response = client.patch(f"{ADMIN}/keys/{key['id']}", json=body, headers=admin)
    assert response.status_code == 200, response.json
    assert moment(response.json["expires_at"]).utcoffset() == timedelta(0)
    assert moment(response.json["expires_at"]) == moment(body["expires_at"])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param({}, "expires_at", id="missing"),
        pytest.param({"expires_at": "tomorrow"}, "expires_at", id="not-a-date"),
        pytest.param({"expires_at": "2999-01-01T00:00:00"}, "expires_at", id="no-offset"),
        pytest.param({"expires_at": None, "scopes": ["admin"]}, "scopes", id="scopes-fixed"),
    ],
)
def test_a_bad_expiry_change_is_refused_with_422(
    client: FlaskClient,
    admin: dict[str, str],
    new_key: Callable[..., dict[str, Any]],
    body: dict[str, Any],
    named: str,
) -> None:
    key = new_key("land")
    response = client.patch(f"{ADMIN}/keys/{key['id']}", json=body, headers=admin)
    assert_problem(response, 422, named)
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json == {
        name: value for name, value in key.items() if name != "secret"
    }


def test_a_revoked_keys_expiry_cannot_change(
    client: FlaskClient, admin: dict[str, str], new_key: Callable[..., dict[str, Any]]
) -> None:
    key = new_key("land")
    client.delete(f"{ADMIN}/keys/{key['id']}", headers=admin)
    response = client.patch(f"{ADMIN}/keys/{key['id']}", json={"expires_at": None}, headers=admin)
    assert_problem(response, 409)
    assert client.get(f"{ADMIN}/keys/{key['id']}", headers=admin).json["state"] == "revoked"


def test_an_administrator_may_revoke_the_key_it_is_using_once_another_admin_key_exists(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    admin_key = client.get(f"{ADMIN}/keys", query_string={"department": "admin"}, headers=admin)
    [item] = admin_key.json["items"]
    spare = client.post(
        f"{ADMIN}/keys", json={"department": "admin", "scopes": ["admin"]}, headers=admin
    )
    assert spare.status_code == 201, spare.json
    assert client.delete(f"{ADMIN}/keys/{item['id']}", headers=admin).status_code == 200
    assert_problem(client.get(f"{ADMIN}/keys", headers=admin), 401)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("DELETE", "", None),
        ("POST", "/rotate", {"grace_seconds": 0}),
        ("PATCH", "", {"expires_at": "2000-01-01T00:00:00Z"}),
    ],
    ids=["revoke", "rotate", "expire"],
)
def test_the_last_usable_admin_key_is_never_ended(
    client: FlaskClient, admin: dict[str, str], method: str, suffix: str, body: Any
) -> None:
    listed = client.get(f"{ADMIN}/keys", query_string={"department": "admin"}, headers=admin)
    [item] = listed.json["items"]
    url = f"{ADMIN}/keys/{item['id']}{suffix}"
    problem = assert_problem(client.open(url, method=method, json=body, headers=admin), 409)
    assert "last usable key with the admin scope" in problem["detail"]
    assert client.get(f"{ADMIN}/keys", headers=admin).status_code == 200


def test_the_department_of_the_last_admin_keys_is_not_disabled(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.patch(f"{ADMIN}/departments/admin", json={"disabled": True}, headers=admin)
    assert_problem(response, 409)
    assert (
        client.patch(
            f"{ADMIN}/departments/land", json={"disabled": True}, headers=admin
        ).status_code
        == 200
    )
