"""Supervision signals of one project as of a date (DESIGN §6), computed from plain data.

Pure computation: no Flask, no database. The caller loads the project's records as they stood
at the end of ``as_of`` (from the version history) into a :class:`ProjectFacts` and calls
:func:`project_signals`; :func:`status_of` turns the signals into green, yellow or red.

Each signal has a Chinese ``message`` (the console and the dispatch report are Chinese first)
and the same sentence in English as ``message_en``, both naming the threshold crossed, plus
``details``: the numbers behind the message, for views that lay them out themselves. Messages
and details only use open fields: never a conditional or restricted value.

Every threshold is a field of :class:`Thresholds`, with DESIGN §6's defaults; the hub reads
them from settings named ``SUPERVISION_<FIELD>`` (:meth:`Thresholds.from_settings`).

Working days come from a :class:`~schemas.workdays.WorkCalendar`. Pass a set as
``unknown_years`` to collect the years it had to count Monday to Friday, for a response's
``calendar_warnings`` (:meth:`WorkCalendar.warnings`).
"""

from __future__ import annotations

import calendar as gregorian
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

from schemas.workdays import WorkCalendar

Severity = Literal["yellow", "red"]
Status = Literal["green", "yellow", "red"]
InvestmentRule = Literal["points", "ratio"]
ShareBasis = Literal["report_period", "as_of"]

# in the order signals are listed
CODES = (
    "permit_overdue",
    "milestone_delayed",
    "investment_behind",
    "report_missing",
    "land_not_ready",
    "funding_short",
    "item_overdue",
    "stalled",
)
PENDING_PERMIT_STATUSES = frozenset({"submitted", "accepted"})
UNRESOLVED_ITEM_STATUSES = frozenset({"open", "in_progress", "escalated"})
LAND_READY_STATUSES = frozenset({"ready", "supplied"})
# a milestone without a ``kind`` counts as the construction start when its name says so
CONSTRUCTION_START_NAME = re.compile(r"开工|construction start|groundbreaking", re.IGNORECASE)

PERMIT_ITEMS = {
    "land_pre_review": ("用地预审", "land pre-review"),
    "site_selection": ("选址意见书", "site selection"),
    "planning_permit": ("建设工程规划许可", "planning permit"),
    "eia": ("环评审批", "EIA"),
    "energy_review": ("节能审查", "energy review"),
    "construction_permit": ("施工许可", "construction permit"),
    "completion_acceptance": ("竣工验收", "completion acceptance"),
    "other": ("其他审批", "other approval"),
}
SUPPLY_STATUSES = {
    "planned": ("计划供应", "planned"),
    "acquiring": ("征收收储中", "being acquired"),
    "ready": ("具备供地条件", "ready"),
    "supplied": ("已供地", "supplied"),
}
STAGES = {
    "reserve": "储备",
    "preliminary": "前期",
    "construction": "在建",
    "completed": "竣工",
    "suspended": "停缓建",
}
ITEM_STATUSES = {
    "open": ("待办", "open"),
    "in_progress": ("办理中", "in progress"),
    "resolved": ("已解决", "resolved"),
    "escalated": ("已上报", "escalated"),
}


@lru_cache(maxsize=4096, typed=True)
def _exact(value: Any) -> Fraction:
    """A stored number or a setting as an exact fraction (a float by its shortest repr).

    Cached: thresholds and the round amounts of plans recur in every project judged.
    """
    if value is None or isinstance(value, bool):
        return Fraction(0)
    return Fraction(Decimal(str(value)))


