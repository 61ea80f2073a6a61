"""Planner statistics keep up with tables that grow fast (hub/planner.py).

PostgreSQL reuses a prepared statement's generic plan until its tables' statistics change; the
hub analyses a table once it has changed by its own size, so no plan outlives the table size it
was made for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, text

from hub import create_app, planner
from hub.audit.models import AuditEntry
from hub.core.extensions import db
from hub.events import notify
from hub.records.models import Record
from tests.factories import PROJECT_CODE

# the write path's lookup of a record by its key (hub/records/writes.py, _LOCK_ROW)
LOOKUP_BY_KEY = "SELECT id FROM records WHERE type = $1 AND key = $2 FOR UPDATE"


def _on_postgresql(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _insert(app: Flask, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` and make PostgreSQL (15 and later) count them in its table statistics
    at once."""
    with app.app_context(), db.unit_of_work() as session:
        session.execute(insert(table), rows)
        # changes reach pg_stat_user_tables when the transaction ends, at most once a second
        # unless asked
        session.execute(text("SELECT pg_stat_force_next_flush()"))


def _audit_rows(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "at": now,
            "actor": "test",
            "action": "test.fill",
            "target": f"row/{n}",
            "outcome": 200,
            "details": {},
        }
        for n in range(count)
    ]


def _analyze(app: Flask) -> list[str]:
    with app.app_context(), db.unit_of_work() as session:
        return planner.analyze_grown_tables(session)


def _start_from_fresh_statistics(app: Flask, *tables: str) -> None:
    """Analyse ``tables`` as they are now (emptied for this test, whatever earlier tests did)."""
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")


def test_a_table_is_analysed_once_it_has_grown_by_its_own_size(app: Flask) -> None:
    if not _on_postgresql(app):
        assert _analyze(app) == []  # SQLite plans each statement afresh; nothing to do
        return
    _start_from_fresh_statistics(app, "audit_log")
    _insert(app, AuditEntry.__table__, _audit_rows(planner.ANALYZE_FLOOR - 100))
    assert "audit_log" not in _analyze(app)

    _insert(app, AuditEntry.__table__, _audit_rows(200))
    assert "audit_log" in _analyze(app)
    assert "audit_log" not in _analyze(app)  # analysed: nothing changed since
    with app.app_context():
        estimate = db.session.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'audit_log'::regclass")
        ).scalar_one()
    assert estimate >= planner.ANALYZE_FLOOR


def test_a_plan_made_before_growth_is_replaced_once_the_table_is_analysed(
    app: Flask, make_department: Callable[..., str]
) -> None:
    # A connection keeps the generic plan it made while the table was nearly empty; for the
    # write path's lookup that plan walks an index by the type alone, or the whole table.
    if not _on_postgresql(app):
        return
    make_department("land", publishes=["land_parcel"])
    _start_from_fresh_statistics(app, "records")
    with _autovacuum_off(app, "records"), app.app_context(), db.engine.connect() as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql(f"PREPARE lookup (varchar, varchar) AS {LOOKUP_BY_KEY}")
        connection.commit()

        def plan() -> str:
            explained = connection.exec_driver_sql("EXPLAIN EXECUTE lookup('land_parcel', 'P-7')")
            text_plan = "\n".join(explained.scalars())
            connection.rollback()  # a new transaction takes in the analysis's invalidation
            return text_plan

        plan()
        _insert(app, Record.__table__, _parcels(2 * planner.ANALYZE_FLOOR))
        stale = plan()
        assert "records" in _analyze(app)
        fresh = plan()
        connection.exec_driver_sql("DEALLOCATE lookup")
    assert "uq_records_type" not in stale, stale
    assert "uq_records_type" in fresh, fresh


@contextmanager
def _autovacuum_off(app: Flask, table: str) -> Iterator[None]:
    """Keep autovacuum from analysing ``table`` behind the test's back."""
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    try:
        yield
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def _parcels(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "type": "land_parcel",
            "key": f"P-{n}",
            "project_code": PROJECT_CODE,
            "version": 1,
            "data": {"parcel_id": f"P-{n}"},
            "published_by": "land",
            "created_at": now,
            "updated_at": now,
            "deleted": False,
        }
        for n in range(count)
    ]


def test_only_one_process_analyses_at_a_time(app: Flask) -> None:
    if not _on_postgresql(app):
        return
    _start_from_fresh_statistics(app, "audit_log")
    _insert(app, AuditEntry.__table__, _audit_rows(2 * planner.ANALYZE_FLOOR))
    with app.app_context(), db.engine.connect() as other:
        space, key = planner.ADVISORY_LOCK
        assert other.execute(
            text("SELECT pg_try_advisory_lock(:space, :key)"), {"space": space, "key": key}
        ).scalar()
        try:
            assert _analyze(app) == []
        finally:
            other.execute(
                text("SELECT pg_advisory_unlock(:space, :key)"), {"space": space, "key": key}
            )
    assert "audit_log" in _analyze(app)


def test_tables_the_role_does_not_own_are_left_to_autovacuum_with_a_warning(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    if not _on_postgresql(app):
        return
    _start_from_fresh_statistics(app, "audit_log")
    _insert(app, AuditEntry.__table__, _audit_rows(2 * planner.ANALYZE_FLOOR))
    role = f"hub_test_guest_{uuid.uuid4().hex[:8]}"
    with app.app_context(), db.engine.begin() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        connection.exec_driver_sql(
            f'CREATE ROLE {role}; GRANT USAGE ON SCHEMA "{schema}" TO {role}'
        )
    try:
        with app.app_context(), db.unit_of_work() as session:
            session.execute(text(f"SET LOCAL ROLE {role}"))
            assert planner.analyze_grown_tables(session) == []
        assert "cannot analyse" in caplog.text
        assert "audit_log" in caplog.text
        assert "audit_log" in _analyze(app)  # as the owner, it still does
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.exec_driver_sql(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
            connection.exec_driver_sql(f"DROP ROLE {role}")


@pytest.mark.parametrize(("interval", "expected_rounds"), [(0.0, 0), (3600.0, 1)])
def test_the_dispatcher_analyses_at_most_once_an_interval_and_never_on_sqlite(
    settings: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    interval: float,
    expected_rounds: int,
) -> None:
    rounds: list[str] = []
    monkeypatch.setattr(
        planner, "analyze_grown_tables", lambda session: rounds.append("round") or []
    )
    app = create_app({**settings, "DATABASE_ANALYZE_INTERVAL": interval})
    try:
        with app.app_context():
            for _ in range(3):
                planner.analyze_if_due()
    finally:
        notify.notifier(app).close()
        db.dispose(app)
    postgres = settings["DATABASE_URL"].startswith("postgresql")
    assert len(rounds) == (expected_rounds if postgres else 0)
