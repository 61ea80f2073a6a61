"""What is stored about grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId


class Grant(Base):
    """One department's request to see another's conditional fields of a type, and its fate.

    ``status`` is what was decided: pending, approved, refused or revoked. An approved grant
    past ``expires_at`` is expired without anyone writing it down, so expiry needs no job.
    """

    __tablename__ = "grants"
    __table_args__ = (
        # a reader's active grants, looked up on reads
        Index("ix_grants_applicant", "applicant_id", "status", "record_type"),
        Index("ix_grants_owner", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    record_type: Mapped[str] = mapped_column(String(64))
    # the conditional fields asked for; empty means all of the type's conditional fields
    fields: Mapped[list[str]]
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(32))
    respond_by: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(32))
