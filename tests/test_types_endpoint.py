"""``GET /api/v1/types``: the record types, each field's sharing class, a JSON Schema per type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from schemas import registry
from tests.type_helpers import (
    ENUMS,
    KEY_FIELDS,
    MILESTONE_STATUSES,
    OPTIONAL,
    REQUIRED,
    TYPES,
)

SHARING = {
    "project": {
        "project_code": "open",
        "name": "open",
        "category": "open",
        "stage": "open",
        "admin_division": "open",
        "lead_department": "open",
        "responsible_leader": "open",
        "total_investment": "open",
        "planned_start": "open",
        "planned_completion": "open",
        "milestones": "open",
        "contacts": "conditional",
        "description": "open",
    },
    "land_parcel": {
        "parcel_id": "open",
        "project_code": "open",
        "area_mu": "open",
        "land_use": "open",
        "supply_method": "open",
        "supply_status": "open",
        "supplied_on": "open",
        "transfer_price": "conditional",
        "rights_holder": "restricted",
    },
    "funding": {
        "funding_id": "open",
        "project_code": "open",
        "source": "open",
        "fiscal_year": "open",
        "allocated": "open",
        "disbursed": "open",
        "approval_doc": "open",
        "bank_account": "restricted",
    },
    "permit": {
        "permit_id": "open",
        "project_code": "open",
        "item": "open",
        "authority": "open",
        "status": "open",
        "submitted_at": "open",
        "approved_at": "open",
        "permit_no": "open",
        "statutory_days": "open",
        "applicant_contact": "conditional",
        "overdue": "open",
    },
}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_types_needs_a_valid_token(client, departments, authorization):
    sent = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/types", headers=sent)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401


def test_types_refuses_an_access_key_in_place_of_a_token(client, departments, make_key):
    secret = make_key("audit")
    response = client.get("/api/v1/types", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


@pytest.mark.parametrize("scopes", [["records:read"], ["events:read"], ["grants"], ["admin"]])
def test_types_is_open_to_any_valid_token(client, headers, scopes):
    response = client.get("/api/v1/types", headers=headers("audit", scopes))
    assert response.status_code == 200, response.json
    assert response.content_type == "application/json"


@pytest.fixture
def described(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> dict[str, Any]:
    """The registry as ``GET /types`` describes it, by type name."""
    response = client.get("/api/v1/types", headers=headers("audit"))
    assert response.status_code == 200, response.json
    return {item["name"]: item for item in response.json["items"]}


def test_types_lists_every_record_type_with_its_key_field(described):
    assert set(described) == set(KEY_FIELDS)
    assert set(TYPES) < set(described)
    assert {name: item["key_field"] for name, item in described.items()} == KEY_FIELDS


@pytest.mark.parametrize("type_name", TYPES)
def test_types_gives_every_field_its_sharing_class(described, type_name):
    fields = described[type_name]["fields"]
    for name, sharing_class in SHARING[type_name].items():
        assert fields.get(name) == sharing_class, name
    assert set(fields.values()) <= {"open", "conditional", "restricted"}


def test_types_names_the_non_open_fields(described):
    assert described["land_parcel"]["fields"]["rights_holder"] == "restricted"
    assert described["land_parcel"]["fields"]["transfer_price"] == "conditional"
    assert described["project"]["fields"]["contacts"] == "conditional"
    assert described["funding"]["fields"]["bank_account"] == "restricted"
    assert described["permit"]["fields"]["applicant_contact"] == "conditional"
    assert described["project"]["fields"]["name"] == "open"


def test_types_sharing_classes_are_those_the_hub_enforces(described):
    for type_name, record_type in registry().items():
        assert described[type_name]["fields"] == record_type.sharing


@pytest.mark.parametrize("type_name", TYPES)
def test_types_publishes_a_strict_json_schema_per_type(described, type_name):
    schema = described[type_name]["json_schema"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(described[type_name]["fields"])
    required = set(schema["required"])
    assert REQUIRED[type_name] <= required
    assert not OPTIONAL[type_name] & required


def test_types_json_schema_lists_each_enum(described):
    for type_name, field, allowed in ENUMS:
        assert described[type_name]["json_schema"]["properties"][field]["enum"] == allowed, field


def test_types_json_schema_describes_nested_objects_and_dates(described):
    properties = described["project"]["json_schema"]["properties"]
    leader = properties["responsible_leader"]
    assert leader["type"] == "object"
    assert set(leader["required"]) == {"name", "title"}
    assert leader["additionalProperties"] is False
    milestone = properties["milestones"]["items"]
    assert milestone["properties"]["status"]["enum"] == MILESTONE_STATUSES
    assert milestone["properties"]["planned_date"]["format"] == "date"
    assert milestone["additionalProperties"] is False
    assert properties["planned_start"]["format"] == "date"
    assert "number" in _types_of(properties["total_investment"])


def test_types_json_schema_marks_overdue_read_only(described):
    overdue = described["permit"]["json_schema"]["properties"]["overdue"]
    assert overdue["readOnly"] is True
    assert "boolean" in _types_of(overdue)
    assert "overdue" not in described["permit"]["json_schema"]["required"]


def _types_of(property_schema: dict[str, Any]) -> list[str]:
    kind = property_schema["type"]
    return [kind] if isinstance(kind, str) else list(kind)
