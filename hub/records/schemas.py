"""How records look on the wire: query, body and response schemas, and the envelope."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from hub.core.calendar import work_calendar
from hub.core.openapi import from_settings
from hub.core.pagination import MAX_ID
from hub.core.wire import PageQuerySchema, UtcDateTime
from hub.records.models import Record, RecordState, RecordVersion
from hub.sharing.policy import ReaderView
from schemas import RecordType, registry
from schemas.base import KEY_RULE
from schemas.workdays import WorkCalendar

CALENDAR_WARNINGS_DESCRIPTION = (
    "Only when a working-day figure of this record (a permit's overdue) was counted in a year "
    "whose holiday calendar the hub does not know: one message per such year, which was "
    "counted Monday to Friday."
)


class ListCursorSchema(ma.Schema):
    """The position inside a record listing: the last record's ``updated_at`` and id."""

    u = UtcDateTime(required=True)
    i = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))


class HistoryCursorSchema(ma.Schema):
    """The position inside a history: the last version listed."""

    v = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))


class ListQuerySchema(PageQuerySchema):
    """Filters of a record listing."""

    project_code = fields.String(validate=validate.Length(max=24))
    updated_since = UtcDateTime(metadata={"description": "ISO 8601 with offset."})
    include_deleted = fields.Boolean(load_default=False)


class RecordOutSchema(ma.Schema):
    """A record: its envelope, the data this reader may see, and what was withheld."""

    type = fields.String()
    key = fields.String()
    version = fields.Integer()
    project_code = fields.String()
    data = fields.Dict()
    published_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    deleted = fields.Boolean()
    withheld = fields.List(fields.String(), metadata={"description": "Fields not shown to you."})
    calendar_warnings = fields.List(
        fields.String(), metadata={"description": CALENDAR_WARNINGS_DESCRIPTION}
    )


class RecordPageSchema(ma.Schema):
    """A page of records."""

    items = fields.List(fields.Nested(RecordOutSchema))
    next_cursor = fields.String(allow_none=True)


class VersionOutSchema(ma.Schema):
    """One version of a record in its history."""

    type = fields.String()
    key = fields.String()
    version = fields.Integer()
    project_code = fields.String()
    operation = fields.String()
    changed_fields = fields.List(fields.String())
    data = fields.Dict()
    published_by = fields.String()
    created_at = fields.AwareDateTime()
    deleted = fields.Boolean()
    withheld = fields.List(fields.String())
    calendar_warnings = fields.List(
        fields.String(), metadata={"description": CALENDAR_WARNINGS_DESCRIPTION}
    )


class HistoryPageSchema(ma.Schema):
    """A page of versions, newest first."""

    items = fields.List(fields.Nested(VersionOutSchema))
    next_cursor = fields.String(allow_none=True)


def _batch_key() -> fields.String:
    return fields.String(
        required=True, metadata={"description": KEY_RULE, "minLength": 1, "maxLength": 128}
    )


def _if_match() -> fields.String:
    return fields.String(metadata={"description": "Expected current version, as If-Match."})


class BatchItemSchema(ma.Schema):
    """One record of a batch publish: its data, or ``deleted`` (the document describes an
    item as one of BatchPut and BatchDelete, each type's own)."""

    key = _batch_key()
    data = fields.Dict(metadata={"description": "The record; required unless `deleted`."})
    deleted = fields.Boolean(
        load_default=False,
        metadata={"description": "Tombstone the record instead, as DELETE would; omit `data`."},
    )
    if_match = _if_match()

    @ma.validates_schema
    def _data_or_deleted(self, item: dict[str, Any], **kwargs: Any) -> None:
        if item["deleted"] and "data" in item:
            raise ma.ValidationError("Send either data or deleted, not both.", "data")
        if not item["deleted"] and "data" not in item:
            raise ma.ValidationError("Missing data for required field.", "data")


class BatchPutSchema(ma.Schema):
    """A batch item that creates or replaces a record, as PUT would."""

    key = _batch_key()
    data = fields.Dict(required=True, metadata={"description": "The record."})
    deleted = fields.Boolean(metadata={"enum": [False]})
    if_match = _if_match()


