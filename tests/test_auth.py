"""Access keys, the token exchange, token verification, scopes and publishing rights."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import create_app
from hub.auth import service as auth
from hub.auth.models import AccessKey
from hub.core.config import ConfigError
from hub.core.db import Base, utcnow
from hub.core.extensions import db
from tests.conftest import TEST_SECRET
from tests.factories import OPERATOR, PROJECT_CODE, parcel_data, project_data

TOKEN_URL = "/api/v1/auth/token"
PUBLIC_ENDPOINTS = {
    "auth.token",
    "ops.healthz",
    "ops.readyz",
    "ops.metrics_text",
    "api-docs.openapi_json",
    "static",
}
PATH_VALUES = {
    "type_name": "project",
    "key": "K-1",
    "project_code": PROJECT_CODE,
    "grant_id": 1,
    "key_id": "0123456789ab",
    "department_id": "land",
    "subscription_id": 1,
    "name": "land-sync",
    "username": "alice",
    "code": PROJECT_CODE,
    "rest": "K-1/history",
}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def assert_unauthorized(response: Any) -> dict[str, Any]:
    """Assert a 401 problem that tells the client how to authenticate."""
    body = assert_problem(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    return body


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def exchange(client: FlaskClient, secret: str) -> Any:
    return client.post(TOKEN_URL, headers=bearer(secret))


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified (as a client would inspect them)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def kid_of(secret: str) -> str:
    """The key id the hub puts in the header of tokens signed with ``secret``."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def sign(claims: dict[str, Any], secret: str = TEST_SECRET, **options: Any) -> str:
    """Sign ``claims`` as the hub would, naming the secret's key id unless told otherwise."""
    headers = options.pop("headers", {"kid": kid_of(secret)})
    algorithm = options.pop("algorithm", "HS256")
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers, **options)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def land_secret(departments: dict[str, list[str]], make_key: Callable[..., str]) -> str:
    """A read-write access key of the land department."""
    return make_key("land")


@pytest.fixture
def land_token(client: FlaskClient, land_secret: str) -> str:
    """A token exchanged for ``land_secret``."""
    response = exchange(client, land_secret)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def set_key(app: Flask, key_id: str, **values: Any) -> None:
    """Change an access key's row directly, as an operator with database access would."""
    with app.app_context(), db.unit_of_work() as session:
        key = session.get(AccessKey, key_id)
        assert key is not None
        for name, value in values.items():
            setattr(key, name, value)


# The token exchange


