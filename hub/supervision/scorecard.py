"""The departments' scorecard (考核, DESIGN §6): how promptly each did its part over a period.

For each department, four figures, each the share of its cases handled in time, with the
cases themselves (so that every figure links to what it counts), and its connectors' last
success:

- **permits** it published that were decided in the period (approved, on ``approved_at``;
  rejected, on the day the permit became rejected; a decision published after the day it is
  dated counts in the period it was published in): in time when the working days from
  ``submitted_at`` to the decision are within ``statutory_days``; also the median of those
  working days, and the permits still pending past their limit at the period's end (listed,
  outside the share);
- **grants** it owns whose answer was due in the period (``respond_by``, which the hub set
  ``GRANT_RESPONSE_DAYS`` after the application): in time when decided by then; a request
  the applicant withdrew before the deadline does not count;
- **coordination items** assigned to it that fell due in the period: in time when resolved
  by their ``due_date``; an item counts for (and, late, against) each department assigned;
- **progress reports** due in the period: a project under way (``active_stages``) at the end
  of month M owes its report for M by the ``report_due_workday``-th working day of M+1; it is
  in time when first published by the end of that day. It counts for the department that
  published it, else the one that published the project's latest report, else the project's.

Everything is taken as it stood at the end of the period's last day (:mod:`~hub.supervision.
states`), so a past period's scorecard never changes; working days come from the app's
calendar. Connectors' runs are kept for a while only (``hub.connector_runs.service.
prune_runs``), so a last success long past may be forgotten.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from urllib.parse import quote

from sqlalchemy.orm import Session

from hub.auth import service as auth
from hub.connector_runs import service as connector_runs
from hub.sharing import grants
from hub.supervision import facts as history
from hub.supervision.rules import Rules
from hub.supervision.signals import PENDING_PERMIT_STATUSES, period_end, permit_clock
from hub.supervision.states import State, latest_publishers, record_states, status_since
from schemas.progress_report import report_key
from schemas.workdays import WorkCalendar

# What the audit log calls this read (a refused call's action).
SCORECARD = "supervision.scorecard"
# cases listed per figure, the late ones first; the counts always cover them all
CASE_LIMIT = 100
DECIDED_PERMIT_STATUSES = ("approved", "rejected")
FIGURES = ("permits", "grants", "coordination_items", "progress_reports")
Outcome = Literal["in_time", "late", "pending_overdue"]
_OUTCOME_ORDER = {"late": 0, "pending_overdue": 1, "in_time": 2}


@dataclass(frozen=True)
class Case:
    """One thing a figure counts: the record (or grant) it is, when it was due, when it was
    done (None if not by the period's end), and how late (calendar days; working days over
    the limit for a permit)."""

    type: str
    key: str
    project_code: str | None
    outcome: Outcome
    due: date
    done: date | None
    days_late: int
    working_days: int | None = None
    statutory_days: int | None = None

    @property
    def href(self) -> str:
        """Where the API serves it."""
        if self.type == "grant":
            return f"/api/v1/grants/{self.key}"
        return f"/api/v1/records/{self.type}/{quote(self.key, safe='')}"


@dataclass
class Figure:
    """A department's cases of one kind, and the share handled in time."""

    all_cases: list[Case] = field(default_factory=list)

    @property
    def in_time(self) -> int:
        return sum(1 for case in self.all_cases if case.outcome == "in_time")

    @property
    def late(self) -> int:
        return sum(1 for case in self.all_cases if case.outcome == "late")

    @property
    def total(self) -> int:
        """The cases judged: in time or late."""
        return self.in_time + self.late

    @property
    def pending_overdue(self) -> int:
        """Permits still pending past their limit (not in the share)."""
        return sum(1 for case in self.all_cases if case.outcome == "pending_overdue")

    @property
    def share(self) -> float | None:
        """In time, as a percentage of the cases judged (one decimal); None without any."""
        return percent(self.in_time, self.total)

    @property
    def median_working_days(self) -> float | None:
        """The median working days a decided permit took; None without any."""
        days = [
            case.working_days
            for case in self.all_cases
            if case.working_days is not None and case.outcome != "pending_overdue"
        ]
        return float(statistics.median(days)) if days else None

    @property
    def cases(self) -> list[Case]:
        """Up to ``CASE_LIMIT`` cases: late first, then pending past the limit, then in time;
        each by due day and key."""
        ordered = sorted(
            self.all_cases, key=lambda c: (_OUTCOME_ORDER[c.outcome], c.due, c.type, c.key)
        )
        return ordered[:CASE_LIMIT]

    @property
    def truncated(self) -> bool:
        return len(self.all_cases) > CASE_LIMIT


@dataclass(frozen=True)
class ConnectorSuccess:
    """A department's connector and when it last finished a run that succeeded."""

    name: str
    last_success: datetime | None


