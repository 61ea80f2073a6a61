"""How supervision looks on the wire: the query of each view and its response."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.core.wire import PageQuerySchema
from hub.supervision.service import GROUP_BY, STATUSES
from hub.supervision.signals import CODES
from schemas.base import DivisionCode, IsoDate, one_of
from schemas.project import CATEGORIES

# the days a view can be asked about: the years record types accept
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
CALENDAR_WARNINGS = fields.List(
    fields.String(),
    metadata={
        "description": "One message per year whose holiday calendar the hub does not know and "
        "whose working days were counted Monday to Friday; empty when none was."
    },
)


class Amount(fields.Float):
    """A number as JSON writes it best: an integer when whole (money, in 10,000 CNY)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        number = super()._serialize(value, attr, obj, **kwargs)
        return int(number) if isinstance(number, float) and number.is_integer() else number


class Prebuilt(fields.Nested):
    """A nested object the view builds in its wire form already: documented by its schema,
    passed through as it is (dumping a board's signals again cost a tenth of the board)."""

    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return nested_obj


def _within_years(day: date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ma.ValidationError(f"Must be from {EARLIEST} to {LATEST}.")


class AsOfQuerySchema(ma.Schema):
    """The day a view is computed for."""

    as_of = IsoDate(
        validate=_within_years,
        metadata={
            "description": "YYYY-MM-DD: records as they stood at the end of that day in the "
            "city's time zone (default: today)."
        },
    )


class CursorSchema(ma.Schema):
    """The position in the board: the code of the last project listed."""

    p = fields.String(required=True, validate=validate.Length(1, 128))


class BoardQuerySchema(AsOfQuerySchema, PageQuerySchema):
    """Which projects the board lists."""

    admin_division = DivisionCode(metadata={"description": "6-digit division code."})
    leader = fields.String(
        validate=validate.Length(1, 50),
        metadata={"description": "The responsible leader's name."},
    )
    department = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "The lead department, or a task-force member's department."},
    )
    status = fields.String(validate=one_of(STATUSES))
    category = fields.String(validate=one_of(CATEGORIES))


class SummaryQuerySchema(AsOfQuerySchema):
    """How the summary groups the projects."""

    group_by = fields.String(load_default="admin_division", validate=one_of(GROUP_BY))


class SignalRecordSchema(ma.Schema):
    """The record a signal comes from."""

    type = fields.String()
    key = fields.String()


class SignalSchema(ma.Schema):
    """One reason a project needs attention."""

    code = fields.String(metadata={"description": f"One of: {', '.join(CODES)}."})
    severity = fields.String(metadata={"description": "yellow or red."})
    message = fields.String(metadata={"description": "In Chinese, naming the threshold."})
    message_en = fields.String(metadata={"description": "The same in English."})
    record = fields.Nested(SignalRecordSchema)
    details = fields.Dict(metadata={"description": "The figures behind the message."})


class ResponsibleLeaderSchema(ma.Schema):
    """The leader responsible for a project."""

    name = fields.String()
    title = fields.String()


class BoardItemSchema(ma.Schema):
    """A project on the board."""

    project_code = fields.String()
    name = fields.String()
    stage = fields.String()
    responsible_leader = fields.Nested(ResponsibleLeaderSchema)
    lead_department = fields.String()
    status = fields.String(metadata={"description": "green, yellow or red: the worst signal."})
    signals = fields.List(fields.Nested(SignalSchema))


class BoardSchema(ma.Schema):
    """A page of the supervision board."""

    as_of = fields.Date()
    items = fields.List(Prebuilt(BoardItemSchema))
    next_cursor = fields.String(allow_none=True)
    calendar_warnings = CALENDAR_WARNINGS


class LandFactorSchema(ma.Schema):
    """The project's land parcels."""

    by_supply_status = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Parcels."}
    )
    parcels = fields.List(fields.Dict())


class FundingFactorSchema(ma.Schema):
    """This fiscal year's funding against the latest progress report's annual plan
    (amounts in units of 10,000 CNY, shares in percent)."""

    fiscal_year = fields.Integer()
    annual_plan = Amount(allow_none=True)
    allocated = Amount()
    disbursed = Amount()
    allocated_of_plan = fields.Float(allow_none=True)
    disbursed_of_plan = fields.Float(allow_none=True)
    lines = fields.List(fields.Dict(), metadata={"description": "The funding records."})


class FactorsSchema(ma.Schema):
    """What a project needs to go ahead: land, funding, permits."""

    land = fields.Nested(LandFactorSchema)
    funding = fields.Nested(FundingFactorSchema)
    permits = fields.List(
        fields.Dict(),
        metadata={
            "description": "The permit records, each with its statutory clock: deadline, "
            "working_days_used and working_days_left (at as_of while pending, at approved_at "
            "once approved; null otherwise)."
        },
    )


class ProjectViewSchema(ma.Schema):
    """One project as of a day."""

    as_of = fields.Date()
    project = fields.Dict(metadata={"description": "The project record, as you may see it."})
    status = fields.String()
    signals = fields.List(fields.Nested(SignalSchema))
    last_changed = fields.Date(
        allow_none=True, metadata={"description": "The last day any of its records changed."}
    )
    milestones = fields.List(
        fields.Dict(), metadata={"description": "Each milestone with its delay_days."}
    )
    factors = fields.Nested(FactorsSchema)
    coordination_items = fields.List(
        fields.Dict(), metadata={"description": "The problem list, each with days_overdue."}
    )
    progress_reports = fields.List(fields.Dict(), metadata={"description": "Newest first."})
    withheld = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "By record type, the fields not shown to you."},
    )
    calendar_warnings = CALENDAR_WARNINGS


class TallySchema(ma.Schema):
    """Projects by status and their investment this year (10,000 CNY; rate in percent)."""

    projects = fields.Integer()
    green = fields.Integer()
    yellow = fields.Integer()
    red = fields.Integer()
    annual_plan = Amount()
    invested_this_year = Amount()
    rate = fields.Float(allow_none=True)


class GroupTallySchema(TallySchema):
    """One group's tally."""

    group = fields.String(metadata={"description": "The value grouped by."})


class SummarySchema(ma.Schema):
    """The projects tallied by group."""

    as_of = fields.Date()
    group_by = fields.String()
    groups = fields.List(fields.Nested(GroupTallySchema))
    totals = fields.Nested(TallySchema)
    calendar_warnings = CALENDAR_WARNINGS
