"""The ``hub`` command line: departments, access keys, ``hub init`` and configuration errors.

Most tests run the console script's entry point, ``hub.cli.main``, in this process against the
test app (its app factory swapped for the test app), so they see exactly what a user sees:
the exit code, stdout and stderr, including the messages ``main`` prints for refused commands.
The ``hub init`` and configuration tests run the installed ``hub`` script in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from alembic import command as alembic_command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import create_app
from hub.audit.models import AuditEntry
from hub.core.db import build_engine
from hub.core.extensions import db
from hub.core.migrate import alembic_config, head_revision
from hub.demo import PLANS
from tests.conftest import Run
from tests.factories import PROJECT_CODE, parcel_data, project_data

HUB_SCRIPT = Path(sys.executable).parent / "hub"
DEMO_DEPARTMENTS = {"ndrc", "land", "finance", "approval", "office"}


@pytest.fixture
def land(hub_cli: Callable[..., Run]) -> str:
    """The land department, added through the CLI."""
    run = hub_cli(
        "departments", "add", "land", "--name", "Land Bureau", "--publishes", "land_parcel"
    )
    assert run.exit_code == 0, run.stderr
    return "land"


def exchange(client: FlaskClient, secret: str) -> Any:
    return client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"})


# Departments


def test_an_added_department_is_listed(hub_cli: Callable[..., Run]) -> None:
    added = hub_cli(
        "departments", "add", "land", "--name", "Land Bureau", "--publishes", "land_parcel"
    )
    assert added.exit_code == 0, added.stderr
    listed = hub_cli("departments", "list")
    assert listed.exit_code == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split("\t")[0] == "land"
    assert "Land Bureau" in line
    assert "land_parcel" in line


def test_a_department_may_be_allowed_several_types(hub_cli: Callable[..., Run]) -> None:
    run = hub_cli(
        "departments",
        "add",
        "approval",
        "--name",
        "Approval Bureau",
        "--publishes",
        "permit",
        "--publishes",
        "land_parcel",
    )
    assert run.exit_code == 0, run.stderr
    [line] = hub_cli("departments", "list").stdout.splitlines()
    assert "permit" in line
    assert "land_parcel" in line


def test_adding_a_department_twice_fails_with_a_clear_message(
    hub_cli: Callable[..., Run], land: str
) -> None:
    again = hub_cli("departments", "add", "land", "--name", "Other", "--publishes", "permit")
    assert again.exit_code != 0
    assert "land" in again.stderr
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    [line] = hub_cli("departments", "list").stdout.splitlines()
    assert "Land Bureau" in line


def test_an_unknown_record_type_in_publishes_is_refused(hub_cli: Callable[..., Run]) -> None:
    run = hub_cli("departments", "add", "land", "--name", "Land", "--publishes", "no_such_type")
    assert run.exit_code != 0
    assert "no_such_type" in run.stderr
    assert "Traceback" not in run.stderr
    assert hub_cli("departments", "list").stdout == ""


@pytest.mark.parametrize("department_id", ["Land", "1land", "land bureau", "x"])
def test_an_invalid_department_id_is_refused(
    hub_cli: Callable[..., Run], department_id: str
) -> None:
    run = hub_cli("departments", "add", department_id, "--name", "Land")
    assert run.exit_code != 0
    assert "department id" in run.stderr.lower()
    assert hub_cli("departments", "list").stdout == ""


# Access keys


def test_keys_create_prints_the_secret_alone_and_it_works(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    run = hub_cli(
        "keys",
        "create",
        "--department",
        "land",
        "--scope",
        "records:read",
        "--scope",
        "records:write",
        "--name",
        "sync",
    )
    assert run.exit_code == 0, run.stderr
    assert run.stdout.endswith("\n")
    [secret] = run.stdout.splitlines()
    assert secret.startswith("hubk_")
    assert secret.strip() == secret
    assert secret not in run.stderr

    response = exchange(client, secret)
    assert response.status_code == 200, response.json
    claims = jwt.decode(response.json["access_token"], options={"verify_signature": False})
    assert claims["dept"] == "land"
    assert claims["scope"].split() == ["records:read", "records:write"]


def test_keys_list_shows_ids_and_scopes_but_never_secrets(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secrets = []
    for name in ("sync", "reader"):
        run = hub_cli(
            "keys",
            "create",
            "--department",
            "land",
            "--scope",
            "records:read",
            "--scope",
            "events:read",
            "--name",
            name,
        )
        assert run.exit_code == 0, run.stderr
        secrets.append(run.stdout.strip())
    key_ids = [
        jwt.decode(exchange(client, s).json["access_token"], options={"verify_signature": False})[
            "sub"
        ]
        for s in secrets
    ]

    listed = hub_cli("keys", "list")
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    for key_id, name in zip(key_ids, ("sync", "reader"), strict=True):
        [line] = [line for line in lines if key_id in line]
        assert "records:read" in line
        assert "events:read" in line
        assert "land" in line
        assert name in line
    for secret in secrets:
        random_part = secret.split("_", 2)[2]  # hubk_<id>_<secret>
        assert random_part not in listed.stdout + listed.stderr


def test_keys_list_can_be_narrowed_to_one_department(
    hub_cli: Callable[..., Run], land: str
) -> None:
    assert hub_cli("departments", "add", "finance", "--name", "Finance").exit_code == 0
    for department in ("land", "finance"):
        run = hub_cli("keys", "create", "--department", department, "--scope", "records:read")
        assert run.exit_code == 0, run.stderr
    listed = hub_cli("keys", "list", "--department", "finance")
    assert listed.exit_code == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert "finance" in line
    assert "land" not in line


def test_keys_revoke_stops_the_key_and_its_tokens_at_once(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    run = hub_cli("keys", "create", "--department", "land", "--scope", "records:read")
    secret = run.stdout.strip()
    token = exchange(client, secret).json["access_token"]
    key_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/records/land_parcel", headers=bearer).status_code == 200

    revoked = hub_cli("keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.stderr

    after = client.get("/api/v1/records/land_parcel", headers=bearer)
    assert after.status_code == 401
    assert after.mimetype == "application/problem+json"
    assert exchange(client, secret).status_code == 401
    [line] = hub_cli("keys", "list").stdout.splitlines()
    assert key_id in line
    assert "revoked" in line


def test_revoking_an_unknown_key_fails(hub_cli: Callable[..., Run], land: str) -> None:
    run = hub_cli("keys", "revoke", "000000000000")
    assert run.exit_code != 0
    assert "000000000000" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_key_may_expire_after_a_number_of_days(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    run = hub_cli(
        "keys", "create", "--department", "land", "--scope", "records:read", "--expires-in", "30"
    )
    assert run.exit_code == 0, run.stderr
    assert exchange(client, run.stdout.strip()).status_code == 200
    [line] = hub_cli("keys", "list").stdout.splitlines()
    assert "never" not in line


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(["--scope", "records:read", "--expires-in", "0"], "--expires-in", id="0-days"),
        pytest.param(
            ["--scope", "records:read", "--expires-in", "-3"], "--expires-in", id="negative-days"
        ),
        pytest.param(["--scope", "records:everything"], "records:everything", id="unknown-scope"),
        pytest.param([], "--scope", id="no-scope"),
        pytest.param(
            ["--department", "nowhere", "--scope", "records:read"],
            "nowhere",
            id="unknown-department",
        ),
    ],
)
def test_keys_create_refuses_bad_options(
    hub_cli: Callable[..., Run], land: str, options: list[str], named: str
) -> None:
    if "--department" not in options:
        options = ["--department", "land", *options]
    run = hub_cli("keys", "create", *options)
    assert run.exit_code != 0
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    assert "hubk_" not in run.stdout
    assert hub_cli("keys", "list").stdout == ""


# Changing departments and keys, and the audit entries of every change


def audit_entries(app: Flask, action: str | None = None) -> list[AuditEntry]:
    """The audit log's entries (of one action), oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    with app.app_context():
        return list(db.session.scalars(query))


