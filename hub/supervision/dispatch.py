"""The monthly progress dispatch report (调度通报, DESIGN §6), as of a month's last day.

What the leading group's office circulates each month: how many projects are green, yellow
and red (in all and by district), this year's investment against the plan and against the
share of the year elapsed (序时进度), month by month; the red and yellow projects with the
reasons and their responsible leader; the coordination items opened and closed in the month;
and the departments' scorecard for the month.

Every figure is taken as the records stood at the end of the month's last day, judged as the
board judges them (:class:`hub.supervision.service.Judgement`), so a month's report is the
same however often and however late it is generated. The report shows open fields only.
Its JSON form (``schemas.DispatchSchema``) is what the HTML and XLSX renderings are made
from, so the three agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from hub.supervision import facts as history
from hub.supervision.rules import Rules
from hub.supervision.scorecard import Scorecard, scorecard
from hub.supervision.service import CHUNK_MAX, Filters, Judged, Judgement, Tally
from hub.supervision.signals import (
    UNRESOLVED_ITEM_STATUSES,
    Signal,
    latest_report,
    period_end,
    year_share,
)
from hub.supervision.states import record_states

# What the audit log calls this read (a refused call's action).
DISPATCH = "supervision.dispatch"
FORMATS = ("json", "html", "xlsx")
_SEVERITY_ORDER = {"red": 0, "yellow": 1}


@dataclass
class Totals(Tally):
    """Every project's tally, with the shares of each status and the share of the year
    elapsed at the report's day (序时进度), all in percent with one decimal."""

    time_share: float | None = None

    def _of_projects(self, count: int) -> float | None:
        return _percent(Decimal(count), Decimal(self.projects))

    @property
    def green_share(self) -> float | None:
        return self._of_projects(self.green)

    @property
    def yellow_share(self) -> float | None:
        return self._of_projects(self.yellow)

    @property
    def red_share(self) -> float | None:
        return self._of_projects(self.red)

    @property
    def points_behind(self) -> float | None:
        """How many points the completion rate is behind the time share (negative: ahead)."""
        if self.rate is None or self.time_share is None:
            return None
        return float(Decimal(str(self.time_share)) - Decimal(str(self.rate)))


@dataclass(frozen=True)
class MonthInvestment:
    """This year's investment at the end of one month: the projects' latest reports up to it
    (10,000 CNY), the plan pro rata to the year elapsed, and the rates (percent)."""

    period: str
    annual_plan: Decimal
    invested_this_year: Decimal
    time_share: float
    planned_to_date: Decimal

    @property
    def rate(self) -> float | None:
        return _percent(self.invested_this_year, self.annual_plan)


@dataclass(frozen=True)
class ListedProject:
    """A red or yellow project: who answers for it and why it is listed (red reasons
    first)."""

    project_code: str
    name: str
    admin_division: str
    stage: str
    lead_department: str
    responsible_leader: Mapping[str, Any] | None
    status: str
    signals: list[Signal]


@dataclass(frozen=True)
class ItemLine:
    """A coordination item as the report lists it (open fields only)."""

    item_id: str
    project_code: str
    project_name: str
    title: str
    factor: str
    meeting: str | None
    raised_at: str
    due_date: str
    assigned_to: list[str]
    status: str
    resolved_at: str | None


@dataclass(frozen=True)
class ItemsOfMonth:
    """The problem list's month: items raised and resolved in it, and what was left open
    (and overdue) at its end."""

    opened: list[ItemLine]
    closed: list[ItemLine]
    open_at_end: int
    overdue_at_end: int

    @property
    def opened_count(self) -> int:
        return len(self.opened)

    @property
    def closed_count(self) -> int:
        return len(self.closed)


@dataclass(frozen=True)
class Dispatch:
    """The dispatch report of one month."""

    period: str
    as_of: date
    totals: Totals
    by_district: list[Tally]
    investment_by_month: list[MonthInvestment]
    red: list[ListedProject]
    yellow: list[ListedProject]
    coordination_items: ItemsOfMonth
    scorecard: Scorecard
    calendar_warnings: list[str]

    @property
    def title(self) -> str:
        """The report's title, e.g. 2026年10月重大项目推进调度通报."""
        return f"{self.as_of.year}年{self.as_of.month}月重大项目推进调度通报"


@dataclass
class _Walk:
    """What one pass over the month's projects collects."""

    totals: Totals
    districts: dict[str, Tally] = field(default_factory=dict)
    listed: dict[str, list[ListedProject]] = field(default_factory=lambda: defaultdict(list))
    names: dict[str, str] = field(default_factory=dict)


def dispatch(
    session: Session, rules: Rules, period: str, today: date, *, grant_response_days: int
) -> Dispatch:
    """The dispatch report of ``period`` (``YYYY-MM``), as of its last day."""
    as_of = period_end(period)
    judgement = Judgement(rules, as_of, today)
    walk = _Walk(Totals("", time_share=_percent_of(year_share(as_of))))
    for judged in judgement.walk(session, Filters(), after=None, wanted=lambda: CHUNK_MAX):
        _take(walk, judged, as_of)
    cutoff = history.end_of_day(as_of, rules.zone)
    months = _investment_by_month(session, cutoff, as_of, set(walk.names))
    items = _items_of_month(session, cutoff, as_of, walk.names)
    card = scorecard(
        session,
        rules,
        as_of.replace(day=1),
        as_of,
        today,
        grant_response_days=grant_response_days,
    )
    warnings = sorted({*judgement.calendar_warnings, *card.calendar_warnings})
    return Dispatch(
        period=period,
        as_of=as_of,
        totals=walk.totals,
        by_district=[walk.districts[name] for name in sorted(walk.districts)],
        investment_by_month=months,
        red=walk.listed["red"],
        yellow=walk.listed["yellow"],
        coordination_items=items,
        scorecard=card,
        calendar_warnings=warnings,
    )


