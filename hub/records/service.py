"""Records: publish, patch, tombstone, read, list, history, dossier.

Every change validates through the record type's schema, locks the record's row (a PUT on
PostgreSQL instead updates only the version it read, and retries locked if another change came
first: see ``_publish``) and writes a new immutable version, which is also its change-log
entry, and its audit entry (the SQL is in ``writes``); the caller's unit of work commits.
Content equal to the current version is a no-op: no version, no event, but still an audit
entry (the caller asked).

The fields a type lists in ``department_fields`` (a coordination item's ``raised_by`` and
``assigned_to``) must name existing departments, which only the hub can check: every write
path asks the database once per request for all the ids it names (:class:`DepartmentCheck`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import marshmallow as ma
from sqlalchemy import Connection, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from hub.audit.entries import Entry
from hub.audit.entries import record as record_entry
from hub.auth.identity import Identity
from hub.auth.models import Department
from hub.core.db import begin_transaction, commits_alone, mark_log_changed, utcnow
from hub.core.errors import (
    Conflict,
    Forbidden,
    HubError,
    NotFound,
    PreconditionFailed,
    Unprocessable,
    validation_error,
)
from hub.records import writes
from hub.records.models import Record, RecordState, RecordVersion
from schemas import KEY_RULE, RecordType, is_valid_key, normalize_key, registry

Status = Literal["created", "updated", "unchanged"]
# What the audit log calls each action on records: changes, and reads that disclosed
# protected fields (recorded by hub.sharing).
PUT = "record.put"
PATCH = "record.patch"
DELETE = "record.delete"
BATCH = "record.batch"
READ = "record.read"
LIST = "record.list"
HISTORY = "record.history"
DOSSIER = "project.dossier"
# The HTTP status each outcome answers with, over the API and in the audit log.
STATUS_CODES: dict[Status, int] = {"created": 201, "updated": 200, "unchanged": 200}

_RECORDS = writes.RECORDS

# Statements built once (see hub.records.writes for why).
_RECORD_BY_KEY = select(Record).where(
    Record.type == bindparam("type"), Record.key == bindparam("key")
)
_LIVE_LINKED_COUNT = (
    select(func.count())
    .select_from(_RECORDS)
    .where(
        _RECORDS.c.project_code == bindparam("code"),
        _RECORDS.c.type != "project",
        _RECORDS.c.deleted.is_(False),
    )
)


_EXISTING_DEPARTMENTS = select(Department.id).where(
    Department.id.in_(bindparam("ids", expanding=True))
)


@dataclass(frozen=True)
class Outcome:
    """What a write did to a record."""

    record: RecordState
    status: Status

    @property
    def http_status(self) -> int:
        """201 when the write created the record, else 200."""
        return STATUS_CODES[self.status]


@dataclass(frozen=True)
class Preconditions:
    """The client's conditions on the current version (``If-Match`` / ``If-None-Match``)."""

    if_match: str | None = None
    if_none_match: str | None = None


def record_type_named(name: str) -> RecordType:
    """The registered record type ``name``, or 404."""
    record_type = registry().get(name)
    if record_type is None:
        raise NotFound(f"There is no record type '{name}'; GET /api/v1/types lists them.")
    return record_type


def check_key(key: str) -> str:
    """``key`` in the form it is stored in (NFC), or 422 if it is no record key (KEY_RULE)."""
    normalized = normalize_key(key)
    if not is_valid_key(normalized):
        raise Unprocessable("Invalid record key.", errors={"key": [KEY_RULE]})
    return normalized


def get_record(session: Session, record_type: RecordType, key: str) -> Record | None:
    """The record ``(type, key)``, tombstoned or not, or None."""
    key = normalize_key(key)
    return session.scalar(_RECORD_BY_KEY, {"type": record_type.name, "key": key})


