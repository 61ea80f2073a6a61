"""How supervision looks on the wire: the query of each view and its response."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.core.wire import PageQuerySchema
from hub.supervision.dispatch import FORMATS
from hub.supervision.service import GROUP_BY, STATUSES
from hub.supervision.signals import CODES
from schemas.base import DivisionCode, IsoDate, one_of
from schemas.progress_report import Period
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


# --- the scorecard --------------------------------------------------------------------------

# the longest period a scorecard covers
SCORECARD_MAX_DAYS = 366


class ScorecardQuerySchema(ma.Schema):
    """The period a scorecard covers: both days, or neither for the last full month."""

    start = IsoDate(
        data_key="from",
        validate=_within_years,
        metadata={"description": "YYYY-MM-DD, the period's first day (with `to`)."},
    )
    end = IsoDate(
        data_key="to",
        validate=_within_years,
        metadata={
            "description": "YYYY-MM-DD, the period's last day, included; the scorecard is "
            "taken as the records stood at its end. Without `from` and `to`: the last full "
            "month."
        },
    )

    @ma.validates_schema
    def _a_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start is None and end is not None:
            raise ma.ValidationError("Required with `to`.", "from")
        if end is None and start is not None:
            raise ma.ValidationError("Required with `from`.", "to")
        if start is not None and end is not None:
            if end < start:
                raise ma.ValidationError("Must not be before `from`.", "to")
            if (end - start).days >= SCORECARD_MAX_DAYS:
                raise ma.ValidationError(
                    f"The period may be at most {SCORECARD_MAX_DAYS} days long.", "to"
                )


class ScorecardCaseSchema(ma.Schema):
    """One case a figure counts."""

    type = fields.String(
        metadata={"description": "permit, grant, coordination_item or progress_report."}
    )
    key = fields.String(metadata={"description": "The record's key, or the grant's id."})
    project_code = fields.String(allow_none=True)
    outcome = fields.String(
        metadata={
            "description": "in_time, late, or pending_overdue (a permit still pending past its "
            "limit at the period's end, outside the share)."
        }
    )
    due = fields.Date(
        metadata={
            "description": "When it was due: a permit's last statutory working day, a grant's "
            "respond_by day, an item's due_date, a report's due working day."
        }
    )
    done = fields.Date(
        allow_none=True,
        metadata={
            "description": "When it was done: decided, answered, resolved, first published; "
            "null if not by the period's end."
        },
    )
    days_late = fields.Integer(
        metadata={"description": "Calendar days late; for a permit, working days over its limit."}
    )
    working_days = fields.Integer(
        allow_none=True, metadata={"description": "Permits: the working days it took."}
    )
    statutory_days = fields.Integer(allow_none=True)
    href = fields.String(metadata={"description": "The API path of the record or grant."})


class ScorecardFigureSchema(ma.Schema):
    """One figure of a department: its cases judged in time or late, the share in time, and
    the cases (the late ones first)."""

    total = fields.Integer(metadata={"description": "Cases judged (in time + late)."})
    in_time = fields.Integer()
    late = fields.Integer()
    share = fields.Float(
        allow_none=True, metadata={"description": "In time, percent of total; null without any."}
    )
    cases = fields.List(fields.Nested(ScorecardCaseSchema))
    truncated = fields.Boolean(
        metadata={"description": "Whether more cases were counted than are listed."}
    )


class PermitFigureSchema(ScorecardFigureSchema):
    """Permits decided in the period within their statutory working days."""

    median_working_days = fields.Float(allow_none=True)
    pending_overdue = fields.Integer(
        metadata={"description": "Permits still pending past their limit at the period's end."}
    )


class ConnectorSuccessSchema(ma.Schema):
    """A connector of the department and when it last succeeded (as of the period's end)."""

    name = fields.String()
    last_success = fields.DateTime(allow_none=True)


class DepartmentScoreSchema(ma.Schema):
    """One department's figures over the period."""

    department = fields.String()
    name = fields.String()
    rank = fields.Integer(allow_none=True, metadata={"description": "1 is best; ties share."})
    score = fields.Float(
        allow_none=True,
        metadata={"description": "Percent of all its judged cases handled in time."},
    )
    cases = fields.Integer(metadata={"description": "Its judged cases, all figures."})
    permits = fields.Nested(PermitFigureSchema)
    grants = fields.Nested(ScorecardFigureSchema)
    coordination_items = fields.Nested(ScorecardFigureSchema)
    progress_reports = fields.Nested(ScorecardFigureSchema)
    connectors = fields.List(fields.Nested(ConnectorSuccessSchema))


class ScorecardSchema(ma.Schema):
    """The departments' scorecard over a period, best first."""

    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    as_of = fields.Date()
    grant_response_days = fields.Integer(
        metadata={"description": "The days a grant owner has to answer (current setting)."}
    )
    report_due_workday = fields.Integer(
        metadata={"description": "The working day of the next month a report is due by."}
    )
    departments = fields.List(fields.Nested(DepartmentScoreSchema))
    calendar_warnings = CALENDAR_WARNINGS


# --- the dispatch report ------------------------------------------------------------------------


class DispatchQuerySchema(ma.Schema):
    """The month of a dispatch report and its format."""

    period = Period(
        metadata={"description": "YYYY-MM (default: the last full month); as of its last day."}
    )
    format = fields.String(
        load_default="json",
        validate=one_of(FORMATS),
        metadata={"description": "json, html (printable) or xlsx."},
    )


class DispatchTotalsSchema(TallySchema):
    """Every project: counts and shares by status (percent), this year's plan and investment
    (10,000 CNY), the completion rate and the share of the year elapsed (序时进度)."""

    green_share = fields.Float(allow_none=True)
    yellow_share = fields.Float(allow_none=True)
    red_share = fields.Float(allow_none=True)
    time_share = fields.Float(allow_none=True)
    points_behind = fields.Float(
        allow_none=True,
        metadata={"description": "time_share less rate, in points (negative when ahead)."},
    )


class MonthInvestmentSchema(ma.Schema):
    """This year's investment at a month's end (10,000 CNY; rates in percent)."""

    period = fields.String()
    annual_plan = Amount()
    planned_to_date = Amount(metadata={"description": "annual_plan × time_share."})
    invested_this_year = Amount()
    rate = fields.Float(allow_none=True)
    time_share = fields.Float()


class ListedProjectSchema(ma.Schema):
    """A red or yellow project, its leader and its reasons."""

    project_code = fields.String()
    name = fields.String()
    admin_division = fields.String()
    stage = fields.String()
    lead_department = fields.String()
    responsible_leader = fields.Nested(ResponsibleLeaderSchema, allow_none=True)
    status = fields.String()
    signals = fields.List(fields.Nested(SignalSchema))


class ItemLineSchema(ma.Schema):
    """A coordination item (its open fields)."""

    item_id = fields.String()
    project_code = fields.String()
    project_name = fields.String()
    title = fields.String()
    factor = fields.String()
    meeting = fields.String(allow_none=True)
    raised_at = fields.String()
    due_date = fields.String()
    assigned_to = fields.List(fields.String())
    status = fields.String()
    resolved_at = fields.String(allow_none=True)


class ItemsOfMonthSchema(ma.Schema):
    """The problem list in the month."""

    opened_count = fields.Integer()
    closed_count = fields.Integer()
    open_at_end = fields.Integer()
    overdue_at_end = fields.Integer()
    opened = fields.List(fields.Nested(ItemLineSchema))
    closed = fields.List(fields.Nested(ItemLineSchema))


class DispatchSchema(ma.Schema):
    """The monthly progress dispatch report (调度通报) as of the month's last day."""

    period = fields.String()
    as_of = fields.Date()
    title = fields.String()
    totals = fields.Nested(DispatchTotalsSchema)
    by_district = fields.List(fields.Nested(GroupTallySchema))
    investment_by_month = fields.List(fields.Nested(MonthInvestmentSchema))
    red = fields.List(fields.Nested(ListedProjectSchema))
    yellow = fields.List(fields.Nested(ListedProjectSchema))
    coordination_items = fields.Nested(ItemsOfMonthSchema)
    scorecard = fields.Nested(ScorecardSchema)
    calendar_warnings = CALENDAR_WARNINGS
