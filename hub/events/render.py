"""Rendering changes as CloudEvents 1.0 (structured JSON), each record as its reader sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

import orjson

from hub.core.calendar import work_calendar
from hub.core.db import load_stored_json
from hub.events.feed import EVENT_WIDTH, LoggedChange
from hub.sharing.policy import ReaderView
from schemas import registry
from schemas.workdays import WorkCalendar


def event_id(record_type: str, key: str, version: int) -> str:
    """The CloudEvent id of a change: its record and version, unique and the same on every
    delivery, so consumers can de-duplicate by it. A key outside ASCII is percent-encoded, as
    in URLs: the id also travels as the ``webhook-id`` header."""
    return f"{record_type}/{quote(key, safe=':')}/{version}"


def cloud_event(
    version: LoggedChange,
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
    calendar: WorkCalendar | None = None,
) -> dict[str, Any]:
    """Render one change as a structured CloudEvent 1.0, its record filtered for ``reader``;
    working days are counted in ``calendar`` (the app's by default)."""
    record_type = registry()[version.record_type]
    guessed: set[int] = set()
    if record_type.compute is not None:
        calendar = calendar or work_calendar()
        shown = record_type.present(version.data, today, calendar, unknown_years=guessed)
    else:
        shown = version.data
    record, withheld = reader.visible(record_type, version.record_key, shown)
    changed = reader.visible_names(record_type, version.changed_fields)
    event = _envelope(version, record, withheld, changed, settings)
    if guessed:
        event["data"]["calendar_warnings"] = WorkCalendar.warnings(guessed, today)
    return event


def feed_events(
    versions: Sequence[LoggedChange],
    reader: ReaderView,
    settings: Mapping[str, Any],
    today: date,
    calendar: WorkCalendar | None = None,
) -> list[dict[str, Any]]:
    """Render changes read with ``shared_with=reader`` as CloudEvents for that reader.

    A record the reader sees in full as stored (no computed fields, and none of its protected
    fields shown, so nothing to audit) goes out as the database's JSON text, embedded
    unparsed: a feed page is mostly such records, and parsing and re-encoding them was most
    of its cost. Any other record is parsed, completed (working days counted in ``calendar``,
    the app's by default) and filtered as :func:`cloud_event` does.
    """
    types = registry()
    # per record type: the fields withheld from this reader, and whether the stored text will do
    views: dict[str, tuple[list[str], bool]] = {}
    rendered = []
    rows: Sequence[Sequence[Any]] = versions
    for version in rows:
        type_name, key = version[0], version[1]
        record_type = types[type_name]
        if type_name not in views:
            withheld = reader.withheld_fields(record_type)
            whole = record_type.compute is None and record_type.protected_fields <= set(withheld)
            views[type_name] = (withheld, whole)
        withheld, as_stored = views[type_name]
        changed_fields, shared_data = version[EVENT_WIDTH], version[EVENT_WIDTH + 1]
        guessed: set[int] = set()
        if as_stored:
            record: Any = orjson.Fragment(shared_data)
        else:
            if calendar is None and record_type.compute is not None:
                calendar = work_calendar()
            shared = record_type.present(
                load_stored_json(shared_data), today, calendar, unknown_years=guessed
            )
            record, withheld = reader.visible(record_type, key, shared)
        # the stored list as it is, unless it may name a field withheld from this reader
        changed = (
            reader.visible_names(record_type, load_stored_json(changed_fields))
            if withheld
            else orjson.Fragment(changed_fields)
        )
        event = _envelope(version, record, withheld, changed, settings)
        if guessed:
            event["data"]["calendar_warnings"] = WorkCalendar.warnings(guessed, today)
        rendered.append(event)
    return rendered


def _envelope(
    version: Sequence[Any],
    record: Any,
    withheld: list[str],
    changed_fields: Any,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The CloudEvent of a change read with its ``_EVENT_FIELDS`` first."""
    (
        type_name,
        key,
        project_code,
        number,
        operation,
        deleted,
        published_by,
        created_at,
        sequence,
    ) = version[:EVENT_WIDTH]
    return {
        "specversion": "1.0",
        "id": event_id(type_name, key, number),
        "source": settings["EVENT_SOURCE"],
        "type": f"{settings['EVENT_TYPE_PREFIX']}.record.{operation}",
        "subject": f"{type_name}/{key}",
        "time": created_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": sequence,
        "data": {
            "type": type_name,
            "key": key,
            "version": number,
            "project_code": project_code,
            "operation": operation,
            "changed_fields": changed_fields,
            "published_by": published_by,
            "deleted": deleted,
            "record": record,
            "withheld": withheld,
        },
    }