def _exact_sum(values: Iterable[Any]) -> Fraction:
    """The exact sum of stored numbers: added as decimals (exact at their few places), made a
    fraction once."""
    total = sum(
        (Decimal(str(v)) for v in values if v is not None and not isinstance(v, bool)),
        Decimal(0),
    )
    return Fraction(total)


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the signals, with the defaults of DESIGN §6.

    ``investment_rule`` ``points`` (Yinchuan): yellow when the completion rate is
    ``investment_yellow_points`` or more percentage points behind the time share, red when more
    than ``investment_red_points`` behind. ``ratio`` (Wuhan): yellow below
    ``investment_yellow_ratio`` of the time share, red below ``investment_red_ratio``.

    ``investment_share_basis`` ``report_period``: the time share is that of the year elapsed
    at the end of the report's month (capped at ``as_of``), which is what the report's
    cumulative figures are measured at. ``as_of``: the share elapsed at ``as_of`` itself, which
    also holds the reporting lag against the project.
    """

    permit_red_factor: float = 1.5
    milestone_red_days: int = 30
    investment_rule: InvestmentRule = "points"
    investment_yellow_points: float = 10.0
    investment_red_points: float = 30.0
    investment_yellow_ratio: float = 0.8
    investment_red_ratio: float = 0.6
    investment_share_basis: ShareBasis = "report_period"
    report_due_workday: int = 5
    land_lookahead_days: int = 30
    funding_short_ratio: float = 0.8
    stalled_days: int = 30
    # the stages of a project under way: those that report monthly and can stall
    active_stages: frozenset[str] = frozenset({"preliminary", "construction"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "active_stages", frozenset(self.active_stages))
        problems = []
        if self.investment_rule not in ("points", "ratio"):
            problems.append("investment_rule must be 'points' or 'ratio'")
        if self.investment_share_basis not in ("report_period", "as_of"):
            problems.append("investment_share_basis must be 'report_period' or 'as_of'")
        if not _exact(self.permit_red_factor) >= 1:
            problems.append("permit_red_factor must be at least 1")
        if not 0 <= _exact(self.investment_yellow_points) <= _exact(self.investment_red_points):
            problems.append("investment points: 0 <= yellow <= red")
        if not 0 <= _exact(self.investment_red_ratio) <= _exact(self.investment_yellow_ratio):
            problems.append("investment ratios: 0 <= red <= yellow")
        if _exact(self.funding_short_ratio) < 0:
            problems.append("funding_short_ratio must not be negative")
        for name in ("milestone_red_days", "land_lookahead_days", "stalled_days"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.report_due_workday < 1:
            problems.append("report_due_workday must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def settings(cls, prefix: str = "SUPERVISION_") -> dict[str, Any]:
        """The settings (name → default) the thresholds are read from, for the hub's config.

        ``active_stages`` is a list there.
        """
        defaults = cls()
        return {
            f"{prefix}{item.name.upper()}": _setting_value(getattr(defaults, item.name))
            for item in fields(cls)
        }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], prefix: str = "SUPERVISION_") -> Thresholds:
        """Thresholds from settings named ``<prefix><FIELD>``; missing ones keep the default.

        Raises ``ValueError`` when the values are inconsistent.
        """
        values = {
            item.name: settings[f"{prefix}{item.name.upper()}"]
            for item in fields(cls)
            if f"{prefix}{item.name.upper()}" in settings
        }
        if "active_stages" in values:
            values["active_stages"] = frozenset(values["active_stages"])
        return cls(**values)


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Signal:
    """One reason a project needs attention, and the record it comes from."""

    code: str
    severity: Severity
    message: str
    message_en: str
    record: dict[str, str] = field(hash=False)
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, Any]:
        """The wire form: code, severity, message, message_en, record, details."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "message_en": self.message_en,
            "record": dict(self.record),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class ProjectFacts:
    """A project's records as they stood at the end of a day: their stored data (each with its
    key field), and the day any of them last changed."""

    project: Mapping[str, Any]
    land_parcels: Sequence[Mapping[str, Any]] = ()
    funding: Sequence[Mapping[str, Any]] = ()
    permits: Sequence[Mapping[str, Any]] = ()
    coordination_items: Sequence[Mapping[str, Any]] = ()
    progress_reports: Sequence[Mapping[str, Any]] = ()
    last_changed: date | None = None


@dataclass(frozen=True)
class PermitClock:
    """Where a pending permit stands against its statutory working days on a day."""

    deadline: date  # the day the statutory working days run out
    used: int  # working days used by the end of the day
    left: int  # statutory days less used; negative when past
    overdue: bool  # the day is past the deadline
    red_limit: int  # working days after which the permit is red
    red: bool  # the day is past ``red_limit`` working days