@dataclass
class DepartmentScore:
    """One department's figures over the period, and its place in the ranking."""

    department: str
    name: str = ""
    permits: Figure = field(default_factory=Figure)
    grants: Figure = field(default_factory=Figure)
    coordination_items: Figure = field(default_factory=Figure)
    progress_reports: Figure = field(default_factory=Figure)
    connectors: list[ConnectorSuccess] = field(default_factory=list)
    rank: int | None = None

    @property
    def figures(self) -> list[Figure]:
        return [getattr(self, name) for name in FIGURES]

    @property
    def cases(self) -> int:
        """The cases judged across the four figures."""
        return sum(figure.total for figure in self.figures)

    @property
    def score(self) -> float | None:
        """The share of all its judged cases handled in time (percent, one decimal)."""
        return percent(sum(figure.in_time for figure in self.figures), self.cases)


@dataclass(frozen=True)
class Scorecard:
    """Every department with a case or a connector, ranked by ``score`` (those without a
    judged case last, by id)."""

    start: date
    end: date
    departments: list[DepartmentScore]
    grant_response_days: int
    report_due_workday: int
    calendar_warnings: list[str]

    @property
    def as_of(self) -> date:
        return self.end


def scorecard(
    session: Session,
    rules: Rules,
    start: date,
    end: date,
    today: date,
    *,
    grant_response_days: int,
) -> Scorecard:
    """The scorecard of the days ``start`` to ``end`` (both included), as of the end of
    ``end``."""
    count = _Count(session, rules, start, end)
    count.permits()
    count.grants()
    count.coordination_items()
    count.progress_reports()
    count.connectors()
    names = {department.id: department.name for department in auth.list_departments(session)}
    departments = sorted(count.scores.values(), key=_ranking_key)
    _rank(departments)
    for score in departments:
        score.name = names.get(score.department, score.department)
    return Scorecard(
        start,
        end,
        departments,
        grant_response_days,
        rules.thresholds.report_due_workday,
        WorkCalendar.warnings(count.unknown_years, today),
    )


