"""The console's projects pages: the list and search, one project whole (its dossier from
every department, milestones, task force), and the history of any record.

Every record is rendered through the request's reader, exactly as the API's envelope does
(``hub.records.schemas``): a field the user's department may not see is withheld, shown as
such, and never reaches the page. The project and history pages declare the same audit
actions as their API twins, so a page that showed protected fields is audited like the
dossier or history read (``hub.sharing.readers``); the list shows open fields only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from hub.auth import service as auth
from hub.auth.guard import audited
from hub.console.blueprint import blp
from hub.console.locale import format_day
from hub.console.pages import render_page, require_scope
from hub.console.signin import console_identity
from hub.core.errors import flatten_messages, validation_error
from hub.core.extensions import db
from hub.core.http import city_today
from hub.core.wire import PageQuerySchema, decode_cursor, encode_cursor
from hub.records import search
from hub.records import service as records_service
from hub.records.models import Record
from hub.records.schemas import HistoryCursorSchema, ListCursorSchema, envelope, version_envelope
from hub.sharing.readers import reader
from schemas import RecordType, registry
from schemas.base import DecimalNumber, IsoDate
from schemas.project import CATEGORIES, STAGES

PROJECTS_PER_PAGE = 25
VERSIONS_PER_PAGE = 20
GRANT_REQUEST = "console.grant_request"
GRANT_REQUEST_PATH = "/console/grants/new"

STAGE_LABELS = {
    "reserve": _l("Reserve"),
    "preliminary": _l("Preliminary work"),
    "construction": _l("Under construction"),
    "completed": _l("Completed"),
    "suspended": _l("Suspended"),
}
CATEGORY_LABELS = {
    "infrastructure": _l("Infrastructure"),
    "industry": _l("Industry"),
    "culture_tourism": _l("Culture and tourism"),
    "public_service": _l("Public services"),
    "other": _l("Other"),
}
MILESTONE_LABELS = {"pending": _l("Not done yet"), "done": _l("Done"), "delayed": _l("Delayed")}
ROLE_LABELS = {"lead": _l("Lead"), "member": _l("Member"), "liaison": _l("Liaison")}
OPERATION_LABELS = {"created": _l("Created"), "updated": _l("Updated"), "deleted": _l("Deleted")}
TYPE_LABELS = {
    "project": _l("Project"),
    "land_parcel": _l("Land parcels"),
    "funding": _l("Funding"),
    "permit": _l("Permits"),
    "coordination_item": _l("Coordination items"),
    "progress_report": _l("Progress reports"),
}
# The project fields the project page shows in places of their own; any other is listed
# with the project's facts as it is.
PROJECT_FIELDS_PLACED = frozenset(
    {
        "project_code",
        "name",
        "category",
        "stage",
        "admin_division",
        "lead_department",
        "responsible_leader",
        "total_investment",
        "planned_start",
        "planned_completion",
        "milestones",
        "task_force",
        "contacts",
        "description",
    }
)


def label(labels: Mapping[str, Any], value: Any) -> str:
    """The translated word for an enumerated value, or the value itself."""
    found = labels.get(value) if isinstance(value, str) else None
    return str(found) if found is not None else ("" if value is None else str(value))


class ProjectSearchSchema(PageQuerySchema):
    """The projects list's search and filters."""

    class Meta:
        unknown = ma.EXCLUDE

    q = fields.String(validate=validate.Length(max=200))
    admin_division = fields.String(
        validate=validate.Regexp(r"^[0-9]{1,6}\Z", error=_l("Enter up to 6 digits."))
    )
    leader = fields.String(validate=validate.Length(max=50))
    stage = fields.String(
        validate=validate.OneOf(STAGES, error=_l("Choose a stage from the list."))
    )
    category = fields.String(
        validate=validate.OneOf(CATEGORIES, error=_l("Choose a category from the list."))
    )


