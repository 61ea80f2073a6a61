"""Projects and their records as they stood at the end of a day, from the version history.

A record's state at a moment is its latest version created before it, unless that version is
a tombstone; a record belongs to the project its state names. So a day's answer depends only
on versions created up to its end, and a past day gives the same answer however the records
changed since (DESIGN §6). A day ends at midnight in the city's time zone (:func:`end_of_day`).

Two statements serve a chunk of projects, whatever its size; neither reads a version twice
nor a row of another project:

- :func:`project_heads`: the project records in code order after a cursor (``records`` by its
  unique ``(type, key)``), each with its data at the moment (its latest version before it,
  on the unique ``(record_id, version)``; null if the project was deleted or not yet
  published) and the time any record of the project last changed (``max(created_at)`` on
  ``ix_record_versions_project_created``).
- :func:`linked_records`: the versions naming one of those projects created before the moment
  (``ix_record_versions_project_created``), kept when no later version of the same record
  was (an anti-join probing ``(record_id, version)``) and they are not tombstones. A record
  moved to another project later still counts where it was, and one moved away earlier does
  not.

``relevant_only`` keeps only the records some signal can look at (pending permits, open
problems, this year's funding and reports, land not ready): a whole board or summary needs no
more, and these are a fraction of a project's records. A project's page reads them all.

Today is answered the same way, not from ``records``: the same statements whatever the day,
so today's answer and a past day's cannot drift apart, and cost the same.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, Text, and_, bindparam, case, exists, func, or_, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from hub.core.db import load_stored_json
from hub.records.models import Record, RecordVersion
from hub.supervision.signals import (
    LAND_READY_STATUSES,
    PENDING_PERMIT_STATUSES,
    UNRESOLVED_ITEM_STATUSES,
    ProjectFacts,
    previous_period,
)

_RECORDS = cast(Table, Record.__table__)
_VERSIONS = cast(Table, RecordVersion.__table__)
# ProjectFacts' field holding the records of each linked type
FACT_FIELDS = {
    "land_parcel": "land_parcels",
    "funding": "funding",
    "permit": "permits",
    "coordination_item": "coordination_items",
    "progress_report": "progress_reports",
}


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The moment ``day`` ends in ``zone`` (the next midnight there), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class ProjectHead:
    """A project as it stood at a moment, and the day any record of it last changed."""

    code: str
    data: dict[str, Any]
    last_changed: date | None


@dataclass(frozen=True)
class HeadsChunk:
    """The projects live at a moment among a run of project records in code order; how many
    records were looked at, and the code of the last (to continue after)."""

    heads: list[ProjectHead]
    scanned: int
    last_code: str | None


@functools.cache
def _heads_statement(by_code: bool) -> Any:
    """Project records, one by ``:code`` or ``:limit`` after ``:after`` in code order, each
    with its data at ``:cutoff`` (null if not live then) and its last change before it."""
    project = _RECORDS.alias("project")
    version = _VERSIONS.alias("version")
    changes = _VERSIONS.alias("changes")
    cutoff: Any = bindparam("cutoff")
    data_then = (
        select(case((version.c.deleted, None), else_=sql_cast(version.c.data, Text)))
        .where(version.c.record_id == project.c.id, version.c.created_at < cutoff)
        .order_by(version.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    last_changed = (
        select(func.max(changes.c.created_at))
        .where(changes.c.project_code == project.c.key, changes.c.created_at < cutoff)
        .scalar_subquery()
    )
    query = select(project.c.key, data_then, last_changed).where(project.c.type == "project")
    if by_code:
        return query.where(project.c.key == bindparam("code"))
    return (
        query.where(project.c.key > bindparam("after"))
        .order_by(project.c.key)
        .limit(bindparam("limit"))
    )


def _relevant(version: Any) -> Any:
    """SQL: the record (a version of it) is one a signal can look at, as of ``:year``."""
    data, kind = version.c.data, version.c.record_type
    status = data["status"].as_string()
    period = data["period"].as_string()
    return or_(
        and_(kind == "permit", status.in_(sorted(PENDING_PERMIT_STATUSES))),
        and_(kind == "coordination_item", status.in_(sorted(UNRESOLVED_ITEM_STATUSES))),
        and_(kind == "funding", data["fiscal_year"].as_integer() == bindparam("year")),
        and_(
            kind == "progress_report",
            or_(
                period.between(bindparam("first_period"), bindparam("last_period")),
                period == bindparam("previous_period"),
            ),
        ),
        and_(
            kind == "land_parcel",
            data["supply_status"].as_string().not_in(sorted(LAND_READY_STATUSES)),
        ),
    )


@functools.cache
def _linked_statement(relevant_only: bool) -> Any:
    """The live records other than projects naming one of ``:codes`` at ``:cutoff``.

    ``relevant_only``: those a signal can look at, and of a project's progress reports only
    the latest of the year and last month's (ranked in the database: they are most of what
    is left).
    """
    version = _VERSIONS.alias("version")
    later = _VERSIONS.alias("later")
    cutoff: Any = bindparam("cutoff")
    superseded = exists().where(
        later.c.record_id == version.c.record_id,
        later.c.version > version.c.version,
        later.c.created_at < cutoff,
    )
    columns = [version.c.project_code, version.c.record_type, version.c.record_key]
    conditions = [
        version.c.project_code.in_(bindparam("codes", expanding=True)),
        version.c.created_at < cutoff,
        version.c.record_type != "project",
        version.c.deleted.is_(False),
        ~superseded,
    ]
    if not relevant_only:
        return select(*columns, sql_cast(version.c.data, Text)).where(*conditions)
    period = version.c.data["period"].as_string()
    latest_first = func.row_number().over(
        partition_by=[version.c.project_code, version.c.record_type], order_by=period.desc()
    )
    state = (
        select(*columns, version.c.data, period.label("period"), latest_first.label("rank"))
        .where(*conditions, _relevant(version))
        .subquery("state")
    )
    return select(
        state.c.project_code,
        state.c.record_type,
        state.c.record_key,
        sql_cast(state.c.data, Text),
    ).where(
        or_(
            state.c.record_type != "progress_report",
            state.c.rank == 1,
            state.c.period == bindparam("previous_period"),
        )
    )


def plan_serially(session: Session) -> None:
    """On PostgreSQL, plan the rest of the transaction without parallel workers.

    A chunk's statements read a few thousand rows through indexes; starting workers for
    them (which the planner picks once a table is large) took longer than the work itself
    and left the request waiting on the slowest worker.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_SERIAL_PLANS)


