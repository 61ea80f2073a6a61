"""Housekeeping that every long-running hub process does, on a thread of its own.

``hub serve`` (each worker) and ``hub worker`` run a :class:`Housekeeper`: every second or so
it seals committed audit entries into the chain (``AUDIT_SEAL_INTERVAL``) and, on PostgreSQL,
analyses the hub's tables that have grown enough to need fresh planner statistics
(``DATABASE_ANALYZE_INTERVAL``, ``hub.core.planner``). Each task keeps its own clock, so
several processes doing the same never do it more often than its interval each.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from hub.audit import chain
from hub.core import planner

logger = logging.getLogger(__name__)
# seconds between looks, at most
TICK = 1.0
# seconds between looks, at least (an interval of 0 means "at every look")
MIN_TICK = 0.1


class Housekeeper:
    """The loop of a process's periodic chores."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        intervals = [
            app.config[name]
            for name in ("AUDIT_SEAL_INTERVAL", "DATABASE_ANALYZE_INTERVAL")
            if app.config[name] > 0
        ]
        self.tick = max(MIN_TICK, min([TICK, *intervals]))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the chores on a thread of their own until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="hub-housekeeping", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the chore in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        """Do whatever chore is due now."""
        with self.app.app_context():
            chain.seal_if_due()
            planner.analyze_if_due()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_once()
            except SQLAlchemyError:
                logger.warning("Housekeeping failed; the next look retries", exc_info=True)
            except Exception:  # the loop outlives any bug in a chore, and says so
                logger.exception("Housekeeping failed; the next look retries")
