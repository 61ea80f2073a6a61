"""Shared building blocks of record types: field types, sharing classes, the record-type descriptor.

A record type is one module in this package that defines a marshmallow schema and exposes a
module-level ``RECORD_TYPE``. The schema is strict (unknown fields are rejected) and its
``dump`` is the canonical stored form, so "unchanged content" is a plain ``==`` between dumps.
Each field declares its sharing class in its metadata: ``metadata={"sharing": "conditional"}``;
fields without one are ``open``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol

import marshmallow as ma
from marshmallow import fields, validate

if TYPE_CHECKING:
    from schemas.canonical import Plan
    from schemas.workdays import WorkCalendar

SharingClass = Literal["open", "conditional", "restricted"]
SHARING_CLASSES: tuple[SharingClass, ...] = ("open", "conditional", "restricted")

# Record keys are what the owning system calls a thing, and Chinese systems name things in
# Chinese: a fund's document number 杭财建〔2025〕12号. A key is 1-128 characters after NFC
# normalisation: letters, digits and marks (Unicode L, N, M) and the punctuation such numbers
# use; never "." or ".." alone (unreachable in a URL) nor "batch" (the batch endpoint).
KEY_PUNCTUATION = frozenset("-_.:()（）〔〕【】[]#")
RESERVED_KEYS = frozenset({".", "..", "batch"})
KEY_RULE = (
    "Must be 1-128 letters, digits or marks and - _ . : ( ) （ ） 〔 〕 【 】 [ ] #, "
    "not '.', '..' or 'batch'."
)
# the keys most systems send: checked without looking up each character
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")
ISO_DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# A number sent as a string must look like a JSON number: Decimal() would also take "1_000".
DECIMAL_TEXT_PATTERN = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")

# Province-level prefixes of the national administrative-division code (GB/T 2260).
PROVINCE_PREFIXES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34"}
    | {"35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52"}
    | {"53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
)
DIVISION_PATTERN = re.compile(r"^[0-9]{6}\Z")
# The id of a department on the hub, as an administrator creates it (``ndrc``, ``land``).
DEPARTMENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}\Z")
PROJECT_CODE_PATTERN = re.compile(
    r"^(?P<year>[0-9]{2})(?P<month>[0-9]{2})-(?P<division>[0-9]{6})-(?P<department>[0-9]{2})"
    r"-(?P<type>[0-9]{2})-(?P<serial>[0-9A-Z]{6})\Z"
)

# The same shapes as JSON Schema states them (ECMA 262 patterns), for the type's JSON Schema
# and the OpenAPI document: what the fields below check, the month and province included.
_PROVINCES = "|".join(sorted(PROVINCE_PREFIXES))
DIVISION_JSON_PATTERN = f"^({_PROVINCES})[0-9]{{4}}$"
PROJECT_CODE_JSON_PATTERN = (
    f"^[0-9]{{2}}(0[1-9]|1[0-2])-({_PROVINCES})[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}-[0-9A-Z]{{6}}$"
)
DEPARTMENT_ID_JSON_PATTERN = "^[a-z][a-z0-9_-]{1,63}$"

# Money is in units of 10,000 CNY. Six decimal places is one fen; keeping values below 10^9
# keeps every amount within 15 significant digits, so it round-trips exactly through a JSON
# number (IEEE double) and clients need not parse strings.
MONEY_PLACES = 6
MONEY_LIMIT = Decimal(10) ** 9


def division_code_errors(value: str) -> list[str]:
    """Return why ``value`` is not a plausible 6-digit administrative-division code."""
    if not DIVISION_PATTERN.match(value):
        return ["Must be a 6-digit administrative-division code."]
    if value[:2] not in PROVINCE_PREFIXES:
        return [f"'{value[:2]}' is not a province-level division prefix."]
    return []


# Every well-formed code at once (shape, month, province), so that a valid one costs one match.
_WELL_FORMED_PROJECT_CODE = re.compile(
    r"^[0-9]{2}(?:0[1-9]|1[0-2])-(?:"
    + "|".join(sorted(PROVINCE_PREFIXES))
    + r")[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9A-Z]{6}\Z"
)


def project_code_errors(value: str) -> list[str]:
    """Return why ``value`` is not a well-formed unified project code (shape, month, division)."""
    if _WELL_FORMED_PROJECT_CODE.match(value):
        return []
    match = PROJECT_CODE_PATTERN.match(value)
    if match is None:
        return [
            "Must be a unified project code shaped YYMM-AAAAAA-DD-TT-RRRRRC "
            "(digits and upper-case letters), e.g. 2503-330102-04-01-7K3Q9B."
        ]
    errors = []
    if not 1 <= int(match["month"]) <= 12:
        errors.append(f"Month '{match['month']}' of the issue date is not between 01 and 12.")
    errors.extend(division_code_errors(match["division"]))
    return errors


def normalize_key(key: str) -> str:
    """``key`` in NFC, the form keys are stored and compared in."""
    return key if key.isascii() else unicodedata.normalize("NFC", key)


def _declaring(kwargs: dict[str, Any], **json_schema: Any) -> dict[str, Any]:
    """A field's keyword arguments with ``json_schema`` in its metadata, which apispec copies
    into the field's JSON Schema (what the field's own metadata says wins)."""
    return {**kwargs, "metadata": {**json_schema, **(kwargs.get("metadata") or {})}}


def is_valid_key(key: str) -> bool:
    """Whether ``key`` (normalised) is a record key; see KEY_RULE."""
    if key in RESERVED_KEYS:
        return False
    if _PLAIN_KEY.match(key):
        return True
    return 1 <= len(key) <= 128 and all(
        char in KEY_PUNCTUATION or unicodedata.category(char)[0] in "LNM" for char in key
    )


class ProjectCode(fields.String):
    """A unified project code, validated for shape, month and division code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_declaring(kwargs, pattern=PROJECT_CODE_JSON_PATTERN))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs)
        errors = project_code_errors(code)
        if errors:
            raise ma.ValidationError(errors)
        return code


