"""The change feed: every committed change, in order, as CloudEvents."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.core.extensions import db
from hub.core.http import city_today
from hub.events import feed, follow, render
from hub.events.schemas import FeedPageSchema, FeedQuerySchema
from hub.records.service import record_type_named
from hub.sharing.readers import reader

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="The change feed.")
# What the audit log calls a feed read that disclosed protected fields.
READ = "events.read"


@blp.route("/events", methods=["GET"])
@audited(READ)
@require_scope("events:read")
@blp.arguments(FeedQuerySchema, location="query", as_kwargs=True)
@blp.response(200, FeedPageSchema)
def read_feed(after: int, limit: int, wait: float, **filters: Any) -> dict[str, Any]:
    """Events after ``after`` in sequence order; with ``wait``, hold until one arrives."""
    types = filters.get("types") or []
    for name in types:
        record_type_named(name)
    project_code = filters.get("project_code")
    view = reader()
    page = follow.long_poll(
        lambda: feed.read_feed(db.session, after, limit, types, project_code, shared_with=view),
        lambda page: bool(page.events),
        wait,
    )
    return {
        "events": render.feed_events(page.events, view, current_app.config, city_today()),
        "next_after": page.next_after,
    }
