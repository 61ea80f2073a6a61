"""The application, its settings and its operational endpoints.

Settings come in layers (defaults < TOML file named by HUB_CONFIG < HUB_ environment <
overrides given to create_app) and are validated as a whole: unknown keys, values of the wrong
type and contradictory settings stop the app at start with a ConfigError naming them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import hub
from hub import create_app
from hub.core.config import DEFAULTS, ConfigError, ensure_instance_secret, load_settings
from hub.core.db import build_engine
from hub.core.extensions import db
from hub.core.migrate import head_revision, upgrade
from schemas import registry
from tests.conftest import READ_WRITE, TEST_SECRET
from tests.factories import OPERATOR, PROJECT_CODE, project_data

SECRET = "a-secret-of-at-least-thirty-two-characters"
SERVER_URL = "postgresql://hub@db.example/hub"


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    """Write a TOML config file; return the environment that names it."""
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return {"HUB_CONFIG": str(path)}


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An instance folder that does not exist yet."""
    return tmp_path / "instance"


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, instance: Path) -> Path:
    """The process environment without HUB_ settings, the instance folder in tmp_path."""
    for variable in list(os.environ):
        if variable.startswith("HUB_") and variable != "HUB_TEST_DATABASE_URL":
            monkeypatch.delenv(variable)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(instance))
    return instance


def make_app(tmp_path: Path, database_url: str, **settings: Any) -> Flask:
    """A hub app on ``database_url``, outside the conftest fixtures."""
    return create_app(
        {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "TESTING": True, **settings}
    )


@pytest.fixture
def extra_apps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Flask]]:
    """Apps a test builds itself; their engines are disposed afterwards."""
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    apps: list[Flask] = []
    yield apps
    for application in apps:
        db.dispose(application)


# --- configuration layers --------------------------------------------------------------------


def test_defaults_apply_when_nothing_is_configured(instance: Path) -> None:
    settings = load_settings(instance, {"SECRET_KEY": SECRET}, environ={})
    assert settings["DATABASE_URL"] == f"sqlite:///{instance / 'hub.sqlite3'}"
    for name in ("TOKEN_TTL", "PAGE_SIZE_DEFAULT", "PAGE_SIZE_MAX", "TIMEZONE", "TESTING"):
        assert settings[name] == DEFAULTS[name]
    assert settings["SECRET_KEY"] == SECRET


def test_config_file_overrides_defaults(tmp_path: Path, instance: Path) -> None:
    environ = write_config(
        tmp_path,
        f'secret_key = "{SECRET}"\n'
        "token_ttl = 120\n"
        'DATABASE_URL = "postgresql://hub@db.example/hub"\n'
        "sqlite_busy_timeout = 3\n",
    )
    settings = load_settings(instance, environ=environ)
    assert settings["SECRET_KEY"] == SECRET
    assert settings["TOKEN_TTL"] == 120
    assert settings["DATABASE_URL"] == SERVER_URL
    assert settings["SQLITE_BUSY_TIMEOUT"] == 3
    assert settings["PAGE_SIZE_MAX"] == DEFAULTS["PAGE_SIZE_MAX"]


