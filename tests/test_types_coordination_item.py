"""``coordination_item``: the joint meeting's problem list; and department ids in records.

Checked on ``schemas.registry()[name].canonical(data, key)``, the one function every write path
validates through. That the departments named exist is the hub's check, on the fields the type
lists in ``RecordType.department_fields``; here only their shape and the listing are tested. The
project's task force, which names departments the same way, is tested here too.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest

from schemas import registry
from schemas.base import RecordSchema, RecordType
from tests.factories import PROJECT_CODE, coordination_item_data, project_data

KEY = "C-2026-003"
REQUIRED = {
    "project_code",
    "title",
    "factor",
    "raised_at",
    "raised_by",
    "assigned_to",
    "due_date",
    "status",
}
OPTIONAL = {"meeting", "resolution", "resolved_at", "notes"}
SHARING = {
    "item_id": "open",
    "project_code": "open",
    "title": "open",
    "factor": "open",
    "raised_at": "open",
    "meeting": "open",
    "raised_by": "open",
    "assigned_to": "open",
    "due_date": "open",
    "status": "open",
    "resolution": "open",
    "resolved_at": "open",
    "notes": "conditional",
}
RESOLVED = {
    "status": "resolved",
    "resolution": "市财政局已拨付补偿资金",
    "resolved_at": "2026-04-20",
}


def canonical(data: Any, key: str = KEY) -> dict[str, Any]:
    return registry()["coordination_item"].canonical(data, key)


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


def test_coordination_item_is_a_registered_type_keyed_by_item_id():
    record_type = registry()["coordination_item"]
    assert record_type.key_field == "item_id"
    assert record_type.links_project
    assert set(record_type.sharing) == REQUIRED | OPTIONAL | {"item_id"}


def test_sharing_classes_are_open_but_notes_conditional():
    record_type = registry()["coordination_item"]
    assert record_type.sharing == SHARING
    assert record_type.protected_fields == {"notes"}


def test_valid_body_is_stored_as_sent_with_its_key():
    data = canonical(coordination_item_data())
    assert data == {**coordination_item_data(), "item_id": KEY}


def test_body_may_name_its_own_key_but_not_another():
    assert canonical(coordination_item_data(item_id=KEY))["item_id"] == KEY
    assert set(errors_of(coordination_item_data(item_id="C-9"))) == {"item_id"}


def test_resolved_item_with_resolution_and_date_is_accepted():
    data = canonical(coordination_item_data(**RESOLVED))
    assert data["status"] == "resolved"
    assert data["resolved_at"] == "2026-04-20"


def test_optional_fields_may_be_null_or_absent():
    body = coordination_item_data(meeting=None, notes=None, resolution=None, resolved_at=None)
    data = canonical(body)
    assert not OPTIONAL & set(data)
    assert data == canonical(without(coordination_item_data(), "meeting", "notes"))


# --- required fields and types -------------------------------------------------------------------


def test_empty_body_names_every_required_field():
    assert set(errors_of({})) == REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_missing_required_field_is_named(name):
    assert set(errors_of(without(coordination_item_data(), name))) == {name}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_field_sent_as_null_is_named(name):
    assert set(errors_of(coordination_item_data(**{name: None}))) == {name}


def test_unknown_field_is_refused_by_name():
    assert set(errors_of(coordination_item_data(priority="high"))) == {"priority"}


@pytest.mark.parametrize("value", ["land", "funding", "permit", "talent", "other"])
def test_every_factor_is_accepted(value):
    assert canonical(coordination_item_data(factor=value))["factor"] == value


@pytest.mark.parametrize("value", ["open", "in_progress", "escalated"])
def test_every_unresolved_status_is_accepted_without_a_resolution(value):
    assert canonical(coordination_item_data(status=value))["status"] == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("factor", "money"),
        ("factor", "Land"),
        ("status", "closed"),
        ("status", "RESOLVED"),
        ("title", ""),
        ("title", "x" * 201),
        ("title", 12),
        ("meeting", ""),
        ("raised_at", "2026/03/12"),
        ("raised_at", "20260312"),
        ("due_date", "2026-02-30"),
        ("resolved_at", "yesterday"),
        ("project_code", "2513-330102-04-01-7K3Q9B"),
    ],
)
def test_bad_values_are_refused_naming_the_field(name, value):
    assert set(errors_of(coordination_item_data(**{name: value}))) == {name}


def test_enum_message_lists_the_allowed_values():
    message = errors_of(coordination_item_data(factor="money"))["factor"][0]
    assert "land, funding, permit, talent, other" in message


def test_title_of_200_characters_is_accepted():
    assert canonical(coordination_item_data(title="问" * 200))["title"] == "问" * 200


# --- departments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["NDRC", "发改委", "n", "1ndrc", "ndrc ", "nd.rc", "", 7, ["ndrc"]]
)
def test_raised_by_must_be_a_department_id(value):
    assert set(errors_of(coordination_item_data(raised_by=value))) == {"raised_by"}


def test_assigned_to_needs_at_least_one_department():
    assert set(errors_of(coordination_item_data(assigned_to=[]))) == {"assigned_to"}


@pytest.mark.parametrize("value", ["finance", {"finance": True}, 3])
def test_assigned_to_must_be_a_list(value):
    assert set(errors_of(coordination_item_data(assigned_to=value))) == {"assigned_to"}


def test_assigned_to_names_each_bad_element():
    errors = errors_of(coordination_item_data(assigned_to=["finance", "Land Bureau", None]))
    assert set(errors) == {"assigned_to"}
    assert set(errors["assigned_to"]) == {1, 2}


def test_assigned_to_names_each_department_once():
    errors = errors_of(coordination_item_data(assigned_to=["finance", "land", "finance"]))
    assert set(errors) == {"assigned_to"}
    assert "finance" in errors["assigned_to"][0]


def test_one_department_may_both_raise_and_be_assigned():
    data = canonical(coordination_item_data(raised_by="land", assigned_to=["land"]))
    assert data["assigned_to"] == ["land"]


def test_the_type_names_its_department_fields_for_the_hub():
    record_type = registry()["coordination_item"]
    assert record_type.department_fields == ("raised_by", "assigned_to")
    data = canonical(coordination_item_data(raised_by="ndrc", assigned_to=["finance", "land"]))
    assert record_type.department_ids(data) == {
        "raised_by": ["ndrc"],
        "assigned_to": ["finance", "land"],
    }


def test_types_without_department_fields_name_none():
    for name in ("project", "land_parcel", "funding", "permit", "progress_report"):
        record_type = registry()[name]
        assert record_type.department_fields == ()
        assert record_type.department_ids({"raised_by": "ndrc"}) == {}


def test_department_fields_must_be_fields_of_the_schema():
    class Tiny(RecordSchema):
        owner = ma.fields.String()

    with pytest.raises(ValueError, match="nope"):
        RecordType("tiny", "owner", Tiny, "tiny", department_fields=("owner", "nope"))


# --- cross-field rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["resolution", "resolved_at"])
def test_resolved_item_needs_its_resolution_and_date(missing):
    body = coordination_item_data(**{**RESOLVED, missing: None})
    errors = errors_of(body)
    assert set(errors) == {missing}
    assert "resolved" in errors[missing][0]


def test_resolved_item_without_either_names_both():
    assert set(errors_of(coordination_item_data(status="resolved"))) == {
        "resolution",
        "resolved_at",
    }


def test_resolved_item_needs_a_non_empty_resolution():
    assert set(errors_of(coordination_item_data(**{**RESOLVED, "resolution": ""}))) == {
        "resolution"
    }


@pytest.mark.parametrize(
    ("resolved_at", "accepted"),
    [("2026-03-11", False), ("2025-12-31", False), ("2026-03-12", True), ("2026-03-13", True)],
)
def test_resolved_at_is_not_before_raised_at(resolved_at, accepted):
    body = coordination_item_data(**{**RESOLVED, "resolved_at": resolved_at})
    if accepted:
        assert canonical(body)["resolved_at"] == resolved_at
    else:
        errors = errors_of(body)
        assert set(errors) == {"resolved_at"}
        assert "raised_at" in errors["resolved_at"][0]


def test_resolved_at_before_raised_at_is_refused_while_still_open():
    body = coordination_item_data(status="in_progress", resolved_at="2026-01-01")
    assert set(errors_of(body)) == {"resolved_at"}


def test_several_rules_broken_at_once_are_each_named():
    body = coordination_item_data(status="resolved", assigned_to=["land", "land"])
    assert set(errors_of(body)) == {"assigned_to", "resolution", "resolved_at"}


# --- the project's task force (专班) --------------------------------------------------------------


def project(**overrides: Any) -> dict[str, Any]:
    return registry()["project"].canonical(project_data(**overrides), PROJECT_CODE)


def project_errors(**overrides: Any) -> dict[str, Any]:
    with pytest.raises(ma.ValidationError) as caught:
        project(**overrides)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


TASK_FORCE = [
    {"name": "王立", "department": "ndrc", "role": "lead"},
    {"name": "陈华", "department": "land", "role": "member"},
    {"name": "李娜", "department": "approval", "role": "liaison"},
]


def test_task_force_is_stored_as_sent():
    assert project(task_force=TASK_FORCE)["task_force"] == TASK_FORCE


def test_task_force_is_optional_and_open():
    assert "task_force" not in project()
    assert "task_force" not in project(task_force=None)
    assert project(task_force=[])["task_force"] == []
    assert registry()["project"].sharing["task_force"] == "open"


@pytest.mark.parametrize(
    ("member", "field"),
    [
        ({"department": "ndrc", "role": "lead"}, "task_force.0.name"),
        ({"name": "", "department": "ndrc", "role": "lead"}, "task_force.0.name"),
        ({"name": "x" * 101, "department": "ndrc", "role": "lead"}, "task_force.0.name"),
        ({"name": "王立", "role": "lead"}, "task_force.0.department"),
        ({"name": "王立", "department": "发改委", "role": "lead"}, "task_force.0.department"),
        ({"name": "王立", "department": "NDRC", "role": "lead"}, "task_force.0.department"),
        ({"name": "王立", "department": "ndrc"}, "task_force.0.role"),
        ({"name": "王立", "department": "ndrc", "role": "chair"}, "task_force.0.role"),
        (
            {"name": "王立", "department": "ndrc", "role": "lead", "phone": "1"},
            "task_force.0.phone",
        ),
    ],
)
def test_task_force_member_fields_are_validated(member, field):
    errors = project_errors(task_force=[member])
    flat = {
        f"task_force.{index}.{name}"
        for index, fields in errors["task_force"].items()
        for name in fields
    }
    assert set(errors) == {"task_force"}
    assert flat == {field}


def test_task_force_name_of_100_characters_is_accepted():
    member = {"name": "名" * 100, "department": "ndrc", "role": "member"}
    assert project(task_force=[member])["task_force"] == [member]


def test_task_force_is_a_list():
    assert set(project_errors(task_force=TASK_FORCE[0])) == {"task_force"}
