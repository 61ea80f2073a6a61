"""The reader behind an API request, and the audit of what its reads disclosed.

A read that showed conditional or restricted fields is recorded once per request, under the
action its view declares (``hub.auth.guard.audited``), in a unit of work of its own: the read
wrote nothing else. If that entry cannot be written the read is refused (503), so nothing
protected leaves unrecorded.
"""

from __future__ import annotations

from flask import Response, g, request

from hub.audit.entries import Entry, record_apart
from hub.auth.guard import declared_action
from hub.auth.identity import current_identity
from hub.core.db import SAFE_METHODS
from hub.core.extensions import db
from hub.sharing.policy import ReaderView, reader_view


def reader() -> ReaderView:
    """What the current caller may see, set up once per request (its grants read lazily)."""
    view: ReaderView | None = g.get("reader")
    if view is None:
        identity = current_identity()
        # the session as it is when grants are first needed: a long-poll renews its session
        view = g.reader = reader_view(
            lambda: db.session, identity.department_id, identity.publishes
        )
    return view


def record_disclosure(response: Response) -> bool:
    """Record what a successful read disclosed, if anything, and say whether it did; raises
    if it cannot."""
    view: ReaderView | None = g.get("reader")
    # a write's response shows the writer what it wrote: its own entry says so
    if view is None or response.status_code >= 400 or request.method not in SAFE_METHODS:
        return False
    declared = declared_action()
    details = view.take_disclosure()
    if details is None or declared is None:
        return False
    entry = Entry(current_identity().actor, declared.action, declared.target_of_request(), details)
    record_apart(entry, response.status_code)
    return True
