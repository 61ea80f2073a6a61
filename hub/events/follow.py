"""Following the change log from a request or a worker: numbering, then waiting for news."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from hub.core.extensions import db
from hub.events import log, notify

T = TypeVar("T")


def catch_up() -> bool:
    """Number committed changes that wait for it, in a unit of work of its own; return
    whether there were any."""
    if not log.has_unnumbered(db.session):
        return False
    with db.separate_unit_of_work() as session:
        log.number_events(session)
    return True


def long_poll(read: Callable[[], T], ready: Callable[[T], bool], wait: float) -> T:
    """``read()`` (after catching up) until ``ready`` or ``wait`` seconds have passed.

    The read transaction ends before each wait (so the wait holds no connection, and the next
    read sees what committed meanwhile), and after a numbering round (an SQLite snapshot taken
    before it would not show its numbers); the waits end as soon as this process hears of a
    change.
    """
    notifier = notify.notifier()

    def fresh_read() -> T:
        if catch_up():
            db.end_read()
        return read()

    interval = current_app.config["EVENTS_POLL_INTERVAL"]
    if wait <= 0:
        return fresh_read()
    # An SQLite snapshot the request opened earlier would hide a change that commits before
    # the poll takes the signal's generation, and the wait would sleep through it.
    db.end_read()
    with notifier.held():
        return notify.poll(
            fresh_read,
            ready,
            wait,
            signal=notifier.signal,
            interval=interval,
            before_wait=db.end_read,
        )
