"""The write path's SQL: a record's row and its new version, in as few round trips as possible.

A change writes two rows: the record's current state (``records``) and the immutable version
(``record_versions``) that is also its change-log entry. On PostgreSQL each write is one
statement of data-modifying CTEs: creating a record locks the key's existing row or, if there
is none, inserts the row and its version (``lock_or_insert``); changing one updates the row
and inserts the version selected from what the update returned (``write``). SQLite, which has
no round trips to save and no such CTEs, runs the statements one after another. A linked
record's write also checks, inside the same statement, that its project is live. A change
that carries its audit entry (``Change.audit``) inserts that too, from what was written, so on
PostgreSQL auditing a publish costs no statement of its own.

The statements are built once: building and hashing a statement per call costs more than
running it, and publishing is the hub's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, bindparam, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.audit.models import AuditEntry
from hub.audit.service import ChangeEntry
from hub.records.models import Record, RecordState, RecordVersion

RECORDS = cast(Table, Record.__table__)
VERSIONS = cast(Table, RecordVersion.__table__)
AUDIT = cast(Table, AuditEntry.__table__)

Kind = Literal["insert", "update"]


@dataclass(frozen=True)
class Change:
    """What a new version records beyond the record's state: how, what and by which key,
    and the audit entry to insert with it (if any)."""

    operation: str
    changed_fields: list[str]
    key_id: str
    audit: ChangeEntry | None = None


# Parameters are named new_<column>: update() reserves bare column names for itself.
_ROW = {column.name: bindparam(f"new_{column.name}", type_=column.type) for column in RECORDS.c}
_UPDATED_COLUMNS = ("data", "project_code", "version", "deleted", "published_by", "updated_at")
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
_VERSION_PARAMS = {
    "operation": bindparam("operation", type_=VERSIONS.c.operation.type),
    "changed_fields": bindparam("changed_fields", type_=VERSIONS.c.changed_fields.type),
    "key_id": bindparam("key_id", type_=VERSIONS.c.key_id.type),
}

_AUDIT_PARAMS = {
    name: bindparam(f"audit_{name}", type_=AUDIT.c[name].type)
    for name in (
        "at",
        "department_id",
        "key_id",
        "actor",
        "action",
        "target",
        "remote_addr",
        "outcome",
        "details",
    )
}


def _audit_from(written: Any) -> Any:
    """A CTE inserting the change's audit entry once per row ``written`` holds (none or one)."""
    entry = select(*_AUDIT_PARAMS.values()).select_from(written)
    return insert(AUDIT).from_select(list(_AUDIT_PARAMS), entry).cte("audit")


def _row_insert(dialect_insert: Any, require_live_project: bool, *conditions: Any) -> Any:
    """INSERT of one record row, ignoring a conflict on its key, under ``conditions``."""
    guard = [_PROJECT_IS_LIVE] if require_live_project else []
    columns = [name for name in _ROW if name != "id"]
    values = select(*[_ROW[name] for name in columns]).where(*conditions, *guard)
    return (
        dialect_insert(RECORDS)
        .from_select(columns, values)
        .on_conflict_do_nothing(index_elements=["type", "key"])
    )


def _row_update(require_live_project: bool) -> Any:
    """UPDATE of one record row to its new version."""
    guard = [_PROJECT_IS_LIVE] if require_live_project else []
    return (
        update(RECORDS)
        .where(RECORDS.c.id == _ROW["id"], *guard)
        .values({name: _ROW[name] for name in _UPDATED_COLUMNS})
    )


def _row_and_version(row_write: Any, audited: bool) -> Any:
    """One statement: write the row and insert its version (and audit entry) from what the
    write returned."""
    written = row_write.returning(*RECORDS.c).cte("written")
    statement = _version_from(written)
    return statement.add_cte(_audit_from(written)) if audited else statement


def _version_from(written: Any) -> Any:
    """INSERT of a version selected from a CTE of written record rows."""
    version = {
        "record_id": written.c.id,
        "record_type": written.c.type,
        "record_key": written.c.key,
        "project_code": written.c.project_code,
        "version": written.c.version,
        "operation": _VERSION_PARAMS["operation"],
        "data": written.c.data,
        "changed_fields": _VERSION_PARAMS["changed_fields"],
        "deleted": written.c.deleted,
        "published_by": written.c.published_by,
        "key_id": _VERSION_PARAMS["key_id"],
        "created_at": written.c.updated_at,
    }
    return (
        insert(VERSIONS)
        .from_select(list(version), select(*version.values()))
        .returning(VERSIONS.c.record_id)
    )


_LOCK_ROW = (
    select(RECORDS)
    .where(RECORDS.c.type == bindparam("new_type"), RECORDS.c.key == bindparam("new_key"))
    .with_for_update()
)


