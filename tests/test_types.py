"""Record types: the unified project code, each type's fields and rules, and ``GET /types``.

Most rules are driven through ``PUT /api/v1/records/{type}/{key}`` as a department system would
meet them; a few are checked directly on ``schemas.registry()[name].canonical(data, key)``, the
one function every write path validates through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient

from schemas import registry
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)

TYPES = ("project", "land_parcel", "funding", "permit")
LINKED_TYPES = ("land_parcel", "funding", "permit")
BODIES: dict[str, Callable[..., dict[str, Any]]] = {
    "project": project_data,
    "land_parcel": parcel_data,
    "funding": funding_data,
    "permit": permit_data,
}
# The project fixture already holds PROJECT_CODE, so new projects use the other code.
KEYS = {"project": OTHER_PROJECT_CODE, "land_parcel": "L-1", "funding": "F-1", "permit": "P-1"}
KEY_FIELDS = {
    "project": "project_code",
    "land_parcel": "parcel_id",
    "funding": "funding_id",
    "permit": "permit_id",
}
OWNERS = {"project": "ndrc", "land_parcel": "land", "funding": "finance", "permit": "approval"}
REQUIRED = {
    "project": {
        "name",
        "category",
        "stage",
        "admin_division",
        "lead_department",
        "responsible_leader",
        "total_investment",
    },
    "land_parcel": {"project_code", "area_mu", "land_use", "supply_method", "supply_status"},
    "funding": {"project_code", "source", "fiscal_year", "allocated"},
    "permit": {"project_code", "item", "authority", "status"},
}
# Optional fields of the design, sent as null in a body that is otherwise valid without them.
OPTIONAL = {
    "project": {
        "planned_start",
        "planned_completion",
        "milestones",
        "contacts",
        "description",
    },
    "land_parcel": {"supplied_on", "transfer_price", "rights_holder"},
    "funding": {"disbursed", "approval_doc", "bank_account"},
    "permit": {"submitted_at", "approved_at", "permit_no", "statutory_days", "applicant_contact"},
}
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
ENUMS = [
    (
        "project",
        "category",
        ["infrastructure", "industry", "culture_tourism", "public_service", "other"],
    ),
    ("project", "stage", ["reserve", "preliminary", "construction", "completed", "suspended"]),
    (
        "land_parcel",
        "land_use",
        ["industrial", "commercial", "residential", "public", "infrastructure", "mixed"],
    ),
    ("land_parcel", "supply_method", ["transfer", "allocation", "lease"]),
    ("land_parcel", "supply_status", ["planned", "acquiring", "ready", "supplied"]),
    (
        "funding",
        "source",
        [
            "central_budget",
            "special_bond",
            "local_budget",
            "bank_loan",
            "private_capital",
            "other",
        ],
    ),
    (
        "permit",
        "item",
        [
            "land_pre_review",
            "site_selection",
            "planning_permit",
            "eia",
            "energy_review",
            "construction_permit",
            "completion_acceptance",
            "other",
        ],
    ),
    (
        "permit",
        "status",
        ["not_started", "submitted", "accepted", "approved", "rejected", "withdrawn"],
    ),
]
MILESTONE_STATUSES = ["pending", "done", "delayed"]
MONEY_FIELDS = [
    ("project", "total_investment"),
    ("land_parcel", "transfer_price"),
    ("funding", "allocated"),
    ("funding", "disbursed"),
]


def refused(response: Any, *fields: str) -> dict[str, list[str]]:
    """Assert a 422 problem+json naming exactly ``fields``; return its field errors."""
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == 422
    errors: dict[str, list[str]] = problem["errors"]
    assert set(errors) == set(fields), errors
    for name in fields:
        assert errors[name], errors
        assert all(isinstance(message, str) and message for message in errors[name])
    return errors


def canonical_errors(type_name: str, data: Any, key: str) -> dict[str, Any]:
    """The messages of the ValidationError ``canonical`` raises for ``data``."""
    with pytest.raises(ma.ValidationError) as caught:
        registry()[type_name].canonical(data, key)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


def valid_body(type_name: str, **overrides: Any) -> dict[str, Any]:
    """A valid body of ``type_name`` with ``overrides`` applied."""
    return BODIES[type_name](**overrides)


def without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """``data`` without the fields ``names``."""
    return {name: value for name, value in data.items() if name not in names}


@pytest.fixture
def put(publish: Callable[..., Any]) -> Callable[..., Any]:
    """PUT a body of a type at its usual key (or ``key``) as its owning department."""

    def send(type_name: str, data: Any, key: str | None = None) -> Any:
        return publish(type_name, key or KEYS[type_name], data)

    return send


@pytest.fixture
def today(app: Flask) -> date:
    """Today in the city's time zone, as the hub counts permit deadlines."""
    return datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()