def require_record(session: Session, record_type: RecordType, key: str) -> Record:
    """The record ``(type, key)``, or 404."""
    record = get_record(session, record_type, key)
    if record is None:
        raise NotFound(f"There is no {record_type.name} '{key}'.")
    return record


def _etag_values(header: str) -> list[str]:
    return [
        part.strip().removeprefix("W/").strip('"') for part in header.split(",") if part.strip()
    ]


def _check_preconditions(record: RecordState | None, conditions: Preconditions) -> None:
    current = str(record.version) if record is not None and not record.deleted else None
    if conditions.if_match is not None:
        wanted = _etag_values(conditions.if_match)
        if current is None or ("*" not in wanted and current not in wanted):
            shown = f'"{current}"' if current else "none"
            raise PreconditionFailed(
                f"If-Match {conditions.if_match} does not match the current version ({shown})."
            )
    if conditions.if_none_match is not None and current is not None:
        wanted = _etag_values(conditions.if_none_match)
        if "*" in wanted or current in wanted:
            raise PreconditionFailed("If-None-Match: the record exists at a matching version.")


def _require_publisher(identity: Identity, record_type: RecordType) -> None:
    if not identity.may_publish(record_type.name):
        raise Forbidden(
            f"Department '{identity.department_id}' may not publish {record_type.name} records."
        )


def _canonical(record_type: RecordType, key: str, body: Any) -> dict[str, Any]:
    check_key(key)
    try:
        return record_type.canonical(body, key)
    except ma.ValidationError as exc:
        raise validation_error(exc) from exc


class DepartmentCheck:
    """Whether the departments records name exist, asked of the database once per request.

    :meth:`look_up` fetches which of many ids exist in one query (a batch's, before its
    items are written); :meth:`require` refuses a record naming one that does not, asking
    only about ids not looked up yet.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._asked: set[str] = set()
        self._existing: set[str] = set()

    def look_up(self, ids: Iterable[str]) -> None:
        """Find out which of ``ids`` exist, in one query for those not asked about yet."""
        wanted = set(ids) - self._asked
        if wanted:
            found = self._session.scalars(_EXISTING_DEPARTMENTS, {"ids": sorted(wanted)})
            self._existing.update(found)
            self._asked |= wanted

    def look_up_records(self, record_type: RecordType, bodies: Iterable[Any]) -> None:
        """:meth:`look_up` every id the ``department_fields`` of ``bodies`` name."""
        if record_type.department_fields:
            self.look_up(
                department
                for body in bodies
                if isinstance(body, Mapping)
                for ids in record_type.department_ids(body).values()
                for department in ids
            )

    def require(self, record_type: RecordType, data: Mapping[str, Any]) -> None:
        """Refuse (422, naming each field) ``data`` naming a department that does not exist."""
        named = record_type.department_ids(data)
        if not named:
            return
        self.look_up(department for ids in named.values() for department in ids)
        errors = {
            name: [f"No department '{department}' exists on the hub." for department in missing]
            for name, ids in named.items()
            if (missing := [department for department in ids if department not in self._existing])
        }
        if errors:
            raise Unprocessable(
                f"The record names departments that do not exist: {', '.join(errors)}.",
                errors=errors,
            )


def _project_code_of(record_type: RecordType, key: str, data: Mapping[str, Any]) -> str:
    return key if not record_type.links_project else str(data["project_code"])


def _no_such_project(code: str) -> Unprocessable:
    return Unprocessable(
        f"Project {code} does not exist: a linked record needs its project first. Publish it "
        f"(PUT /api/v1/records/project/{code}, by the department that publishes projects), "
        "then this record.",
        errors={"project_code": [f"No live project {code}: publish the project first."]},
    )


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


def _first_version(
    identity: Identity,
    record_type: RecordType,
    key: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> RecordState:
    now = now or utcnow()
    return RecordState(
        id=0,
        type=record_type.name,
        key=key,
        project_code=_project_code_of(record_type, key, data),
        version=1,
        data=data,
        published_by=identity.department_id,
        created_at=now,
        updated_at=now,
        deleted=False,
    )


def _audit_values(
    entry: Entry | None, operation: str, record: RecordState
) -> dict[str, Any] | None:
    """The column values of ``entry`` for a write of ``record``'s version (201 if created)."""
    if entry is None:
        return None
    return entry.values(201 if operation == "created" else 200, version=str(record.version))


