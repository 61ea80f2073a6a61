"""``hub departments`` and ``hub keys``: manage departments and access keys from the shell.

Each change goes through the same service as its API twin and is audited the same way, with
the operator (``cli:user@host``) as actor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from hub.audit.entries import Actor
from hub.auth import service as auth
from hub.auth.models import Department
from hub.core.db import utcnow
from hub.core.extensions import db


def _moment(text: str, option: str) -> datetime:
    """An ISO 8601 date-time with an offset (or Z), converted to UTC."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.utcoffset() is None:
            raise click.BadParameter(f"{text!r} needs a UTC offset, such as Z.", param_hint=option)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        message = f"{text!r} is not an ISO 8601 date-time."
        raise click.BadParameter(message, param_hint=option) from exc


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _department_line(department: Department) -> str:
    state = "disabled" if department.disabled_at else "active"
    publishes = ",".join(department.publishes) or "-"
    return f"{department.id}\t{state}\t{publishes}\t{department.name}"


@click.group("departments", cls=AppGroup)
def departments_group() -> None:
    """Manage departments."""


@departments_group.command("add")
@click.argument("department_id")
@click.option("--name", required=True, help="Full name.")
@click.option("--publishes", multiple=True, help="A record type it may publish (repeatable).")
def add_department_command(department_id: str, name: str, publishes: tuple[str, ...]) -> None:
    """Register a department."""
    with db.unit_of_work() as session:
        department = auth.add_department(session, Actor.cli(), department_id, name, publishes)
        click.echo(f"{department.id}\t{department.name}\t{','.join(department.publishes)}")


@departments_group.command("list")
def list_departments_command() -> None:
    """List departments."""
    with db.unit_of_work(write=False) as session:
        for department in auth.list_departments(session):
            click.echo(_department_line(department))


def _update_department(department_id: str, **changes: Any) -> None:
    with db.unit_of_work() as session:
        department = auth.update_department(session, Actor.cli(), department_id, **changes)
        click.echo(_department_line(department))


@departments_group.command("update")
@click.argument("department_id")
@click.option("--name", default=None, help="New full name.")
@click.option(
    "--publishes",
    multiple=True,
    help="A record type it may publish (repeatable); replaces the current list.",
)
@click.option("--no-publishes", is_flag=True, help="It may publish nothing.")
def update_department_command(
    department_id: str, name: str | None, publishes: tuple[str, ...], no_publishes: bool
) -> None:
    """Rename a department or replace what it may publish (from its next request)."""
    if publishes and no_publishes:
        raise click.UsageError("Give --publishes or --no-publishes, not both.")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if publishes or no_publishes:
        changes["publishes"] = sorted(set(publishes))
    if not changes:
        raise click.UsageError("Nothing to change: give --name, --publishes or --no-publishes.")
    _update_department(department_id, **changes)


@departments_group.command("disable")
@click.argument("department_id")
def disable_department_command(department_id: str) -> None:
    """Disable a department: its keys and tokens are refused from the next request."""
    _update_department(department_id, disabled=True)


@departments_group.command("enable")
@click.argument("department_id")
def enable_department_command(department_id: str) -> None:
    """Re-enable a disabled department."""
    _update_department(department_id, disabled=False)


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Manage access keys."""


@keys_group.command("create")
@click.option("--department", "department_id", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(auth.SCOPES))
@click.option("--name", default="", help="What the key is for.")
@click.option("--expires-in", "expires_in", type=click.IntRange(min=1), help="Days.")
def create_key_command(
    department_id: str, scopes: tuple[str, ...], name: str, expires_in: int | None
) -> None:
    """Create an access key; prints its secret alone on stdout (shown only once)."""
    expires_at = utcnow() + timedelta(days=expires_in) if expires_in else None
    with db.unit_of_work() as session:
        key, secret = auth.create_key(session, Actor.cli(), department_id, scopes, name, expires_at)
    click.echo(f"Created key {key.id} for {key.department_id}.", err=True)
    click.echo(secret)


@keys_group.command("list")
@click.option("--department", "department_id", default=None)
def list_keys_command(department_id: str | None) -> None:
    """List access keys (never their secrets)."""
    now = utcnow()
    with db.unit_of_work(write=False) as session:
        for key in auth.list_keys(session, department_id):
            expires = key.expires_at.isoformat() if key.expires_at else "never"
            click.echo(
                f"{key.id}\t{key.department_id}\t{','.join(key.scopes)}\t"
                f"expires {expires}\t{auth.key_state(key, now)}\t"
                f"generation {key.generation}\t{key.name}"
            )


@keys_group.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace",
    "grace_seconds",
    type=click.IntRange(min=0, max=auth.MAX_GRACE_SECONDS),
    default=None,
    help="Seconds the old secret keeps working (default KEY_ROTATION_GRACE; 0: none).",
)
def rotate_key_command(key_id: str, grace_seconds: int | None) -> None:
    """Give a key a new secret; prints it alone on stdout (shown only once)."""
    if grace_seconds is None:
        grace_seconds = int(current_app.config["KEY_ROTATION_GRACE"])
    with db.unit_of_work() as session:
        key, secret = auth.rotate_key(session, Actor.cli(), key_id, grace_seconds)
    click.echo(
        f"Rotated key {key.id} (generation {key.generation}); "
        f"the previous secret works until {_iso(key.previous_valid_until)}.",
        err=True,
    )
    click.echo(secret)


@keys_group.command("revoke")
@click.argument("key_id")
def revoke_key_command(key_id: str) -> None:
    """Revoke an access key and every token issued from it."""
    with db.unit_of_work() as session:
        key = auth.revoke_key(session, Actor.cli(), key_id)
    click.echo(f"Revoked key {key.id}.", err=True)


@keys_group.command("expire")
@click.argument("key_id")
@click.option("--at", "at", default=None, help="When it stops working (ISO 8601 with offset).")
@click.option("--now", "now", is_flag=True, help="Stop it working now.")
@click.option("--never", "never", is_flag=True, help="Clear its expiry.")
def expire_key_command(key_id: str, at: str | None, now: bool, never: bool) -> None:
    """Set when an access key stops working (a past moment ends it now), or clear it."""
    if [at is not None, now, never].count(True) != 1:
        raise click.UsageError("Give exactly one of --at, --now or --never.")
    expires_at = utcnow() if now else _moment(at, "--at") if at is not None else None
    with db.unit_of_work() as session:
        key = auth.expire_key(session, Actor.cli(), key_id, expires_at)
    click.echo(f"Key {key.id} expires {_iso(key.expires_at) or 'never'}.", err=True)
