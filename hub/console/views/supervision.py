"""The console's supervision pages (DESIGN §6, §7): the board of projects with their status
and signals as of a day, one project's supervision page, and the summary by group.

Who sees what. The leading group's office and the leaders (role ``office``: the
``supervision`` scope, which the API asks too) see every project. An officer (a role that may
publish, ``records:write``, without ``supervision``) sees the board of the projects its own
department serves, as lead department or in the task force: the board's ``department`` filter,
fixed to the officer's department and computed by the same service; and those projects' pages.
The summary covers every project: it is the office's alone. Anyone else is refused (403).

Every figure is the supervision service's, as the API computes it. The board and the summary
show open fields and signals only, which never quote a protected value; a project's page shows
its records through the reader's sharing view (a withheld field is shown as such) and declares
the API's audit action, so that a page that showed protected fields is audited like the API's
read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from hub.auth import service as auth
from hub.auth.guard import audited
from hub.console.blueprint import blp
from hub.console.locale import is_english
from hub.console.pages import FormErrors, render_page, require_scope
from hub.console.signin import console_identity
from hub.console.views.projects import (
    CATEGORY_LABELS,
    MILESTONE_LABELS,
    STAGE_LABELS,
    FieldShown,
    Milestone,
    finished_days_late,
    label,
    shown_field,
)
from hub.core.errors import Forbidden, NotFound, flatten_messages
from hub.core.extensions import db
from hub.core.http import city_today
from hub.core.wire import PageQuerySchema, decode_cursor, encode_cursor
from hub.records import service as records_service
from hub.sharing.readers import reader
from hub.supervision import service
from hub.supervision.labels import DIVISION as DIVISION_NAMES
from hub.supervision.rules import rules
from hub.supervision.schemas import EARLIEST, LATEST, CursorSchema
from hub.supervision.signals import Signal, period_end, year_share
from schemas import registry
from schemas.project import CATEGORIES

SUPERVISION = "supervision"
# an officer's role: it may publish for its department
OFFICER = "records:write"
PROJECTS_PER_PAGE = 25
STATUS_COLOURS = {"green": "#00703c", "yellow": "#e0a800", "red": "#d4351c"}

STATUS_LABELS = {"green": _l("Green"), "yellow": _l("Yellow"), "red": _l("Red")}
SIGNAL_LABELS = {
    "permit_overdue": _l("Permit overdue"),
    "milestone_delayed": _l("Milestone late"),
    "investment_behind": _l("Investment behind schedule"),
    "report_missing": _l("Progress report missing"),
    "land_not_ready": _l("Land not ready"),
    "funding_short": _l("Funding short"),
    "item_overdue": _l("Coordination item overdue"),
    "stalled": _l("Stalled"),
}
GROUP_BY_LABELS = {
    "admin_division": _l("District"),
    "leader": _l("Responsible leader"),
    "lead_department": _l("Lead department"),
    "category": _l("Category"),
}
MILESTONE_KIND_LABELS = {
    "construction_start": _l("Construction start"),
    "completion": _l("Completion"),
}
SUPPLY_LABELS = {
    "planned": _l("Planned"),
    "acquiring": _l("Being acquired"),
    "ready": _l("Ready"),
    "supplied": _l("Supplied"),
}
LAND_USE_LABELS = {
    "industrial": _l("Industrial"),
    "commercial": _l("Commercial"),
    "residential": _l("Residential"),
    "public": _l("Public"),
    "infrastructure": _l("Infrastructure"),
    "mixed": _l("Mixed use"),
}
SUPPLY_METHOD_LABELS = {
    "transfer": _l("Transfer"),
    "allocation": _l("Allocation"),
    "lease": _l("Lease"),
}
SOURCE_LABELS = {
    "central_budget": _l("Central budget"),
    "special_bond": _l("Special bond"),
    "local_budget": _l("Local budget"),
    "bank_loan": _l("Bank loan"),
    "private_capital": _l("Private capital"),
    "other": _l("Other"),
}
PERMIT_ITEM_LABELS = {
    "land_pre_review": _l("Land pre-review"),
    "site_selection": _l("Site selection"),
    "planning_permit": _l("Planning permit"),
    "eia": _l("Environmental impact assessment"),
    "energy_review": _l("Energy review"),
    "construction_permit": _l("Construction permit"),
    "completion_acceptance": _l("Completion acceptance"),
    "other": _l("Other approval"),
}
PERMIT_STATUS_LABELS = {
    "not_started": _l("Not started"),
    "submitted": _l("Submitted"),
    "accepted": _l("Accepted"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}
FACTOR_LABELS = {
    "land": _l("Land"),
    "funding": _l("Funding"),
    "permit": _l("Permits"),
    "talent": _l("Talent"),
    "other": _l("Other"),
}
ITEM_STATUS_LABELS = {
    "open": _l("Open"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "escalated": _l("Escalated"),
}
# the colour of a problem's state, in words beside it
ITEM_STATUS_COLOURS = {"open": "blue", "in_progress": "blue", "resolved": "green", "escalated": ""}
_ENTER_DATE = _l("Enter a date such as 2026-10-20.")


def _within_years(day: date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ma.ValidationError(
            _("Choose a day from %(first)s to %(last)s.", first=EARLIEST, last=LATEST)
        )


class AsOfForm(ma.Schema):
    """The day a page is computed for (today when empty)."""

    class Meta:
        unknown = ma.EXCLUDE

    as_of = fields.Date(error_messages={"invalid": _ENTER_DATE}, validate=_within_years)


class BoardForm(AsOfForm, PageQuerySchema):
    """The board's filters, as the API's board takes them."""

    admin_division = fields.String(
        validate=validate.Regexp(r"^[0-9]{6}\Z", error=_l("Enter a 6-digit division code."))
    )
    leader = fields.String(validate=validate.Length(max=50))
    department = fields.String(validate=validate.Length(max=100))
    status = fields.String(
        validate=validate.OneOf(service.STATUSES, error=_l("Choose a status from the list."))
    )
    category = fields.String(
        validate=validate.OneOf(CATEGORIES, error=_l("Choose a category from the list."))
    )


class SummaryForm(AsOfForm):
    """How the summary groups the projects."""

    group_by = fields.String(
        load_default="admin_division",
        validate=validate.OneOf(service.GROUP_BY, error=_l("Choose a grouping from the list.")),
    )


BOARD_FILTERS = ("as_of", "admin_division", "leader", "department", "status", "category")


def _typed(names: Iterable[str]) -> dict[str, str]:
    """What the page's query says of ``names`` (and the page position), stripped."""
    wanted = {*names, "cursor", "limit"}
    return {
        name: value.strip()
        for name, value in request.args.items()
        if name in wanted and value.strip()
    }


