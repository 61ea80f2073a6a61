"""``hub users``: console users from the shell.

The commands run through the console script's entry point against the test app
(``hub_cli``), so they are seen as a user sees them: exit code, stdout and stderr. A password
comes from standard input, one line when piped; the tests pipe it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from hub.audit.entries import AuditFilter, list_entries
from hub.core.db import utcnow
from hub.core.errors import NotFound
from hub.core.extensions import db
from hub.users import service as users
from tests.conftest import Run
from tests.user_helpers import signs_in, stored

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "a different long passphrase"
LINK_PREFIX = "http://127.0.0.1:8000/console/set-password/"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Cheap password hashes."""
    return {**settings, "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024}


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Pipe ``text`` to the next command's standard input."""

    def pipe(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return pipe


@pytest.fixture
def hub_users(
    hub_cli: Callable[..., Run], departments: dict[str, list[str]], stdin: Callable[[str], None]
) -> Callable[..., Run]:
    """Run ``hub users ARGS...`` (the standard departments exist), ``piped`` to its stdin."""

    def run(*args: str, piped: str = "") -> Run:
        stdin(piped)
        return hub_cli("users", *args)

    return run


@pytest.fixture
def add(hub_users: Callable[..., Run]) -> Callable[..., Run]:
    """``hub users add USERNAME`` (an officer of land unless told), with PASSWORD piped in."""

    def run(username: str, *options: str, password: str = PASSWORD) -> Run:
        department = () if "--department" in options else ("--department", "land")
        role = () if "--role" in options else ("--role", "officer")
        return hub_users("add", username, *department, *role, *options, piped=f"{password}\n")

    return run


def accept(app: Flask, link: str, password: str) -> None:
    """Follow an invitation link: set ``password`` with its token."""
    assert link.startswith(LINK_PREFIX), link
    with app.app_context(), db.unit_of_work() as session:
        users.accept_invitation(
            session, link.removeprefix(LINK_PREFIX), password, app.config, "127.0.0.1"
        )


def listed(hub_users: Callable[..., Run], *options: str) -> dict[str, list[str]]:
    """``hub users list``: each line's columns by username."""
    run = hub_users("list", *options)
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    return {row[0]: row[1:] for row in rows}


def assert_refused(run: Run, *words: str) -> None:
    """The command failed with a clear message on stderr naming ``words``, no traceback."""
    assert run.exit_code != 0
    assert run.stderr.startswith("hub: ") or run.stderr.startswith("Usage:"), run.stderr
    for word in words:
        assert word in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


# hub users add


def test_add_reads_the_password_from_standard_input(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    run = add("li.na", "--name", "Li Na")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "", "nothing secret, nothing to copy"
    assert "Created user li.na (officer, land)." in run.stderr
    assert PASSWORD not in run.stderr
    assert signs_in(app, "li.na", PASSWORD)
    assert not signs_in(app, "li.na", OTHER_PASSWORD)
    user = stored(app, "li.na")
    assert (user.display_name, user.invite_digest) == ("Li Na", None)
    assert listed(hub_users) == {
        "li.na": ["land", "officer", "active", "password", "Li Na"],
    }


def test_add_takes_the_first_piped_line_without_its_line_end(
    app: Flask, add: Callable[..., Run]
) -> None:
    assert add("li.na", password=f"{PASSWORD}\r\nsecond line").exit_code == 0
    assert signs_in(app, "li.na", PASSWORD)


def test_add_with_invite_prints_a_one_time_link_alone_on_stdout(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    run = add("li.na", "--role", "viewer", "--invite", password="not read")
    assert run.exit_code == 0, run.stderr
    link = run.stdout.strip()
    assert run.stdout == f"{link}\n"
    assert link.startswith(LINK_PREFIX)
    assert "One-time link for li.na" in run.stderr
    assert "24 hours" in run.stderr
    assert listed(hub_users)["li.na"] == ["land", "viewer", "active", "invited", "li.na"]
    assert not signs_in(app, "li.na", "not read")

    accept(app, link, PASSWORD)
    assert signs_in(app, "li.na", PASSWORD)
    with pytest.raises(NotFound):
        accept(app, link, OTHER_PASSWORD)
    assert listed(hub_users)["li.na"][3] == "password"


def test_add_at_a_terminal_asks_for_the_password_twice(
    app: Flask,
    hub_cli: Callable[..., Run],
    departments: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []

    def typed(prompt: str) -> str:
        asked.append(prompt)
        return PASSWORD

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("click.termui.hidden_prompt_func", typed)
    run = hub_cli("users", "add", "li.na", "--department", "land", "--role", "officer")
    assert run.exit_code == 0, run.stderr
    assert len(asked) == 2, "typed twice, to confirm"
    assert signs_in(app, "li.na", PASSWORD)


def test_add_is_audited_as_the_operator(app: Flask, add: Callable[..., Run]) -> None:
    add("li.na")
    add("wang", "--invite")
    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action=users.CREATE), 10)
    assert [(e.target, e.outcome, e.details["invited"]) for e in entries] == [
        ("user/wang", 201, True),
        ("user/li.na", 201, False),
    ]
    assert all(e.actor.startswith("cli:") for e in entries)
    assert all(PASSWORD not in str(e.details) for e in entries)


@pytest.mark.parametrize("username", ["Li.Na", "l", ".lina", "li na"])
def test_add_refuses_a_bad_username(
    add: Callable[..., Run], hub_users: Callable[..., Run], username: str
) -> None:
    run = add(username)
    assert_refused(run, "Invalid username", "username:", "lower-case")
    assert listed(hub_users) == {}


def test_add_accepts_an_e_mail_like_username(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    assert add("li.na@city.gov.cn").exit_code == 0
    assert list(listed(hub_users)) == ["li.na@city.gov.cn"]


def test_add_refuses_a_short_password(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    assert_refused(add("li.na", password="short"), "password")
    assert_refused(add("li.na", password=""), "password")
    assert listed(hub_users) == {}


def test_add_refuses_an_unknown_department(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    assert_refused(add("li.na", "--department", "nowhere"), "nowhere", "department")
    assert listed(hub_users) == {}


def test_add_refuses_an_unknown_role(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    run = add("li.na", "--role", "superuser")
    assert run.exit_code == 2
    assert "superuser" in run.stderr
    assert "officer" in run.stderr, "the choices are shown"
    assert "Traceback" not in run.stderr
    assert listed(hub_users) == {}


def test_add_refuses_a_taken_username(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    assert add("li.na").exit_code == 0
    assert_refused(add("li.na", "--department", "finance", "--invite"), "li.na", "already exists")
    assert listed(hub_users)["li.na"][:2] == ["land", "officer"]


# hub users list


def test_list_shows_each_user_by_username_with_how_they_sign_in(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("zhao", "--department", "finance", "--role", "admin", "--name", "Zhao Min")
    add("invited", "--invite")
    add("expired", "--role", "viewer", "--invite")
    add("off", "--department", "ndrc")
    with app.app_context(), db.unit_of_work() as session:
        users.get_user(session, "expired").invite_expires_at = utcnow() - timedelta(minutes=1)
        users.user_from_claims(session, "city-0001", "lin", "land", "office", "Lin Hua")
    assert hub_users("disable", "off").exit_code == 0

    run = hub_users("list")
    assert run.exit_code == 0, run.stderr
    assert [line.split("\t") for line in run.stdout.splitlines()] == [
        ["expired", "land", "viewer", "active", "invitation-expired", "expired"],
        ["invited", "land", "officer", "active", "invited", "invited"],
        ["lin", "land", "office", "active", "single-sign-on", "Lin Hua"],
        ["off", "ndrc", "officer", "disabled", "password", "off"],
        ["zhao", "finance", "admin", "active", "password", "Zhao Min"],
    ]


def test_list_narrows_to_a_department(
    add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("zhao", "--department", "finance")
    add("li.na")
    add("chen")
    assert list(listed(hub_users, "--department", "land")) == ["chen", "li.na"]
    assert list(listed(hub_users, "--department", "finance")) == ["zhao"]
    assert listed(hub_users, "--department", "nowhere") == {}


def test_list_of_no_users_is_empty(hub_users: Callable[..., Run]) -> None:
    run = hub_users("list")
    assert (run.exit_code, run.stdout) == (0, "")


# hub users disable / enable


def test_disable_and_enable(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("li.na", "--name", "Li Na")
    disabled = hub_users("disable", "li.na")
    assert disabled.exit_code == 0, disabled.stderr
    assert disabled.stdout.split("\t") == [
        "li.na",
        "land",
        "officer",
        "disabled",
        "password",
        "Li Na\n",
    ]
    user = stored(app, "li.na")
    assert user.disabled_at is not None
    assert user.sessions_valid_after == user.disabled_at, "their sessions end"
    assert not signs_in(app, "li.na", PASSWORD)

    enabled = hub_users("enable", "li.na")
    assert enabled.exit_code == 0, enabled.stderr
    assert enabled.stdout.split("\t")[3] == "active"
    assert stored(app, "li.na").disabled_at is None
    assert signs_in(app, "li.na", PASSWORD)
    assert listed(hub_users)["li.na"][2] == "active"

    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action=users.UPDATE), 10)
    assert [(e.details, e.outcome) for e in entries] == [
        ({"disabled": False}, 200),
        ({"disabled": True}, 200),
    ]
    assert all(e.actor.startswith("cli:") for e in entries)


@pytest.mark.parametrize("command", ["disable", "enable", "reset-password"])
def test_a_command_on_an_unknown_user_fails_clearly(
    hub_users: Callable[..., Run], command: str
) -> None:
    run = hub_users(command, "nobody", piped=f"{PASSWORD}\n")
    assert_refused(run, "There is no user 'nobody'")
    assert run.exit_code == 1


# hub users reset-password


def test_reset_password_reads_the_new_one_from_standard_input(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("li.na")
    run = hub_users("reset-password", "li.na", piped=f"{OTHER_PASSWORD}\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Reset the password of li.na." in run.stderr
    assert signs_in(app, "li.na", OTHER_PASSWORD)
    assert not signs_in(app, "li.na", PASSWORD)
    assert stored(app, "li.na").sessions_valid_after is not None


def test_reset_password_with_invite_prints_a_new_link(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("li.na")
    run = hub_users("reset-password", "li.na", "--invite")
    assert run.exit_code == 0, run.stderr
    link = run.stdout.strip()
    assert run.stdout == f"{link}\n"
    assert link.startswith(LINK_PREFIX)
    assert "One-time link for li.na" in run.stderr
    assert not signs_in(app, "li.na", PASSWORD), "the old password no longer works"
    assert listed(hub_users)["li.na"][3] == "invited"
    accept(app, link, OTHER_PASSWORD)
    assert signs_in(app, "li.na", OTHER_PASSWORD)

    with app.app_context():
        [entry], _ = list_entries(db.session, AuditFilter(action=users.RESET_PASSWORD), 10)
    assert (entry.target, entry.outcome, entry.details) == ("user/li.na", 200, {"invited": True})


def test_reset_password_to_a_short_one_changes_nothing(
    app: Flask, add: Callable[..., Run], hub_users: Callable[..., Run]
) -> None:
    add("li.na")
    assert_refused(hub_users("reset-password", "li.na", piped="short\n"), "password")
    assert signs_in(app, "li.na", PASSWORD)
    assert stored(app, "li.na").sessions_valid_after is None


def test_reset_password_of_a_single_sign_on_user_is_refused(
    app: Flask, hub_users: Callable[..., Run]
) -> None:
    with app.app_context(), db.unit_of_work() as session:
        users.user_from_claims(session, "city-0001", "lin", "land", "officer", "Lin Hua")
    for options in ((), ("--invite",)):
        run = hub_users("reset-password", "lin", *options, piped=f"{PASSWORD}\n")
        assert_refused(run, "lin", "single sign-on")
    user = stored(app, "lin")
    assert (user.password_hash, user.invite_digest) == (None, None)
    assert listed(hub_users)["lin"][3] == "single-sign-on"
