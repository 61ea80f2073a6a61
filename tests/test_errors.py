"""Problem+json everywhere, and no 500 for any client input.

Every error answer is RFC 9457 ``application/problem+json`` with ``type``, ``title``, ``status``
and ``detail`` (and ``errors`` naming each bad field), whatever the cause: transport (bad JSON,
wrong media type, oversized body), routing, auth, preconditions or validation. Hostile input of
any shape is the client's mistake, never the server's: it is answered below 500.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import create_app
from hub.core.extensions import db
from tests.conftest import TEST_SECRET
from tests.factories import PROJECT_CODE, funding_data, parcel_data, permit_data, project_data

PROBLEM_JSON = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail"}
RECORD_URL = f"/api/v1/records/project/{PROJECT_CODE}"
BATCH_URL = "/api/v1/records/project/batch"
WELL_FORMED_ACCESS_KEY = "hubk_0123456789ab_" + "s" * 43
HUGE_INTEGER = str(10**30)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert ``response`` is a problem+json answer with ``status``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = json.loads(response.get_data(as_text=True))
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def raw_json(text: str) -> dict[str, Any]:
    """Request kwargs sending ``text`` verbatim as a JSON body."""
    return {"data": text.encode(), "content_type": "application/json"}


def cursor_of(text: str) -> str:
    """An opaque cursor crafted from raw JSON text, as a tampering client would."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def ndrc(headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Bearer headers of the department that publishes projects."""
    return headers("ndrc")


@pytest.fixture
def small_bodies(settings: dict[str, Any]) -> int:
    """Shrink MAX_CONTENT_LENGTH before the app is built (request this fixture first)."""
    settings["MAX_CONTENT_LENGTH"] = 1024
    return 1024


# --- each error status, as problem+json ------------------------------------------------------