def last_full_month(today: date) -> tuple[date, date]:
    """The first and last day of the month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage with one decimal; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    exact = Decimal(part) * 100 / Decimal(whole)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class _Count:
    """The cases of the period, counted into each department's figures."""

    def __init__(self, session: Session, rules: Rules, start: date, end: date) -> None:
        self.session, self.rules, self.start, self.end = session, rules, start, end
        self.zone = rules.zone
        self.calendar = rules.calendar
        self.begins = history.end_of_day(start - timedelta(days=1), rules.zone)
        self.cutoff = history.end_of_day(end, rules.zone)
        self.unknown_years: set[int] = set()
        self.scores: dict[str, DepartmentScore] = {}

    def of(self, department: str) -> DepartmentScore:
        return self.scores.setdefault(department, DepartmentScore(department))

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def within(self, day: date) -> bool:
        return self.start <= day <= self.end

    def permits(self) -> None:
        wanted = sorted({*DECIDED_PERMIT_STATUSES, *PENDING_PERMIT_STATUSES})
        states = record_states(
            self.session,
            "permit",
            self.cutoff,
            lambda version: version.c.data["status"].as_string().in_(wanted),
        )
        decided = [s.record_id for s in states if s.data.get("status") in DECIDED_PERMIT_STATUSES]
        decided_since = status_since(self.session, decided, self.cutoff)
        for state in states:
            case = self._permit_case(state, decided_since)
            if case is not None:
                self.of(state.published_by).permits.all_cases.append(case)

    def _permit_case(self, state: State, decided_since: dict[int, datetime]) -> Case | None:
        data = state.data
        submitted, limit = data.get("submitted_at"), data.get("statutory_days")
        if not submitted or not limit:
            return None
        submitted_on = date.fromisoformat(submitted)
        unknown = self.unknown_years
        status = data.get("status")
        if status in PENDING_PERMIT_STATUSES:
            clock = permit_clock(data, self.end, self.calendar, unknown_years=unknown)
            if clock is None or not clock.overdue:
                return None
            return Case(
                "permit",
                state.key,
                state.project_code,
                "pending_overdue",
                clock.deadline,
                None,
                clock.used - limit,
                clock.used,
                limit,
            )
        # counted in the period the decision was published in (an approval published after
        # the day it is dated counts then, not never), judged by the day it was made
        published = self.day(decided_since[state.record_id])
        decided = published
        if status == "approved":
            if not data.get("approved_at"):
                return None
            decided = date.fromisoformat(data["approved_at"])
        if not self.within(max(decided, published)):
            return None
        used = self.calendar.workdays_between(submitted_on, decided, unknown_years=unknown)
        deadline = self.calendar.add_workdays(submitted_on, limit, unknown_years=unknown)
        return Case(
            "permit",
            state.key,
            state.project_code,
            "in_time" if used <= limit else "late",
            deadline,
            decided,
            max(0, used - limit),
            used,
            limit,
        )

    def grants(self) -> None:
        for grant in grants.grants_due(self.session, self.begins, self.cutoff):
            decided, withdrawn = grant.decided_at, grant.revoked_at
            if decided is None and withdrawn is not None and withdrawn <= grant.respond_by:
                continue  # the applicant withdrew it before the answer was due
            if decided is not None and decided >= self.cutoff:
                decided = None
            due = self.day(grant.respond_by)
            done = self.day(decided) if decided is not None else None
            in_time = decided is not None and decided <= grant.respond_by
            self.of(grant.owner_id).grants.all_cases.append(
                Case(
                    "grant",
                    str(grant.id),
                    None,
                    "in_time" if in_time else "late",
                    due,
                    done,
                    0 if in_time else max(0, ((done or self.end) - due).days),
                )
            )

    def coordination_items(self) -> None:
        first, last = self.start.isoformat(), self.end.isoformat()
        states = record_states(
            self.session,
            "coordination_item",
            self.cutoff,
            lambda version: version.c.data["due_date"].as_string().between(first, last),
        )
        for state in states:
            data = state.data
            due = date.fromisoformat(data["due_date"])
            resolved = data.get("status") == "resolved" and data.get("resolved_at")
            done = date.fromisoformat(data["resolved_at"]) if resolved else None
            in_time = done is not None and done <= due
            case = Case(
                "coordination_item",
                state.key,
                state.project_code,
                "in_time" if in_time else "late",
                due,
                done,
                0 if in_time else max(0, ((done or self.end) - due).days),
            )
            for department in dict.fromkeys(data.get("assigned_to") or ()):
                self.of(department).coordination_items.all_cases.append(case)

    def report_due_days(self) -> dict[str, date]:
        """The months whose progress reports fell due in the period, with the day each was
        due."""
        nth = self.rules.thresholds.report_due_workday
        due: dict[str, date] = {}
        year, month = _month_before(*_month_before(self.start.year, self.start.month))
        while (year, month) <= (self.end.year, self.end.month):
            following = _month_after(year, month)
            noted: set[int] = set()
            day = self.calendar.nth_workday_of_month(*following, nth, unknown_years=noted)
            if self.within(day):
                self.unknown_years |= noted
                due[f"{year:04d}-{month:02d}"] = day
            year, month = following
        return due

    def progress_reports(self) -> None:
        due_days = self.report_due_days()
        if not due_days:
            return
        periods = sorted(due_days)
        reports = {
            state.key: state
            for state in record_states(
                self.session,
                "progress_report",
                self.cutoff,
                lambda version: version.c.data["period"].as_string().in_(periods),
            )
        }
        stages = sorted(self.rules.thresholds.active_stages)
        owed: list[tuple[str, date, State]] = []
        for period in periods:
            projects = record_states(
                self.session,
                "project",
                history.end_of_day(period_end(period), self.zone),
                lambda version: version.c.data["stage"].as_string().in_(stages),
            )
            owed.extend((period, due_days[period], project) for project in projects)
        missing = {p.key for period, _, p in owed if report_key(p.key, period) not in reports}
        publishers = latest_publishers(self.session, "progress_report", missing, self.cutoff)
        for period, due, project in owed:
            key = report_key(project.key, period)
            report = reports.get(key)
            published = self.day(report.first_published) if report is not None else None
            deadline = history.end_of_day(due, self.zone)
            in_time = report is not None and report.first_published < deadline
            if report is not None:
                department = report.published_by
            else:
                department = publishers.get(project.key, project.published_by)
            self.of(department).progress_reports.all_cases.append(
                Case(
                    "progress_report",
                    key,
                    project.key,
                    "in_time" if in_time else "late",
                    due,
                    published,
                    0 if in_time else max(0, ((published or self.end) - due).days),
                )
            )

    def connectors(self) -> None:
        known = [
            runs.connector
            for runs in connector_runs.latest_runs(self.session, 1)
            if runs.connector.first_reported_at < self.cutoff
        ]
        successes = connector_runs.last_successes(
            self.session, [c.name for c in known], before=self.cutoff
        )
        for connector in known:
            self.of(connector.department_id).connectors.append(
                ConnectorSuccess(connector.name, successes.get(connector.name))
            )


def _ranking_key(score: DepartmentScore) -> tuple[bool, float, int, str]:
    value = score.score
    return (value is None, -(value or 0.0), -score.cases, score.department)


def _rank(ordered: Iterable[DepartmentScore]) -> None:
    """Places 1, 2, 2, 4... by score; none for a department without a judged case."""
    previous: float | None = None
    place = 0
    for position, score in enumerate(ordered, start=1):
        if score.score is None:
            score.rank = None
            continue
        if score.score != previous:
            place, previous = position, score.score
        score.rank = place


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)
