"""The supervision API (DESIGN §6): the board, one project, the summary, the scorecard and the
dispatch report; ``supervision`` scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.core.extensions import db
from hub.core.http import city_today
from hub.core.wire import decode_cursor, encode_cursor, page_limit
from hub.sharing.readers import reader
from hub.supervision import dispatch as dispatch_report
from hub.supervision import scorecard as scorecards
from hub.supervision import service
from hub.supervision.downloads import report_file
from hub.supervision.report_xlsx import MEDIA_TYPE as XLSX
from hub.supervision.rules import rules
from hub.supervision.schemas import (
    AsOfQuerySchema,
    BoardQuerySchema,
    BoardSchema,
    CursorSchema,
    DispatchQuerySchema,
    DispatchSchema,
    ProjectViewSchema,
    ScorecardQuerySchema,
    ScorecardSchema,
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


@blp.route("/scorecard", methods=["GET"])
@audited(scorecards.SCORECARD)
@require_scope(SCOPE)
@blp.arguments(ScorecardQuerySchema, location="query", as_kwargs=True)
@blp.response(200, ScorecardSchema)
def scorecard(**query: Any) -> scorecards.Scorecard:
    """Each department over a period: permits decided within their statutory working days,
    grant requests answered in time, coordination items resolved by their due date, progress
    reports on time, and its connectors' last success; every figure with its cases."""
    today = city_today()
    start, end = query.get("start"), query.get("end")
    if start is None or end is None:
        start, end = scorecards.last_full_month(today)
    return scorecards.scorecard(
        db.session,
        rules(),
        start,
        end,
        today,
        grant_response_days=current_app.config["GRANT_RESPONSE_DAYS"],
    )


_REPORT_RESPONSE = {
    "description": "The report: JSON (format=json), a printable HTML page without scripts "
    "(format=html), or an XLSX workbook with a sheet per section (format=xlsx).",
    "content": {
        "application/json": {"schema": DispatchSchema},
        "text/html": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@blp.route("/dispatch", methods=["GET"])
@audited(dispatch_report.DISPATCH)
@require_scope(SCOPE)
@blp.arguments(DispatchQuerySchema, location="query", as_kwargs=True)
@blp.response(200, DispatchSchema)
@blp.doc(responses={"200": _REPORT_RESPONSE})
def dispatch(**query: Any) -> dispatch_report.Dispatch | Response:
    """The monthly progress dispatch report (调度通报) as of the month's last day: totals and
    rates, the red and yellow projects with reasons and leaders, coordination items opened
    and closed, and the scorecard; as JSON, printable HTML or XLSX."""
    today = city_today()
    period = query.get("period") or scorecards.last_full_month(today)[0].strftime("%Y-%m")
    settings = rules()
    report = dispatch_report.dispatch(
        db.session,
        settings,
        period,
        today,
        grant_response_days=current_app.config["GRANT_RESPONSE_DAYS"],
    )
    if query["format"] == "json":
        return report
    rendered = report_file(DispatchSchema().dump(report), query["format"], settings.zone)
    html = query["format"] == "html"
    return Response(
        rendered.content,
        mimetype=rendered.mimetype,
        headers=rendered.headers(attachment=not html),
    )
