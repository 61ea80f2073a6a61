"""What is stored about records: the current state of each, and every version ever written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId


class Record(Base):
    """The current version of one ``(type, key)``; tombstoned records stay, ``deleted`` set."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("type", "key"),
        # list by type in change order, and by project for dossiers and filters
        Index("ix_records_type_updated", "type", "updated_at", "id"),
        Index("ix_records_project", "project_code", "type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    project_code: Mapped[str] = mapped_column(String(24))
    version: Mapped[int]
    data: Mapped[dict[str, Any]]
    published_by: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted: Mapped[bool] = mapped_column(default=False)


class RecordVersion(Base):
    """One immutable version of a record, written by one change."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    version: Mapped[int]
    operation: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
    changed_fields: Mapped[list[str]]
    deleted: Mapped[bool]
    published_by: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class IdempotentRequest(Base):
    """The first response to a write sent with an ``Idempotency-Key``, replayed on repeats.

    A row is claimed before the write runs, so a concurrent repeat waits on the unique index
    rather than writing twice; it is filled in with the response in the same transaction.
    """

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("department_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None]
    response_headers: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
