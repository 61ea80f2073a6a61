"""Writing audit entries, sealing them into the hash chain, and checking the chain.

An entry is inserted unsealed in the unit of work of the action it records, so the record of
an action commits exactly when the action does. Sealing rounds then chain committed entries in
the order they are sealed: each entry's hash covers its content and the previous entry's hash,
so altering, removing or inserting a sealed row breaks the chain at that row.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry, AuditHead
from hub.db import utcnow
from hub.pagination import newest_first

_INSERT_ENTRY = insert(AuditEntry)


def cli_actor() -> str:
    """Who runs a CLI command: the operating-system user and host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid, e.g. in a bare container
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def entry_values(
    *,
    action: str,
    target: str,
    outcome: int,
    actor: str,
    department_id: str | None = None,
    key_id: str | None = None,
    remote_addr: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of a new, unsealed entry, cut to fit and escaped to store anywhere.

    ``outcome`` is an HTTP status code: what the action came to (2xx done, 4xx refused).
    """
    return {
        "at": utcnow(),
        "department_id": department_id,
        "key_id": key_id,
        "actor": actor[:200],
        "action": action[:64],
        "target": _storable(target)[:300],
        "remote_addr": remote_addr[:64] if remote_addr else None,
        "outcome": outcome,
        "details": _storable(dict(details or {})),
    }


def record(session: Session, **entry: Any) -> None:
    """Add an unsealed entry (see :func:`entry_values`) in ``session``'s unit of work."""
    session.connection().execute(_INSERT_ENTRY, entry_values(**entry))


@dataclass
class ChangeEntry:
    """The audit entry of one record change, for the change's own write to insert.

    On PostgreSQL the records' write statement inserts the entry too, so auditing a publish
    costs no statement of its own (see ``hub.records.writes``). ``entry`` is everything but
    the outcome and the version written; ``written_outcome`` says whether, and as what, the
    entry went in with a write.
    """

    entry: dict[str, Any]
    written_outcome: int | None = None

    @staticmethod
    def outcome(created: bool) -> int:
        """The HTTP status a write answers with: 201 when it created the record."""
        return 201 if created else 200

    def values(self, created: bool, version: int) -> dict[str, Any]:
        """The entry's column values for a write that creates (or not) ``version``."""
        details = {**self.entry.get("details", {}), "version": str(version)}
        return entry_values(**{**self.entry, "outcome": self.outcome(created), "details": details})

    def mark_written(self, created: bool) -> None:
        """Note that a write inserted the entry."""
        self.written_outcome = self.outcome(created)


def _storable(value: Any) -> Any:
    """``value`` with text every database stores: NUL and lone surrogates escaped.

    Details quote what clients sent (keys, error messages naming values), and PostgreSQL's
    JSON refuses NUL; an entry must never fail for what it quotes.
    """
    if isinstance(value, str):
        if "\x00" in value or not value.isprintable():
            value = value.replace("\x00", "\\u0000")
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


GENESIS_HASH = "0" * 64
HEAD_ID = 1
SEAL_ROUND_SIZE = 2000
VERIFY_CHUNK = 2000
_CHAINED_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.department_id,
    AuditEntry.key_id,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.remote_addr,
    AuditEntry.outcome,
    AuditEntry.details,
)
_UNSEALED = select(*_CHAINED_COLUMNS).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id)
_SEAL_ENTRY = (
    update(AuditEntry)
    .where(AuditEntry.id == bindparam("entry_id"))
    .values(seq=bindparam("seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash"))
    .execution_options(synchronize_session=False)
)


