"""Fixtures: an app on a fresh database per test, clients, and factories of departments and keys.

The suite runs on SQLite by default and on PostgreSQL when ``HUB_TEST_DATABASE_URL`` is set.
SQLite: the schema is migrated once into a template file that each test copies. PostgreSQL: each
run migrates its own schema and every test starts from emptied tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connectors.simulators import ServedApp
from hub import create_app
from hub.audit.chain import GENESIS_HASH
from hub.auth import service as auth
from hub.cli import main
from hub.core.db import Base, build_engine, normalise_database_url
from hub.core.extensions import db
from hub.core.migrate import upgrade
from hub.events import notify
from tests.factories import OPERATOR, PROJECT_CODE, PROJECTS, project_data
from tests.live import Outage
from tests.receiver import Receiver
from tests.type_helpers import KEYS

TEST_SECRET = "test-secret-key-" + "x" * 32
STANDARD_DEPARTMENTS = {
    "ndrc": ["project"],
    "land": ["land_parcel"],
    "finance": ["funding"],
    "approval": ["permit"],
    "audit": [],
}
READ_WRITE = ["records:read", "records:write", "events:read"]
# seeded by the migrations; reset rather than emptied between tests
SINGLE_ROW_TABLES = frozenset({"event_counter", "audit_head"})


def _postgres_url_with_schema(base_url: str, schema: str) -> str:
    url = make_url(normalise_database_url(base_url))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this run: a template SQLite file, or a PostgreSQL schema."""
    server_url = os.environ.get("HUB_TEST_DATABASE_URL")
    if not server_url:
        template = tmp_path_factory.mktemp("template") / "hub.sqlite3"
        engine = build_engine(f"sqlite:///{template}", pool_size=1, echo=False, busy_timeout=5)
        upgrade(engine)
        engine.dispose()
        yield f"sqlite:///{template}"
        return
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    admin = build_engine(server_url, pool_size=1, echo=False, busy_timeout=5)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_url_with_schema(server_url, schema)
    engine = build_engine(url, pool_size=1, echo=False, busy_timeout=5)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    """A database holding only the migrated schema, for one test."""
    if database_template.startswith("sqlite"):
        target = tmp_path / "hub.sqlite3"
        shutil.copyfile(database_template.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    engine = build_engine(database_template, pool_size=1, echo=False, busy_timeout=5)
    tables = ", ".join(
        f'"{table.name}"'
        for table in Base.metadata.sorted_tables
        if table.name not in SINGLE_ROW_TABLES
    )
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("UPDATE event_counter SET last_sequence = 0, retained_after = 0"))
        connection.execute(
            text("UPDATE audit_head SET last_seq = 0, last_hash = :genesis"),
            {"genesis": GENESIS_HASH},
        )
    engine.dispose()
    return database_template


@pytest.fixture
def settings(database_url: str) -> dict[str, Any]:
    """The test overrides of the app's settings."""
    return {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "TESTING": True}


