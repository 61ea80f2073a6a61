"""Opaque keyset-pagination cursors: what a page's last item was, encoded for the client."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.errors import Unprocessable

T = TypeVar("T")
# the largest id a BIGINT column holds
MAX_ID = 2**63 - 1


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
        raise _bad_cursor() from exc
    return position


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        "The cursor is not one this endpoint issued.",
        errors={"cursor": ["Not a valid cursor; pass next_cursor from a previous page."]},
    )


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


def newest_first(
    session: Session,
    query: Select[T],
    id_column: InstrumentedAttribute[int],
    limit: int,
    before: int | None,
) -> tuple[list[T], int | None]:
    """One page of ``query``'s rows by descending id, and the id the next page starts before."""
    if before is not None:
        query = query.where(id_column < before)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    next_before: int = getattr(rows[limit - 1], id_column.key)
    return rows[:limit], next_before
