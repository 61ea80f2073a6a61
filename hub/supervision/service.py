"""Supervision's views of the projects as of a day (DESIGN §6): the board, one project, the
summary by group.

Every view judges projects the same way: their records as they stood at the end of ``as_of``
(:mod:`hub.supervision.facts`), the signals of :mod:`hub.supervision.signals` under the app's
:class:`~hub.supervision.rules.Rules`, and a status that is the worst of them. A view walks
the projects in code order, a chunk at a time: two queries per chunk, whatever the number of
records. Working days counted in a year the calendar does not know are collected as the
view's ``calendar_warnings``.

Reads change nothing, so nothing is audited here but what a project's page discloses (its
records go through the reader's :class:`~hub.sharing.policy.ReaderView`, as every read does);
the board and the summary show only open fields and signals, which never quote a protected
value.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from hub.core.errors import NotFound
from hub.sharing.policy import ReaderView
from hub.supervision import facts as history
from hub.supervision.rules import Rules
from hub.supervision.signals import (
    PENDING_PERMIT_STATUSES,
    UNRESOLVED_ITEM_STATUSES,
    PermitClock,
    ProjectFacts,
    Signal,
    Status,
    latest_report,
    milestone_delay,
    permit_clock,
    project_signals,
    status_of,
)
from schemas import registry
from schemas.land_parcel import SUPPLY_STATUSES
from schemas.workdays import WorkCalendar

# What the audit log calls these reads, when a project's page disclosed protected fields (and
# what a refused call was refused).
BOARD = "supervision.board"
PROJECT = "supervision.project"
SUMMARY = "supervision.summary"
STATUSES: tuple[Status, ...] = ("green", "yellow", "red")
GroupBy = Literal["admin_division", "leader", "lead_department", "category"]
GROUP_BY: tuple[GroupBy, ...] = ("admin_division", "leader", "lead_department", "category")
# progress reports a project's page lists, newest first
LATEST_REPORTS = 12
# projects read per chunk when a view needs them all, and at most when filters skip many
CHUNK_MAX = 500
# projects judged at once, at least, when only projects of some status are shown
STATUS_BATCH = 50


@dataclass(frozen=True)
class Filters:
    """Which projects a view shows; None matches any. ``department`` matches the lead
    department or the department of a task-force member."""

    admin_division: str | None = None
    leader: str | None = None
    department: str | None = None
    category: str | None = None
    status: Status | None = None

    def admit(self, project: Mapping[str, Any]) -> bool:
        """Whether ``project`` (its data) passes every filter but ``status``."""
        if self.admin_division is not None and project.get("admin_division") != self.admin_division:
            return False
        if self.category is not None and project.get("category") != self.category:
            return False
        if self.leader is not None and _leader(project) != self.leader:
            return False
        if self.department is not None:
            members = {member.get("department") for member in project.get("task_force") or ()}
            if project.get("lead_department") != self.department and self.department not in members:
                return False
        return True


@dataclass(frozen=True)
class Judged:
    """A project judged as of a day: its facts (on the board and in the summary, only the
    records a signal can look at: see ``facts``), signals and status."""

    facts: ProjectFacts
    signals: list[Signal]
    status: Status

    @property
    def project(self) -> Mapping[str, Any]:
        """The project record's data."""
        return self.facts.project


@dataclass
class Judgement:
    """Projects judged as of one day, and the years whose working days were guessed."""

    rules: Rules
    as_of: date
    today: date
    unknown_years: set[int] = field(default_factory=set)

    @property
    def calendar_warnings(self) -> list[str]:
        """One message per year counted Monday to Friday."""
        return WorkCalendar.warnings(self.unknown_years, self.today)

    def judge(self, facts: ProjectFacts) -> Judged:
        """The signals and status of one project."""
        signals = project_signals(
            facts,
            self.as_of,
            calendar=self.rules.calendar,
            thresholds=self.rules.thresholds,
            unknown_years=self.unknown_years,
        )
        return Judged(facts, signals, status_of(signals))

    def walk(
        self,
        session: Session,
        filters: Filters,
        *,
        after: str | None,
        wanted: Callable[[], int],
    ) -> Iterator[Judged]:
        """The projects live at the end of ``as_of`` after ``after`` that pass ``filters``,
        judged, in code order, for as long as the caller iterates.

        Projects are read a chunk at a time (more at once when filters skip many); their
        records are read for as many as the caller still ``wanted()`` (at least
        ``STATUS_BATCH`` when only some statuses pass), so that a page judges few projects it
        will not show.
        """
        cutoff = history.end_of_day(self.as_of, self.rules.zone)
        history.plan_serially(session)
        chunk, exhausted = max(1, wanted()), False
        waiting: deque[history.ProjectHead] = deque()
        while waiting or not exhausted:
            if not waiting:
                read = history.project_heads(
                    session, cutoff, self.rules.zone, after=after, limit=chunk
                )
                waiting.extend(head for head in read.heads if filters.admit(head.data))
                exhausted, after = read.scanned < chunk, read.last_code
                chunk = max(chunk, min(chunk * 2, CHUNK_MAX))
                continue
            size = max(1, wanted()) if filters.status is None else max(wanted(), STATUS_BATCH)
            heads = [waiting.popleft() for _ in range(min(size, len(waiting)))]
            for facts in history.load_facts(
                session, cutoff, heads, as_of=self.as_of, relevant_only=True
            ):
                judged = self.judge(facts)
                if filters.status is None or judged.status == filters.status:
                    yield judged


