"""What is stored about the people who sign in to the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId, utcnow


class User(Base):
    """A person: a department's officer, an administrator, the leading group's office, a viewer.

    A password is stored only as its argon2 hash. A new or reset account may instead hold an
    invitation: the digest of a one-time token that lets its holder set a password until
    ``invite_expires_at``. A person signed in through the city's single sign-on is matched on
    ``oidc_subject`` and may have no password at all.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    invite_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None]
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_signed_in_at: Mapped[datetime | None]
    # console sessions that began before this moment are over (signed out, disabled, reset)
    sessions_valid_after: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
