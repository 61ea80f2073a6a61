"""What is stored about audited actions: the entries and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId


class AuditEntry(Base):
    """One audited action.

    Entries are written unsealed (``seq`` NULL) in the transaction of the action they record,
    so they commit or vanish with it; a sealing round then gives committed entries their place
    in the chain (``seq``, ``prev_hash``, ``hash``) in commit order, as event numbering does.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(
            "ix_audit_log_seq",
            "seq",
            unique=True,
            postgresql_where=text("seq IS NOT NULL"),
            sqlite_where=text("seq IS NOT NULL"),
        ),
        # the sealing round's work list
        Index(
            "ix_audit_log_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        Index("ix_audit_log_department", "department_id", "id"),
        Index("ix_audit_log_action", "action", "id"),
        Index("ix_audit_log_target", "target", "id"),
        Index("ix_audit_log_at", "at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    # who: the department and key behind the request, or the operator of a CLI command
    department_id: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[int]
    details: Mapped[dict[str, Any]]
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the chain's last sealed entry; sealing rounds lock it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    # entries from this position on are chained with AUDIT_CHAIN_KEY (HMAC), not plain SHA-256
    keyed_from_seq: Mapped[int | None] = mapped_column(BigInteger)
