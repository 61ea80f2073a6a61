"""Which dispatcher works which webhook subscription: leases, claimed and given back in SQL.

A subscription is worked by one dispatcher at a time: the one that claimed its lease
(``lease_owner`` until ``lease_until``). Claims take due rows with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (SQLite has one writer at a time anyway), so two dispatchers never claim the
same subscription; a lease outlasts the longest turn, so a holder is never overtaken while it
works. Each confirmation moves the cursor with a compare-and-set on (lease owner, cursor read):
a dispatcher that lost its lease, or whose subscription was replayed meanwhile, stops instead
of writing over it (:meth:`Leases.still_ours`).

Idle subscriptions cost nothing per commit. A claim takes only subscriptions that may have an
event to deliver: one that the subscription's ``types`` and ``project_code`` accept after its
cursor, up to the head (:func:`may_have_events`, probes of the feed's indexes). Those filters
are what an event must pass first, so a subscription that fails the probe has nothing to
deliver; its cursor is moved to the head set-wise, every few seconds, by
:meth:`Leases.advance_idle` (one statement for them all, never a leased subscription), so its
lag stays honest and the probes short. A filter on project fields (``admin_division``,
``category``) is judged when the events are read, as before.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from hub.auth.models import Department
from hub.core.db import rowcount, utcnow
from hub.core.extensions import db
from hub.events.log import head_sequence
from hub.records.models import RecordVersion
from hub.subscriptions.models import Subscription
from schemas import registry

logger = logging.getLogger(__name__)
# the statements' parameters: the head, now, and where the last idle advance left idle
# subscriptions (a claim's also its limit, and the ids it is limited to or leaves out)
_HEAD = bindparam("head", type_=BigInteger)
_RECENT_FROM = bindparam("recent_from", type_=BigInteger)
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _active_webhook(subscriptions: Any) -> tuple[ColumnElement[bool], ...]:
    return (subscriptions.kind == "webhook", subscriptions.status == "active")


_ACTIVE_WEBHOOK = _active_webhook(Subscription)


def _elements(dialect: str, array: Any) -> Any:
    """The strings of a JSON array column, as a table with one column, ``value``."""
    if dialect == "postgresql":
        return func.jsonb_array_elements_text(array).table_valued("value")
    return func.json_each(array).table_valued("value")


def _length(dialect: str, array: Any) -> Any:
    if dialect == "postgresql":
        return func.jsonb_array_length(array)
    return func.json_array_length(array)


def _lists(dialect: str, array: Any, name: str) -> ColumnElement[bool]:
    """SQL: whether the JSON array of strings ``array`` holds ``name``."""
    if dialect == "postgresql":
        return array.op("?")(_constant(name))  # type: ignore[no-any-return]
    listed = _elements(dialect, array)
    return exists(select(listed.c.value).where(listed.c.value == _constant(name)))


def _lists_other_than(dialect: str, array: Any, names: list[str]) -> ColumnElement[bool]:
    """SQL: whether the JSON array of strings ``array`` holds a string not in ``names``."""
    listed = _elements(dialect, array)
    return exists(
        select(listed.c.value).where(listed.c.value.not_in([_constant(n) for n in names]))
    )


def _constant(name: str) -> Any:
    """A record type's name written into a statement (as a constant, not a parameter)."""
    if not _TYPE_NAME.match(name):
        raise ValueError(f"Not a record type's name: {name!r}")
    return literal_column(f"'{name}'", String)


def _first_of_type(subscriptions: Any, name: str, recent: bool) -> Any:
    """SQL: whether an event of type ``name`` comes after the subscription's cursor, up to
    the head.

    The type is written into the statement as a constant: the probe's plan serves every
    subscription with the cursor as a parameter, and with the type a parameter too,
    PostgreSQL took any type for a common one and scanned every event after the cursor by
    sequence rather than the few (or none) of that type. For a type that was common when the
    table was analysed it may still do so; so, if ``recent``, where the cursor is at or after
    ``recent_from`` (where the last idle advance left idle subscriptions) the answer comes
    from the last event of the type after ``recent_from``, looked up once per statement, not
    once per subscription.
    """
    of_type = RecordVersion.record_type == _constant(name)
    after_cursor = exists(
        select(RecordVersion.sequence).where(
            of_type,
            RecordVersion.sequence > subscriptions.cursor,
            RecordVersion.sequence <= _HEAD,
        )
    )
    if not recent:
        return after_cursor
    last_recent = (
        select(func.max(RecordVersion.sequence))
        .where(of_type, RecordVersion.sequence > _RECENT_FROM, RecordVersion.sequence <= _HEAD)
        .scalar_subquery()
    )
    return case(
        (
            subscriptions.cursor >= _RECENT_FROM,
            func.coalesce(last_recent, _RECENT_FROM) > subscriptions.cursor,
        ),
        else_=after_cursor,
    )


