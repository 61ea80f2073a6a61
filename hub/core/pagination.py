"""Keyset pagination in SQL: one page of a query by descending id, without OFFSET."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
# the largest id a BIGINT column holds
MAX_ID = 2**63 - 1


def newest_first(
    session: Session,
    query: Select[T],
    id_column: InstrumentedAttribute[int],
    limit: int,
    before: int | None,
) -> tuple[list[T], int | None]:
    """One page of ``query``'s rows by descending id, and the id the next page starts before."""
    if before is not None:
        query = query.where(id_column < before)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    next_before: int = getattr(rows[limit - 1], id_column.key)
    return rows[:limit], next_before
