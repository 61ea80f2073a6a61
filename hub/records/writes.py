"""The write path's SQL: a record's row, its new version and its audit entry, in as few round
trips as the database allows.

A change writes two rows, the record's current state (``records``) and the immutable version
(``record_versions``) that is also its change-log entry, and, when the change is audited on its
own, its audit entry. What differs between databases sits behind one seam, :class:`Dialect`:

- PostgreSQL writes it all in one statement of data-modifying CTEs: creating a record locks the
  key's existing row or, if there is none, inserts the row, its version and its entry
  (``lock_or_insert``); changing one updates the row and inserts the version and the entry
  selected from what the update returned (``update``). A batch takes an advisory lock per key,
  in one order, so crossing batches queue instead of deadlocking, then locks and reads its
  current rows (``lock_batch``); then it writes all its new and changed rows and their
  versions in one statement, from one JSON document of rows (``write_set``).
- SQLite, which has no round trips to save and runs one writer at a time, runs the statements
  one after another.

A linked record's write also checks, inside the same statement, that its project is live.
The statements are built once: building and hashing a statement per call costs more than
running it, and publishing is the hub's hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any, ClassVar, cast

from psycopg.types.json import Jsonb
from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    column,
    false,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.audit.entries import ENTRY_COLUMNS
from hub.audit.models import AuditEntry
from hub.core.driver import DriverStatement
from hub.records.models import Record, RecordState, RecordVersion

RECORDS = cast(Table, Record.__table__)
VERSIONS = cast(Table, RecordVersion.__table__)
AUDIT = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True)
class Revision:
    """What a new version records beyond the record's state (how, which fields changed, by
    which key), and the column values of the audit entry written with it, if any."""

    operation: str
    changed_fields: list[str]
    key_id: str
    audit: Mapping[str, Any] | None = None


# One map of where each column of a new version comes from: the written record row, or the
# revision. Both the statements and the rows built in Python are derived from it.
VERSION_FROM_RECORD = {
    "record_id": "id",
    "record_type": "type",
    "record_key": "key",
    "project_code": "project_code",
    "version": "version",
    "data": "data",
    "deleted": "deleted",
    "published_by": "published_by",
    "created_at": "updated_at",
}
VERSION_FROM_REVISION = ("operation", "changed_fields", "key_id")
assert {*VERSION_FROM_RECORD, *VERSION_FROM_REVISION} == {
    column.name for column in VERSIONS.c if column.name not in ("id", "sequence")
}, "every version column has one source"

# Parameters are named new_<column>: update() reserves bare column names for itself.
_ROW = {column.name: bindparam(f"new_{column.name}", type_=column.type) for column in RECORDS.c}
_INSERTED_COLUMNS = [name for name in _ROW if name != "id"]
_UPDATED_COLUMNS = ("data", "project_code", "version", "deleted", "published_by", "updated_at")
_REVISION_PARAMS = {
    name: bindparam(name, type_=VERSIONS.c[name].type) for name in VERSION_FROM_REVISION
}
_AUDIT_PARAMS = {
    name: bindparam(f"audit_{name}", type_=AUDIT.c[name].type) for name in ENTRY_COLUMNS
}
# No lock is taken on the project: locking its row (as a foreign key would) makes every
# concurrent writer of one project contend on that row, which cost a good part of the publish
# rate in bench/publish.py. The price: a record published while its project is being
# tombstoned can end up linked to the tombstone, a state the hub handles anyway (the dossier
# shows it; the record can still be deleted).
_LIVE_PROJECT = select(RECORDS.c.id).where(
    RECORDS.c.type == "project",
    RECORDS.c.key == bindparam("live_project"),
    RECORDS.c.deleted.is_(False),
)
_PROJECT_IS_LIVE = _LIVE_PROJECT.exists()
_LIVE_PROJECTS = select(RECORDS.c.key).where(
    RECORDS.c.type == "project",
    RECORDS.c.key.in_(bindparam("codes", expanding=True)),
    RECORDS.c.deleted.is_(False),
)
_LOCK_ROW = (
    select(RECORDS)
    .where(RECORDS.c.type == bindparam("new_type"), RECORDS.c.key == bindparam("new_key"))
    .with_for_update()
)
# A batch locks its rows in key order, so two batches touching the same keys queue.
_LOCK_MANY = (
    select(RECORDS)
    .where(
        RECORDS.c.type == bindparam("type"),
        RECORDS.c.key.in_(bindparam("keys", expanding=True)),
    )
    .order_by(RECORDS.c.key)
    .with_for_update()
)
_UPDATE_BY_ID = (
    update(RECORDS)
    .where(RECORDS.c.id == bindparam("record_id"))
    .values({name: _ROW[name] for name in _UPDATED_COLUMNS})
)
_INSERT_VERSION = insert(VERSIONS)
_INSERT_AUDIT = insert(AUDIT)


def _version_row(record: RecordState, revision: Revision) -> dict[str, Any]:
    """The ``record_versions`` row of a written record's new version."""
    row = {column: getattr(record, source) for column, source in VERSION_FROM_RECORD.items()}
    row.update((name, getattr(revision, name)) for name in VERSION_FROM_REVISION)
    return row