def project_signals(
    facts: ProjectFacts,
    as_of: date,
    *,
    calendar: WorkCalendar,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    unknown_years: set[int] | None = None,
) -> list[Signal]:
    """The signals of one project at the end of ``as_of``, in the order of ``CODES``."""
    code = str(facts.project.get("project_code", ""))
    report = latest_report(facts.progress_reports, as_of)
    return [
        *_permit_overdue(facts.permits, as_of, thresholds, calendar, unknown_years),
        *_milestone_delayed(code, facts.project, as_of, thresholds),
        *_investment_behind(report, as_of, thresholds),
        *_report_missing(code, facts, as_of, thresholds, calendar, unknown_years),
        *_land_not_ready(facts.project, facts.land_parcels, as_of, thresholds),
        *_funding_short(report, facts.funding, as_of, thresholds),
        *_item_overdue(facts.coordination_items, as_of),
        *_stalled(code, facts, as_of, thresholds),
    ]


def status_of(signals: Iterable[Signal]) -> Status:
    """The worst severity of ``signals``; ``green`` without any."""
    severities = {signal.severity for signal in signals}
    if "red" in severities:
        return "red"
    if "yellow" in severities:
        return "yellow"
    return "green"


# --- helpers the supervision views share ---------------------------------------------------------


def permit_clock(
    permit: Mapping[str, Any],
    as_of: date,
    calendar: WorkCalendar,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    unknown_years: set[int] | None = None,
) -> PermitClock | None:
    """A permit's statutory clock at the end of ``as_of``; None without submitted_at or limit.

    The limit counts working days from the day after ``submitted_at``.
    """
    submitted, days = permit.get("submitted_at"), permit.get("statutory_days")
    if not submitted or not days:
        return None
    start = date.fromisoformat(submitted)
    deadline = calendar.add_workdays(start, days, unknown_years=unknown_years)
    red_limit = int(_exact(thresholds.permit_red_factor) * days)
    red_deadline = calendar.add_workdays(start, red_limit, unknown_years=unknown_years)
    used = max(0, calendar.workdays_between(start, as_of, unknown_years=unknown_years))
    return PermitClock(
        deadline=deadline,
        used=used,
        left=days - used,
        overdue=as_of > deadline,
        red_limit=red_limit,
        red=as_of > red_deadline,
    )


def milestone_delay(milestone: Mapping[str, Any], as_of: date) -> int:
    """Days a milestone not done is past its planned date at ``as_of``; 0 otherwise."""
    planned = milestone.get("planned_date")
    if milestone.get("status") == "done" or not planned:
        return 0
    return max(0, (as_of - date.fromisoformat(planned)).days)


def latest_report(reports: Iterable[Mapping[str, Any]], as_of: date) -> Mapping[str, Any] | None:
    """The progress report of the latest month of ``as_of``'s year up to ``as_of``'s month."""
    first, last = f"{as_of.year:04d}-01", f"{as_of.year:04d}-{as_of.month:02d}"
    reports_this_year = [r for r in reports if first <= str(r.get("period", "")) <= last]
    return max(reports_this_year, key=lambda r: str(r["period"]), default=None)


def year_share(day: date) -> Fraction:
    """The share of ``day``'s year elapsed at the end of ``day`` (序时进度)."""
    days_in_year = 366 if gregorian.isleap(day.year) else 365
    return Fraction(day.timetuple().tm_yday, days_in_year)


def period_end(period: str) -> date:
    """The last day of a ``YYYY-MM`` month."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, gregorian.monthrange(year, month)[1])


def previous_period(day: date) -> str:
    """The month before ``day``'s, as ``YYYY-MM``."""
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


# --- the signals --------------------------------------------------------------------------------


