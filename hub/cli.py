"""The ``hub`` command: thin wrappers that parse, call a service, print."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.orm import Session

from hub.admin.schemas import MAX_GRACE_SECONDS
from hub.audit import service as audit
from hub.auth import service as auth
from hub.auth.models import Department
from hub.config import ConfigError, ensure_instance_secret
from hub.db import utcnow
from hub.errors import HubError
from hub.extensions import db


def _create_app() -> Flask:
    from hub import create_app

    return create_app()


def _default_instance_path() -> Path:
    return Path(os.environ.get("HUB_INSTANCE_PATH") or Flask("hub").instance_path)


@click.group(cls=AppGroup)
def cli() -> None:
    """Major-project data exchange hub."""


@cli.command("init", with_appcontext=False)
@click.option("--demo/--no-demo", default=False, help="Load demo data into an empty database.")
@click.pass_context
def init_command(ctx: click.Context, demo: bool) -> None:
    """Create or migrate the database (and, for the embedded one, its secret)."""
    from hub import create_app
    from hub.demo import KEYS_FILE, is_empty, load_demo
    from hub.migrate import upgrade

    instance_path = _default_instance_path()
    if ensure_instance_secret(instance_path):
        click.echo(f"Generated a secret key in {instance_path}.", err=True)
    app = create_app()
    with app.app_context():
        upgrade(db.engine)
        click.echo("Database is at the latest schema.", err=True)
        if demo:
            with db.unit_of_work() as session:
                loaded = load_demo(session, Path(app.instance_path)) if is_empty(session) else None
            keys_file = Path(app.instance_path) / KEYS_FILE
            if loaded:
                click.echo("Loaded demo departments, keys and records.", err=True)
            if keys_file.exists():
                click.echo(f"Demo access keys (also in {keys_file}):", err=True)
                click.echo(keys_file.read_text(), err=True, nl=False)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per process.")
@click.option("--access-log/--no-access-log", default=True, help="Log each request to stdout.")
@click.option(
    "--dispatcher/--no-dispatcher",
    default=None,
    help="Deliver webhooks in each worker too [default: DISPATCHER_IN_SERVE].",
)
def serve_command(
    host: str, port: int, workers: int, threads: int, access_log: bool, dispatcher: bool | None
) -> None:
    """Serve the hub with gunicorn (and, unless told not to, the webhook dispatcher)."""
    from hub.server import serve

    if dispatcher is None:
        dispatcher = current_app.config["DISPATCHER_IN_SERVE"]
    serve(
        host,
        port,
        workers=workers,
        threads=threads,
        access_log=access_log,
        dispatcher=dispatcher,
    )


@cli.command("worker")
@click.option("--name", default=None, help="How this dispatcher names itself in leases.")
@click.option("--metrics-port", type=int, default=None, help="Serve /metrics on 127.0.0.1:PORT.")
def worker_command(name: str | None, metrics_port: int | None) -> None:
    """Run the webhook dispatcher alone (as many as you like, on one database)."""
    from hub.server import run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_worker(app, name=name, metrics_port=metrics_port)


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


def _audit(session: Session, action: str, target: str, details: dict[str, Any]) -> None:
    """Record a CLI change in the audit log, in the unit of work that makes it."""
    audit.record(
        session,
        action=action,
        target=target,
        outcome=200,
        actor=audit.cli_actor(),
        details=details,
    )


def _department_line(department: Department) -> str:
    state = "disabled" if department.disabled_at else "active"
    publishes = ",".join(department.publishes) or "-"
    return f"{department.id}\t{state}\t{publishes}\t{department.name}"


@cli.group("departments")
def departments_group() -> None:
    """Manage departments."""


@departments_group.command("add")
@click.argument("department_id")
@click.option("--name", required=True, help="Full name.")
@click.option("--publishes", multiple=True, help="A record type it may publish (repeatable).")
def add_department_command(department_id: str, name: str, publishes: tuple[str, ...]) -> None:
    """Register a department."""
    with db.unit_of_work() as session:
        department = auth.add_department(session, department_id, name, publishes)
        _audit(
            session,
            "department.create",
            f"department/{department.id}",
            {"name": department.name, "publishes": department.publishes},
        )
        click.echo(f"{department.id}\t{department.name}\t{','.join(department.publishes)}")


@departments_group.command("list")
def list_departments_command() -> None:
    """List departments."""
    with db.unit_of_work(write=False) as session:
        for department in auth.list_departments(session):
            click.echo(_department_line(department))


def _update_department(department_id: str, **changes: Any) -> None:
    with db.unit_of_work() as session:
        department = auth.update_department(session, department_id, **changes)
        _audit(session, "department.update", f"department/{department.id}", changes)
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


@cli.group("keys")
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
        key, secret = auth.create_key(session, department_id, scopes, name, expires_at)
        details = {
            "department": key.department_id,
            "scopes": key.scopes,
            "name": key.name,
            "expires_at": _iso(key.expires_at),
        }
        _audit(session, "key.create", f"key/{key.id}", details)
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
    type=click.IntRange(min=0, max=MAX_GRACE_SECONDS),
    default=None,
    help="Seconds the old secret keeps working (default KEY_ROTATION_GRACE; 0: none).",
)
def rotate_key_command(key_id: str, grace_seconds: int | None) -> None:
    """Give a key a new secret; prints it alone on stdout (shown only once)."""
    if grace_seconds is None:
        grace_seconds = int(current_app.config["KEY_ROTATION_GRACE"])
    with db.unit_of_work() as session:
        key, secret = auth.rotate_key(session, key_id, grace_seconds)
        details = {
            "generation": key.generation,
            "grace_seconds": grace_seconds,
            "previous_valid_until": _iso(key.previous_valid_until),
        }
        _audit(session, "key.rotate", f"key/{key.id}", details)
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
        key = auth.revoke_key(session, key_id)
        _audit(session, "key.revoke", f"key/{key.id}", {"revoked_at": _iso(key.revoked_at)})
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
        key = auth.expire_key(session, key_id, expires_at)
        _audit(session, "key.expire", f"key/{key.id}", {"expires_at": _iso(key.expires_at)})
    click.echo(f"Key {key.id} expires {_iso(key.expires_at) or 'never'}.", err=True)


def _register_groups() -> None:
    from hub.audit.cli import audit_group
    from hub.connectors.cli import connectors_group
    from hub.events.cli import events_group

    cli.add_command(audit_group)
    cli.add_command(events_group)
    cli.add_command(connectors_group)


_register_groups()


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``hub`` console script."""
    try:
        # The app is built only when a command needs it, so `hub --help` works before `hub init`.
        script_info = ScriptInfo(create_app=_create_app, set_debug_flag=False)
        return cli.main(args=argv, prog_name="hub", obj=script_info, standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"hub: configuration error: {exc}", err=True)
        sys.exit(2)
    except HubError as exc:
        click.echo(f"hub: {exc.detail}", err=True)
        for field, messages in (exc.errors or {}).items():
            click.echo(f"  {field}: {' '.join(messages)}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
