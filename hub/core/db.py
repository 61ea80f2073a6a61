"""Engine and session set-up, the unit-of-work boundary, and the SQLite specifics.

One session per application context. A request's unit of work commits exactly once, after the
view has produced a successful response; any error response rolls it back. CLI commands and
background jobs use :meth:`Database.unit_of_work`, which does the same around a block.

A view may ask for its transaction *on demand* (:meth:`Database.transaction_on_demand`): on
PostgreSQL its statements then commit alone (the driver's autocommit) until code that needs
several statements to hold together calls :func:`begin_transaction`. A request that writes with
one statement, such as a record's creation with its version and audit entry, then costs two
round trips fewer (no BEGIN, no COMMIT); under read committed, a read outside a transaction
sees what it would see inside one.

SQLite: WAL mode so readers never block the writer, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue for the lock instead of deadlocking when a read
transaction tries to become a write one (SQLite would answer that with SQLITE_BUSY at once).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

import orjson
import psycopg
from blinker import Namespace
from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, CursorResult, Engine, Result, create_engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

P = ParamSpec("P")
R = TypeVar("R")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITE_OPTION = "hub_write_transaction"
_LOG_CHANGED = "hub_log_changed"
# session.info key: the session's statements commit alone until begin_transaction
_ON_DEMAND = "hub_transaction_on_demand"
_signals = Namespace()
# Sent (with the app) after a unit of work that changed the change log has committed: whoever
# waits for the log to move (hub.events.notify) subscribes.
log_committed = _signals.signal("log-committed")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every hub model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        list[str]: JSONDocument,
    }


def _on_demand(session: Session) -> bool:
    """Ask for ``session``'s statements to commit alone, on PostgreSQL; whether they will.

    The connection is switched when the session takes one (:func:`_autocommit_if_on_demand`),
    so a request refused before its first statement never takes a connection."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.info[_ON_DEMAND] = True
    return True


def _autocommit_if_on_demand(session: Session, transaction: Any, connection: Connection) -> None:
    """Put the connection a session on demand has just taken in autocommit."""
    if not session.info.get(_ON_DEMAND):
        return
    try:
        connection.connection.driver_connection.autocommit = True  # type: ignore[union-attr]
    except psycopg.Error:
        # a broken connection: stay transactional, and let the first statement fail as any
        # statement on it does (503, and the pool is replaced)
        session.info.pop(_ON_DEMAND)


def _end_on_demand(session: Session, transaction: Any) -> None:
    """The unit of work is over: its connection goes back to the pool, transactional."""
    if transaction.parent is None:
        session.info.pop(_ON_DEMAND, None)


def commits_alone(session: Session) -> bool:
    """Whether each statement of ``session`` commits alone (no transaction begun yet)."""
    return bool(session.info.get(_ON_DEMAND))


def begin_transaction(session: Session) -> None:
    """Hold ``session``'s next statements together in one transaction, committed with the unit
    of work (what every unit of work does unless its view asked for one on demand)."""
    if session.info.pop(_ON_DEMAND, False):
        # between statements that committed alone the connection is idle: it may switch
        driver = session.connection().connection.driver_connection
        driver.autocommit = False  # type: ignore[union-attr]


def mark_log_changed(session: Session) -> None:
    """Note that ``session``'s unit of work changes the log: :data:`log_committed` is sent
    when it commits."""
    session.info[_LOG_CHANGED] = True


def add_unique(session: Session, row: Any, taken: Exception) -> None:
    """Insert ``row``, raising ``taken`` if another unit of work committed the same unique key
    first: a check before the insert cannot see a writer that has not committed yet."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise taken from exc


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return cast(CursorResult[Any], result).rowcount


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def load_stored_json(raw: str | bytes) -> Any:
    """Parse a JSON document read from the database.

    orjson is several times faster than the standard library, which matters on feed pages of a
    thousand documents; what it refuses (such as a float beyond double range) falls back. orjson
    reads integers beyond 64 bits as floats: the documents stored are records canonicalised
    by their types' schemas, whose numbers are all bounded, and values the hub wrote itself.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dump_stored_json(value: Any) -> str:
    """Write a JSON document to store (orjson, as :func:`load_stored_json` reads; what it
    refuses, such as an integer beyond 64 bits, falls back to the standard library)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs, the driver this project installs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def build_engine(url: str, *, pool_size: int, echo: bool, busy_timeout: float) -> Engine:
    """Create the engine for ``url`` with the settings each backend needs."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False},
            json_serializer=dump_stored_json,
            json_deserializer=load_stored_json,
        )
        _configure_sqlite(engine, busy_timeout)
        return engine
    # No pre-ping: it would cost a round trip on every request. After a database restart the
    # first statement on each stale connection fails (503, Retry-After) and SQLAlchemy then
    # discards the whole pool, so clients see one retryable error, not a string of them.
    # psycopg prepares the statements a connection repeats and PostgreSQL reuses their plans;
    # hub.core.planner keeps those plans from outliving the table sizes they were made for.
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        json_serializer=dump_stored_json,
        json_deserializer=load_stored_json,
    )
    event.listen(engine, "checkin", _end_autocommit)
    return engine