def _permit_overdue(
    permits: Sequence[Mapping[str, Any]],
    as_of: date,
    thresholds: Thresholds,
    calendar: WorkCalendar,
    unknown_years: set[int] | None,
) -> Iterable[Signal]:
    for permit in permits:
        if permit.get("status") not in PENDING_PERMIT_STATUSES:
            continue
        clock = permit_clock(permit, as_of, calendar, thresholds, unknown_years=unknown_years)
        if clock is None or not clock.overdue:
            continue
        key = str(permit.get("permit_id", ""))
        item_zh, item_en = PERMIT_ITEMS.get(str(permit.get("item")), ("审批事项", "approval"))
        days = permit["statutory_days"]
        message = (
            f"审批事项“{item_zh}”（{key}）法定 {days} 个工作日已于 {clock.deadline.isoformat()} "
            f"届满，至今已用 {clock.used} 个工作日，仍未办结"
        )
        message_en = (
            f"Permit {item_en} ({key}): the statutory {days} working days ran out on "
            f"{clock.deadline.isoformat()}; {clock.used} used, still pending"
        )
        if clock.red:
            factor = _number(thresholds.permit_red_factor)
            message += f"，超过法定时限的 {factor} 倍（{clock.red_limit} 个工作日）"
            message_en += f"; past {factor}× the limit ({clock.red_limit} working days)"
        yield Signal(
            "permit_overdue",
            "red" if clock.red else "yellow",
            message,
            message_en,
            {"type": "permit", "key": key},
            {
                "item": permit.get("item"),
                "statutory_days": days,
                "working_days_used": clock.used,
                "deadline": clock.deadline.isoformat(),
                "red_factor": thresholds.permit_red_factor,
                "red_limit": clock.red_limit,
            },
        )


def _milestone_delayed(
    code: str, project: Mapping[str, Any], as_of: date, thresholds: Thresholds
) -> Iterable[Signal]:
    red_days = thresholds.milestone_red_days
    for milestone in project.get("milestones") or ():
        late = milestone_delay(milestone, as_of)
        if late <= 0:
            continue
        red = late > red_days
        name, planned = milestone.get("name", ""), milestone["planned_date"]
        message = f"节点“{name}”计划 {planned} 完成，至今未完成，已延期 {late} 天"
        message_en = (
            f"Milestone “{name}” was planned for {planned} and is not done: {late} days late"
        )
        if red:
            message += f"，超过 {red_days} 天"
            message_en += f", more than {red_days} days"
        yield Signal(
            "milestone_delayed",
            "red" if red else "yellow",
            message,
            message_en,
            {"type": "project", "key": code},
            {
                "milestone": name,
                "planned_date": planned,
                "days_late": late,
                "red_days": red_days,
            },
        )


def _investment_behind(
    report: Mapping[str, Any] | None, as_of: date, thresholds: Thresholds
) -> Iterable[Signal]:
    if report is None:
        return
    plan = _exact(report.get("annual_plan"))
    if plan <= 0:
        return
    rate = _exact(report.get("invested_this_year")) / plan
    period = str(report["period"])
    measured_at = as_of
    if thresholds.investment_share_basis == "report_period":
        measured_at = min(period_end(period), as_of)
    share = year_share(measured_at)
    # decided first, worded only when a signal is due: most projects are not behind
    severity: Severity
    if thresholds.investment_rule == "points":
        behind = share - rate
        yellow = _exact(thresholds.investment_yellow_points) / 100
        red = _exact(thresholds.investment_red_points) / 100
        if behind > red:
            severity = "red"
        elif behind >= yellow:
            severity = "yellow"
        else:
            return
    else:
        ratio = rate / share
        yellow = _exact(thresholds.investment_yellow_ratio)
        red = _exact(thresholds.investment_red_ratio)
        if ratio < red:
            severity = "red"
        elif ratio < yellow:
            severity = "yellow"
        else:
            return
    stated = f"{period} 报告本年完成投资 {_pct(rate)}，序时进度 {_pct(share)}"
    stated_en = (
        f"the {period} report shows {_pct(rate)} of this year's plan invested, "
        f"against a time share of {_pct(share)}"
    )
    details: dict[str, Any] = {
        "period": period,
        "completion_rate": _percent(rate),
        "time_share": _percent(share),
        "measured_at": measured_at.isoformat(),
        "rule": thresholds.investment_rule,
    }
    if thresholds.investment_rule == "points":
        details.update(
            points_behind=_percent(behind),
            yellow_points=thresholds.investment_yellow_points,
            red_points=thresholds.investment_red_points,
        )
        points = _pct(behind, sign="")
        if severity == "red":
            reason = f"落后 {points} 个百分点，超过 {_pct(red, sign='')} 个百分点"
            reason_en = f"{points} points behind, more than {_pct(red, sign='')}"
        else:
            reason = f"落后 {points} 个百分点，达到 {_pct(yellow, sign='')} 个百分点"
            reason_en = f"{points} points behind, {_pct(yellow, sign='')} or more"
    else:
        details.update(
            share_of_time_share=_percent(ratio),
            yellow_ratio=thresholds.investment_yellow_ratio,
            red_ratio=thresholds.investment_red_ratio,
        )
        limit = red if severity == "red" else yellow
        reason = f"为序时进度的 {_pct(ratio)}，低于 {_pct(limit)}"
        reason_en = f"{_pct(ratio)} of the time share, below {_pct(limit)}"
    yield Signal(
        "investment_behind",
        severity,
        f"{stated}：{reason}",
        f"{stated_en}: {reason_en}",
        {"type": "progress_report", "key": str(report.get("report_id", ""))},
        details,
    )