def _load(schema: ma.Schema, typed: dict[str, str]) -> tuple[dict[str, Any], FormErrors]:
    try:
        return schema.load(typed), {}
    except ma.ValidationError as exc:
        return {}, flatten_messages(exc.messages)


def _own_department() -> str | None:
    """None for the office and leaders, who see every project; an officer's department,
    whose projects alone it sees."""
    identity = console_identity()
    return None if SUPERVISION in identity.scopes else identity.department_id


def division_label(code: str) -> str:
    """A division's code with its name, where the console knows it."""
    name = DIVISION_NAMES.get(code)
    return f"{name} {code}" if name else code


def _message(signal: Signal) -> str:
    return signal.message_en if is_english() else signal.message


def _signals(signals: Sequence[Signal]) -> list[dict[str, Any]]:
    return [
        {
            "code": signal.code,
            "severity": signal.severity,
            "label": label(SIGNAL_LABELS, signal.code),
            "message": _message(signal),
            "record": signal.record,
        }
        for signal in signals
    ]


def _leader(project: Mapping[str, Any]) -> dict[str, str]:
    leader = project.get("responsible_leader")
    if not isinstance(leader, Mapping):
        return {"name": "", "title": ""}
    return {"name": str(leader.get("name", "")), "title": str(leader.get("title", ""))}


