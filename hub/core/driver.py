"""Statements of the hot paths run on the PostgreSQL driver itself (see DriverStatement)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Connection

_PG = PGDialect_psycopg()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A PostgreSQL statement compiled once and run on the driver's cursor.

    SQLAlchemy's execute processes every parameter and builds the result's metadata and row
    factory on each call: for the single-record write statements, with two dozen parameters
    and a row of eleven columns, about 0.1 ms of Python, a twentieth of a whole publish
    request (bench/publish.py). The statements of the hot paths (a record's write, the access
    key's state read on every request) never change, so that work is done once here: the
    caller passes parameters as the driver takes them (documents wrapped as jsonb, aware
    datetimes) and reads a plain tuple. Errors are SQLAlchemy's as from any statement
    (a lost connection invalidates the pool), and while anything listens to the engine's
    statements (a test, a tracer) the statement goes through SQLAlchemy, so that it is told.
    """

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_PG)
        self.sql = str(compiled)
        # the values the statement binds itself (its literals)
        self._fixed = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None
        }

    def one(self, connection: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The statement's one row (or None) for ``params``."""
        params = {**self._fixed, **params}
        if connection._has_events or connection.engine._has_events:
            row = connection.exec_driver_sql(self.sql, params).one_or_none()
            return None if row is None else tuple(row)
        cursor = None
        try:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(self.sql, params)
            found: tuple[Any, ...] | None = cursor.fetchone()
            cursor.close()
        except Exception as error:
            connection._handle_dbapi_exception(error, self.sql, params, cursor, None)
        return found
