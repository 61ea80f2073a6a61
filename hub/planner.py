"""Planner statistics that keep up with a fast-growing database (PostgreSQL).

psycopg prepares the statements a connection runs repeatedly, and PostgreSQL then plans each
of them once, generically, and reuses that plan until the statistics of its tables change.
Planning every execution afresh would cost the hot write statement more than running it
(bench/publish.py), so the hub lets PostgreSQL reuse plans, and makes sure no plan outlives
the table size it was made for. A plan made while a table held a handful of rows may scan it,
or walk an index that matches only part of a key, and keeps doing so as the table grows;
autovacuum re-analyses a table only after a tenth of it changed, and visits a database at most
once a minute, so a fresh hub loading its first records would slow down more with each one.

So the dispatcher loop of every hub process looks, at most every ``DATABASE_ANALYZE_INTERVAL``
seconds, for the hub's tables that have changed by as many rows as they held when last
analysed (and by at least ``ANALYZE_FLOOR``), and analyses them. That is often while tables
are small, where it is cheap, and rare once they are large; each analysis makes every process
re-plan against the table's real size. An advisory lock keeps two processes from analysing at
once.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.extensions import db

logger = logging.getLogger(__name__)
# changes a table takes before its first analysis; below that, any plan is cheap enough
ANALYZE_FLOOR = 1000
# the two-key advisory lock (a key space apart from the writers' one-key locks)
_LOCK = (0x68756221, 1)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:space, :key)")
_GROWN_TABLES = text(
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() "
    "AND s.n_mod_since_analyze >= greatest(:floor, c.reltuples) "
    "ORDER BY s.relname"
)


def analyze_grown_tables(session: Session, floor: int = ANALYZE_FLOOR) -> list[str]:
    """Analyse the tables that have grown (or changed) by their own size since they were
    last analysed; return their names. Nothing on SQLite, or while another process is at it.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return []
    if not connection.execute(_TRY_LOCK, {"space": _LOCK[0], "key": _LOCK[1]}).scalar():
        return []
    grown = list(connection.execute(_GROWN_TABLES, {"floor": floor}).scalars())
    if grown:
        quote = connection.dialect.identifier_preparer.quote
        connection.exec_driver_sql("ANALYZE " + ", ".join(quote(name) for name in grown))
    return grown


def analyze_if_due() -> None:
    """Run :func:`analyze_grown_tables` if this process has not for ``DATABASE_ANALYZE_INTERVAL``
    seconds (0 turns it off). A failure is logged and retried at the next interval."""
    interval = current_app.config["DATABASE_ANALYZE_INTERVAL"]
    state: dict[str, float] = current_app.extensions["hub.planner"]
    now = time.monotonic()
    if not interval or now - state["last_analyzed"] < interval:
        return
    state["last_analyzed"] = now
    try:
        with db.separate_unit_of_work() as session:
            grown = analyze_grown_tables(session)
    except SQLAlchemyError:
        logger.warning("Analysing grown tables failed; the next interval will retry", exc_info=True)
        return
    if grown:
        logger.info("Analysed grown tables: %s", ", ".join(grown))


def init_app(app: Flask) -> None:
    """Prepare the per-process analysis clock."""
    app.extensions["hub.planner"] = {"last_analyzed": float("-inf")}
