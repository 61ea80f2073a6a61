"""Opaque keyset-pagination cursors: what a page's last item was, encoded for the client."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import marshmallow as ma

from hub.errors import Unprocessable


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
