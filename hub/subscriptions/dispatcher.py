"""The webhook dispatcher: delivers each active webhook subscription's events, in order.

How several dispatchers share the work. A subscription is worked by one dispatcher at a time:
the one that claimed its *lease* (``lease_owner`` until ``lease_until``). Claims take due rows
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer at a time anyway), so two
dispatchers never claim the same subscription; a lease outlasts the longest turn, so a holder is
never overtaken while it works. Each confirmed delivery moves the cursor with a
compare-and-set on (lease owner, previous cursor): a dispatcher that lost its lease, or whose
subscription was replayed meanwhile, stops instead of writing over it. A dispatcher that dies
mid-delivery leaves the cursor where it was; when its lease runs out another claims the
subscription and delivers the unconfirmed event again (at-least-once).

Fairness. A claim is a *turn* of at most ``DISPATCHER_TURN_SECONDS``; a subscription with more
to deliver goes back to the queue, which is ordered by when each is due. Endpoints that answer
slowly (or not at all) may hold at most half of the delivery threads, so however many there are,
healthy endpoints keep getting theirs.

Failures are retried on ``WEBHOOK_RETRY_SCHEDULE`` with jitter, or later if the endpoint's
``Retry-After`` says so. When the schedule runs out the subscription is marked ``failing`` and
keeps its cursor; 410 from an endpoint pauses it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub import metrics, planner
from hub.audit import service as audit
from hub.audit import trail
from hub.auth.models import Department
from hub.db import rowcount, utcnow
from hub.events import follow, notify
from hub.events.service import Change, cloud_event, head_sequence
from hub.extensions import db
from hub.sharing.service import reader_view
from hub.subscriptions import service
from hub.subscriptions.matching import read_matching
from hub.subscriptions.models import Delivery, Subscription
from hub.subscriptions.policy import EndpointPolicy, UnsafeEndpoint
from hub.subscriptions.webhooks import Attempt, Sender, signed_headers
from schemas import registry

logger = logging.getLogger(__name__)
# events read per query within a turn
TURN_PAGE = 20
# a lease outlasts a turn and its last delivery by this much
LEASE_MARGIN = 30.0
# an endpoint whose answers take longer than this (smoothed), or than a quarter of the
# timeout if that is less, counts as slow
SLOW_SECONDS = 1.0
# seconds between looks for a first active webhook subscription while there is none
IDLE_RECHECK = 0.25
# seconds at least between two claiming rounds of one dispatcher
ROUND_GAP = 0.02
# endpoints whose answer times a dispatcher remembers
ANSWER_TIMES_KEPT = 10_000
# the longest Retry-After honoured
MAX_RETRY_AFTER = 24 * 3600.0

S = Subscription


@dataclass(frozen=True)
class Rendered:
    """One event ready to send: its sequence, id, body, commit time and what it disclosed."""

    sequence: int
    event_id: str
    body: str
    committed_at: datetime
    disclosed: dict[str, list[str]]


class Dispatcher:
    """One process's dispatcher: a claiming loop and a pool of delivery threads."""

    def __init__(self, app: Flask, *, name: str | None = None) -> None:
        settings = app.config
        self.app = app
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency: int = settings["DISPATCHER_CONCURRENCY"]
        self.turn: float = settings["DISPATCHER_TURN_SECONDS"]
        self.timeout: float = settings["WEBHOOK_TIMEOUT"]
        self.slow_after: float = min(SLOW_SECONDS, self.timeout / 4)
        self.lease = timedelta(seconds=self.turn + self.timeout + LEASE_MARGIN)
        self.schedule: list[float] = [float(delay) for delay in settings["WEBHOOK_RETRY_SCHEDULE"]]
        self.jitter: float = settings["WEBHOOK_RETRY_JITTER"]
        self.poll_interval: float = settings["EVENTS_POLL_INTERVAL"]
        self.policy = EndpointPolicy.from_settings(settings)
        self.zone = ZoneInfo(settings["TIMEZONE"])
        self.sender = Sender(self.timeout, self.concurrency)
        self.metrics = metrics.delivery_metrics(app)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="hub-delivery")
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._answer_time: dict[int, float] = {}
        self._wake = threading.Event()
        self._idle_until = 0.0
        self._listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the claiming loop in a thread of its own."""
        notify.notifier(self.app).signal.add_listener(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="hub-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming, let deliveries in flight finish, and give back the leases held."""
        self._stop.set()
        self._wake.set()
        notify.notifier(self.app).signal.remove_listener(self._wake.set)
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._listen(False)  # rounds were run by the caller (run_once): its hold, if any
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self.app.app_context():
            try:
                with db.unit_of_work() as session:
                    session.execute(
                        update(S)
                        .where(S.lease_owner == self.owner)
                        .values(lease_owner=None, lease_until=None)
                    )
            except SQLAlchemyError:
                logger.warning("Could not give back leases; they expire by themselves")
        self.sender.close()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no delivery is in flight (for tests and orderly shutdowns)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        try:
            self._claim_until_stopped()
        finally:
            self._listen(False)

    def _claim_until_stopped(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self.app.app_context():
                    pause = self.run_once()
            except SQLAlchemyError:
                logger.warning("Dispatcher round failed; retrying", exc_info=True)
                pause = self.poll_interval
            except Exception:  # the loop outlives any bug in a round, and says so
                logger.exception("Dispatcher round failed; retrying")
                pause = self.poll_interval
            # Under a stream of commits, one round per ROUND_GAP serves them all: a round per
            # commit would cost every publish several statements more.
            if self._stop.wait(ROUND_GAP):
                return
            self._wake.wait(max(0.0, pause - ROUND_GAP))

    def run_once(self) -> float:
        """Number new events, seal the audit chain and analyse grown tables if due, claim due
        subscriptions and hand them to delivery threads; return how long to sleep unless
        woken."""
        trail.seal_if_due()
        planner.analyze_if_due()
        idle = self._idle_until - time.monotonic()
        if idle > 0:
            return idle
        has_work = self._has_work()
        self._listen(has_work)
        if not has_work:
            # nothing to deliver to: look again a little later, not at every commit
            self._idle_until = time.monotonic() + IDLE_RECHECK
            return IDLE_RECHECK
        follow.catch_up()
        # on SQLite the look for unnumbered events began a read snapshot taken before the
        # numbering: end it, so the claim below sees the events just numbered
        db.end_read()
        with self._lock:
            free = self.concurrency - len(self._in_flight)
            slow = {i for i, t in self._answer_time.items() if t > self.slow_after}
            slow_room = max(0, self.concurrency // 2 - len(self._in_flight & slow))
        if free > 0:
            # healthy (or not yet known) endpoints first; slow ones get at most half the threads
            claimed = self._claim(free, exclude=slow)
            if slow and slow_room and len(claimed) < free:
                claimed += self._claim(min(free - len(claimed), slow_room), among=slow)
            for subscription_id in claimed:
                with self._lock:
                    self._in_flight.add(subscription_id)
                future = self._pool.submit(self._work, subscription_id)
                future.add_done_callback(self._finished(subscription_id))
        return self._until_next_due()

    def _listen(self, wanted: bool) -> None:
        """Hear of other processes' commits while there are webhook subscriptions to serve."""
        if wanted != self._listening:
            notifier = notify.notifier(self.app)
            if wanted:
                notifier.hold()
            else:
                notifier.release()
            self._listening = wanted

    def _finished(self, subscription_id: int) -> Any:
        def done(future: Future[None]) -> None:
            with self._lock:
                self._in_flight.discard(subscription_id)
            if not future.cancelled() and (error := future.exception()) is not None:
                logger.error("Delivery turn failed", exc_info=error)
            self._wake.set()

        return done

    # -- claiming ------------------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        live_departments = select(Department.id).where(Department.disabled_at.is_(None))
        return (
            S.kind == "webhook",
            S.status == "active",
            or_(S.next_attempt_at.is_(None), S.next_attempt_at <= now),
            or_(S.lease_until.is_(None), S.lease_until < now),
            S.department_id.in_(live_departments),
        )

    def _claim(
        self, limit: int, *, exclude: Collection[int] = (), among: Collection[int] | None = None
    ) -> list[int]:
        """Lease up to ``limit`` due subscriptions with events to deliver (only ``among``
        those, if given; none of ``exclude``)."""
        with db.unit_of_work() as session:
            now = utcnow()
            head = head_sequence(session)
            query = (
                select(S.id)
                .where(*self._due(now), S.cursor < head)
                .order_by(S.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if exclude:
                query = query.where(S.id.not_in(exclude))
            if among is not None:
                query = query.where(S.id.in_(among))
            with self._lock:
                if self._in_flight:
                    query = query.where(S.id.not_in(self._in_flight))
            claimed = list(session.scalars(query))
            if claimed:
                session.execute(
                    update(S)
                    .where(S.id.in_(claimed))
                    .values(lease_owner=self.owner, lease_until=now + self.lease)
                )
        return claimed

    def _has_work(self) -> bool:
        """Whether any webhook subscription is active (one probe of a partial index)."""
        with db.unit_of_work(write=False) as session:
            found = session.scalar(
                select(S.id).where(S.kind == "webhook", S.status == "active").limit(1)
            )
        return found is not None

    def _until_next_due(self) -> float:
        """Seconds until the earliest scheduled retry, at most the poll interval."""
        with db.unit_of_work(write=False) as session:
            now = utcnow()
            earliest = session.scalar(
                select(func.min(S.next_attempt_at)).where(
                    S.kind == "webhook", S.status == "active", S.next_attempt_at > now
                )
            )
        if earliest is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (earliest - now).total_seconds()))

    # -- delivering ----------------------------------------------------------------------

    def _work(self, subscription_id: int) -> None:
        with self.app.app_context():
            try:
                self._turn(subscription_id)
            except SQLAlchemyError:
                logger.warning("Delivery turn of subscription %s failed", subscription_id)
            except Exception as exc:
                # A bug (an event that cannot be rendered, say) must neither kill the thread
                # nor spin: the subscription backs off like a failed delivery, and says why.
                logger.exception("Delivery turn of subscription %s failed", subscription_id)
                self._back_off(subscription_id, f"{type(exc).__name__}: {exc}")
            finally:
                self._release(subscription_id)

    def _back_off(self, subscription_id: int, error: str) -> None:
        """Count a failed turn as a failed attempt, with its backoff or, at the end of the
        schedule, the failing status."""
        with db.unit_of_work() as session:
            subscription = session.get(S, subscription_id, with_for_update=True)
            if subscription is None or subscription.lease_owner != self.owner:
                return
            number = subscription.attempts + 1
            subscription.attempts = number
            subscription.status_reason = f"Internal error while delivering: {error}"[:1000]
            if number > len(self.schedule):
                subscription.status = "failing"
            else:
                delay = self._backoff(number, Attempt("failed", None, 0.0, error))
                subscription.next_attempt_at = utcnow() + delay

    def _turn(self, subscription_id: int) -> None:
        """Deliver the subscription's next events until the turn is up or something fails."""
        deadline = time.monotonic() + self.turn
        while time.monotonic() < deadline and not self._stop.is_set():
            batch = self._next_batch(subscription_id)
            if batch is None:
                return
            subscription, rendered, next_after = batch
            if not rendered:
                self._advance(subscription, next_after)
                return
            for event in rendered:
                if not self._deliver(subscription, event):
                    return
                subscription.cursor = event.sequence
                if time.monotonic() >= deadline or self._stop.is_set():
                    return
            if next_after > subscription.cursor:
                self._advance(subscription, next_after)

    def _next_batch(self, subscription_id: int) -> tuple[Subscription, list[Rendered], int] | None:
        """The subscription (if still ours and active) and its next events, rendered."""
        with db.unit_of_work(write=False) as session:
            subscription = session.get(S, subscription_id)
            if (
                subscription is None
                or subscription.lease_owner != self.owner
                or subscription.status != "active"
            ):
                return None
            department = session.get(Department, subscription.department_id)
            if department is None or department.disabled_at is not None:
                return None
            page = read_matching(
                session, subscription.cursor, TURN_PAGE, service.event_filter(subscription)
            )
            view = reader_view(session, department.id, frozenset(department.publishes))
            today = datetime.now(self.zone).date()
            rendered = [self._render(v, view, today) for v in page.events]
            session.expunge(subscription)
        return subscription, rendered, page.next_after

    def _render(self, version: Change, view: Any, today: Any) -> Rendered:
        event = cloud_event(version, view, self.app.config, today)
        record_type = registry()[version.record_type]
        shown = record_type.protected_fields & event["data"]["record"].keys()
        disclosed = {f"{version.record_type}/{version.record_key}": sorted(shown)} if shown else {}
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        assert version.sequence is not None, "only numbered versions are read"
        return Rendered(version.sequence, event["id"], body, version.created_at, disclosed)

    def _deliver(self, subscription: Subscription, event: Rendered) -> bool:
        """Send one event and record the attempt; whether to go on with the next."""
        assert subscription.endpoint_url is not None
        now = utcnow()
        try:
            target = self.policy.check(subscription.endpoint_url)
        except UnsafeEndpoint as exc:
            attempt = Attempt("failed", None, 0.0, f"Endpoint refused by policy: {exc}")
        else:
            secrets = service.signing_secrets(subscription, now)
            headers = signed_headers(secrets, event.event_id, event.body, now)
            attempt = self.sender.send(target, headers, event.body)
        self._note_answer_time(subscription.id, attempt)
        return self._record(subscription, event, attempt)

    def _note_answer_time(self, subscription_id: int, attempt: Attempt) -> None:
        taken = attempt.duration if attempt.response_code is not None else self.timeout
        with self._lock:
            before = self._answer_time.pop(subscription_id, taken)
            self._answer_time[subscription_id] = 0.5 * before + 0.5 * taken
            if len(self._answer_time) > ANSWER_TIMES_KEPT:  # forget the longest unheard
                del self._answer_time[next(iter(self._answer_time))]

    def _record(self, subscription: Subscription, event: Rendered, attempt: Attempt) -> bool:
        """Write the attempt and its consequence in one unit of work; whether to go on."""
        number = subscription.attempts + 1
        outcome, go_on = attempt.outcome, attempt.outcome == "delivered"
        now = utcnow()
        changes: dict[str, Any]
        if attempt.outcome == "delivered":
            changes = {
                "cursor": event.sequence,
                "attempts": 0,
                "status_reason": None,
                "next_attempt_at": now,
                "lease_until": now + self.lease,
            }
        elif attempt.outcome == "gone":
            changes = {
                "status": "paused",
                "status_reason": "The endpoint answered 410 Gone; resume when it is back.",
                "attempts": 0,
            }
        elif number > len(self.schedule):
            outcome = "exhausted"
            changes = {
                "status": "failing",
                "status_reason": f"{number} attempts failed; the last: {attempt.error}",
                "attempts": number,
            }
        else:
            changes = {"attempts": number, "next_attempt_at": now + self._backoff(number, attempt)}
        latency = (now - event.committed_at).total_seconds() if go_on else None
        fence = self._still_ours(subscription)
        if not go_on:  # a failure must not overwrite a pause or replay made meanwhile
            fence.append(S.status == "active")
        with db.unit_of_work() as session:
            moved = rowcount(
                session.execute(
                    update(S)
                    .where(*fence)
                    .values(updated_at=now, **changes)
                    .execution_options(synchronize_session=False)
                )
            )
            session.add(
                Delivery(
                    subscription_id=subscription.id,
                    sequence=event.sequence,
                    event_id=event.event_id,
                    attempt=number,
                    at=now,
                    outcome=outcome,
                    response_code=attempt.response_code,
                    duration_ms=round(attempt.duration * 1000, 3),
                    error=attempt.error,
                )
            )
            if event.disclosed:
                self._audit_disclosure(session, subscription, event, attempt)
        self.metrics.observe(outcome, attempt.duration, latency)
        subscription.attempts = 0 if go_on else number
        # a replay, a pause or a lost lease since the batch was read: this turn ends
        return go_on and moved == 1

    def _backoff(self, number: int, attempt: Attempt) -> timedelta:
        delay = self.schedule[number - 1] * (1 + random.uniform(-self.jitter, self.jitter))
        if attempt.retry_after is not None:
            delay = max(delay, min(attempt.retry_after, MAX_RETRY_AFTER))
        return timedelta(seconds=delay)

    def _audit_disclosure(
        self, session: Session, subscription: Subscription, event: Rendered, attempt: Attempt
    ) -> None:
        fields = sorted({name for names in event.disclosed.values() for name in names})
        audit.record(
            session,
            action="subscription.deliver",
            target=f"subscription/{subscription.id}",
            outcome=attempt.response_code or 0,
            actor=f"dispatcher:{self.owner}",
            department_id=subscription.department_id,
            key_id=None,
            details={
                "records": sorted(event.disclosed),
                "fields": fields,
                "sequence": event.sequence,
                # without its query, which may carry a receiver's token
                "endpoint_url": (subscription.endpoint_url or "").split("?", 1)[0],
            },
        )

    def _still_ours(self, subscription: Subscription) -> list[Any]:
        """The compare-and-set of every confirmation: the lease is still ours and the cursor
        where this turn read it (a replay or a lost lease since then stops the turn)."""
        return [
            S.id == subscription.id,
            S.lease_owner == self.owner,
            S.cursor == subscription.cursor,
        ]

    def _advance(self, subscription: Subscription, next_after: int) -> None:
        """Move the cursor past events the subscription's filter passed over."""
        with db.unit_of_work() as session:
            session.execute(
                update(S)
                .where(*self._still_ours(subscription))
                .values(cursor=next_after)
                .execution_options(synchronize_session=False)
            )
        subscription.cursor = next_after

    def _release(self, subscription_id: int) -> None:
        """Give the lease back, so the subscription can be claimed again when due."""
        try:
            with db.unit_of_work() as session:
                session.execute(
                    update(S)
                    .where(S.id == subscription_id, S.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            logger.warning(
                "Could not release subscription %s; its lease will expire",
                subscription_id,
                exc_info=True,
            )
