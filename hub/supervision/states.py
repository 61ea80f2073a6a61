"""Records of one type as they stood at a moment, with who published them and since when.

The scorecard and the dispatch report look across every project at once: the permits decided
in a period, the problem list, the progress reports of some months. They read the same
version history as :mod:`hub.supervision.facts` and by the same rule (a record's state at a
moment is its latest version created before it, unless that version is a tombstone), by type
rather than by project, and keep what the assessment needs besides the data: the department
that published the state, when the record was first published, and since when it has had its
status.

Every function takes the ``cutoff`` (:func:`hub.supervision.facts.end_of_day`) and reads
nothing created at or after it, so a past period's answer never changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Text, exists, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from hub.core.db import load_stored_json
from hub.records.models import RecordVersion

_VERSIONS = cast(Table, RecordVersion.__table__)
# a condition on the versions of the type, e.g. on a field of their data
Where = Callable[[Any], Any]


@dataclass(frozen=True)
class State:
    """A record as it stood at the cutoff: its data, who published that version and when,
    and when the record was first published (before the cutoff, not as a tombstone)."""

    record_id: int
    key: str
    project_code: str
    data: dict[str, Any]
    published_by: str
    changed_at: datetime
    first_published: datetime


def record_states(
    session: Session, type_name: str, cutoff: datetime, where: Where | None = None
) -> list[State]:
    """The live records of ``type_name`` at ``cutoff``, in key order; ``where(version)`` a
    further condition on the state's version (its ``data``, ``project_code``...)."""
    version, later, first = (_VERSIONS.alias(name) for name in ("version", "later", "first"))
    superseded = exists().where(
        later.c.record_id == version.c.record_id,
        later.c.version > version.c.version,
        later.c.created_at < cutoff,
    )
    first_published = (
        select(func.min(first.c.created_at))
        .where(
            first.c.record_id == version.c.record_id,
            first.c.deleted.is_(False),
            first.c.created_at < cutoff,
        )
        .scalar_subquery()
    )
    conditions = [
        version.c.record_type == type_name,
        version.c.created_at < cutoff,
        version.c.deleted.is_(False),
        ~superseded,
    ]
    if where is not None:
        conditions.append(where(version))
    query = (
        select(
            version.c.record_id,
            version.c.record_key,
            version.c.project_code,
            sql_cast(version.c.data, Text),
            version.c.published_by,
            version.c.created_at,
            first_published,
        )
        .where(*conditions)
        .order_by(version.c.record_key)
    )
    return [
        State(record_id, key, code, load_stored_json(document), publisher, changed, first)
        for record_id, key, code, document, publisher, changed, first in session.execute(query)
    ]


def status_since(
    session: Session, record_ids: Collection[int], cutoff: datetime
) -> dict[int, datetime]:
    """For each record of ``record_ids``, when it took the status it had at ``cutoff``: the
    first version of the unbroken run of versions with that status ending at the cutoff."""
    if not record_ids:
        return {}
    query = (
        select(
            RecordVersion.record_id,
            RecordVersion.deleted,
            RecordVersion.data["status"].as_string(),
            RecordVersion.created_at,
        )
        .where(RecordVersion.record_id.in_(sorted(record_ids)), RecordVersion.created_at < cutoff)
        .order_by(RecordVersion.record_id, RecordVersion.version)
    )
    runs: dict[int, list[tuple[bool, str | None, datetime]]] = defaultdict(list)
    for record_id, deleted, status, created in session.execute(query):
        runs[record_id].append((deleted, status, created))
    since: dict[int, datetime] = {}
    for record_id, versions in runs.items():
        deleted, status, moment = versions[-1]
        for earlier_deleted, earlier_status, created in reversed(versions):
            if earlier_deleted != deleted or earlier_status != status:
                break
            moment = created
        since[record_id] = moment
    return since


def latest_publishers(
    session: Session, type_name: str, project_codes: Iterable[str], cutoff: datetime
) -> dict[str, str]:
    """For each of ``project_codes``, the department that published the latest version of a
    record of ``type_name`` of the project before ``cutoff`` (projects without one are left
    out)."""
    codes = sorted(set(project_codes))
    if not codes:
        return {}
    query = (
        select(RecordVersion.project_code, RecordVersion.published_by)
        .where(
            RecordVersion.record_type == type_name,
            RecordVersion.project_code.in_(codes),
            RecordVersion.created_at < cutoff,
        )
        .order_by(RecordVersion.created_at, RecordVersion.id)
    )
    # in time order: the last one written for a project wins
    return {str(code): str(department) for code, department in session.execute(query)}