class HistoryQuerySchema(PageQuerySchema):
    """A history page's position."""

    class Meta:
        unknown = ma.EXCLUDE


@dataclass(frozen=True)
class FieldShown:
    """One field of a record as a page shows it: its value written out (``text``, or one
    line per element in ``lines``), or withheld, with where to ask for it."""

    name: str
    text: str | None = None
    lines: tuple[str, ...] = ()
    kind: str | None = None  # "date" or "decimal": written so, and kept on one line
    withheld: bool = False
    request_url: str | None = None
    changed: bool = False
    removed: bool = False


@dataclass
class Milestone:
    """A milestone on a project's timeline (the project page's and supervision's)."""

    name: str
    planned_date: str | None
    actual_date: str | None
    status: str
    status_label: str = ""
    kind: str = ""
    days_late: int = 0
    finished_days_late: int | None = None

    @property
    def late(self) -> bool:
        """Delayed, or not done past its planned date."""
        return self.status == "delayed" or bool(self.days_late)


def finished_days_late(planned: str | None, actual: str | None) -> int | None:
    """How many days after ``planned`` a milestone was done at ``actual`` (None if not late)."""
    planned_day, actual_day = _day(planned), _day(actual)
    if planned_day is None or actual_day is None or actual_day <= planned_day:
        return None
    return (actual_day - planned_day).days


@dataclass
class Section:
    """The records of one type linked to the project, as a table."""

    type_name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


@cache
def _field_kinds(type_name: str) -> dict[str, str]:
    """The fields of record type ``type_name`` written in a particular way: dates, decimals."""
    kinds: dict[str, str] = {}
    for name, schema_field in registry()[type_name].schema().fields.items():
        if isinstance(schema_field, IsoDate):
            kinds[name] = "date"
        elif isinstance(schema_field, DecimalNumber):
            kinds[name] = "decimal"
    return kinds


def _written(value: Any, kind: str | None = None) -> str:
    """A stored value as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if kind == "date" and isinstance(value, str):
        try:
            return format_day(value)
        except ValueError:
            return value
    if kind == "decimal" and isinstance(value, int | float):
        return f"{Decimal(str(value)):,}"
    if isinstance(value, Mapping):
        return "; ".join(f"{name}: {_written(item)}" for name, item in value.items())
    if isinstance(value, list):
        return ", ".join(_written(item) for item in value)
    return str(value)


def _grant_request_url(record_type: RecordType, name: str) -> str | None:
    """Where the user may ask for a withheld field: only conditional fields are ever granted,
    and only a role that may apply for grants is offered the link."""
    if name not in record_type.fields_of_class("conditional"):
        return None
    if "grants" not in console_identity().scopes:
        return None
    if GRANT_REQUEST in current_app.view_functions:
        return url_for(GRANT_REQUEST, type=record_type.name, fields=name)
    return f"{GRANT_REQUEST_PATH}?{urlencode({'type': record_type.name, 'fields': name})}"


def shown_field(
    record_type: RecordType,
    name: str,
    data: Mapping[str, Any],
    withheld: Sequence[str],
    changed: bool = False,
) -> FieldShown:
    """Field ``name`` of a record's filtered ``data`` as the page shows it."""
    if name in withheld:
        return FieldShown(name, withheld=True, request_url=_grant_request_url(record_type, name))
    if name not in data:
        return FieldShown(name, changed=changed, removed=changed)
    value = data[name]
    kind = _field_kinds(record_type.name).get(name)
    if isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
        return FieldShown(name, lines=tuple(_written(item) for item in value), changed=changed)
    return FieldShown(name, text=_written(value, kind), kind=kind, changed=changed)