class DivisionCode(fields.String):
    """A 6-digit administrative-division code with a real province prefix."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_declaring(kwargs, pattern=DIVISION_JSON_PATTERN))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs)
        errors = division_code_errors(code)
        if errors:
            raise ma.ValidationError(errors)
        return code


class DepartmentId(fields.String):
    """The id of a department on the hub: lower-case letters, digits, ``_`` and ``-``.

    Only the shape is checked here; whether the department exists is the hub's check, for the
    fields a record type names in ``RecordType.department_fields``.
    """

    default_error_messages = {
        "department": "Must be a department id: a lower-case letter, then 1 to 63 lower-case "
        "letters, digits, '_' or '-'."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_declaring(kwargs, pattern=DEPARTMENT_ID_JSON_PATTERN))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        department = super()._deserialize(value, attr, data, **kwargs)
        if not DEPARTMENT_ID_PATTERN.match(department):
            raise self.make_error("department")
        return department


class DecimalNumber(fields.Field):  # type: ignore[type-arg]
    """An exact decimal sent and stored as a JSON number, with bounded places and range.

    Values are kept within 15 significant digits, so they round-trip exactly through an
    IEEE double and clients need not parse strings.
    """

    default_error_messages = {
        "invalid": "Must be a number.",
        "places": "At most {places} decimal places.",
        "range": "Must be {low} and below {high}.",
    }

    def __init__(
        self, *, places: int, below: Decimal, positive: bool = False, **kwargs: Any
    ) -> None:
        # In JSON Schema: a number from the smallest step (or 0) to the largest one below
        # ``below``; the places themselves are said in words (multipleOf is unreliable on
        # binary floating point).
        step = Decimal(1).scaleb(-places)
        bounds = {"minimum": float(step if positive else 0), "maximum": float(below - step)}
        super().__init__(**_declaring(kwargs, type="number", **bounds))
        self.places = places
        self.below = below
        self.positive = positive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.make_error("invalid")
        if isinstance(value, str) and not DECIMAL_TEXT_PATTERN.match(value):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise self.make_error("invalid") from exc
        if not number.is_finite():
            raise self.make_error("invalid")
        too_low = number <= 0 if self.positive else number < 0
        if too_low or number >= self.below:
            low = "above 0" if self.positive else "at least 0"
            raise self.make_error("range", low=low, high=f"{self.below:,}")
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -self.places:
            raise self.make_error("places", places=self.places)
        return number

    def _serialize(
        self, value: Any, attr: str | None, obj: Any, **kwargs: Any
    ) -> int | float | None:
        if value is None:
            return None
        number = Decimal(str(value))
        return int(number) if number == number.to_integral_value() else float(number)


def Money(**kwargs: Any) -> DecimalNumber:  # noqa: N802 - reads as a field type
    """An amount in units of 10,000 CNY: >= 0, at most six decimal places (one fen)."""
    return DecimalNumber(places=MONEY_PLACES, below=MONEY_LIMIT, **kwargs)


class IsoDate(fields.Date):
    """A calendar date as ``YYYY-MM-DD``; the stored form is the same string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        # Python also parses 20250601 and 2025-W23-1; the contract is YYYY-MM-DD only.
        if not isinstance(value, str) or not ISO_DATE_PATTERN.match(value):
            raise self.make_error("invalid")
        result: date = super()._deserialize(value, attr, data, **kwargs)
        return result


