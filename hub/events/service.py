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

The feed reads the counter first and then versions up to it, so a page that comes back short
still lets the reader move its cursor to the counter's value: every change up to it was
numbered before the page's query began and none of them matched.

Retention: versions are the records' history and are never deleted, but the feed serves only
events after the counter's ``retained_after``, which ``compact`` moves forward; a reader behind
it is told (410) to re-list the records and resume from the head.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Row, Table, Text, bindparam, case, delete, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from hub.audit.trail import note_disclosure
from hub.db import load_stored_json, rowcount
from hub.errors import Gone
from hub.events.models import EventCounter
from hub.events.notify import mark_changed
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
    mark_changed(session)
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


@dataclass(frozen=True)
class Compaction:
    """What a compaction did."""

    retained_after: int
    deliveries_removed: int


def compact(session: Session, events_before: datetime, deliveries_before: datetime) -> Compaction:
    """Move the feed's horizon past events older than ``events_before``; drop older attempts.

    The horizon never moves back, and versions stay (they are the records' history).
    """
    from hub.subscriptions.models import Delivery  # the attempt log belongs to subscriptions

    counter = session.scalars(
        select(EventCounter).where(EventCounter.id == COUNTER_ID).with_for_update()
    ).one()
    oldest_kept = session.scalar(
        select(func.max(RecordVersion.sequence)).where(
            RecordVersion.sequence.is_not(None), RecordVersion.created_at < events_before
        )
    )
    if oldest_kept is not None and oldest_kept > counter.retained_after:
        counter.retained_after = oldest_kept
    removed = rowcount(session.execute(delete(Delivery).where(Delivery.at < deliveries_before)))
    session.flush()
    return Compaction(retained_after=counter.retained_after, deliveries_removed=removed or 0)


# A logged change as the feed reads it: a row of record_versions (plain rows, not ORM
# objects: building objects for a thousand-event page costs more than the query).
Change = Row[Any]
_VERSIONS = cast(Table, RecordVersion.__table__)
# What a CloudEvent is made of, in the order every feed statement selects it first: a page
# of events is rendered from row positions, a name lookup per field and row costing more
# than the rest of the rendering.
_EVENT_FIELDS = (
    "record_type",
    "record_key",
    "project_code",
    "version",
    "operation",
    "deleted",
    "published_by",
    "created_at",
    "sequence",
)
_EVENT_WIDTH = len(_EVENT_FIELDS)
_FEED_COLUMNS = [_VERSIONS.c[name] for name in (*_EVENT_FIELDS, "changed_fields", "data")]


@dataclass(frozen=True)
class FeedPage:
    """Changes after a cursor, and the cursor to resume from."""

    events: Sequence[Change]
    next_after: int


def read_feed(
    session: Session,
    after: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
    *,
    shared_with: ReaderView | None = None,
) -> FeedPage:
    """Changes with ``sequence > after`` in order, at most ``limit``, optionally filtered.

    Raises :class:`Gone` when ``after`` is behind the retained log. See :func:`read_range`
    for ``shared_with``.
    """
    bounds = log_bounds(session)
    check_retained(bounds, after)
    return read_range(
        session, after, bounds.head, limit, types, project_code, shared_with=shared_with
    )


def _without(data: Any, names: Sequence[str], dialect: str) -> Any:
    """SQL for the JSON document ``data`` without the keys ``names``."""
    if dialect == "postgresql":
        return data.op("-")(postgresql.array(names, type_=Text))
    return func.json_remove(data, *[f'$."{name}"' for name in names])


def _shared_data(withheld_by_type: Mapping[str, Sequence[str]], dialect: str, page: Any) -> Any:
    """SQL for a version's data as JSON text, less the fields the reader may not see."""
    data = page.data
    cases = [
        (page.record_type == name, _without(data, withheld, dialect))
        for name, withheld in withheld_by_type.items()
        if withheld
    ]
    projected = case(*cases, else_=data) if cases else data
    return sql_cast(projected, Text).label("shared_data")


def read_range(
    session: Session,
    after: int,
    head: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
    *,
    shared_with: ReaderView | None = None,
) -> FeedPage:
    """Changes with ``after < sequence <= head`` in order, at most ``limit``, filtered.

    With ``shared_with``, each change carries ``shared_data`` instead of ``data``: the JSON
    text of what that reader may see, cut in the database, for :func:`feed_events`; its
    ``changed_fields`` is JSON text too. Either way a row starts with the ``_EVENT_FIELDS``.
    """
    if after >= head:
        return FeedPage(events=[], next_after=after)
    withheld = None
    if shared_with is not None:
        withheld = tuple(
            (name, tuple(shared_with.withheld_fields(record_type)))
            for name, record_type in registry().items()
        )
    statement = _page_statement(
        session.get_bind().dialect.name, bool(types), bool(project_code), withheld
    )
    params: dict[str, Any] = {"after": after, "head": head, "limit": limit}
    if types:
        params["types"] = list(types)
    if project_code:
        params["project_code"] = project_code
    versions = session.connection().execute(statement, params).all()
    last_read = versions[-1].sequence if len(versions) == limit else None
    return FeedPage(events=versions, next_after=last_read if last_read is not None else head)


