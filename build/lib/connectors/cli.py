"""The ``hub-connector`` command."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Run connectors between department systems and the hub."""