def _report_missing(
    code: str,
    facts: ProjectFacts,
    as_of: date,
    thresholds: Thresholds,
    calendar: WorkCalendar,
    unknown_years: set[int] | None,
) -> Iterable[Signal]:
    if facts.project.get("stage") not in thresholds.active_stages:
        return
    nth = thresholds.report_due_workday
    due = calendar.nth_workday_of_month(as_of.year, as_of.month, nth, unknown_years=unknown_years)
    if as_of <= due:
        return
    period = previous_period(as_of)
    if any(report.get("period") == period for report in facts.progress_reports):
        return
    yield Signal(
        "report_missing",
        "yellow",
        f"{period} 月度进度报告未报送（应于本月第 {nth} 个工作日 {due.isoformat()} 前报送）",
        f"The progress report for {period} is missing (due by working day {nth} of the month, "
        f"{due.isoformat()})",
        {"type": "progress_report", "key": f"{code}:{period}"},
        {"period": period, "due": due.isoformat(), "due_workday": nth},
    )


def _land_not_ready(
    project: Mapping[str, Any],
    parcels: Sequence[Mapping[str, Any]],
    as_of: date,
    thresholds: Thresholds,
) -> Iterable[Signal]:
    starts = [
        milestone
        for milestone in project.get("milestones") or ()
        if milestone.get("status") != "done"
        and milestone.get("planned_date")
        and _is_construction_start(milestone)
    ]
    if not starts:
        return
    start = min(starts, key=lambda milestone: str(milestone["planned_date"]))
    planned = date.fromisoformat(start["planned_date"])
    lookahead = thresholds.land_lookahead_days
    if (planned - as_of).days > lookahead:
        return
    name, day = start.get("name", ""), planned.isoformat()
    if planned >= as_of:
        when = f"开工节点“{name}”计划于 {day}，在 {lookahead} 天内"
        when_en = f"construction start “{name}” is planned for {day}, within {lookahead} days"
    else:
        when = f"开工节点“{name}”计划于 {day}，已过计划日期"
        when_en = f"construction start “{name}” was planned for {day}, already past"
    for parcel in parcels:
        status = str(parcel.get("supply_status", ""))
        if status in LAND_READY_STATUSES:
            continue
        key = str(parcel.get("parcel_id", ""))
        status_zh, status_en = SUPPLY_STATUSES.get(status, (status, status))
        yield Signal(
            "land_not_ready",
            "yellow",
            f"地块 {key} 供地状态为“{status_zh}”，尚不具备供地条件；{when}",
            f"Parcel {key} is {status_en}, not ready; {when_en}",
            {"type": "land_parcel", "key": key},
            {
                "supply_status": status,
                "milestone": name,
                "planned_date": planned.isoformat(),
                "lookahead_days": lookahead,
            },
        )