def assert_cli_entry(entry: AuditEntry, action: str, target: str, outcome: int = 200) -> None:
    """Assert an audit entry of a successful CLI change (201: it created something, as the
    same action over HTTP records)."""
    assert entry.action == action
    assert entry.target == target
    assert entry.outcome == outcome
    assert entry.actor.startswith("cli:")
    assert entry.department_id is None
    assert entry.key_id is None


def create_key(hub_cli: Callable[..., Run], department: str = "land", *options: str) -> str:
    """Create a records:read key through the CLI; returns its secret."""
    run = hub_cli("keys", "create", "--department", department, "--scope", "records:read", *options)
    assert run.exit_code == 0, run.stderr
    return run.stdout.strip()


def key_id_of(secret: str) -> str:
    return secret.split("_")[1]  # hubk_<id>_<secret>


def bearer_of(client: FlaskClient, secret: str) -> dict[str, str]:
    response = exchange(client, secret)
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def read_status(client: FlaskClient, bearer: dict[str, str]) -> int:
    return client.get("/api/v1/records/land_parcel", headers=bearer).status_code


def key_line(hub_cli: Callable[..., Run], key_id: str) -> str:
    [line] = [line for line in hub_cli("keys", "list").stdout.splitlines() if key_id in line]
    return line


def test_adding_a_department_is_audited(app: Flask, land: str) -> None:
    [entry] = audit_entries(app, "department.create")
    assert_cli_entry(entry, "department.create", "department/land", 201)
    assert entry.details == {"name": "Land Bureau", "publishes": ["land_parcel"]}


