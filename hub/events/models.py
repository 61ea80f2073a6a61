"""What the change log stores beyond the versions themselves: the sequence counter."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class EventCounter(Base):
    """The single row holding the last sequence number given out, and the feed's horizon.

    ``retained_after``: the feed serves events after this sequence; a cursor behind it was
    compacted away (410 Gone). Versions themselves are never deleted (they are the records'
    history); compaction moves the horizon and clears what only deliveries needed.
    """

    __tablename__ = "event_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    retained_after: Mapped[int] = mapped_column(BigInteger, default=0)