# --- the unified project code -----------------------------------------------------------------

WELL_FORMED_CODES = [
    PROJECT_CODE,
    OTHER_PROJECT_CODE,
    "2512-110101-00-99-ABCDEF",
    "0001-650102-12-34-000000",
    "9912-820000-01-01-Z9Z9Z9",
    "2507-440305-04-01-A1B2C3",
]
MALFORMED_CODES = {
    "month 00": "2500-330102-04-01-7K3Q9B",
    "month 13": "2513-330102-04-01-7K3Q9B",
    "division 99 is no province": "2503-990102-04-01-7K3Q9B",
    "division 00 is no province": "2503-000000-04-01-7K3Q9B",
    "lower-case letters": "2503-330102-04-01-7k3q9b",
    "one lower-case letter": "2503-330102-04-01-7K3q9B",
    "too short": "2503-330102-04-01-7K3Q9",
    "too long": "2503-330102-04-01-7K3Q9BX",
    "division of 5 digits": "2503-33010-204-01-7K3Q9B",
    "letters in the date": "25AB-330102-04-01-7K3Q9B",
    "letter in the department": "2503-330102-0A-01-7K3Q9B",
    "letter in the project type": "2503-330102-04-X1-7K3Q9B",
    "underscores for dashes": "2503_330102_04_01_7K3Q9B",
    "no dashes": "250333010204017K3Q9BXXXX",
    "empty segments": "2503--04-01-7K3Q9B",
}


@pytest.mark.parametrize("code", WELL_FORMED_CODES)
def test_well_formed_project_code_is_accepted_as_the_project_key(put, code):
    response = put("project", project_data(), key=code)
    assert response.status_code == 201, response.json
    assert response.json["key"] == code
    assert response.json["project_code"] == code
    assert response.json["data"]["project_code"] == code


@pytest.mark.parametrize("code", MALFORMED_CODES.values(), ids=MALFORMED_CODES.keys())
def test_malformed_project_code_in_the_url_is_refused_naming_project_code(
    client, put, headers, code
):
    refused(put("project", project_data(), key=code), "project_code")
    got = client.get(f"/api/v1/records/project/{code}", headers=headers("ndrc"))
    assert got.status_code == 404


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("2500-330102-04-01-7K3Q9B", "00"),
        ("2513-330102-04-01-7K3Q9B", "13"),
        ("2503-990102-04-01-7K3Q9B", "99"),
    ],
    ids=["month 00", "month 13", "province 99"],
)
def test_project_code_message_names_the_bad_part(put, code, fragment):
    errors = refused(put("project", project_data(), key=code), "project_code")
    assert any(fragment in message for message in errors["project_code"])


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize(
    "code", [MALFORMED_CODES["month 13"], MALFORMED_CODES["lower-case letters"], 25033301020401]
)
def test_malformed_project_code_in_a_linked_record_is_refused(put, type_name, code):
    refused(put(type_name, valid_body(type_name, project_code=code)), "project_code")


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize("code", [*MALFORMED_CODES.values(), ""], ids=[*MALFORMED_CODES, "empty"])
def test_linked_record_refuses_every_malformed_project_code(type_name, code):
    body = valid_body(type_name, project_code=code)
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {"project_code"}


