"""A record body's canonical stored form in one pass, for bodies that are plainly valid.

What a type accepts and stores is defined by its marshmallow schema: ``load`` validates
(strict fields, each field's validators, the cross-field rules), ``dump`` of what it loaded
is the stored form (``RecordType.canonical``). Both walk the body through marshmallow's
general machinery, about 70 µs for a land parcel: most of a batch's time in Python.

A :class:`Plan` is compiled once per schema from the same field objects, validators and
``validates_schema`` rules. It walks a body once, calling each field's own ``_deserialize``
and validators and each rule, and builds the loaded values (which the rules check) and the
stored form together; only marshmallow's bookkeeping is left out. It gives up (raises
:class:`GiveUp`) on anything that is not plainly valid: a missing required field, an unknown
or computed field, a required null, a value a field or rule refuses, text no database should
store. The caller then runs ``load`` and ``dump``, which answer with marshmallow's errors,
so the plan only has to be right about the bodies it accepts: for those its stored form is
the one ``dump(load(body))`` gives, key order and number types included (a test compares
them on a broad sample of bodies of every type).

A schema using anything the plan was not written for (another hook, field kind or option)
compiles to no plan, and its type always takes ``load`` and ``dump``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, missing
from marshmallow.decorators import (
    POST_DUMP,
    POST_LOAD,
    PRE_DUMP,
    PRE_LOAD,
    VALIDATES,
    VALIDATES_SCHEMA,
)

from schemas.base import UNSTORABLE_TEXT, DecimalNumber, RecordSchema

# The field kinds a plan converts: scalars, whose stored value is the field's own
# ``_serialize`` of what its ``_deserialize`` loaded (subclasses included: the plan calls
# their methods). Lists and nested schemas are walked by the plan itself.
_SCALARS = (fields.String, fields.Date, fields.Integer, fields.Float, fields.Boolean, DecimalNumber)
_ABSENT = object()

# raw value -> (loaded value, stored value)
Convert = Callable[[Any], tuple[Any, Any]]


class GiveUp(Exception):
    """The plan cannot vouch for this body; ``load`` and ``dump`` must decide."""


_unstorable = UNSTORABLE_TEXT.search


def _storable(value: Any) -> Any:
    """``value``, unless it is text no database should be sent (then ``canonical`` refuses
    it: load and dump must say so)."""
    if type(value) is str and _unstorable(value):
        raise GiveUp
    return value


# marshmallow's machinery around ``_deserialize`` and ``_serialize``, which a plan leaves out:
# a field class that changes any of it needs load and dump
_FIELD_MACHINERY = ("deserialize", "serialize", "_validate", "_validate_missing", "get_value")


def _plain_field(field: fields.Field) -> bool:  # type: ignore[type-arg]
    """Whether ``field`` loads and dumps under its own name with no extra processing."""
    return (
        all(getattr(type(field), name) is getattr(fields.Field, name) for name in _FIELD_MACHINERY)
        and field.data_key is None
        and field.attribute is None
        and not field.load_only
        and not field.dump_only
        and field.load_default is missing
        and field.dump_default is missing
        and not getattr(field, "pre_load", None)
        and not getattr(field, "post_load", None)
    )


def _converter(name: str, field: fields.Field) -> Convert | None:  # type: ignore[type-arg]
    """How a plan converts ``field``'s value, or None if it cannot."""
    if not _plain_field(field):
        return None
    validators = tuple(field.validators)
    if isinstance(field, fields.Nested):
        nested = field.schema
        if (
            type(field) is not fields.Nested
            or field.many
            or field.unknown not in (None, ma.RAISE)
            or not isinstance(nested, ma.Schema)
        ):
            return None
        plan = compile_plan(nested)
        if plan is None:
            return None

        def convert_nested(value: Any) -> tuple[Any, Any]:
            if type(value) is not dict:
                raise GiveUp
            loaded, stored = plan.run(value)
            for validator in validators:
                validator(loaded)
            return loaded, stored

        return convert_nested
    if isinstance(field, fields.List):
        inner = _converter(name, field.inner) if type(field) is fields.List else None
        if inner is None:
            return None
        item = inner

        def convert_list(value: Any) -> tuple[Any, Any]:
            if type(value) is not list:
                raise GiveUp
            loaded, stored = [], []
            for each in value:
                if each is None:  # refused, or kept as a null marshmallow would store
                    raise GiveUp
                loaded_item, stored_item = item(each)
                loaded.append(loaded_item)
                stored.append(stored_item)
            for validator in validators:
                validator(loaded)
            return loaded, stored

        return convert_list
    if type(field) is fields.String:
        # String's _deserialize and _serialize of a str are the str itself

        def convert_string(value: Any) -> tuple[Any, Any]:
            if type(value) is not str or _unstorable(value):
                raise GiveUp
            for validator in validators:
                validator(value)
            return value, value

        return convert_string
    if isinstance(field, _SCALARS):
        scalar: Any = field
        deserialize, serialize = scalar._deserialize, scalar._serialize

        def convert_scalar(value: Any) -> tuple[Any, Any]:
            loaded = deserialize(value, name, None)
            for validator in validators:
                validator(loaded)
            return loaded, _storable(serialize(loaded, name, None))

        if type(field) is DecimalNumber:
            return _decimal_converter(field, validators, convert_scalar)
        return convert_scalar
    return None


