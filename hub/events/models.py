"""What is stored about changes: one event per version, numbered in commit order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId


class Event(Base):
    """One committed change. ``sequence`` is given after commit, densely and in commit order."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_type_sequence", "record_type", "sequence"),
        Index("ix_events_project_sequence", "project_code", "sequence"),
        # the numbering round's work list: events committed but not yet numbered
        Index(
            "ix_events_unnumbered",
            "id",
            postgresql_where=text("sequence IS NULL"),
            sqlite_where=text("sequence IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    record_type: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(128))
    project_code: Mapped[str] = mapped_column(String(24))
    operation: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    version_id: Mapped[int] = mapped_column(BigId, ForeignKey("record_versions.id"))
    published_by: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]


class EventCounter(Base):
    """The single row holding the last sequence number given out."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