def _amount(value: Any) -> str:
    """An amount (10,000 CNY) with thousands separators and at most two decimals; a dash when
    there is none."""
    if value is None or isinstance(value, bool):
        return "—"
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return f"{int(amount):,}"
    return f"{amount.quantize(Decimal('0.01')):,}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _department_names() -> dict[str, str]:
    return {department.id: department.name for department in auth.list_departments(db.session)}


@blp.app_template_global("supervision_url")
def supervision_url(code: str, project: Mapping[str, Any]) -> str | None:
    """The supervision page of a project (its data as the reader sees it), if the signed-in
    person may open it: the office and leaders, or an officer of a department serving it."""
    identity = console_identity()
    if SUPERVISION not in identity.scopes:
        if OFFICER not in identity.scopes:
            return None
        if not service.Filters(department=identity.department_id).admit(project):
            return None
    return url_for("console.supervision_project", code=code)


# --- the board -----------------------------------------------------------------------------------


def _status_chart(counts: Mapping[str, int]) -> dict[str, Any]:
    """The projects by status, as a ring."""
    return {
        "tooltip": {"trigger": "item"},
        "legend": {"bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["45%", "70%"],
                "center": ["50%", "45%"],
                "label": {"formatter": "{b}\n{c}"},
                "data": [
                    {
                        "name": label(STATUS_LABELS, status),
                        "value": counts.get(status, 0),
                        "itemStyle": {"color": STATUS_COLOURS[status]},
                    }
                    for status in service.STATUSES
                ],
            }
        ],
    }


def _stacked_chart(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each row's projects by status, as stacked horizontal bars."""
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 24, "top": 36, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "inverse": True, "data": [row["label"] for row in rows]},
        "series": [
            {
                "name": label(STATUS_LABELS, status),
                "type": "bar",
                "stack": "status",
                "barMaxWidth": 28,
                "itemStyle": {"color": STATUS_COLOURS[status]},
                "data": [row[status] for row in rows],
            }
            for status in service.STATUSES
        ],
    }


class _Tally:
    """The projects a person may see as of a day, judged: what the filters' choices offer,
    and the filtered projects counted by status and district."""

    def __init__(self, as_of: date, today: date, own: str | None, filters: service.Filters):
        self.divisions: set[str] = set()
        self.leaders: set[str] = set()
        self.lead_departments: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.by_division: dict[str, Counter[str]] = defaultdict(Counter)
        judgement = service.Judgement(rules(), as_of, today)
        seen = service.Filters(department=own)
        for judged in judgement.walk(
            db.session, seen, after=None, wanted=lambda: service.CHUNK_MAX
        ):
            project = judged.project
            self.divisions.add(str(project.get("admin_division", "")))
            self.leaders.add(_leader(project)["name"])
            self.lead_departments.add(str(project.get("lead_department", "")))
            if filters.admit(project):
                self.counts[judged.status] += 1
                self.by_division[str(project.get("admin_division", ""))][judged.status] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def division_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "label": division_label(code),
                "code": code,
                **{status: self.by_division[code][status] for status in service.STATUSES},
                "projects": sum(self.by_division[code].values()),
            }
            for code in sorted(self.by_division)
        ]


def _options(values: Iterable[str], current: str | None, anything: str) -> list[tuple[str, str]]:
    found = sorted(value for value in values if value)
    if current and current not in found:
        found.append(current)
    return [("", anything), *((value, value) for value in found)]


def _board_row(judged: service.Judged, as_of: date, today: date) -> dict[str, Any]:
    project = judged.project
    code = str(project.get("project_code", ""))
    division = str(project.get("admin_division", ""))
    return {
        "code": code,
        "name": project.get("name", ""),
        "url": url_for(
            "console.supervision_project", code=code, as_of=as_of if as_of != today else None
        ),
        "stage": label(STAGE_LABELS, project.get("stage")),
        "category": label(CATEGORY_LABELS, project.get("category")),
        "division": division_label(division),
        "leader": _leader(project),
        "lead_department": project.get("lead_department", ""),
        "status": judged.status,
        "signals": _signals(judged.signals),
    }


