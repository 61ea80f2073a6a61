"""What is stored about records: the current state of each, and every version ever written."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId


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
    """One immutable version of a record, written by one change; also its change-log entry.

    ``sequence`` is the version's place in the change feed, given after commit by a numbering
    round (see ``hub.events.log``); type, key and project code are copied from the record
    so the feed can filter and render without a join.
    """

    __tablename__ = "record_versions"
    # The feed's indexes cover numbered versions only, so a write updates none of them: a
    # version enters them once, when it is numbered.
    __table_args__ = (
        UniqueConstraint("record_id", "version"),
        Index(
            "ix_record_versions_sequence",
            "sequence",
            unique=True,
            postgresql_where=text("sequence IS NOT NULL"),
            sqlite_where=text("sequence IS NOT NULL"),
        ),
        Index(
            "ix_record_versions_type_sequence",
            "record_type",
            "sequence",
            postgresql_where=text("sequence IS NOT NULL"),
            sqlite_where=text("sequence IS NOT NULL"),
        ),
        Index(
            "ix_record_versions_project_sequence",
            "project_code",
            "sequence",
            postgresql_where=text("sequence IS NOT NULL"),
            sqlite_where=text("sequence IS NOT NULL"),
        ),
        # a project's records as they stood at a moment, and when any last changed
        # (hub.supervision.facts): versions by project and time, with their record
        Index("ix_record_versions_project_created", "project_code", "created_at", "record_id"),
        # the numbering round's work list: versions committed but not yet numbered
        Index(
            "ix_record_versions_unnumbered",
            "id",
            postgresql_where=text("sequence IS NULL"),
            sqlite_where=text("sequence IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    record_type: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(128))
    project_code: Mapped[str] = mapped_column(String(24))
    version: Mapped[int]
    operation: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
    changed_fields: Mapped[list[str]]
    deleted: Mapped[bool]
    published_by: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sequence: Mapped[int | None] = mapped_column(BigInteger)


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


@dataclass
class RecordState:
    """The current version of a record as the write path holds it (a locked ``records`` row).

    A plain value rather than a ``Record``: the write path reads rows through Core and builds
    a few hundred of these per batch, and an ORM instance costs thirty times as much to make.
    Its fields are the table's columns, in order (checked below), so rows and parameters map
    onto it by name.
    """

    id: int
    type: str
    key: str
    project_code: str
    version: int
    data: dict[str, Any]
    published_by: str
    created_at: datetime
    updated_at: datetime
    deleted: bool


assert [field.name for field in fields(RecordState)] == [
    column.name for column in Record.__table__.columns
], "RecordState holds exactly the columns of records"
