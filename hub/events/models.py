"""What is stored about changes: one event per committed version, in commit order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId


class Event(Base):
    """One committed change. ``sequence`` is dense and in commit order (see the service)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_type_sequence", "record_type", "sequence"),
        Index("ix_events_project_sequence", "project_code", "sequence"),
    )

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    record_type: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(128))
    project_code: Mapped[str] = mapped_column(String(24))
    operation: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    version_id: Mapped[int] = mapped_column(BigId, ForeignKey("record_versions.id"))
    changed_fields: Mapped[list[str]]
    published_by: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]


class EventCounter(Base):
    """The single row holding the last assigned sequence number."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