@pytest.mark.parametrize("type_name", LINKED_TYPES)
def test_linked_record_must_name_a_published_project(put, type_name):
    response = put(type_name, valid_body(type_name, project_code=OTHER_PROJECT_CODE))
    refused(response, "project_code")


def test_project_body_naming_another_code_is_refused(client, put, headers):
    body = project_data(project_code=PROJECT_CODE)
    refused(put("project", body, key=OTHER_PROJECT_CODE), "project_code")
    for code in (PROJECT_CODE, OTHER_PROJECT_CODE):
        got = client.get(f"/api/v1/records/project/{code}", headers=headers("ndrc"))
        assert got.status_code == 404


def test_project_body_may_repeat_its_own_code(put):
    response = put("project", project_data(project_code=OTHER_PROJECT_CODE))
    assert response.status_code == 201, response.json
    assert response.json["data"]["project_code"] == OTHER_PROJECT_CODE


@pytest.mark.parametrize(
    "code",
    [
        PROJECT_CODE + "\n",
        "2503-33\u0660\u0661\u0660\u0662-04-01-7K3Q9B",  # Arabic-Indic digits in the division
        "\uff12\uff1503-330102-04-01-7K3Q9B",  # full-width digits in the year
    ],
    ids=["trailing newline", "arabic-indic digits", "full-width digits"],
)
def test_project_code_refuses_lookalike_characters(code):
    messages = canonical_errors("land_parcel", parcel_data(project_code=code), "L-1")
    assert set(messages) == {"project_code"}


@pytest.mark.parametrize(
    "division",
    [
        "990102",
        "000000",
        "33010",
        "3301020",
        "abcdef",
        "33010a",
        330102,
        "330102\n",
        "33\u0660\u0661\u0660\u0662",
        "",
    ],
)
def test_admin_division_must_be_six_digits_with_a_province_prefix(division):
    body = project_data(admin_division=division)
    assert set(canonical_errors("project", body, PROJECT_CODE)) == {"admin_division"}


@pytest.mark.parametrize("division", ["990102", "33010", "330102\n"], ids=repr)
def test_bad_admin_division_is_refused_over_http(put, division):
    refused(put("project", project_data(admin_division=division)), "admin_division")


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


# --- ranges -------------------------------------------------------------------------------------

RANGES = [
    ("project", "total_investment", 0, True),
    ("project", "total_investment", 0.000001, True),
    ("project", "total_investment", -0.000001, False),
    ("project", "total_investment", -1, False),
    ("land_parcel", "area_mu", 0.0001, True),
    ("land_parcel", "area_mu", 1, True),
    ("land_parcel", "area_mu", 0, False),
    ("land_parcel", "area_mu", -86.4, False),
    ("land_parcel", "transfer_price", 0, True),
    ("land_parcel", "transfer_price", -1, False),
    ("funding", "fiscal_year", 2000, True),
    ("funding", "fiscal_year", 2100, True),
    ("funding", "fiscal_year", 1999, False),
    ("funding", "fiscal_year", 2101, False),
    ("funding", "fiscal_year", 2025.5, False),
    ("funding", "fiscal_year", "two thousand", False),
    ("funding", "disbursed", 0, True),
    ("funding", "disbursed", -0.5, False),
    ("permit", "statutory_days", 1, True),
    ("permit", "statutory_days", 0, False),
    ("permit", "statutory_days", -5, False),
    ("permit", "statutory_days", 1.5, False),
]


@pytest.mark.parametrize(("type_name", "field", "value", "accepted"), RANGES)
def test_numeric_ranges(project, put, type_name, field, value, accepted):
    response = put(type_name, valid_body(type_name, **{field: value}))
    if accepted:
        assert response.status_code == 201, response.json
        assert response.json["data"][field] == value
    else:
        refused(response, field)


@pytest.mark.parametrize(("allocated", "accepted"), [(0, True), (-1, False), (-0.01, False)])
def test_allocation_is_not_negative(project, put, allocated, accepted):
    response = put("funding", funding_data(allocated=allocated, disbursed=None))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "allocated")


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


# --- dates --------------------------------------------------------------------------------------

