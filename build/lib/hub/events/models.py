"""What the change log stores beyond the versions themselves: the sequence counter."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class EventCounter(Base):
    """The single row holding the last sequence number given out."""

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