def test_environment_overrides_the_file_with_typed_values(tmp_path: Path, instance: Path) -> None:
    environ = write_config(
        tmp_path, f'secret_key = "{SECRET}"\ntoken_ttl = 120\ndatabase_echo = false\n'
    )
    environ.update(
        HUB_TOKEN_TTL="300",
        HUB_DATABASE_ECHO="true",
        HUB_SQLITE_BUSY_TIMEOUT="2.5",
        HUB_TIMEZONE="Asia/Urumqi",
    )
    settings = load_settings(instance, environ=environ)
    assert settings["TOKEN_TTL"] == 300
    assert settings["DATABASE_ECHO"] is True
    assert settings["SQLITE_BUSY_TIMEOUT"] == 2.5
    assert settings["TIMEZONE"] == "Asia/Urumqi"
    assert settings["SECRET_KEY"] == SECRET


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("yes", True), ("On", True), ("0", False), ("no", False), ("FALSE", False)],
)
def test_boolean_environment_values_are_coerced(instance: Path, raw: str, expected: bool) -> None:
    settings = load_settings(instance, {"SECRET_KEY": SECRET}, environ={"HUB_DATABASE_ECHO": raw})
    assert settings["DATABASE_ECHO"] is expected


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("HUB_TOKEN_TTL", "fifteen minutes"),
        ("HUB_TOKEN_TTL", "1.5"),
        ("HUB_TOKEN_TTL", ""),
        ("HUB_DATABASE_ECHO", "maybe"),
        ("HUB_SQLITE_BUSY_TIMEOUT", "soon"),
    ],
)
def test_environment_value_of_the_wrong_type_is_a_clear_config_error(
    instance: Path, variable: str, raw: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET}, environ={variable: raw})
    assert variable in str(caught.value)


def test_overrides_win_over_the_environment(tmp_path: Path, instance: Path) -> None:
    environ = write_config(tmp_path, "token_ttl = 120\n")
    environ.update(HUB_TOKEN_TTL="300", HUB_SECRET_KEY="e" * 40)
    settings = load_settings(instance, {"TOKEN_TTL": 60, "SECRET_KEY": SECRET}, environ=environ)
    assert settings["TOKEN_TTL"] == 60
    assert settings["SECRET_KEY"] == SECRET


def test_unknown_key_in_the_config_file_is_refused_by_name(tmp_path: Path, instance: Path) -> None:
    environ = write_config(tmp_path, f'secret_key = "{SECRET}"\ntoken_tll = 60\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, environ=environ)
    assert "token_tll" in str(caught.value).lower()
    assert "hub.toml" in str(caught.value)


def test_unknown_environment_setting_is_refused_by_name(instance: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET}, environ={"HUB_BOGUS": "1"})
    assert "HUB_BOGUS" in str(caught.value)


def test_unknown_override_is_refused_by_name(instance: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET, "BOGUS": 1}, environ={})
    assert "BOGUS" in str(caught.value)


def test_hub_variables_that_are_not_settings_are_allowed(tmp_path: Path, instance: Path) -> None:
    environ = write_config(tmp_path, "")
    environ.update(
        HUB_INSTANCE_PATH=str(instance),
        HUB_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1/test",
        HUB_CONNECTOR_LAND_URL="http://land.example",
        HUB_CONNECTOR_FINANCE_TOKEN="x",
    )
    settings = load_settings(instance, {"SECRET_KEY": SECRET}, environ=environ)
    assert "CONNECTOR_LAND_URL" not in settings
    assert "TEST_DATABASE_URL" not in settings


CONFIG_FOLDER = Path(__file__).resolve().parent.parent / "config"


@pytest.mark.parametrize("name", ["hub.example.toml", "production.toml"])
def test_the_shipped_example_configs_load_as_they_are(instance: Path, name: str) -> None:
    # what an operator copies must start the hub, given the secrets that come from elsewhere
    environ = {
        "HUB_CONFIG": str(CONFIG_FOLDER / name),
        "HUB_SECRET_KEY": SECRET,
        "HUB_OIDC_CLIENT_SECRET": "the-provider-client-secret",
    }
    settings = load_settings(instance, environ=environ)
    assert settings["CONSOLE_IDLE_MINUTES"] >= 1


def test_missing_config_file_is_a_config_error(tmp_path: Path, instance: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            instance, {"SECRET_KEY": SECRET}, environ={"HUB_CONFIG": str(tmp_path / "nope.toml")}
        )
    assert "nope.toml" in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path, instance: Path) -> None:
    environ = write_config(tmp_path, "token_ttl = = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET}, environ=environ)
    assert "TOML" in str(caught.value)


def test_missing_secret_is_refused_with_a_helpful_message(instance: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"DATABASE_URL": SERVER_URL}, environ={})
    message = str(caught.value)
    assert "HUB_SECRET_KEY" in message
    assert "hub init" in message