def _envelope_fields(
    record_type: RecordType, shown: Mapping[str, Any], names: Sequence[str]
) -> dict[str, FieldShown]:
    return {
        name: shown_field(record_type, name, shown["data"], shown["withheld"]) for name in names
    }


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def milestones_of(data: Mapping[str, Any], today: date) -> list[Milestone]:
    """The project's milestones by planned date, with how late each is."""
    timeline = []
    for item in data.get("milestones") or []:
        planned, actual = item.get("planned_date"), item.get("actual_date")
        status = str(item.get("status", "pending"))
        planned_day = _day(planned)
        days_late = (
            (today - planned_day).days
            if planned_day is not None and status != "done" and planned_day < today
            else 0
        )
        timeline.append(
            Milestone(
                name=str(item.get("name", "")),
                planned_date=planned,
                actual_date=actual,
                status=status,
                status_label=label(MILESTONE_LABELS, status),
                days_late=days_late,
                finished_days_late=finished_days_late(planned, actual),
            )
        )
    return sorted(timeline, key=lambda milestone: str(milestone.planned_date or ""))


def _linked_columns(record_type: RecordType) -> list[str]:
    skipped = {record_type.key_field, "project_code"}
    return [name for name in record_type.sharing if name not in skipped]


def _history_url(record: Mapping[str, Any]) -> str:
    return url_for("console.record_history", type_name=record["type"], key=record["key"])


def _sections(linked: Sequence[Record], today: date) -> list[Section]:
    """A section for every record type linked to projects, with the project's live records."""
    view = reader()
    by_type: dict[str, list[Record]] = defaultdict(list)
    for record in linked:
        by_type[record.type].append(record)
    sections = []
    for name, record_type in registry().items():
        if not record_type.links_project:
            continue
        columns = _linked_columns(record_type)
        section = Section(name, label(TYPE_LABELS, name), columns)
        for record in by_type.get(name, []):
            shown = envelope(record, view, today)
            section.rows.append(
                {
                    "key": record.key,
                    "version": record.version,
                    "updated_at": record.updated_at,
                    "published_by": record.published_by,
                    "history_url": _history_url(shown),
                    "fields": _envelope_fields(record_type, shown, columns),
                }
            )
        sections.append(section)
    return sections


def _project_row(record: Record, today: date) -> dict[str, Any]:
    data = envelope(record, reader(), today)["data"]
    leader = data.get("responsible_leader") or {}
    return {
        "code": record.key,
        "name": data.get("name", ""),
        "stage": label(STAGE_LABELS, data.get("stage")),
        "category": label(CATEGORY_LABELS, data.get("category")),
        "admin_division": data.get("admin_division", ""),
        "lead_department": data.get("lead_department", ""),
        "leader": leader.get("name", "") if isinstance(leader, Mapping) else "",
        "updated_at": record.updated_at,
    }


@blp.route("/projects")
@require_scope("records:read")
def projects() -> tuple[str, int]:
    """The projects: search by code or name, filter by division, leader, stage, category."""
    typed = {name: value.strip() for name, value in request.args.items() if value.strip()}
    try:
        query = ProjectSearchSchema().load(typed)
    except ma.ValidationError as exc:
        return _projects_page(422, typed, flatten_messages(exc.messages), [], None)
    after = None
    if query.get("cursor"):
        position = decode_cursor(query["cursor"], ListCursorSchema())
        after = records_service.ListPosition(position["u"], position["i"])
    found, next_position = search.search_projects(
        db.session,
        text=query.get("q"),
        admin_division=query.get("admin_division"),
        leader=query.get("leader"),
        stage=query.get("stage"),
        category=query.get("category"),
        limit=query.get("limit") or PROJECTS_PER_PAGE,
        after=after,
    )
    next_cursor = None
    if next_position is not None:
        next_cursor = encode_cursor(
            {"u": next_position.updated_at.isoformat(), "i": next_position.id}
        )
    today = city_today()
    rows = [_project_row(record, today) for record in found]
    return _projects_page(200, typed, {}, rows, next_cursor)


