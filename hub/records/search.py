"""Finding projects: by code or name, narrowed by division, leader, stage and category.

The fields searched live inside each project's stored document, so the conditions use
SQLAlchemy's JSON element access (``data ->> 'name'`` on PostgreSQL, ``JSON_EXTRACT`` on
SQLite): one query on both. Every field searched is ``open``, so a search never tells a
reader anything the sharing rules would withhold. Pages are keysets on ``(updated_at, id)``,
as :func:`hub.records.service.list_records`, newest change first.
"""

from __future__ import annotations

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from hub.records.models import Record
from hub.records.service import ListPosition

PROJECT = "project"
_NAME = Record.data["name"].as_string()
_DIVISION = Record.data["admin_division"].as_string()
_LEADER = Record.data[("responsible_leader", "name")].as_string()
# the fields filtered by equality
_EXACT = {
    "stage": Record.data["stage"].as_string(),
    "category": Record.data["category"].as_string(),
}


def search_projects(
    session: Session,
    *,
    text: str | None = None,
    admin_division: str | None = None,
    leader: str | None = None,
    stage: str | None = None,
    category: str | None = None,
    limit: int,
    after: ListPosition | None = None,
) -> tuple[list[Record], ListPosition | None]:
    """A page of live projects, most recently changed first, and the position to continue
    from (or None).

    ``text`` matches a project code that starts with it or a name that contains it (case
    aside); ``admin_division`` a division code that starts with it (``3301`` finds every
    district of 330100); ``leader`` a responsible leader's name that contains it; ``stage``
    and ``category`` exactly.
    """
    query = (
        select(Record)
        .where(Record.type == PROJECT, Record.deleted.is_(False))
        .order_by(Record.updated_at.desc(), Record.id.desc())
        .limit(limit + 1)
    )
    if text:
        query = query.where(
            or_(
                Record.key.startswith(text.upper(), autoescape=True),
                _NAME.icontains(text, autoescape=True),
            )
        )
    if admin_division:
        query = query.where(_DIVISION.startswith(admin_division, autoescape=True))
    if leader:
        query = query.where(_LEADER.icontains(leader, autoescape=True))
    for name, wanted in (("stage", stage), ("category", category)):
        if wanted:
            query = query.where(_EXACT[name] == wanted)
    # The supervision status (green / yellow / red) filter joins here with the supervision
    # work, from the signals it computes.
    if after is not None:
        query = query.where(tuple_(Record.updated_at, Record.id) < (after.updated_at, after.id))
    records = list(session.scalars(query))
    if len(records) <= limit:
        return records, None
    last = records[limit - 1]
    return records[:limit], ListPosition(last.updated_at, last.id)