# --- the board ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardPage:
    """A page of the board: projects with their status and signals, and where to go on."""

    as_of: date
    items: list[Judged]
    next_after: str | None
    calendar_warnings: list[str]


def board(
    session: Session,
    rules: Rules,
    as_of: date,
    today: date,
    filters: Filters = Filters(),
    *,
    after: str | None = None,
    limit: int = 100,
) -> BoardPage:
    """Up to ``limit`` projects after the code ``after`` that pass ``filters``, judged as of
    ``as_of``; ``next_after`` is the code to continue after, None on the last page."""
    judgement = Judgement(rules, as_of, today)
    items: list[Judged] = []
    # one more than the page, to know whether there is a next page
    for judged in judgement.walk(
        session, filters, after=after, wanted=lambda: limit + 1 - len(items)
    ):
        if len(items) == limit:
            return BoardPage(as_of, items, _code(items[-1].project), judgement.calendar_warnings)
        items.append(judged)
    return BoardPage(as_of, items, None, judgement.calendar_warnings)


# --- the summary --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Projects of a group by status, and their investment this year."""

    group: str
    projects: int = 0
    green: int = 0
    yellow: int = 0
    red: int = 0
    annual_plan: Decimal = Decimal(0)
    invested_this_year: Decimal = Decimal(0)

    def add(self, judged: Judged, as_of: date) -> None:
        """Count one project, with its latest progress report of ``as_of``'s year."""
        self.projects += 1
        setattr(self, judged.status, getattr(self, judged.status) + 1)
        report = latest_report(judged.facts.progress_reports, as_of)
        if report is not None:
            self.annual_plan += _decimal(report.get("annual_plan"))
            self.invested_this_year += _decimal(report.get("invested_this_year"))

    @property
    def rate(self) -> float | None:
        """Invested this year as a percentage of the annual plan (one decimal), if planned."""
        return _percent(self.invested_this_year, self.annual_plan)


@dataclass(frozen=True)
class Summary:
    """The projects as of a day, tallied by group (in group order), and in all."""

    as_of: date
    group_by: GroupBy
    groups: list[Tally]
    totals: Tally
    calendar_warnings: list[str]


def summary(session: Session, rules: Rules, as_of: date, today: date, group_by: GroupBy) -> Summary:
    """Every project live at the end of ``as_of``, judged and tallied by ``group_by``."""
    judgement = Judgement(rules, as_of, today)
    groups: dict[str, Tally] = {}
    totals = Tally("")
    for judged in judgement.walk(session, Filters(), after=None, wanted=lambda: CHUNK_MAX):
        name = _group_of(judged.project, group_by)
        groups.setdefault(name, Tally(name)).add(judged, as_of)
        totals.add(judged, as_of)
    ordered = [groups[name] for name in sorted(groups)]
    return Summary(as_of, group_by, ordered, totals, judgement.calendar_warnings)


def _group_of(project: Mapping[str, Any], group_by: GroupBy) -> str:
    if group_by == "leader":
        return _leader(project) or ""
    return str(project.get(group_by) or "")


# --- one project --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectView:
    """One project as of a day (DESIGN §6): the project, its milestones with their delays,
    its factors (land, funding, permits), its problem list and latest progress reports, and
    its signals; each record as the reader may see it, ``withheld`` naming by type the
    fields it may not."""

    as_of: date
    project: dict[str, Any]
    status: Status
    signals: list[Signal]
    last_changed: date | None
    milestones: list[dict[str, Any]]
    land: dict[str, Any]
    funding: dict[str, Any]
    permits: list[dict[str, Any]]
    coordination_items: list[dict[str, Any]]
    progress_reports: list[dict[str, Any]]
    withheld: dict[str, list[str]]
    calendar_warnings: list[str]


def project_view(
    session: Session, rules: Rules, code: str, as_of: date, today: date, reader: ReaderView
) -> ProjectView:
    """The project ``code`` as of ``as_of`` for ``reader``; 404 if it was not live then."""
    cutoff = history.end_of_day(as_of, rules.zone)
    history.plan_serially(session)
    head = history.project_head(session, cutoff, rules.zone, code)
    if head is None:
        raise NotFound(f"There was no project {code} at the end of {as_of.isoformat()}.")
    judgement = Judgement(rules, as_of, today)
    (facts,) = history.load_facts(session, cutoff, [head], as_of=as_of)
    judged = judgement.judge(facts)
    shown = _Shown(reader, judgement)
    project = shown.one("project", facts.project)
    permits = [
        {**permit, **_clock_fields(_decision_clock(stored, judgement))}
        for permit, stored in zip(shown.all("permit", facts.permits), facts.permits, strict=True)
    ]
    items = [
        {**item, "days_overdue": _days_overdue(item, as_of)}
        for item in shown.all("coordination_item", facts.coordination_items)
    ]
    land = {
        "by_supply_status": _supply_counts(facts.land_parcels),
        "parcels": shown.all("land_parcel", facts.land_parcels),
    }
    return ProjectView(
        as_of=as_of,
        project=project,
        status=judged.status,
        signals=judged.signals,
        last_changed=facts.last_changed,
        milestones=[
            {**milestone, "delay_days": milestone_delay(milestone, as_of)}
            for milestone in project.get("milestones") or ()
        ],
        land=land,
        funding=_funding(facts, as_of, shown.all("funding", facts.funding)),
        permits=permits,
        coordination_items=items,
        progress_reports=shown.all("progress_report", _latest_reports(facts, as_of)),
        withheld=shown.withheld,
        # last: every working day of the view has been counted
        calendar_warnings=judgement.calendar_warnings,
    )