def _lock_or_create(
    connection: Connection,
    identity: Identity,
    record_type: RecordType,
    key: str,
    data: dict[str, Any],
    conditions: Preconditions,
    entry: Entry | None,
) -> tuple[RecordState | None, bool]:
    """The current row (locked, unless the statements commit alone), or a new record at
    version 1; whether it was created."""
    if conditions.if_match is not None:  # a condition on an existing version: never create
        return writes.lock(connection, record_type.name, key), False
    first = _first_version(identity, record_type, key, data)
    revision = writes.Revision(
        "created", sorted(data), identity.key_id, _audit_values(entry, "created", first)
    )
    links = record_type.links_project
    record, created = writes.lock_or_insert(connection, first, revision, require_live_project=links)
    if record is None:
        if links and not writes.project_is_live(connection, first.project_code):
            raise _no_such_project(first.project_code)
        # A concurrent writer created the record between our look and our insert.
        record = writes.lock(connection, record_type.name, key)
    return record, created


def _next_version(
    record: RecordState,
    identity: Identity,
    record_type: RecordType,
    data: dict[str, Any],
    now: datetime | None = None,
) -> tuple[RecordState, Status, list[str]]:
    """``record`` with ``data`` as its next version: the new state, whether that creates the
    record again (after a tombstone) or updates it, and the fields that changed."""
    revived = record.deleted
    operation: Status = "created" if revived else "updated"
    changed = _changed_fields({} if revived else record.data, data)
    new = replace(
        record,
        data=data,
        project_code=_project_code_of(record_type, record.key, data),
        version=record.version + 1,
        deleted=False,
        published_by=identity.department_id,
        updated_at=now or utcnow(),
    )
    return new, operation, changed


def _entry(identity: Identity, action: str, record_type: RecordType, key: str) -> Entry:
    return Entry(identity.actor, action, f"{record_type.name}/{key}")


def publish(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    body: Any,
    conditions: Preconditions = Preconditions(),
) -> Outcome:
    """Create or replace ``(type, key)`` with ``body``, recorded as ``record.put``."""
    key = normalize_key(key)
    entry = _entry(identity, PUT, record_type, key)
    return _publish(session, identity, record_type, key, body, conditions, entry)


def _publish(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    body: Any,
    conditions: Preconditions,
    entry: Entry | None,
    departments: DepartmentCheck | None = None,
) -> Outcome:
    """Publish; a change writes ``entry`` with it, and so does a publish that changes nothing.

    Every refusal is raised before the first write, so a batch can go on to its next item
    after a refused one without a savepoint.
    """
    _require_publisher(identity, record_type)
    data = _canonical(record_type, key, body)
    (departments or DepartmentCheck(session)).require(record_type, data)
    outcome = _write(session, identity, record_type, key, data, conditions, entry)
    if outcome is None:
        # Another change came between this write's read and its update, which held no lock
        # (each statement committed alone): write again, this time in a transaction.
        begin_transaction(session)
        outcome = _write(session, identity, record_type, key, data, conditions, entry)
        assert outcome is not None, "a write under the row's lock is never overtaken"
    return outcome


