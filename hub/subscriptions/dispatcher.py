"""The webhook dispatcher: one process's loop that delivers active webhook subscriptions'
events, in order, on a pool of delivery threads.

Several dispatchers share the work through leases (``hub.subscriptions.leases``): each claims
due subscriptions and works each for a *turn*. A dispatcher that dies mid-delivery leaves the
cursor where it was; when its lease runs out another claims the subscription and delivers the
unconfirmed event again (at-least-once). Each delivery is sent and recorded by the courier
(``hub.subscriptions.delivery``); failures are retried on the schedule
(``hub.subscriptions.retries``), and when it runs out the subscription is marked ``failing``
and keeps its cursor; 410 from an endpoint pauses it.

Idle subscriptions. A claim takes only subscriptions with an event their filter may accept
(``hub.subscriptions.leases``), so one that waits for a type nobody publishes costs nothing
per commit; every ``IDLE_ADVANCE`` seconds the claiming loop moves such subscriptions' cursors
to the head in one statement, so their lag stays honest and the claim's probes short.

Fairness. A turn lasts at most ``DISPATCHER_TURN_SECONDS``; a subscription with more to
deliver goes back to the queue, which is ordered by when each is due. Endpoints that answer
slowly (or not at all) may hold at most half of the delivery threads, so however many there
are, healthy endpoints keep getting theirs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from hub.core.extensions import db
from hub.events import follow, notify
from hub.subscriptions import leases, metrics
from hub.subscriptions.delivery import Courier
from hub.subscriptions.leases import Leases
from hub.subscriptions.webhooks import Attempt, Sender

logger = logging.getLogger(__name__)
# an endpoint whose answers take longer than this (smoothed), or than a quarter of the
# timeout if that is less, counts as slow
SLOW_SECONDS = 1.0
# seconds between looks for a first active webhook subscription while there is none
IDLE_RECHECK = 0.25
# seconds at least between two claiming rounds of one dispatcher
ROUND_GAP = 0.02
# endpoints whose answer times a dispatcher remembers
ANSWER_TIMES_KEPT = 10_000
# seconds at most between two moves of idle subscriptions' cursors to the head
IDLE_ADVANCE = 2.0


class Dispatcher:
    """One process's dispatcher: a claiming loop and a pool of delivery threads."""

    def __init__(self, app: Flask, *, name: str | None = None) -> None:
        settings = app.config
        self.app = app
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency: int = settings["DISPATCHER_CONCURRENCY"]
        self.turn: float = settings["DISPATCHER_TURN_SECONDS"]
        timeout: float = settings["WEBHOOK_TIMEOUT"]
        self.slow_after: float = min(SLOW_SECONDS, timeout / 4)
        self.timeout = timeout
        self.poll_interval: float = settings["EVENTS_POLL_INTERVAL"]
        # a lease outlasts a turn and its last delivery by the margin
        margin: float = settings["DISPATCHER_LEASE_MARGIN_SECONDS"]
        self.leases = Leases(self.owner, timedelta(seconds=self.turn + timeout + margin))
        self.sender = Sender(timeout, self.concurrency)
        self.courier = Courier(app, self.leases, self.sender, metrics.delivery_metrics(app))
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="hub-delivery")
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._answer_time: dict[int, float] = {}
        self._wake = threading.Event()
        self._idle_until = 0.0
        self._advance_at = 0.0
        self._listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the claiming loop in a thread of its own."""
        notify.notifier(self.app).signal.add_listener(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="hub-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0, *, wait_for_deliveries: bool = True) -> None:
        """Stop claiming, let deliveries in flight finish (unless told not to wait), and give
        back the leases held."""
        self._stop.set()
        self._wake.set()
        notify.notifier(self.app).signal.remove_listener(self._wake.set)
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._listen(False)  # rounds were run by the caller (run_once): its hold, if any
        self._pool.shutdown(wait=wait_for_deliveries, cancel_futures=True)
        with self.app.app_context():
            self.leases.release_all()
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
        """Number new events, claim due subscriptions and hand them to delivery threads;
        return how long to sleep unless woken."""
        idle = self._idle_until - time.monotonic()
        if idle > 0:
            return idle
        has_work = leases.any_active_webhook()
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
            busy = set(self._in_flight)
            slow = {i for i, t in self._answer_time.items() if t > self.slow_after}
            slow_room = max(0, self.concurrency // 2 - len(busy & slow))
        if free > 0:
            # healthy (or not yet known) endpoints first; slow ones get at most half the threads
            claimed = self.leases.claim(free, exclude=slow | busy)
            if slow and slow_room and len(claimed) < free:
                more = min(free - len(claimed), slow_room)
                claimed += self.leases.claim(more, among=slow - busy)
            for subscription_id in claimed:
                with self._lock:
                    self._in_flight.add(subscription_id)
                future = self._pool.submit(self._work, subscription_id)
                future.add_done_callback(self._finished(subscription_id))
        now = time.monotonic()
        if now >= self._advance_at:
            self._advance_at = now + IDLE_ADVANCE
            self.leases.advance_idle()
        return leases.seconds_until_next_due(self.poll_interval)

    def _listen(self, wanted: bool) -> None:
        """Hear of other processes' commits while there are webhook subscriptions to serve."""
        if wanted != self._listening:
            notifier = notify.notifier(self.app)
            if wanted:
                notifier.hold()
            else:
                notifier.release()
            self._listening = wanted

    def _finished(self, subscription_id: int) -> Callable[[Future[None]], None]:
        def done(future: Future[None]) -> None:
            with self._lock:
                self._in_flight.discard(subscription_id)
            if not future.cancelled() and (error := future.exception()) is not None:
                logger.error("Delivery turn failed", exc_info=error)
            self._wake.set()

        return done

    # -- a turn --------------------------------------------------------------------------

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
                self.courier.back_off(subscription_id, f"{type(exc).__name__}: {exc}")
            finally:
                self.leases.release(subscription_id)

    def _turn(self, subscription_id: int) -> None:
        """Deliver the subscription's next events until the turn is up or something fails."""
        deadline = time.monotonic() + self.turn
        while time.monotonic() < deadline and not self._stop.is_set():
            batch = self.courier.next_batch(subscription_id)
            if batch is None:
                return
            subscription = batch.subscription
            if not batch.events:
                self.leases.advance(subscription, batch.next_after)
                return
            for event in batch.events:
                go_on, attempt = self.courier.deliver(subscription, event)
                self._note_answer_time(subscription.id, attempt)
                if not go_on:
                    return
                subscription.cursor = event.sequence
                if time.monotonic() >= deadline or self._stop.is_set():
                    return
            if batch.next_after > subscription.cursor:
                self.leases.advance(subscription, batch.next_after)

    def _note_answer_time(self, subscription_id: int, attempt: Attempt) -> None:
        taken = attempt.duration if attempt.response_code is not None else self.timeout
        with self._lock:
            before = self._answer_time.pop(subscription_id, taken)
            self._answer_time[subscription_id] = 0.5 * before + 0.5 * taken
            if len(self._answer_time) > ANSWER_TIMES_KEPT:  # forget the longest unheard
                del self._answer_time[next(iter(self._answer_time))]