BAD_DATES = [
    "2025-02-30",
    "2025-13-01",
    "2025-00-10",
    "2025/06/01",
    "01-06-2025",
    "2025-6-1",
    "tomorrow",
    "",
    "2025-06-01T08:00:00",
    "20250601",
    "2025-W23-1",
    "2025-06-01\n",
    20250601,
    True,
]


@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_dates_must_be_iso_calendar_dates(value):
    body = project_data(planned_start=value)
    assert set(canonical_errors("project", body, PROJECT_CODE)) == {"planned_start"}


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        ("project", "planned_completion"),
        ("land_parcel", "supplied_on"),
        ("permit", "submitted_at"),
        ("permit", "approved_at"),
    ],
)
def test_every_date_field_is_validated(put, type_name, field):
    refused(put(type_name, valid_body(type_name, **{field: "2025-02-30"})), field)


def test_milestone_dates_are_validated(put):
    milestone = {"name": "Groundbreaking", "planned_date": "June", "status": "pending"}
    refused(put("project", project_data(milestones=[milestone])), "milestones.0.planned_date")


@pytest.mark.parametrize("value", ["2024-02-29", "2000-01-01", "2099-12-31"])
def test_valid_dates_are_stored_as_given(put, value):
    response = put("project", project_data(planned_start=value, planned_completion=None))
    assert response.status_code == 201, response.json
    assert response.json["data"]["planned_start"] == value


# --- money and decimals -------------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "field"), MONEY_FIELDS)
@pytest.mark.parametrize(("value", "accepted"), [(1.123456, True), (1.1234567, False)])
def test_money_has_at_most_six_decimal_places(project, put, type_name, field, value, accepted):
    body = valid_body(type_name, **{field: value})
    if field == "allocated":
        body["disbursed"] = None
    response = put(type_name, body)
    if accepted:
        assert response.status_code == 201, response.json
        assert response.json["data"][field] == value
    else:
        errors = refused(response, field)
        assert "6" in " ".join(errors[field])


@pytest.mark.parametrize(
    "text",
    ["123456789.123456", "999999999.999999", "0.000001", "0.1", "45000.25", "120000", "0"],
)
def test_money_round_trips_exactly_as_a_json_number(client, project, put, headers, text):
    value = int(text) if text.isdigit() else float(text)
    response = put("funding", funding_data(allocated=value, disbursed=None))
    assert response.status_code == 201, response.json
    got = client.get("/api/v1/records/funding/F-1", headers=headers("finance"))
    assert got.json["data"]["allocated"] == value
    assert type(got.json["data"]["allocated"]) is type(value)
    exact = json.loads(got.data, parse_float=Decimal, parse_int=Decimal)
    assert exact["data"]["allocated"] == Decimal(text)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("12.5", 12.5), ("12.50", 12.5), ("100", 100), ("0.000001", 0.000001), ("1e3", 1000)],
)
def test_money_sent_as_a_decimal_string_is_stored_as_a_number(project, put, sent, stored):
    response = put("funding", funding_data(allocated=sent, disbursed=None))
    assert response.status_code == 201, response.json
    assert response.json["data"]["allocated"] == stored
    assert not isinstance(response.json["data"]["allocated"], str)


def test_equivalent_money_is_one_canonical_form(project, put):
    first = put("funding", funding_data(allocated="120000.50"))
    again = put("funding", funding_data(allocated=120000.5))
    assert first.status_code == 201, first.json
    assert again.status_code == 200, again.json
    assert again.json["version"] == 1


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        *MONEY_FIELDS,
        ("land_parcel", "area_mu"),
        ("funding", "fiscal_year"),
        ("permit", "statutory_days"),
    ],
)
def test_booleans_are_refused_for_numbers(put, type_name, field):
    refused(put(type_name, valid_body(type_name, **{field: True})), field)
    body = valid_body(type_name, **{field: False})
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {field}


