"""The write path's SQL: a record's row and its new version, in as few round trips as possible.

A change writes two rows: the record's current state (``records``) and the immutable version
(``record_versions``) that is also its change-log entry. On PostgreSQL both go in one statement,
the version selected from what the row write returned (a data-modifying CTE); SQLite, which has
no round trips to save and no such CTEs, runs the two statements. A linked record's write also
checks, inside the same statement, that its project is live, so the check costs no round trip.

The statements are built once: building and hashing a statement per call costs more than
running it, and publishing is the hub's hot path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.records.models import Record, RecordState, RecordVersion

RECORDS = cast(Table, Record.__table__)
VERSIONS = cast(Table, RecordVersion.__table__)

Kind = Literal["insert", "update"]


@dataclass(frozen=True)
class Change:
    """What a new version records beyond the record's state: how, what and by which key."""

    operation: str
    changed_fields: list[str]
    key_id: str


# Parameters are named new_<column>: update() reserves bare column names for itself.
_ROW = {column.name: bindparam(f"new_{column.name}", type_=column.type) for column in RECORDS.c}
_UPDATED_COLUMNS = ("data", "project_code", "version", "deleted", "published_by", "updated_at")
_PROJECT_IS_LIVE = (
    select(RECORDS.c.id)
    .where(
        RECORDS.c.type == "project",
        RECORDS.c.key == bindparam("live_project"),
        RECORDS.c.deleted.is_(False),
    )
    .exists()
)
_VERSION_PARAMS = {
    "operation": bindparam("operation", type_=VERSIONS.c.operation.type),
    "changed_fields": bindparam("changed_fields", type_=VERSIONS.c.changed_fields.type),
    "key_id": bindparam("key_id", type_=VERSIONS.c.key_id.type),
    "event_id": bindparam("event_id", type_=VERSIONS.c.event_id.type),
}


def _row_write(dialect_insert: Any, kind: Kind, require_live_project: bool) -> Any:
    """INSERT (ignoring a conflict on the key) or UPDATE of one record row."""
    guard = [_PROJECT_IS_LIVE] if require_live_project else []
    if kind == "insert":
        columns = [name for name in _ROW if name != "id"]
        values = select(*[_ROW[name] for name in columns]).where(*guard)
        return (
            dialect_insert(RECORDS)
            .from_select(columns, values)
            .on_conflict_do_nothing(index_elements=["type", "key"])
        )
    return (
        update(RECORDS)
        .where(RECORDS.c.id == _ROW["id"], *guard)
        .values({name: _ROW[name] for name in _UPDATED_COLUMNS})
    )


def _row_and_version(row_write: Any) -> Any:
    """One statement: write the row and insert its version from what the write returned."""
    written = row_write.returning(*RECORDS.c).cte("written")
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
        "event_id": _VERSION_PARAMS["event_id"],
    }
    return (
        insert(VERSIONS)
        .from_select(list(version), select(*version.values()))
        .returning(VERSIONS.c.record_id)
    )


_STATEMENTS: dict[tuple[str, Kind, bool], Any] = {}
for _kind in ("insert", "update"):
    for _guarded in (False, True):
        _STATEMENTS["postgresql", _kind, _guarded] = _row_and_version(
            _row_write(pg_insert, _kind, _guarded)
        )
        _STATEMENTS["sqlite", _kind, _guarded] = _row_write(
            sqlite_insert, _kind, _guarded
        ).returning(RECORDS.c.id)
_INSERT_VERSION = insert(VERSIONS)


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
    params: dict[str, Any] = {f"new_{name}": value for name, value in vars(record).items()}
    params["live_project"] = record.project_code
    version = {
        "operation": change.operation,
        "changed_fields": change.changed_fields,
        "key_id": change.key_id,
        "event_id": str(uuid.uuid4()),
    }
    dialect = connection.dialect.name
    statement = _STATEMENTS[dialect, kind, require_live_project]
    if dialect == "postgresql":
        record_id: int | None = connection.execute(statement, {**params, **version}).scalar()
        return record_id
    record_id = connection.execute(statement, params).scalar()
    if record_id is not None:
        connection.execute(
            _INSERT_VERSION,
            {
                "record_id": record_id,
                "record_type": record.type,
                "record_key": record.key,
                "project_code": record.project_code,
                "version": record.version,
                "data": record.data,
                "deleted": record.deleted,
                "published_by": record.published_by,
                "created_at": record.updated_at,
                **version,
            },
        )
    return record_id
