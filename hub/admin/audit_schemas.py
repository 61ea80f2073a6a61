"""How the audit log looks on the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from hub.core.wire import PageQuerySchema, UtcDateTime


class AuditQuerySchema(PageQuerySchema):
    """Filters of the audit log; all of them together narrow the list."""

    department = fields.String(
        validate=validate.Length(max=64), metadata={"description": "Acting department."}
    )
    action = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "What was done, e.g. record.put or key.rotate."},
    )
    target = fields.String(
        validate=validate.Length(max=300),
        metadata={"description": "What was acted on: type/key, key/<id>, grant/<id> ..."},
    )
    since = UtcDateTime(metadata={"description": "Entries at or after (ISO 8601 with offset)."})
    until = UtcDateTime(metadata={"description": "Entries before (ISO 8601 with offset)."})


class AuditEntryOutSchema(ma.Schema):
    """One audited action and its place in the hash chain (``seq`` null until sealed)."""

    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String()
    department = fields.String(attribute="department_id", allow_none=True)
    key_id = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String()
    remote_addr = fields.String(allow_none=True)
    outcome = fields.Integer(metadata={"description": "HTTP status the action came to."})
    details = fields.Dict()
    seq = fields.Integer(allow_none=True)
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


class AuditPageSchema(ma.Schema):
    """A page of audit entries, newest first."""

    items = fields.List(fields.Nested(AuditEntryOutSchema))
    next_cursor = fields.String(allow_none=True)