@blp.route("/supervision")
@audited(service.BOARD)
@require_scope(SUPERVISION, OFFICER)
def supervision() -> tuple[str, int]:
    """The board: the projects with their status and signals as of a day, filtered by district,
    leader, department, status and category, a page at a time; the status of all of them in
    counts and charts."""
    own = _own_department()
    typed = _typed(BOARD_FILTERS)
    if own is not None:
        typed.pop("department", None)
    query, errors = _load(BoardForm(), typed)
    today = city_today()
    context: dict[str, Any] = {
        "values": typed,
        "errors": errors,
        "own_department": own,
        "today": today,
        "status_options": [("", _("Any status"))]
        + [(status, label(STATUS_LABELS, status)) for status in service.STATUSES],
        "category_options": [("", _("Any category"))]
        + [(category, label(CATEGORY_LABELS, category)) for category in CATEGORIES],
    }
    if errors:
        return render_page(
            "console/supervision.html",
            422,
            **context,
            rows=[],
            tally=None,
            next_cursor=None,
            as_of=today,
            division_options=[("", _("Any district"))],
            leader_options=[("", _("Any leader"))],
            department_options=[("", _("Any department"))],
            calendar_warnings=[],
        )
    as_of: date = query.get("as_of") or today
    filters = service.Filters(
        admin_division=query.get("admin_division"),
        leader=query.get("leader"),
        department=own or query.get("department"),
        category=query.get("category"),
    )
    after = decode_cursor(query["cursor"], CursorSchema())["p"] if query.get("cursor") else None
    page = service.board(
        db.session,
        rules(),
        as_of,
        today,
        replace(filters, status=query.get("status")),
        after=after,
        limit=query.get("limit") or PROJECTS_PER_PAGE,
    )
    tally = _Tally(as_of, today, own, filters)
    names = _department_names()
    departments = [(department, f"{name}（{department}）") for department, name in names.items()]
    departments += [(lead, lead) for lead in sorted(tally.lead_departments - names.keys()) if lead]
    typed_department = query.get("department")
    if typed_department and typed_department not in {value for value, _ in departments}:
        departments.append((typed_department, typed_department))
    division_rows = tally.division_rows()
    return render_page(
        "console/supervision.html",
        **context,
        as_of=as_of,
        rows=[_board_row(judged, as_of, today) for judged in page.items],
        next_cursor=encode_cursor({"p": page.next_after}) if page.next_after else None,
        tally=tally,
        status_counts=[
            {
                "status": status,
                "count": tally.counts[status],
                "url": _board_url(typed, status=status),
            }
            for status in service.STATUSES
        ],
        division_rows=division_rows,
        status_chart=_status_chart(tally.counts),
        division_chart=_stacked_chart(division_rows),
        division_options=[("", _("Any district"))]
        + [
            (code, division_label(code))
            for code in sorted(tally.divisions | {query.get("admin_division") or ""})
            if code
        ],
        leader_options=_options(tally.leaders, query.get("leader"), _("Any leader")),
        department_options=[("", _("Any department")), *departments],
        calendar_warnings=page.calendar_warnings,
        filtered=any(name in typed for name in BOARD_FILTERS if name != "as_of"),
    )


def _board_url(typed: Mapping[str, str], **changes: str) -> str:
    """The board with the filters typed, changed as said (and from its first page)."""
    arguments: dict[str, Any] = {k: v for k, v in typed.items() if k != "cursor"}
    arguments.update(changes)
    return url_for("console.supervision", **arguments)


# --- one project ---------------------------------------------------------------------------------


def _check_serves(code: str, own: str | None) -> None:
    """Refuse an officer the page of a project its department does not serve (as the project
    stands now: lead department or task force)."""
    if own is None:
        return
    record = records_service.get_record(db.session, registry()["project"], code)
    if record is None or record.deleted:
        raise NotFound(f"There is no project {code}.")
    if not service.Filters(department=own).admit(record.data):
        raise Forbidden(_("Only the departments serving this project, and the office, see it."))


def _cell(
    type_name: str,
    name: str,
    data: Mapping[str, Any],
    withheld: Sequence[str],
    labels: Mapping[str, Any] | None = None,
) -> FieldShown:
    """A record's field as a table cell: an enumerated value by its word, a withheld field as
    withheld."""
    if labels is not None and name not in withheld and name in data:
        return FieldShown(name, text=label(labels, data[name]))
    return shown_field(registry()[type_name], name, data, withheld)