@pytest.mark.parametrize(
    "value",
    ["abc", "", "NaN", "Infinity", "-Infinity", "1_000", "12,5", [1], {"amount": 1}],
    ids=repr,
)
def test_non_numbers_are_refused_for_money(value):
    body = project_data(total_investment=value)
    assert set(canonical_errors("project", body, PROJECT_CODE)) == {"total_investment"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_json_numbers_are_refused_with_422(client, headers, literal):
    body = (
        f'{{"project_code": "{PROJECT_CODE}", "source": "other", "fiscal_year": 2025, '
        f'"allocated": {literal}}}'
    )
    response = client.put(
        "/api/v1/records/funding/F-1",
        data=body,
        content_type="application/json",
        headers=headers("finance"),
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    if response.status_code == 422:
        assert set(response.json["errors"]) == {"allocated"}


# --- cross-field rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "completion", "accepted"),
    [
        ("2025-06-01", "2029-12-31", True),
        ("2025-06-01", "2025-06-01", True),
        ("2025-06-01", None, True),
        (None, "2025-06-01", True),
        ("2025-06-01", "2025-05-31", False),
    ],
)
def test_planned_completion_is_not_before_planned_start(put, start, completion, accepted):
    response = put("project", project_data(planned_start=start, planned_completion=completion))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "planned_completion")


@pytest.mark.parametrize(
    ("status", "supplied_on", "accepted"),
    [
        ("supplied", "2025-05-20", True),
        ("supplied", None, False),
        ("ready", None, True),
        ("planned", None, True),
        ("acquiring", "2025-05-20", True),
    ],
)
def test_supplied_parcel_needs_its_supply_date(project, put, status, supplied_on, accepted):
    response = put("land_parcel", parcel_data(supply_status=status, supplied_on=supplied_on))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "supplied_on")


@pytest.mark.parametrize(
    ("allocated", "disbursed", "accepted"),
    [
        (120000, 45000.25, True),
        (120000, 120000, True),
        ("45000", "45000.000000", True),
        (120000, 120000.000001, False),
        (0, 0.01, False),
        ("45000", "45000.000001", False),
    ],
)
def test_disbursed_does_not_exceed_allocated(project, put, allocated, disbursed, accepted):
    response = put("funding", funding_data(allocated=allocated, disbursed=disbursed))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "disbursed")


APPROVED = {
    "status": "approved",
    "submitted_at": "2025-02-10",
    "approved_at": "2025-03-28",
    "permit_no": "EIA-2025-017",
}


def test_approved_permit_with_its_dates_and_number_is_accepted(project, put):
    response = put("permit", permit_data(**APPROVED))
    assert response.status_code == 201, response.json
    assert response.json["data"]["permit_no"] == "EIA-2025-017"


@pytest.mark.parametrize(
    "missing",
    [
        ("submitted_at",),
        ("approved_at",),
        ("permit_no",),
        ("submitted_at", "approved_at", "permit_no"),
    ],
)
def test_approved_permit_needs_submitted_at_approved_at_and_permit_no(put, missing):
    body = without(permit_data(**APPROVED), *missing)
    refused(put("permit", body), *missing)


def test_approved_permit_needs_a_non_empty_permit_no(put):
    refused(put("permit", permit_data(**{**APPROVED, "permit_no": ""})), "permit_no")


@pytest.mark.parametrize(
    ("status", "approved_at", "accepted"),
    [
        ("approved", "2025-02-10", True),
        ("approved", "2025-02-09", False),
        ("rejected", "2025-02-09", False),
    ],
)
def test_approved_at_is_not_before_submitted_at(project, put, status, approved_at, accepted):
    body = permit_data(**{**APPROVED, "status": status, "approved_at": approved_at})
    response = put("permit", body)
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "approved_at")


@pytest.mark.parametrize("status", ["submitted", "accepted"])
def test_pending_permit_needs_its_submission_date(put, status):
    refused(put("permit", permit_data(status=status, submitted_at=None)), "submitted_at")