class BatchDeleteSchema(ma.Schema):
    """A batch item that tombstones a record, as DELETE would."""

    key = _batch_key()
    deleted = fields.Boolean(required=True, metadata={"enum": [True]})
    if_match = _if_match()


class BatchInSchema(ma.Schema):
    """A batch publish request."""

    records = fields.List(
        fields.Nested(BatchItemSchema),
        required=True,
        validate=validate.Length(min=1, error="Send at least one record."),
        metadata={
            "description": "At least one record, at most BATCH_MAX_RECORDS.",
            **from_settings(maxItems="BATCH_MAX_RECORDS"),
        },
    )

    @ma.validates("records")
    def _within_batch_size(self, value: list[Any], **kwargs: Any) -> None:
        maximum = current_app.config["BATCH_MAX_RECORDS"]
        if len(value) > maximum:
            raise ma.ValidationError(f"At most {maximum} records per batch; split it.")


class BatchResultSchema(ma.Schema):
    """The outcome of one batch item."""

    key = fields.String()
    status = fields.Integer()
    outcome = fields.String(
        metadata={"description": "created, updated, deleted or unchanged (no new version)."}
    )
    version = fields.Integer()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    detail = fields.String()


class BatchOutSchema(ma.Schema):
    """Batch outcomes, in request order."""

    results = fields.List(fields.Nested(BatchResultSchema))


class DossierSchema(ma.Schema):
    """Everything the caller may see about one project."""

    project = fields.Nested(RecordOutSchema)
    records = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Nested(RecordOutSchema)),
        metadata={"description": "Linked live records by type."},
    )


class TypeOutSchema(ma.Schema):
    """A record type in the registry."""

    name = fields.String()
    description = fields.String()
    key_field = fields.String()
    version = fields.Integer()
    fields_ = fields.Dict(data_key="fields", metadata={"description": "Field -> sharing class."})
    json_schema = fields.Dict()


class TypeListSchema(ma.Schema):
    """The record-type registry."""

    items = fields.List(fields.Nested(TypeOutSchema))


def shown_data(
    record_type: RecordType,
    key: str,
    data: Mapping[str, Any],
    reader: ReaderView,
    today: date,
    calendar: WorkCalendar | None = None,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Stored ``data`` with its computed fields as of ``today`` in ``calendar`` (the app's by
    default), filtered for ``reader``: the data shown, the fields withheld, and the calendar
    warnings of the working days it counted in years the calendar does not know."""
    if record_type.compute is None:
        shown, withheld = reader.visible(record_type, key, data)
        return shown, withheld, []
    calendar = calendar or work_calendar()
    guessed: set[int] = set()
    presented = record_type.present(data, today, calendar, unknown_years=guessed)
    shown, withheld = reader.visible(record_type, key, presented)
    return shown, withheld, calendar.warnings(guessed, today) if guessed else []


def envelope(
    record: Record | RecordState,
    reader: ReaderView,
    today: date,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """A record's envelope with its data filtered for ``reader``; working days are counted in
    ``calendar`` (the app's by default)."""
    record_type = registry()[record.type]
    data, withheld, warnings = shown_data(
        record_type, record.key, record.data, reader, today, calendar
    )
    shown = {
        "type": record.type,
        "key": record.key,
        "version": record.version,
        "project_code": record.project_code,
        "data": data,
        "published_by": record.published_by,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "deleted": record.deleted,
        "withheld": withheld,
    }
    if warnings:
        shown["calendar_warnings"] = warnings
    return shown


def version_envelope(
    record: Record,
    version: RecordVersion,
    reader: ReaderView,
    today: date,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """One historical version, its data filtered for ``reader``."""
    record_type = registry()[record.type]
    data, withheld, warnings = shown_data(
        record_type, record.key, version.data, reader, today, calendar
    )
    shown = {
        "type": record.type,
        "key": record.key,
        "version": version.version,
        "project_code": version.project_code,
        "operation": version.operation,
        "changed_fields": reader.visible_names(record_type, version.changed_fields),
        "data": data,
        "published_by": version.published_by,
        "created_at": version.created_at,
        "deleted": version.deleted,
        "withheld": withheld,
    }
    if warnings:
        shown["calendar_warnings"] = warnings
    return shown
