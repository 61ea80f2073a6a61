"""Subscriptions: standing interest in changes, pulled with acknowledgements or pushed to a
signed webhook."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.auth.identity import current_identity
from hub.core.extensions import db
from hub.core.http import city_today
from hub.core.wire import PageQuerySchema, before_id, id_cursor, page_limit
from hub.events import feed, follow, log
from hub.events.render import cloud_event
from hub.sharing.readers import reader
from hub.subscriptions import service
from hub.subscriptions.models import Subscription
from hub.subscriptions.policy import EndpointPolicy
from hub.subscriptions.schemas import (
    AckInSchema,
    DeliveryPageSchema,
    DeliveryQuerySchema,
    PulledEventsSchema,
    PullQuerySchema,
    ReplayAfterSchema,
    ReplayInSchema,
    ReplaySinceSchema,
    RotateSecretInSchema,
    SecretSchema,
    SubscriptionCreatedSchema,
    SubscriptionInSchema,
    SubscriptionOutSchema,
    SubscriptionPageSchema,
    subscription_out,
)

blp = Blueprint(
    "subscriptions",
    __name__,
    url_prefix="/api/v1/subscriptions",
    description="Pull subscriptions and signed webhooks that follow the change log.",
)

ONE = "/<int:subscription_id>"
TARGET = "subscription/{subscription_id}"
NO_STORE = {"Cache-Control": "no-store"}


def _own(subscription_id: int, *, lock: bool = False) -> Subscription:
    return service.get_subscription(db.session, current_identity(), subscription_id, lock=lock)


def _out(subscription: Subscription) -> dict[str, Any]:
    return subscription_out(subscription, log.head_sequence(db.session))


@blp.route("", methods=["POST"])
@audited(service.CREATE)
@require_scope("subscriptions")
@blp.arguments(SubscriptionInSchema)
@blp.response(201, SubscriptionCreatedSchema)
def create_subscription(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Subscribe the caller's department to changes from now on; a webhook's secret is in
    this response only."""
    endpoint_url = body.get("endpoint_url")
    if endpoint_url is not None:
        # The check looks the name up, which may take seconds: not inside the transaction the
        # token check began (on SQLite it holds the write lock every publisher waits for).
        db.end_read()
        service.check_endpoint(endpoint_url, EndpointPolicy.from_settings(current_app.config))
    subscription, secret = service.create(
        db.session,
        current_identity(),
        types=body["types"],
        filter_=body["filter"],
        endpoint_url=endpoint_url,
    )
    location = url_for("subscriptions.get_subscription", subscription_id=subscription.id)
    return {**_out(subscription), "secret": secret}, 201, {"Location": location, **NO_STORE}


@blp.route("", methods=["GET"])
@require_scope("subscriptions")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SubscriptionPageSchema)
def list_subscriptions(**query: Any) -> dict[str, Any]:
    """The caller's department's subscriptions, newest first."""
    found, next_before = service.list_subscriptions(
        db.session, current_identity(), limit=page_limit(query), before_id=before_id(query)
    )
    head = log.head_sequence(db.session)
    return {
        "items": [subscription_out(s, head) for s in found],
        "next_cursor": id_cursor(next_before),
    }


@blp.route(ONE, methods=["GET"])
@require_scope("subscriptions")
@blp.response(200, SubscriptionOutSchema)
def get_subscription(subscription_id: int) -> dict[str, Any]:
    """One subscription and where it stands."""
    return _out(_own(subscription_id))


@blp.route(ONE, methods=["DELETE"])
@audited(service.DELETE, TARGET)
@require_scope("subscriptions")
@blp.response(204)
def delete_subscription(subscription_id: int) -> None:
    """End a subscription; its attempt log goes with it."""
    service.delete(db.session, current_identity().actor, _own(subscription_id, lock=True))


@blp.route(f"{ONE}/pause", methods=["POST"])
@audited(service.PAUSE, TARGET)
@require_scope("subscriptions")
@blp.response(200, SubscriptionOutSchema)
def pause_subscription(subscription_id: int) -> dict[str, Any]:
    """Stop deliveries; the subscription keeps its place."""
    subscription = _own(subscription_id, lock=True)
    service.pause(db.session, current_identity().actor, subscription)
    return _out(subscription)


