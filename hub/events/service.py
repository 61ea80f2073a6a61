"""The change log: how events get their sequence numbers, and how the feed reads them.

Why no reader can skip an event. A writer inserts its event in the change's own transaction,
without a number. Numbers are given afterwards by a *numbering round*: a short transaction
that locks the one counter row, takes the events that have committed but have no number yet,
numbers them after the counter in insertion order, advances the counter and commits. Rounds
are serialised by the counter's row lock, and each sees only committed events, so the numbers
readers can see are always exactly ``1..counter``: an event that commits late (on PostgreSQL a
transaction can commit after a later one) simply gets a later number, and no reader ever moves
past a number that could still appear. Writers never wait on each other for a number, which
keeps the write path free of a global lock (a lock held through every commit would serialise
the database's fsyncs). Versions of one record are written one after another under the
record's row lock, so they are numbered in version order.

Rounds run where events are read: the feed runs one before it reads (and the dispatcher will
too). A round that finds the counter locked by another process skips: that round is numbering.

The feed reads the counter first and then events up to it, so a page that comes back short
still lets the reader move its cursor to the counter's value: every event up to it was
numbered before the page's query began and none of them matched.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from hub.events.models import Event, EventCounter
from hub.records.models import Record, RecordVersion
from hub.sharing.service import ReaderView
from schemas import registry

COUNTER_ID = 1
ROUND_SIZE = 5000


_INSERT_EVENT = insert(cast(Table, Event.__table__))


def append_event(session: Session, record: Record, *, version_id: int, operation: str) -> None:
    """Append the event of the record's new version, in the change's own transaction."""
    session.execute(
        _INSERT_EVENT,
        {
            "event_id": str(uuid.uuid4()),
            "record_type": record.type,
            "record_key": record.key,
            "project_code": record.project_code,
            "operation": operation,
            "version": record.version,
            "version_id": version_id,
            "published_by": record.published_by,
            "time": record.updated_at,
        },
    )


def number_events(session: Session) -> int:
    """One numbering round in ``session``'s own transaction; return how many were numbered.

    The caller commits right after: the counter stays locked until then.
    """
    counter = session.scalar(
        select(EventCounter).where(EventCounter.id == COUNTER_ID).with_for_update(skip_locked=True)
    )
    if counter is None:
        return 0  # another round holds the counter
    pending = session.scalars(
        select(Event.id).where(Event.sequence.is_(None)).order_by(Event.id).limit(ROUND_SIZE)
    ).all()
    if not pending:
        return 0
    first = counter.last_sequence + 1
    session.execute(
        update(Event),
        [{"id": event_id, "sequence": first + n} for n, event_id in enumerate(pending)],
    )
    counter.last_sequence += len(pending)
    session.flush()
    return len(pending)


def head_sequence(session: Session) -> int:
    """The largest sequence number given out so far (0 when none)."""
    last = session.scalar(select(EventCounter.last_sequence).where(EventCounter.id == COUNTER_ID))
    return last or 0


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
    rows = [(event, version) for event, version in session.execute(query).all()]
    last_read = rows[-1][0].sequence if len(rows) == limit else None
    next_after = last_read if last_read is not None else head
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
        "id": event.event_id,
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
            "changed_fields": version.changed_fields,
            "published_by": event.published_by,
            "deleted": version.deleted,
            "record": record,
            "withheld": withheld,
        },
    }
