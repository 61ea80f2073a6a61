"""The OpenAPI document declares the limits the server enforces, as this app is configured,
in the JSON Schema dialect generators read (hub.core.openapi)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

SETTINGS = {
    "PAGE_SIZE_MAX": 250,
    "EVENTS_PAGE_SIZE_MAX": 400,
    "BATCH_MAX_RECORDS": 50,
    "WEBHOOK_ALLOW_HTTP": True,
}


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Limits other than the defaults, so the document is seen to read them."""
    return {**settings, **SETTINGS}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    """The served document."""
    served: dict[str, Any] = client.get("/api/v1/openapi.json").json
    return served


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation by (method, path)."""
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }


def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    """The schema of one of the operation's parameters."""
    found = [p for p in operation.get("parameters", []) if p["name"] == name]
    assert found, f"no parameter {name}"
    schema: dict[str, Any] = found[0]["schema"]
    return schema


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema of the document's components."""
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_page_sizes_and_batch_sizes_are_the_configured_ones(document: dict[str, Any]) -> None:
    found = operations(document)
    assert parameter(found[("get", "/api/v1/records/permit")], "limit")["maximum"] == 250
    assert parameter(found[("get", "/api/v1/admin/audit")], "limit")["maximum"] == 250
    assert parameter(found[("get", "/api/v1/events")], "limit")["maximum"] == 400
    pull = found[("get", "/api/v1/subscriptions/{subscription_id}/events")]
    assert parameter(pull, "limit")["maximum"] == 400
    records = component(document, "LandParcelBatchIn")["properties"]["records"]
    assert (records["minItems"], records["maxItems"]) == (1, 50)


def test_body_wide_rules_are_declared(document: dict[str, Any]) -> None:
    assert component(document, "DepartmentPatch")["minProperties"] == 1
    assert component(document, "UserPatch")["minProperties"] == 1
    replay = operations(document)[("post", "/api/v1/subscriptions/{subscription_id}/replay")]
    body = replay["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "oneOf": [
            {"$ref": "#/components/schemas/ReplayAfter"},
            {"$ref": "#/components/schemas/ReplaySince"},
        ]
    }
    assert component(document, "ReplayAfter")["required"] == ["after"]
    item = component(document, "PermitBatchIn")["properties"]["records"]["items"]
    assert item == {
        "oneOf": [
            {"$ref": "#/components/schemas/PermitBatchPut"},
            {"$ref": "#/components/schemas/BatchDelete"},
        ]
    }
    assert component(document, "PermitBatchPut")["required"] == ["data", "key"]


@pytest.mark.parametrize(
    ("schema", "field"),
    [("GrantIn", "purpose"), ("RefuseIn", "reason"), ("RunReport", "error")],
)
def test_text_that_must_not_be_blank_says_so(
    document: dict[str, Any], schema: str, field: str
) -> None:
    declared = component(document, schema)["properties"][field]
    assert declared["minLength"] == 1
    assert declared["pattern"] == r"\S"


def test_the_endpoint_schemes_are_the_configured_ones(document: dict[str, Any]) -> None:
    pattern = component(document, "SubscriptionIn")["properties"]["endpoint_url"]["pattern"]
    assert re.search(pattern, "http://hooks.example.org/hub")
    assert re.search(pattern, "https://hooks.example.org:8443/hub?x=1")
    assert not re.search(pattern, "ftp://hooks.example.org/hub")
    assert not re.search(pattern, "https://user:secret@hooks.example.org/hub")


def test_patterns_are_written_for_json_schema(document: dict[str, Any]) -> None:
    def patterns(value: Any) -> list[str]:
        if isinstance(value, dict):
            own = [value["pattern"]] if isinstance(value.get("pattern"), str) else []
            return own + [p for inner in value.values() for p in patterns(inner)]
        if isinstance(value, list):
            return [p for inner in value for p in patterns(inner)]
        return []

    found = patterns(document)
    assert len(found) > 10
    assert [p for p in found if r"\Z" in p or "(?P<" in p] == []
    project_code = component(document, "ProjectData")["properties"]["project_code"]["pattern"]
    assert re.search(project_code, "2503-330102-04-01-7K3Q9B")
    assert not re.search(project_code, "2513-330102-04-01-7K3Q9B")  # no 13th month
    assert not re.search(project_code, "2503-990102-04-01-7K3Q9B")  # no province 99


def test_money_is_a_number_within_its_range(document: dict[str, Any]) -> None:
    allocated = component(document, "FundingData")["properties"]["allocated"]
    assert allocated["type"] == "number"
    assert (allocated["minimum"], allocated["maximum"]) == (0, 999999999.999999)
    area = component(document, "LandParcelData")["properties"]["area_mu"]
    assert area["minimum"] == 0.0001


def test_every_operation_has_a_unique_stable_id(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(ids) == len(set(ids))
    for expected in (
        "put_land_parcel",
        "get_project",
        "list_permit",
        "batch_funding",
        "read_feed",
        "auth_token",
        "grants_approve",
        "create_subscription",
    ):
        assert expected in ids


def test_every_error_response_is_described_as_a_problem(document: dict[str, Any]) -> None:
    undescribed = [
        (method, path, status)
        for (method, path), operation in operations(document).items()
        for status, response in operation["responses"].items()
        if status.isdigit()
        and int(status) >= 400
        and "$ref" not in response
        and "application/problem+json" not in response.get("content", {})
    ]
    assert undescribed == []
