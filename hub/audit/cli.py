"""``hub audit``: seal the audit chain and check it."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from hub.audit import chain
from hub.core.extensions import db


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Inspect the audit log."""


@audit_group.command("seal")
def seal_command() -> None:
    """Chain every committed entry not yet sealed (the hub also does this as it runs)."""
    total = db.in_rounds(chain.seal, chain.SEAL_ROUND_SIZE)
    click.echo(f"Sealed {total} audit entries.", err=True)


@audit_group.command("verify")
def verify_command() -> None:
    """Walk the chain; exit 1 naming the first entry that was altered, removed or inserted."""
    with db.unit_of_work(write=False) as session:
        chain.begin_snapshot(session)
        length, _ = chain.head(session)
        progress = click.progressbar(length=length, label="Checking the chain", file=sys.stderr)
        with progress as bar:
            report = chain.verify(session, progress=bar.update)
    if not report.intact:
        where = f"entry {report.broken_at_seq}"
        if report.broken_entry_id is not None:
            where += f" (row id {report.broken_entry_id})"
        click.echo(f"Audit chain BROKEN at {where}: {report.problem}.", err=True)
        sys.exit(1)
    click.echo(
        f"Audit chain intact: {report.sealed} entries, head {report.head_seq} "
        f"{report.head_hash}; {report.unsealed} not sealed yet."
    )