def _decimal_converter(
    field: DecimalNumber, validators: tuple[Any, ...], otherwise: Convert
) -> Convert:
    """A :class:`DecimalNumber`'s conversion of the JSON numbers clients send, as its
    ``_deserialize`` and ``_serialize`` would do it: the number as a Decimal (its text is
    ``str(value)``, exactly), stored as an int when integral and as the float sent
    otherwise (``float(Decimal(repr(x))) == x``). Anything else takes ``otherwise``."""
    places, below, positive = field.places, field.below, field.positive

    def in_range(number: Decimal | int) -> bool:
        return (number > 0 if positive else number >= 0) and number < below

    def convert_decimal(value: Any) -> tuple[Any, Any]:
        kind = type(value)
        if kind is int:
            if not in_range(value):  # an int has no decimal places
                raise GiveUp
            loaded: Decimal = Decimal(value)
            stored: int | float = value
        elif kind is float:
            text = repr(value)  # str() of a float, which _deserialize parses
            whole, point, fraction = text.partition(".")
            if not point or not whole.isdigit() or not fraction.isdigit():
                return otherwise(value)  # an exponent, a sign, inf or nan
            loaded = Decimal(text)
            if not in_range(loaded):
                raise GiveUp
            if fraction == "0":  # integral: repr writes no other trailing zero
                stored = int(loaded)
            elif len(fraction) > places:
                raise GiveUp
            else:
                stored = value
        else:
            return otherwise(value)
        for validator in validators:
            validator(loaded)
        return loaded, stored

    return convert_decimal


def _hook_names(schema: ma.Schema, kind: str) -> list[str]:
    return [name for name, _, _ in schema._hooks[kind]]


def _rules(schema: ma.Schema) -> list[Callable[..., Any]] | None:
    """The schema's ``validates_schema`` rules in the order load runs them, or None if one
    needs what the plan does not give (the original data)."""
    hooks = schema._hooks[VALIDATES_SCHEMA]
    if any(options.get("pass_original") for _, _, options in hooks):
        return None
    # load runs the rules that take the collection first, then the others
    ordered = [h for h in hooks if h[1]] + [h for h in hooks if not h[1]]
    return [getattr(schema, name) for name, _, _ in ordered]


class Plan:
    """One schema's compiled walk: :meth:`run` a body to its loaded and stored forms."""

    def __init__(
        self,
        converters: Sequence[tuple[str, bool, Convert]],
        rules: Sequence[Callable[..., Any]],
        unknown: str,
    ) -> None:
        self._converters = tuple(converters)
        self._rules = tuple(rules)
        self._unknown = unknown

    def stored(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """``data``'s stored form, or None when ``load`` and ``dump`` must decide."""
        try:
            return self.run(data)[1]
        except (GiveUp, ma.ValidationError):
            return None

    def run(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``data`` loaded and stored, as ``load`` and ``dump`` would give them; raises
        :class:`GiveUp` or ``ValidationError`` when they must decide."""
        loaded: dict[str, Any] = {}
        stored: dict[str, Any] = {}
        seen = 0
        for name, required, convert in self._converters:
            value = data.get(name, _ABSENT)
            if value is _ABSENT:
                if required:
                    raise GiveUp
                continue
            seen += 1
            if value is None:
                if required:
                    raise GiveUp
                continue  # an optional null is dropped before load (RecordSchema)
            loaded_value, stored_value = convert(value)
            loaded[name] = loaded_value
            if stored_value is not None:  # dump omits nulls (RecordSchema)
                stored[name] = stored_value
        if seen != len(data):
            raise GiveUp  # names no field loads: unknown, or computed by the hub
        for rule in self._rules:
            rule(loaded, partial=None, many=False, unknown=self._unknown)
        return loaded, stored


def compile_plan(schema: ma.Schema) -> Plan | None:
    """The plan of a :class:`RecordSchema` instance, or None if it needs load and dump."""
    if not isinstance(schema, RecordSchema):
        return None
    cls = type(schema)
    if (
        cls.get_attribute is not ma.Schema.get_attribute
        or schema.many
        or schema.partial
        or schema.unknown != ma.RAISE
        or schema.only
        or schema.exclude
        or schema.load_only
        or schema.dump_only
        or schema.dict_class is not dict
    ):
        return None
    # the hooks must be RecordSchema's own: drop nulls (and refuse computed fields) before
    # load, omit nulls after dump
    if (
        _hook_names(schema, PRE_LOAD) != ["_reject_computed_and_drop_nulls"]
        or _hook_names(schema, POST_DUMP) != ["_omit_absent"]
        or cls._reject_computed_and_drop_nulls is not RecordSchema._reject_computed_and_drop_nulls
        or cls._omit_absent is not RecordSchema._omit_absent
        or schema._hooks[PRE_DUMP]
        or schema._hooks[POST_LOAD]
        or schema._hooks[VALIDATES]
    ):
        return None
    # dump writes in the order of the schema's fields, which is also load's order; what
    # only dump knows (computed fields) it writes only when the loaded data holds it
    if list(schema.load_fields) != [name for name in schema.fields if name in schema.load_fields]:
        return None
    if any(field.dump_default is not missing for field in schema.dump_fields.values()):
        return None
    converters = []
    for name, field in schema.load_fields.items():
        convert = _converter(name, field)
        if convert is None or "." in name:
            return None
        converters.append((name, field.required, convert))
    rules = _rules(schema)
    if rules is None:
        return None
    return Plan(converters, rules, schema.unknown)
