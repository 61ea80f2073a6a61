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

Rounds run where events are read: the feed, pull subscriptions and the dispatcher run one
before they read. A round that finds the counter locked by another process skips: that round is
numbering, and its commit wakes every waiter (``hub.events.notify``).

The feed (``hub.events.feed``) reads the counter first and then versions up to it, so a page
that comes back short still lets the reader move its cursor to the counter's value: every
change up to it was numbered before the page's query began and none of them matched.

Retention: versions are the records' history and are never deleted, but the feed serves only
events after the counter's ``retained_after``, which ``compact`` moves forward; a reader behind
it is told (410) to re-list the records and resume from the head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.core.db import mark_log_changed
from hub.core.errors import Gone
from hub.events.models import EventCounter
from hub.records.models import RecordVersion

COUNTER_ID = 1
ROUND_SIZE = 5000
# Versions committed but not yet numbered, oldest first (served by a partial index).
_UNNUMBERED = (
    select(RecordVersion.id).where(RecordVersion.sequence.is_(None)).order_by(RecordVersion.id)
)


def has_unnumbered(session: Session) -> bool:
    """Whether committed changes are waiting for their numbers (a cheap read of an index)."""
    return session.scalar(_UNNUMBERED.limit(1)) is not None


def number_events(session: Session, *, wait: bool = False) -> int:
    """One numbering round in ``session``'s own transaction; return how many were numbered.

    A round that finds another holding the counter skips, unless told to ``wait`` for it.
    The caller commits right after: the counter stays locked until then.
    """
    counter = session.scalar(
        select(EventCounter)
        .where(EventCounter.id == COUNTER_ID)
        .with_for_update(skip_locked=not wait)
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
    mark_log_changed(session)
    return len(pending)


def head_sequence(session: Session) -> int:
    """The largest sequence number given out so far (0 when none)."""
    last = session.scalar(select(EventCounter.last_sequence).where(EventCounter.id == COUNTER_ID))
    return last or 0


@dataclass(frozen=True)
class LogBounds:
    """The feed's extent: events after ``retained_after`` up to ``head`` can be read."""

    retained_after: int
    head: int


def log_bounds(session: Session) -> LogBounds:
    """The retained part of the change log, read in one query."""
    row = session.execute(
        select(EventCounter.retained_after, EventCounter.last_sequence).where(
            EventCounter.id == COUNTER_ID
        )
    ).one()
    return LogBounds(retained_after=row.retained_after, head=row.last_sequence)


def check_retained(bounds: LogBounds, after: int, *, subscription: bool = False) -> None:
    """Refuse (410) a cursor behind the retained log, saying how to recover."""
    if after >= bounds.retained_after:
        return
    resume = (
        f"acknowledge sequence {bounds.head} (POST .../ack) to go on from the head"
        if subscription
        else f"resume the feed with after={bounds.head}"
    )
    raise Gone(
        f"Events up to {bounds.retained_after} are no longer kept and the cursor {after} is "
        "behind them. Re-list the records you follow (GET /api/v1/records/{type}), then "
        f"{resume}.",
        extensions={"retained_after": bounds.retained_after, "resume_after": bounds.head},
    )


def compact(session: Session, events_before: datetime) -> int:
    """Move the feed's horizon past events older than ``events_before``; return the horizon.

    The horizon never moves back, and versions stay (they are the records' history).
    """
    counter = session.scalars(
        select(EventCounter).where(EventCounter.id == COUNTER_ID).with_for_update()
    ).one()
    oldest_kept = _last_event_before(
        session, events_before, counter.retained_after, counter.last_sequence
    )
    if oldest_kept > counter.retained_after:
        counter.retained_after = oldest_kept
    session.flush()
    return counter.retained_after


def _last_event_before(session: Session, moment: datetime, low: int, high: int) -> int:
    """The last event in ``low + 1 .. high`` made before ``moment`` (``low`` if none).

    Events are numbered in the order they commit, so their times rise with their numbers (a
    change that commits late is numbered late, seconds out of step at most): a search by
    number reads about 2·log2(events) index entries, where asking for the greatest number
    made before the moment walked back through every newer event, a whole retention window.
    """
    while low < high:
        middle = (low + high + 1) // 2
        made = session.scalar(
            select(RecordVersion.created_at).where(RecordVersion.sequence == middle)
        )
        if made is not None and made < moment:
            low = middle
        else:
            high = middle - 1
    return low
