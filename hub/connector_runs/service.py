"""Connector run reports: what a connector may report, and what administrators are shown.

A connector names each sync run with a UUID of its own and reports it as often as it likes,
typically once when it starts (``running``) and once when it ends (``succeeded`` or ``failed``,
with its totals). Each report replaces what was stored about the run, so a retried report
changes nothing that matters; only a finished run going back to ``running`` is refused.

The first department to report under a connector name owns it. Reports of one connector are
serialised on the connector's row, so two reports of a new run cannot both insert it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from hub.audit.entries import Entry, record
from hub.auth.identity import Identity
from hub.connector_runs.models import Connector, ConnectorRun
from hub.core.db import rowcount, utcnow
from hub.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.core.pagination import newest_first

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
NAME_RULE = "1-64 lower-case letters, digits, '_' or '-', starting with a letter or digit."
# what a connector reports; the hub marks a run "abandoned" when its connector starts another
# while it still says running: the process that ran it ended without saying how it finished
REPORTED_STATUSES = ("running", "succeeded", "failed")
STATUSES = (*REPORTED_STATUSES, "abandoned")
FINISHED = frozenset({"succeeded", "failed", "abandoned"})
COUNTERS = ("read", "published", "unchanged", "deleted", "rejected")
# What the audit log calls a connector's report of a run.
REPORT = "connector.report"


@dataclass(frozen=True)
class RunReport:
    """What a connector reports about one run (already validated on the wire)."""

    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    read: int = 0
    published: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    error: str | None = None
    cursor: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConnectorRuns:
    """A connector and its latest runs, newest first."""

    connector: Connector
    runs: list[ConnectorRun]


def check_name(name: str) -> None:
    """Refuse a connector name that does not match ``[a-z0-9][a-z0-9_-]{0,63}`` (422)."""
    if not NAME_PATTERN.match(name):
        raise Unprocessable("Invalid connector name.", errors={"name": [NAME_RULE]})


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _claim(session: Session, identity: Identity, name: str, now: datetime) -> Connector:
    """The connector ``name``, registered to the caller's department if new, locked for this
    report; 403 if another department owns it."""
    register: Insert = (
        _insert(session)(Connector)
        .values(
            name=name,
            department_id=identity.department_id,
            first_reported_at=now,
            last_reported_at=now,
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    session.execute(register)
    connector = session.get(Connector, name, with_for_update=True, populate_existing=True)
    assert connector is not None, "registered above, or by a report that committed first"
    if connector.department_id != identity.department_id:
        raise Forbidden(
            f"Connector '{name}' belongs to department '{connector.department_id}', which "
            "reported it first; report under a name of your own."
        )
    return connector


def report_run(
    session: Session, identity: Identity, name: str, report: RunReport
) -> tuple[ConnectorRun, bool]:
    """Store a connector's report of one run; the run, and whether the report created it."""
    check_name(name)
    now = utcnow()
    connector = _claim(session, identity, name, now)
    run = session.scalar(
        select(ConnectorRun).where(
            ConnectorRun.connector == name, ConnectorRun.run_id == report.run_id
        )
    )
    created = run is None
    if run is None:
        _abandon_running(session, name, report.run_id, now)
        run = ConnectorRun(connector=name, run_id=report.run_id)
        session.add(run)
    elif run.status in FINISHED and report.status == "running":
        raise Conflict(
            f"Run {run.run_id} of connector '{name}' already {run.status}; a finished run "
            "cannot go back to running. Report a new run with a new run_id."
        )
    run.status = report.status
    run.started_at, run.finished_at = report.started_at, report.finished_at
    for counter in COUNTERS:
        setattr(run, counter, getattr(report, counter))
    run.error, run.cursor, run.details = report.error, report.cursor, report.details
    run.reported_at, run.reported_by = now, identity.key_id
    connector.last_reported_at = now
    session.flush()
    details = {"run_id": report.run_id, "status": report.status}
    record(
        session,
        Entry(identity.actor, REPORT, f"connector/{name}", details),
        201 if created else 200,
    )
    return run, created