@functools.lru_cache(maxsize=512)
def _page_statement(
    dialect: str,
    by_types: bool,
    by_project: bool,
    withheld: tuple[tuple[str, tuple[str, ...]], ...] | None,
) -> Any:
    """The statement reading one page, built once per shape: building it (a CASE per record
    type) for every page cost more than running it."""
    query = (
        select(*_FEED_COLUMNS)
        .where(
            RecordVersion.sequence > bindparam("after"),
            RecordVersion.sequence <= bindparam("head"),
        )
        .order_by(RecordVersion.sequence)
        .limit(bindparam("limit"))
    )
    if by_types:
        query = query.where(RecordVersion.record_type.in_(bindparam("types", expanding=True)))
    if by_project:
        query = query.where(RecordVersion.project_code == bindparam("project_code"))
    if withheld is None:
        return query
    # The projection sits outside the page's LIMIT so the database computes it for the page's
    # rows only: with it in the same query, a plan that sorts (stale statistics after a bulk
    # load pick one) computes it for every row in range before the LIMIT.
    page = query.subquery("page")
    # the same columns in the same order; JSON as text, to go out embedded as it is
    columns: list[Any] = [page.c[name] for name in _EVENT_FIELDS]
    columns.append(sql_cast(page.c.changed_fields, Text).label("changed_fields"))
    columns.append(_shared_data(dict(withheld), dialect, page.c))
    return select(*columns).order_by(page.c.sequence)


def event_id(record_type: str, key: str, version: int) -> str:
    """The CloudEvent id of a change: its record and version, unique and the same on every
    delivery, so consumers can de-duplicate by it."""
    return f"{record_type}/{key}/{version}"


def cloud_event(
    version: Change,
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
) -> dict[str, Any]:
    """Render one change as a structured CloudEvent 1.0, its record filtered for ``reader``."""
    record_type = registry()[version.record_type]
    record, withheld = reader.visible(record_type, record_type.present(version.data, today))
    note_disclosure(record_type, version.record_key, record)
    return _envelope(version, record, withheld, version.changed_fields, settings)


def feed_events(
    versions: Sequence[Change],
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
) -> list[dict[str, Any]]:
    """Render changes read with ``shared_with=reader`` as CloudEvents for that reader.

    A record the reader sees in full as stored (no computed fields, and none of its protected
    fields shown, so nothing to audit) goes out as the database's JSON text, embedded
    unparsed: a feed page is mostly such records, and parsing and re-encoding them was most
    of its cost. Any other record is parsed, completed and filtered as :func:`cloud_event`
    does.
    """
    types = registry()
    # per record type: the fields withheld from this reader, and whether the stored text will do
    views: dict[str, tuple[list[str], bool]] = {}
    rendered = []
    rows: Sequence[Sequence[Any]] = versions
    for version in rows:
        type_name, key = version[0], version[1]
        record_type = types[type_name]
        if type_name not in views:
            withheld = reader.withheld_fields(record_type)
            whole = record_type.compute is None and record_type.protected_fields <= set(withheld)
            views[type_name] = (withheld, whole)
        withheld, as_stored = views[type_name]
        changed_fields, shared_data = version[_EVENT_WIDTH], version[_EVENT_WIDTH + 1]
        if as_stored:
            record: Any = orjson.Fragment(shared_data)
        else:
            shared = record_type.present(load_stored_json(shared_data), today)
            record, withheld = reader.visible(record_type, shared)
            note_disclosure(record_type, key, record)
        fragment = orjson.Fragment(changed_fields)
        rendered.append(_envelope(version, record, withheld, fragment, settings))
    return rendered


def _envelope(
    version: Sequence[Any],
    record: Any,
    withheld: list[str],
    changed_fields: Any,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The CloudEvent of a change read with its ``_EVENT_FIELDS`` first."""
    (
        type_name,
        key,
        project_code,
        number,
        operation,
        deleted,
        published_by,
        created_at,
        sequence,
    ) = version[:_EVENT_WIDTH]
    return {
        "specversion": "1.0",
        "id": event_id(type_name, key, number),
        "source": settings["EVENT_SOURCE"],
        "type": f"{settings['EVENT_TYPE_PREFIX']}.record.{operation}",
        "subject": f"{type_name}/{key}",
        "time": created_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": sequence,
        "data": {
            "type": type_name,
            "key": key,
            "version": number,
            "project_code": project_code,
            "operation": operation,
            "changed_fields": changed_fields,
            "published_by": published_by,
            "deleted": deleted,
            "record": record,
            "withheld": withheld,
        },
    }
