"""Waking whoever waits for the change log to move: long-polls and dispatchers.

Each process has one :class:`ChangeSignal`. It is raised after any unit of work of this process
commits a change or a numbering round (``hub.core.db.log_committed``, sent after the commit,
so a waiter never wakes before what woke it is visible), and, on PostgreSQL, by a listener
thread for the other processes: triggers on ``record_versions`` and ``event_counter`` send
``NOTIFY hub_changes``, which PostgreSQL delivers at commit. On SQLite nothing crosses
processes, so waiters also look every ``EVENTS_POLL_INTERVAL`` seconds; that interval is the
safety net on PostgreSQL too (a notification lost while the listener reconnects costs at most
one interval).

The listener listens only while something in its process waits: a long-poll, or a dispatcher
with webhook subscriptions to serve (each :meth:`Notifier.hold` it, and release it after), and
for ``LINGER`` seconds more, for the next long-poll of a client that follows the feed. A
process that only publishes is then not woken by every commit of every other process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from flask import Flask, current_app
from sqlalchemy.engine import Engine

from hub.core.db import log_committed
from hub.core.extensions import db

CHANNEL = "hub_changes"
# seconds between the listener's looks at whether it should stop
STOP_CHECK = 0.2
# seconds the listener keeps listening after the last waiter of its process is done
LINGER = 10.0
# seconds the listener waits before reconnecting, doubling up to the most
RECONNECT_PAUSE = 0.5
MAX_RECONNECT_PAUSE = 30.0
logger = logging.getLogger(__name__)
T = TypeVar("T")


class ChangeSignal:
    """A generation counter that waiters can block on until it moves."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def generation(self) -> int:
        """The current generation; pass it to :meth:`wait`."""
        with self._condition:
            return self._generation

    def raise_(self) -> None:
        """Wake every waiter and listener: something may have changed."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quickly; it runs in the raiser's thread) on every raise."""
        with self._condition:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        with self._condition:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the generation differs from ``seen`` or ``timeout`` passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen, timeout)
            return self._generation


class PostgresListener:
    """A thread that LISTENs on its own connection while held, raising the signal on each
    notification.

    It connects when first held and closes the connection once no one has held it for
    ``linger`` seconds. It reconnects with a growing pause after losing the database, and
    raises the signal on every (re)connection, since changes may have been missed while it
    was not listening.
    """

    def __init__(self, engine: Engine, signal: ChangeSignal, linger: float = LINGER) -> None:
        self._engine = engine
        self._signal = signal
        self._linger = linger
        self._stop = threading.Event()
        self._held = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._holders = 0
        self._released_at = float("-inf")
        self._pause = RECONNECT_PAUSE
        self.listening = False

    def hold(self) -> None:
        """Listen (from now until :meth:`release`, and ``linger`` seconds after)."""
        with self._lock:
            self._holders += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hub-change-listener", daemon=True
                )
                self._thread.start()
        self._held.set()

    def release(self) -> None:
        """End one :meth:`hold`."""
        with self._lock:
            if self._holders == 0:
                raise RuntimeError("release() without hold()")
            self._holders -= 1
            if self._holders == 0:
                self._released_at = time.monotonic()

    def stop(self) -> None:
        """Stop listening (within a fraction of a second)."""
        self._stop.set()
        self._held.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _wanted(self) -> bool:
        with self._lock:
            return self._holders > 0 or time.monotonic() - self._released_at < self._linger

    def _connect(self) -> psycopg.Connection[Any]:
        dialect = self._engine.dialect
        cargs, cparams = dialect.create_connect_args(self._engine.url)
        connection: psycopg.Connection[Any] = psycopg.connect(*cargs, **cparams, autocommit=True)
        return connection

    def _run(self) -> None:
        while not self._stop.is_set():
            # cleared before looking, so that a hold() (or stop()) after the look ends the wait
            self._held.clear()
            if not self._wanted():
                self._held.wait()
                continue
            try:
                self._listen()
            except psycopg.Error:
                logger.warning("Change listener lost the database; retrying", exc_info=True)
                self._stop.wait(self._pause)
                self._pause = min(self._pause * 2, MAX_RECONNECT_PAUSE)

    def _listen(self) -> None:
        """Listen until stopped or no longer wanted."""
        with self._connect() as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._pause = RECONNECT_PAUSE
            self.listening = True
            try:
                self._signal.raise_()
                while not self._stop.is_set() and self._wanted():
                    # short waits, so that stop() and the end of the linger take effect promptly
                    for _ in connection.notifies(timeout=STOP_CHECK, stop_after=1):
                        self._signal.raise_()
            finally:
                self.listening = False


class Notifier:
    """The process's signal, and the PostgreSQL listener that feeds it while held."""

    def __init__(self, engine: Engine) -> None:
        self.signal = ChangeSignal()
        self._listener = (
            PostgresListener(engine, self.signal, linger=LINGER)
            if engine.dialect.name == "postgresql"
            else None
        )

    @property
    def listening(self) -> bool:
        """Whether this process hears of other processes' commits right now."""
        return self._listener is not None and self._listener.listening

    def hold(self) -> None:
        """Hear of other processes' commits until :meth:`release` (a no-op where there is no
        listener: SQLite)."""
        if self._listener is not None:
            self._listener.hold()

    def release(self) -> None:
        """End one :meth:`hold`."""
        if self._listener is not None:
            self._listener.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the listener for the duration of a block."""
        self.hold()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        """Stop the listener."""
        if self._listener is not None:
            self._listener.stop()

    def log_committed(self, app: Flask) -> None:
        """Raise the signal: a unit of work of this process that changed the log committed."""
        self.signal.raise_()


def init_app(app: Flask) -> None:
    """Give the app its notifier, raised after each of its units of work that changed the log."""
    notifier = Notifier(db.engine_of(app))
    app.extensions["hub.notify"] = notifier
    log_committed.connect(notifier.log_committed, sender=app)


def notifier(app: Flask | None = None) -> Notifier:
    """The current app's notifier."""
    found: Notifier = (app or current_app).extensions["hub.notify"]
    return found


def poll(
    read: Callable[[], T],
    ready: Callable[[T], bool],
    wait: float,
    *,
    signal: ChangeSignal,
    interval: float,
    before_wait: Callable[[], None] = lambda: None,
) -> T:
    """``read()`` until ``ready`` says its result will do or ``wait`` seconds have passed.

    Between reads it calls ``before_wait`` (to let go of what the read held), then sleeps
    until the signal moves or ``interval`` passes, whichever is first. The generation is taken
    before each read, so a change that commits during a read wakes the next wait at once
    instead of being slept through.
    """
    deadline = time.monotonic() + wait
    while True:
        seen = signal.generation
        result = read()
        remaining = deadline - time.monotonic()
        if ready(result) or remaining <= 0:
            return result
        before_wait()
        signal.wait(seen, min(interval, remaining))
