"""The console's supervision reports (``supervision`` scope): the departments' scorecard with
the cases behind each figure, and the monthly dispatch report (调度通报) with its printable
and XLSX downloads.

The pages call the same services as ``/api/v1/supervision/scorecard`` and ``/dispatch``
(:mod:`hub.supervision.scorecard`, :mod:`hub.supervision.dispatch`), for the signed-in
person's role, and the downloads are the API's files (:mod:`hub.supervision.downloads`). The
reports show open fields only, so they read no record through a reader's view and disclose
nothing to audit.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import fields

from hub.auth import service as auth
from hub.console.blueprint import blp
from hub.console.locale import is_english
from hub.console.pages import FormErrors, render_page, require_scope
from hub.console.signin import console_identity
from hub.core.errors import NotFound, flatten_messages
from hub.core.extensions import db
from hub.core.http import city_today
from hub.supervision import charts, dispatch, scorecard
from hub.supervision.downloads import report_file
from hub.supervision.rules import rules
from hub.supervision.schemas import SCORECARD_MAX_DAYS, DispatchSchema
from schemas.progress_report import PERIOD_PATTERN

SCOPE = "supervision"
_ENTER_DATE = _l("Enter a date such as 2026-10-31.")
_ENTER_MONTH = _l("Enter a month such as 2026-10.")
# the figures of a department, in order: (attribute, label)
FIGURES = (
    ("permits", _l("Permits decided in time")),
    ("grants", _l("Sharing requests answered in time")),
    ("coordination_items", _l("Coordination items resolved in time")),
    ("progress_reports", _l("Progress reports on time")),
)


class PeriodForm(ma.Schema):
    """The days a scorecard covers: both, or neither for the last full month."""

    start = fields.Date(data_key="from", error_messages={"invalid": _ENTER_DATE})
    end = fields.Date(data_key="to", error_messages={"invalid": _ENTER_DATE})

    @ma.validates_schema
    def _a_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start is None and end is not None:
            raise ma.ValidationError(_("Enter the first day too."), "from")
        if end is None and start is not None:
            raise ma.ValidationError(_("Enter the last day too."), "to")
        if start is None or end is None:
            return
        if not (date(2000, 1, 1) <= start and end <= date(2100, 12, 31)):
            raise ma.ValidationError(_("Choose days from 2000 to 2100."), "from")
        if end < start:
            raise ma.ValidationError(_("Choose a day on or after the first one."), "to")
        if (end - start).days >= SCORECARD_MAX_DAYS:
            raise ma.ValidationError(
                _("A period may be at most %(n)s days long.", n=SCORECARD_MAX_DAYS), "to"
            )


def _period() -> tuple[dict[str, Any], FormErrors, tuple[date, date]]:
    """The period asked for (the last full month by default): what the form shows, its
    errors, and the days to report on (the default ones when there are errors)."""
    typed = {name: request.args.get(name, "").strip() for name in ("from", "to")}
    typed = {name: value for name, value in typed.items() if value}
    default = scorecard.last_full_month(city_today())
    try:
        values = PeriodForm().load(typed)
    except ma.ValidationError as exc:
        return typed, flatten_messages(exc.messages), default
    start, end = values.get("start"), values.get("end")
    days = (start, end) if start is not None and end is not None else default
    return {"from": days[0].isoformat(), "to": days[1].isoformat()}, {}, days


def _scorecard(days: tuple[date, date]) -> scorecard.Scorecard:
    return scorecard.scorecard(
        db.session,
        rules(),
        days[0],
        days[1],
        city_today(),
        grant_response_days=current_app.config["GRANT_RESPONSE_DAYS"],
    )


def _sees_grants() -> bool:
    return bool(console_identity().scopes & {"grants", "admin"})


def ranking_chart(card: scorecard.Scorecard) -> Markup:
    """The departments with judged cases by their share in time, the best at the top."""
    ranked = [row for row in card.departments if row.rank is not None]
    return charts.bar_chart(
        [row.name or row.department for row in ranked],
        [charts.Series(_("Share in time (%)"), [row.score for row in ranked], charts.DONE_COLOUR)],
        ident="scorecard-ranking",
        title=_("The departments by their share of cases handled in time"),
        horizontal=True,
        maximum=100,
    )


@blp.route("/supervision/scorecard", endpoint="scorecard")
@require_scope(SCOPE)
def scorecard_page() -> tuple[str, int]:
    """Each department over a period: permits, sharing requests, coordination items and
    progress reports handled in time, with links to the cases; its connectors."""
    values, errors, days = _period()
    card = _scorecard(days)
    return render_page(
        "console/scorecard.html",
        422 if errors else 200,
        card=card,
        values=values,
        errors=errors,
        figures=FIGURES,
        chart=ranking_chart(card) if any(r.rank for r in card.departments) else None,
        share_bar=charts.share_bar,
    )


@blp.route("/supervision/scorecard/<department_id>")
@require_scope(SCOPE)
def scorecard_department(department_id: str) -> tuple[str, int]:
    """One department's cases over a period, figure by figure, each linked to its record."""
    department = auth.get_department(db.session, department_id)
    values, errors, days = _period()
    card = _scorecard(days)
    found = [row for row in card.departments if row.department == department.id]
    return render_page(
        "console/scorecard_department.html",
        422 if errors else 200,
        card=card,
        department=department,
        score=found[0] if found else None,
        values=values,
        errors=errors,
        figures=FIGURES,
        sees_grants=_sees_grants(),
        share_bar=charts.share_bar,
    )