def test_too_short_secret_is_refused(instance: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": "short"}, environ={})
    assert "SECRET_KEY" in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"PAGE_SIZE_DEFAULT": 500, "PAGE_SIZE_MAX": 100},
        {"PAGE_SIZE_DEFAULT": 0},
        {"TOKEN_TTL": -1},
        {"MAX_CONTENT_LENGTH": 0},
        {"BATCH_MAX_RECORDS": 0},
    ],
    ids=repr,
)
def test_conflicting_or_impossible_settings_are_refused(
    instance: Path, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET, **overrides}, environ={})
    assert any(name in str(caught.value) for name in overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"TOKEN_TTL": True},
        {"SQLITE_BUSY_TIMEOUT": float("nan")},
        {"SQLITE_BUSY_TIMEOUT": -1.0},
        {"IDEMPOTENCY_TTL": -5},
        {"DATABASE_ANALYZE_INTERVAL": -1.0},
    ],
    ids=repr,
)
def test_nonsensical_numbers_are_refused(instance: Path, overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET, **overrides}, environ={})
    assert any(name in str(caught.value) for name in overrides)


def test_boolean_for_an_integer_setting_in_the_file_is_refused(
    tmp_path: Path, instance: Path
) -> None:
    environ = write_config(tmp_path, f'secret_key = "{SECRET}"\ntoken_ttl = true\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, environ=environ)
    assert "TOKEN_TTL" in str(caught.value)


def test_value_of_the_wrong_type_in_the_file_is_refused(tmp_path: Path, instance: Path) -> None:
    environ = write_config(tmp_path, f'secret_key = "{SECRET}"\npage_size_max = "many"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, environ=environ)
    assert "PAGE_SIZE_MAX" in str(caught.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/localtime", "UTC+8"])
def test_unknown_timezone_is_refused(instance: Path, zone: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(instance, {"SECRET_KEY": SECRET, "TIMEZONE": zone}, environ={})
    assert "TIMEZONE" in str(caught.value)


def test_embedded_database_reads_the_instance_secret(instance: Path) -> None:
    instance.mkdir()
    (instance / "secret_key").write_text(SECRET + "\n")
    settings = load_settings(instance, environ={})
    assert settings["SECRET_KEY"] == SECRET


def test_server_database_ignores_the_instance_secret(instance: Path) -> None:
    instance.mkdir()
    (instance / "secret_key").write_text(SECRET + "\n")
    with pytest.raises(ConfigError):
        load_settings(instance, {"DATABASE_URL": SERVER_URL}, environ={})


def test_configured_secret_wins_over_the_instance_secret(instance: Path) -> None:
    instance.mkdir()
    (instance / "secret_key").write_text(SECRET + "\n")
    settings = load_settings(instance, environ={"HUB_SECRET_KEY": "e" * 40})
    assert settings["SECRET_KEY"] == "e" * 40


def test_create_app_refuses_an_unknown_setting(extra_apps: list[Flask], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}", PAGE_SIZE=10)
    assert "PAGE_SIZE" in str(caught.value)


def test_create_app_refuses_an_unknown_environment_setting(
    extra_apps: list[Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABSE_URL", "sqlite://")
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    assert "HUB_DATABSE_URL" in str(caught.value)


def test_create_app_refuses_an_unparseable_database_url(
    extra_apps: list[Flask], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, "not a database url")
    assert "DATABASE_URL" in str(caught.value)


# --- the instance secret ---------------------------------------------------------------------


def test_instance_secret_is_created_once_readable_only_by_its_owner(clean_environ: Path) -> None:
    assert ensure_instance_secret(clean_environ) is True
    secret_file = clean_environ / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    assert ensure_instance_secret(clean_environ) is False
    assert secret_file.read_text().strip() == secret
    assert load_settings(clean_environ)["SECRET_KEY"] == secret


def test_no_instance_secret_for_a_server_database(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", SERVER_URL)
    assert ensure_instance_secret(clean_environ) is False
    assert not (clean_environ / "secret_key").exists()


def test_no_instance_secret_when_one_is_configured(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    assert ensure_instance_secret(clean_environ) is False
    assert not (clean_environ / "secret_key").exists()


# --- operational endpoints -------------------------------------------------------------------


def test_healthz_answers_200(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_the_schema_revision_of_a_migrated_database(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["schema"] == head_revision()


def test_readyz_is_503_on_an_unmigrated_database(extra_apps: list[Flask], tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    extra_apps.append(make_app(tmp_path, f"sqlite:///{empty}"))
    response = extra_apps[-1].test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["expected"] == head_revision()


def test_readyz_is_503_when_the_database_is_unreachable(
    extra_apps: list[Flask], tmp_path: Path
) -> None:
    extra_apps.append(make_app(tmp_path, f"sqlite:///{tmp_path / 'missing' / 'hub.sqlite3'}"))
    response = extra_apps[-1].test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"


def test_ops_endpoints_need_no_credentials(client: FlaskClient) -> None:
    for path in ("/healthz", "/readyz", "/api/v1/openapi.json"):
        assert client.get(path).status_code == 200, path


# --- the OpenAPI document --------------------------------------------------------------------

DOCUMENTED_PATHS = [
    "/api/v1/events",
    "/api/v1/auth/token",
    "/api/v1/types",
    "/api/v1/projects/{project_code}/dossier",
]


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    """The OpenAPI document, fetched without credentials."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.json
    return document


def test_openapi_document_lists_the_contract_paths(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["version"] == "v1"
    for path in DOCUMENTED_PATHS:
        assert path in openapi["paths"], path
    # each record type has paths of its own, so that generated clients are typed
    for type_name in registry():
        one = f"/api/v1/records/{type_name}/{{key}}"
        assert set(openapi["paths"][one]) >= {"get", "put", "patch", "delete"}
        assert "post" in openapi["paths"][f"/api/v1/records/{type_name}/batch"]
        assert "get" in openapi["paths"][f"/api/v1/records/{type_name}"]
        assert "get" in openapi["paths"][f"{one}/history"]


def test_each_record_type_documents_its_bodies(openapi: dict[str, Any]) -> None:
    paths, schemas = openapi["paths"], openapi["components"]["schemas"]
    put = paths["/api/v1/records/permit/{key}"]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PermitData"}
    permit = schemas["PermitData"]
    assert {"item", "authority", "status"} <= set(permit["required"])
    assert "permit_id" not in permit["required"]  # the URL names the key
    assert permit["properties"]["overdue"]["readOnly"] is True
    patch = paths["/api/v1/records/permit/{key}"]["patch"]["requestBody"]["content"]
    assert "required" not in schemas[patch["application/merge-patch+json"]["schema"]["$ref"][21:]]
    answer = put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert answer == "#/components/schemas/PermitRecordOut"
    batch = paths["/api/v1/records/permit/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["$ref"] == "#/components/schemas/PermitBatchIn"
    assert schemas["PermitBatchIn"]["properties"]["records"]["minItems"] == 1


def test_openapi_document_declares_bearer_security(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    bearer = [
        name
        for name, scheme in schemes.items()
        if scheme["type"] == "http" and scheme["scheme"] == "bearer"
    ]
    assert bearer
    assert any(next(iter(requirement)) in bearer for requirement in openapi["security"])


def test_openapi_operations_have_no_duplicate_parameters(openapi: dict[str, Any]) -> None:
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "parameters" not in operation:
                continue
            seen = [(p.get("in"), p.get("name")) for p in operation["parameters"]]
            assert len(seen) == len(set(seen)), (path, method, seen)


def test_openapi_documents_errors_as_problem_json(openapi: dict[str, Any]) -> None:
    default_error = openapi["components"]["responses"]["DEFAULT_ERROR"]
    assert set(default_error["content"]) == {"application/problem+json"}
    schema = default_error["content"]["application/problem+json"]["schema"]
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["properties"]) >= {"type", "title", "status", "detail", "errors"}


# --- apps are independent --------------------------------------------------------------------


def test_importing_hub_builds_no_app_and_needs_no_settings(tmp_path: Path) -> None:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    environ["HUB_INSTANCE_PATH"] = str(tmp_path / "instance")
    code = (
        "import importlib, flask, hub, hub.cli, hub.server\n"
        "importlib.reload(hub)\n"
        "modules = [m for n, m in __import__('sys').modules.items() if n.startswith('hub')]\n"
        "apps = [n for m in modules for n, v in vars(m).items() if isinstance(v, flask.Flask)]\n"
        "assert not apps, apps\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        cwd=Path(hub.__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance").exists()


def _migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = build_engine(url, pool_size=1, echo=False, busy_timeout=5)
    upgrade(engine)
    engine.dispose()
    return url


def _bearer(application: Flask, department: str, publishes: list[str]) -> dict[str, str]:
    from hub.auth import service as auth

    with application.app_context(), db.unit_of_work() as session:
        auth.add_department(session, OPERATOR, department, department, publishes)
        _, secret = auth.create_key(session, OPERATOR, department, READ_WRITE)
    response = application.test_client().post(
        "/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def test_two_apps_on_different_databases_are_independent(
    client: FlaskClient,
    publish: Callable[..., Any],
    headers: Callable[..., dict[str, str]],
    extra_apps: list[Flask],
    tmp_path: Path,
) -> None:
    other = make_app(tmp_path, _migrated_sqlite(tmp_path / "other.sqlite3"))
    extra_apps.append(other)
    other_headers = _bearer(other, "ndrc", ["project"])
    other_client = other.test_client()

    # The first app still serves its own database after the second was built.
    assert publish("project", PROJECT_CODE, project_data()).status_code == 201
    url = f"/api/v1/records/project/{PROJECT_CODE}"
    assert client.get(url, headers=headers("ndrc")).status_code == 200
    assert other_client.get(url, headers=other_headers).status_code == 404
    listing = other_client.get("/api/v1/records/project", headers=other_headers)
    assert listing.json["items"] == []
    assert other_client.get("/api/v1/events", headers=other_headers).json["events"] == []

    # A write to the second lands there alone.
    renamed = project_data(name="Only in the other hub")
    assert other_client.put(url, headers=other_headers, json=renamed).status_code == 201
    assert client.get(url, headers=headers("ndrc")).json["data"]["name"] == project_data()["name"]
    assert other_client.get(url, headers=other_headers).json["data"]["name"] == renamed["name"]

    # Tokens are bound to their own hub's keys.
    assert client.get(url, headers=other_headers).status_code == 401


def test_each_app_keeps_its_own_settings(
    app: Flask, extra_apps: list[Flask], tmp_path: Path
) -> None:
    other = make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}", BATCH_MAX_RECORDS=7)
    extra_apps.append(other)
    assert other.config["BATCH_MAX_RECORDS"] == 7
    assert app.config["BATCH_MAX_RECORDS"] == DEFAULTS["BATCH_MAX_RECORDS"]


def test_a_database_the_hub_does_not_support_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL names 'mysql'"):
        load_settings(
            tmp_path,
            {"DATABASE_URL": "mysql://root@127.0.0.1/test", "SECRET_KEY": "s" * 40},
            environ={},
        )


def test_json_responses_are_compact_utf8(app: Flask) -> None:
    with app.test_request_context():
        response = app.json.response({"name": "城市轨道交通", "n": [1.5, None]})
    assert response.mimetype == "application/json"
    assert response.get_data() == '{"name":"城市轨道交通","n":[1.5,null]}\n'.encode()


@pytest.mark.parametrize("value", [2**70, "lone \ud800 surrogate"], ids=["big-int", "surrogate"])
def test_json_responses_take_what_the_fast_encoder_does_not(app: Flask, value: Any) -> None:
    with app.test_request_context():
        response = app.json.response({"value": value})
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"value": value}
