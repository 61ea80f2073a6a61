"""Subscriptions: create, inspect, pause, resume, replay, delete; pull and acknowledge.

A subscription belongs to the department whose key created it; other departments cannot see
it (404). Its ``cursor`` is the last event the subscriber confirmed, and a new subscription
starts at the head of the log: it receives what changes from then on (``replay`` goes back).
Delivery is at-least-once: a subscriber de-duplicates by the event ``id``.
Pull subscriptions are read here; webhook subscriptions are worked by the dispatcher
(``hub.subscriptions.dispatcher``), which reads and advances the same columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit.entries import Actor, Entry, record
from hub.auth.identity import Identity
from hub.core.db import rowcount, utcnow
from hub.core.encryption import SecretBox, secret_box
from hub.core.errors import Conflict, NotFound, Unprocessable
from hub.core.pagination import MAX_ID, newest_first
from hub.events import feed, log
from hub.records.models import RecordVersion
from hub.subscriptions import webhooks
from hub.subscriptions.matching import EventFilter, read_matching
from hub.subscriptions.models import Delivery, Subscription
from hub.subscriptions.policy import EndpointPolicy, UnsafeEndpoint
from schemas import registry

STATUSES = ("active", "paused", "failing")
# What the audit log calls each action on a subscription (``PULL``: a pull that disclosed
# protected fields; ``DELIVER``: a delivery that did).
CREATE = "subscription.create"
DELETE = "subscription.delete"
PAUSE = "subscription.pause"
RESUME = "subscription.resume"
REPLAY = "subscription.replay"
ROTATE_SECRET = "subscription.rotate_secret"
PULL = "subscription.pull"
ACK = "subscription.ack"
DELIVER = "subscription.deliver"


def _check_types(types: Sequence[str]) -> None:
    known = registry()
    unknown = [name for name in types if name not in known]
    if unknown:
        raise Unprocessable(
            "Unknown record type(s).",
            errors={
                "types": [
                    f"No record type {name!r}; GET /api/v1/types lists them." for name in unknown
                ]
            },
        )


def check_endpoint(url: str, policy: EndpointPolicy) -> None:
    """422 naming ``endpoint_url`` unless the policy lets the hub call ``url``."""
    try:
        policy.check(url)
    except UnsafeEndpoint as exc:
        raise Unprocessable(
            "The endpoint is not allowed.", errors={"endpoint_url": [str(exc)]}
        ) from exc


def create(
    session: Session,
    identity: Identity,
    *,
    types: Sequence[str],
    filter_: Mapping[str, Any],
    endpoint_url: str | None,
) -> tuple[Subscription, str | None]:
    """A new subscription from the head of the log; a webhook's secret is returned once.

    ``endpoint_url`` must have passed :func:`check_endpoint`.
    """
    _check_types(types)
    secret = webhooks.new_secret() if endpoint_url is not None else None
    now = utcnow()
    # Number what has committed (waiting for a round running elsewhere to finish), so the
    # subscription starts after every change committed before it.
    log.number_events(session, wait=True)
    subscription = Subscription(
        department_id=identity.department_id,
        created_by=identity.key_id,
        kind="webhook" if endpoint_url is not None else "pull",
        types=sorted(set(types)),
        filter={name: value for name, value in filter_.items() if value is not None},
        status="active",
        cursor=log.head_sequence(session),
        endpoint_url=endpoint_url,
        secret=secret_box().seal(secret) if secret is not None else None,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    details = {"kind": subscription.kind, "types": subscription.types}
    _record(session, identity.actor, CREATE, subscription, details, outcome=201)
    return subscription, secret


def list_subscriptions(
    session: Session, identity: Identity, *, limit: int, before_id: int | None
) -> tuple[list[Subscription], int | None]:
    """The caller's department's subscriptions, newest first, and the id to continue before."""
    query = select(Subscription).where(Subscription.department_id == identity.department_id)
    return newest_first(session, query, Subscription.id, limit, before_id)


def get_subscription(
    session: Session, identity: Identity, subscription_id: int, *, lock: bool = False
) -> Subscription:
    """The caller's department's subscription ``subscription_id``, else 404."""
    found = (
        session.get(Subscription, subscription_id, with_for_update=lock)
        if subscription_id <= MAX_ID
        else None
    )
    if found is None or found.department_id != identity.department_id:
        raise NotFound(f"Your department has no subscription {subscription_id}.")
    return found


def _touch(subscription: Subscription) -> None:
    subscription.updated_at = utcnow()


def _record(
    session: Session,
    actor: Actor,
    action: str,
    subscription: Subscription,
    details: Mapping[str, Any] | None = None,
    *,
    outcome: int = 200,
) -> None:
    target = f"subscription/{subscription.id}"
    record(session, Entry(actor, action, target, details or {}), outcome)


def delete(session: Session, actor: Actor, subscription: Subscription) -> None:
    """End a subscription; its attempt log goes with it."""
    _record(session, actor, DELETE, subscription)
    session.delete(subscription)
    session.flush()


def pause(
    session: Session,
    actor: Actor,
    subscription: Subscription,
    reason: str = "Paused by the subscriber.",
) -> None:
    """Stop deliveries; the subscription keeps its place."""
    subscription.status = "paused"
    subscription.status_reason = reason
    _touch(subscription)
    _record(session, actor, PAUSE, subscription)


def _reactivate(subscription: Subscription) -> None:
    subscription.status = "active"
    subscription.status_reason = None
    subscription.attempts = 0
    subscription.next_attempt_at = utcnow()
    _touch(subscription)


def resume(session: Session, actor: Actor, subscription: Subscription) -> None:
    """Deliver again from where the subscription stands, with a fresh retry schedule."""
    _reactivate(subscription)
    _record(session, actor, RESUME, subscription)


def replay(
    session: Session,
    actor: Actor,
    subscription: Subscription,
    *,
    after: int | None = None,
    since: datetime | None = None,
) -> None:
    """Move the cursor back (or forward) so events after ``after``, or since ``since``, are
    delivered again; the subscription becomes active."""
    bounds = log.log_bounds(session)
    if since is not None:
        first = session.scalar(
            select(func.min(RecordVersion.sequence)).where(
                RecordVersion.sequence.is_not(None), RecordVersion.created_at >= since
            )
        )
        after = bounds.head if first is None else first - 1
    assert after is not None, "the schema asks for after or since"
    if after > bounds.head:
        raise Unprocessable(
            "Beyond the log.", errors={"after": [f"The log ends at {bounds.head}."]}
        )
    log.check_retained(bounds, after)
    subscription.cursor = after
    _reactivate(subscription)
    _record(session, actor, REPLAY, subscription, {"after": after})


def rotate_secret(
    session: Session, actor: Actor, subscription: Subscription, grace_seconds: int
) -> str:
    """A new signing secret; the old one keeps signing beside it for ``grace_seconds``."""
    if subscription.kind != "webhook":
        raise Conflict("A pull subscription has no signing secret.")
    secret = webhooks.new_secret()
    subscription.previous_secret = subscription.secret if grace_seconds else None
    subscription.previous_secret_until = (
        utcnow() + timedelta(seconds=grace_seconds) if grace_seconds else None
    )
    subscription.secret = secret_box().seal(secret)
    _touch(subscription)
    _record(session, actor, ROTATE_SECRET, subscription, {"grace_seconds": grace_seconds})
    return secret


def signing_secrets(subscription: Subscription, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous during
    its grace period."""
    box = secret_box()
    found = [_opened(box, subscription.secret)] if subscription.secret else []
    until = subscription.previous_secret_until
    if subscription.previous_secret and until is not None and now < until:
        found.append(_opened(box, subscription.previous_secret))
    return found