class RecordSchema(ma.Schema):
    """Base of every record-type schema: strict, and optional fields may be sent as null."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _reject_computed_and_drop_nulls(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        computed = [name for name, f in self.fields.items() if f.dump_only and name in data]
        if computed:
            raise ma.ValidationError(
                {name: ["Computed by the hub; it cannot be set."] for name in computed}
            )
        return {
            name: value
            for name, value in data.items()
            if value is not None or (name in self.fields and self.fields[name].required)
        }

    @ma.post_dump
    def _omit_absent(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {name: value for name, value in data.items() if value is not None}


def one_of(choices: tuple[str, ...]) -> validate.OneOf:
    """An enum validator whose message lists the allowed values."""
    return validate.OneOf(choices, error="Must be one of: {choices}.")


def sharing(level: SharingClass) -> dict[str, Any]:
    """Field metadata declaring a sharing class, as in ``metadata=sharing("restricted")``."""
    return {"sharing": level}


def _unstorable_text(document: Any) -> dict[str, list[str]]:
    """Paths of strings holding NUL or lone surrogates, which no database should be sent."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{name}" if path else str(name), v) for name, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{n}", v) for n, v in enumerate(value))
        elif isinstance(value, str) and UNSTORABLE_TEXT.search(value):
            errors[path] = ["Text must not contain NUL characters or unpaired surrogates."]
    return errors


