"""CloudEvents rendered by PostgreSQL, for feed pages.

Most of a feed page is records the reader sees exactly as stored: types with no computed
fields, whose protected fields the reader may not see (so nothing is disclosed and nothing
audited). For those the database can write the whole event as JSON text, which the response
embeds unparsed; building a thousand envelopes in Python was most of a page's cost. The SQL
writes exactly what ``hub.events.service._envelope`` writes, field for field and in the same
order, and a test holds the two to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Table, Text, case, func, literal, null
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement

from hub.records.models import RecordVersion
from hub.sharing.service import ReaderView
from schemas import registry

_VERSIONS = cast(Table, RecordVersion.__table__)


def prerendered_column(
    reader: ReaderView,
    settings: Mapping[str, Any],
    without: Callable[[Any, list[str]], Any],
) -> ColumnElement[Any]:
    """SQL for each change's whole CloudEvent as JSON text where the database can render it
    for ``reader`` (see the module's doc), NULL where Python must; ``without`` cuts fields."""
    versions = _VERSIONS.c
    cases = []
    for record_type in registry().values():
        withheld = reader.withheld_fields(record_type)
        if record_type.compute is not None or not record_type.protected_fields <= set(withheld):
            continue
        data = without(versions.data, withheld) if withheld else versions.data
        cases.append((versions.record_type == record_type.name, _event(data, withheld, settings)))
    if not cases:
        return null().label("rendered")
    return case(*cases, else_=null()).label("rendered")


def _event(data: Any, withheld: list[str], settings: Mapping[str, Any]) -> Any:
    versions = _VERSIONS.c
    subject = versions.record_type.concat("/").concat(versions.record_key)
    event_type = literal(f"{settings['EVENT_TYPE_PREFIX']}.record.").concat(versions.operation)
    body = func.json_build_object(
        *_pairs(
            ("type", versions.record_type),
            ("key", versions.record_key),
            ("version", versions.version),
            ("project_code", versions.project_code),
            ("operation", versions.operation),
            ("changed_fields", versions.changed_fields),
            ("published_by", versions.published_by),
            ("deleted", versions.deleted),
            ("record", data),
            ("withheld", func.json_build_array(*[literal(name) for name in withheld])),
        )
    )
    event = func.json_build_object(
        *_pairs(
            ("specversion", literal("1.0")),
            ("id", subject.concat("/").concat(sql_cast(versions.version, Text))),
            ("source", literal(settings["EVENT_SOURCE"])),
            ("type", event_type),
            ("subject", subject),
            ("time", _utc_text(versions.created_at)),
            ("datacontenttype", literal("application/json")),
            ("sequence", versions.sequence),
            ("data", body),
        )
    )
    return sql_cast(event, Text)


def _pairs(*pairs: tuple[str, Any]) -> list[Any]:
    return [item for name, value in pairs for item in (literal(name), value)]


def _utc_text(moment: Any) -> Any:
    """A timestamp as Python's ``isoformat()`` writes it in UTC, with ``Z``: microseconds
    only when there are any."""
    utc = func.timezone("UTC", moment)
    seconds = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    fraction = case(
        (func.date_trunc("second", utc) == utc, literal("")),
        else_=func.to_char(utc, '"."US'),
    )
    return seconds.concat(fraction).concat("Z")
