"""The console's subscriptions pages: the department's subscriptions and how far behind each
is, one subscription's delivery attempts, and pausing, resuming and replaying it.

Each action calls the subscription service as its API twin does, with the person's actor, so
it is audited the same way (``subscription.pause`` ...). A webhook's signing secret is never
shown, nor its endpoint's query string, which may carry a token.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from marshmallow import fields, validate
from werkzeug.wrappers import Response

from hub.auth.guard import audited
from hub.console.blueprint import blp
from hub.console.pages import FormErrors, read_form, render_page, require_scope
from hub.console.signin import console_identity
from hub.core.errors import Gone, Unprocessable
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor
from hub.events import log
from hub.subscriptions import service
from hub.subscriptions.models import Subscription
from hub.subscriptions.schemas import subscription_out

TARGET = "subscription/{subscription_id}"

# subscriptions, or delivery attempts, per page
PAGE_SIZE = 25
REPLAY_FIELDS = ("after", "since")
Page = tuple[str, int] | Response


def endpoint_shown(url: str | None) -> tuple[str | None, bool]:
    """A webhook's endpoint as the console shows it: without its query string and fragment
    (they may carry a token), and whether anything was cut."""
    if url is None:
        return None, False
    parts = urlsplit(url)
    shown = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return shown, bool(parts.query or parts.fragment)


def _shown(subscription: Subscription, head: int) -> dict[str, Any]:
    """What a page shows of ``subscription``: its API form (which has no secret), with the
    endpoint cut."""
    endpoint, cut = endpoint_shown(subscription.endpoint_url)
    return {**subscription_out(subscription, head), "endpoint_url": endpoint, "endpoint_cut": cut}


def _own(subscription_id: int, *, lock: bool = False) -> Subscription:
    return service.get_subscription(db.session, console_identity(), subscription_id, lock=lock)


def _cursor() -> int | None:
    return before_id({"cursor": request.args.get("cursor")})


def _back_to(subscription: Subscription) -> Response:
    return redirect(url_for("console.subscription", subscription_id=subscription.id))


@blp.route("/subscriptions")
@require_scope("subscriptions")
def subscriptions() -> Page:
    """The department's subscriptions, newest first, failing ones marked."""
    found, next_before = service.list_subscriptions(
        db.session, console_identity(), limit=PAGE_SIZE, before_id=_cursor()
    )
    head = log.head_sequence(db.session)
    shown = [_shown(subscription, head) for subscription in found]
    return render_page(
        "console/subscriptions.html",
        subscriptions=shown,
        failing=[s for s in shown if s["status"] == "failing"],
        head=head,
        next_cursor=id_cursor(next_before),
    )


@blp.route("/subscriptions/<int:subscription_id>")
@require_scope("subscriptions")
def subscription(subscription_id: int) -> Page:
    """One subscription: where it stands, and its latest delivery attempts."""
    found = _own(subscription_id)
    deliveries, next_before = (
        service.list_deliveries(db.session, found, limit=PAGE_SIZE, before_id=_cursor())
        if found.kind == "webhook"
        else ([], None)
    )
    return render_page(
        "console/subscription.html",
        subscription=_shown(found, log.head_sequence(db.session)),
        deliveries=deliveries,
        next_cursor=id_cursor(next_before),
    )


@blp.route("/subscriptions/<int:subscription_id>/pause", methods=["GET", "POST"])
@audited(service.PAUSE, TARGET)
@require_scope("subscriptions")
def subscription_pause(subscription_id: int) -> Page:
    """Pause a subscription, after a confirmation: it keeps its place."""
    if request.method == "GET":
        found = _own(subscription_id)
        return render_page(
            "console/subscription_pause.html",
            subscription=_shown(found, log.head_sequence(db.session)),
        )
    found = _own(subscription_id, lock=True)
    service.pause(db.session, console_identity().actor, found)
    flash(
        _(
            "Subscription %(id)s is paused. Nothing is delivered until it is resumed; "
            "it keeps its place.",
            id=found.id,
        ),
        "success",
    )
    return _back_to(found)


@blp.route("/subscriptions/<int:subscription_id>/resume", methods=["POST"])
@audited(service.RESUME, TARGET)
@require_scope("subscriptions")
def subscription_resume(subscription_id: int) -> Response:
    """Resume a paused or failing subscription from where it stands."""
    found = _own(subscription_id, lock=True)
    service.resume(db.session, console_identity().actor, found)
    flash(_("Subscription %(id)s is active again.", id=found.id), "success")
    return _back_to(found)


def _replay_schema() -> ma.Schema:
    """The replay form's fields, with messages in the page's language."""
    fields_: dict[str, ma.fields.Field[Any]] = {
        "after": fields.Integer(
            validate=validate.Range(min=0, error=_("Enter a sequence number of 0 or more.")),
            error_messages={"invalid": _("Enter a sequence number, as a whole number.")},
        ),
        "since": fields.Date(error_messages={"invalid": _("Enter a date such as 2026-03-01.")}),
    }
    return ma.Schema.from_dict(fields_)()


def _one_start(values: dict[str, Any]) -> FormErrors:
    if "after" in values and "since" in values:
        return {"since": [_("Give either a sequence number or a date, not both.")]}
    if "after" not in values and "since" not in values:
        return {"after": [_("Enter the sequence number to deliver after, or a date.")]}
    return {}


def _city_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _replay(
    subscription: Subscription, values: dict[str, Any], bounds: log.LogBounds
) -> FormErrors:
    """Replay ``subscription`` from where the form says; the form's errors if it cannot be."""
    errors = _one_start(values)
    if errors:
        return errors
    since = values.get("since")
    try:
        service.replay(
            db.session,
            console_identity().actor,
            subscription,
            after=values.get("after"),
            since=_city_midnight(since) if since is not None else None,
        )
    except Unprocessable:  # its one refusal: a start beyond the head
        head = bounds.head
        return {"after": [_("The log ends at event %(head)s: enter %(head)s or less.", head=head)]}
    except Gone:
        message = _(
            "The log keeps only the events after %(first)s: start there or later.",
            first=bounds.retained_after,
        )
        return {"since" if since is not None else "after": [message]}
    return {}


@blp.route("/subscriptions/<int:subscription_id>/replay", methods=["GET", "POST"])
@audited(service.REPLAY, TARGET)
@require_scope("subscriptions")
def subscription_replay(subscription_id: int) -> Page:
    """Deliver again every event after a sequence number, or since a day."""
    found = _own(subscription_id, lock=request.method == "POST")
    bounds = log.log_bounds(db.session)
    values: dict[str, Any] = {}
    errors: FormErrors = {}
    if request.method == "POST":
        values, errors = read_form(_replay_schema(), REPLAY_FIELDS)
        errors = errors or _replay(found, values, bounds)
        if not errors:
            message = _(
                "Subscription %(id)s will deliver again every event after %(after)s.",
                id=found.id,
                after=found.cursor,
            )
            flash(message, "success")
            return _back_to(found)
    return render_page(
        "console/subscription_replay.html",
        422 if errors else 200,
        subscription=_shown(found, bounds.head),
        bounds=bounds,
        values=values,
        errors=errors,
    )
