"""The change log: how events get their sequence numbers, and how the feed reads them.

Why readers can never skip an event: sequence numbers are not taken from a database sequence
(on PostgreSQL a transaction that drew 7 can commit after one that drew 8, and a reader that
saw 8 would move past 7 for ever). Instead, changes are staged in the unit of work, and as its
very last step before ``COMMIT`` the unit of work increments the one counter row by the number
of staged events and inserts them with the numbers it got. The counter row stays locked until
that commit, so numbers are handed out in commit order and without gaps: whatever a reader's
snapshot is, the events it sees are exactly ``1..N``. Taking the lock last keeps the time it is
held to the insert and the commit itself. On SQLite one writer at a time gives the same order.

The feed reads the counter first and then events up to it, so a page that comes back short
still lets the reader move its cursor to the counter's value: every event up to it was
committed before the page's query began and none matched.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.events.models import Event, EventCounter
from hub.records.models import Record, RecordVersion
from hub.sharing.service import ReaderView
from schemas import registry

PENDING = "hub.pending_events"
COUNTER_ID = 1


def stage_change(session: Session, record: Record, version: RecordVersion) -> None:
    """Stage the event of a new version; it is numbered and written when the unit commits."""
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING, [])
    pending.append(
        {
            "id": str(uuid.uuid4()),
            "record_type": record.type,
            "record_key": record.key,
            "project_code": record.project_code,
            "operation": version.operation,
            "version": version.version,
            "version_id": version.id,
            "changed_fields": version.changed_fields,
            "published_by": version.published_by,
            "time": version.created_at,
        }
    )


def staged_count(session: Session) -> int:
    """How many events the current unit of work has staged so far."""
    return len(session.info.get(PENDING, ()))


def discard_staged(session: Session, keep: int) -> None:
    """Drop events staged after the first ``keep`` (their savepoint was rolled back)."""
    del session.info.get(PENDING, [])[keep:]


def assign_sequences(session: Session) -> None:
    """Number and insert the staged events: the last step before the unit of work commits."""
    pending: list[dict[str, Any]] = session.info.pop(PENDING, [])
    if not pending:
        return
    session.flush()
    last = session.execute(
        update(EventCounter)
        .where(EventCounter.id == COUNTER_ID)
        .values(last_sequence=EventCounter.last_sequence + len(pending))
        .returning(EventCounter.last_sequence)
    ).scalar_one()
    first = last - len(pending) + 1
    session.execute(
        insert(Event), [{**event, "sequence": first + n} for n, event in enumerate(pending)]
    )


def head_sequence(session: Session) -> int:
    """The sequence of the newest committed event (0 when there is none)."""
    return (
        session.scalar(select(EventCounter.last_sequence).where(EventCounter.id == COUNTER_ID)) or 0
    )


@dataclass(frozen=True)
class FeedPage:
    """Events after a cursor, and the cursor to resume from."""

    events: Sequence[tuple[Event, RecordVersion]]
    next_after: int


def read_feed(
    session: Session,
    after: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
) -> FeedPage:
    """Events with ``sequence > after`` in order, at most ``limit``, optionally filtered."""
    head = head_sequence(session)
    if after >= head:
        return FeedPage(events=[], next_after=after)
    query = (
        select(Event, RecordVersion)
        .join(RecordVersion, RecordVersion.id == Event.version_id)
        .where(Event.sequence > after, Event.sequence <= head)
        .order_by(Event.sequence)
        .limit(limit)
    )
    if types:
        query = query.where(Event.record_type.in_(types))
    if project_code:
        query = query.where(Event.project_code == project_code)
    rows = [(event, version) for event, version in session.execute(query).tuples()]
    next_after = rows[-1][0].sequence if len(rows) == limit else head
    return FeedPage(events=rows, next_after=next_after)


def cloud_event(
    event: Event,
    version: RecordVersion,
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
) -> dict[str, Any]:
    """Render one event as a structured CloudEvent 1.0, its record filtered for ``reader``."""
    record_type = registry()[event.record_type]
    record, withheld = reader.visible(record_type, record_type.present(version.data, today))
    return {
        "specversion": "1.0",
        "id": event.id,
        "source": settings["EVENT_SOURCE"],
        "type": f"{settings['EVENT_TYPE_PREFIX']}.record.{event.operation}",
        "subject": f"{event.record_type}/{event.record_key}",
        "time": event.time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": event.sequence,
        "data": {
            "type": event.record_type,
            "key": event.record_key,
            "version": event.version,
            "project_code": event.project_code,
            "operation": event.operation,
            "changed_fields": event.changed_fields,
            "published_by": event.published_by,
            "deleted": version.deleted,
            "record": record,
            "withheld": withheld,
        },
    }