class _Shown:
    """Records with their computed fields as of the day, as ``reader`` may see them."""

    def __init__(self, reader: ReaderView, judgement: Judgement) -> None:
        self.reader = reader
        self.judgement = judgement
        self.withheld: dict[str, list[str]] = {}

    def one(self, type_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        record_type = registry()[type_name]
        presented = record_type.present(
            data,
            self.judgement.as_of,
            self.judgement.rules.calendar,
            unknown_years=self.judgement.unknown_years,
        )
        key = str(data.get(record_type.key_field, ""))
        shown, withheld = self.reader.visible(record_type, key, presented)
        self.withheld[type_name] = withheld
        return shown

    def all(self, type_name: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self.withheld.setdefault(type_name, self.reader.withheld_fields(registry()[type_name]))
        return [self.one(type_name, data) for data in records]


def _supply_counts(parcels: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(SUPPLY_STATUSES, 0)
    for parcel in parcels:
        status = str(parcel.get("supply_status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _funding(facts: ProjectFacts, as_of: date, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """This year's funding against the latest progress report's annual plan."""
    report = latest_report(facts.progress_reports, as_of)
    plan = _decimal(report.get("annual_plan")) if report is not None else None
    this_year = [line for line in facts.funding if line.get("fiscal_year") == as_of.year]
    allocated = sum((_decimal(line.get("allocated")) for line in this_year), Decimal(0))
    disbursed = sum((_decimal(line.get("disbursed")) for line in this_year), Decimal(0))
    return {
        "fiscal_year": as_of.year,
        "annual_plan": _number(plan) if plan is not None else None,
        "allocated": _number(allocated),
        "disbursed": _number(disbursed),
        "allocated_of_plan": _percent(allocated, plan) if plan is not None else None,
        "disbursed_of_plan": _percent(disbursed, plan) if plan is not None else None,
        "lines": lines,
    }


def _decision_clock(permit: Mapping[str, Any], judgement: Judgement) -> PermitClock | None:
    """A permit's statutory clock: at ``as_of`` while pending, at its decision once approved
    (by its ``approved_at``), none otherwise."""
    status, as_of = permit.get("status"), judgement.as_of
    if status == "approved" and permit.get("approved_at"):
        as_of = min(as_of, date.fromisoformat(permit["approved_at"]))
    elif status not in PENDING_PERMIT_STATUSES:
        return None
    return permit_clock(
        permit,
        as_of,
        judgement.rules.calendar,
        judgement.rules.thresholds,
        unknown_years=judgement.unknown_years,
    )


def _clock_fields(clock: PermitClock | None) -> dict[str, Any]:
    if clock is None:
        return {"deadline": None, "working_days_used": None, "working_days_left": None}
    return {
        "deadline": clock.deadline.isoformat(),
        "working_days_used": clock.used,
        "working_days_left": clock.left,
    }


def _days_overdue(item: Mapping[str, Any], as_of: date) -> int:
    due = item.get("due_date")
    if item.get("status") not in UNRESOLVED_ITEM_STATUSES or not due:
        return 0
    return max(0, (as_of - date.fromisoformat(due)).days)


def _latest_reports(facts: ProjectFacts, as_of: date) -> list[Mapping[str, Any]]:
    """The latest progress reports up to ``as_of``'s month, newest first."""
    month = f"{as_of.year:04d}-{as_of.month:02d}"
    reports = [r for r in facts.progress_reports if str(r.get("period", "")) <= month]
    reports.sort(key=lambda report: str(report.get("period", "")), reverse=True)
    return reports[:LATEST_REPORTS]


# --- small helpers ------------------------------------------------------------------------------


def _code(project: Mapping[str, Any]) -> str:
    return str(project["project_code"])


def _leader(project: Mapping[str, Any]) -> str | None:
    leader = project.get("responsible_leader")
    return str(leader.get("name")) if isinstance(leader, Mapping) else None


def _decimal(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal(0)
    return Decimal(str(value))


def _number(amount: Decimal) -> int | float:
    """An amount for JSON: an integer when whole."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _percent(part: Decimal, whole: Decimal | None) -> float | None:
    """``part`` as a percentage of ``whole``, one decimal; None without a positive whole."""
    if whole is None or whole <= 0:
        return None
    return float((part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
