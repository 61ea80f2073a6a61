"""Following the change log from a request or a worker: numbering, then waiting for news."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from hub.events import notify, service
from hub.extensions import db

T = TypeVar("T")


def catch_up() -> None:
    """Number committed changes that wait for it, in a unit of work of its own."""
    if service.has_unnumbered(db.session):
        with db.separate_unit_of_work() as session:
            service.number_events(session)


def long_poll(read: Callable[[], T], ready: Callable[[T], bool], wait: float) -> T:
    """``read()`` (after catching up) until ``ready`` or ``wait`` seconds have passed.

    Each read runs in a fresh read transaction, so it sees what committed since the last; the
    waits between reads end as soon as this process hears of a change.
    """
    notifier = notify.notifier()

    def fresh_read() -> T:
        # A fresh transaction for each step: an SQLite snapshot taken before the wake-up
        # would not show the change that caused it.
        db.end_read()
        catch_up()
        db.end_read()
        return read()

    interval = current_app.config["EVENTS_POLL_INTERVAL"]
    if wait <= 0:
        return fresh_read()
    with notifier.held():
        return notify.poll(fresh_read, ready, wait, signal=notifier.signal, interval=interval)