def test_an_access_key_is_exchanged_for_a_bearer_jwt(
    app: Flask, client: FlaskClient, departments: dict[str, list[str]], make_key: Any
) -> None:
    secret = make_key("land", ["records:read", "records:write", "events:read"])
    response = exchange(client, secret)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0

    token = body["access_token"]
    claims = claims_of(token)
    with app.app_context():
        key_ids = db.session.scalars(
            select(AccessKey.id).where(AccessKey.department_id == "land")
        ).all()
    assert claims["sub"] in key_ids
    assert claims["dept"] == "land"
    assert claims["scope"].split() == sorted(["records:read", "records:write", "events:read"])
    assert claims["iss"] == app.config["TOKEN_ISSUER"]
    assert claims["aud"] == app.config["TOKEN_AUDIENCE"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert abs(claims["iat"] - time.time()) < 60
    assert jwt.get_unverified_header(token)["kid"]


def test_the_token_works_on_the_api(client: FlaskClient, land_token: str) -> None:
    response = client.get("/api/v1/types", headers=bearer(land_token))
    assert response.status_code == 200, response.json


def test_a_token_never_outlives_its_key(
    client: FlaskClient, departments: dict[str, list[str]], make_key: Any
) -> None:
    secret = make_key("land", expires_at=utcnow() + timedelta(seconds=120))
    response = exchange(client, secret)
    assert response.status_code == 200, response.json
    assert 0 < response.json["expires_in"] <= 120


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty-header"),
        pytest.param("Bearer", id="bearer-without-credential"),
        pytest.param("Basic bGFuZDpzZWNyZXQ=", id="basic-scheme"),
        pytest.param("Token hubk_000000000000_abcdefghijklmnopqrstuvwxyz", id="other-scheme"),
        pytest.param("Bearer not-a-key", id="garbage"),
        pytest.param("Bearer hubk_", id="prefix-only"),
        pytest.param("Bearer hubk_000000000000_abcdefghijklmnopqrstuvwxyz", id="unknown-id"),
        pytest.param("Bearer " + "x" * 5000, id="very-long"),
    ],
)
def test_the_exchange_refuses_missing_or_bad_credentials_with_401(
    client: FlaskClient, land_secret: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_unauthorized(client.post(TOKEN_URL, headers=headers))


def test_the_exchange_refuses_a_known_key_id_with_the_wrong_secret(
    client: FlaskClient, land_secret: str
) -> None:
    scheme, key_id, random_part = land_secret.split("_", 2)
    wrong = f"{scheme}_{key_id}_" + ("A" if random_part[0] != "A" else "B") + random_part[1:]
    assert_unauthorized(exchange(client, wrong))
    assert_unauthorized(exchange(client, land_secret + "x"))
    assert_unauthorized(exchange(client, land_secret[:-1]))


def test_the_exchange_refuses_a_token_in_place_of_a_key(
    client: FlaskClient, land_token: str
) -> None:
    assert_unauthorized(exchange(client, land_token))


def test_the_exchange_refuses_a_revoked_key(
    app: Flask, client: FlaskClient, land_secret: str, land_token: str
) -> None:
    with app.app_context(), db.unit_of_work() as session:
        auth.revoke_key(session, OPERATOR, claims_of(land_token)["sub"])
    body = assert_unauthorized(exchange(client, land_secret))
    assert "revoked" in body["detail"]


def test_the_exchange_refuses_an_expired_key(
    app: Flask, client: FlaskClient, departments: dict[str, list[str]], make_key: Any
) -> None:
    secret = make_key("land", expires_at=utcnow() + timedelta(hours=1))
    token = exchange(client, secret).json["access_token"]
    set_key(app, claims_of(token)["sub"], expires_at=utcnow() - timedelta(seconds=1))
    body = assert_unauthorized(exchange(client, secret))
    assert "expired" in body["detail"]


# Every endpoint but the public ones needs a token


def protected_requests(app: Flask) -> list[tuple[str, str]]:
    """Every (method, URL) of the API that is not public (the console's pages ask people to
    sign in instead: tests/console)."""
    urls = app.url_map.bind("localhost")
    requests = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith("console."):
            continue
        values = {argument: PATH_VALUES[argument] for argument in rule.arguments}
        if rule.endpoint.startswith("records.unknown_type"):
            values["type_name"] = "no_such_type"  # the rules that say a type is unknown
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            requests.append((method, urls.build(rule.endpoint, values, method=method)))
    return requests


def test_every_endpoint_but_the_public_ones_needs_a_token(
    app: Flask, client: FlaskClient, departments: dict[str, list[str]]
) -> None:
    requests = protected_requests(app)
    assert ("GET", "/api/v1/events") in requests
    assert ("PUT", f"/api/v1/records/project/{PATH_VALUES['key']}") in requests
    for method, url in requests:
        kwargs: dict[str, Any] = {}
        if method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = {}
        for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic eDp5"}):
            response = client.open(url, method=method, headers=headers, **kwargs)
            assert response.status_code == 401, (method, url, headers, response.json)
            assert_unauthorized(response)


@pytest.mark.parametrize("url", ["/healthz", "/readyz", "/api/v1/openapi.json"])
def test_operational_endpoints_and_the_openapi_document_are_public(
    client: FlaskClient, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)


# Tokens that must not be accepted


def _tampered_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] += " admin"
    claims["dept"] = "ndrc"
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def _unsigned(token: str) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return ".".join([header, token.split(".")[1], ""])


def _alg_none_by_library(token: str) -> str:
    return jwt.encode(claims_of(token), None, algorithm="none")


def _resigned(**changes: Any) -> Callable[[str], str]:
    """The token's claims with ``changes`` (None removes a claim), signed with the hub's secret."""

    def make(token: str) -> str:
        claims = claims_of(token)
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return sign(claims)

    return make