@pytest.mark.parametrize(
    ("milestone", "error"),
    [
        ({"status": "done", "actual_date": "2025-06-03"}, None),
        ({"status": "done"}, "milestones.0.actual_date"),
        ({"status": "done", "actual_date": None}, "milestones.0.actual_date"),
        ({"status": "pending"}, None),
        ({"status": "delayed"}, None),
        ({"status": "finished"}, "milestones.0.status"),
    ],
)
def test_done_milestone_needs_its_actual_date(put, milestone, error):
    body = project_data(
        milestones=[{"name": "Groundbreaking", "planned_date": "2025-06-01", **milestone}]
    )
    response = put("project", body)
    if error is None:
        assert response.status_code == 201, response.json
    else:
        refused(response, error)


# --- keys ---------------------------------------------------------------------------------------

GOOD_KEYS = ["P-1", "a", "A.b_c:d-9", "2025:eia.v2", "x" * 128, "_", "..", "0"]
BAD_KEYS = {
    "129 characters": "x" * 129,
    "space": "P 1",
    "at sign": "P@1",
    "plus": "P+1",
    "non-ascii letter": "P\u00fc1",
    "tab": "P\t1",
    "trailing newline": "P-1\n",
    "slash-free percent": "P%1",
    "comma": "P,1",
}


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_keys_of_the_allowed_characters_are_accepted(client, project, put, headers, key):
    response = put("permit", permit_data(), key=key)
    assert response.status_code == 201, response.json
    assert response.json["key"] == key
    assert response.json["data"]["permit_id"] == key
    got = client.get(f"/api/v1/records/permit/{key}", headers=headers("approval"))
    assert got.status_code == 200


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_bad_key_is_refused_naming_key(client, project, put, headers, key):
    quoted = quote(key, safe="")
    refused(put("permit", permit_data(), key=quoted), "key")
    listed = client.get("/api/v1/records/permit", headers=headers("approval"))
    assert listed.json["items"] == []


@pytest.mark.parametrize("type_name", TYPES)
def test_body_may_omit_its_key_field(project, put, type_name):
    body = without(valid_body(type_name), KEY_FIELDS[type_name])
    response = put(type_name, body)
    assert response.status_code == 201, response.json
    assert response.json["data"][KEY_FIELDS[type_name]] == KEYS[type_name]


@pytest.mark.parametrize("type_name", TYPES)
def test_body_may_name_its_own_key(project, put, type_name):
    body = valid_body(type_name, **{KEY_FIELDS[type_name]: KEYS[type_name]})
    response = put(type_name, body)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize("other", ["OTHER-9", 1])
def test_body_naming_another_key_is_refused(client, project, put, headers, type_name, other):
    body = valid_body(type_name, **{KEY_FIELDS[type_name]: other})
    refused(put(type_name, body), KEY_FIELDS[type_name])
    got = client.get(
        f"/api/v1/records/{type_name}/{KEYS[type_name]}", headers=headers(OWNERS[type_name])
    )
    assert got.status_code == 404


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


# --- the computed overdue flag ------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_overdue_cannot_be_sent_on_put(put, value):
    errors = refused(put("permit", permit_data(overdue=value)), "overdue")
    assert errors["overdue"]


@pytest.mark.parametrize("value", [True, False])
def test_overdue_cannot_be_sent_on_patch(client, project, put, headers, value):
    assert put("permit", permit_data()).status_code == 201
    response = client.patch(
        "/api/v1/records/permit/P-1",
        json={"overdue": value},
        headers={**headers("approval"), "Content-Type": "application/merge-patch+json"},
    )
    refused(response, "overdue")


def test_overdue_cannot_be_sent_in_a_batch(client, project, headers):
    response = client.post(
        "/api/v1/records/permit/batch",
        json={"records": [{"key": "P-1", "data": permit_data(overdue=False)}]},
        headers=headers("approval"),
    )
    assert response.status_code == 200, response.json
    result = response.json["results"][0]
    assert result["status"] == 422
    assert "overdue" in result["errors"]


def test_overdue_is_not_part_of_the_stored_data():
    data = registry()["permit"].canonical(permit_data(submitted_at="2000-01-01"), "P-1")
    assert "overdue" not in data