def entry_hash(entry: Row[Any] | AuditEntry, seq: int, prev_hash: str) -> str:
    """The chain hash of an entry: SHA-256 over its content, its place and the previous hash."""
    content = {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "department_id": entry.department_id,
        "key_id": entry.key_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "remote_addr": entry.remote_addr,
        "outcome": entry.outcome,
        "details": entry.details,
        "seq": seq,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(session: Session, limit: int = SEAL_ROUND_SIZE) -> int:
    """One sealing round: chain the committed unsealed entries; return how many were sealed.

    The head row's lock serialises rounds (a round finding it locked skips: another process
    is sealing), and a round sees only committed entries, so the chain is built in the order
    entries are sealed and no two rounds interleave. The caller commits right after.
    """
    head = session.scalar(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update(skip_locked=True)
    )
    if head is None:
        return 0
    entries = session.execute(_UNSEALED.limit(limit)).all()
    if not entries:
        return 0
    seq, prev_hash = head.last_seq, head.last_hash
    sealed = []
    for entry in entries:
        seq += 1
        digest = entry_hash(entry, seq, prev_hash)
        sealed.append({"entry_id": entry.id, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.connection().execute(_SEAL_ENTRY, sealed)
    head.last_seq, head.last_hash = seq, prev_hash
    session.flush()
    return len(sealed)


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the chain found: how far it is intact and, if not, where it breaks."""

    sealed: int
    unsealed: int
    head_seq: int
    head_hash: str
    broken_at_seq: int | None = None
    broken_entry_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """Whether every sealed entry and the head are as they were sealed."""
        return self.problem is None


def begin_snapshot(session: Session) -> None:
    """Make ``session``'s next transaction read one snapshot throughout (before it begins).

    A walk of the chain needs it, or a round sealing meanwhile would look like rows added
    behind the head's back. An SQLite read transaction is a snapshot already.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def head(session: Session) -> tuple[int, str]:
    """The chain's last sealed position and hash."""
    row = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == HEAD_ID)
    ).one()
    return row.last_seq, row.last_hash


def verify(session: Session, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the sealed entries in chain order and check every link and hash; read-only.

    Catches an altered row (its hash no longer matches), a removed row (a gap in ``seq``, or
    a head ahead of the last row) and an inserted one (a link that does not match).
    """
    begin_snapshot(session)
    head_seq, head_hash = head(session)
    unsealed = session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0
    expected_seq, prev_hash = 0, GENESIS_HASH

    def broken(entry: AuditEntry | None, problem: str) -> ChainReport:
        return ChainReport(
            sealed=expected_seq,
            unsealed=unsealed,
            head_seq=head_seq,
            head_hash=head_hash,
            broken_at_seq=entry.seq if entry is not None else expected_seq + 1,
            broken_entry_id=entry.id if entry is not None else None,
            problem=problem,
        )

    query = select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
    last_seq = 0
    while True:
        chunk = session.scalars(query.where(AuditEntry.seq > last_seq).limit(VERIFY_CHUNK)).all()
        for entry in chunk:
            assert entry.seq is not None
            if entry.seq != expected_seq + 1:
                return broken(entry, f"entries {expected_seq + 1}..{entry.seq - 1} are missing")
            if entry.prev_hash != prev_hash:
                return broken(entry, "it does not link to the entry before it")
            if entry.hash != entry_hash(entry, entry.seq, prev_hash):
                return broken(entry, "its content does not match its hash")
            expected_seq, prev_hash = entry.seq, entry.hash
        if progress is not None:
            progress(len(chunk))
        if len(chunk) < VERIFY_CHUNK:
            break
        last_seq = expected_seq
        session.expunge_all()
    if (head_seq, head_hash) != (expected_seq, prev_hash):
        return broken(
            None, f"the head names entry {head_seq} but the chain ends at entry {expected_seq}"
        )
    return ChainReport(
        sealed=expected_seq, unsealed=unsealed, head_seq=head_seq, head_hash=head_hash
    )


@dataclass(frozen=True)
class AuditFilter:
    """What to narrow the audit log to; None means any."""

    department_id: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(
    session: Session, where: AuditFilter, limit: int, before_id: int | None = None
) -> tuple[list[AuditEntry], int | None]:
    """Entries matching ``where``, newest first, and the id to continue before (or None)."""
    query = select(AuditEntry)
    if where.department_id is not None:
        query = query.where(AuditEntry.department_id == where.department_id)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.target is not None:
        query = query.where(AuditEntry.target == where.target)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    return newest_first(session, query, AuditEntry.id, limit, before_id)
