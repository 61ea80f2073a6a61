"""``hub events``: number pending changes (``compact`` is added by ``hub.cli``, since it
clears what other features keep for the log too)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hub.core.extensions import db
from hub.events import log


@click.group("events", cls=AppGroup)
def events_group() -> None:
    """Look after the change log."""


@events_group.command("number")
def number_command() -> None:
    """Give sequence numbers to committed changes that wait for them (the hub does it too)."""
    total = db.in_rounds(log.number_events, log.ROUND_SIZE)
    click.echo(f"Numbered {total} events.", err=True)