def _milestones(milestones: Sequence[Mapping[str, Any]]) -> list[Milestone]:
    timeline = [
        Milestone(
            name=str(milestone.get("name", "")),
            kind=label(MILESTONE_KIND_LABELS, milestone.get("kind"))
            if milestone.get("kind") in MILESTONE_KIND_LABELS
            else "",
            planned_date=milestone.get("planned_date"),
            actual_date=milestone.get("actual_date"),
            status=str(milestone.get("status", "pending")),
            status_label=label(MILESTONE_LABELS, milestone.get("status")),
            # as of the page's date, which may be in the past
            days_late=milestone.get("delay_days") or 0,
            finished_days_late=finished_days_late(
                milestone.get("planned_date"), milestone.get("actual_date")
            ),
        )
        for milestone in milestones
    ]
    return sorted(timeline, key=lambda milestone: str(milestone.planned_date or ""))


def _investment_chart(reports: Sequence[Mapping[str, Any]], year: int) -> dict[str, Any] | None:
    """This year's reports: invested this year against the time share of the annual plan."""
    this_year = sorted(
        (r for r in reports if str(r.get("period", "")).startswith(f"{year:04d}-")),
        key=lambda report: str(report["period"]),
    )
    this_year = [r for r in this_year if "invested_this_year" in r and "annual_plan" in r]
    if not this_year:
        return None
    periods = [str(report["period"]) for report in this_year]
    targets = [
        round(
            float(report["annual_plan"]) * float(year_share(period_end(str(report["period"])))), 2
        )
        for report in this_year
    ]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value", "name": _("10,000 CNY")},
        "series": [
            {
                "name": _("Invested this year"),
                "type": "bar",
                "barMaxWidth": 32,
                "itemStyle": {"color": "#1d70b8"},
                "data": [report["invested_this_year"] for report in this_year],
            },
            {
                "name": _("Time share of the annual plan"),
                "type": "line",
                "itemStyle": {"color": "#505a5f"},
                "lineStyle": {"type": "dashed"},
                "data": targets,
            },
        ],
    }


def _record_links(view: service.ProjectView) -> set[tuple[str, str]]:
    """The records the page shows, which a signal may link to."""
    keys = {("project", str(view.project.get("project_code", "")))}
    shown = {
        "land_parcel": (view.land["parcels"], "parcel_id"),
        "funding": (view.funding["lines"], "funding_id"),
        "permit": (view.permits, "permit_id"),
        "coordination_item": (view.coordination_items, "item_id"),
        "progress_report": (view.progress_reports, "report_id"),
    }
    for type_name, (found, key_field) in shown.items():
        keys.update((type_name, str(record.get(key_field, ""))) for record in found)
    return keys


