"""What is stored about departments and their access keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.db import Base, utcnow


class Department(Base):
    """A department of the city: publishes the record types an administrator allowed it."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    publishes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class AccessKey(Base):
    """A department's long-lived credential, exchanged for short-lived tokens.

    Only a SHA-256 digest of the secret is stored: the secret is 256 random bits, so a slow
    password hash would add latency to every token exchange and no security.
    """

    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]]
    secret_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Rotation: tokens carry the generation they were issued under. The secret (and tokens)
    # of the generation before keep working until ``previous_valid_until``.
    generation: Mapped[int] = mapped_column(default=1)
    previous_digest: Mapped[str | None] = mapped_column(String(64))
    previous_valid_until: Mapped[datetime | None]
    rotated_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