def test_departments_update_renames_and_replaces_the_types_and_is_audited(
    app: Flask, hub_cli: Callable[..., Run], land: str
) -> None:
    run = hub_cli(
        "departments",
        "update",
        "land",
        "--name",
        "Land and Resources",
        "--publishes",
        "permit",
        "--publishes",
        "land_parcel",
    )
    assert run.exit_code == 0, run.stderr
    [line] = hub_cli("departments", "list").stdout.splitlines()
    assert line.split("\t") == ["land", "active", "land_parcel,permit", "Land and Resources"]
    [entry] = audit_entries(app, "department.update")
    assert_cli_entry(entry, "department.update", "department/land")
    assert entry.details == {"name": "Land and Resources", "publishes": ["land_parcel", "permit"]}


def test_departments_update_no_publishes_takes_every_type_away(
    app: Flask, hub_cli: Callable[..., Run], land: str
) -> None:
    run = hub_cli("departments", "update", "land", "--no-publishes")
    assert run.exit_code == 0, run.stderr
    [line] = hub_cli("departments", "list").stdout.splitlines()
    assert line.split("\t")[:3] == ["land", "active", "-"]
    [entry] = audit_entries(app, "department.update")
    assert entry.details == {"publishes": []}


def test_taking_a_type_away_refuses_the_next_put_with_the_existing_token(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secret = create_key(hub_cli, "land", "--scope", "records:write")
    bearer = bearer_of(client, secret)
    assert (
        hub_cli("departments", "add", "ndrc", "--name", "NDRC", "--publishes", "project").exit_code
        == 0
    )
    ndrc = bearer_of(client, create_key(hub_cli, "ndrc", "--scope", "records:write"))
    url = "/api/v1/records"
    assert (
        client.put(f"{url}/project/{PROJECT_CODE}", json=project_data(), headers=ndrc).status_code
        == 201
    )
    assert (
        client.put(f"{url}/land_parcel/L-1", json=parcel_data(), headers=bearer).status_code == 201
    )

    assert hub_cli("departments", "update", "land", "--no-publishes").exit_code == 0
    refused = client.put(f"{url}/land_parcel/L-1", json=parcel_data(area_mu=1), headers=bearer)
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(["--publishes", "permit", "--no-publishes"], "--no-publishes", id="both"),
        pytest.param([], "Nothing to change", id="nothing"),
        pytest.param(["--publishes", "no_such_type"], "no_such_type", id="unknown-type"),
    ],
)
def test_departments_update_refuses_bad_options_and_changes_nothing(
    app: Flask, hub_cli: Callable[..., Run], land: str, options: list[str], named: str
) -> None:
    before = hub_cli("departments", "list").stdout
    run = hub_cli("departments", "update", "land", *options)
    assert run.exit_code != 0
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    assert hub_cli("departments", "list").stdout == before
    assert audit_entries(app, "department.update") == []


