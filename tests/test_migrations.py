"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import hub.models  # noqa: F401 - registers every model
from hub.core.db import Base, build_engine
from hub.core.migrate import head_revision


def test_migrated_database_matches_the_models(database_url: str) -> None:
    engine = build_engine(database_url, pool_size=1, echo=False, busy_timeout=5)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert context.get_current_revision() == head_revision()
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_change_log_has_the_indexes_the_feed_reads_by(database_url: str) -> None:
    engine = build_engine(database_url, pool_size=1, echo=False, busy_timeout=5)
    try:
        indexes = {index["name"] for index in inspect(engine).get_indexes("record_versions")}
    finally:
        engine.dispose()
    assert {
        "ix_record_versions_type_sequence",
        "ix_record_versions_project_sequence",
        "ix_record_versions_unnumbered",
    } <= indexes
