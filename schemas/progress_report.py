"""``progress_report``: the monthly progress dispatch (月度调度) of one project.

A project reports once per month, so the key is ``<project_code>:<YYYY-MM>`` and must agree
with the body's ``project_code`` and ``period``.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import Money, ProjectCode, RecordSchema, RecordType

PERIOD_PATTERN = re.compile(r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])\Z")


def report_key(project_code: str, period: str) -> str:
    """The key of the report of ``project_code`` for ``period`` (``YYYY-MM``)."""
    return f"{project_code}:{period}"


class Period(fields.String):
    """A calendar month as ``YYYY-MM``, years 2000 to 2100."""

    default_error_messages = {"period": "Must be a month as YYYY-MM, e.g. 2026-10."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        period = super()._deserialize(value, attr, data, **kwargs)
        if not PERIOD_PATTERN.match(period):
            raise self.make_error("period")
        return period


class ProgressReportSchema(RecordSchema):
    """What a project invested and did in one month, and what it plans next."""

    report_id = fields.String(
        required=True, metadata={"description": "<project_code>:<YYYY-MM>, e.g. 2503-...:2026-10"}
    )
    project_code = ProjectCode(required=True)
    period = Period(
        required=True,
        metadata={"description": "The month reported, YYYY-MM.", "pattern": PERIOD_PATTERN.pattern},
    )
    annual_plan = Money(
        required=True,
        metadata={"description": "This year's planned investment, units of 10,000 CNY."},
    )
    invested_this_year = Money(
        required=True,
        metadata={"description": "Invested from January to the period's end, 10,000 CNY."},
    )
    invested_to_date = Money(
        required=True,
        metadata={"description": "Invested since the project began, units of 10,000 CNY."},
    )
    progress_note = fields.String(allow_none=True, validate=validate.Length(max=5000))
    next_steps = fields.String(allow_none=True, validate=validate.Length(max=5000))
    problems = fields.String(
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"description": "Free text; real problems become coordination items."},
    )

    @ma.validates_schema
    def _key_and_amounts(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        code, period, key = data.get("project_code"), data.get("period"), data.get("report_id")
        if code and period and key is not None and key != report_key(code, period):
            errors["report_id"] = [
                f"Must be '{report_key(code, period)}': the project_code and period, "
                f"joined by ':'; not '{key}'."
            ]
        this_year, to_date = data.get("invested_this_year"), data.get("invested_to_date")
        if this_year is not None and to_date is not None and to_date < this_year:
            errors["invested_to_date"] = ["Must not be below invested_this_year."]
        if errors:
            raise ma.ValidationError(errors)


RECORD_TYPE = RecordType(
    name="progress_report",
    key_field="report_id",
    schema=ProgressReportSchema,
    description="Monthly progress dispatch: this year's plan, investment so far, what was done.",
)
