"""How grants look on the wire: application and decision bodies, list queries, the grant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.core.wire import NOT_BLANK, PageQuerySchema, UtcDateTime, not_blank
from hub.sharing.grants import STATUSES, is_overdue, status_at
from hub.sharing.models import Grant
from schemas import registry

MAX_PURPOSE = 2000
MAX_REASON = 2000
ROLES = ("applicant", "owner")
# the types with conditional fields: only those can be granted
GRANTABLE_TYPES = sorted(
    name for name, record_type in registry().items() if record_type.fields_of_class("conditional")
)


class GrantInSchema(ma.Schema):
    """An application for another department's conditional fields of one record type."""

    type = fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={"description": "A type with conditional fields.", "enum": GRANTABLE_TYPES},
    )
    fields_ = fields.List(
        fields.String(validate=validate.Length(1, 128)),
        data_key="fields",
        load_default=list,
        validate=validate.Length(max=128),
        metadata={"description": "Conditional fields asked for; none means all of them."},
    )
    purpose = fields.String(
        required=True,
        validate=[validate.Length(max=MAX_PURPOSE), not_blank],
        metadata={"description": "Why the fields are needed; not blank.", **NOT_BLANK},
    )
    owner = fields.String(
        validate=validate.Length(1, 64),
        metadata={
            "description": "The department asked; needed only when several publish the type."
        },
    )


class ApproveInSchema(ma.Schema):
    """The owner's approval: until when the grant holds."""

    expires_at = UtcDateTime(
        required=True, metadata={"description": "ISO 8601 with offset; in the future."}
    )


class RefuseInSchema(ma.Schema):
    """The owner's refusal, which must say why."""

    reason = fields.String(
        required=True,
        validate=[validate.Length(max=MAX_REASON), not_blank],
        metadata={"description": "Why; not blank.", **NOT_BLANK},
    )


class GrantQuerySchema(PageQuerySchema):
    """Filters of a grant listing."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    role = fields.String(
        validate=validate.OneOf(ROLES),
        metadata={"description": "Only grants where your department is this party."},
    )
    type = fields.String(validate=validate.Length(1, 64))


class GrantOutSchema(ma.Schema):
    """A grant as both parties see it: what was asked, its state and its deadlines.

    ``status`` is pending, approved, refused, revoked (by the owner), withdrawn (by the
    applicant, before a decision) or expired (approved, past ``expires_at``).
    """

    id = fields.Integer()
    type = fields.String()
    fields_ = fields.List(
        fields.String(),
        data_key="fields",
        metadata={"description": "Conditional fields granted; empty means all of them."},
    )
    purpose = fields.String()
    applicant = fields.String()
    owner = fields.String()
    status = fields.String()
    requested_at = fields.AwareDateTime()
    respond_by = fields.AwareDateTime()
    overdue = fields.Boolean(metadata={"description": "Pending past respond_by."})
    decided_at = fields.AwareDateTime(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)


class GrantPageSchema(ma.Schema):
    """A page of grants, newest first."""

    items = fields.List(fields.Nested(GrantOutSchema))
    next_cursor = fields.String(allow_none=True)


def grant_out(grant: Grant, now: datetime) -> dict[str, Any]:
    """The wire form of ``grant`` as of ``now`` (which decides expired and overdue)."""
    return {
        "id": grant.id,
        "type": grant.record_type,
        "fields_": grant.fields,
        "purpose": grant.purpose,
        "applicant": grant.applicant_id,
        "owner": grant.owner_id,
        "status": status_at(grant, now),
        "requested_at": grant.requested_at,
        "respond_by": grant.respond_by,
        "overdue": is_overdue(grant, now),
        "decided_at": grant.decided_at,
        "expires_at": grant.expires_at,
        "reason": grant.reason,
        "revoked_at": grant.revoked_at,
    }