@blp.route("/supervision/projects/<string:code>")
@audited(service.PROJECT, "project/{code}")
@require_scope(SUPERVISION, OFFICER)
def supervision_project(code: str) -> tuple[str, int]:
    """One project as of a day: its signals, milestones with their delays, factors (land,
    funding, permits), problem list and progress reports."""
    own = _own_department()
    _check_serves(code, own)
    typed = _typed(("as_of",))
    query, errors = _load(AsOfForm(), typed)
    today = city_today()
    as_of: date = query.get("as_of") or today
    view = service.project_view(db.session, rules(), code, as_of, today, reader())
    withheld = view.withheld
    names = _department_names()
    project = view.project
    signals = _signals(view.signals)
    links = _record_links(view)
    for signal in signals:
        record = signal["record"]
        if (record.get("type"), record.get("key")) in links:
            signal["history_url"] = url_for(
                "console.record_history", type_name=record["type"], key=record["key"]
            )
    parcels = [
        {
            "key": parcel.get("parcel_id", ""),
            "cells": [
                _cell("land_parcel", "area_mu", parcel, withheld.get("land_parcel", [])),
                _cell(
                    "land_parcel",
                    "land_use",
                    parcel,
                    withheld.get("land_parcel", []),
                    LAND_USE_LABELS,
                ),
                _cell(
                    "land_parcel",
                    "supply_method",
                    parcel,
                    withheld.get("land_parcel", []),
                    SUPPLY_METHOD_LABELS,
                ),
                _cell(
                    "land_parcel",
                    "supply_status",
                    parcel,
                    withheld.get("land_parcel", []),
                    SUPPLY_LABELS,
                ),
                _cell("land_parcel", "supplied_on", parcel, withheld.get("land_parcel", [])),
                _cell("land_parcel", "transfer_price", parcel, withheld.get("land_parcel", [])),
                _cell("land_parcel", "rights_holder", parcel, withheld.get("land_parcel", [])),
            ],
            "ready": parcel.get("supply_status") in ("ready", "supplied"),
        }
        for parcel in view.land["parcels"]
    ]
    lines = [
        {
            "key": line.get("funding_id", ""),
            "cells": [
                _cell("funding", "source", line, withheld.get("funding", []), SOURCE_LABELS),
                _cell("funding", "fiscal_year", line, withheld.get("funding", [])),
                _cell("funding", "allocated", line, withheld.get("funding", [])),
                _cell("funding", "disbursed", line, withheld.get("funding", [])),
                _cell("funding", "approval_doc", line, withheld.get("funding", [])),
                _cell("funding", "bank_account", line, withheld.get("funding", [])),
            ],
        }
        for line in view.funding["lines"]
    ]
    permits = [
        {
            "key": permit.get("permit_id", ""),
            "item": label(PERMIT_ITEM_LABELS, permit.get("item")),
            "authority": permit.get("authority", ""),
            "status": permit.get("status", ""),
            "status_label": label(PERMIT_STATUS_LABELS, permit.get("status")),
            "pending": permit.get("status") in ("submitted", "accepted"),
            "submitted_at": permit.get("submitted_at"),
            "approved_at": permit.get("approved_at"),
            "permit_no": permit.get("permit_no"),
            "statutory_days": permit.get("statutory_days"),
            "deadline": permit.get("deadline"),
            "used": permit.get("working_days_used"),
            "left": permit.get("working_days_left"),
        }
        for permit in view.permits
    ]
    items = [
        {
            "key": item.get("item_id", ""),
            "title": item.get("title", ""),
            "factor": label(FACTOR_LABELS, item.get("factor")),
            "raised_at": item.get("raised_at"),
            "meeting": item.get("meeting"),
            "raised_by": names.get(item.get("raised_by", ""), item.get("raised_by", "")),
            "assigned_to": [names.get(d, d) for d in item.get("assigned_to") or ()],
            "due_date": item.get("due_date"),
            "status": item.get("status", ""),
            "status_label": label(ITEM_STATUS_LABELS, item.get("status")),
            "status_colour": ITEM_STATUS_COLOURS.get(str(item.get("status")), ""),
            "days_overdue": item.get("days_overdue") or 0,
            "resolution": item.get("resolution"),
            "resolved_at": item.get("resolved_at"),
            "resolved_late": _days_after(item.get("resolved_at"), item.get("due_date")),
            "notes": _cell(
                "coordination_item", "notes", item, withheld.get("coordination_item", [])
            ),
        }
        for item in view.coordination_items
    ]
    reports = [
        {
            "key": report.get("report_id", ""),
            "period": report.get("period", ""),
            "annual_plan": _amount(report.get("annual_plan")),
            "invested_this_year": _amount(report.get("invested_this_year")),
            "invested_to_date": _amount(report.get("invested_to_date")),
            "rate": _rate(report),
            "progress_note": report.get("progress_note"),
            "next_steps": report.get("next_steps"),
            "problems": report.get("problems"),
        }
        for report in view.progress_reports
    ]
    funding = view.funding
    return render_page(
        "console/supervision_project.html",
        422 if errors else 200,
        values=typed,
        errors=errors,
        today=today,
        as_of=as_of,
        code=code,
        project=project,
        project_status=view.status,
        stage=label(STAGE_LABELS, project.get("stage")),
        category=label(CATEGORY_LABELS, project.get("category")),
        division=division_label(str(project.get("admin_division", ""))),
        leader=_leader(project),
        last_changed=view.last_changed,
        signals=signals,
        milestones=_milestones(view.milestones),
        supply=[
            {"status": status, "label": label(SUPPLY_LABELS, status), "count": count}
            for status, count in view.land["by_supply_status"].items()
        ],
        parcels=parcels,
        parcel_columns=[
            _("Area (mu)"),
            _("Land use"),
            _("Supply method"),
            _("Supply status"),
            _("Supplied on"),
            _("Transfer price (10,000 CNY)"),
            _("Rights holder"),
        ],
        funding={
            **funding,
            "annual_plan_text": _amount(funding.get("annual_plan")),
            "allocated_text": _amount(funding.get("allocated")),
            "disbursed_text": _amount(funding.get("disbursed")),
            "allocated_of_plan_text": _percent(funding.get("allocated_of_plan")),
            "disbursed_of_plan_text": _percent(funding.get("disbursed_of_plan")),
        },
        lines=lines,
        permits=permits,
        items=items,
        reports=reports,
        investment_chart=_investment_chart(view.progress_reports, as_of.year),
        calendar_warnings=view.calendar_warnings,
        dossier_url=url_for("console.project", code=code),
        board_url=url_for("console.supervision", as_of=as_of if as_of != today else None),
    )


