"""Field mappings from a system's native rows to hub records, as configured in TOML.

A city adapts a connector to its own system by editing ``config/connectors/*.toml``: which
native field feeds which hub field, how to read it (text, decimal, amount with thousands
separators, integer, date), a scale for units (yuan → 10,000 CNY) and enum translations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("text", "decimal", "amount", "integer", "date", "boolean")


class MappingError(ValueError):
    """A native row that cannot be turned into a hub record; ``errors`` names the fields."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {name: list(messages) for name, messages in errors.items()}
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class FieldRule:
    """How one hub field is read from one native field."""

    target: str
    source: str
    kind: str = "text"
    scale: Decimal | None = None
    enum: Mapping[str, str] | None = None

    def read(self, row: Mapping[str, Any]) -> Any:
        """The hub value of this field in a native row (None when the row leaves it empty)."""
        value = row.get(self.source)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            return None
        if self.enum is not None:
            if str(value) not in self.enum:
                known = ", ".join(self.enum)
                raise ValueError(f"unknown value {value!r} of {self.source} (known: {known})")
            return self.enum[str(value)]
        return _CONVERTERS[self.kind](self, value)


def _text(rule: FieldRule, value: Any) -> str:
    return str(value)


def _decimal(rule: FieldRule, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{rule.source} is not a number: {value!r}")
    text = str(value).replace(",", "") if rule.kind == "amount" else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{rule.source} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{rule.source} is not a number: {value!r}")
    if rule.scale is not None:
        number *= rule.scale
    # normalize() drops trailing zeros the scale added; `+ 0` turns 1E+2 back into 100.
    return number.normalize() + 0


def _integer(rule: FieldRule, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{rule.source} is not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{rule.source} is not a whole number: {value!r}") from None
    if number != number.to_integral_value():
        raise ValueError(f"{rule.source} is not a whole number: {value!r}")
    return int(number)


def _date(rule: FieldRule, value: Any) -> str:
    """A date, from a date, a datetime (its own local date) or ISO text of either."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    try:
        if len(text) > 10:
            return dt.datetime.fromisoformat(text).date().isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{rule.source} is not a date: {value!r}") from None


def _boolean(rule: FieldRule, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{rule.source} is not true or false: {value!r}")


_CONVERTERS = {
    "text": _text,
    "decimal": _decimal,
    "amount": _decimal,
    "integer": _integer,
    "date": _date,
    "boolean": _boolean,
}


@dataclass(frozen=True)
class RecordMapping:
    """A native row → (hub key, hub data or None for a deletion)."""

    key: str
    fields: tuple[FieldRule, ...]
    deleted_field: str | None = None
    deleted_values: frozenset[Any] = field(default_factory=frozenset)

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The hub key of a native row."""
        value = row.get(self.key)
        if value is None or str(value).strip() == "":
            raise MappingError({self.key: ["missing: the row has no key"]})
        return str(value).strip()

    def is_deleted(self, row: Mapping[str, Any]) -> bool:
        """Whether the source marks the row as gone (withdrawn, cancelled, deleted)."""
        return self.deleted_field is not None and row.get(self.deleted_field) in self.deleted_values

    def data_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The hub record of a native row; MappingError names every field that failed."""
        data: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for rule in self.fields:
            try:
                data[rule.target] = rule.read(row)
            except ValueError as error:
                errors.setdefault(rule.target, []).append(str(error))
        if errors:
            raise MappingError(errors)
        return data


def build_mapping(config: Mapping[str, Any]) -> RecordMapping:
    """A RecordMapping from a validated ``[mapping]`` table (see connectors.config)."""
    rules = []
    for target, spec in config["fields"].items():
        if isinstance(spec, str):
            spec = {"from": spec}
        scale = spec.get("scale")
        rules.append(
            FieldRule(
                target=target,
                source=spec["from"],
                kind=spec.get("as", "text"),
                scale=Decimal(str(scale)) if scale is not None else None,
                enum=spec.get("enum"),
            )
        )
    deleted = config.get("deleted_when") or {}
    return RecordMapping(
        key=config["key"],
        fields=tuple(rules),
        deleted_field=deleted.get("field"),
        deleted_values=frozenset(deleted.get("equals", ())),
    )
