"""``permit``: approval items and their progress, owned by administrative approval."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import IsoDate, ProjectCode, RecordSchema, RecordType, one_of, sharing
from schemas.workdays import WorkCalendar

ITEMS = (
    "land_pre_review",
    "site_selection",
    "planning_permit",
    "eia",
    "energy_review",
    "construction_permit",
    "completion_acceptance",
    "other",
)
STATUSES = ("not_started", "submitted", "accepted", "approved", "rejected", "withdrawn")
PENDING_STATUSES = frozenset({"submitted", "accepted"})
# The national calendar without a city's extras, until the hub passes the configured one.
DEFAULT_CALENDAR = WorkCalendar()


class PermitSchema(RecordSchema):
    """One approval item of a project."""

    permit_id = fields.String(required=True)
    project_code = ProjectCode(required=True)
    item = fields.String(required=True, validate=one_of(ITEMS))
    authority = fields.String(required=True, validate=validate.Length(1, 200))
    status = fields.String(required=True, validate=one_of(STATUSES))
    submitted_at = IsoDate(allow_none=True)
    approved_at = IsoDate(allow_none=True)
    permit_no = fields.String(allow_none=True, validate=validate.Length(1, 100))
    statutory_days = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=3650),
        metadata={
            "description": "Statutory time limit in working days (national holiday calendar "
            "with its make-up working days), counted from the day after submitted_at."
        },
    )
    applicant_contact = fields.String(
        allow_none=True, validate=validate.Length(1, 200), metadata=sharing("conditional")
    )
    overdue = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "Computed: still pending after the statutory working days from "
            "submitted_at have run out."
        },
    )

    @ma.validates_schema
    def _dates_and_approval(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        submitted, approved = data.get("submitted_at"), data.get("approved_at")
        if submitted and approved and approved < submitted:
            errors.setdefault("approved_at", []).append("Must not be before submitted_at.")
        if data.get("status") == "approved":
            for name in ("submitted_at", "approved_at", "permit_no"):
                if not data.get(name):
                    errors.setdefault(name, []).append("Required once status is approved.")
        if data.get("status") in PENDING_STATUSES and not submitted:
            errors.setdefault("submitted_at", []).append(
                f"Required once status is {data['status']}."
            )
        if errors:
            raise ma.ValidationError(errors)


def statutory_deadline(
    data: Mapping[str, Any],
    calendar: WorkCalendar = DEFAULT_CALENDAR,
    *,
    unknown_years: set[int] | None = None,
) -> date | None:
    """The day a permit's statutory working days run out, if it has submitted_at and a limit.

    The limit counts working days from the day after ``submitted_at``; the permit may be
    decided on the deadline itself and is late from the next day.
    """
    submitted, days = data.get("submitted_at"), data.get("statutory_days")
    if not submitted or not days:
        return None
    return calendar.add_workdays(date.fromisoformat(submitted), days, unknown_years=unknown_years)


def compute_overdue(
    data: Mapping[str, Any],
    today: date,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
    *,
    unknown_years: set[int] | None = None,
) -> dict[str, Any]:
    """A permit is overdue while pending after its statutory working days have run out."""
    if data.get("status") not in PENDING_STATUSES:
        return {"overdue": False}
    deadline = statutory_deadline(data, calendar, unknown_years=unknown_years)
    return {"overdue": deadline is not None and deadline < today}


RECORD_TYPE = RecordType(
    name="permit",
    key_field="permit_id",
    schema=PermitSchema,
    description="Approval item (EIA, planning permit, construction permit, ...) and its status.",
    compute=compute_overdue,
)