def may_have_events(subscriptions: Any, dialect: str, recent: bool) -> ColumnElement[bool]:
    """SQL: whether an event the subscription's ``types`` and ``project_code`` accept comes
    after its cursor, up to the head (parameters ``head`` and, if ``recent``,
    ``recent_from``); a condition on ``subscriptions`` (the entity or an alias).

    Every event it delivers passes this test, so where it fails there is nothing to deliver;
    where it holds, a filter on project fields may still turn every event down (that is
    judged when they are read). Each case probes one of the feed's indexes: by project and
    sequence when the filter names a project (a project's changes are few beside a type's),
    else by type and sequence, per type it lists (:func:`_first_of_type`); with neither,
    every event matches.
    """
    project = subscriptions.filter["project_code"].as_string()
    no_types = _length(dialect, subscriptions.types) == 0
    known = sorted(registry())
    by_type = [
        and_(
            _lists(dialect, subscriptions.types, name),
            _first_of_type(subscriptions, name, recent),
        )
        for name in known
    ]
    listed = _elements(dialect, subscriptions.types)
    of_the_project = select(RecordVersion.sequence).where(
        RecordVersion.project_code == project,
        RecordVersion.sequence > subscriptions.cursor,
        RecordVersion.sequence <= _HEAD,
        or_(no_types, RecordVersion.record_type.in_(select(listed.c.value))),
    )
    return or_(
        and_(
            project.is_(None),
            or_(
                no_types,
                *by_type,
                # a type the code no longer knows: read as before
                _lists_other_than(dialect, subscriptions.types, known),
            ),
        ),
        and_(project.is_not(None), exists(of_the_project)),
    )


