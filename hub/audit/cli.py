"""``hub audit``: seal the audit chain and check it."""

from __future__ import annotations

import re
import sys

import click
from flask.cli import AppGroup

from hub.audit import chain
from hub.core.extensions import db

HASH_PATTERN = re.compile(r"^[0-9a-fA-F]{64}\Z")


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Inspect the audit log."""


@audit_group.command("seal")
def seal_command() -> None:
    """Chain every committed entry not yet sealed (the hub also does this as it runs)."""
    key = chain.configured_key()
    try:
        total = db.in_rounds(lambda session: chain.seal(session, key=key), chain.SEAL_ROUND_SIZE)
    except chain.ChainKeyMissing as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Sealed {total} audit entries.", err=True)


def _anchor(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or int(seq) < 1 or not HASH_PATTERN.match(digest):
        raise click.BadParameter("give SEQ:HASH, e.g. 1200:3f5a... (64 hex digits)")
    return int(seq), digest.lower()


@audit_group.command("verify")
@click.option(
    "--expect-head",
    "anchor",
    metavar="SEQ:HASH",
    callback=_anchor,
    help="A head noted down earlier (`hub audit verify` prints it): it must still be there.",
)
def verify_command(anchor: tuple[int, str] | None) -> None:
    """Walk the chain; exit 1 naming the first entry that was altered, removed or inserted."""
    with db.unit_of_work(write=False) as session:
        chain.begin_snapshot(session)
        length, _ = chain.head(session)
        progress = click.progressbar(length=length, label="Checking the chain", file=sys.stderr)
        with progress as bar:
            report = chain.verify(
                session,
                progress=bar.update,
                anchor=anchor,
                key=chain.configured_key(),
            )
    if not report.intact:
        where = f"entry {report.broken_at_seq}"
        if report.broken_entry_id is not None:
            where += f" (row id {report.broken_entry_id})"
        click.echo(f"Audit chain BROKEN at {where}: {report.problem}.", err=True)
        sys.exit(1)
    keyed = (
        f" keyed (HMAC) from entry {report.keyed_from_seq};"
        if report.keyed_from_seq is not None
        else ""
    )
    click.echo(
        f"Audit chain intact: {report.sealed} entries, head {report.head_seq} "
        f"{report.head_hash};{keyed} {report.unsealed} not sealed yet."
    )
    click.echo(
        f"Note the head to check later: hub audit verify --expect-head "
        f"{report.head_seq}:{report.head_hash}",
        err=True,
    )
