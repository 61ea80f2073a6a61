"""The ``hub`` command: thin wrappers that parse, call a service, print."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo

from hub.auth import service as auth
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
def serve_command(host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    """Serve the hub with gunicorn."""
    from hub.server import serve

    serve(host, port, workers=workers, threads=threads, access_log=access_log)


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
        click.echo(f"{department.id}\t{department.name}\t{','.join(department.publishes)}")


@departments_group.command("list")
def list_departments_command() -> None:
    """List departments."""
    with db.unit_of_work(write=False) as session:
        for department in auth.list_departments(session):
            state = "disabled" if department.disabled_at else "active"
            publishes = ",".join(department.publishes) or "-"
            click.echo(f"{department.id}\t{state}\t{publishes}\t{department.name}")


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
    click.echo(f"Created key {key.id} for {key.department_id}.", err=True)
    click.echo(secret)


@keys_group.command("list")
@click.option("--department", "department_id", default=None)
def list_keys_command(department_id: str | None) -> None:
    """List access keys (never their secrets)."""
    now = utcnow()
    with db.unit_of_work(write=False) as session:
        for key in auth.list_keys(session, department_id):
            state = auth.key_refusal(key, now) or "active"
            expires = key.expires_at.isoformat() if key.expires_at else "never"
            click.echo(
                f"{key.id}\t{key.department_id}\t{','.join(key.scopes)}\t"
                f"expires {expires}\t{state}\t{key.name}"
            )


@keys_group.command("revoke")
@click.argument("key_id")
def revoke_key_command(key_id: str) -> None:
    """Revoke an access key and every token issued from it."""
    with db.unit_of_work() as session:
        key = auth.revoke_key(session, key_id)
    click.echo(f"Revoked key {key.id}.", err=True)


def _register_groups() -> None:
    from hub.audit.cli import audit_group

    cli.add_command(audit_group)


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