@functools.lru_cache(maxsize=64)
def _claim_statement(dialect: str, recent: bool, excluding: bool, among: bool) -> Any:
    """The claim's choice of subscriptions, built once per shape: building it (probes for
    every record type) each round cost more than running it."""
    now: BindParameter[Any] = bindparam("now")
    live_departments = select(Department.id).where(Department.disabled_at.is_(None))
    query = (
        select(Subscription.id)
        .where(
            *_ACTIVE_WEBHOOK,
            or_(Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now),
            or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
            Subscription.department_id.in_(live_departments),
            Subscription.cursor < _HEAD,
            may_have_events(Subscription, dialect, recent),
        )
        .order_by(Subscription.next_attempt_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    if excluding:
        query = query.where(Subscription.id.not_in(bindparam("exclude", expanding=True)))
    if among:
        query = query.where(Subscription.id.in_(bindparam("among", expanding=True)))
    return query


@functools.lru_cache(maxsize=8)
def _advance_statement(dialect: str, recent: bool) -> Any:
    """The idle advance's one statement, built once per shape."""
    now: BindParameter[Any] = bindparam("now")
    idle = aliased(Subscription, name="idle")
    chosen = (
        select(idle.id)
        .where(
            *_active_webhook(idle),
            idle.cursor < _HEAD,
            or_(idle.lease_until.is_(None), idle.lease_until < now),
            not_(may_have_events(idle, dialect, recent)),
        )
        .with_for_update(skip_locked=True)
    )
    return (
        update(Subscription)
        .where(Subscription.id.in_(chosen))
        .values(cursor=_HEAD)
        .execution_options(synchronize_session=False)
    )


class Leases:
    """One dispatcher's leases: ``owner`` names it, ``duration`` is how long a claim holds."""

    def __init__(self, owner: str, duration: timedelta) -> None:
        self.owner = owner
        self.duration = duration
        # the head the last idle advance moved idle subscriptions to (see _first_of_type)
        self.advanced_to: int | None = None

    def _probe_params(self, head: int) -> dict[str, Any]:
        params: dict[str, Any] = {"head": head, "now": utcnow()}
        if self.advanced_to is not None:
            params["recent_from"] = min(self.advanced_to, head)
        return params

    def claim(
        self,
        limit: int,
        *,
        exclude: Collection[int] = (),
        among: Collection[int] | None = None,
    ) -> list[int]:
        """Lease up to ``limit`` due subscriptions that may have events to deliver, soonest
        due first (only ``among`` those, if given; none of ``exclude``)."""
        with db.unit_of_work() as session:
            params = self._probe_params(head_sequence(session))
            query = _claim_statement(
                session.get_bind().dialect.name,
                "recent_from" in params,
                bool(exclude),
                among is not None,
            )
            params["limit"] = limit
            if exclude:
                params["exclude"] = list(exclude)
            if among is not None:
                params["among"] = list(among)
            claimed = list(session.scalars(query, params))
            if claimed:
                session.execute(
                    update(Subscription)
                    .where(Subscription.id.in_(claimed))
                    .values(lease_owner=self.owner, lease_until=params["now"] + self.duration)
                )
        return claimed

    def still_ours(self, subscription: Subscription) -> list[Any]:
        """The compare-and-set of every confirmation: the lease is still ours and the cursor
        where this turn read it."""
        return [
            Subscription.id == subscription.id,
            Subscription.lease_owner == self.owner,
            Subscription.cursor == subscription.cursor,
        ]

    def advance(self, subscription: Subscription, next_after: int) -> None:
        """Move the cursor past events the subscription's filter passed over."""
        with db.unit_of_work() as session:
            session.execute(
                update(Subscription)
                .where(*self.still_ours(subscription))
                .values(cursor=next_after)
                .execution_options(synchronize_session=False)
            )
        subscription.cursor = next_after

    def advance_idle(self) -> int:
        """Move to the head, in one statement, the cursor of every active webhook subscription
        that nobody holds and that has nothing to deliver up to it; how many moved.

        The rows are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and the test is
        made on each row as it is when taken: a subscription being claimed, delivered to or
        replayed meanwhile is left alone (or judged again from the cursor its replay set),
        and two dispatchers doing this at once never wait on each other.
        """
        with db.unit_of_work() as session:
            head = head_sequence(session)
            params = self._probe_params(head)
            statement = _advance_statement(session.get_bind().dialect.name, "recent_from" in params)
            moved = rowcount(session.execute(statement, params))
        self.advanced_to = head
        return moved

    def release(self, subscription_id: int) -> None:
        """Give the lease back, so the subscription can be claimed again when due."""
        try:
            with db.unit_of_work() as session:
                session.execute(
                    update(Subscription)
                    .where(
                        Subscription.id == subscription_id, Subscription.lease_owner == self.owner
                    )
                    .values(lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            logger.warning(
                "Could not release subscription %s; its lease will expire",
                subscription_id,
                exc_info=True,
            )

    def release_all(self) -> None:
        """Give back every lease this dispatcher holds (when it stops)."""
        try:
            with db.unit_of_work() as session:
                session.execute(
                    update(Subscription)
                    .where(Subscription.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                )
        except SQLAlchemyError:
            logger.warning("Could not give back leases; they expire by themselves")


def any_active_webhook() -> bool:
    """Whether any webhook subscription is active (one probe of a partial index)."""
    with db.unit_of_work(write=False) as session:
        found = session.scalar(select(Subscription.id).where(*_ACTIVE_WEBHOOK).limit(1))
    return found is not None


def seconds_until_next_due(at_most: float) -> float:
    """Seconds until the earliest scheduled retry, at most ``at_most``."""
    with db.unit_of_work(write=False) as session:
        now = utcnow()
        earliest = session.scalar(
            select(func.min(Subscription.next_attempt_at)).where(
                *_ACTIVE_WEBHOOK, Subscription.next_attempt_at > now
            )
        )
    if earliest is None:
        return at_most
    return max(0.0, min(at_most, (earliest - now).total_seconds()))