def _version_from(written: Any) -> Any:
    """INSERT of a version selected from a CTE of written record rows."""
    sources = {column: written.c[source] for column, source in VERSION_FROM_RECORD.items()}
    sources.update(_REVISION_PARAMS)
    return (
        insert(VERSIONS)
        .from_select(list(sources), select(*sources.values()))
        .returning(VERSIONS.c.record_id)
    )


def _audit_from(written: Any) -> Any:
    """A CTE inserting the change's audit entry once per row ``written`` holds (none or one)."""
    entry = select(*_AUDIT_PARAMS.values()).select_from(written)
    return insert(AUDIT).from_select(list(_AUDIT_PARAMS), entry).cte("audit")


def _row_insert(dialect_insert: Any, require_live_project: bool, *conditions: Any) -> Any:
    """INSERT of one record row, ignoring a conflict on its key, under ``conditions``."""
    guard = [_PROJECT_IS_LIVE] if require_live_project else []
    values = select(*[_ROW[name] for name in _INSERTED_COLUMNS]).where(*conditions, *guard)
    return (
        dialect_insert(RECORDS)
        .from_select(_INSERTED_COLUMNS, values)
        .on_conflict_do_nothing(index_elements=["type", "key"])
    )


def _row_update(require_live_project: bool) -> Any:
    """UPDATE of one record row to its new version, if it is still at the version before.

    Under the row's lock it always is; a write whose statements commit alone (no lock held
    since its read) writes nothing when another change came first.
    """
    guard = [_PROJECT_IS_LIVE] if require_live_project else []
    return (
        update(RECORDS)
        .where(RECORDS.c.id == _ROW["id"], RECORDS.c.version == _ROW["version"] - 1, *guard)
        .values({name: _ROW[name] for name in _UPDATED_COLUMNS})
    )


def _params(record: RecordState, revision: Revision) -> dict[str, Any]:
    params: dict[str, Any] = {f"new_{name}": value for name, value in vars(record).items()}
    params["live_project"] = record.project_code
    params.update((name, getattr(revision, name)) for name in VERSION_FROM_REVISION)
    if revision.audit is not None:
        params.update((f"audit_{name}", value) for name, value in revision.audit.items())
    return params


def _driver_params(record: RecordState, revision: Revision) -> dict[str, Any]:
    """:func:`_params` as the driver takes them: documents wrapped as jsonb."""
    params = _params(record, revision)
    for name in _DOCUMENT_PARAMS:
        if name in params:
            params[name] = Jsonb(params[name])
    return params


_DOCUMENT_PARAMS = ("new_data", "changed_fields", "audit_details")
_BOTH = (False, True)