@pytest.mark.parametrize("command", ["update", "disable", "enable"])
def test_changing_an_unknown_department_fails_naming_it(
    app: Flask, hub_cli: Callable[..., Run], command: str
) -> None:
    options = ["--name", "Water"] if command == "update" else []
    run = hub_cli("departments", command, "water", *options)
    assert run.exit_code != 0
    assert "water" in run.stderr
    assert "Traceback" not in run.stderr
    assert audit_entries(app, "department.update") == []


def test_disabling_a_department_refuses_its_tokens_until_it_is_enabled(
    app: Flask, hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secret = create_key(hub_cli)
    bearer = bearer_of(client, secret)
    assert read_status(client, bearer) == 200

    disabled = hub_cli("departments", "disable", "land")
    assert disabled.exit_code == 0, disabled.stderr
    assert read_status(client, bearer) == 401
    assert exchange(client, secret).status_code == 401
    assert hub_cli("departments", "list").stdout.split("\t")[1] == "disabled"
    assert "\tdisabled\t" in key_line(hub_cli, key_id_of(secret))

    enabled = hub_cli("departments", "enable", "land")
    assert enabled.exit_code == 0, enabled.stderr
    assert read_status(client, bearer) == 200
    assert "\tactive\t" in key_line(hub_cli, key_id_of(secret))

    entries = audit_entries(app, "department.update")
    assert [entry.details for entry in entries] == [{"disabled": True}, {"disabled": False}]
    for entry in entries:
        assert_cli_entry(entry, "department.update", "department/land")


def test_creating_a_key_is_audited_without_its_secret(
    app: Flask, hub_cli: Callable[..., Run], land: str
) -> None:
    secret = create_key(hub_cli, "land", "--name", "sync", "--expires-in", "30")
    [entry] = audit_entries(app, "key.create")
    assert_cli_entry(entry, "key.create", f"key/{key_id_of(secret)}", 201)
    assert entry.details["department"] == "land"
    assert entry.details["scopes"] == ["records:read"]
    assert entry.details["name"] == "sync"
    assert entry.details["expires_at"] is not None
    assert secret.split("_", 2)[2] not in json.dumps(entry.details)


def test_keys_rotate_prints_the_new_secret_alone_and_both_work_during_the_grace(
    app: Flask, hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    old = create_key(hub_cli)
    old_bearer = bearer_of(client, old)

    run = hub_cli("keys", "rotate", key_id_of(old))
    assert run.exit_code == 0, run.stderr
    [new] = run.stdout.splitlines()
    assert new.startswith(f"hubk_{key_id_of(old)}_")
    assert new != old
    assert new not in run.stderr

    assert read_status(client, old_bearer) == 200
    assert read_status(client, bearer_of(client, old)) == 200
    assert read_status(client, bearer_of(client, new)) == 200
    assert "generation 2" in key_line(hub_cli, key_id_of(old))
    [entry] = audit_entries(app, "key.rotate")
    assert_cli_entry(entry, "key.rotate", f"key/{key_id_of(old)}")
    assert entry.details["generation"] == 2
    assert entry.details["grace_seconds"] == app.config["KEY_ROTATION_GRACE"]
    assert new.split("_", 2)[2] not in json.dumps(entry.details)


def test_keys_rotate_with_no_grace_ends_the_old_secret_and_its_tokens_at_once(
    app: Flask, hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    old = create_key(hub_cli)
    old_bearer = bearer_of(client, old)
    run = hub_cli("keys", "rotate", key_id_of(old), "--grace", "0")
    assert run.exit_code == 0, run.stderr
    new = run.stdout.strip()

    assert read_status(client, old_bearer) == 401
    assert exchange(client, old).status_code == 401
    assert read_status(client, bearer_of(client, new)) == 200
    [entry] = audit_entries(app, "key.rotate")
    assert entry.details["grace_seconds"] == 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        pytest.param(["000000000000"], "000000000000", id="unknown-key"),
        pytest.param(["KEY", "--grace", "-1"], "--grace", id="negative-grace"),
        pytest.param(["KEY", "--grace", "soon"], "--grace", id="grace-not-a-number"),
    ],
)
def test_keys_rotate_refuses_bad_arguments_and_rotates_nothing(
    app: Flask,
    hub_cli: Callable[..., Run],
    client: FlaskClient,
    land: str,
    arguments: list[str],
    named: str,
) -> None:
    secret = create_key(hub_cli)
    arguments = [key_id_of(secret) if a == "KEY" else a for a in arguments]
    run = hub_cli("keys", "rotate", *arguments)
    assert run.exit_code != 0
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    assert "hubk_" not in run.stdout
    assert exchange(client, secret).status_code == 200
    assert audit_entries(app, "key.rotate") == []


def test_a_revoked_key_cannot_be_rotated(hub_cli: Callable[..., Run], land: str) -> None:
    secret = create_key(hub_cli)
    assert hub_cli("keys", "revoke", key_id_of(secret)).exit_code == 0
    run = hub_cli("keys", "rotate", key_id_of(secret))
    assert run.exit_code != 0
    assert "revoked" in run.stderr
    assert "hubk_" not in run.stdout


def test_revoking_a_key_is_audited(app: Flask, hub_cli: Callable[..., Run], land: str) -> None:
    secret = create_key(hub_cli)
    assert hub_cli("keys", "revoke", key_id_of(secret)).exit_code == 0
    [entry] = audit_entries(app, "key.revoke")
    assert_cli_entry(entry, "key.revoke", f"key/{key_id_of(secret)}")
    assert entry.details["revoked_at"] is not None


def test_keys_expire_now_refuses_the_key_and_its_tokens_and_never_restores_them(
    app: Flask, hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secret = create_key(hub_cli)
    key_id = key_id_of(secret)
    bearer = bearer_of(client, secret)

    expired = hub_cli("keys", "expire", key_id, "--now")
    assert expired.exit_code == 0, expired.stderr
    assert read_status(client, bearer) == 401
    assert exchange(client, secret).status_code == 401
    assert "\texpired\t" in key_line(hub_cli, key_id)

    cleared = hub_cli("keys", "expire", key_id, "--never")
    assert cleared.exit_code == 0, cleared.stderr
    assert read_status(client, bearer) == 200
    assert "expires never" in key_line(hub_cli, key_id)

    entries = audit_entries(app, "key.expire")
    assert len(entries) == 2
    for entry in entries:
        assert_cli_entry(entry, "key.expire", f"key/{key_id}")
    assert entries[0].details["expires_at"] is not None
    assert entries[1].details == {"expires_at": None}


def test_keys_expire_at_a_future_moment_keeps_the_key_working_until_then(
    app: Flask, hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secret = create_key(hub_cli)
    run = hub_cli("keys", "expire", key_id_of(secret), "--at", "2999-06-01T08:00:00+08:00")
    assert run.exit_code == 0, run.stderr
    line = key_line(hub_cli, key_id_of(secret))
    assert "expires 2999-06-01T00:00:00+00:00" in line
    assert "\tactive\t" in line
    assert exchange(client, secret).status_code == 200
    [entry] = audit_entries(app, "key.expire")
    assert entry.details == {"expires_at": "2999-06-01T00:00:00+00:00"}


def test_keys_expire_at_a_past_moment_ends_the_key_now(
    hub_cli: Callable[..., Run], client: FlaskClient, land: str
) -> None:
    secret = create_key(hub_cli)
    run = hub_cli("keys", "expire", key_id_of(secret), "--at", "2001-01-01T00:00:00Z")
    assert run.exit_code == 0, run.stderr
    assert exchange(client, secret).status_code == 401


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param([], "--at", id="none"),
        pytest.param(["--now", "--never"], "--never", id="now-and-never"),
        pytest.param(["--now", "--at", "2999-01-01T00:00:00Z"], "--at", id="now-and-at"),
        pytest.param(["--at", "2999-01-01T00:00:00"], "offset", id="no-offset"),
        pytest.param(["--at", "tomorrow"], "tomorrow", id="not-a-date"),
    ],
)
def test_keys_expire_refuses_bad_options_and_changes_nothing(
    app: Flask, hub_cli: Callable[..., Run], land: str, options: list[str], named: str
) -> None:
    secret = create_key(hub_cli)
    run = hub_cli("keys", "expire", key_id_of(secret), *options)
    assert run.exit_code != 0
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    assert "expires never" in key_line(hub_cli, key_id_of(secret))
    assert audit_entries(app, "key.expire") == []


def test_expiring_an_unknown_or_revoked_key_fails(
    app: Flask, hub_cli: Callable[..., Run], land: str
) -> None:
    unknown = hub_cli("keys", "expire", "000000000000", "--now")
    assert unknown.exit_code != 0
    assert "000000000000" in unknown.stderr
    secret = create_key(hub_cli)
    hub_cli("keys", "revoke", key_id_of(secret))
    revoked = hub_cli("keys", "expire", key_id_of(secret), "--never")
    assert revoked.exit_code != 0
    assert "revoked" in revoked.stderr
    assert "Traceback" not in unknown.stderr + revoked.stderr
    assert audit_entries(app, "key.expire") == []


def test_a_failed_command_leaves_no_audit_entry(
    app: Flask, hub_cli: Callable[..., Run], land: str
) -> None:
    assert hub_cli("departments", "add", "land", "--name", "Again").exit_code != 0
    assert (
        hub_cli("keys", "create", "--department", "water", "--scope", "records:read").exit_code != 0
    )
    assert hub_cli("keys", "revoke", "000000000000").exit_code != 0
    assert [entry.action for entry in audit_entries(app)] == ["department.create"]


# hub init and configuration, in a subprocess as an operator runs them


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any HUB_ variable, plus ``variables``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env.update(variables)
    return env


def run_hub(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUB_SCRIPT), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def embedded_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Flask]]:
    """Build the app the way ``hub`` would in a clean environment, for the given instance."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    made: list[Flask] = []

    def make() -> Flask:
        made.append(create_app())
        return made[-1]

    yield make
    for application in made:
        db.dispose(application)


def test_hub_init_demo_sets_up_a_working_embedded_hub_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_app: Callable[[], Flask]
) -> None:
    instance = tmp_path / "instance"
    env = clean_environment(HUB_INSTANCE_PATH=str(instance))

    first = run_hub(env, "init", "--demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Created the database" in first.stderr
    secret_file = instance / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_text().strip()) >= 32
    assert (instance / "hub.sqlite3").is_file()
    keys_file = instance / "demo-keys.txt"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    demo_keys = dict(line.split() for line in keys_file.read_text().splitlines())
    assert set(demo_keys) == DEMO_DEPARTMENTS | {"admin"}
    assert all(secret.startswith("hubk_") for secret in demo_keys.values())

    departments = run_hub(env, "departments", "list", cwd=tmp_path)
    assert departments.returncode == 0, departments.stderr
    listed_ids = {line.split("\t")[0] for line in departments.stdout.splitlines()}
    assert listed_ids >= DEMO_DEPARTMENTS
    keys = run_hub(env, "keys", "list", cwd=tmp_path)
    assert keys.returncode == 0, keys.stderr

    secret_before = secret_file.read_text()
    again = run_hub(env, "init", "--demo", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already at the latest schema" in again.stderr
    assert "Created" not in again.stderr
    assert secret_file.read_text() == secret_before
    assert run_hub(env, "departments", "list", cwd=tmp_path).stdout == departments.stdout
    assert run_hub(env, "keys", "list", cwd=tmp_path).stdout == keys.stdout
    assert dict(line.split() for line in keys_file.read_text().splitlines()) == demo_keys

    # The demo keys work against the hub that init built, and the demo records are there.
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(instance))
    client = embedded_app().test_client()
    response = exchange(client, demo_keys["land"])
    assert response.status_code == 200, response.json
    bearer = {"Authorization": f"Bearer {response.json['access_token']}"}
    projects = client.get("/api/v1/records/project", headers=bearer)
    assert projects.status_code == 200, projects.json
    assert len(projects.json["items"]) == len(PLANS)


def test_hub_init_says_when_it_migrates_an_older_database(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = clean_environment(HUB_INSTANCE_PATH=str(instance))
    assert run_hub(env, "init", cwd=tmp_path).returncode == 0
    database = f"sqlite:///{instance / 'hub.sqlite3'}"
    engine = build_engine(database, pool_size=1, echo=False, busy_timeout=5)
    alembic_command.downgrade(alembic_config(engine), "0004")
    engine.dispose()
    run = run_hub(env, "init", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"Migrated the database from schema 0004 to {head_revision()}" in run.stderr


def test_hub_init_without_demo_creates_an_empty_database(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = clean_environment(HUB_INSTANCE_PATH=str(instance))
    run = run_hub(env, "init", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (instance / "secret_key").is_file()
    assert not (instance / "demo-keys.txt").exists()
    listed = run_hub(env, "departments", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""


SERVER_DATABASE = {"HUB_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
LIST = ("departments", "list")


@pytest.mark.parametrize(
    ("command", "variables", "named"),
    [
        pytest.param(LIST, {"HUB_NO_SUCH_SETTING": "1"}, "HUB_NO_SUCH_SETTING", id="unknown"),
        pytest.param(("init",), {"HUB_NO_SUCH_SETTING": "1"}, "HUB_NO_SUCH_SETTING", id="init"),
        pytest.param(LIST, {"HUB_TOKEN_TTL": "soon"}, "HUB_TOKEN_TTL", id="badly-typed"),
        pytest.param(LIST, SERVER_DATABASE, "HUB_SECRET_KEY", id="server-db-without-secret"),
        pytest.param(
            ("init",), SERVER_DATABASE, "HUB_SECRET_KEY", id="init-server-db-without-secret"
        ),
        pytest.param(
            LIST,
            {"HUB_SECRET_KEY": "short", "HUB_DATABASE_URL": "sqlite:///hub.sqlite3"},
            "HUB_SECRET_KEY must be at least 32 characters",
            id="short-secret",
        ),
        pytest.param(
            LIST,
            {"HUB_PAGE_SIZE_DEFAULT": "5000"},
            "HUB_PAGE_SIZE_DEFAULT must not exceed PAGE_SIZE_MAX",
            id="conflicting",
        ),
    ],
)
def test_configuration_errors_stop_the_command_with_a_message_naming_them(
    tmp_path: Path, command: tuple[str, ...], variables: dict[str, str], named: str
) -> None:
    env = clean_environment(HUB_INSTANCE_PATH=str(tmp_path / "instance"), **variables)
    run = run_hub(env, *command, cwd=tmp_path)
    assert run.returncode != 0
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    if variables is SERVER_DATABASE:
        assert "secret" in run.stderr.lower()
        assert not (tmp_path / "instance" / "secret_key").exists()


def test_a_setting_from_the_config_file_is_named_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('secret_key = "short"\ndatabase_url = "sqlite:///hub.sqlite3"\n')
    env = clean_environment(HUB_INSTANCE_PATH=str(tmp_path / "instance"), HUB_CONFIG=str(config))
    run = run_hub(env, *LIST, cwd=tmp_path)
    assert run.returncode != 0
    assert "SECRET_KEY (in hub.toml) must be at least 32 characters" in run.stderr
    assert "HUB_SECRET_KEY" not in run.stderr


def test_help_before_init_lists_the_commands_without_a_traceback(tmp_path: Path) -> None:
    env = clean_environment(HUB_INSTANCE_PATH=str(tmp_path / "instance"))
    run = run_hub(env, "--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for command in ("init", "serve", "departments", "keys"):
        assert command in run.stdout
    assert "Traceback" not in run.stderr


def test_commands_before_init_say_to_run_hub_init(tmp_path: Path) -> None:
    secret = "s" * 40
    database = f"sqlite:///{tmp_path / 'never-initialised.sqlite3'}"
    env = clean_environment(HUB_SECRET_KEY=secret, HUB_DATABASE_URL=database)
    for args in (("users", "list"), ("departments", "list"), ("serve", "--port", "1")):
        run = run_hub(env, *args, cwd=tmp_path)
        assert run.returncode == 1, (args, run.stderr)
        assert "has no hub schema yet: run `hub init`" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


def test_an_older_schema_is_named_with_what_to_do(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = clean_environment(HUB_INSTANCE_PATH=str(instance))
    assert run_hub(env, "init", cwd=tmp_path).returncode == 0
    engine = build_engine(
        f"sqlite:///{instance / 'hub.sqlite3'}", pool_size=1, echo=False, busy_timeout=5
    )
    alembic_command.downgrade(alembic_config(engine), "0004")
    engine.dispose()
    run = run_hub(env, "users", "list", cwd=tmp_path)
    assert run.returncode == 1
    assert f"is at migration 0004 and this hub needs {head_revision()}" in run.stderr
    assert "run `hub init` to migrate it" in run.stderr


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe closes
    database = f"postgresql://hub:hunter2secret@127.0.0.1:{port}/hub"
    env = clean_environment(HUB_SECRET_KEY="s" * 40, HUB_DATABASE_URL=database)
    run = run_hub(env, *LIST, cwd=tmp_path)
    assert run.returncode == 1
    assert f"cannot reach the database at postgresql+psycopg://hub:***@127.0.0.1:{port}/hub" in (
        run.stderr
    )
    assert "hunter2secret" not in run.stderr
    assert "Traceback" not in run.stderr


def _serve_demo(
    tmp_path: Path, workers: int, *, demo: bool = True, **popen: Any
) -> tuple[subprocess.Popen[str], int, Path]:
    """``hub serve`` of a fresh hub (with the demo data) on a free port: the process, its port,
    its instance."""
    instance = tmp_path / "instance"
    env = clean_environment(HUB_INSTANCE_PATH=str(instance))
    init = ("init", "--demo") if demo else ("init",)
    assert run_hub(env, *init, cwd=tmp_path).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(HUB_SCRIPT), "serve", "--port", str(port), "--workers", str(workers)]
        + ["--threads", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
    return server, port, instance


def _ready(port: int, timeout: float = 30) -> Any:
    """What /readyz answers once the hub is up, or None if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                return json.load(reply)
        except OSError:
            time.sleep(0.2)
    return None


