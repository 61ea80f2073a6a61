"""Alembic, driven from code: ``hub init`` migrates, ``/readyz`` compares revisions."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config for this package's migrations, bound to ``engine`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@cache
def head_revision() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database behind ``engine`` is at (None: it has no hub schema)."""
    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def schema_problem(engine: Engine) -> str | None:
    """What keeps this code from working on the database behind ``engine``, in words a person
    can act on; None when its schema is the newest this code knows."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        return f"cannot reach the database at {where}: {reason}".strip()
    latest = head_revision()
    if current is None:
        return f"the database at {where} has no hub schema yet: run `hub init`"
    if current != latest:
        return (
            f"the database at {where} is at migration {current} and this hub needs {latest}: "
            "run `hub init` to migrate it"
        )
    return None
