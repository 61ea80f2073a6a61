"""A record body's canonical stored form: the compiled plan against the schema's load and dump.

``RecordType.canonical`` walks a plainly valid body once with its schema's compiled plan
(``schemas.canonical``) and leaves everything else to marshmallow's ``load`` and ``dump``,
which define the stored form. These tests hold the plan to that definition: for a broad
sample of bodies of every type, valid and not, the plan's stored JSON is byte for byte the
one load and dump give (key order and number types included), and every refusal is
marshmallow's own, field by field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields, validate

from hub.core.db import dump_stored_json
from schemas import RecordType, registry
from schemas.base import (
    DecimalNumber,
    DepartmentId,
    DivisionCode,
    IsoDate,
    ProjectCode,
    RecordSchema,
    project_code_errors,
)
from schemas.canonical import compile_plan
from schemas.progress_report import Period
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    coordination_item_data,
    funding_data,
    parcel_data,
    permit_data,
    progress_report_data,
    project_data,
)

# a valid body of each type, and its key
VALID: dict[str, tuple[dict[str, Any], str]] = {
    "project": (
        project_data(
            milestones=[
                {
                    "name": "开工",
                    "planned_date": "2025-06-01",
                    "status": "done",
                    "actual_date": "2025-06-03",
                    "kind": "construction_start",
                },
                {"name": "Topping out", "planned_date": "2027-03-01", "status": "pending"},
            ],
            task_force=[{"name": "Zhao Min", "department": "ndrc", "role": "lead"}],
            description="Line 3, 24 km, 18 stations",
        ),
        PROJECT_CODE,
    ),
    "land_parcel": (parcel_data(), "L-1"),
    "funding": (funding_data(), "F-1"),
    "permit": (permit_data(), "P-1"),
    "coordination_item": (coordination_item_data(), "C-1"),
    "progress_report": (progress_report_data(), f"{PROJECT_CODE}:2026-09"),
}
# values no field should take quietly
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["", " ", "\x00", "a\ud800b", "１２", "2025-02-30", "12.50", "1e3", "1_000"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def test_every_type_compiles_to_a_plan() -> None:
    assert set(VALID) == set(registry()), "a new type needs a valid body here"
    for record_type in registry().values():
        assert record_type._plan is not None, record_type.name


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_valid_body_takes_the_plan_and_stores_what_load_and_dump_store(name: str) -> None:
    record_type = registry()[name]
    body, key = VALID[name]
    plan = record_type._plan
    assert plan is not None

    stored = plan.stored({**body, record_type.key_field: key})

    assert stored is not None
    assert _stored_json(stored) == _stored_json(_by_schema(record_type, body, key))


@pytest.mark.parametrize("name", sorted(VALID))
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_body_is_stored_or_refused_as_load_and_dump_would(name: str, data: Any) -> None:
    record_type = registry()[name]
    valid, key = VALID[name]
    body = data.draw(_bodies(record_type.schema(), valid), label="body")
    if data.draw(st.booleans(), label="names its key"):
        body[record_type.key_field] = data.draw(st.sampled_from([key, key + "x", None, 7]))

    assert _outcome(lambda: record_type.canonical(body, key)) == _outcome(
        lambda: _by_schema(record_type, body, key)
    )


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.integers(min_value=-5, max_value=10**9 + 5),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=0, max_value=2e9).map(lambda x: round(x, 4)),
        st.decimals(min_value=0, max_value=10**9, places=7).map(float),
        st.sampled_from([0.1, 0.5, 12.0, 1e-05, 1e16, 999999999.999999, 1e9, -0.0, 0.0]),
    )
)
def test_decimal_numbers_are_stored_as_load_and_dump_store_them(value: Any) -> None:
    for number in (
        DecimalNumber(places=6, below=Decimal(10) ** 9),
        DecimalNumber(places=4, below=Decimal(10) ** 8, positive=True),
    ):
        schema = _one_field_schema(number)
        plan = compile_plan(schema)
        assert plan is not None
        stored = plan.stored({"n": value})
        expected = _outcome(lambda schema=schema: schema.dump(schema.load({"n": value})))
        if stored is None:  # the plan gives up on a number only when load refuses it
            assert expected[0] == "refused"
        else:
            assert ("ok", (_stored_json(stored), json.dumps(stored))) == expected


@settings(max_examples=500, deadline=None)
@given(
    code=st.one_of(
        st.from_regex(r"\A[0-9]{4}-[0-9]{6}-[0-9]{2}-[0-9]{2}-[0-9A-Z]{6}\Z"),
        st.from_regex(r"\A[0-9]{2}(0[1-9]|1[0-2])-(11|33|44|99|00)[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        st.text(max_size=30),
        st.sampled_from([PROJECT_CODE, OTHER_PROJECT_CODE, PROJECT_CODE + "\n"]),
    )
)
def test_a_project_code_is_well_formed_exactly_when_its_parts_are(code: str) -> None:
    # the one-match check of a well-formed code against the part-by-part one
    parts = _project_code_parts_errors(code)
    assert (project_code_errors(code) == []) == (parts == [])


def test_a_schema_with_a_hook_the_plan_does_not_know_takes_load_and_dump() -> None:
    class Hooked(RecordSchema):
        name = fields.String(required=True)

        @ma.post_load
        def _shout(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return {**data, "name": data["name"].upper()}

    class Keyed(RecordSchema):
        name = fields.String(required=True, data_key="Name")

    class Loose(RecordSchema):
        class Meta:
            unknown = ma.EXCLUDE

        name = fields.String(required=True)

    class Raw(RecordSchema):
        blob = fields.Raw()

    class Trimmed(fields.String):
        def deserialize(self, value: Any, *args: Any, **kwargs: Any) -> Any:
            return super().deserialize(value.strip(), *args, **kwargs)

    class OwnMachinery(RecordSchema):
        name = Trimmed(required=True)

    class Looked(RecordSchema):
        name = fields.String(required=True)

        def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
            return super().get_attribute(obj, attr, default)

    for schema in (Hooked(), Keyed(), Loose(), Raw(), OwnMachinery(), Looked()):
        assert compile_plan(schema) is None, type(schema).__name__


# --- helpers -----------------------------------------------------------------------------


def _by_schema(record_type: RecordType, body: Any, key: str) -> dict[str, Any]:
    """``canonical`` with no plan: load and dump only."""
    unplanned = dataclasses.replace(record_type)
    unplanned.__dict__["_plan"] = None  # a cached property, computed for this copy
    return unplanned.canonical(body, key)


def _outcome(run: Callable[[], dict[str, Any]]) -> tuple[str, Any]:
    """What ``run`` came to: the stored JSON (and its key order), or the errors."""
    try:
        stored = run()
    except ma.ValidationError as error:
        return "refused", error.messages
    return "ok", (_stored_json(stored), json.dumps(stored, ensure_ascii=False))


def _stored_json(document: dict[str, Any]) -> str:
    return dump_stored_json(document)


def _one_field_schema(field: fields.Field) -> RecordSchema:  # type: ignore[type-arg]
    schema_class = RecordSchema.from_dict({"n": field})
    return schema_class()  # type: ignore[return-value]


def _project_code_parts_errors(value: str) -> list[str]:
    from schemas.base import PROJECT_CODE_PATTERN, division_code_errors

    match = PROJECT_CODE_PATTERN.match(value)
    if match is None:
        return ["shape"]
    errors = [] if 1 <= int(match["month"]) <= 12 else ["month"]
    return errors + division_code_errors(match["division"])


def _bodies(schema: ma.Schema, valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies near ``valid``: some fields given other values (mostly plausible ones), some
    dropped or null, now and then a field the schema does not have or one it computes."""
    names = [name for name in schema.fields if name in schema.load_fields]
    computed = [name for name in schema.fields if name not in schema.load_fields]

    @st.composite
    def body(draw: Any) -> dict[str, Any]:
        result = dict(valid)
        for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            result[name] = draw(_values(schema.fields[name]), label=name)
        for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
            if draw(st.booleans()):
                result.pop(name, None)
            else:
                result[name] = None
        if draw(st.integers(0, 9)) == 0:
            result[draw(st.sampled_from(["extra", "Name", "project code"]))] = draw(ODD)
        if computed and draw(st.integers(0, 9)) == 0:
            result[computed[0]] = draw(st.booleans())
        if draw(st.booleans()):  # the order a client sends its fields in is its own
            items = list(result.items())
            result = dict(draw(st.permutations(items)))
        return result

    return body()


