"""``hub users``: console users from the shell.

A password is read from standard input (typed twice, unseen, at a terminal; one line when
piped), never from the command line, where other users of the machine could read it. With
``--invite`` the command prints a one-time link instead, valid for 24 hours.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from hub.audit.entries import Actor
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.users import service
from hub.users.models import User


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _line(user: User) -> str:
    state = "disabled" if user.disabled_at else "active"
    sign_in = service.sign_in_method(user, utcnow()).replace("_", "-")
    fields = (user.username, user.department_id, user.role, state, sign_in, user.display_name)
    return "\t".join(fields)


def _print_invitation(username: str, token: str) -> None:
    click.echo(f"One-time link for {username} to set a password (valid 24 hours):", err=True)
    click.echo(service.invite_link(current_app.config, token))


@click.group("users", cls=AppGroup)
def users_group() -> None:
    """Manage the people who use the console."""


@users_group.command("add")
@click.argument("username")
@click.option("--department", "department_id", required=True)
@click.option("--role", required=True, type=click.Choice(service.ROLES))
@click.option("--name", "display_name", default="", help="Full name, as the console shows it.")
@click.option("--invite", is_flag=True, help="Print a one-time link to set a password instead.")
def add_user_command(
    username: str, department_id: str, role: str, display_name: str, invite: bool
) -> None:
    """Create a console user; the password comes from standard input (or use --invite)."""
    password = None if invite else _read_password()
    with db.unit_of_work() as session:
        user, token = service.add_user(
            session,
            Actor.cli(),
            username,
            department_id,
            role,
            current_app.config,
            display_name=display_name,
            password=password,
        )
    click.echo(f"Created user {user.username} ({user.role}, {user.department_id}).", err=True)
    if token is not None:
        _print_invitation(user.username, token)


@users_group.command("list")
@click.option("--department", "department_id", default=None)
def list_users_command(department_id: str | None) -> None:
    """List console users: username, department, role, state, how they sign in, name."""
    with db.unit_of_work(write=False) as session:
        for user in service.list_users(session, department_id):
            click.echo(_line(user))


def _set_disabled(username: str, disabled: bool) -> None:
    with db.unit_of_work() as session:
        user = service.update_user(session, Actor.cli(), username, disabled=disabled)
        click.echo(_line(user))


@users_group.command("disable")
@click.argument("username")
def disable_user_command(username: str) -> None:
    """Disable a user: signed out at their next request, and kept out."""
    _set_disabled(username, True)


@users_group.command("enable")
@click.argument("username")
def enable_user_command(username: str) -> None:
    """Re-enable a disabled user."""
    _set_disabled(username, False)


@users_group.command("reset-password")
@click.argument("username")
@click.option("--invite", is_flag=True, help="Print a one-time link to set one instead.")
def reset_password_command(username: str, invite: bool) -> None:
    """Set a user's password from standard input (or clear it and print a link with --invite)."""
    password = None if invite else _read_password()
    with db.unit_of_work() as session:
        token = service.reset_password(session, Actor.cli(), username, current_app.config, password)
    click.echo(f"Reset the password of {username}.", err=True)
    if token is not None:
        _print_invitation(username, token)