def _end_autocommit(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    """A connection goes back to the pool transactional, whatever its last session did."""
    if dbapi_connection is None or not dbapi_connection.autocommit:
        return
    try:
        dbapi_connection.autocommit = False
    except psycopg.Error as exc:  # closed or broken: the pool must not hand it out again
        record.invalidate(exc)


@dataclass
class _State:
    engine: Engine
    sessionmaker: sessionmaker[Session]


class Database:
    """The database extension: one engine per app, one session per app context."""

    def init_app(self, app: Flask) -> None:
        """Create the app's engine and tie sessions to its contexts and requests."""
        settings = app.config
        engine = build_engine(
            settings["DATABASE_URL"],
            pool_size=settings["DATABASE_POOL_SIZE"],
            echo=settings["DATABASE_ECHO"],
            busy_timeout=settings["SQLITE_BUSY_TIMEOUT"],
        )
        sessions = sessionmaker(engine, expire_on_commit=False)
        app.extensions["hub.db"] = _State(engine, sessions)
        app.teardown_appcontext(self._close_session)

        def after_commit(session: Session) -> None:
            if session.info.pop(_LOG_CHANGED, False):
                log_committed.send(app)

        event.listen(sessions, "after_commit", after_commit)
        event.listen(sessions, "after_begin", _autocommit_if_on_demand)
        event.listen(sessions, "after_transaction_end", _end_on_demand)
        event.listen(
            sessions, "after_rollback", lambda session: session.info.pop(_LOG_CHANGED, None)
        )

    @staticmethod
    def _state(app: Flask | None = None) -> _State:
        state: _State = (app or current_app).extensions["hub.db"]
        return state

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return self._state().engine

    def engine_of(self, app: Flask) -> Engine:
        """``app``'s engine, outside its context."""
        return self._state(app).engine

    @property
    def session(self) -> Session:
        """The current app context's session, opened on first use.

        A request whose method may write starts a write transaction; on SQLite that is
        ``BEGIN IMMEDIATE``, on PostgreSQL it changes nothing (row locks are taken as needed).
        Under :meth:`transaction_on_demand`, on PostgreSQL, its statements commit alone until
        :func:`begin_transaction`.
        """
        session: Session | None = g.get("_hub_session")
        if session is None:
            session = self._state().sessionmaker()
            g._hub_session = session
            writes = has_request_context() and request.method not in SAFE_METHODS
            if writes and not (g.get(_ON_DEMAND) and _on_demand(session)):
                self._begin_write(session)
        return session

    @staticmethod
    def transaction_on_demand(view: Callable[P, R]) -> Callable[P, R]:
        """Let ``view``'s unit of work run its statements alone (PostgreSQL) until
        :func:`begin_transaction`; place it outside the decorator that first uses the
        session (authentication)."""

        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            g.setdefault(_ON_DEMAND, True)
            try:
                return view(*args, **kwargs)
            finally:
                # only this view's session (an app context may serve several requests)
                g.pop(_ON_DEMAND, None)

        return wrapper

    @staticmethod
    def _begin_write(session: Session) -> None:
        # Only SQLite needs to know before the first statement (BEGIN IMMEDIATE); elsewhere
        # the connection is taken when the first statement runs.
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={_WRITE_OPTION: True})

    def commit(self) -> None:
        """Commit the current unit of work."""
        self.session.commit()

    def rollback(self) -> None:
        """Discard the current unit of work, if one was started."""
        session: Session | None = g.get("_hub_session")
        if session is not None:
            session.rollback()

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """Run a block as one unit of work (a writer unless ``write=False``): commit once at
        the end, roll back on error."""
        try:
            session = self.session
            if write and not session.in_transaction():
                self._begin_write(session)
            yield session
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def in_rounds(self, round_of_work: Callable[[Session], int], round_size: int) -> int:
        """Run ``round_of_work`` in units of work of its own until a round does less than
        ``round_size``; return the total it did."""
        total = 0
        while True:
            with self.unit_of_work() as session:
                done = round_of_work(session)
            total += done
            if done < round_size:
                return total

    @contextmanager
    def separate_unit_of_work(self) -> Iterator[Session]:
        """A writing unit of work in a session of its own, beside the current one."""
        session = self._state().sessionmaker()
        try:
            self._begin_write(session)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def end_read(self) -> None:
        """End the current read transaction, so the next query sees what committed since.

        SQLite keeps one snapshot for a whole transaction; PostgreSQL (read committed) takes
        one per statement, so there this only returns the connection to the pool early.
        """
        session: Session | None = g.pop("_hub_session", None)
        if session is not None:
            # the next use opens a new session, beginning as the request's method requires
            session.close()

    def finish_request(self, response: Response) -> Response:
        """Commit a request's unit of work when its response is a success, else roll back.

        Statements that committed alone (a view's transaction on demand) stay committed: such
        a view writes with its last statement, after every refusal it can answer.
        """
        if g.get("_hub_session") is None:
            return response
        if response.status_code < 400:
            self.commit()
        else:
            self.rollback()
        return response

    def dispose(self, app: Flask) -> None:
        """Close every pooled connection of ``app``'s engine."""
        self._state(app).engine.dispose()

    @staticmethod
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("_hub_session", None)
        if session is not None:
            session.close()