_SERIAL_PLANS = text("SET LOCAL max_parallel_workers_per_gather = 0")


def _head(code: str, document: str, changed: datetime | None, zone: ZoneInfo) -> ProjectHead:
    last_changed = changed.astimezone(zone).date() if changed is not None else None
    return ProjectHead(code, load_stored_json(document), last_changed)


def project_heads(
    session: Session, cutoff: datetime, zone: ZoneInfo, *, after: str | None, limit: int
) -> HeadsChunk:
    """The projects live at ``cutoff`` among the ``limit`` project records after ``after``."""
    statement, params = heads_query(cutoff, after=after, limit=limit)
    rows = session.connection().execute(statement, params).all()
    heads, scanned, last = [], 0, None
    for code, document, changed in rows:
        scanned, last = scanned + 1, code
        if document is not None:
            heads.append(_head(code, document, changed, zone))
    return HeadsChunk(heads, scanned, last)


def project_head(
    session: Session, cutoff: datetime, zone: ZoneInfo, code: str
) -> ProjectHead | None:
    """The project ``code`` as it stood at ``cutoff``, or None if it was not live then."""
    row = (
        session.connection()
        .execute(_heads_statement(True), {"cutoff": cutoff, "code": code})
        .first()
    )
    if row is None or row[1] is None:
        return None
    return _head(row[0], row[1], row[2], zone)


def linked_query(
    cutoff: datetime, codes: list[str], *, as_of: date, relevant_only: bool
) -> tuple[Any, dict[str, Any]]:
    """The statement :func:`linked_records` runs, and its parameters (for EXPLAIN too)."""
    params: dict[str, Any] = {"cutoff": cutoff, "codes": codes}
    if relevant_only:
        params.update(
            year=as_of.year,
            first_period=f"{as_of.year:04d}-01",
            last_period=f"{as_of.year:04d}-{as_of.month:02d}",
            previous_period=previous_period(as_of),
        )
    return _linked_statement(relevant_only), params


def heads_query(cutoff: datetime, *, after: str | None, limit: int) -> tuple[Any, dict[str, Any]]:
    """The statement :func:`project_heads` runs, and its parameters (for EXPLAIN too)."""
    return _heads_statement(False), {"cutoff": cutoff, "after": after or "", "limit": limit}


def linked_records(
    session: Session,
    cutoff: datetime,
    codes: Iterable[str],
    *,
    as_of: date,
    relevant_only: bool = False,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The live records of the projects ``codes`` at ``cutoff`` (the end of ``as_of``), by
    project and type, each list in key order; ``relevant_only``: those signals look at."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    statement, params = linked_query(cutoff, wanted, as_of=as_of, relevant_only=relevant_only)
    rows = session.connection().execute(statement, params).all()
    found: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for code, type_name, key, document in rows:
        found[code][type_name].append((key, document))
    return {
        code: {
            name: [load_stored_json(document) for _, document in sorted(records)]
            for name, records in types.items()
        }
        for code, types in found.items()
    }


def project_facts(
    heads: Sequence[ProjectHead], linked: Mapping[str, Mapping[str, list[dict[str, Any]]]]
) -> list[ProjectFacts]:
    """The facts of each project of ``heads``, in order, with its ``linked`` records."""
    facts = []
    for head in heads:
        records = linked.get(head.code, {})
        fields = {field: records.get(name, []) for name, field in FACT_FIELDS.items()}
        facts.append(ProjectFacts(project=head.data, last_changed=head.last_changed, **fields))
    return facts


def load_facts(
    session: Session,
    cutoff: datetime,
    heads: Sequence[ProjectHead],
    *,
    as_of: date,
    relevant_only: bool = False,
) -> list[ProjectFacts]:
    """:func:`project_facts` of ``heads`` with their records at ``cutoff``, in one query."""
    linked = linked_records(
        session, cutoff, (h.code for h in heads), as_of=as_of, relevant_only=relevant_only
    )
    return project_facts(heads, linked)
