"""The console's connectors pages: each connector's latest run and counts, when it last
succeeded, and whether it has gone stale; one connector's runs.

Administrators see every connector; an officer sees the connectors of their department.

Connectors do not say how often they run, so the interval is inferred: the median gap between
the starts of a connector's recent runs (the median shrugs off a manual run or a missed one).
A connector is stale when it has not succeeded within ``STALE_AFTER`` intervals; with fewer
than two runs there is no interval, and it is never stale.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from hub.connector_runs import service
from hub.connector_runs.models import Connector, ConnectorRun
from hub.console.blueprint import blp
from hub.console.pages import render_page, require_scope
from hub.console.signin import console_identity
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor

# the runs a connector's interval is inferred from; with 7 or more, a connector none of whose
# recent runs succeeded is always stale (its 6 gaps add up to at least 3 medians)
RECENT_RUNS = 10
# intervals without a success after which a connector is stale
STALE_AFTER = 3
# runs per page on a connector's page
PAGE_SIZE = 25
Page = tuple[str, int] | Response


@dataclass(frozen=True)
class Health:
    """How a connector is doing: how often it runs, when it last succeeded, whether stale."""

    interval: timedelta | None
    last_success: datetime | None
    stale: bool


@dataclass(frozen=True)
class ConnectorRow:
    """A connector as the list shows it."""

    connector: Connector
    latest: ConnectorRun | None
    health: Health


def run_interval(runs: list[ConnectorRun]) -> timedelta | None:
    """The median gap between the starts of ``runs``; None with fewer than two (or when they
    all started at once)."""
    starts = sorted((run.started_at for run in runs), reverse=True)
    gaps = [(later - earlier).total_seconds() for later, earlier in pairwise(starts)]
    median = statistics.median(gaps) if gaps else 0.0
    return timedelta(seconds=median) if median > 0 else None


def health(
    connector: Connector, recent: list[ConnectorRun], last_success: datetime | None, now: datetime
) -> Health:
    """Whether ``connector`` has succeeded within ``STALE_AFTER`` of its intervals, judging
    from its ``recent`` runs; one that never succeeded counts from when it was first seen."""
    interval = run_interval(recent)
    if interval is None:
        return Health(None, last_success, stale=False)
    since = last_success
    if since is None:
        since = min([connector.first_reported_at, *(run.started_at for run in recent)])
    return Health(interval, last_success, stale=now - since > STALE_AFTER * interval)


def interval_text(interval: timedelta | None) -> str:
    """An interval as people say it: every 45 s, 15 min, 1.5 h, 7 d."""
    if interval is None:
        return ""
    seconds = interval.total_seconds()
    if seconds < 60:
        text = _("every %(n)s s", n=_figure(seconds))
    elif seconds < 3600:
        text = _("every %(n)s min", n=_figure(seconds / 60))
    elif seconds < 86400:
        text = _("every %(n)s h", n=_figure(seconds / 3600))
    else:
        text = _("every %(n)s d", n=_figure(seconds / 86400))
    return str(text)


def _figure(value: float) -> str:
    """``value`` to one decimal, without a trailing .0."""
    return f"{value:.1f}".removesuffix(".0")


def _sees_every_connector() -> bool:
    return "admin" in console_identity().scopes


@blp.route("/connectors")
@require_scope("admin", "records:write")
def connectors() -> Page:
    """Each connector with its latest run and counts, its last success, and a stale mark."""
    identity = console_identity()
    recent = service.latest_runs(db.session, RECENT_RUNS)
    if not _sees_every_connector():
        recent = [c for c in recent if c.connector.department_id == identity.department_id]
    successes = service.last_successes(db.session, [c.connector.name for c in recent])
    now = utcnow()
    rows = [
        ConnectorRow(
            c.connector,
            c.runs[0] if c.runs else None,
            health(c.connector, c.runs, successes.get(c.connector.name), now),
        )
        for c in recent
    ]
    return render_page(
        "console/connectors.html",
        rows=rows,
        stale=[row for row in rows if row.health.stale],
        every_department=_sees_every_connector(),
        interval_text=interval_text,
        stale_after=STALE_AFTER,
    )


def _details_text(run: ConnectorRun) -> str | None:
    if not run.details:
        return None
    return json.dumps(run.details, ensure_ascii=False, indent=2, sort_keys=True)


@blp.route("/connectors/<string:name>")
@require_scope("admin", "records:write")
def connector(name: str) -> Page:
    """One connector: how it is doing, and its runs, newest first, with errors and details."""
    found = (
        service.get_connector(db.session, name)
        if _sees_every_connector()
        else service.owned_connector(db.session, console_identity(), name)
    )
    recent, _more = service.list_runs(db.session, found, RECENT_RUNS, None)
    successes = service.last_successes(db.session, [found.name])
    cursor = before_id({"cursor": request.args.get("cursor")})
    runs, next_before = service.list_runs(db.session, found, PAGE_SIZE, cursor)
    return render_page(
        "console/connector.html",
        connector=found,
        health=health(found, recent, successes.get(found.name), utcnow()),
        interval_text=interval_text,
        stale_after=STALE_AFTER,
        runs=[(run, _details_text(run)) for run in runs],
        next_cursor=id_cursor(next_before),
    )
