"""``hub audit``: check the audit chain."""

from __future__ import annotations

import click
from flask.cli import AppGroup


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Inspect the audit log."""
