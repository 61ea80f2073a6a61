"""How departments and access keys look on the wire; secrets and digests never do, but once."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.auth import service as auth
from hub.auth.models import AccessKey
from hub.core.db import utcnow
from hub.core.openapi import schema_keywords
from hub.core.wire import UtcDateTime
from schemas import registry

MAX_GRACE_SECONDS = auth.MAX_GRACE_SECONDS
_TYPE_NAME = fields.String(
    validate=validate.Length(min=1, max=64), metadata={"enum": sorted(registry())}
)
DEPARTMENT_ID_RULE = "Lower-case letters, digits, '_' or '-', starting with a letter."
# an existing department's id, named in a body
_DEPARTMENT = fields.String(
    required=True,
    validate=validate.Length(min=1, max=64),
    metadata={"pattern": auth.DEPARTMENT_ID_PATTERN.pattern, "description": "A department id."},
)


class DepartmentInSchema(ma.Schema):
    """A department to register."""

    id = fields.String(
        required=True,
        metadata={"description": DEPARTMENT_ID_RULE, "pattern": auth.DEPARTMENT_ID_PATTERN.pattern},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    publishes = fields.List(
        _TYPE_NAME,
        load_default=list,
        metadata={"description": "The record types it may publish."},
    )


@schema_keywords(minProperties=1)
class DepartmentPatchSchema(ma.Schema):
    """Changes to a department; each applies from the department's next request."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    publishes = fields.List(
        _TYPE_NAME, metadata={"description": "Replaces the record types it may publish."}
    )
    disabled = fields.Boolean(
        metadata={"description": "true refuses its keys and tokens; false restores them."}
    )

    @ma.validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Send at least one of name, publishes or disabled.")


class DepartmentOutSchema(ma.Schema):
    """A department."""

    id = fields.String()
    name = fields.String()
    publishes = fields.List(fields.String())
    disabled = fields.Function(
        lambda department: department.disabled_at is not None, metadata={"type": "boolean"}
    )
    disabled_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class DepartmentListSchema(ma.Schema):
    """Every department, by id."""

    items = fields.List(fields.Nested(DepartmentOutSchema))


class KeyInSchema(ma.Schema):
    """An access key to create."""

    department = _DEPARTMENT
    scopes = fields.List(
        fields.String(validate=validate.OneOf(auth.SCOPES)),
        required=True,
        validate=validate.Length(min=1),
    )
    name = fields.String(load_default="", validate=validate.Length(max=200))
    expires_at = UtcDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "ISO 8601 with offset, in the future; null: never."},
    )


class KeyListQuerySchema(ma.Schema):
    """Narrow the key listing to one department."""

    department = fields.String(validate=validate.Length(min=1, max=64))


class KeyRotateSchema(ma.Schema):
    """How long the replaced secret (and its tokens) keep working."""

    grace_seconds = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_GRACE_SECONDS),
        metadata={"description": "Default KEY_ROTATION_GRACE; 0 ends the old secret now."},
    )


class KeyPatchSchema(ma.Schema):
    """When a key stops working: a past or present moment ends it now; null, never."""

    expires_at = UtcDateTime(
        required=True, allow_none=True, metadata={"description": "ISO 8601 with offset, or null."}
    )


class KeyOutSchema(ma.Schema):
    """An access key, without its secret."""

    id = fields.String()
    department = fields.String()
    name = fields.String()
    scopes = fields.List(fields.String())
    state = fields.String(
        metadata={"description": "active, revoked, expired or disabled (its department)."}
    )
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    generation = fields.Integer(metadata={"description": "1, plus one per rotation."})
    rotated_at = fields.AwareDateTime(allow_none=True)
    previous_valid_until = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "Until when the secret replaced by the last rotation works."},
    )


class KeySecretSchema(KeyOutSchema):
    """An access key with its secret: only in the responses that create one."""

    secret = fields.String(metadata={"description": "hubk_...; shown only this once."})


class KeyListSchema(ma.Schema):
    """Access keys, newest first."""

    items = fields.List(fields.Nested(KeyOutSchema))


def describe_key(key: AccessKey, secret: str | None = None) -> dict[str, Any]:
    """What an administrator sees of ``key``; its ``secret`` only when one was just made."""
    described: dict[str, Any] = {
        "id": key.id,
        "department": key.department_id,
        "name": key.name,
        "scopes": key.scopes,
        "state": auth.key_state(key, utcnow()),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "generation": key.generation,
        "rotated_at": key.rotated_at,
        "previous_valid_until": key.previous_valid_until,
    }
    if secret is not None:
        described["secret"] = secret
    return described