# --- the dispatch report ------------------------------------------------------------------------


def _month() -> tuple[str, FormErrors, str]:
    """The month asked for (the last full month by default): as typed, errors, and the
    month to report on."""
    default = scorecard.last_full_month(city_today())[0].strftime("%Y-%m")
    typed = request.args.get("period", "").strip()
    if not typed:
        return default, {}, default
    if not PERIOD_PATTERN.match(typed):
        return typed, {"period": [str(_ENTER_MONTH)]}, default
    return typed, {}, typed


def _report(period: str) -> dict[str, Any]:
    """The dispatch report of ``period`` in its JSON form, as the API gives it."""
    report = dispatch.dispatch(
        db.session,
        rules(),
        period,
        city_today(),
        grant_response_days=current_app.config["GRANT_RESPONSE_DAYS"],
    )
    wire: dict[str, Any] = DispatchSchema().dump(report)
    return wire


def dispatch_charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The page's charts: projects by status in each district, investment month by month."""
    districts, months = report["by_district"], report["investment_by_month"]
    statuses = (("green", _("Green")), ("yellow", _("Yellow")), ("red", _("Red")))
    return {
        "districts": charts.bar_chart(
            [row["group"] or "—" for row in districts],
            [
                charts.Series(
                    label, [row[status] for row in districts], charts.STATUS_COLOURS[status]
                )
                for status, label in statuses
            ],
            ident="dispatch-districts",
            title=_("Projects by status in each district"),
            stacked=True,
        ),
        "investment": charts.bar_chart(
            [row["period"][5:] for row in months],
            [
                charts.Series(
                    _("Planned to date"),
                    [row["planned_to_date"] for row in months],
                    charts.PLAN_COLOUR,
                ),
                charts.Series(
                    _("Invested this year"),
                    [row["invested_this_year"] for row in months],
                    charts.DONE_COLOUR,
                ),
            ],
            ident="dispatch-investment",
            title=_("Investment this year, month by month (10,000 CNY)"),
        ),
    }


@blp.route("/supervision/dispatch", endpoint="dispatch")
@require_scope(SCOPE)
def dispatch_page() -> tuple[str, int]:
    """The dispatch report of a month: its summary, and its printable and XLSX files."""
    typed, errors, period = _month()
    report = _report(period)
    return render_page(
        "console/dispatch.html",
        422 if errors else 200,
        report=report,
        values={"period": typed},
        errors=errors,
        charts=dispatch_charts(report),
        ranking=[row for row in report["scorecard"]["departments"] if row["rank"] is not None],
        share_bar=charts.share_bar,
        english=is_english(),
    )


@blp.route("/supervision/dispatch/<period>.<any(html, xlsx):kind>")
@require_scope(SCOPE)
def dispatch_file(period: str, kind: str) -> Response:
    """The dispatch report of ``period`` as a file to download: printable HTML or XLSX."""
    if not PERIOD_PATTERN.match(period):
        raise NotFound(_("There is no month %(period)s.", period=period))
    rendered = report_file(_report(period), "html" if kind == "html" else "xlsx", rules().zone)
    return Response(
        rendered.content,
        mimetype=rendered.mimetype,
        headers=rendered.headers(attachment=True),
    )
