"""Which dispatcher works which webhook subscription: leases, claimed and given back in SQL.

A subscription is worked by one dispatcher at a time: the one that claimed its lease
(``lease_owner`` until ``lease_until``). Claims take due rows with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (SQLite has one writer at a time anyway), so two dispatchers never claim the
same subscription; a lease outlasts the longest turn, so a holder is never overtaken while it
works. Each confirmation moves the cursor with a compare-and-set on (lease owner, cursor read):
a dispatcher that lost its lease, or whose subscription was replayed meanwhile, stops instead
of writing over it (:meth:`Leases.still_ours`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from hub.auth.models import Department
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.events.log import head_sequence
from hub.subscriptions.models import Subscription

logger = logging.getLogger(__name__)
_ACTIVE_WEBHOOK = (Subscription.kind == "webhook", Subscription.status == "active")


class Leases:
    """One dispatcher's leases: ``owner`` names it, ``duration`` is how long a claim holds."""

    def __init__(self, owner: str, duration: timedelta) -> None:
        self.owner = owner
        self.duration = duration

    @staticmethod
    def _due(now: datetime) -> tuple[Any, ...]:
        live_departments = select(Department.id).where(Department.disabled_at.is_(None))
        return (
            *_ACTIVE_WEBHOOK,
            or_(Subscription.next_attempt_at.is_(None), Subscription.next_attempt_at <= now),
            or_(Subscription.lease_until.is_(None), Subscription.lease_until < now),
            Subscription.department_id.in_(live_departments),
        )

    def claim(
        self,
        limit: int,
        *,
        exclude: Collection[int] = (),
        among: Collection[int] | None = None,
    ) -> list[int]:
        """Lease up to ``limit`` due subscriptions with events to deliver, soonest due first
        (only ``among`` those, if given; none of ``exclude``)."""
        with db.unit_of_work() as session:
            now = utcnow()
            query = (
                select(Subscription.id)
                .where(*self._due(now), Subscription.cursor < head_sequence(session))
                .order_by(Subscription.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if exclude:
                query = query.where(Subscription.id.not_in(exclude))
            if among is not None:
                query = query.where(Subscription.id.in_(among))
            claimed = list(session.scalars(query))
            if claimed:
                session.execute(
                    update(Subscription)
                    .where(Subscription.id.in_(claimed))
                    .values(lease_owner=self.owner, lease_until=now + self.duration)
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
