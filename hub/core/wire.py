"""Wire primitives every feature shares: date-times, page queries and opaque cursors.

A listing is a keyset page: ``?cursor=&limit=`` in, ``{"items", "next_cursor"}`` out. The
cursor is what the page's last item was, encoded so clients treat it as opaque; a cursor this
hub did not issue is a 422 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from hub.core.errors import Unprocessable
from hub.core.openapi import from_settings
from hub.core.pagination import MAX_ID


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 date-time with an offset, converted to UTC (422 if it cannot be)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from exc


# What not_blank enforces, as the OpenAPI document states it: a character besides white space.
NOT_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}


def not_blank(value: str) -> None:
    """Refuse text that is empty or white space only (declare ``NOT_BLANK`` beside it)."""
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _within_page_size(value: int) -> None:
    maximum = current_app.config["PAGE_SIZE_MAX"]
    if value > maximum:
        raise ma.ValidationError(f"At most {maximum}.")


class PageQuerySchema(ma.Schema):
    """Keyset pagination: an opaque cursor and a page size."""

    cursor = fields.String(metadata={"description": "next_cursor of the previous page."})
    limit = fields.Integer(
        validate=[validate.Range(min=1), _within_page_size],
        metadata={
            "description": "Page size (default PAGE_SIZE_DEFAULT, at most PAGE_SIZE_MAX).",
            **from_settings(maximum="PAGE_SIZE_MAX"),
        },
    )


class IdCursorSchema(ma.Schema):
    """The position inside a newest-first listing: the id of the last item listed."""

    i = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_ID))


def encode_cursor(position: dict[str, Any]) -> str:
    """Encode a page position as an opaque URL-safe string."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, schema: ma.Schema) -> dict[str, Any]:
    """Decode a cursor made by :func:`encode_cursor` and load it through ``schema``.

    Anything else, forged or corrupted, is a 422 naming ``cursor``.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position: dict[str, Any] = schema.load(json.loads(raw))
    except (binascii.Error, ValueError, RecursionError, ma.ValidationError) as exc:
        raise Unprocessable(
            "The cursor is not one this endpoint issued.",
            errors={"cursor": ["Not a valid cursor; pass next_cursor from a previous page."]},
        ) from exc
    return position


def page_limit(query: dict[str, Any]) -> int:
    """The page size a list query asked for, or the configured default."""
    limit: int = query.get("limit") or current_app.config["PAGE_SIZE_DEFAULT"]
    return limit


def before_id(query: dict[str, Any]) -> int | None:
    """The id a newest-first listing continues before, from the query's cursor (if any)."""
    cursor = query.get("cursor")
    return int(decode_cursor(cursor, IdCursorSchema())["i"]) if cursor else None


def id_cursor(next_before: int | None) -> str | None:
    """The cursor of the page after one that ended before ``next_before`` (None: no more)."""
    return encode_cursor({"i": next_before}) if next_before is not None else None
