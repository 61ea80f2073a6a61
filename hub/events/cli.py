"""``hub events``: number pending changes and compact the feed's retained log."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from hub.db import utcnow
from hub.events import service
from hub.extensions import db


@click.group("events", cls=AppGroup)
def events_group() -> None:
    """Look after the change log."""


@events_group.command("number")
def number_command() -> None:
    """Give sequence numbers to committed changes that wait for them (the hub does it too)."""
    total = db.in_rounds(service.number_events, service.ROUND_SIZE)
    click.echo(f"Numbered {total} events.", err=True)


@events_group.command("compact")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    default=None,
    help="Days of log to keep [default: EVENTS_RETENTION_DAYS].",
)
def compact_command(days: int | None) -> None:
    """Stop serving feed events older than the retention; drop old delivery attempts.

    Records and their history are kept; a feed cursor behind the new horizon gets 410 Gone.
    """
    settings = current_app.config
    keep = settings["EVENTS_RETENTION_DAYS"] if days is None else days
    now = utcnow()
    with db.unit_of_work() as session:
        done = service.compact(
            session,
            events_before=now - timedelta(days=keep),
            deliveries_before=now - timedelta(days=settings["DELIVERY_LOG_RETENTION_DAYS"]),
        )
    click.echo(
        f"The feed serves events after {done.retained_after}; "
        f"removed {done.deliveries_removed} delivery attempts.",
        err=True,
    )
