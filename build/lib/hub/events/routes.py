"""The change feed: every committed change, in order, as CloudEvents."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from hub.auth.guard import require_scope
from hub.events import service
from hub.events.schemas import FeedPageSchema, FeedQuerySchema
from hub.extensions import db
from hub.http import city_today, reader
from hub.records.service import record_type_named

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="The change feed.")

POLL_INTERVAL = 0.2


@blp.route("/events", methods=["GET"])
@require_scope("events:read")
@blp.arguments(FeedQuerySchema, location="query", as_kwargs=True)
@blp.response(200, FeedPageSchema)
def feed(after: int, limit: int, wait: float, **filters: Any) -> dict[str, Any]:
    """Events after ``after`` in sequence order; with ``wait``, hold until one arrives."""
    types = filters.get("types") or []
    for name in types:
        record_type_named(name)
    deadline = time.monotonic() + wait
    while True:
        if service.has_unnumbered(db.session):
            # Numbering writes, so it runs in a unit of work of its own: this request reads.
            with db.separate_unit_of_work() as session:
                service.number_events(session)
        # A fresh read transaction sees the round's numbers; between polls it also frees the
        # connection for other requests.
        db.end_read()
        page = service.read_feed(
            db.session, after, limit, types=types, project_code=filters.get("project_code")
        )
        if page.events or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
    view, today, settings = reader(), city_today(), current_app.config
    return {
        "events": [service.cloud_event(v, view, settings, today) for v in page.events],
        "next_after": page.next_after,
    }
