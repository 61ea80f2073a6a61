"""``hub connectors``: look after the runs connectors report."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from hub.connector_runs import service
from hub.core.db import utcnow
from hub.core.extensions import db


@click.group("connectors", cls=AppGroup)
def connectors_group() -> None:
    """Look after connector run reports."""


@connectors_group.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    default=None,
    help="Days of runs to keep [default: CONNECTOR_RUN_RETENTION_DAYS].",
)
def prune_command(days: int | None) -> None:
    """Delete run reports older than the retention; each connector's latest run stays."""
    keep = current_app.config["CONNECTOR_RUN_RETENTION_DAYS"] if days is None else days
    with db.unit_of_work() as session:
        removed = service.prune_runs(session, utcnow() - timedelta(days=keep))
    click.echo(f"Removed {removed} connector runs.", err=True)
