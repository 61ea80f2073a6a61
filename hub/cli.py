"""The ``hub`` command: the features' command groups, and the commands that run the hub.

Commands are thin: they parse, call a service, print."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from hub.audit.cli import audit_group
from hub.auth.cli import departments_group, keys_group
from hub.connector_runs.cli import connectors_group
from hub.core.config import ConfigError, ensure_instance_secret
from hub.core.db import utcnow
from hub.core.errors import HubError
from hub.core.extensions import db
from hub.core.migrate import schema_problem
from hub.events import log
from hub.events.cli import events_group
from hub.subscriptions import service as subscriptions
from hub.users.cli import users_group
from hub.users.service import invite_link


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
    from hub.core.migrate import current_revision, head_revision, upgrade
    from hub.demo import KEYS_FILE, is_empty, load_console_admin, load_console_office, load_demo

    instance_path = _default_instance_path()
    if ensure_instance_secret(instance_path):
        click.echo(f"Generated a secret key in {instance_path}.", err=True)
    app = create_app()
    with app.app_context():
        before, latest = current_revision(db.engine), head_revision()
        upgrade(db.engine)
        if before is None:
            click.echo(f"Created the database (schema {latest}).", err=True)
        elif before != latest:
            click.echo(f"Migrated the database from schema {before} to {latest}.", err=True)
        else:
            click.echo(f"The database is already at the latest schema ({latest}).", err=True)
        with db.unit_of_work() as session:
            sealed = subscriptions.encrypt_stored_secrets(session)
        if sealed:
            click.echo(f"Encrypted {sealed} webhook signing secrets under SECRET_KEY.", err=True)
        if demo:
            invitations: dict[str, str] = {}
            with db.unit_of_work() as session:
                loaded = load_demo(session, Path(app.instance_path)) if is_empty(session) else None
                if loaded:
                    invitations["admin"] = load_console_admin(session, app.config)
                    invitations["office"] = load_console_office(session, app.config)
            keys_file = Path(app.instance_path) / KEYS_FILE
            if loaded:
                click.echo("Loaded demo departments, keys and records.", err=True)
            if keys_file.exists():
                click.echo(f"Demo access keys (also in {keys_file}):", err=True)
                click.echo(keys_file.read_text(), err=True, nl=False)
            _print_console_sign_in(app, invitations)


def _print_console_sign_in(app: Flask, invitations: dict[str, str]) -> None:
    """Tell the person who ran the demo how to reach the console: the demo administrator
    (``admin``) and the leading group's office (``office``, the supervision pages)."""
    console = f"{app.config['PUBLIC_URL'].rstrip('/')}/console/"
    if invitations:
        admin = invite_link(app.config, invitations["admin"])
        office = invite_link(app.config, invitations["office"])
        click.echo(
            f"Console: {console}\nOpen this one-time link to choose the demo administrator's "
            f"password and sign in (valid 24 hours):\n  {admin}\n"
            f"and this one for the leading group's office (user office: the supervision "
            f"board):\n  {office}",
            err=True,
        )
    else:
        click.echo(
            f"Console: {console} (users admin and office; a new sign-in link: "
            "hub users reset-password admin --invite)",
            err=True,
        )


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

    _refuse_unready_database()
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

    _refuse_unready_database()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_worker(app, name=name, metrics_port=metrics_port)


def _refuse_unready_database() -> None:
    """Stop before serving a database this code cannot work on, saying what to do."""
    problem = schema_problem(db.engine)
    if problem is not None:
        raise click.ClickException(problem)


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
    deliveries_before = now - timedelta(days=settings["DELIVERY_LOG_RETENTION_DAYS"])
    with db.unit_of_work() as session:
        retained_after = log.compact(session, events_before=now - timedelta(days=keep))
        removed = subscriptions.prune_deliveries(session, deliveries_before)
    click.echo(
        f"The feed serves events after {retained_after}; removed {removed} delivery attempts.",
        err=True,
    )


for group in (
    departments_group,
    keys_group,
    users_group,
    audit_group,
    events_group,
    connectors_group,
):
    cli.add_command(group)


def _database_problem() -> str | None:
    """Why the configured database cannot serve this code, if that is the trouble."""
    app = _create_app()
    with app.app_context():
        return schema_problem(db.engine)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``hub`` console script."""
    try:
        # The app is built only when a command needs it, so `hub --help` works before `hub init`.
        script_info = ScriptInfo(create_app=_create_app, set_debug_flag=False)
        return cli.main(args=argv, prog_name="hub", obj=script_info, standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"hub: configuration error: {exc}", err=True)
        sys.exit(2)
    except SQLAlchemyError:
        # Most often a command run before `hub init`, or on a database that is down: say so
        # rather than print the driver's traceback. Anything else is a bug, traceback and all.
        problem = _database_problem()
        if problem is None:
            raise
        click.echo(f"hub: {problem}", err=True)
        sys.exit(1)
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