def _write(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    data: dict[str, Any],
    conditions: Preconditions,
    entry: Entry | None,
) -> Outcome | None:
    """Write valid ``data`` as :func:`_publish` does; None if, its statements committing
    alone, another change overtook it (nothing was written)."""
    connection = session.connection()
    record, created = _lock_or_create(
        connection, identity, record_type, key, data, conditions, entry
    )
    if created:
        assert record is not None
        mark_log_changed(session)
        return Outcome(record, "created")
    _check_preconditions(record, conditions)
    assert record is not None, "preconditions refuse a missing record"
    if not record.deleted and record.data == data:
        if entry is not None:
            record_entry(session, entry, 200, version=str(record.version))
        return Outcome(record, "unchanged")
    record, operation, changed = _next_version(record, identity, record_type, data)
    revision = writes.Revision(
        operation, changed, identity.key_id, _audit_values(entry, operation, record)
    )
    links = record_type.links_project
    if writes.update_record(connection, record, revision, require_live_project=links) is None:
        if commits_alone(session):
            return None  # overtaken, or the project went: the locked retry tells which
        raise _no_such_project(record.project_code)
    mark_log_changed(session)
    return Outcome(record, operation)


@dataclass(frozen=True)
class BatchItem:
    """One record of a batch: data to publish, or a tombstone, under an optional If-Match."""

    key: str
    data: Any = None
    deleted: bool = False
    if_match: str | None = None


def publish_many(
    session: Session, identity: Identity, record_type: RecordType, items: Sequence[BatchItem]
) -> list[Outcome | HubError]:
    """Each item as :func:`publish` or :func:`tombstone` would do it, in request order; a
    refusal is the item's result and does not stop the others. The batch is recorded as one
    ``record.batch`` entry naming each item's status.

    Plain publishes (no condition, a key that appears once) are validated first, then written
    set-wise: their rows are locked and read right after the batch's key locks, and written
    with their versions in one statement (``writes.write_set``), instead of a statement or two
    per record. The rest go one by one in their place, so versions (and events) follow the
    request's order; only a key created by a single write racing the batch is written after
    the rest of its group. A department that may not publish the type locks nothing.
    """
    results: list[Outcome | HubError | None] = [None] * len(items)
    items = [_normalized(item) for item in items]
    repeated = _repeated_keys(items)
    may_publish = identity.may_publish(record_type.name)
    # validated before any lock is taken, so that locks are held only while writing
    validated: dict[int, dict[str, Any] | HubError] = {}
    for index, item in enumerate(items):
        if may_publish and _is_plain(item, repeated):
            try:
                validated[index] = _canonical(record_type, item.key, item.data)
            except HubError as error:
                validated[index] = error
    # the locks of all the batch's keys (an invalid key is the item's 422, and may hold what
    # no database column takes: a NUL), and the rows of the valid plain publishes
    valid_keys = [item.key for item in items if is_valid_key(item.key)] if may_publish else []
    candidates = {items[i].key for i, data in validated.items() if isinstance(data, dict)}
    current = writes.lock_batch(
        session.connection(), record_type.name, valid_keys, sorted(candidates)
    )
    departments = DepartmentCheck(session)
    departments.look_up_records(record_type, (item.data for item in items if not item.deleted))
    plain: dict[str, tuple[int, dict[str, Any]]] = {}

    def write_plain() -> None:
        for index, result in _publish_set(session, identity, record_type, plain, current).items():
            results[index] = result
        plain.clear()

    for index, item in enumerate(items):
        if not _is_plain(item, repeated):
            # written in its place, so the change log keeps the request's order
            write_plain()
            results[index] = _one(session, identity, record_type, item, departments)
            continue
        try:
            _require_publisher(identity, record_type)
            data = validated[index]
            if isinstance(data, HubError):
                raise data
            departments.require(record_type, data)
            plain[item.key] = (index, data)
        except HubError as error:
            results[index] = error
    write_plain()
    outcomes = [result for result in results if result is not None]
    statuses = [
        {"key": item.key, "status": _status_of(outcome)}
        for item, outcome in zip(items, outcomes, strict=True)
    ]
    entry = Entry(identity.actor, BATCH, record_type.name)
    record_entry(session, entry, 200, results=statuses)
    return outcomes


def _is_plain(item: BatchItem, repeated: set[str]) -> bool:
    """Whether ``item`` is a plain publish: data, no condition, its key once in the batch."""
    return not item.deleted and item.if_match is None and item.key not in repeated