class ComputeFn(Protocol):
    """A type's computed fields of stored ``data`` as of ``today``.

    Working days are counted in ``calendar`` (the function's own default, the national
    calendar, when none is passed); the years it had to count Monday to Friday are added to
    ``unknown_years`` when a set is given.
    """

    def __call__(
        self,
        data: Mapping[str, Any],
        today: date,
        calendar: WorkCalendar = ...,
        *,
        unknown_years: set[int] | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RecordType:
    """Everything the hub knows about one record type.

    ``department_fields`` names the top-level fields whose values must be ids of existing
    departments (a coordination item's ``raised_by`` and ``assigned_to``). A schema cannot
    check that, having no database: the hub checks it on every write path, against the
    departments it knows, with :meth:`department_ids`. A field may hold one id or a list of
    ids (each element counts); absent and null fields name none.
    """

    name: str
    key_field: str
    schema: type[RecordSchema]
    description: str
    version: int = 1
    compute: ComputeFn | None = field(default=None, compare=False)
    department_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [name for name in self.department_fields if name not in self._schema.fields]
        if unknown:
            raise ValueError(f"department_fields of {self.name!r} are not fields: {unknown}")

    @cached_property
    def _schema(self) -> RecordSchema:
        return self.schema()

    @cached_property
    def _plan(self) -> Plan | None:
        from schemas.canonical import compile_plan  # it builds on this module

        return compile_plan(self._schema)

    @property
    def links_project(self) -> bool:
        """Whether records of this type carry a ``project_code`` naming a project."""
        return self.name != "project"

    @cached_property
    def sharing(self) -> dict[str, SharingClass]:
        """Sharing class of every field, ``open`` unless the schema says otherwise."""
        return {name: f.metadata.get("sharing", "open") for name, f in self._schema.fields.items()}

    @cached_property
    def _fields_by_class(self) -> dict[SharingClass, frozenset[str]]:
        return {
            level: frozenset(name for name, cls in self.sharing.items() if cls == level)
            for level in SHARING_CLASSES
        }

    def fields_of_class(self, level: SharingClass) -> frozenset[str]:
        """Names of the fields of one sharing class."""
        return self._fields_by_class[level]

    @cached_property
    def protected_fields(self) -> frozenset[str]:
        """The ``conditional`` and ``restricted`` fields: those not every reader sees."""
        return self.fields_of_class("conditional") | self.fields_of_class("restricted")

    def department_ids(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        """The department ids ``data`` names in each of ``department_fields``, in order.

        For the hub's existence check: every id listed must be an existing department, and a
        missing one is reported under its field (``{"assigned_to": ["fgw"]}`` → the error
        ``assigned_to``). Fields naming no department are left out.
        """
        named: dict[str, list[str]] = {}
        for name in self.department_fields:
            value = data.get(name)
            values = value if isinstance(value, list) else [value]
            ids = [item for item in values if isinstance(item, str)]
            if ids:
                named[name] = ids
        return named

    def canonical(self, data: Any, key: str) -> dict[str, Any]:
        """Validate a record body for ``key`` and return its canonical stored form.

        Raises ``marshmallow.ValidationError`` with messages keyed by field.
        """
        if not isinstance(data, Mapping):
            raise ma.ValidationError({"_schema": ["The record body must be a JSON object."]})
        body = dict(data)
        sent_key = body.get(self.key_field)
        if isinstance(sent_key, str):
            sent_key = normalize_key(sent_key)
        if sent_key is not None and sent_key != key:
            raise ma.ValidationError(
                {self.key_field: [f"Names '{sent_key}' but the record key is '{key}'."]}
            )
        body[self.key_field] = key
        plan = self._plan
        if plan is not None:
            # one pass for a plainly valid body; anything else is for load and dump to decide
            stored = plan.stored(body)
            if stored is not None:
                return stored
        return self.canonical_by_schema(body)

    def canonical_by_schema(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The stored form of ``body`` (its key in place) by the schema's ``load`` and
        ``dump``: what defines it, and what answers with the errors."""
        loaded = self._schema.load(body)
        dumped: dict[str, Any] = self._schema.dump(loaded)
        unstorable = _unstorable_text(dumped)
        if unstorable:
            raise ma.ValidationError(unstorable)
        return dumped

    def present(
        self,
        data: Mapping[str, Any],
        today: date,
        calendar: WorkCalendar | None = None,
        *,
        unknown_years: set[int] | None = None,
    ) -> dict[str, Any]:
        """Return stored data with the type's computed fields added, as of ``today``.

        Working days are counted in ``calendar`` (the national calendar without one); pass a
        set as ``unknown_years`` to collect the years it had to count Monday to Friday.
        """
        if self.compute is None:
            return dict(data)
        if calendar is None:
            return {**data, **self.compute(data, today, unknown_years=unknown_years)}
        return {**data, **self.compute(data, today, calendar, unknown_years=unknown_years)}
