"""What is stored about connectors and the sync runs they report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId

# a run without details stores SQL NULL, not the JSON document null
OPTIONAL_DOCUMENT = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Connector(Base):
    """A connector, known from its first run report, and the department it reports for.

    The department that first reports under a name owns it; no other may report under it.
    """

    __tablename__ = "connectors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    first_reported_at: Mapped[datetime]
    last_reported_at: Mapped[datetime]


class ConnectorRun(Base):
    """One sync run of a connector, as last reported.

    ``run_id`` is the connector's own (a UUID): a report naming a run already known replaces
    what was stored about it, so a run is reported when it starts and again when it ends.
    ``id`` orders the runs of a connector: newest first is the run the hub heard of last.
    """

    __tablename__ = "connector_runs"
    __table_args__ = (
        UniqueConstraint("connector", "run_id"),
        # a connector's latest runs, newest first
        Index("ix_connector_runs_latest", "connector", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(ForeignKey("connectors.name"))
    run_id: Mapped[str] = mapped_column(String(36))
    # running, succeeded or failed
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    read: Mapped[int] = mapped_column(BigInteger)
    published: Mapped[int] = mapped_column(BigInteger)
    unchanged: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_DOCUMENT)
    reported_at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(32))
