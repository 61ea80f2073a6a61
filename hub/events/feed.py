"""The feed: pages of the numbered change log, filtered, each record cut for its reader.

A page is read up to the head the caller read first (see ``hub.events.log``). With a reader,
each version's data comes out of the database as JSON text less the fields that reader may
not see, so most events can go out without being parsed (``hub.events.render``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, Text, bindparam, case, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from hub.core.errors import Unprocessable
from hub.events.log import check_retained, log_bounds
from hub.records.models import RecordVersion
from hub.sharing.policy import ReaderView
from schemas import registry

# A logged change as the feed reads it: a row of record_versions (plain rows, not ORM
# objects: building objects for a thousand-event page costs more than the query).
LoggedChange = Row[Any]
_VERSIONS = cast(Table, RecordVersion.__table__)
# What a CloudEvent is made of, in the order every feed statement selects it first: a page
# of events is rendered from row positions, a name lookup per field and row costing more
# than the rest of the rendering.
_EVENT_FIELDS = (
    "record_type",
    "record_key",
    "project_code",
    "version",
    "operation",
    "deleted",
    "published_by",
    "created_at",
    "sequence",
)
EVENT_WIDTH = len(_EVENT_FIELDS)
_FEED_COLUMNS = [_VERSIONS.c[name] for name in (*_EVENT_FIELDS, "changed_fields", "data")]


@dataclass(frozen=True)
class FeedPage:
    """Changes after a cursor, and the cursor to resume from."""

    events: Sequence[LoggedChange]
    next_after: int


def read_feed(
    session: Session,
    after: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
    *,
    shared_with: ReaderView | None = None,
) -> FeedPage:
    """Changes with ``sequence > after`` in order, at most ``limit``, optionally filtered.

    Raises :class:`Gone` when ``after`` is behind the retained log, and 422 when it is beyond
    its head (no page ever gave such a cursor). See :func:`read_range` for ``shared_with``.
    """
    bounds = log_bounds(session)
    check_retained(bounds, after)
    if after > bounds.head:
        raise Unprocessable(
            f"The cursor {after} is beyond the log, which ends at {bounds.head}.",
            errors={"after": [f"Must be at most {bounds.head}, the last event's sequence."]},
        )
    return read_range(
        session, after, bounds.head, limit, types, project_code, shared_with=shared_with
    )


def _without(data: Any, names: Sequence[str], dialect: str) -> Any:
    """SQL for the JSON document ``data`` without the keys ``names``."""
    if dialect == "postgresql":
        return data.op("-")(postgresql.array(names, type_=Text))
    return func.json_remove(data, *[f'$."{name}"' for name in names])


def _shared_data(withheld_by_type: Mapping[str, Sequence[str]], dialect: str, page: Any) -> Any:
    """SQL for a version's data as JSON text, less the fields the reader may not see."""
    data = page.data
    cases = [
        (page.record_type == name, _without(data, withheld, dialect))
        for name, withheld in withheld_by_type.items()
        if withheld
    ]
    projected = case(*cases, else_=data) if cases else data
    return sql_cast(projected, Text).label("shared_data")


def read_range(
    session: Session,
    after: int,
    head: int,
    limit: int,
    types: Sequence[str] = (),
    project_code: str | None = None,
    *,
    shared_with: ReaderView | None = None,
) -> FeedPage:
    """Changes with ``after < sequence <= head`` in order, at most ``limit``, filtered.

    With ``shared_with``, each change carries ``shared_data`` instead of ``data``: the JSON
    text of what that reader may see, cut in the database, for :func:`feed_events`; its
    ``changed_fields`` is JSON text too. Either way a row starts with the ``_EVENT_FIELDS``.
    """
    if after >= head:
        return FeedPage(events=[], next_after=after)
    withheld = None
    if shared_with is not None:
        withheld = tuple(
            (name, tuple(shared_with.withheld_fields(record_type)))
            for name, record_type in registry().items()
        )
    statement = _page_statement(
        session.get_bind().dialect.name, bool(types), bool(project_code), withheld
    )
    params: dict[str, Any] = {"after": after, "head": head, "limit": limit}
    if types:
        params["types"] = list(types)
    if project_code:
        params["project_code"] = project_code
    versions = session.connection().execute(statement, params).all()
    last_read = versions[-1].sequence if len(versions) == limit else None
    return FeedPage(events=versions, next_after=last_read if last_read is not None else head)


@functools.lru_cache(maxsize=512)
def _page_statement(
    dialect: str,
    by_types: bool,
    by_project: bool,
    withheld: tuple[tuple[str, tuple[str, ...]], ...] | None,
) -> Any:
    """The statement reading one page, built once per shape: building it (a CASE per record
    type) for every page cost more than running it."""
    query = (
        select(*_FEED_COLUMNS)
        .where(
            RecordVersion.sequence > bindparam("after"),
            RecordVersion.sequence <= bindparam("head"),
        )
        .order_by(RecordVersion.sequence)
        .limit(bindparam("limit"))
    )
    if by_types:
        query = query.where(RecordVersion.record_type.in_(bindparam("types", expanding=True)))
    if by_project:
        query = query.where(RecordVersion.project_code == bindparam("project_code"))
    if withheld is None:
        return query
    # The projection sits outside the page's LIMIT so the database computes it for the page's
    # rows only: with it in the same query, a plan that sorts (stale statistics after a bulk
    # load pick one) computes it for every row in range before the LIMIT.
    page = query.subquery("page")
    # the same columns in the same order; JSON as text, to go out embedded as it is
    columns: list[Any] = [page.c[name] for name in _EVENT_FIELDS]
    columns.append(sql_cast(page.c.changed_fields, Text).label("changed_fields"))
    columns.append(_shared_data(dict(withheld), dialect, page.c))
    return select(*columns).order_by(page.c.sequence)