def _values(field: fields.Field) -> st.SearchStrategy[Any]:  # type: ignore[type-arg]
    """Values for ``field``: mostly ones it may take, some it refuses, some of any kind."""
    return st.one_of(_plausible(field), _plausible(field), ODD)


def _plausible(field: fields.Field) -> st.SearchStrategy[Any]:  # type: ignore[type-arg]
    if isinstance(field, fields.Nested):
        nested = field.schema
        valid = {
            name: value for name, value in _example(nested).items() if name in nested.load_fields
        }
        return _bodies(nested, valid)
    if isinstance(field, fields.List):
        return st.lists(_values(field.inner), max_size=3)
    if isinstance(field, ProjectCode):
        return st.sampled_from(
            [
                PROJECT_CODE,
                OTHER_PROJECT_CODE,
                "2513-330102-04-01-7K3Q9B",
                "2503-990102-04-01-7K3Q9B",
            ]
        )
    if isinstance(field, DivisionCode):
        return st.sampled_from(["330102", "110000", "990102", "33010", "３３０１０２"])
    if isinstance(field, DepartmentId):
        return st.sampled_from(["ndrc", "land", "finance", "a", "Land", "x" * 64, "n-1_2"])
    if isinstance(field, Period):
        return st.sampled_from(["2026-09", "2026-13", "1999-01", "2100-12", "2026-9"])
    if isinstance(field, IsoDate):
        return st.one_of(
            st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)).map(date.isoformat),
            st.sampled_from(["2025-02-29", "2024-02-29", "20250601", "2025-W23-1", "0000-01-01"]),
        )
    if isinstance(field, DecimalNumber):
        return st.one_of(
            st.integers(min_value=-2, max_value=10**9 + 2),
            st.floats(min_value=-1, max_value=2e9, allow_nan=False).map(lambda x: round(x, 5)),
            st.sampled_from([0, 0.0, 1e-07, 12.0, 1e16, math.inf, "12.50", "1e3", "-0"]),
        )
    if isinstance(field, fields.Integer):
        return st.one_of(
            st.integers(min_value=1990, max_value=2110),
            st.integers(min_value=-5, max_value=4000),
            st.sampled_from([2025.0, True, "2025"]),
        )
    if isinstance(field, fields.Boolean):
        return st.sampled_from([True, False, "true", 1, 0])
    if isinstance(field, fields.String):
        strings = [st.text(max_size=6), st.sampled_from(["", "x" * 201, "Metro\x00", "\ud800"])]
        for validator in field.validators:
            if isinstance(validator, validate.OneOf):
                strings.append(st.sampled_from(list(validator.choices)))
            if isinstance(validator, validate.Regexp):
                strings.append(st.from_regex(validator.regex, fullmatch=True))
            if isinstance(validator, validate.Length) and validator.max is not None:
                strings.append(st.text(min_size=validator.max - 1, max_size=validator.max + 1))
        return st.one_of(*strings)
    return ODD


def _example(schema: ma.Schema) -> dict[str, Any]:
    """A valid body of a nested schema, taken from the factories' bodies."""
    for body, _ in VALID.values():
        for value in body.values():
            candidates = value if isinstance(value, list) else [value]
            for candidate in candidates:
                if isinstance(candidate, dict) and set(candidate) <= set(schema.fields):
                    try:
                        schema.load(candidate)
                    except ma.ValidationError:
                        continue
                    return candidate
    return {}