def _take(walk: _Walk, judged: Judged, as_of: date) -> None:
    project = judged.project
    code = str(project.get("project_code", ""))
    division = str(project.get("admin_division") or "")
    walk.names[code] = str(project.get("name") or "")
    walk.totals.add(judged, as_of)
    walk.districts.setdefault(division, Tally(division)).add(judged, as_of)
    if judged.status == "green":
        return
    leader = project.get("responsible_leader")
    walk.listed[judged.status].append(
        ListedProject(
            project_code=code,
            name=walk.names[code],
            admin_division=division,
            stage=str(project.get("stage") or ""),
            lead_department=str(project.get("lead_department") or ""),
            responsible_leader=leader if isinstance(leader, Mapping) else None,
            status=judged.status,
            signals=sorted(judged.signals, key=lambda s: _SEVERITY_ORDER[s.severity]),
        )
    )


def _investment_by_month(
    session: Session, cutoff: datetime, as_of: date, live: set[str]
) -> list[MonthInvestment]:
    """Month by month from January, each live project's latest report of the year up to
    that month, added up: the last month's totals are the report's."""
    first, last = f"{as_of.year:04d}-01", f"{as_of.year:04d}-{as_of.month:02d}"
    reports: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for state in record_states(
        session,
        "progress_report",
        cutoff,
        lambda version: version.c.data["period"].as_string().between(first, last),
    ):
        if state.project_code in live:
            reports[state.project_code].append(state.data)
    months = []
    for month in range(1, as_of.month + 1):
        end = period_end(f"{as_of.year:04d}-{month:02d}")
        plan = invested = Decimal(0)
        for project_reports in reports.values():
            report = latest_report(project_reports, end)
            if report is not None:
                plan += _decimal(report.get("annual_plan"))
                invested += _decimal(report.get("invested_this_year"))
        share = year_share(end)
        months.append(
            MonthInvestment(
                period=end.strftime("%Y-%m"),
                annual_plan=plan,
                invested_this_year=invested,
                time_share=_percent_of(share),
                planned_to_date=_money(Fraction(plan) * share),
            )
        )
    return months


def _items_of_month(
    session: Session, cutoff: datetime, as_of: date, names: Mapping[str, str]
) -> ItemsOfMonth:
    first, last = as_of.replace(day=1).isoformat(), as_of.isoformat()

    def wanted(version: Any) -> Any:
        data = version.c.data
        status = data["status"].as_string()
        return or_(
            data["raised_at"].as_string().between(first, last),
            and_(status == "resolved", data["resolved_at"].as_string().between(first, last)),
            status.in_(sorted(UNRESOLVED_ITEM_STATUSES)),
        )

    opened, closed, open_at_end, overdue_at_end = [], [], 0, 0
    for state in record_states(session, "coordination_item", cutoff, wanted):
        if state.project_code not in names:
            continue
        line = _item_line(state.data, names[state.project_code])
        if first <= line.raised_at <= last:
            opened.append(line)
        if line.status == "resolved" and line.resolved_at and first <= line.resolved_at <= last:
            closed.append(line)
        if line.status in UNRESOLVED_ITEM_STATUSES:
            open_at_end += 1
            overdue_at_end += line.due_date < last
    opened.sort(key=lambda line: (line.raised_at, line.item_id))
    closed.sort(key=lambda line: (line.resolved_at or "", line.item_id))
    return ItemsOfMonth(opened, closed, open_at_end, overdue_at_end)


def _item_line(data: Mapping[str, Any], project_name: str) -> ItemLine:
    return ItemLine(
        item_id=str(data.get("item_id", "")),
        project_code=str(data.get("project_code", "")),
        project_name=project_name,
        title=str(data.get("title", "")),
        factor=str(data.get("factor", "")),
        meeting=data.get("meeting"),
        raised_at=str(data.get("raised_at", "")),
        due_date=str(data.get("due_date", "")),
        assigned_to=list(data.get("assigned_to") or ()),
        status=str(data.get("status", "")),
        resolved_at=data.get("resolved_at"),
    )


def _decimal(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal(0)
    return Decimal(str(value))


def _money(amount: Fraction) -> Decimal:
    """An amount of 10,000 CNY to two decimals (one yuan is 0.0001; a cent of 万元 is
    plenty for a plan pro rata)."""
    exact = Decimal(amount.numerator) / Decimal(amount.denominator)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _percent(part: Decimal, whole: Decimal) -> float | None:
    if whole <= 0:
        return None
    return float((part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _percent_of(share: Fraction) -> float:
    exact = Decimal(share.numerator) * 100 / Decimal(share.denominator)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
