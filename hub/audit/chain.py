"""The audit log's hash chain: sealing committed entries into it, and checking it.

Entries are written unsealed (``hub.audit.entries``). Sealing rounds chain committed entries in
the order they are sealed: each entry's hash covers its content and the previous entry's hash,
so altering, removing or inserting a sealed row breaks the chain at that row. A process seals
after its own audited requests (at most every ``AUDIT_SEAL_INTERVAL`` seconds) and in its
housekeeping loop, so entries never wait long for their place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import (
    BigInteger,
    Row,
    String,
    Table,
    bindparam,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry, AuditHead
from hub.core.extensions import db

logger = logging.getLogger(__name__)

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
# On PostgreSQL a round seals its entries in one statement, from one JSON document of seals,
# rather than an UPDATE per entry.
_SEALS = (
    func.jsonb_to_recordset(bindparam("seals", type_=JSONB))
    .table_valued(
        column("entry_id", BigInteger),
        column("seq", BigInteger),
        column("prev_hash", String),
        column("hash", String),
    )
    .render_derived(with_types=True)
)
_AUDIT = cast(Table, AuditEntry.__table__)
_SEAL_ENTRIES = (
    update(_AUDIT)
    .where(_AUDIT.c.id == _SEALS.c.entry_id)
    .values(seq=_SEALS.c.seq, prev_hash=_SEALS.c.prev_hash, hash=_SEALS.c.hash)
)


class ChainKeyMissing(RuntimeError):
    """The chain is keyed (AUDIT_CHAIN_KEY was set when it was sealed) and no key was given."""


def entry_hash(
    entry: Row[Any] | AuditEntry, seq: int, prev_hash: str, key: str | None = None
) -> str:
    """The chain hash of an entry: SHA-256 over its content, its place and the previous hash;
    with ``key``, HMAC-SHA256 (then only a holder of the key can compute it)."""
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
    if key is not None:
        return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chain_key(keyed_from: int | None, key: str | None, seq: int) -> str | None:
    """The key entry ``seq`` is (to be) chained with: none before the chain became keyed."""
    if keyed_from is None or seq < keyed_from:
        return None
    if key is None:
        raise ChainKeyMissing(
            f"the audit chain is keyed from entry {keyed_from}: set AUDIT_CHAIN_KEY"
        )
    return key


def seal(session: Session, limit: int = SEAL_ROUND_SIZE, key: str | None = None) -> int:
    """One sealing round: chain the committed unsealed entries; return how many were sealed.

    The head row's lock serialises rounds (a round finding it locked skips: another process
    is sealing), and a round sees only committed entries, so the chain is built in the order
    entries are sealed and no two rounds interleave. The caller commits right after.

    With ``key`` (AUDIT_CHAIN_KEY) the chain is keyed from the next entry on, and stays keyed:
    a round without the key then refuses (:class:`ChainKeyMissing`) rather than weaken it.
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
    if key is not None and head.keyed_from_seq is None:
        head.keyed_from_seq = seq + 1
    sealed = []
    for entry in entries:
        seq += 1
        digest = entry_hash(entry, seq, prev_hash, _chain_key(head.keyed_from_seq, key, seq))
        sealed.append({"entry_id": entry.id, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_SEAL_ENTRIES, {"seals": sealed})
    else:
        connection.execute(_SEAL_ENTRY, sealed)
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
    keyed_from_seq: int | None = None
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


def verify(
    session: Session,
    progress: Callable[[int], None] | None = None,
    anchor: tuple[int, str] | None = None,
    key: str | None = None,
) -> ChainReport:
    """Walk the sealed entries in chain order and check every link and hash; read-only.

    Catches an altered row (its hash no longer matches), a removed row (a gap in ``seq``, or
    a head ahead of the last row) and an inserted one (a link that does not match). An
    ``anchor`` (a position and hash noted down earlier, outside the database) must still be
    in the chain: someone who rewrites the whole table and recomputes every hash cannot keep
    an anchor held elsewhere. A keyed chain's entries are checked with ``key``.
    """
    begin_snapshot(session)
    head_seq, head_hash = head(session)
    keyed_from = session.scalar(select(AuditHead.keyed_from_seq).where(AuditHead.id == HEAD_ID))
    unsealed = session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0
    expected_seq, prev_hash = 0, GENESIS_HASH

    def broken(entry: AuditEntry | None, problem: str) -> ChainReport:
        return ChainReport(
            sealed=expected_seq,
            unsealed=unsealed,
            head_seq=head_seq,
            head_hash=head_hash,
            keyed_from_seq=keyed_from,
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
            try:
                entry_key = _chain_key(keyed_from, key, entry.seq)
            except ChainKeyMissing as exc:
                return broken(entry, str(exc))
            if entry.hash != entry_hash(entry, entry.seq, prev_hash, entry_key):
                return broken(entry, "its content does not match its hash")
            if anchor is not None and entry.seq == anchor[0] and entry.hash != anchor[1]:
                return broken(entry, f"its hash is not the anchored {anchor[1]}")
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
    if anchor is not None and anchor[0] > expected_seq:
        return broken(
            None, f"the chain ends at entry {expected_seq}, before the anchored entry {anchor[0]}"
        )
    return ChainReport(
        sealed=expected_seq,
        unsealed=unsealed,
        head_seq=head_seq,
        head_hash=head_hash,
        keyed_from_seq=keyed_from,
    )


def configured_key() -> str | None:
    """The key this hub chains (and verifies) with: AUDIT_CHAIN_KEY, or None for plain hashes."""
    return current_app.config["AUDIT_CHAIN_KEY"] or None


def seal_if_due() -> None:
    """Run a sealing round if this process has not run one for ``AUDIT_SEAL_INTERVAL``.

    A failed round leaves the entries unsealed for the next one; the caller goes on.
    """
    state: dict[str, float] = current_app.extensions["hub.audit"]
    now = time.monotonic()
    if now - state["last_sealed"] < current_app.config["AUDIT_SEAL_INTERVAL"]:
        return
    state["last_sealed"] = now
    try:
        with db.separate_unit_of_work() as session:
            seal(session, key=configured_key())
    except SQLAlchemyError:
        logger.warning("Audit sealing round failed; the next one will retry", exc_info=True)
    except ChainKeyMissing as exc:
        logger.error("Audit entries are not sealed: %s", exc)


def init_app(app: Flask) -> None:
    """Prepare the per-process sealing clock."""
    app.extensions["hub.audit"] = {"last_sealed": float("-inf")}