def _funding_short(
    report: Mapping[str, Any] | None,
    funding: Sequence[Mapping[str, Any]],
    as_of: date,
    thresholds: Thresholds,
) -> Iterable[Signal]:
    if report is None:
        return
    plan = _exact(report.get("annual_plan"))
    if plan <= 0:
        return
    allocated = _exact_sum(
        line.get("allocated") for line in funding if line.get("fiscal_year") == as_of.year
    )
    ratio = _exact(thresholds.funding_short_ratio)
    if allocated >= ratio * plan:
        return
    year, share = as_of.year, _percent(allocated / plan)
    yield Signal(
        "funding_short",
        "yellow",
        f"{year} 年度已落实资金 {_money(allocated)} 万元，为年度计划投资 {_money(plan)} 万元的 "
        f"{_pct(allocated / plan)}，低于 {_pct(ratio)}",
        f"Funding allocated for {year}: {_money(allocated)} (10,000 CNY), "
        f"{_pct(allocated / plan)} of this year's planned investment of {_money(plan)}, "
        f"below {_pct(ratio)}",
        {"type": "progress_report", "key": str(report.get("report_id", ""))},
        {
            "fiscal_year": year,
            "allocated": _json_number(allocated),
            "annual_plan": _json_number(plan),
            "share": share,
            "short_ratio": thresholds.funding_short_ratio,
        },
    )


def _item_overdue(items: Sequence[Mapping[str, Any]], as_of: date) -> Iterable[Signal]:
    for item in items:
        status, due = str(item.get("status", "")), item.get("due_date")
        if status not in UNRESOLVED_ITEM_STATUSES or not due:
            continue
        late = (as_of - date.fromisoformat(due)).days
        if late <= 0:
            continue
        key, title = str(item.get("item_id", "")), item.get("title", "")
        assigned = "、".join(item.get("assigned_to") or ())
        status_zh, status_en = ITEM_STATUSES.get(status, (status, status))
        yield Signal(
            "item_overdue",
            "yellow",
            f"协调事项“{title}”（{key}）应于 {due} 前解决，已逾期 {late} 天，"
            f"当前状态：{status_zh}；责任单位：{assigned}",
            f"Coordination item “{title}” ({key}) was due on {due}: {late} days overdue, "
            f"{status_en}; assigned to {', '.join(item.get('assigned_to') or ())}",
            {"type": "coordination_item", "key": key},
            {
                "due_date": due,
                "days_overdue": late,
                "status": status,
                "assigned_to": list(item.get("assigned_to") or ()),
            },
        )


def _stalled(
    code: str, facts: ProjectFacts, as_of: date, thresholds: Thresholds
) -> Iterable[Signal]:
    stage = facts.project.get("stage")
    if stage not in thresholds.active_stages or facts.last_changed is None:
        return
    idle = (as_of - facts.last_changed).days
    limit = thresholds.stalled_days
    if idle < limit:
        return
    changed = facts.last_changed.isoformat()
    yield Signal(
        "stalled",
        "yellow",
        f"项目处于{STAGES.get(str(stage), str(stage))}阶段，已 {idle} 天无任何记录更新"
        f"（最近更新 {changed}；{limit} 天无更新即为停滞）",
        f"The project ({stage}) has had no record changed for {idle} days (last change "
        f"{changed}; stalled after {limit} days)",
        {"type": "project", "key": code},
        {"days_without_change": idle, "last_changed": changed, "stalled_days": limit},
    )


# --- formatting and exact numbers ---------------------------------------------------------------


def _is_construction_start(milestone: Mapping[str, Any]) -> bool:
    kind = milestone.get("kind")
    if kind is not None:
        return bool(kind == "construction_start")
    return bool(CONSTRUCTION_START_NAME.search(str(milestone.get("name", ""))))


def _number(value: Any) -> str:
    """A threshold as people write it: 1.5, 10, 0.8."""
    exact = _exact(value)
    if exact.denominator == 1:
        return str(exact.numerator)
    return format(Decimal(exact.numerator) / Decimal(exact.denominator), "f").rstrip("0")


def _rounded(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half up to ``places`` decimal places."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _percent(share: Fraction) -> float:
    """A share as a percentage, rounded to one decimal place."""
    return float(_rounded(share * 100, 1))


def _pct(share: Fraction, sign: str = "%") -> str:
    """A share as a percentage for a message: ``45.5%``, ``80%``."""
    return str(_rounded(share * 100, 1)).removesuffix(".0") + sign


def _money(amount: Fraction) -> str:
    """An amount of 10,000 CNY with thousands separators and no trailing zeros."""
    text = format(_rounded(amount, 6), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _json_number(amount: Fraction) -> int | float:
    return amount.numerator if amount.denominator == 1 else float(amount)


def _setting_value(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value