@blp.route(f"{ONE}/resume", methods=["POST"])
@audited(service.RESUME, TARGET)
@require_scope("subscriptions")
@blp.response(200, SubscriptionOutSchema)
def resume_subscription(subscription_id: int) -> dict[str, Any]:
    """Deliver again from where the subscription stands (after a pause or failing)."""
    subscription = _own(subscription_id, lock=True)
    service.resume(db.session, current_identity().actor, subscription)
    return _out(subscription)


@blp.route(f"{ONE}/replay", methods=["POST"])
@audited(service.REPLAY, TARGET)
@require_scope("subscriptions")
@blp.arguments(ReplayInSchema)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [ReplayAfterSchema, ReplaySinceSchema]}}
        },
    }
)
@blp.response(200, SubscriptionOutSchema)
def replay_subscription(body: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """Deliver again every event after a sequence, or since a time."""
    subscription = _own(subscription_id, lock=True)
    service.replay(
        db.session,
        current_identity().actor,
        subscription,
        after=body.get("after"),
        since=body.get("since"),
    )
    return _out(subscription)


@blp.route(f"{ONE}/rotate-secret", methods=["POST"])
@audited(service.ROTATE_SECRET, TARGET)
@require_scope("subscriptions")
@blp.arguments(RotateSecretInSchema, required=False)
@blp.response(200, SecretSchema)
def rotate_secret(
    body: dict[str, Any], subscription_id: int
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A new signing secret, shown once; the old one signs beside it for a grace period."""
    subscription = _own(subscription_id, lock=True)
    grace = body.get("grace_seconds", current_app.config["WEBHOOK_SECRET_GRACE"])
    secret = service.rotate_secret(db.session, current_identity().actor, subscription, grace)
    out = {"secret": secret, "previous_secret_until": subscription.previous_secret_until}
    return out, 200, NO_STORE


@blp.route(f"{ONE}/events", methods=["GET"])
@audited(service.PULL, TARGET)
@require_scope("subscriptions")
@blp.arguments(PullQuerySchema, location="query", as_kwargs=True)
@blp.response(200, PulledEventsSchema)
def pull_events(subscription_id: int, limit: int, wait: float) -> dict[str, Any]:
    """Events after the subscription's cursor; they come again until acknowledged."""
    identity = current_identity()
    _own(subscription_id)  # 404 before waiting

    def read() -> feed.FeedPage:
        subscription = service.get_subscription(db.session, identity, subscription_id)
        return service.pull(db.session, subscription, limit)

    page = follow.long_poll(read, lambda page: bool(page.events), wait)
    view, today, settings = reader(), city_today(), current_app.config
    return {
        "events": [cloud_event(v, view, settings, today) for v in page.events],
        "next_after": page.next_after,
    }


@blp.route(f"{ONE}/ack", methods=["POST"])
@audited(service.ACK, TARGET)
@require_scope("subscriptions")
@blp.arguments(AckInSchema)
@blp.response(200, SubscriptionOutSchema)
def ack_events(body: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """Confirm every event up to ``sequence``; they will not be returned again."""
    subscription = _own(subscription_id, lock=True)
    service.ack(db.session, current_identity().actor, subscription, body["sequence"])
    return _out(subscription)


@blp.route(f"{ONE}/deliveries", methods=["GET"])
@require_scope("subscriptions")
@blp.arguments(DeliveryQuerySchema, location="query", as_kwargs=True)
@blp.response(200, DeliveryPageSchema)
def list_deliveries(subscription_id: int, **query: Any) -> dict[str, Any]:
    """The webhook's delivery attempts, newest first: outcome, response code, duration, error."""
    subscription = _own(subscription_id)
    found, next_before = service.list_deliveries(
        db.session, subscription, limit=page_limit(query), before_id=before_id(query)
    )
    return {"items": found, "next_cursor": id_cursor(next_before)}