def _abandon_running(session: Session, name: str, new_run_id: str, now: datetime) -> None:
    """Close the runs of connector ``name`` that still say running: a new run has begun, so
    the process that ran them has ended without reporting how they finished."""
    session.execute(
        update(ConnectorRun)
        .where(ConnectorRun.connector == name, ConnectorRun.status == "running")
        .values(
            status="abandoned",
            finished_at=now,
            error=(
                "The connector's process ended before it reported how this run finished; "
                f"run {new_run_id} began after it."
            ),
        )
        .execution_options(synchronize_session=False)
    )


def get_connector(session: Session, name: str) -> Connector:
    """The connector ``name``, or 404."""
    connector = session.get(Connector, name) if NAME_PATTERN.match(name) else None
    if connector is None:
        raise NotFound(f"No connector named '{name}' has reported a run.")
    return connector


def owned_connector(session: Session, identity: Identity, name: str) -> Connector:
    """The connector ``name`` if the caller's department owns it; 404 or 403 otherwise."""
    connector = get_connector(session, name)
    if connector.department_id != identity.department_id:
        raise Forbidden(f"Connector '{name}' belongs to department '{connector.department_id}'.")
    return connector


def list_runs(
    session: Session, connector: Connector, limit: int, before: int | None
) -> tuple[list[ConnectorRun], int | None]:
    """One page of a connector's runs, newest first, and the id to continue before."""
    query = select(ConnectorRun).where(ConnectorRun.connector == connector.name)
    return newest_first(session, query, ConnectorRun.id, limit, before)


def latest_runs(session: Session, per_connector: int) -> list[ConnectorRuns]:
    """Every connector, by name, with its ``per_connector`` latest runs, in two queries.

    The first finds each connector's ``per_connector``-th latest run in the ``(connector, id)``
    index; the second reads each connector's runs from that one on, from the same index. The
    cost grows with the number of connectors, not with the runs they have piled up.
    """
    older = aliased(ConnectorRun)
    oldest_shown = (
        select(older.id)
        .where(older.connector == Connector.name)
        .order_by(older.id.desc())
        .offset(per_connector - 1)
        .limit(1)
        .correlate(Connector)
        .scalar_subquery()
    )
    bounds = session.execute(
        select(Connector, func.coalesce(oldest_shown, 0)).order_by(Connector.name)
    ).all()
    by_connector: dict[str, list[ConnectorRun]] = {connector.name: [] for connector, _ in bounds}
    if bounds:
        recent = or_(
            *(
                and_(ConnectorRun.connector == connector.name, ConnectorRun.id >= oldest)
                for connector, oldest in bounds
            )
        )
        query = select(ConnectorRun).where(recent).order_by(ConnectorRun.id.desc())
        for run in session.scalars(query):
            by_connector[run.connector].append(run)
    return [ConnectorRuns(connector, by_connector[connector.name]) for connector, _ in bounds]


def last_successes(
    session: Session, names: Collection[str], *, before: datetime | None = None
) -> dict[str, datetime]:
    """When each of the connectors ``names`` last finished a run that succeeded, in one query
    (a connector that never did is left out): its latest runs may all have failed.

    ``before``: the last success finished before that moment (as it stood then).
    """
    if not names:
        return {}
    query = (
        select(ConnectorRun.connector, func.max(ConnectorRun.finished_at))
        .where(ConnectorRun.connector.in_(names), ConnectorRun.status == "succeeded")
        .group_by(ConnectorRun.connector)
    )
    if before is not None:
        query = query.where(ConnectorRun.finished_at < before)
    return {name: finished for name, finished in session.execute(query) if finished is not None}


def prune_runs(session: Session, reported_before: datetime) -> int:
    """Delete runs reported before ``reported_before``, except each connector's latest, so
    administrators still see when every connector last ran; how many went."""
    latest = select(func.max(ConnectorRun.id)).group_by(ConnectorRun.connector)
    removed = session.execute(
        delete(ConnectorRun).where(
            ConnectorRun.reported_at < reported_before, ConnectorRun.id.not_in(latest)
        )
    )
    session.flush()
    return rowcount(removed)
