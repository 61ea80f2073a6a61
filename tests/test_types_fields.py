"""Fields of each type: required fields, shapes and lengths, enums, unknown fields and nulls."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import registry
from tests.factories import funding_data, project_data
from tests.type_helpers import (
    ENUMS,
    KEY_FIELDS,
    KEYS,
    MILESTONE_STATUSES,
    OPTIONAL,
    OWNERS,
    REQUIRED,
    TYPES,
    canonical_errors,
    refused,
    valid_body,
    without,
)

# --- required fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
def test_empty_body_is_refused_naming_every_required_field(put, type_name):
    errors = refused(put(type_name, {}), *REQUIRED[type_name])
    assert KEY_FIELDS[type_name] not in errors


@pytest.mark.parametrize(
    ("type_name", "field"),
    [(type_name, field) for type_name in TYPES for field in sorted(REQUIRED[type_name])],
)
def test_each_missing_required_field_is_named(type_name, field):
    body = without(valid_body(type_name), field)
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {field}


@pytest.mark.parametrize(
    ("type_name", "field"),
    [(type_name, field) for type_name in TYPES for field in sorted(REQUIRED[type_name])],
)
def test_required_field_sent_as_null_is_refused(type_name, field):
    body = valid_body(type_name, **{field: None})
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {field}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"responsible_leader": {"name": "Wang Li"}}, "responsible_leader.title"),
        ({"responsible_leader": {"title": "Deputy Mayor"}}, "responsible_leader.name"),
        ({"responsible_leader": {"name": "", "title": "Mayor"}}, "responsible_leader.name"),
        ({"responsible_leader": {"name": "Wang Li", "title": None}}, "responsible_leader.title"),
        (
            {"milestones": [{"name": "Groundbreaking", "status": "pending"}]},
            "milestones.0.planned_date",
        ),
        ({"contacts": [{"name": "Chen Hua"}]}, "contacts.0.phone"),
        ({"contacts": [{"name": "Chen Hua", "phone": "call me"}]}, "contacts.0.phone"),
    ],
)
def test_nested_field_errors_are_named_by_dotted_path(put, overrides, field):
    refused(put("project", project_data(**overrides)), field)


def test_errors_in_several_list_items_are_each_named(put):
    milestones = [
        {"name": "Design approved", "planned_date": "2025-03-01", "status": "pending"},
        {"name": "Groundbreaking", "planned_date": "2025-06-01", "status": "started"},
        {"name": "Topping out", "planned_date": "2026-06-01", "status": "done"},
    ]
    errors = refused(
        put("project", project_data(milestones=milestones)),
        "milestones.1.status",
        "milestones.2.actual_date",
    )
    assert "pending, done, delayed" in errors["milestones.1.status"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"responsible_leader": "Wang Li"}, "responsible_leader"),
        ({"responsible_leader": ["Wang Li", "Deputy Mayor"]}, "responsible_leader"),
        ({"milestones": "soon"}, "milestones"),
        ({"milestones": [None]}, "milestones.0"),
        ({"contacts": {"name": "Chen Hua", "phone": "+86 571 8888 0001"}}, "contacts"),
        ({"name": 42}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"lead_department": ["Transport Bureau"]}, "lead_department"),
    ],
)
def test_fields_of_the_wrong_type_or_length_are_refused(put, overrides, field):
    refused(put("project", project_data(**overrides)), field)


@pytest.mark.parametrize("body", ["[]", "null", '"a permit"', "42"])
def test_body_that_is_not_an_object_is_refused_with_422(client, headers, body):
    response = client.put(
        "/api/v1/records/permit/P-1",
        data=body,
        content_type="application/json",
        headers=headers("approval"),
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.json["errors"]


@pytest.mark.parametrize("body", [[], None, "text", 3])
def test_canonical_refuses_a_body_that_is_not_an_object(body):
    assert canonical_errors("permit", body, "P-1")


# --- enums --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "field", "allowed"), ENUMS, ids=lambda v: str(v)[:20])
def test_enum_field_refuses_other_values_listing_the_allowed_ones(put, type_name, field, allowed):
    errors = refused(put(type_name, valid_body(type_name, **{field: "bogus"})), field)
    message = " ".join(errors[field])
    assert all(choice in message for choice in allowed), message


@pytest.mark.parametrize(("type_name", "field", "allowed"), ENUMS, ids=lambda v: str(v)[:20])
@pytest.mark.parametrize("variant", ["upper-case", "padded", "empty", "number", "list"])
def test_enum_field_refuses_near_misses(type_name, field, allowed, variant):
    value = {
        "upper-case": allowed[0].upper(),
        "padded": f" {allowed[0]} ",
        "empty": "",
        "number": 1,
        "list": [allowed[0]],
    }[variant]
    body = valid_body(type_name, **{field: value})
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {field}


def _body_for_enum_value(type_name: str, field: str, value: str) -> dict[str, Any]:
    body = valid_body(type_name, **{field: value})
    if (field, value) == ("supply_status", "supplied"):
        body["supplied_on"] = "2025-05-20"
    if (field, value) == ("status", "approved"):
        body.update(approved_at="2025-03-10", permit_no="EIA-2025-001")
    return body


@pytest.mark.parametrize(
    ("type_name", "field", "value"),
    [(type_name, field, value) for type_name, field, allowed in ENUMS for value in allowed],
)
def test_every_allowed_enum_value_is_accepted(type_name, field, value):
    data = registry()[type_name].canonical(
        _body_for_enum_value(type_name, field, value), KEYS[type_name]
    )
    assert data[field] == value


@pytest.mark.parametrize("status", MILESTONE_STATUSES)
def test_every_milestone_status_is_accepted(put, status):
    milestone = {
        "name": "Groundbreaking",
        "planned_date": "2025-06-01",
        "actual_date": "2025-06-03",
        "status": status,
    }
    response = put("project", project_data(milestones=[milestone]))
    assert response.status_code == 201, response.json
    assert response.json["data"]["milestones"] == [milestone]


# --- unknown fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
def test_unknown_field_is_refused_by_name(put, type_name):
    errors = refused(put(type_name, valid_body(type_name, colour="red")), "colour")
    assert errors["colour"] == ["Unknown field."]


def test_several_unknown_fields_are_each_named(put):
    refused(put("funding", funding_data(currency="CNY", Allocated=5)), "currency", "Allocated")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"responsible_leader": {"name": "Wang Li", "title": "Mayor", "age": 50}},
            "responsible_leader.age",
        ),
        (
            {
                "milestones": [
                    {
                        "name": "Groundbreaking",
                        "planned_date": "2025-06-01",
                        "status": "pending",
                        "owner": "Chen",
                    }
                ]
            },
            "milestones.0.owner",
        ),
        (
            {"contacts": [{"name": "Chen Hua", "phone": "+86 571 8888 0001", "email": "c@x"}]},
            "contacts.0.email",
        ),
    ],
)
def test_unknown_nested_field_is_refused_by_dotted_path(put, overrides, field):
    refused(put("project", project_data(**overrides)), field)


# --- nulls --------------------------------------------------------------------------------------


def _nullable_body(type_name: str) -> dict[str, Any]:
    body = valid_body(type_name, **dict.fromkeys(OPTIONAL[type_name]))
    if type_name == "permit":
        body["status"] = "not_started"
    return body


@pytest.mark.parametrize("type_name", TYPES)
def test_optional_fields_sent_as_null_are_accepted_and_omitted(
    client, project, put, headers, type_name
):
    response = put(type_name, _nullable_body(type_name))
    assert response.status_code == 201, response.json
    stored = response.json["data"]
    assert not OPTIONAL[type_name] & stored.keys(), stored
    assert None not in stored.values()
    got = client.get(
        f"/api/v1/records/{type_name}/{KEYS[type_name]}", headers=headers(OWNERS[type_name])
    )
    assert not OPTIONAL[type_name] & got.json["data"].keys()


@pytest.mark.parametrize(
    ("type_name", "field"),
    [(type_name, field) for type_name in TYPES for field in sorted(OPTIONAL[type_name])],
)
def test_each_optional_field_may_be_null(type_name, field):
    body = valid_body(type_name, **{field: None})
    if type_name == "permit" and field == "submitted_at":
        body["status"] = "not_started"
    data = registry()[type_name].canonical(body, KEYS[type_name])
    assert field not in data


def test_null_nested_optional_field_is_omitted(put):
    milestone = {
        "name": "Groundbreaking",
        "planned_date": "2025-06-01",
        "actual_date": None,
        "status": "pending",
    }
    response = put("project", project_data(milestones=[milestone]))
    assert response.status_code == 201, response.json
    assert response.json["data"]["milestones"] == [
        {"name": "Groundbreaking", "planned_date": "2025-06-01", "status": "pending"}
    ]


def test_nulls_and_omissions_are_the_same_content(project, put):
    first = put("funding", funding_data(approval_doc=None, disbursed=None))
    again = put("funding", without(funding_data(), "disbursed"))
    assert first.status_code == 201, first.json
    assert again.status_code == 200, again.json
    assert again.json["version"] == 1
