"""``progress_report``: the monthly progress dispatch, keyed ``<project_code>:<YYYY-MM>``.

Checked on ``schemas.registry()["progress_report"].canonical(data, key)``, the one function every
write path validates through.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest

from schemas import is_valid_key, registry
from schemas.progress_report import report_key
from tests.factories import OTHER_PROJECT_CODE, PROJECT_CODE, progress_report_data

KEY = f"{PROJECT_CODE}:2026-09"
REQUIRED = {
    "project_code",
    "period",
    "annual_plan",
    "invested_this_year",
    "invested_to_date",
}
OPTIONAL = {"progress_note", "next_steps", "problems"}
MONEY = ("annual_plan", "invested_this_year", "invested_to_date")


def canonical(data: Any, key: str = KEY) -> dict[str, Any]:
    return registry()["progress_report"].canonical(data, key)


def errors_of(data: Any, key: str = KEY) -> dict[str, Any]:
    """The messages by field of the ValidationError ``canonical`` raises for ``data``."""
    with pytest.raises(ma.ValidationError) as caught:
        canonical(data, key)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


def without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name not in names}


# --- the type ------------------------------------------------------------------------------------


def test_progress_report_is_a_registered_type_keyed_by_report_id():
    record_type = registry()["progress_report"]
    assert record_type.key_field == "report_id"
    assert record_type.links_project
    assert set(record_type.sharing) == REQUIRED | OPTIONAL | {"report_id"}


def test_every_field_is_open():
    record_type = registry()["progress_report"]
    assert set(record_type.sharing.values()) == {"open"}
    assert record_type.protected_fields == frozenset()


def test_valid_body_is_stored_with_its_key():
    assert canonical(progress_report_data()) == {**progress_report_data(), "report_id": KEY}


def test_report_key_is_code_and_period_and_a_valid_record_key():
    assert report_key(PROJECT_CODE, "2026-10") == "2503-330102-04-01-7K3Q9B:2026-10"
    assert is_valid_key(report_key(PROJECT_CODE, "2026-10"))


def test_optional_fields_may_be_null_or_absent():
    nulls = canonical(progress_report_data(progress_note=None, next_steps=None, problems=None))
    absent = canonical(without(progress_report_data(), "progress_note", "next_steps"))
    assert nulls == absent
    assert not OPTIONAL & set(nulls)


def test_problems_are_free_text():
    data = canonical(progress_report_data(problems="征迁进度滞后，详见协调事项 C-2026-003"))
    assert data["problems"].startswith("征迁")


# --- the key --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        f"{PROJECT_CODE}:2026-10",  # another month
        f"{PROJECT_CODE}:2025-09",  # another year
        f"{OTHER_PROJECT_CODE}:2026-09",  # another project
        f"{PROJECT_CODE}:2026-9",
        f"{PROJECT_CODE}-2026-09",
        PROJECT_CODE,
        "R-1",
    ],
)
def test_key_that_disagrees_with_code_and_period_is_refused_naming_report_id(key):
    errors = errors_of(progress_report_data(), key)
    assert set(errors) == {"report_id"}
    assert KEY in errors["report_id"][0]


def test_body_may_name_its_own_key_but_not_another():
    assert canonical(progress_report_data(report_id=KEY))["report_id"] == KEY
    other = f"{PROJECT_CODE}:2026-10"
    assert set(errors_of(progress_report_data(report_id=other))) == {"report_id"}


def test_key_is_checked_against_the_body_period():
    body = progress_report_data(period="2026-10")
    assert canonical(body, f"{PROJECT_CODE}:2026-10")["period"] == "2026-10"
    assert set(errors_of(body, KEY)) == {"report_id"}


def test_bad_period_is_named_alone_not_the_key():
    assert set(errors_of(progress_report_data(period="2026-13"))) == {"period"}


# --- required fields and types -------------------------------------------------------------------


def test_empty_body_names_every_required_field():
    assert set(errors_of({})) == REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_missing_required_field_is_named(name):
    assert set(errors_of(without(progress_report_data(), name))) == {name}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_field_sent_as_null_is_named(name):
    assert set(errors_of(progress_report_data(**{name: None}))) == {name}


def test_unknown_field_is_refused_by_name():
    assert set(errors_of(progress_report_data(rate=0.7))) == {"rate"}


@pytest.mark.parametrize(
    "period", ["2026-00", "2026-13", "2026-9", "26-09", "2026/09", "2026-09-01", "1999-12", 202609]
)
def test_period_must_be_a_month(period):
    assert set(errors_of(progress_report_data(period=period))) == {"period"}


@pytest.mark.parametrize("period", ["2000-01", "2026-01", "2026-12", "2100-12"])
def test_periods_are_accepted(period):
    key = f"{PROJECT_CODE}:{period}"
    assert canonical(progress_report_data(period=period), key)["period"] == period


@pytest.mark.parametrize("name", MONEY)
@pytest.mark.parametrize(
    ("value", "accepted"),
    [(0, True), (0.000001, True), ("12.5", True), (-1, False), (0.0000001, False), (True, False)],
)
def test_money_fields_are_money(name, value, accepted):
    # keep invested_to_date >= invested_this_year whatever is varied
    body = progress_report_data(annual_plan=1, invested_this_year=0, invested_to_date=100)
    body[name] = value
    if name == "invested_to_date":
        body["invested_this_year"] = 0
    if accepted:
        assert canonical(body)[name] == float(value)
    else:
        assert set(errors_of(body)) == {name}


def test_money_is_stored_as_a_json_number():
    data = canonical(progress_report_data(annual_plan="120000.50", invested_this_year=10))
    assert data["annual_plan"] == 120000.5
    assert data["invested_this_year"] == 10
    assert isinstance(data["invested_this_year"], int)


# --- cross-field rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this_year", "to_date", "accepted"),
    [(100, 100, True), (100, 100.000001, True), (100, 99.999999, False), (0, 0, True)],
)
def test_invested_to_date_is_not_below_invested_this_year(this_year, to_date, accepted):
    body = progress_report_data(invested_this_year=this_year, invested_to_date=to_date)
    if accepted:
        assert canonical(body)["invested_to_date"] == to_date
    else:
        errors = errors_of(body)
        assert set(errors) == {"invested_to_date"}
        assert "invested_this_year" in errors["invested_to_date"][0]


def test_invested_this_year_may_exceed_the_annual_plan():
    body = progress_report_data(annual_plan=100, invested_this_year=130, invested_to_date=400)
    assert canonical(body)["invested_this_year"] == 130


def test_key_and_amounts_are_both_named_when_both_are_wrong():
    body = progress_report_data(invested_this_year=10, invested_to_date=5)
    assert set(errors_of(body, f"{PROJECT_CODE}:2026-10")) == {"report_id", "invested_to_date"}
