"""``coordination_item``: the joint meeting's problem list (联席会议问题清单)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import (
    DepartmentId,
    IsoDate,
    ProjectCode,
    RecordSchema,
    RecordType,
    one_of,
    sharing,
)

FACTORS = ("land", "funding", "permit", "talent", "other")
STATUSES = ("open", "in_progress", "resolved", "escalated")
UNRESOLVED_STATUSES = frozenset({"open", "in_progress", "escalated"})


class CoordinationItemSchema(RecordSchema):
    """One problem raised for a project, the departments it is assigned to, and its outcome."""

    item_id = fields.String(required=True)
    project_code = ProjectCode(required=True)
    title = fields.String(required=True, validate=validate.Length(1, 200))
    factor = fields.String(required=True, validate=one_of(FACTORS))
    raised_at = IsoDate(required=True)
    meeting = fields.String(
        allow_none=True,
        validate=validate.Length(1, 200),
        metadata={"description": "The meeting that raised it, e.g. 2026年第3次联席会议."},
    )
    raised_by = DepartmentId(
        required=True, metadata={"description": "The department that raised it."}
    )
    assigned_to = fields.List(
        DepartmentId(),
        required=True,
        validate=validate.Length(1, 50),
        metadata={"description": "The departments responsible, at least one, each once."},
    )
    due_date = IsoDate(required=True)
    status = fields.String(required=True, validate=one_of(STATUSES))
    resolution = fields.String(allow_none=True, validate=validate.Length(1, 5000))
    resolved_at = IsoDate(allow_none=True)
    notes = fields.String(
        allow_none=True, validate=validate.Length(max=5000), metadata=sharing("conditional")
    )

    @ma.validates_schema
    def _assignment_and_resolution(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        assigned = data.get("assigned_to") or []
        repeated = sorted({name for name in assigned if assigned.count(name) > 1})
        if repeated:
            errors["assigned_to"] = [f"Names a department more than once: {', '.join(repeated)}."]
        if data.get("status") == "resolved":
            for name in ("resolution", "resolved_at"):
                if not data.get(name):
                    errors.setdefault(name, []).append("Required once status is resolved.")
        raised, resolved = data.get("raised_at"), data.get("resolved_at")
        if raised and resolved and resolved < raised:
            errors.setdefault("resolved_at", []).append("Must not be before raised_at.")
        if errors:
            raise ma.ValidationError(errors)


RECORD_TYPE = RecordType(
    name="coordination_item",
    key_field="item_id",
    schema=CoordinationItemSchema,
    description="A problem on the joint meeting's list: who raised it, who must solve it, by when.",
    department_fields=("raised_by", "assigned_to"),
)
