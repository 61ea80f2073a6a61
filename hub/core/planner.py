"""Planner statistics that keep up with a fast-growing database (PostgreSQL).

psycopg prepares the statements a connection runs repeatedly. PostgreSQL plans the first few
executions of a prepared statement with their parameters, then settles on one generic plan if
it costs no more, and reuses it until the statistics of its tables change. Planning every
execution afresh would cost the hot write statement more than running it (bench/publish.py),
so the hub lets PostgreSQL reuse plans, and makes sure no plan outlives the table size it was
made for. A plan made while a table held a handful of rows may scan it, or walk an index that
matches only part of a key, and keeps doing so as the table grows; autovacuum re-analyses a
table only after a tenth of it changed, and visits a database at most once a minute, so a
fresh hub loading its first records would slow down more with each one.

So the housekeeping loop of every hub process (each ``hub serve`` worker and each ``hub
worker``, ``hub.housekeeping``) looks, at most every ``DATABASE_ANALYZE_INTERVAL`` seconds,
for the hub's tables that have changed by as many rows as they held when last analysed (and
by at least ``ANALYZE_FLOOR``), and analyses them. That is often while tables are small, where it is
cheap, and rare once they are large; each analysis makes every process re-plan against the
table's real size. An advisory lock keeps two processes from analysing at once, and a table
locked by something else (a vacuum, a migration) is left for the next look. Only the tables'
owner may analyse them: a hub connecting as another role says so once, and leaves them to
autovacuum.
"""

from __future__ import annotations

import functools
import logging
import time

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.core.extensions import db

logger = logging.getLogger(__name__)
# changes a table takes before its first analysis; below that, any plan is cheap enough
ANALYZE_FLOOR = 1000
# the two-key advisory lock taken while analysing (a key space apart from the writers' one-key
# locks)
ADVISORY_LOCK = (0x68756221, 1)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:space, :key)")
_GROWN_TABLES = text(
    "SELECT s.relname, pg_has_role(c.relowner, 'USAGE') AS owned "
    "FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
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
    space, key = ADVISORY_LOCK
    if not connection.execute(_TRY_LOCK, {"space": space, "key": key}).scalar():
        return []
    grown = connection.execute(_GROWN_TABLES, {"floor": floor}).all()
    not_owned = [row.relname for row in grown if not row.owned]
    if not_owned:
        _warn_once(tuple(not_owned))
    owned = [row.relname for row in grown if row.owned]
    if owned:
        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(name) for name in owned)
        connection.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {names}")
    return owned


@functools.cache
def _warn_once(tables: tuple[str, ...]) -> None:
    logger.warning(
        "The hub's database role does not own %s and cannot analyse them as they grow; "
        "PostgreSQL may keep plans made for smaller tables until autovacuum analyses them",
        ", ".join(tables),
    )


def analyze_if_due() -> None:
    """Run :func:`analyze_grown_tables` on PostgreSQL if this process has not for
    ``DATABASE_ANALYZE_INTERVAL`` seconds (0 turns it off). A failure is logged and retried
    at the next interval."""
    interval = current_app.config["DATABASE_ANALYZE_INTERVAL"]
    state: dict[str, float] = current_app.extensions["hub.planner"]
    now = time.monotonic()
    if not interval or now - state["last_analyzed"] < interval:
        return
    state["last_analyzed"] = now
    if db.engine.dialect.name != "postgresql":
        return  # SQLite plans each statement afresh, and its write lock is not to be taken idly
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
