"""One webhook delivery: the subscription's next events rendered for it, each sent, and the
attempt written with its consequence (the cursor moves, a retry is scheduled, the
subscription pauses or is marked failing) in one unit of work.

Deliveries that showed the subscriber protected fields are audited with the attempt, as
``subscription.deliver``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import update

from hub.audit.entries import Actor, Entry, record
from hub.auth.models import Department
from hub.core.calendar import work_calendar
from hub.core.db import rowcount, utcnow
from hub.core.extensions import db
from hub.events.feed import LoggedChange
from hub.events.render import cloud_event
from hub.sharing.policy import ReaderView, reader_view
from hub.subscriptions import service
from hub.subscriptions.leases import Leases
from hub.subscriptions.matching import read_matching
from hub.subscriptions.metrics import DeliveryMetrics
from hub.subscriptions.models import Delivery, Subscription
from hub.subscriptions.policy import EndpointPolicy, UnsafeEndpoint
from hub.subscriptions.retries import RetrySchedule
from hub.subscriptions.webhooks import Attempt, Sender, signed_headers

logger = logging.getLogger(__name__)
# events read per query within a turn
TURN_PAGE = 20


@dataclass(frozen=True)
class Rendered:
    """One event ready to send: its sequence, id, body, commit time and what it disclosed."""

    sequence: int
    event_id: str
    body: str
    committed_at: datetime
    disclosed: dict[str, Any] | None


@dataclass(frozen=True)
class Batch:
    """A subscription (detached, as read) and its next events, ready to send."""

    subscription: Subscription
    events: list[Rendered]
    next_after: int


class Courier:
    """Delivers the events of the subscriptions its dispatcher leased."""

    def __init__(
        self,
        app: Flask,
        leases: Leases,
        sender: Sender,
        metrics: DeliveryMetrics,
    ) -> None:
        settings = app.config
        self.app = app
        self.leases = leases
        self.sender = sender
        self.metrics = metrics
        self.timeout: float = settings["WEBHOOK_TIMEOUT"]
        self.schedule = RetrySchedule.from_settings(settings)
        self.policy = EndpointPolicy.from_settings(settings)
        self.zone = ZoneInfo(settings["TIMEZONE"])
        self.calendar = work_calendar(app)
        self.actor = Actor(f"dispatcher:{leases.owner}")

    def next_batch(self, subscription_id: int) -> Batch | None:
        """The subscription (if still ours and active) and its next events, rendered."""
        with db.unit_of_work(write=False) as session:
            subscription = session.get(Subscription, subscription_id)
            if (
                subscription is None
                or subscription.lease_owner != self.leases.owner
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
            rendered = [self._render(version, view, today) for version in page.events]
            session.expunge(subscription)
        return Batch(subscription, rendered, page.next_after)

    def _render(self, version: LoggedChange, view: ReaderView, today: Any) -> Rendered:
        event = cloud_event(version, view, self.app.config, today, self.calendar)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        assert version.sequence is not None, "only numbered versions are read"
        disclosed = view.take_disclosure()
        return Rendered(version.sequence, event["id"], body, version.created_at, disclosed)

    def deliver(self, subscription: Subscription, event: Rendered) -> tuple[bool, Attempt]:
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
        return self._record(subscription, event, attempt), attempt

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
                "lease_until": now + self.leases.duration,
            }
        elif attempt.outcome == "gone":
            changes = {
                "status": "paused",
                "status_reason": "The endpoint answered 410 Gone; resume when it is back.",
                "attempts": 0,
            }
        elif self.schedule.exhausted(number):
            outcome = "exhausted"
            changes = {
                "status": "failing",
                "status_reason": f"{number} attempts failed; the last: {attempt.error}",
                "attempts": number,
            }
        else:
            delay = self.schedule.delay(number, attempt.retry_after)
            changes = {"attempts": number, "next_attempt_at": now + delay}
        latency = (now - event.committed_at).total_seconds() if go_on else None
        fence = self.leases.still_ours(subscription)
        if not go_on:  # a failure must not overwrite a pause or replay made meanwhile
            fence.append(Subscription.status == "active")
        with db.unit_of_work() as session:
            moved = rowcount(
                session.execute(
                    update(Subscription)
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

    def _audit_disclosure(
        self, session: Any, subscription: Subscription, event: Rendered, attempt: Attempt
    ) -> None:
        assert event.disclosed is not None
        details = {
            **event.disclosed,
            "sequence": event.sequence,
            # without its query, which may carry a receiver's token
            "endpoint_url": (subscription.endpoint_url or "").split("?", 1)[0],
        }
        actor = Actor(self.actor.name, department_id=subscription.department_id)
        entry = Entry(actor, service.DELIVER, f"subscription/{subscription.id}", details)
        record(session, entry, attempt.response_code or 0)

    def back_off(self, subscription_id: int, error: str) -> None:
        """Count a failed turn as a failed attempt, with its backoff or, at the end of the
        schedule, the failing status."""
        with db.unit_of_work() as session:
            subscription = session.get(Subscription, subscription_id, with_for_update=True)
            if subscription is None or subscription.lease_owner != self.leases.owner:
                return
            number = subscription.attempts + 1
            subscription.attempts = number
            subscription.status_reason = f"Internal error while delivering: {error}"[:1000]
            if self.schedule.exhausted(number):
                subscription.status = "failing"
            else:
                subscription.next_attempt_at = utcnow() + self.schedule.delay(number)
