"""Values: calendar dates, numeric ranges and money (six decimal places, one canonical form)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from schemas import registry
from tests.factories import PROJECT_CODE, funding_data, project_data
from tests.type_helpers import KEYS, canonical_errors, refused, valid_body

MONEY_FIELDS = [
    ("project", "total_investment"),
    ("land_parcel", "transfer_price"),
    ("funding", "allocated"),
    ("funding", "disbursed"),
]


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


def test_canonical_form_is_the_same_for_equivalent_bodies():
    project = registry()["project"]
    plain = project.canonical(project_data(total_investment=12.5), PROJECT_CODE)
    varied = project.canonical(
        project_data(total_investment="12.50", description=None, project_code=PROJECT_CODE),
        PROJECT_CODE,
    )
    assert plain == varied
    assert plain["total_investment"] == 12.5
