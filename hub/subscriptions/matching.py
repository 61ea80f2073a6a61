"""Which events a subscription receives: its types and filter, read through the change log.

``types`` and ``project_code`` are answered by the feed's indexes. ``admin_division`` and
``category`` are a project's fields: a project's own events are judged by the version itself,
the events of records linked to a project by the project's current state (one query per page
for all the projects a page names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.events import feed, log
from hub.records.models import Record

# Events looked at per query while skipping those a subscription does not want.
SCAN_PAGE = 500
PROJECT_FIELDS = ("admin_division", "category")


@dataclass(frozen=True)
class EventFilter:
    """A subscription's choice of events."""

    types: tuple[str, ...] = ()
    project_code: str | None = None
    admin_division: str | None = None
    category: str | None = None

    @classmethod
    def of(cls, types: Sequence[str], filter_: Mapping[str, Any]) -> EventFilter:
        """The filter stored with a subscription."""
        return cls(
            types=tuple(types),
            project_code=filter_.get("project_code"),
            admin_division=filter_.get("admin_division"),
            category=filter_.get("category"),
        )

    @property
    def by_project_fields(self) -> dict[str, str]:
        """The project fields events must match, by name."""
        wanted = {"admin_division": self.admin_division, "category": self.category}
        return {name: value for name, value in wanted.items() if value is not None}


def _project_fields(session: Session, codes: set[str]) -> dict[str, Mapping[str, Any]]:
    if not codes:
        return {}
    rows = session.execute(
        select(Record.key, Record.data).where(Record.type == "project", Record.key.in_(codes))
    )
    return {row.key: row.data for row in rows}


def _matches(
    version: feed.LoggedChange,
    wanted: Mapping[str, str],
    projects: Mapping[str, Mapping[str, Any]],
) -> bool:
    source = (
        version.data if version.record_type == "project" else projects.get(version.project_code)
    )
    if source is None:
        return False
    return all(source.get(name) == value for name, value in wanted.items())


def read_matching(
    session: Session,
    after: int,
    limit: int,
    event_filter: EventFilter,
    *,
    scan_limit: int = 10 * SCAN_PAGE,
) -> feed.FeedPage:
    """Up to ``limit`` events after ``after`` that ``event_filter`` accepts, in order.

    ``next_after`` is where the next read should start: past every event looked at, so events
    that did not match are not looked at again. At most ``scan_limit`` events are looked at.
    """
    head = log.head_sequence(session)
    found: list[feed.LoggedChange] = []
    position, scanned = after, 0
    wanted = event_filter.by_project_fields
    while len(found) < limit and position < head and scanned < scan_limit:
        page = feed.read_range(
            session,
            position,
            head,
            SCAN_PAGE if wanted else limit - len(found),
            types=event_filter.types,
            project_code=event_filter.project_code,
        )
        if not page.events:
            position = page.next_after
            break
        scanned += len(page.events)
        projects: dict[str, Mapping[str, Any]] = {}
        if wanted:
            codes = {v.project_code for v in page.events if v.record_type != "project"}
            projects = _project_fields(session, codes)
        for version in page.events:
            position = version.sequence or position
            if not wanted or _matches(version, wanted, projects):
                found.append(version)
                if len(found) == limit:
                    break
        else:
            position = page.next_after
    return feed.FeedPage(events=found, next_after=position)