def test_malformed_json_is_refused_with_400(client: FlaskClient, ndrc: dict[str, str]) -> None:
    response = client.put(RECORD_URL, headers=ndrc, **raw_json('{"name": '))
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_malformed_json_in_a_batch_is_refused_with_400(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    response = client.post(BATCH_URL, headers=ndrc, **raw_json('{"records": [{'))
    assert_problem(response, 400)


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_empty_put_body_is_refused_with_400(
    client: FlaskClient, ndrc: dict[str, str], content_type: str | None
) -> None:
    response = client.put(RECORD_URL, headers=ndrc, data=b"", content_type=content_type)
    assert_problem(response, 400)


def test_missing_token_is_refused_with_401(client: FlaskClient, departments: Any) -> None:
    response = client.get(RECORD_URL)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_garbage_token_is_refused_with_401(client: FlaskClient, departments: Any) -> None:
    response = client.get(RECORD_URL, headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(response, 401)


def test_wrong_scope_is_refused_with_403(
    client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    read_only = headers("ndrc", ["records:read"])
    response = client.put(RECORD_URL, headers=read_only, json=project_data())
    body = assert_problem(response, 403)
    assert "records:write" in body["detail"]


def test_publishing_a_type_the_department_does_not_own_is_refused_with_403(
    client: FlaskClient, headers: Callable[..., dict[str, str]]
) -> None:
    response = client.put(RECORD_URL, headers=headers("land"), json=project_data())
    assert_problem(response, 403)


def test_unknown_route_type_or_record_is_404(client: FlaskClient, ndrc: dict[str, str]) -> None:
    paths = [
        "/api/v1/nothing-here",
        "/api/v1/records/project/a/b/c",
        "/api/v1/records/no_such_type/K-1",
        "/api/v1/records/no_such_type",
        "/api/v1/records/project/2503-330102-04-01-0NONE0",
        "/api/v1/records/project/2503-330102-04-01-0NONE0/history",
        "/api/v1/projects/2503-330102-04-01-0NONE0/dossier",
    ]
    for path in paths:
        assert_problem(client.get(path, headers=ndrc), 404)


def test_method_not_allowed_is_405_with_allow_header(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    response = client.delete("/api/v1/types", headers=ndrc)
    assert_problem(response, 405)
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert "GET" in allowed
    assert "DELETE" not in allowed


def test_stale_if_match_is_refused_with_412(
    client: FlaskClient, project: str, ndrc: dict[str, str]
) -> None:
    client.put(RECORD_URL, headers=ndrc, json=project_data(stage="completed"))
    response = client.put(
        RECORD_URL, headers={**ndrc, "If-Match": '"1"'}, json=project_data(stage="suspended")
    )
    assert_problem(response, 412)
    assert client.get(RECORD_URL, headers=ndrc).json["data"]["stage"] == "completed"


def test_body_larger_than_max_content_length_is_refused_with_413(
    small_bodies: int, app: Flask, client: FlaskClient, ndrc: dict[str, str]
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == small_bodies
    oversized = project_data(description="x" * (small_bodies * 2))
    assert_problem(client.put(RECORD_URL, headers=ndrc, json=oversized), 413)


def test_batch_larger_than_max_content_length_is_refused_with_413(
    small_bodies: int, app: Flask, client: FlaskClient, ndrc: dict[str, str]
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == small_bodies
    item = {"key": PROJECT_CODE, "data": project_data(description="x" * small_bodies)}
    assert_problem(client.post(BATCH_URL, headers=ndrc, json={"records": [item]}), 413)


def test_non_json_body_is_refused_with_415(
    client: FlaskClient, project: str, ndrc: dict[str, str]
) -> None:
    bodies = [
        ("PUT", b"name=Metro", "text/plain"),
        ("PUT", b"name=Metro", "application/x-www-form-urlencoded"),
        ("PUT", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        ("PUT", json.dumps(project_data()).encode(), "text/plain"),
        ("PATCH", b"stage=completed", "application/x-www-form-urlencoded"),
        ("POST", b"records=1", "application/x-www-form-urlencoded"),
    ]
    for method, body, content_type in bodies:
        url = BATCH_URL if method == "POST" else RECORD_URL
        response = client.open(
            url, method=method, headers=ndrc, data=body, content_type=content_type
        )
        assert_problem(response, 415)
    assert client.get(RECORD_URL, headers=ndrc).json["version"] == 1


def test_invalid_record_is_refused_with_422_naming_each_field(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    data = project_data(
        category="spaceport",
        total_investment=-1,
        responsible_leader={"name": "", "title": "Mayor"},
        unexpected="x",
    )
    body = assert_problem(client.put(RECORD_URL, headers=ndrc, json=data), 422)
    assert {"category", "total_investment", "responsible_leader.name", "unexpected"} <= set(
        body["errors"]
    )
    for messages in body["errors"].values():
        assert messages
        assert all(isinstance(message, str) and message for message in messages)


def test_invalid_query_is_refused_with_422_naming_the_parameter(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    response = client.get("/api/v1/records/project?limit=abc", headers=ndrc)
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"limit"}


# --- hostile input never yields a 500 --------------------------------------------------------
#
# Each test below sends a family of hostile requests and lists every answer that is a server
# error (or an exception escaping the app), or a 4xx that is not a well-formed problem, so one
# failure shows the whole family's offenders.

Request = tuple[str, str, dict[str, Any]]


def _defect(response: Any) -> str | None:
    if response.status_code >= 500:
        return f"answered {response.status_code}: {response.get_data(as_text=True)[:200]}"
    if response.status_code < 400:
        return None
    if response.mimetype != PROBLEM_JSON:
        return f"answered {response.status_code} as {response.mimetype}, not problem+json"
    body = json.loads(response.get_data(as_text=True))
    if not body.keys() >= PROBLEM_KEYS or body["status"] != response.status_code:
        return f"answered {response.status_code} with a malformed problem: {body}"
    return None


def assert_no_defects(defects: dict[str, str]) -> None:
    """Fail listing every hostile request that was mishandled, one per line."""
    assert not defects, "\n" + "\n".join(f"{name}: {what}" for name, what in defects.items())


def server_errors(
    client: FlaskClient, requests: dict[str, Request], headers: dict[str, str]
) -> dict[str, str]:
    """Send each named ``(method, url, kwargs)``; return what went wrong, by name."""
    defects: dict[str, str] = {}
    for name, (method, url, kwargs) in requests.items():
        try:
            response = client.open(url, method=method, headers=headers, **kwargs)
        except Exception as exc:  # an exception escaping the app is a 500 in production
            defects[name] = f"raised {type(exc).__name__}: {str(exc)[:200]}"
            continue
        defect = _defect(response)
        if defect:
            defects[name] = defect
    return defects


NON_OBJECT_BODIES = ["[]", "[1, 2]", '"text"', "42", "-1e400", "null", "true", '""']
DEEP = 100_000
DEEPLY_NESTED_BODIES = {
    "deep-object-field": '{"name": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}",
    "deep-array-field": '{"name": ' + "[" * DEEP + "]" * DEEP + "}",
    "deep-array": "[" * DEEP + "]" * DEEP,
    "nested-500": '{"name": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}",
}
ODD_BYTES = {
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "utf8-bom": b'\xef\xbb\xbf{"name": "Metro"}',
    "utf16": '{"name": "Metro"}'.encode("utf-16"),
    "nul-byte": b'{"name": "a\x00b"}',
    "trailing-garbage": b'{"name": "Metro"} trailing',
    "duplicate-keys": b'{"name": "a", "name": "b"}',
    "huge-integer-literal": b'{"total_investment": ' + b"9" * 5000 + b"}",
}


def _project_body(**overrides: Any) -> str:
    return json.dumps(project_data(**overrides))


HOSTILE_PROJECT_BODIES = {
    "nan-literal": _project_body().replace("1850000.5", "NaN"),
    "infinity-literal": _project_body().replace("1850000.5", "Infinity"),
    "huge-number": _project_body().replace("1850000.5", "1e400"),
    "huge-negative-number": _project_body().replace("1850000.5", "-1e400"),
    "tiny-number": _project_body().replace("1850000.5", "1e-400"),
    "big-integer": _project_body().replace("1850000.5", "1" + "0" * 4000),
    "nan-string": _project_body(total_investment="NaN"),
    "snan-string": _project_body(total_investment="sNaN"),
    "infinity-string": _project_body(total_investment="Infinity"),
    "minus-infinity-string": _project_body(total_investment="-Infinity"),
    "exponent-string": _project_body(total_investment="1e999999999999"),
    "tiny-exponent-string": _project_body(total_investment="1e-999999999999"),
    "hex-string": _project_body(total_investment="0x10"),
    "empty-string-number": _project_body(total_investment=""),
    "unicode-digits": _project_body(total_investment="١٢٣"),
    "unicode-key": _project_body(名称="地铁"),
    "empty-key": _project_body(**{"": 1}),
    "nul-key": _project_body(**{"\u0000": 1}),
    "long-unknown-key": _project_body(**{"k" * 100_000: 1}),
    "very-long-name": _project_body(name="x" * 200_000),
    "very-long-description": _project_body(description="长" * 500_000),
    "nul-in-name": _project_body(name="Metro\u0000Line"),
    "lone-surrogate-in-name": _project_body(name="Metro \ud800"),
    "nul-in-leader": _project_body(responsible_leader={"name": "\u0000", "title": "Mayor"}),
    "rtl-override-in-name": _project_body(name="Metro \u202e3 eniL"),
    "control-chars-in-name": _project_body(name="Metro\u0007\u001b[2J"),
    "date-out-of-range": _project_body(planned_start="0000-01-01"),
    "date-far-future": _project_body(planned_completion="99999-12-31"),
    "datetime-for-date": _project_body(planned_start="2025-06-01T00:00:00+99:00"),
    "many-milestones": _project_body(
        milestones=[{"name": "m", "planned_date": "2025-01-01", "status": "pending"}] * 10_000
    ),
    "key-mismatch": _project_body(project_code="2504-330106-03-02-2M8X4D"),
    "key-wrong-type": _project_body(project_code=["2503-330102-04-01-7K3Q9B"]),
}
ENVELOPE_BODIES = {
    **{f"non-object {text}": text for text in NON_OBJECT_BODIES},
    **DEEPLY_NESTED_BODIES,
}


def _sent_as(method: str, raw: bytes) -> Request:
    url = BATCH_URL if method == "POST" else RECORD_URL
    return method, url, {"data": raw, "content_type": "application/json"}


def _in_a_batch(data_text: str) -> bytes:
    return (
        b'{"records": [{"key": "'
        + PROJECT_CODE.encode()
        + b'", "data": '
        + data_text.encode()
        + b"}]}"
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_hostile_json_envelope_never_causes_a_server_error(
    client: FlaskClient, project: str, ndrc: dict[str, str], method: str
) -> None:
    requests = {name: _sent_as(method, text.encode()) for name, text in ENVELOPE_BODIES.items()}
    requests.update({name: _sent_as(method, raw) for name, raw in ODD_BYTES.items()})
    assert_no_defects(server_errors(client, requests, ndrc))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_hostile_field_values_never_cause_a_server_error(
    client: FlaskClient, project: str, ndrc: dict[str, str], method: str
) -> None:
    wrap = _in_a_batch if method == "POST" else str.encode
    requests = {name: _sent_as(method, wrap(text)) for name, text in HOSTILE_PROJECT_BODIES.items()}
    assert_no_defects(server_errors(client, requests, ndrc))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_non_object_body_is_refused_with_a_4xx_problem(
    client: FlaskClient, project: str, ndrc: dict[str, str], method: str
) -> None:
    url = BATCH_URL if method == "POST" else RECORD_URL
    for text in NON_OBJECT_BODIES:
        response = client.open(url, method=method, headers=ndrc, **raw_json(text))
        assert response.status_code in {400, 422}, (text, response.get_data(as_text=True))
        assert_problem(response, response.status_code)
    assert client.get(RECORD_URL, headers=ndrc).json["version"] == 1


def test_text_postgresql_cannot_store_is_refused_with_422_on_every_backend(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    for text in ["Metro\u0000Line", "Metro \ud800", "\udfff"]:
        data = project_data(name=text, responsible_leader={"name": text, "title": "Mayor"})
        body = assert_problem(client.put(RECORD_URL, headers=ndrc, json=data), 422)
        assert {"name", "responsible_leader.name"} <= set(body["errors"]), (text, body)


WRONG_TYPES_FOR_PROJECT_FIELDS: dict[str, list[tuple[Any, str]]] = {
    "name": [(123, "name"), (["Metro"], "name"), ("", "name"), (None, "name")],
    "category": [(["infrastructure"], "category"), (1, "category"), ("", "category")],
    "stage": [({"value": "construction"}, "stage"), (True, "stage")],
    "admin_division": [
        (330102, "admin_division"),
        ("33010", "admin_division"),
        ("990102", "admin_division"),
    ],
    "lead_department": [(None, "lead_department"), ({"x": 1}, "lead_department")],
    "responsible_leader": [
        ("Wang Li", "responsible_leader"),
        (["Wang Li"], "responsible_leader"),
        ({"name": 5, "title": "Mayor"}, "responsible_leader.name"),
        ({"name": "Wang", "title": []}, "responsible_leader.title"),
        ({"name": "Wang", "title": "M", "x": 1}, "responsible_leader.x"),
    ],
    "total_investment": [
        ("abc", "total_investment"),
        (True, "total_investment"),
        ([1], "total_investment"),
        ({"amount": 1}, "total_investment"),
        (1.0000001, "total_investment"),
        (-0.5, "total_investment"),
    ],
    "planned_start": [
        (20250601, "planned_start"),
        ("2025-02-30", "planned_start"),
        ("yesterday", "planned_start"),
    ],
    "planned_completion": [
        (["2029-12-31"], "planned_completion"),
        ("2020-01-01", "planned_completion"),
    ],
    "milestones": [
        ({"name": "m"}, "milestones"),
        ("m", "milestones"),
        ([5], "milestones.0"),
        ([{"name": "m", "planned_date": "2025-01-01", "status": "x"}], "milestones.0.status"),
        (
            [{"name": "m", "planned_date": "2025-01-01", "status": "done"}],
            "milestones.0.actual_date",
        ),
    ],
    "contacts": [
        ("Chen Hua", "contacts"),
        ([{"name": "Chen", "phone": 123}], "contacts.0.phone"),
        ([{"name": "Chen", "phone": "call me"}], "contacts.0.phone"),
    ],
    "description": [(["text"], "description"), (42, "description")],
}


def test_wrong_value_for_any_project_field_is_422_naming_it(
    client: FlaskClient, ndrc: dict[str, str]
) -> None:
    misnamed = {}
    for field, cases in WRONG_TYPES_FOR_PROJECT_FIELDS.items():
        for value, error_path in cases:
            response = client.put(RECORD_URL, headers=ndrc, json=project_data(**{field: value}))
            body = assert_problem(response, 422)
            if error_path not in body["errors"]:
                misnamed[f"{field}={value!r}"] = body["errors"]
    assert misnamed == {}


HOSTILE_LINKED_RECORDS: dict[str, list[dict[str, Any]]] = {
    "funding": [
        funding_data(fiscal_year=1e400),
        funding_data(fiscal_year=-1e400),
        funding_data(fiscal_year="2025"),
        funding_data(fiscal_year=2025.5),
        funding_data(fiscal_year=10**30),
        funding_data(allocated=1e300, disbursed=1e300),
        funding_data(allocated=-1e400),
        funding_data(disbursed="NaN"),
    ],
    "permit": [
        permit_data(statutory_days=1e400),
        permit_data(statutory_days=-(10**30)),
        permit_data(submitted_at="2025-13-45"),
        permit_data(overdue=True),
    ],
    "land_parcel": [
        parcel_data(area_mu=-1e400),
        parcel_data(area_mu="Infinity"),
        parcel_data(project_code="\u0000"),
        parcel_data(project_code="x" * 10_000),
        parcel_data(project_code="2513-330102-04-01-7K3Q9B"),
    ],
}


def overflowing_json(data: dict[str, Any]) -> str:
    """JSON text in which Python's infinities are written as overflowing numbers (1e400)."""
    return json.dumps(data).replace("-Infinity", "-1e400").replace("Infinity", "1e400")


@pytest.mark.parametrize("type_name", list(HOSTILE_LINKED_RECORDS))
def test_hostile_values_of_linked_types_are_refused_with_422(
    client: FlaskClient,
    project: str,
    headers: Callable[..., dict[str, str]],
    type_name: str,
) -> None:
    owner = {"funding": "finance", "permit": "approval", "land_parcel": "land"}[type_name]
    for data in HOSTILE_LINKED_RECORDS[type_name]:
        response = client.put(
            f"/api/v1/records/{type_name}/K-1",
            data=overflowing_json(data),
            content_type="application/json",
            headers=headers(owner),
        )
        assert_problem(response, 422)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_refused_with_400(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]], literal: str
) -> None:
    body = json.dumps(funding_data()).replace("120000", literal)
    response = client.put(
        "/api/v1/records/funding/F-1",
        data=body,
        content_type="application/json",
        headers=headers("finance"),
    )
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


LIST_CURSORS = {
    "empty-json": "{}",
    "list": "[1, 2]",
    "bad-time": '{"u": "x", "i": 1}',
    "naive-time": '{"u": "2025-01-01T00:00:00", "i": 1}',
    "min-time": '{"u": "0001-01-01T00:00:00+14:00", "i": 1}',
    "time-number": '{"u": 5, "i": 1}',
    "id-word": '{"u": "2025-01-01T00:00:00+00:00", "i": "x"}',
    "id-list": '{"u": "2025-01-01T00:00:00+00:00", "i": [1]}',
    "id-inf": '{"u": "2025-01-01T00:00:00+00:00", "i": 1e400}',
    "id-huge": '{"u": "2025-01-01T00:00:00+00:00", "i": HUGE}'.replace("HUGE", HUGE_INTEGER),
}
HISTORY_CURSORS = {
    "word": '{"v": "x"}',
    "huge": '{"v": HUGE}'.replace("HUGE", HUGE_INTEGER),
    "inf": '{"v": 1e400}',
    "list": '{"v": [1]}',
}
LIST_QUERIES = {
    "limit-word": "limit=abc",
    "limit-zero": "limit=0",
    "limit-negative": "limit=-1",
    "limit-float": "limit=1.5",
    "limit-inf": "limit=1e400",
    "limit-huge": "limit=99999999999999999999999",
    "limit-empty": "limit=",
    "limit-twice": "limit=1&limit=abc",
    "updated-since-word": "updated_since=notadate",
    "updated-since-naive": "updated_since=2025-01-01T00:00:00",
    "updated-since-date": "updated_since=2025-01-01",
    "updated-since-min": "updated_since=0001-01-01T00:00:00%2B14:00",
    "updated-since-max": "updated_since=9999-12-31T23:59:59-14:00",
    "include-deleted-word": "include_deleted=perhaps",
    "project-code-long": f"project_code={'x' * 10_000}",
    "project-code-nul": "project_code=%00",
    "project-code-unicode": "project_code=%E9%A1%B9%E7%9B%AE",
    "cursor-percent": "cursor=%25%25%25",
    "cursor-bang": "cursor=!!!",
    **{f"cursor-{name}": f"cursor={cursor_of(text)}" for name, text in LIST_CURSORS.items()},
}
HISTORY_QUERIES = {
    "limit-word": "limit=abc",
    "limit-huge": "limit=99999999999999999999999",
    "cursor-percent": "cursor=%25%25%25",
    **{f"cursor-{name}": f"cursor={cursor_of(text)}" for name, text in HISTORY_CURSORS.items()},
}
EVENTS_QUERIES = {
    "after-negative": "after=-1",
    "after-word": "after=abc",
    "after-huge": "after=99999999999999999999999",
    "after-inf": "after=1e400",
    "limit-word": "limit=abc",
    "limit-huge": "limit=99999999999999999999999",
    "wait-word": "wait=abc",
    "wait-nan": "wait=nan",
    "wait-inf": "wait=inf",
    "wait-negative": "wait=-1",
    "types-unknown": "types=nope",
    "types-nul": "types=%00",
    "types-empty": "types=,,,",
    "project-code-nul": "project_code=%00",
    "project-code-long": f"project_code={'x' * 10_000}",
}
QUERY_FAMILIES = {
    "list": ("/api/v1/records/land_parcel", LIST_QUERIES),
    "history": (f"{RECORD_URL}/history", HISTORY_QUERIES),
    "events": ("/api/v1/events", EVENTS_QUERIES),
}


@pytest.mark.parametrize("family", list(QUERY_FAMILIES))
def test_hostile_query_never_causes_a_server_error(
    client: FlaskClient, project: str, ndrc: dict[str, str], family: str
) -> None:
    url, queries = QUERY_FAMILIES[family]
    requests = {name: ("GET", f"{url}?{query}", {}) for name, query in queries.items()}
    assert_no_defects(server_errors(client, requests, ndrc))


def test_query_parameter_of_the_wrong_type_is_422_naming_it(
    client: FlaskClient, project: str, ndrc: dict[str, str]
) -> None:
    cases = [
        ("/api/v1/records/land_parcel?limit=abc", "limit"),
        ("/api/v1/records/land_parcel?limit=0", "limit"),
        ("/api/v1/records/land_parcel?updated_since=notadate", "updated_since"),
        ("/api/v1/records/land_parcel?cursor=%25%25%25", "cursor"),
        ("/api/v1/records/land_parcel?cursor=" + cursor_of('{"u": "x", "i": 1}'), "cursor"),
        (f"{RECORD_URL}/history?cursor=" + cursor_of('{"v": "x"}'), "cursor"),
        ("/api/v1/events?after=-1", "after"),
        ("/api/v1/events?after=abc", "after"),
        ("/api/v1/events?wait=abc", "wait"),
    ]
    for url, parameter in cases:
        body = assert_problem(client.get(url, headers=ndrc), 422)
        assert parameter in body["errors"], (url, body)


HOSTILE_KEYS = {
    "unicode": "%E9%A1%B9%E7%9B%AE",
    "rtl-override": "%E2%80%AE",
    "emoji": "%F0%9F%92%A3",
    "traversal-encoded": "..%2F..%2Fetc%2Fpasswd",
    "backslash-traversal": "..%5C..%5Cwindows",
    "dot-dot": "..",
    "nul": "a%00b",
    "newline": "a%0Ab",
    "space": "a%20b",
    "too-long": "k" * 129,
    "very-long": "k" * 8000,
    "sql": "x'%3B%20DROP%20TABLE%20records%3B--",
    "percent": "%25",
}
KEYED_ROUTES = {
    "GET": ("GET", "/api/v1/records/land_parcel/{key}", {}),
    "PUT": ("PUT", "/api/v1/records/land_parcel/{key}", {"json": parcel_data()}),
    "PATCH": ("PATCH", "/api/v1/records/land_parcel/{key}", {"json": {"area_mu": 1}}),
    "DELETE": ("DELETE", "/api/v1/records/land_parcel/{key}", {}),
    "history": ("GET", "/api/v1/records/land_parcel/{key}/history", {}),
    "dossier": ("GET", "/api/v1/projects/{key}/dossier", {}),
}


@pytest.mark.parametrize("route", list(KEYED_ROUTES))
def test_hostile_record_key_never_causes_a_server_error(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]], route: str
) -> None:
    method, url, kwargs = KEYED_ROUTES[route]
    requests = {name: (method, url.format(key=key), kwargs) for name, key in HOSTILE_KEYS.items()}
    assert_no_defects(server_errors(client, requests, headers("land")))


def test_key_outside_the_key_alphabet_is_refused_in_a_batch_item(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]]
) -> None:
    keys = [".", "..", "batch", "../../etc/passwd", "a b", "k" * 129, "", "a\u0000b", "项 目"]
    response = client.post(
        "/api/v1/records/land_parcel/batch",
        headers=headers("land"),
        json={"records": [{"key": key, "data": parcel_data()} for key in keys]},
    )
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code == 200:
        assert [result["status"] for result in response.json["results"]] == [422] * len(keys)
    else:
        assert_problem(response, 422)


MALFORMED_BATCHES = {
    "no-records": {},
    "records-null": {"records": None},
    "records-string": {"records": "x"},
    "records-object": {"records": {"key": "L-1"}},
    "records-empty": {"records": []},
    "item-null": {"records": [None]},
    "item-string": {"records": ["L-1"]},
    "item-missing-key": {"records": [{"data": parcel_data()}]},
    "item-missing-data": {"records": [{"key": "L-1"}]},
    "item-data-list": {"records": [{"key": "L-1", "data": [1, 2]}]},
    "item-data-string": {"records": [{"key": "L-1", "data": "x"}]},
    "item-data-number": {"records": [{"key": "L-1", "data": 5}]},
    "item-data-null": {"records": [{"key": "L-1", "data": None}]},
    "item-key-number": {"records": [{"key": 5, "data": parcel_data()}]},
    "item-key-null": {"records": [{"key": None, "data": parcel_data()}]},
    "item-key-object": {"records": [{"key": {"a": 1}, "data": parcel_data()}]},
    "item-if-match-number": {"records": [{"key": "L-1", "data": parcel_data(), "if_match": 1}]},
    "item-unknown-field": {"records": [{"key": "L-1", "data": parcel_data(), "x": 1}]},
    "unknown-top-level-field": {"records": [{"key": "L-1", "data": parcel_data()}], "x": 1},
    "too-many": {"records": [{"key": f"L-{i}", "data": parcel_data()} for i in range(501)]},
}


def test_malformed_batch_is_refused_with_422_and_publishes_nothing(
    client: FlaskClient, project: str, headers: Callable[..., dict[str, str]]
) -> None:
    land = headers("land")
    answers = {}
    for name, body in MALFORMED_BATCHES.items():
        response = client.post("/api/v1/records/land_parcel/batch", headers=land, json=body)
        answers[name] = response.status_code
        if response.status_code == 422:
            assert_problem(response, 422)
    assert answers == dict.fromkeys(MALFORMED_BATCHES, 422)
    listing = client.get("/api/v1/records/land_parcel", headers=land)
    assert listing.json["items"] == []


def test_hostile_headers_never_cause_a_server_error(
    client: FlaskClient, project: str, ndrc: dict[str, str]
) -> None:
    hostile = {
        "if-match-garbage": {"If-Match": '"",,,W/'},
        "if-match-long": {"If-Match": "*" * 10_000},
        "if-none-match-garbage": {"If-None-Match": "garbage, W/"},
        "idempotency-key-empty": {"Idempotency-Key": ""},
        "idempotency-key-long": {"Idempotency-Key": "k" * 10_000},
        "content-length-word": {"Content-Length": "abc"},
        "long-bearer": {"Authorization": "Bearer " + "x" * 10_000},
        "basic-auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "fake-jwt": {"Authorization": "Bearer a.b.c"},
    }
    defects = {}
    for name, header in hostile.items():
        response = client.put(
            RECORD_URL, headers={**ndrc, **header}, json=project_data(stage="completed")
        )
        defect = _defect(response)
        if defect:
            defects[name] = defect
    assert_no_defects(defects)


def test_bad_access_key_is_refused_with_401(client: FlaskClient, departments: Any) -> None:
    credentials = [
        "",
        "hubk_",
        "hubk_0123456789ab_short",
        WELL_FORMED_ACCESS_KEY,
        "hubk_%00_" + "s" * 40,
        "hubk_0123456789ab_" + "\u00e9" * 40,
        "x" * 10_000,
    ]
    for credential in credentials:
        response = client.post(
            "/api/v1/auth/token", headers={"Authorization": f"Bearer {credential}"}
        )
        assert_problem(response, 401)


# --- an unavailable database is a 503, not a 500 ----------------------------------------------


@pytest.mark.parametrize(
    "unreachable_url",
    [
        pytest.param("sqlite:///{tmp}/no/such/directory/hub.sqlite3", id="sqlite-missing-dir"),
        pytest.param("postgresql://hub@127.0.0.1:1/hub?connect_timeout=2", id="postgresql-refused"),
    ],
)
def test_unavailable_database_answers_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unreachable_url: str
) -> None:
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "DATABASE_URL": unreachable_url.format(tmp=tmp_path),
            "SECRET_KEY": TEST_SECRET,
            "TESTING": True,
        }
    )
    try:
        response = app.test_client().post(
            "/api/v1/auth/token", headers={"Authorization": f"Bearer {WELL_FORMED_ACCESS_KEY}"}
        )
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
    finally:
        db.dispose(app)