class Dialect:
    """How one database writes records; the SQL both share is above."""

    insert: ClassVar[Any]

    def lock(self, connection: Connection, record_type: str, key: str) -> RecordState | None:
        """The current row of ``(record_type, key)``, locked until the transaction ends (if
        there is one: a statement in autocommit holds its lock until it returns)."""
        row = connection.execute(_LOCK_ROW, {"new_type": record_type, "new_key": key})
        found = row.one_or_none()
        return RecordState(**found._mapping) if found is not None else None

    def lock_or_insert(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> tuple[RecordState | None, bool]:
        """Lock the current row of ``record``'s key, or insert ``record``, its version and
        audit entry; see :func:`lock_or_insert`."""
        raise NotImplementedError

    def update(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> int | None:
        """Write ``record``'s new state, its version and audit entry; see :func:`update`."""
        raise NotImplementedError

    def lock_batch(
        self, connection: Connection, record_type: str, keys: list[str], rows: list[str]
    ) -> dict[str, RecordState]:
        """Serialise writers of ``keys`` until the transaction ends (where needed); the
        current rows of ``rows`` (some of ``keys``) by key, locked as long."""
        if not rows:
            return {}
        found = connection.execute(_LOCK_MANY, {"type": record_type, "keys": rows})
        return {row.key: RecordState(**row._mapping) for row in found}

    def write_set(
        self, connection: Connection, changes: list[tuple[RecordState, Revision]], guarded: bool
    ) -> dict[str, int]:
        """Write locked rows and new ones with their versions; see :func:`write_set`."""
        if guarded:
            live = live_projects(connection, {record.project_code for record, _ in changes})
            changes = [change for change in changes if change[0].project_code in live]
        created = sorted((record for record, _ in changes if not record.id), key=_by_key)
        written = self._insert_many(connection, created)
        changed = [record for record, _ in changes if record.id]
        if changed:
            connection.execute(
                _UPDATE_BY_ID,
                [
                    {
                        "record_id": r.id,
                        **{f"new_{name}": getattr(r, name) for name in _UPDATED_COLUMNS},
                    }
                    for r in changed
                ],
            )
            written.update((record.key, record.id) for record in changed)
        versions = [
            _version_row(replace(record, id=written[record.key]), revision)
            for record, revision in changes
            if record.key in written
        ]
        if versions:
            connection.execute(_INSERT_VERSION, versions)
        return written

    def _insert_many(self, connection: Connection, records: list[RecordState]) -> dict[str, int]:
        """Insert new record rows; their ids by key, leaving out keys a concurrent writer
        created first (their rows are not overwritten)."""
        if not records:
            return {}
        statement = (
            self.insert(RECORDS)
            .on_conflict_do_nothing(index_elements=["type", "key"])
            .returning(RECORDS.c.key, RECORDS.c.id)
        )
        rows = connection.execute(
            statement, [{name: getattr(r, name) for name in _INSERTED_COLUMNS} for r in records]
        )
        return {row.key: row.id for row in rows}


class PostgresDialect(Dialect):
    """One statement per change; advisory key locks for batches."""

    insert = staticmethod(pg_insert)

    def __init__(self) -> None:
        # by (guarded, audited): statements are built (and compiled) once
        self._update = {
            (guarded, audited): DriverStatement(
                self._row_and_version(_row_update(guarded), audited)
            )
            for guarded in _BOTH
            for audited in _BOTH
        }
        self._lock_or_insert = {
            (guarded, audited): DriverStatement(self._lock_or_insert_statement(guarded, audited))
            for guarded in _BOTH
            for audited in _BOTH
        }

    @staticmethod
    def _row_and_version(row_write: Any, audited: bool) -> Any:
        """Write the row and insert its version (and audit entry) from what the write
        returned."""
        written = row_write.returning(*RECORDS.c).cte("written")
        statement = _version_from(written)
        return statement.add_cte(_audit_from(written)) if audited else statement

    @staticmethod
    def _lock_or_insert_statement(guarded: bool, audited: bool) -> Any:
        """Lock the existing row, or if there is none insert the row and its version.

        Returns the existing row (``created`` false) or the inserted one (``created`` true),
        or nothing when there was no row and none was inserted.
        """
        existing = _LOCK_ROW.cte("existing")
        row_insert = _row_insert(pg_insert, guarded, ~select(existing.c.id).exists())
        inserted = row_insert.returning(*RECORDS.c).cte("inserted")
        statement = (
            select(*existing.c, literal(False).label("created"))
            .union_all(select(*inserted.c, literal(True).label("created")))
            .add_cte(_version_from(inserted).cte("version"))
        )
        return statement.add_cte(_audit_from(inserted)) if audited else statement

    def lock_or_insert(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> tuple[RecordState | None, bool]:
        statement = self._lock_or_insert[guarded, revision.audit is not None]
        row = statement.one(connection, _driver_params(record, revision))
        if row is None:
            return None, False
        *values, created = row
        found = RecordState(*values)
        found.created_at = found.created_at.astimezone(UTC)
        found.updated_at = found.updated_at.astimezone(UTC)
        return found, created

    def update(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> int | None:
        statement = self._update[guarded, revision.audit is not None]
        row = statement.one(connection, _driver_params(record, revision))
        return None if row is None else int(row[0])

    def lock_batch(
        self, connection: Connection, record_type: str, keys: list[str], rows: list[str]
    ) -> dict[str, RecordState]:
        connection.execute(_KEY_LOCKS, {"type": record_type, "lock_keys": keys})
        if not rows:
            return {}
        found = connection.execute(_LOCK_BATCH, {"type": record_type, "keys": rows})
        return {row.key: RecordState(**row._mapping) for row in found}

    def write_set(
        self, connection: Connection, changes: list[tuple[RecordState, Revision]], guarded: bool
    ) -> dict[str, int]:
        if not changes:
            return {}
        first_record, first_revision = changes[0]
        params = {
            "set_rows": [
                {
                    "ord": n,
                    "id": record.id or None,
                    "key": record.key,
                    "project_code": record.project_code,
                    "version": record.version,
                    "data": record.data,
                    "operation": revision.operation,
                    "changed_fields": revision.changed_fields,
                }
                for n, (record, revision) in enumerate(changes)
            ],
            # what a batch's changes share: its type, publisher, key and time
            "set_type": first_record.type,
            "set_published_by": first_record.published_by,
            "set_now": first_record.updated_at,
            "set_key_id": first_revision.key_id,
        }
        assert all(
            (record.type, record.published_by, record.updated_at, revision.key_id)
            == (
                first_record.type,
                first_record.published_by,
                first_record.updated_at,
                first_revision.key_id,
            )
            for record, revision in changes
        ), "a set write shares its type, publisher, time and key"
        return {row.key: row.id for row in connection.execute(_WRITE_SET[guarded], params)}


# A batch takes a transaction-scoped advisory lock per key, all in one order, then locks and
# reads its rows. Row locks alone cannot order a batch's creations: two batches creating the
# same new keys each wait on the other's uncommitted rows as they go, and a third makes a
# cycle. The locks are taken as the aggregate reads the sorted ids; pg_advisory_xact_lock is
# volatile and parallel-restricted, so it is neither pushed below the sort nor run in a
# worker. The rows are read by the next statement: a statement sees what had committed when it
# began, and one that began before a lock it waited for would miss the rows the batch it
# waited for created.
# The keys travel as JSON arrays: the driver adapts a list to an array element by element, in
# Python, a tenth of a millisecond per hundred keys.
_KEY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(lock_id)) AS taken FROM ("
    " SELECT DISTINCT hashtextextended(:type || '/' || key, 0) AS lock_id"
    " FROM jsonb_array_elements_text(:lock_keys) AS key ORDER BY lock_id"
    ") AS ids"
).bindparams(bindparam("lock_keys", type_=JSONB))
# The keys are joined to the rows, so each is one lookup in the (type, key) index whatever
# the planner thinks of the table's size.
_WANTED = (
    func.jsonb_array_elements_text(bindparam("keys", type_=JSONB))
    .table_valued(column("key", String), name="wanted")
    .render_derived()
)
_LOCK_BATCH = (
    select(RECORDS)
    .join_from(
        _WANTED,
        RECORDS,
        and_(RECORDS.c.type == bindparam("type", type_=String), RECORDS.c.key == _WANTED.c.key),
    )
    .order_by(RECORDS.c.key)
    .with_for_update(of=RECORDS)
)


def _write_set_statement(guarded: bool) -> Any:
    """One statement writing a batch's changes: new rows (``id`` null) and locked rows with
    their new state, each with its version, the versions in the order of the rows given.

    Returns the key and id of every row written; a new row whose key a concurrent writer
    created first, or (``guarded``) whose project is not live, is not written.
    """
    given = select(
        func.jsonb_to_recordset(bindparam("set_rows", type_=JSONB))
        .table_valued(
            column("ord", Integer),
            column("id", BigInteger),
            column("key", String),
            column("project_code", String),
            column("version", Integer),
            column("data", JSONB),
            column("operation", String),
            column("changed_fields", JSONB),
        )
        .render_derived(with_types=True)
    ).cte("given")
    shared = {
        "type": bindparam("set_type", type_=RECORDS.c.type.type),
        "published_by": bindparam("set_published_by", type_=RECORDS.c.published_by.type),
        "now": bindparam("set_now", type_=RECORDS.c.updated_at.type),
        "key_id": bindparam("set_key_id", type_=VERSIONS.c.key_id.type),
    }
    guard = []
    if guarded:
        # each project named, looked up once by its key
        codes = select(given.c.project_code).distinct().subquery("codes")
        live = (
            select(RECORDS.c.key)
            .join_from(
                codes,
                RECORDS,
                and_(RECORDS.c.type == "project", RECORDS.c.key == codes.c.project_code),
            )
            .where(RECORDS.c.deleted.is_(False))
            .cte("live")
        )
        guard = [given.c.project_code.in_(select(live.c.key))]
    new_values = {
        "type": shared["type"],
        "key": given.c.key,
        "project_code": given.c.project_code,
        "version": given.c.version,
        "data": given.c.data,
        "published_by": shared["published_by"],
        "created_at": shared["now"],
        "updated_at": shared["now"],
        "deleted": false(),
    }
    assert set(new_values) == set(_INSERTED_COLUMNS), "a new row sets every column"
    returned = [RECORDS.c[name] for name in ("id", "key", "project_code", "version", "data")]
    inserted = (
        pg_insert(RECORDS)
        .from_select(
            list(new_values),
            select(*new_values.values()).where(given.c.id.is_(None), *guard).order_by(given.c.key),
        )
        .on_conflict_do_nothing(index_elements=["type", "key"])
        .returning(*returned)
        .cte("inserted")
    )
    changed_values = {
        "project_code": given.c.project_code,
        "version": given.c.version,
        "data": given.c.data,
        "deleted": false(),
        "published_by": shared["published_by"],
        "updated_at": shared["now"],
    }
    assert set(changed_values) == set(_UPDATED_COLUMNS), "a changed row sets every column"
    updated = (
        update(RECORDS)
        .where(RECORDS.c.id == given.c.id, *guard)
        .values(changed_values)
        .returning(*returned)
        .cte("updated")
    )
    written = union_all(select(*inserted.c), select(*updated.c)).cte("written")
    version_values = {
        "record_id": written.c.id,
        "record_type": shared["type"],
        "record_key": written.c.key,
        "project_code": written.c.project_code,
        "version": written.c.version,
        "data": written.c.data,
        "deleted": false(),
        "published_by": shared["published_by"],
        "created_at": shared["now"],
        "operation": given.c.operation,
        "changed_fields": given.c.changed_fields,
        "key_id": shared["key_id"],
    }
    assert set(version_values) == {*VERSION_FROM_RECORD, *VERSION_FROM_REVISION}
    versions = (
        insert(VERSIONS)
        .from_select(
            list(version_values),
            select(*version_values.values())
            .join_from(written, given, written.c.key == given.c.key)
            .order_by(given.c.ord),
        )
        .cte("versions")
    )
    return select(written.c.key, written.c.id).add_cte(versions)


_WRITE_SET = {guarded: _write_set_statement(guarded) for guarded in _BOTH}


class SQLiteDialect(Dialect):
    """The statements one after another; one writer at a time needs no key locks."""

    insert = staticmethod(sqlite_insert)

    def __init__(self) -> None:
        self._update = {guarded: _row_update(guarded).returning(RECORDS.c.id) for guarded in _BOTH}
        self._insert = {
            guarded: _row_insert(sqlite_insert, guarded).returning(RECORDS.c.id)
            for guarded in _BOTH
        }

    def lock_or_insert(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> tuple[RecordState | None, bool]:
        existing = self.lock(connection, record.type, record.key)
        if existing is not None:
            return existing, False
        record_id = self._write(connection, self._insert[guarded], record, revision)
        return (replace(record, id=record_id), True) if record_id is not None else (None, False)

    def update(
        self, connection: Connection, record: RecordState, revision: Revision, *, guarded: bool
    ) -> int | None:
        return self._write(connection, self._update[guarded], record, revision)

    @staticmethod
    def _write(
        connection: Connection, row_write: Any, record: RecordState, revision: Revision
    ) -> int | None:
        record_id: int | None = connection.execute(row_write, _params(record, revision)).scalar()
        if record_id is not None:
            version = _version_row(replace(record, id=record_id), revision)
            connection.execute(_INSERT_VERSION, version)
            if revision.audit is not None:
                connection.execute(_INSERT_AUDIT, dict(revision.audit))
        return record_id


_DIALECTS: dict[str, Dialect] = {"postgresql": PostgresDialect(), "sqlite": SQLiteDialect()}


def _dialect(connection: Connection) -> Dialect:
    return _DIALECTS[connection.dialect.name]


def project_is_live(connection: Connection, code: str) -> bool:
    """Whether project ``code`` exists and is not tombstoned."""
    return connection.execute(_LIVE_PROJECT, {"live_project": code}).first() is not None


def live_projects(connection: Connection, codes: set[str]) -> set[str]:
    """Those of ``codes`` that name a project that exists and is not tombstoned."""
    return set(connection.execute(_LIVE_PROJECTS, {"codes": sorted(codes)}).scalars())


def lock(connection: Connection, record_type: str, key: str) -> RecordState | None:
    """The current row of ``(record_type, key)``, locked until the transaction ends (if
    there is one: a statement in autocommit holds its lock until it returns)."""
    return _dialect(connection).lock(connection, record_type, key)


def lock_or_insert(
    connection: Connection, record: RecordState, revision: Revision, *, require_live_project: bool
) -> tuple[RecordState | None, bool]:
    """Lock the current row of ``record``'s key, or insert ``record`` with its version and
    audit entry.

    Returns the row and whether it was inserted; ``(None, False)`` when there was no row and
    none was inserted (the project is not live, or a concurrent writer created the record).
    On PostgreSQL this is one statement, so creating a record costs one round trip.
    """
    return _dialect(connection).lock_or_insert(
        connection, record, revision, guarded=require_live_project
    )


def update_record(
    connection: Connection, record: RecordState, revision: Revision, *, require_live_project: bool
) -> int | None:
    """Write ``record``'s new state with its version and audit entry; return its id.

    None means nothing was written: (with ``require_live_project``) the project is missing or
    tombstoned, or the row is no longer at the version before ``record``'s (another change
    came first: only possible when ``record`` was read without a lock held since).
    """
    return _dialect(connection).update(connection, record, revision, guarded=require_live_project)


def lock_batch(
    connection: Connection, record_type: str, keys: list[str], rows: list[str]
) -> dict[str, RecordState]:
    """Serialise writers of ``keys`` (of any batch) until the transaction ends, and lock and
    read the current rows of ``rows`` (some of ``keys``): the existing ones, by key.

    Every batch takes the locks of all its keys first, in one order, before any row lock:
    then a batch never waits for another batch while holding a row lock the other needs.
    """
    return _dialect(connection).lock_batch(connection, record_type, keys, rows)


def write_set(
    connection: Connection,
    changes: list[tuple[RecordState, Revision]],
    *,
    require_live_project: bool,
) -> dict[str, int]:
    """Write many records of one type by one publisher at one time, each with its version,
    the versions in the order of ``changes``: a record with id 0 is a new row, any other the
    locked row's new state.

    Returns the ids of the records written, by key. A new record whose key a concurrent
    writer created first is not written (its row is not overwritten), nor (with
    ``require_live_project``) one whose project is missing or tombstoned.
    """
    return _dialect(connection).write_set(connection, changes, require_live_project)


def _by_key(record: RecordState) -> str:
    return record.key
