"""What is stored about subscriptions and their delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base, BigId


class Subscription(Base):
    """A department's standing interest in changes, and how far it has got.

    ``cursor`` is the sequence of the last event the subscriber confirmed: acknowledged (pull)
    or answered with 2xx (webhook). Everything after it is still owed, so nothing is dropped
    whatever the status. A webhook subscription is worked by one dispatcher at a time, the one
    holding its lease (``lease_owner`` until ``lease_until``).
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_department", "department_id", "id"),
        # the dispatcher's work list: active webhooks whose next attempt is due
        Index(
            "ix_subscriptions_due",
            "next_attempt_at",
            postgresql_where=text("kind = 'webhook' AND status = 'active'"),
            sqlite_where=text("kind = 'webhook' AND status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    created_by: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    types: Mapped[list[str]]
    filter: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[int] = mapped_column(BigInteger)
    endpoint_url: Mapped[str | None] = mapped_column(Text)
    # The signing secret has to be usable to sign, so it is stored encrypted with a key
    # derived from SECRET_KEY (hub.subscriptions.secrets); the previous one still signs
    # (beside the new) until ``previous_secret_until`` after a rotation.
    secret: Mapped[str | None] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None]
    # failed attempts at the event after ``cursor``, and when the next one is due
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One attempt to deliver one event to a webhook subscription."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_subscription", "subscription_id", "id"),
        Index("ix_deliveries_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    # a key in Chinese is percent-encoded in the id: up to nine characters each
    event_id: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int]
    at: Mapped[datetime]
    # delivered, failed (retried later), gone (the endpoint answered 410) or exhausted
    outcome: Mapped[str] = mapped_column(String(16))
    response_code: Mapped[int | None]
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
