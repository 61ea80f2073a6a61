"""Each record type's own wire schemas, for its own documented paths.

The records API is one set of views for every type, but the OpenAPI document describes each
type at paths of its own (``/records/permit/{key}``...), with the type's fields in the bodies
and responses, so that a client generator writes typed methods. The schemas here are derived
from the type's marshmallow schema (``schemas/``): they only describe; the type's schema
itself validates what is published.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

import marshmallow as ma
from marshmallow import fields

from hub.core.openapi import one_of
from hub.records.schemas import (
    BatchDeleteSchema,
    BatchInSchema,
    BatchPutSchema,
    HistoryPageSchema,
    RecordOutSchema,
    RecordPageSchema,
    VersionOutSchema,
)
from schemas import RecordType


@dataclass(frozen=True)
class TypedSchemas:
    """The schemas of one record type's paths."""

    data: type[ma.Schema]
    patch: type[ma.Schema]
    record: type[ma.Schema]
    page: type[ma.Schema]
    history: type[ma.Schema]
    batch: type[ma.Schema]


def camel(name: str) -> str:
    """``land_parcel`` as ``LandParcel``."""
    return "".join(part.capitalize() for part in name.split("_"))


def _subclass(name: str, base: type[ma.Schema], attributes: dict[str, object]) -> type[ma.Schema]:
    made: type[ma.Schema] = type(name, (base,), {"__doc__": base.__doc__, **attributes})
    return made


@cache
def typed_schemas(record_type: RecordType) -> TypedSchemas:
    """The wire schemas of ``record_type``'s paths (made once per type)."""
    prefix = camel(record_type.name)
    # PUT's body: the type's fields; its key field may be left out, the URL names the key
    key_field = copy.copy(record_type.schema._declared_fields[record_type.key_field])
    key_field.required = False
    data = _subclass(f"{prefix}DataSchema", record_type.schema, {record_type.key_field: key_field})
    patch = _subclass(f"{prefix}PatchSchema", record_type.schema, {})
    # what a reader is shown: any field may be withheld, so none is required
    shown = fields.Nested(
        _subclass(f"{prefix}ShownSchema", record_type.schema, {})(partial=True),
        metadata={"description": "The fields you may see; `withheld` names the others."},
    )
    record = _subclass(f"{prefix}RecordOutSchema", RecordOutSchema, {"data": shown})
    page = _subclass(
        f"{prefix}RecordPageSchema", RecordPageSchema, {"items": fields.List(fields.Nested(record))}
    )
    version = _subclass(f"{prefix}VersionOutSchema", VersionOutSchema, {"data": shown})
    history = _subclass(
        f"{prefix}HistoryPageSchema",
        HistoryPageSchema,
        {"items": fields.List(fields.Nested(version))},
    )
    # an item publishes the type's data, or tombstones: one of two shapes
    put = _subclass(
        f"{prefix}BatchPutSchema",
        BatchPutSchema,
        {"data": fields.Nested(data, required=True, metadata={"description": "The record."})},
    )
    records = copy.copy(BatchInSchema._declared_fields["records"])
    records.inner = fields.Raw(metadata=one_of(put, BatchDeleteSchema))  # type: ignore[attr-defined]
    batch = _subclass(f"{prefix}BatchInSchema", BatchInSchema, {"records": records})
    return TypedSchemas(
        data=data, patch=patch, record=record, page=page, history=history, batch=batch
    )
