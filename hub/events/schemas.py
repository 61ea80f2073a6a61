"""How the change feed looks on the wire."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate
from webargs.fields import DelimitedList

from hub.core.openapi import from_settings
from schemas import registry


def within_feed_page(value: int) -> None:
    """At most EVENTS_PAGE_SIZE_MAX events per page."""
    maximum = current_app.config["EVENTS_PAGE_SIZE_MAX"]
    if value > maximum:
        raise ma.ValidationError(f"At most {maximum}.")


def feed_page_size(default: int = 100) -> fields.Integer:
    """The number of events a page holds: 1 to EVENTS_PAGE_SIZE_MAX."""
    return fields.Integer(
        load_default=default,
        validate=[validate.Range(min=1), within_feed_page],
        metadata={
            "description": f"Events per page (default {default}, at most EVENTS_PAGE_SIZE_MAX).",
            **from_settings(maximum="EVENTS_PAGE_SIZE_MAX"),
        },
    )


class FeedQuerySchema(ma.Schema):
    """Where to read the feed from, what to read, and how long to wait for it."""

    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={
            "description": "Return events with a larger sequence (next_after); at most the "
            "last sequence of the log."
        },
    )
    limit = feed_page_size()
    types = DelimitedList(
        fields.String(metadata={"enum": sorted(registry())}),
        metadata={"description": "Comma-separated record types."},
    )
    project_code = fields.String(validate=validate.Length(max=24))
    wait = fields.Float(
        load_default=0,
        validate=validate.Range(min=0, max=60),
        metadata={"description": "Seconds to wait for an event when there is none (long-poll)."},
    )


class FeedPageSchema(ma.Schema):
    """CloudEvents after the cursor, and the cursor to resume from."""

    # Raw: the events are rendered already (a record seen whole is the database's JSON
    # text), and copying each into a new dict cost time for nothing
    events = fields.List(fields.Raw(metadata={"type": "object", "description": "A CloudEvent."}))
    next_after = fields.Integer()
