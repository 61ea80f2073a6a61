"""The change log: how changes get their sequence numbers, and how the feed reads them.

Every change writes one record version (``hub.records``); the versions, in sequence order,
are the change log, and each is rendered as one CloudEvent.

Why no reader can skip an event. A writer inserts its version in the change's own transaction,
without a sequence number. Numbers are given afterwards by a *numbering round*: a short
transaction that locks the one counter row, takes the versions that have committed but have no
number yet, numbers them after the counter in insertion order, advances the counter and
commits. Rounds are serialised by the counter's row lock and each sees only committed
versions, so the numbers readers can see are always exactly ``1..counter``: a change that
commits late (on PostgreSQL a transaction can commit after a later one) simply gets a later
number, and no reader ever moves past a number that could still appear. Writers never wait on
each other for a number, which keeps a global lock off the write path (a lock held through
every commit would serialise the database's fsyncs). Versions of one record are written one
after another under the record's row lock, so they are numbered in version order.

Rounds run where events are read: the feed runs one before it reads (and so will the
dispatcher). A round that finds the counter locked by another process skips: that round is
numbering.

The feed reads the counter first and then versions up to it, so a page that comes back short
still lets the reader move its cursor to the counter's value: every change up to it was
numbered before the page's query began and none of them matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit.trail import note_disclosure
from hub.events.models import EventCounter
from hub.records.models import RecordVersion
from hub.sharing.service import ReaderView
from schemas import registry

COUNTER_ID = 1
ROUND_SIZE = 5000
# Versions committed but not yet numbered, oldest first (served by a partial index).
_UNNUMBERED = (
    select(RecordVersion.id).where(RecordVersion.sequence.is_(None)).order_by(RecordVersion.id)
)


def has_unnumbered(session: Session) -> bool:
    """Whether committed changes are waiting for their numbers (a cheap read of an index)."""
    return session.scalar(_UNNUMBERED.limit(1)) is not None


def number_events(session: Session) -> int:
    """One numbering round in ``session``'s own transaction; return how many were numbered.

    The caller commits right after: the counter stays locked until then.
    """
    counter = session.scalar(
        select(EventCounter).where(EventCounter.id == COUNTER_ID).with_for_update(skip_locked=True)
    )
    if counter is None:
        return 0  # another round holds the counter
    pending = session.scalars(_UNNUMBERED.limit(ROUND_SIZE)).all()
    if not pending:
        return 0
    first = counter.last_sequence + 1
    session.execute(
        update(RecordVersion),
        [{"id": version_id, "sequence": first + n} for n, version_id in enumerate(pending)],
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
    """Changes after a cursor, and the cursor to resume from."""

    events: Sequence[RecordVersion]
    next_after: int


def read_feed(
    session: Session,
    after: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
) -> FeedPage:
    """Changes with ``sequence > after`` in order, at most ``limit``, optionally filtered."""
    head = head_sequence(session)
    if after >= head:
        return FeedPage(events=[], next_after=after)
    query = (
        select(RecordVersion)
        .where(RecordVersion.sequence > after, RecordVersion.sequence <= head)
        .order_by(RecordVersion.sequence)
        .limit(limit)
    )
    if types:
        query = query.where(RecordVersion.record_type.in_(types))
    if project_code:
        query = query.where(RecordVersion.project_code == project_code)
    versions = list(session.scalars(query))
    last_read = versions[-1].sequence if len(versions) == limit else None
    return FeedPage(events=versions, next_after=last_read if last_read is not None else head)


def event_id(version: RecordVersion) -> str:
    """The CloudEvent id of a change: its record and version, unique and the same on every
    delivery, so consumers can de-duplicate by it."""
    return f"{version.record_type}/{version.record_key}/{version.version}"


def cloud_event(
    version: RecordVersion,
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
) -> dict[str, Any]:
    """Render one change as a structured CloudEvent 1.0, its record filtered for ``reader``."""
    record_type = registry()[version.record_type]
    record, withheld = reader.visible(record_type, record_type.present(version.data, today))
    note_disclosure(record_type, version.record_key, record)
    return {
        "specversion": "1.0",
        "id": event_id(version),
        "source": settings["EVENT_SOURCE"],
        "type": f"{settings['EVENT_TYPE_PREFIX']}.record.{version.operation}",
        "subject": f"{version.record_type}/{version.record_key}",
        "time": version.created_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": version.sequence,
        "data": {
            "type": version.record_type,
            "key": version.record_key,
            "version": version.version,
            "project_code": version.project_code,
            "operation": version.operation,
            "changed_fields": version.changed_fields,
            "published_by": version.published_by,
            "deleted": version.deleted,
            "record": record,
            "withheld": withheld,
        },
    }
