"""Alembic environment: runs migrations on the engine handed over by ``hub.core.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import hub.models  # noqa: F401 - registers every model on the metadata
from hub.core.db import Base, normalise_database_url

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = create_engine(normalise_database_url(config.get_main_option("sqlalchemy.url") or ""))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