@pytest.fixture
def app(
    settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The hub on a fresh database."""
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(settings)
    yield application
    notify.notifier(application).close()
    db.dispose(application)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback."""
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def live_hub(app: Flask) -> Iterator[LiveHub]:
    """The app served over HTTP on loopback, for connectors; ``outage`` makes it answer 503."""
    outage = Outage(app.wsgi_app)
    app.wsgi_app = outage  # type: ignore[method-assign]
    served = ServedApp(app)
    yield LiveHub(served.url, outage)
    served.shutdown()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An HTTP client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner of the ``hub`` CLI against the app."""
    return app.test_cli_runner()


@pytest.fixture
def make_department(app: Flask) -> Callable[..., str]:
    """Create a department: ``make_department("land", publishes=["land_parcel"])``."""

    def make(department_id: str, publishes: list[str] | None = None, name: str = "") -> str:
        with app.app_context(), db.unit_of_work() as session:
            auth.add_department(
                session, OPERATOR, department_id, name or department_id, publishes or []
            )
        return department_id

    return make


@pytest.fixture
def make_key(app: Flask) -> Callable[..., str]:
    """Create an access key; returns its secret."""

    def make(department_id: str, scopes: list[str] | None = None, **options: Any) -> str:
        with app.app_context(), db.unit_of_work() as session:
            _, secret = auth.create_key(
                session, OPERATOR, department_id, scopes or READ_WRITE, **options
            )
        return secret

    return make


@pytest.fixture
def token_for(client: FlaskClient, make_key: Callable[..., str]) -> Callable[..., str]:
    """Exchange a new key of a department for a bearer token."""

    def token(department_id: str, scopes: list[str] | None = None) -> str:
        secret = make_key(department_id, scopes)
        response = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200, response.json
        return str(response.json["access_token"])

    return token


@pytest.fixture
def departments(make_department: Callable[..., str]) -> dict[str, list[str]]:
    """The four standard departments, plus ``audit``, which publishes nothing."""
    for department_id, publishes in STANDARD_DEPARTMENTS.items():
        make_department(department_id, publishes)
    return STANDARD_DEPARTMENTS


@pytest.fixture
def headers(
    departments: dict[str, list[str]], token_for: Callable[..., str]
) -> Callable[..., dict[str, str]]:
    """Bearer headers of a standard department: ``headers("land")``."""
    cache: dict[tuple[str, tuple[str, ...]], str] = {}

    def make(department_id: str, scopes: list[str] | None = None) -> dict[str, str]:
        wanted = tuple(scopes or READ_WRITE)
        if (department_id, wanted) not in cache:
            cache[(department_id, wanted)] = token_for(department_id, list(wanted))
        return {"Authorization": f"Bearer {cache[(department_id, wanted)]}"}

    return make


@pytest.fixture
def admin(
    departments: dict[str, list[str]],
    make_department: Callable[..., str],
    token_for: Callable[..., str],
) -> dict[str, str]:
    """Bearer headers of the hub's administrators (the standard departments exist too)."""
    make_department("admin", [], name="Hub administration")
    return {"Authorization": f"Bearer {token_for('admin', ['admin'])}"}


@pytest.fixture
def publish(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """PUT a record as the department that owns its type; returns the response."""
    owners = {t: d for d, types in STANDARD_DEPARTMENTS.items() for t in types}

    def put(type_name: str, key: str, data: dict[str, Any], **extra_headers: str) -> Any:
        return client.put(
            f"/api/v1/records/{type_name}/{key}",
            json=data,
            headers={**headers(owners[type_name]), **extra_headers},
        )

    return put


@pytest.fixture
def put(publish: Callable[..., Any]) -> Callable[..., Any]:
    """PUT a body of a type at its usual key (or ``key``) as its owning department."""

    def send(type_name: str, data: Any, key: str | None = None) -> Any:
        return publish(type_name, key or KEYS[type_name], data)

    return send


@pytest.fixture
def project(publish: Callable[..., Any]) -> str:
    """A published project; returns its code."""
    response = publish("project", PROJECT_CODE, project_data())
    assert response.status_code == 201, response.json
    return PROJECT_CODE


@pytest.fixture
def projects(publish: Callable[..., Any]) -> list[str]:
    """Both projects of ``tests.factories.PROJECTS`` published, each with its own division."""
    for code in PROJECTS:
        response = publish("project", code, project_data(admin_division=code[5:11]))
        assert response.status_code == 201, response.json
    return PROJECTS


@dataclass(frozen=True)
class LiveHub:
    """A hub served over HTTP."""

    url: str
    outage: Outage


@dataclass(frozen=True)
class Run:
    """The outcome of one ``hub`` command."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def hub_cli(
    app: Flask, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """Run ``hub ARGS...`` through the console script's entry point, against the test app."""
    monkeypatch.setattr("hub.cli._create_app", lambda: app)

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