def _normalized(item: BatchItem) -> BatchItem:
    key = normalize_key(item.key)
    return item if key == item.key else replace(item, key=key)


def _status_of(outcome: Outcome | HubError) -> int:
    return outcome.status if isinstance(outcome, HubError) else outcome.http_status


def _repeated_keys(items: Sequence[BatchItem]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for item in items:
        (repeated if item.key in seen else seen).add(item.key)
    return repeated


def _one(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    item: BatchItem,
    departments: DepartmentCheck | None = None,
) -> Outcome | HubError:
    conditions = Preconditions(if_match=item.if_match)
    try:
        if item.deleted:
            return _tombstone(session, identity, record_type, item.key, conditions, None)
        return _publish(
            session, identity, record_type, item.key, item.data, conditions, None, departments
        )
    except HubError as error:
        return error


def _publish_set(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    plain: Mapping[str, tuple[int, dict[str, Any]]],
    current: Mapping[str, RecordState],
) -> dict[int, Outcome | HubError]:
    """Publish validated records of distinct keys, whose rows ``current`` holds locked (or
    does not hold: they are new), in one statement for all of them."""
    if not plain:
        return {}
    results: dict[int, Outcome | HubError] = {}
    # in request order: the versions follow it
    changes: list[tuple[int, RecordState, writes.Revision]] = []
    now = utcnow()
    for key, (index, data) in sorted(plain.items(), key=lambda entry: entry[1][0]):
        record = current.get(key)
        if record is None:
            first = _first_version(identity, record_type, key, data, now)
            revision = writes.Revision("created", sorted(data), identity.key_id)
            changes.append((index, first, revision))
        elif not record.deleted and record.data == data:
            results[index] = Outcome(record, "unchanged")
        else:
            new, operation, fields = _next_version(record, identity, record_type, data, now)
            changes.append((index, new, writes.Revision(operation, fields, identity.key_id)))
    if not changes:
        return results
    links = record_type.links_project
    written = writes.write_set(
        session.connection(),
        [(record, revision) for _, record, revision in changes],
        require_live_project=links,
    )
    if written:
        mark_log_changed(session)
    missed = [(index, record) for index, record, _ in changes if record.key not in written]
    live = (
        writes.live_projects(session.connection(), {record.project_code for _, record in missed})
        if missed and links
        else None
    )
    for index, record, revision in changes:
        record_id = written.get(record.key)
        if record_id is not None:
            record.id = record_id  # a new record's, or the same
            status: Status = "created" if revision.operation == "created" else "updated"
            results[index] = Outcome(record, status)
        elif live is not None and record.project_code not in live:
            results[index] = _no_such_project(record.project_code)
    for index, record in sorted(missed, key=lambda missed_item: missed_item[1].key):
        if index not in results:
            # a concurrent writer created it first: publish over it the usual way
            results[index] = _one(
                session, identity, record_type, BatchItem(record.key, record.data)
            )
    return results


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def patch(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    patch_document: Any,
    conditions: Preconditions = Preconditions(),
) -> Outcome:
    """Apply a JSON merge patch to the current version of ``(type, key)`` (``record.patch``)."""
    key = normalize_key(key)
    _require_publisher(identity, record_type)
    if not isinstance(patch_document, Mapping):
        raise Unprocessable(
            "A merge patch must be a JSON object.",
            errors={"_schema": ["The body must be a JSON object."]},
        )
    record = writes.lock(session.connection(), record_type.name, key)
    if record is None or record.deleted:
        raise NotFound(f"There is no {record_type.name} '{key}' to patch.")
    _check_preconditions(record, conditions)
    patched = merge_patch(record.data, patch_document)
    entry = _entry(identity, PATCH, record_type, key)
    return _publish(session, identity, record_type, key, patched, Preconditions(), entry)


def tombstone(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    conditions: Preconditions = Preconditions(),
) -> Outcome:
    """Mark ``(type, key)`` deleted with a new version; the record and its history stay."""
    key = normalize_key(key)
    entry = _entry(identity, DELETE, record_type, key)
    return _tombstone(session, identity, record_type, key, conditions, entry)


def _tombstone(
    session: Session,
    identity: Identity,
    record_type: RecordType,
    key: str,
    conditions: Preconditions,
    entry: Entry | None,
) -> Outcome:
    """Tombstone, writing ``entry`` with the change (or alone, if already deleted)."""
    _require_publisher(identity, record_type)
    check_key(key)
    connection = session.connection()
    record = writes.lock(connection, record_type.name, key)
    if record is None:
        raise NotFound(f"There is no {record_type.name} '{key}'.")
    _check_preconditions(record, conditions)
    if record.deleted:
        if entry is not None:
            record_entry(session, entry, 200, version=str(record.version))
        return Outcome(record, "unchanged")
    if record_type.name == "project":
        linked = connection.execute(_LIVE_LINKED_COUNT, {"code": key}).scalar_one()
        if linked:
            raise Conflict(
                f"Project {key} still has {linked} live linked record(s); delete those first."
            )
    record.version += 1
    record.deleted = True
    record.published_by = identity.department_id
    record.updated_at = utcnow()
    revision = writes.Revision(
        "deleted", [], identity.key_id, _audit_values(entry, "deleted", record)
    )
    writes.update_record(connection, record, revision, require_live_project=False)
    mark_log_changed(session)
    return Outcome(record, "updated")


@dataclass(frozen=True)
class ListPosition:
    """Where a listing page ended: the last record's ``(updated_at, id)``."""

    updated_at: datetime
    id: int


def list_records(
    session: Session,
    record_type: RecordType,
    *,
    limit: int,
    after: ListPosition | None = None,
    project_code: str | None = None,
    updated_since: datetime | None = None,
    include_deleted: bool = False,
) -> tuple[list[Record], ListPosition | None]:
    """A page of records in change order, and the position to continue from (or None)."""
    query = (
        select(Record)
        .where(Record.type == record_type.name)
        .order_by(Record.updated_at, Record.id)
        .limit(limit + 1)
    )
    if project_code is not None:
        query = query.where(Record.project_code == project_code)
    if updated_since is not None:
        query = query.where(Record.updated_at >= updated_since)
    if not include_deleted:
        query = query.where(Record.deleted.is_(False))
    if after is not None:
        query = query.where(tuple_(Record.updated_at, Record.id) > (after.updated_at, after.id))
    records = list(session.scalars(query))
    if len(records) <= limit:
        return records, None
    last = records[limit - 1]
    return records[:limit], ListPosition(last.updated_at, last.id)


def history(
    session: Session, record: Record, *, limit: int, before_version: int | None = None
) -> tuple[list[RecordVersion], int | None]:
    """Versions of ``record``, newest first, and the version to continue before (or None)."""
    query = (
        select(RecordVersion)
        .where(RecordVersion.record_id == record.id)
        .order_by(RecordVersion.version.desc())
        .limit(limit + 1)
    )
    if before_version is not None:
        query = query.where(RecordVersion.version < before_version)
    versions = list(session.scalars(query))
    if len(versions) <= limit:
        return versions, None
    return versions[:limit], versions[limit - 1].version


def dossier(session: Session, project_code: str) -> tuple[Record, Sequence[Record]]:
    """A project and every live record linked to it, by type and key."""
    project = session.scalar(
        select(Record).where(Record.type == "project", Record.key == project_code)
    )
    if project is None:
        raise NotFound(f"There is no project {project_code}.")
    linked = session.scalars(
        select(Record)
        .where(
            Record.project_code == project_code,
            Record.type != "project",
            Record.deleted.is_(False),
        )
        .order_by(Record.type, Record.key)
    )
    return project, list(linked)