def _days_after(later: Any, earlier: Any) -> int | None:
    """How many days ``later`` (a date) is after ``earlier``, if it is."""
    if not later or not earlier:
        return None
    days = (date.fromisoformat(str(later)) - date.fromisoformat(str(earlier))).days
    return days if days > 0 else None


def _rate(report: Mapping[str, Any]) -> str:
    """Invested this year as a share of the annual plan."""
    plan, invested = report.get("annual_plan"), report.get("invested_this_year")
    if plan is None or invested is None or not Decimal(str(plan)):
        return "—"
    share = Decimal(str(invested)) * 100 / Decimal(str(plan))
    return f"{share.quantize(Decimal('0.1'))}%"


# --- the summary ---------------------------------------------------------------------------------


def _group_label(group: str, group_by: str) -> str:
    if group_by == "admin_division":
        return division_label(group)
    if group_by == "category":
        return label(CATEGORY_LABELS, group)
    return group or "—"


@blp.route("/supervision/summary")
@audited(service.SUMMARY)
@require_scope(SUPERVISION)
def supervision_summary() -> tuple[str, int]:
    """Every project as of a day, by district, leader, lead department or category: counts by
    status, this year's plan and investment, and the rate."""
    typed = _typed(("as_of", "group_by"))
    query, errors = _load(SummaryForm(), typed)
    today = city_today()
    as_of: date = query.get("as_of") or today
    group_by: service.GroupBy = query.get("group_by") or "admin_division"
    summary = service.summary(db.session, rules(), as_of, today, group_by)
    groups = [
        {
            "label": _group_label(tally.group, group_by),
            "projects": tally.projects,
            "green": tally.green,
            "yellow": tally.yellow,
            "red": tally.red,
            "annual_plan": _amount(tally.annual_plan),
            "invested_this_year": _amount(tally.invested_this_year),
            "rate": _percent(tally.rate),
        }
        for tally in summary.groups
    ]
    totals = summary.totals
    return render_page(
        "console/supervision_summary.html",
        422 if errors else 200,
        values=typed,
        errors=errors,
        as_of=as_of,
        today=today,
        group_by=group_by,
        group_label=label(GROUP_BY_LABELS, group_by),
        group_options=[(name, label(GROUP_BY_LABELS, name)) for name in service.GROUP_BY],
        groups=groups,
        totals={
            "projects": totals.projects,
            "green": totals.green,
            "yellow": totals.yellow,
            "red": totals.red,
            "annual_plan": _amount(totals.annual_plan),
            "invested_this_year": _amount(totals.invested_this_year),
            "rate": _percent(totals.rate),
        },
        chart=_stacked_chart(groups),
        calendar_warnings=summary.calendar_warnings,
    )