def _lock_or_insert_statement(require_live_project: bool, audited: bool) -> Any:
    """PostgreSQL: lock the existing row, or if there is none insert the row and its version.

    Returns the existing row (``created`` false) or the inserted one (``created`` true), or
    nothing when there was no row and none was inserted.
    """
    existing = _LOCK_ROW.cte("existing")
    row_insert = _row_insert(pg_insert, require_live_project, ~select(existing.c.id).exists())
    inserted = row_insert.returning(*RECORDS.c).cte("inserted")
    version_insert = _version_from(inserted).cte("version")
    statement = (
        select(*existing.c, literal(False).label("created"))
        .union_all(select(*inserted.c, literal(True).label("created")))
        .add_cte(version_insert)
    )
    return statement.add_cte(_audit_from(inserted)) if audited else statement


# PostgreSQL creates through _LOCK_OR_INSERT and updates through _PG_UPDATE, both by
# (require_live_project, audited); SQLite takes the row first, then its version.
_BOTH = (False, True)
_PG_UPDATE = {
    (guarded, audited): _row_and_version(_row_update(guarded), audited)
    for guarded in _BOTH
    for audited in _BOTH
}
_LOCK_OR_INSERT = {
    (guarded, audited): _lock_or_insert_statement(guarded, audited)
    for guarded in _BOTH
    for audited in _BOTH
}
_SQLITE_WRITE: dict[tuple[Kind, bool], Any] = {}
for _guarded in _BOTH:
    _SQLITE_WRITE["update", _guarded] = _row_update(_guarded).returning(RECORDS.c.id)
    _SQLITE_WRITE["insert", _guarded] = _row_insert(sqlite_insert, _guarded).returning(RECORDS.c.id)
_INSERT_VERSION = insert(VERSIONS)


def project_is_live(connection: Connection, code: str) -> bool:
    """Whether project ``code`` exists and is not tombstoned."""
    return connection.execute(_LIVE_PROJECT, {"live_project": code}).first() is not None


def lock(connection: Connection, record_type: str, key: str) -> RecordState | None:
    """The current row of ``(record_type, key)``, locked until the transaction ends."""
    row = connection.execute(_LOCK_ROW, {"new_type": record_type, "new_key": key}).one_or_none()
    return RecordState(**row._mapping) if row is not None else None


def lock_or_insert(
    connection: Connection,
    record: RecordState,
    change: Change,
    *,
    require_live_project: bool,
) -> tuple[RecordState | None, bool]:
    """Lock the current row of ``record``'s key, or insert ``record`` (and its version).

    Returns the row and whether it was inserted; ``(None, False)`` when there was no row and
    none was inserted (the project is not live, or a concurrent writer created the record).
    On PostgreSQL this is one statement, so creating a record costs one round trip.
    """
    if connection.dialect.name != "postgresql":
        existing = lock(connection, record.type, record.key)
        if existing is not None:
            return existing, False
        record_id = write(
            connection, "insert", record, change, require_live_project=require_live_project
        )
        return (replace(record, id=record_id), True) if record_id is not None else (None, False)
    params = _params(record, change, created=True)
    statement = _LOCK_OR_INSERT[require_live_project, change.audit is not None]
    row = connection.execute(statement, params).one_or_none()
    if row is None:
        return None, False
    values = dict(row._mapping)
    created = values.pop("created")
    if created and change.audit is not None:
        change.audit.mark_written(created=True)
    return RecordState(**values), created


def _params(record: RecordState, change: Change, *, created: bool) -> dict[str, Any]:
    params: dict[str, Any] = {f"new_{name}": value for name, value in vars(record).items()}
    params["live_project"] = record.project_code
    params.update(
        operation=change.operation,
        changed_fields=change.changed_fields,
        key_id=change.key_id,
    )
    if change.audit is not None:
        audit = change.audit.values(created, record.version)
        params.update({f"audit_{name}": value for name, value in audit.items()})
    return params


def write(
    connection: Connection,
    kind: Kind,
    record: RecordState,
    change: Change,
    *,
    require_live_project: bool,
) -> int | None:
    """Write ``record``'s row and its new version; return the record's id.

    None means nothing was written: the insert met an existing key, or (with
    ``require_live_project``) the project is missing or tombstoned.
    """
    created = kind == "insert" or change.operation == "created"
    if connection.dialect.name == "postgresql":
        # PostgreSQL inserts through lock_or_insert, so here the kind is always "update".
        statement = _PG_UPDATE[require_live_project, change.audit is not None]
        record_id: int | None = connection.execute(
            statement, _params(record, change, created=created)
        ).scalar()
        if record_id is not None and change.audit is not None:
            change.audit.mark_written(created)
        return record_id
    # SQLite: no round trips to save; the audit trail inserts the entry after the view.
    params = _params(record, replace(change, audit=None), created=created)
    record_id = connection.execute(_SQLITE_WRITE[kind, require_live_project], params).scalar()
    if record_id is not None:
        connection.execute(_INSERT_VERSION, _version_row(replace(record, id=record_id), change))
    return record_id