def _projects_page(
    status: int,
    values: dict[str, str],
    errors: dict[str, list[str]],
    rows: list[dict[str, Any]],
    next_cursor: str | None,
) -> tuple[str, int]:
    return render_page(
        "console/projects.html",
        status,
        values=values,
        errors=errors,
        rows=rows,
        next_cursor=next_cursor,
        searched=any(name in values for name in ProjectSearchSchema().fields if name != "limit"),
        stage_options=[("", _("Any stage"))] + [(s, label(STAGE_LABELS, s)) for s in STAGES],
        category_options=[("", _("Any category"))]
        + [(c, label(CATEGORY_LABELS, c)) for c in CATEGORIES],
    )


@blp.route("/projects/<string:code>")
@audited(records_service.DOSSIER, "project/{code}")
@require_scope("records:read")
def project(code: str) -> tuple[str, int]:
    """One project whole: its facts, milestones, task force, contacts and every department's
    records about it."""
    project_record, linked = records_service.dossier(db.session, code)
    today = city_today()
    project_type = registry()["project"]
    shown = envelope(project_record, reader(), today)
    data = shown["data"]
    others = [name for name in project_type.sharing if name not in PROJECT_FIELDS_PLACED]
    names = {department.id: department.name for department in auth.list_departments(db.session)}
    return render_page(
        "console/project.html",
        project=shown,
        data=data,
        stage=label(STAGE_LABELS, data.get("stage")),
        category=label(CATEGORY_LABELS, data.get("category")),
        facts=_envelope_fields(project_type, shown, ["total_investment", *others]),
        contacts=shown_field(project_type, "contacts", data, shown["withheld"]),
        milestones=milestones_of(data, today),
        task_force=[
            {
                **member,
                "department": names.get(member.get("department", ""), member.get("department")),
                "role": label(ROLE_LABELS, member.get("role")),
            }
            for member in data.get("task_force") or []
        ],
        sections=_sections(linked, today),
        history_url=_history_url(shown),
    )


@blp.route("/records/<string:type_name>/<string:key>/history")
@audited(records_service.HISTORY, "{type_name}/{key}")
@require_scope("records:read")
def record_history(type_name: str, key: str) -> tuple[str, int]:
    """Every version of a record, newest first: who published it, when, and what changed."""
    record_type = records_service.record_type_named(type_name)
    record = records_service.require_record(db.session, record_type, key)
    try:
        query = HistoryQuerySchema().load(
            {name: value for name, value in request.args.items() if value}
        )
    except ma.ValidationError as exc:
        raise validation_error(exc) from exc
    before = None
    if query.get("cursor"):
        before = decode_cursor(query["cursor"], HistoryCursorSchema())["v"]
    found, next_before = records_service.history(
        db.session, record, limit=query.get("limit") or VERSIONS_PER_PAGE, before_version=before
    )
    view, today = reader(), city_today()
    versions = [
        _version_shown(record_type, version_envelope(record, version, view, today))
        for version in found
    ]
    return render_page(
        "console/record_history.html",
        record=record,
        type_label=label(TYPE_LABELS, type_name),
        versions=versions,
        next_cursor=encode_cursor({"v": next_before}) if next_before is not None else None,
    )


def _version_shown(record_type: RecordType, version: Mapping[str, Any]) -> dict[str, Any]:
    """One version for the history page: its fields, the changed ones marked. A field the
    reader may not see is never named as changed, nor shown."""
    withheld = version["withheld"]
    data = version["data"]
    changed = [name for name in version["changed_fields"] if name not in withheld]
    marked = set(changed) if version["operation"] == "updated" else set()
    names = [
        name
        for name in [*record_type.sharing, *sorted(data.keys() - record_type.sharing.keys())]
        if name in data or name in withheld or name in marked
    ]
    return {
        **version,
        "operation_label": label(OPERATION_LABELS, version["operation"]),
        "changed": changed if version["operation"] == "updated" else [],
        "fields": [
            shown_field(record_type, name, data, withheld, changed=name in marked) for name in names
        ],
    }