def _signed_raw(
    header: dict[str, Any], claims: dict[str, Any], digest: Any = hashlib.sha256
) -> str:
    """A token signed with the hub's secret, its header written by hand (past PyJWT's checks)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(TEST_SECRET.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def _expired(token: str) -> str:
    now = int(time.time())
    return _resigned(iat=now - 7200, exp=now - 3600)(token)


BAD_TOKENS: dict[str, Callable[[str], str]] = {
    "tampered-payload": _tampered_payload,
    "wrong-signature": lambda token: sign(claims_of(token), "another-secret-" + "y" * 32),
    "truncated-signature": lambda token: token[:-4],
    "alg-none": _unsigned,
    "alg-none-by-library": _alg_none_by_library,
    "expired": _expired,
    "wrong-audience": _resigned(aud="another-api"),
    "wrong-issuer": _resigned(iss="someone-else"),
    "missing-exp": _resigned(exp=None),
    "missing-sub": _resigned(sub=None),
    "sub-not-a-string": _resigned(sub=12345),
    "sub-of-no-key": _resigned(sub="000000000000"),
    "not-a-jwt": lambda token: "not.a.jwt",
    "one-segment": lambda token: "garbage",
    "bad-base64": lambda token: "!!!.@@@.###",
    "access-key-as-token": lambda token: "hubk_000000000000_abcdefghijklmnopqrstuvwxyz",
    "missing-generation": _resigned(gen=None),
    "generation-not-a-number": _resigned(gen="1"),
    "generation-from-the-future": _resigned(gen=2),
    "no-kid": lambda token: sign(claims_of(token), headers={}),
    "kid-of-another-secret": lambda token: sign(
        claims_of(token), headers={"kid": kid_of("another-secret-" + "y" * 32)}
    ),
    "kid-not-a-string": lambda token: _signed_raw({"alg": "HS256", "kid": 7}, claims_of(token)),
    "algorithm-hs512": lambda token: _signed_raw(
        {"alg": "HS512", "kid": kid_of(TEST_SECRET)}, claims_of(token), hashlib.sha512
    ),
}


def test_a_token_resigned_unchanged_with_the_hubs_secret_is_accepted(
    client: FlaskClient, land_token: str
) -> None:
    """The control for the table below: each bad token differs from a good one in one way."""
    response = client.get("/api/v1/types", headers=bearer(_resigned()(land_token)))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("make_bad_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_is_refused_with_401(
    client: FlaskClient, land_token: str, make_bad_token: Callable[[str], str]
) -> None:
    bad = make_bad_token(land_token)
    for method, url in [
        ("GET", "/api/v1/types"),
        ("GET", "/api/v1/records/land_parcel"),
        ("PUT", "/api/v1/records/land_parcel/L-1"),
        ("GET", "/api/v1/events"),
    ]:
        response = client.open(url, method=method, headers=bearer(bad), json=parcel_data())
        assert_unauthorized(response)


def test_a_token_of_a_key_revoked_after_issue_stops_working_at_once(
    app: Flask, client: FlaskClient, land_token: str
) -> None:
    assert client.get("/api/v1/types", headers=bearer(land_token)).status_code == 200
    with app.app_context(), db.unit_of_work() as session:
        auth.revoke_key(session, OPERATOR, claims_of(land_token)["sub"])
    body = assert_unauthorized(client.get("/api/v1/types", headers=bearer(land_token)))
    assert "revoked" in body["detail"]


def test_a_token_of_a_key_that_expired_after_issue_stops_working(
    app: Flask, client: FlaskClient, land_token: str
) -> None:
    set_key(app, claims_of(land_token)["sub"], expires_at=utcnow() - timedelta(seconds=1))
    assert_unauthorized(client.get("/api/v1/types", headers=bearer(land_token)))


def test_a_token_of_a_deleted_key_is_refused(
    app: Flask, client: FlaskClient, land_token: str
) -> None:
    with app.app_context(), db.unit_of_work() as session:
        session.delete(session.get(AccessKey, claims_of(land_token)["sub"]))
    assert_unauthorized(client.get("/api/v1/types", headers=bearer(land_token)))


def test_a_token_cannot_claim_more_scopes_than_its_key_has(
    client: FlaskClient, departments: dict[str, list[str]], token_for: Any
) -> None:
    token = token_for("ndrc", ["records:read"])
    widened = _resigned(scope="records:read records:write admin")(token)
    response = client.put(
        f"/api/v1/records/project/{PROJECT_CODE}", json=project_data(), headers=bearer(widened)
    )
    assert_problem(response, 403)


# Scopes and publishing rights


def test_without_records_write_a_department_cannot_publish(
    client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    read_only = headers("ndrc", ["records:read", "events:read"])
    put = client.put(
        f"/api/v1/records/project/{PROJECT_CODE}", json=project_data(), headers=read_only
    )
    assert "records:write" in assert_problem(put, 403)["detail"]
    patch = client.patch(
        f"/api/v1/records/project/{PROJECT_CODE}", json={"stage": "completed"}, headers=read_only
    )
    assert_problem(patch, 403)
    delete = client.delete(f"/api/v1/records/project/{PROJECT_CODE}", headers=read_only)
    assert_problem(delete, 403)
    batch = client.post(
        "/api/v1/records/project/batch",
        json={"records": [{"key": PROJECT_CODE, "data": project_data()}]},
        headers=read_only,
    )
    assert_problem(batch, 403)
    listed = client.get("/api/v1/records/project", headers=read_only)
    assert listed.status_code == 200
    assert listed.json["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/records/project",
        f"/api/v1/records/project/{PROJECT_CODE}",
        f"/api/v1/records/project/{PROJECT_CODE}/history",
        f"/api/v1/projects/{PROJECT_CODE}/dossier",
    ],
)
def test_without_records_read_a_department_cannot_read_records(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]], url: str
) -> None:
    write_only = headers("land", ["records:write", "events:read"])
    assert "records:read" in assert_problem(client.get(url, headers=write_only), 403)["detail"]
    assert client.get(url, headers=headers("land", ["records:read"])).status_code == 200


def test_without_events_read_a_department_cannot_read_the_feed(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]]
) -> None:
    no_events = headers("land", ["records:read", "records:write"])
    response = client.get("/api/v1/events", headers=no_events)
    assert "events:read" in assert_problem(response, 403)["detail"]
    allowed = client.get("/api/v1/events", headers=headers("land", ["events:read"]))
    assert allowed.status_code == 200
    assert allowed.json["events"]


@pytest.mark.parametrize(
    ("department", "type_name", "key", "data"),
    [
        ("land", "project", PROJECT_CODE, project_data()),
        ("audit", "project", PROJECT_CODE, project_data()),
        ("ndrc", "land_parcel", "L-1", parcel_data()),
        ("finance", "land_parcel", "L-1", parcel_data()),
    ],
)
def test_a_department_may_publish_only_the_types_it_was_allowed(
    client: FlaskClient,
    project: str,
    headers: Callable[..., dict[str, str]],
    department: str,
    type_name: str,
    key: str,
    data: dict[str, Any],
) -> None:
    url = f"/api/v1/records/{type_name}/{key}"
    assert_problem(client.put(url, json=data, headers=headers(department)), 403)
    batch = client.post(
        f"/api/v1/records/{type_name}/batch",
        json={"records": [{"key": key, "data": data}]},
        headers=headers(department),
    )
    if batch.status_code == 200:
        assert batch.json["results"][0]["status"] == 403
    else:
        assert_problem(batch, 403)


def test_publishing_a_record_of_an_allowed_type_succeeds(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]]
) -> None:
    response = client.put(
        "/api/v1/records/land_parcel/L-1", json=parcel_data(), headers=headers("land")
    )
    assert response.status_code == 201, response.json
    assert response.json["published_by"] == "land"


# Keys at rest


def test_an_access_key_has_a_recognisable_prefix(land_secret: str) -> None:
    assert land_secret.startswith("hubk_")


def test_the_secret_is_stored_only_as_a_hash(
    app: Flask, client: FlaskClient, land_secret: str, land_token: str
) -> None:
    secret_part = land_secret.split("_", 2)[2]  # hubk_<id>_<secret>
    assert len(secret_part) >= 20
    with app.app_context(), db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for value in row:
                    text = str(value)
                    assert land_secret not in text, table.name
                    assert secret_part not in text, table.name
        key_rows = connection.execute(AccessKey.__table__.select()).all()
    assert len(key_rows) == 1


# Rotating the signing secret


RETIRED_SECRET = "retired-secret-" + "r" * 32


def test_tokens_name_the_signing_secret_by_kid(land_token: str) -> None:
    assert jwt.get_unverified_header(land_token)["kid"] == kid_of(TEST_SECRET)


def test_tokens_signed_with_a_retired_secret_work_while_it_is_listed(
    settings: dict[str, Any], land_token: str
) -> None:
    claims = claims_of(land_token)
    old_token = sign(claims, RETIRED_SECRET)
    rotated = create_app({**settings, "PREVIOUS_SECRET_KEYS": [RETIRED_SECRET]})
    try:
        response = rotated.test_client().get("/api/v1/types", headers=bearer(old_token))
        assert response.status_code == 200, response.json
    finally:
        db.dispose(rotated)
    # ... and are refused once the retired secret is dropped from the list.
    dropped = create_app(settings)
    try:
        assert_unauthorized(dropped.test_client().get("/api/v1/types", headers=bearer(old_token)))
    finally:
        db.dispose(dropped)


def test_the_current_secret_cannot_also_be_listed_as_retired(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="PREVIOUS_SECRET_KEYS"):
        create_app({**settings, "PREVIOUS_SECRET_KEYS": [TEST_SECRET]})


# Every process sees a revocation on its next request


def test_a_key_revoked_through_one_process_is_refused_by_another_at_once(
    app: Flask, settings: dict[str, Any], land_token: str
) -> None:
    other_process = create_app(settings)  # a second hub process on the same database
    try:
        other = other_process.test_client()
        assert other.get("/api/v1/types", headers=bearer(land_token)).status_code == 200
        with app.app_context(), db.unit_of_work() as session:
            auth.revoke_key(session, OPERATOR, claims_of(land_token)["sub"])
        assert_unauthorized(other.get("/api/v1/types", headers=bearer(land_token)))
    finally:
        db.dispose(other_process)


def test_a_department_disabled_through_one_process_is_refused_by_another_at_once(
    app: Flask, settings: dict[str, Any], land_token: str
) -> None:
    other_process = create_app(settings)
    try:
        other = other_process.test_client()
        with app.app_context(), db.unit_of_work() as session:
            auth.update_department(session, OPERATOR, "land", disabled=True)
        body = assert_unauthorized(other.get("/api/v1/types", headers=bearer(land_token)))
        assert "disabled" in body["detail"]
    finally:
        db.dispose(other_process)