def _opened(box: SecretBox, stored: str) -> str:
    # a secret stored before secrets were encrypted at rest: `hub init` encrypts it
    return stored if stored.startswith(webhooks.SECRET_PREFIX) else box.open(stored)


def encrypt_stored_secrets(session: Session) -> int:
    """Encrypt, under the current SECRET_KEY, every signing secret stored in the clear or
    under a previous key (``hub init`` does it after a rotation); how many were rewritten."""
    box = secret_box()
    rewritten = 0
    webhooks_with_secrets = select(Subscription).where(Subscription.secret.is_not(None))
    for subscription in session.scalars(webhooks_with_secrets.with_for_update()):
        for column in ("secret", "previous_secret"):
            stored = getattr(subscription, column)
            if stored is None:
                continue
            sealed = (
                box.seal(stored)
                if stored.startswith(webhooks.SECRET_PREFIX)
                else box.reseal(stored)
            )
            if sealed != stored:
                setattr(subscription, column, sealed)
                rewritten += 1
    session.flush()
    return rewritten


def event_filter(subscription: Subscription) -> EventFilter:
    """The events ``subscription`` wants."""
    return EventFilter.of(subscription.types, subscription.filter)


def _require_pull(subscription: Subscription) -> None:
    if subscription.kind != "pull":
        raise Conflict(
            "This is a webhook subscription: its events are delivered to its endpoint_url."
        )


def pull(session: Session, subscription: Subscription, limit: int) -> feed.FeedPage:
    """The next events after the subscription's cursor; the cursor moves only on ``ack``."""
    _require_pull(subscription)
    bounds = log.log_bounds(session)
    log.check_retained(bounds, subscription.cursor, subscription=True)
    return read_matching(session, subscription.cursor, limit, event_filter(subscription))


def ack(session: Session, actor: Actor, subscription: Subscription, sequence: int) -> None:
    """Confirm every event up to ``sequence``; acknowledging again, or less, changes nothing."""
    _require_pull(subscription)
    head = log.head_sequence(session)
    if sequence > head:
        raise Unprocessable("Beyond the log.", errors={"sequence": [f"The log ends at {head}."]})
    if sequence > subscription.cursor:
        subscription.cursor = sequence
        _touch(subscription)
    _record(session, actor, ACK, subscription, {"sequence": sequence})


def list_deliveries(
    session: Session, subscription: Subscription, *, limit: int, before_id: int | None
) -> tuple[list[Delivery], int | None]:
    """The subscription's delivery attempts, newest first, and the id to continue before."""
    query = select(Delivery).where(Delivery.subscription_id == subscription.id)
    return newest_first(session, query, Delivery.id, limit, before_id)


def lag(subscription: Subscription, head: int) -> int:
    """Events in the log after the subscription's cursor (an upper bound of what it is owed)."""
    return max(0, head - subscription.cursor)


def prune_deliveries(session: Session, before: datetime) -> int:
    """Drop delivery attempts made before ``before``; how many went."""
    removed = rowcount(session.execute(delete_rows(Delivery).where(Delivery.at < before)))
    session.flush()
    return removed