def _token_reply(port: int, instance: Path, department: str) -> Any:
    """The hub's answer to a token exchange with ``department``'s demo key."""
    keys = dict(line.split() for line in (instance / "demo-keys.txt").read_text().splitlines())
    exchange = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token",
        method="POST",
        headers={"Authorization": f"Bearer {keys[department]}"},
    )
    with urllib.request.urlopen(exchange, timeout=5) as reply:
        return json.load(reply)


def test_hub_serve_answers_over_http_and_stops_cleanly(tmp_path: Path) -> None:
    server, port, instance = _serve_demo(tmp_path, workers=1)
    try:
        ready = _ready(port)
        assert ready is not None, "hub serve did not answer /readyz within 30 s"
        assert ready["status"] == "ok"
        assert _token_reply(port, instance, "land")["token_type"] == "Bearer"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr


def test_ctrl_c_stops_hub_serve_at_once_even_with_a_long_poll_waiting(tmp_path: Path) -> None:
    # Ctrl-C signals the whole process group: the arbiter and its workers alike.
    server, port, instance = _serve_demo(tmp_path, workers=2, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert _ready(port) is not None, "hub serve did not answer /readyz within 30 s"
        token = _token_reply(port, instance, "land")["access_token"]
        poll = urllib.request.Request(
            f"{base}/api/v1/events?wait=25", headers={"Authorization": f"Bearer {token}"}
        )
        waiting = threading.Thread(target=_ignore_errors(urllib.request.urlopen), args=(poll,))
        waiting.start()
        time.sleep(1)  # the long-poll is held by a worker now
        interrupted = time.monotonic()
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=20)
        stopped_after = time.monotonic() - interrupted
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # The stop used to wait out the graceful timeout (30 s) for the held request.
    assert stopped_after < 10, f"hub serve took {stopped_after:.1f} s to stop"


def _ignore_errors(call: Callable[..., Any]) -> Callable[..., None]:
    def quiet(*args: Any) -> None:
        with contextlib.suppress(OSError):  # cut off by the stop, as it should be
            call(*args).close()

    return quiet


def test_requests_the_server_cannot_parse_get_problem_json(tmp_path: Path) -> None:
    server, port, _ = _serve_demo(tmp_path, workers=1, demo=False)
    try:
        assert _ready(port) is not None, "hub serve did not answer /readyz within 30 s"
        requests_and_statuses = [
            (b"NONSENSE\r\n\r\n", 400),
            (
                b"GET /api/v1/types HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "
                + b"k" * 10_000
                + b"\r\n\r\n",
                431,
            ),
        ]
        for raw, status in requests_and_statuses:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(raw)
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
            assert b"Content-Type: application/problem+json" in head
            problem = json.loads(body)
            assert problem["status"] == status
            assert problem["title"]
            assert problem["detail"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
