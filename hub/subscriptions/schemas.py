"""How subscriptions look on the wire: creation, replay and ack bodies, the subscription,
its pulled events and its attempt log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.core.openapi import from_settings
from hub.core.wire import PageQuerySchema, UtcDateTime
from hub.events.schemas import FeedPageSchema, feed_page_size
from hub.subscriptions.models import Subscription
from hub.subscriptions.service import lag
from schemas import registry
from schemas.base import UNSTORABLE_TEXT
from schemas.project import CATEGORIES

MAX_URL = 2000
# 0 to 65535
PORT_PATTERN = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
MAX_TYPES = 32


def _storable(value: str) -> None:
    """Text every database stores: no NUL, no unpaired surrogates."""
    if UNSTORABLE_TEXT.search(value):
        raise ma.ValidationError("Must not contain NUL characters or unpaired surrogates.")


class FilterSchema(ma.Schema):
    """Which events of the chosen types: all given conditions must hold."""

    project_code = fields.String(validate=[validate.Length(1, 24), _storable])
    admin_division = fields.String(
        validate=validate.Regexp(r"^[0-9]{6}\Z", error="Must be a 6-digit division code."),
        metadata={"description": "The project's administrative division."},
    )
    category = fields.String(
        validate=validate.OneOf(CATEGORIES), metadata={"description": "The project's category."}
    )


def _endpoint_pattern(settings: Mapping[str, Any]) -> str:
    """What an endpoint URL looks like, as the document states it: the schemes the hub
    delivers to, then a host name without credentials (and a port, a path...)."""
    scheme = "https?" if settings["WEBHOOK_ALLOW_HTTP"] else "https"
    return f"^{scheme}://[A-Za-z0-9.-]+(:{PORT_PATTERN})?([/?#].*)?$"


class SubscriptionInSchema(ma.Schema):
    """A new subscription: a webhook with ``endpoint_url``, else a pull subscription."""

    types = fields.List(
        fields.String(
            validate=[validate.Length(1, 64), _storable], metadata={"enum": sorted(registry())}
        ),
        required=True,
        validate=validate.Length(1, MAX_TYPES),
    )
    filter = fields.Nested(FilterSchema, load_default=dict)
    endpoint_url = fields.String(
        validate=[validate.Length(1, MAX_URL), _storable],
        metadata={
            "description": "The https URL to deliver to (http too when the hub allows it: "
            "WEBHOOK_ALLOW_HTTP), without credentials, whose name resolves only to public "
            "addresses (or WEBHOOK_ALLOWED_NETWORKS); leave out for a pull subscription.",
            **from_settings(pattern=_endpoint_pattern),
        },
    )


def _replay_after(required: bool = False) -> fields.Integer:
    return fields.Integer(
        required=required,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "Deliver again every event after this sequence."},
    )


def _replay_since(required: bool = False) -> UtcDateTime:
    return UtcDateTime(
        required=required,
        metadata={"description": "Deliver again every event since this time (ISO 8601)."},
    )


class ReplayAfterSchema(ma.Schema):
    """Deliver again after a sequence."""

    after = _replay_after(required=True)


class ReplaySinceSchema(ma.Schema):
    """Deliver again since a time."""

    since = _replay_since(required=True)


class ReplayInSchema(ma.Schema):
    """Where to deliver from again: after a sequence, or since a time; exactly one of them,
    so the document describes the body as one of ReplayAfter and ReplaySince."""

    after = _replay_after()
    since = _replay_since()

    @ma.validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("after" in data) == ("since" in data):
            raise ma.ValidationError("Give exactly one of after and since.", "_schema")


class RotateSecretInSchema(ma.Schema):
    """How long the old secret keeps signing beside the new one."""

    grace_seconds = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=30 * 24 * 3600),
        metadata={"description": "Default WEBHOOK_SECRET_GRACE."},
    )


class AckInSchema(ma.Schema):
    """Every event up to ``sequence`` was handled."""

    sequence = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "An event's sequence number: a JSON integer."},
    )


class PullQuerySchema(ma.Schema):
    """How many events to take and how long to wait for one."""

    limit = feed_page_size()
    wait = fields.Float(
        load_default=0,
        validate=validate.Range(min=0, max=60),
        metadata={"description": "Seconds to wait for an event when there is none."},
    )


class SubscriptionOutSchema(ma.Schema):
    """A subscription and where it stands."""

    id = fields.Integer()
    kind = fields.String(metadata={"description": "pull or webhook"})
    types = fields.List(fields.String())
    filter = fields.Nested(FilterSchema)
    endpoint_url = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "active, paused or failing"})
    status_reason = fields.String(allow_none=True)
    cursor = fields.Integer(metadata={"description": "The last event confirmed."})
    lag = fields.Integer(metadata={"description": "Events in the log after the cursor."})
    attempts = fields.Integer(metadata={"description": "Failed attempts at the next event."})
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class SubscriptionCreatedSchema(SubscriptionOutSchema):
    """A new subscription; a webhook's signing secret is shown here only."""

    secret = fields.String(allow_none=True)


class SubscriptionPageSchema(ma.Schema):
    """A page of subscriptions, newest first."""

    items = fields.List(fields.Nested(SubscriptionOutSchema))
    next_cursor = fields.String(allow_none=True)


class SecretSchema(ma.Schema):
    """A new signing secret, shown once."""

    secret = fields.String()
    previous_secret_until = fields.AwareDateTime(allow_none=True)


class PulledEventsSchema(FeedPageSchema):
    """Events after the subscription's cursor; ``next_after`` is what to acknowledge once they
    are handled (it also skips events the subscription's filter passed over)."""


class DeliveryOutSchema(ma.Schema):
    """One delivery attempt."""

    id = fields.Integer()
    sequence = fields.Integer()
    event_id = fields.String()
    attempt = fields.Integer()
    at = fields.AwareDateTime()
    outcome = fields.String(metadata={"description": "delivered, failed, gone or exhausted"})
    response_code = fields.Integer(allow_none=True)
    duration_ms = fields.Float()
    error = fields.String(allow_none=True)


class DeliveryPageSchema(ma.Schema):
    """A page of attempts, newest first."""

    items = fields.List(fields.Nested(DeliveryOutSchema))
    next_cursor = fields.String(allow_none=True)


class DeliveryQuerySchema(PageQuerySchema):
    """Pagination of the attempt log."""


def subscription_out(subscription: Subscription, head: int) -> dict[str, Any]:
    """The wire form of ``subscription`` with the log's head at ``head``."""
    return {
        "id": subscription.id,
        "kind": subscription.kind,
        "types": subscription.types,
        "filter": subscription.filter,
        "endpoint_url": subscription.endpoint_url,
        "status": subscription.status,
        "status_reason": subscription.status_reason,
        "cursor": subscription.cursor,
        "lag": lag(subscription, head),
        "attempts": subscription.attempts,
        "next_attempt_at": subscription.next_attempt_at if subscription.kind == "webhook" else None,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
    }