def _version_row(record: RecordState, change: Change) -> dict[str, Any]:
    """The ``record_versions`` row of a written record's new version."""
    return {
        "record_id": record.id,
        "record_type": record.type,
        "record_key": record.key,
        "project_code": record.project_code,
        "version": record.version,
        "data": record.data,
        "deleted": record.deleted,
        "published_by": record.published_by,
        "created_at": record.updated_at,
        "operation": change.operation,
        "changed_fields": change.changed_fields,
        "key_id": change.key_id,
    }


# Set-based writes for a batch: a few statements for the whole batch instead of one or two
# per record. Rows are locked in key order, so two batches touching the same keys queue
# instead of deadlocking.
_LOCK_MANY = (
    select(RECORDS)
    .where(
        RECORDS.c.type == bindparam("type"),
        RECORDS.c.key.in_(bindparam("keys", expanding=True)),
    )
    .order_by(RECORDS.c.key)
    .with_for_update()
)
_LIVE_PROJECTS = select(RECORDS.c.key).where(
    RECORDS.c.type == "project",
    RECORDS.c.key.in_(bindparam("codes", expanding=True)),
    RECORDS.c.deleted.is_(False),
)
_INSERTED_COLUMNS = [name for name in _ROW if name != "id"]
_UPDATE_BY_ID = (
    update(RECORDS)
    .where(RECORDS.c.id == bindparam("record_id"))
    .values({name: _ROW[name] for name in _UPDATED_COLUMNS})
)


# PostgreSQL: a batch first takes a transaction-scoped advisory lock per key, all in one
# order. Row locks alone cannot order a batch's creations: two batches creating the same new
# keys each wait on the other's uncommitted rows as they go, and a third makes a cycle. The
# locks are taken as the aggregate reads the sorted ids; pg_advisory_xact_lock is volatile and
# parallel-restricted, so it is neither pushed below the sort nor run in a parallel worker.
_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(lock_id)) FROM ("
    " SELECT DISTINCT hashtextextended(:type || '/' || key, 0) AS lock_id"
    " FROM unnest(CAST(:keys AS text[])) AS key ORDER BY lock_id"
    ") AS ids"
)


def lock_keys(connection: Connection, record_type: str, keys: list[str]) -> None:
    """PostgreSQL: serialise writers of ``keys`` (of any batch) until the transaction ends;
    elsewhere a no-op (SQLite runs one writer at a time)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_KEYS, {"type": record_type, "keys": keys})


def lock_many(connection: Connection, record_type: str, keys: list[str]) -> dict[str, RecordState]:
    """The current rows of ``keys``, by key, locked until the transaction ends."""
    rows = connection.execute(_LOCK_MANY, {"type": record_type, "keys": keys})
    return {row.key: RecordState(**row._mapping) for row in rows}


def live_projects(connection: Connection, codes: set[str]) -> set[str]:
    """Those of ``codes`` that name a project that exists and is not tombstoned."""
    return set(connection.execute(_LIVE_PROJECTS, {"codes": sorted(codes)}).scalars())


def insert_many(connection: Connection, records: list[RecordState]) -> dict[str, int]:
    """Insert new record rows; their ids by key. A key a concurrent writer created first is
    left out (its row is not overwritten)."""
    if not records:
        return {}
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(RECORDS)
        .on_conflict_do_nothing(index_elements=["type", "key"])
        .returning(RECORDS.c.key, RECORDS.c.id)
    )
    rows = connection.execute(
        statement, [{name: getattr(r, name) for name in _INSERTED_COLUMNS} for r in records]
    )
    return {row.key: row.id for row in rows}


def update_many(connection: Connection, records: list[RecordState]) -> None:
    """Write the new state of existing, locked record rows."""
    if records:
        connection.execute(
            _UPDATE_BY_ID,
            [
                {
                    "record_id": r.id,
                    **{f"new_{name}": getattr(r, name) for name in _UPDATED_COLUMNS},
                }
                for r in records
            ],
        )


def insert_versions(connection: Connection, versions: list[tuple[RecordState, Change]]) -> None:
    """Insert the version rows of written records, each with its change."""
    if versions:
        connection.execute(
            _INSERT_VERSION, [_version_row(record, change) for record, change in versions]
        )