OVERDUE_CASES = {
    "submitted, 40 days past its limit": ("submitted", 100, 60, None, True),
    "accepted, 40 days past its limit": ("accepted", 100, 60, None, True),
    "submitted, limit ended yesterday": ("submitted", 61, 60, None, True),
    "submitted, limit ends today": ("submitted", 60, 60, None, False),
    "submitted, within time": ("submitted", 10, 60, None, False),
    "submitted today": ("submitted", 0, 1, None, False),
    "approved late": ("approved", 100, 60, 50, False),
    "rejected late": ("rejected", 100, 60, None, False),
    "withdrawn late": ("withdrawn", 100, 60, None, False),
    "submitted without a time limit": ("submitted", 400, None, None, False),
}


@pytest.mark.parametrize(
    ("status", "submitted_days_ago", "statutory_days", "approved_days_ago", "expected"),
    OVERDUE_CASES.values(),
    ids=OVERDUE_CASES.keys(),
)
def test_overdue_is_computed_from_submission_and_statutory_days(
    client,
    project,
    put,
    headers,
    today,
    status,
    submitted_days_ago,
    statutory_days,
    approved_days_ago,
    expected,
):
    body = permit_data(
        status=status,
        submitted_at=(today - timedelta(days=submitted_days_ago)).isoformat(),
        statutory_days=statutory_days,
    )
    if approved_days_ago is not None:
        body.update(
            approved_at=(today - timedelta(days=approved_days_ago)).isoformat(),
            permit_no="EIA-2025-017",
        )
    response = put("permit", body)
    assert response.status_code == 201, response.json
    assert response.json["data"]["overdue"] is expected
    for reader in ("approval", "audit"):
        got = client.get("/api/v1/records/permit/P-1", headers=headers(reader))
        assert got.json["data"]["overdue"] is expected


def test_not_started_permit_is_never_overdue(project, put):
    response = put("permit", permit_data(status="not_started", submitted_at=None))
    assert response.status_code == 201, response.json
    assert response.json["data"]["overdue"] is False


def test_overdue_is_recomputed_when_the_permit_is_approved(client, project, put, today):
    submitted = (today - timedelta(days=100)).isoformat()
    late = put("permit", permit_data(submitted_at=submitted, statutory_days=30))
    assert late.json["data"]["overdue"] is True
    approved = put(
        "permit",
        permit_data(
            status="approved",
            submitted_at=submitted,
            statutory_days=30,
            approved_at=today.isoformat(),
            permit_no="EIA-2025-017",
        ),
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["data"]["overdue"] is False


# --- GET /api/v1/types --------------------------------------------------------------------------


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


def test_types_lists_the_four_record_types_with_their_key_fields(described):
    assert set(described) == set(TYPES)
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


# --- the canonical form, directly ---------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
def test_canonical_form_fills_in_the_key_field(type_name):
    body = without(valid_body(type_name), KEY_FIELDS[type_name])
    data = registry()[type_name].canonical(body, KEYS[type_name])
    assert data[KEY_FIELDS[type_name]] == KEYS[type_name]


def test_canonical_form_is_the_same_for_equivalent_bodies():
    project = registry()["project"]
    plain = project.canonical(project_data(total_investment=12.5), PROJECT_CODE)
    varied = project.canonical(
        project_data(total_investment="12.50", description=None, project_code=PROJECT_CODE),
        PROJECT_CODE,
    )
    assert plain == varied
    assert plain["total_investment"] == 12.5


@pytest.mark.parametrize("body", [[], None, "text", 3])
def test_canonical_refuses_a_body_that_is_not_an_object(body):
    assert canonical_errors("permit", body, "P-1")


@pytest.mark.parametrize("code", MALFORMED_CODES.values(), ids=MALFORMED_CODES.keys())
def test_canonical_refuses_a_malformed_project_key(code):
    assert set(canonical_errors("project", project_data(), code)) == {"project_code"}


@pytest.mark.parametrize("code", WELL_FORMED_CODES)
def test_canonical_accepts_a_well_formed_project_key(code):
    assert registry()["project"].canonical(project_data(), code)["project_code"] == code
