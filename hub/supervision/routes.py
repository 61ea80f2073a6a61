"""The supervision API (DESIGN §6): the board, one project, the summary; ``supervision`` scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.core.extensions import db
from hub.core.http import city_today
from hub.core.wire import decode_cursor, encode_cursor, page_limit
from hub.sharing.readers import reader
from hub.supervision import service
from hub.supervision.rules import rules
from hub.supervision.schemas import (
    AsOfQuerySchema,
    BoardQuerySchema,
    BoardSchema,
    CursorSchema,
    ProjectViewSchema,
    SummaryQuerySchema,
    SummarySchema,
)

SCOPE = "supervision"
blp = Blueprint(
    "supervision",
    __name__,
    url_prefix="/api/v1/supervision",
    description="Signals and views of the projects for the leading group's office and leaders.",
)
BOARD_FIELDS = ("project_code", "name", "stage", "responsible_leader", "lead_department")


def _days(as_of: date | None) -> tuple[date, date]:
    """The day asked about (today by default) and today, in the city."""
    today = city_today()
    return as_of or today, today


@blp.route("/projects", methods=["GET"])
@audited(service.BOARD)
@require_scope(SCOPE)
@blp.arguments(BoardQuerySchema, location="query", as_kwargs=True)
@blp.response(200, BoardSchema)
def board(**query: Any) -> dict[str, Any]:
    """Projects with their status and signals as of a day, filtered, a page at a time."""
    as_of, today = _days(query.get("as_of"))
    after = decode_cursor(query["cursor"], CursorSchema())["p"] if query.get("cursor") else None
    filters = service.Filters(
        admin_division=query.get("admin_division"),
        leader=query.get("leader"),
        department=query.get("department"),
        category=query.get("category"),
        status=query.get("status"),
    )
    page = service.board(
        db.session, rules(), as_of, today, filters, after=after, limit=page_limit(query)
    )
    items = [
        {
            **{name: judged.project.get(name) for name in BOARD_FIELDS},
            "status": judged.status,
            "signals": [signal.as_dict() for signal in judged.signals],
        }
        for judged in page.items
    ]
    return {
        "as_of": page.as_of,
        "items": items,
        "next_cursor": encode_cursor({"p": page.next_after}) if page.next_after else None,
        "calendar_warnings": page.calendar_warnings,
    }


@blp.route("/projects/<string:code>", methods=["GET"])
@audited(service.PROJECT, "project/{code}")
@require_scope(SCOPE)
@blp.arguments(AsOfQuerySchema, location="query", as_kwargs=True)
@blp.response(200, ProjectViewSchema)
def project(code: str, **query: Any) -> dict[str, Any]:
    """One project as of a day: milestones, factors, problem list, progress, signals."""
    as_of, today = _days(query.get("as_of"))
    view = service.project_view(db.session, rules(), code, as_of, today, reader())
    return {
        "as_of": view.as_of,
        "project": view.project,
        "status": view.status,
        "signals": view.signals,
        "last_changed": view.last_changed,
        "milestones": view.milestones,
        "factors": {"land": view.land, "funding": view.funding, "permits": view.permits},
        "coordination_items": view.coordination_items,
        "progress_reports": view.progress_reports,
        "withheld": view.withheld,
        "calendar_warnings": view.calendar_warnings,
    }


@blp.route("/summary", methods=["GET"])
@audited(service.SUMMARY)
@require_scope(SCOPE)
@blp.arguments(SummaryQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SummarySchema)
def summary(**query: Any) -> service.Summary:
    """The projects as of a day by group: counts by status, annual plan, invested, rate."""
    as_of, today = _days(query.get("as_of"))
    return service.summary(db.session, rules(), as_of, today, query["group_by"])
