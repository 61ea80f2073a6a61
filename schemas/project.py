"""``project``: the project master record, owned by development & reform."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import (
    DepartmentId,
    DivisionCode,
    IsoDate,
    Money,
    ProjectCode,
    RecordSchema,
    RecordType,
    one_of,
    sharing,
)

CATEGORIES = ("infrastructure", "industry", "culture_tourism", "public_service", "other")
STAGES = ("reserve", "preliminary", "construction", "completed", "suspended")
MILESTONE_STATUSES = ("pending", "done", "delayed")
# what a milestone marks, where supervision needs to know: land must be ready for the start
MILESTONE_KINDS = ("construction_start", "completion", "other")
TASK_FORCE_ROLES = ("lead", "member", "liaison")


class LeaderSchema(RecordSchema):
    """The leader named responsible for the project."""

    name = fields.String(required=True, validate=validate.Length(1, 50))
    title = fields.String(required=True, validate=validate.Length(1, 100))


class MilestoneSchema(RecordSchema):
    """One tracked node of the project's schedule."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    planned_date = IsoDate(required=True)
    actual_date = IsoDate(allow_none=True)
    status = fields.String(required=True, validate=one_of(MILESTONE_STATUSES))
    kind = fields.String(
        allow_none=True,
        validate=one_of(MILESTONE_KINDS),
        metadata={"description": "What the node marks; construction_start is 开工."},
    )

    @ma.validates_schema
    def _done_has_actual_date(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("status") == "done" and not data.get("actual_date"):
            raise ma.ValidationError("A done milestone needs its actual_date.", "actual_date")


class TaskForceMemberSchema(RecordSchema):
    """A member of the project's task force (专班) and the department they come from."""

    name = fields.String(required=True, validate=validate.Length(1, 100))
    department = DepartmentId(required=True, metadata={"description": "A department id."})
    role = fields.String(required=True, validate=one_of(TASK_FORCE_ROLES))


class ContactSchema(RecordSchema):
    """A person to call about the project."""

    name = fields.String(required=True, validate=validate.Length(1, 50))
    phone = fields.String(
        required=True,
        validate=validate.Regexp(r"^\+?[0-9][0-9 -]{4,24}\Z", error="Not a telephone number."),
    )


class ProjectSchema(RecordSchema):
    """A major investment project, keyed by its unified project code."""

    project_code = ProjectCode(required=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    category = fields.String(required=True, validate=one_of(CATEGORIES))
    stage = fields.String(required=True, validate=one_of(STAGES))
    admin_division = DivisionCode(required=True)
    lead_department = fields.String(required=True, validate=validate.Length(1, 100))
    responsible_leader = fields.Nested(LeaderSchema, required=True)
    total_investment = Money(
        required=True, metadata={"description": "Total investment, units of 10,000 CNY."}
    )
    planned_start = IsoDate(allow_none=True)
    planned_completion = IsoDate(allow_none=True)
    milestones = fields.List(
        fields.Nested(MilestoneSchema), allow_none=True, validate=validate.Length(max=200)
    )
    task_force = fields.List(
        fields.Nested(TaskForceMemberSchema),
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "The project's task force (专班): lead, members, liaisons."},
    )
    contacts = fields.List(
        fields.Nested(ContactSchema),
        allow_none=True,
        validate=validate.Length(max=50),
        metadata=sharing("conditional"),
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))

    @ma.validates_schema
    def _completion_not_before_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, completion = data.get("planned_start"), data.get("planned_completion")
        if start and completion and completion < start:
            raise ma.ValidationError("Must not be before planned_start.", "planned_completion")


RECORD_TYPE = RecordType(
    name="project",
    key_field="project_code",
    schema=ProjectSchema,
    description=("Project master record: code, stage, investment, leader, task force, milestones."),
)
