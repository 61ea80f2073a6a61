"""``hub-connector run`` and ``simulate``: settings checked at start, one run, its exit status."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from connectors.cli import main
from connectors.simulators import DEMO_PROJECTS, ServedApp
from connectors.simulators import land as land_sim
from tests.factories import PROJECT_CODE, project_data
from tests.live import CONFIG_DIR


@pytest.fixture
def land_system() -> Iterator[ServedApp]:
    served = ServedApp(land_sim.create_app(seed=2, parcels=12, projects=[PROJECT_CODE]))
    yield served
    served.shutdown()


@pytest.fixture
def config_dir(live_hub: Any, land_system: ServedApp, tmp_path: Path) -> Path:
    """The shipped land.toml, pointed at the test hub, land system and a scratch state dir."""
    text = (CONFIG_DIR / "land.toml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8000", live_hub.url)
    text = text.replace("http://127.0.0.1:8101", land_system.url)
    text = text.replace('"instance/connectors"', f'"{tmp_path / "state"}"')
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / "land.toml").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def land_key(departments: Any, make_key: Callable[..., str], publish: Callable[..., Any]) -> str:
    publish("project", PROJECT_CODE, project_data())
    return make_key("land", ["records:read", "records:write"])


def connector(*args: str, **environ: str) -> Result:
    return CliRunner().invoke(main, list(args), env=environ, catch_exceptions=False)


def test_run_once_syncs_and_exits_zero(config_dir, land_key, client, headers):
    result = connector(
        "run", "land", "--once", "--config-dir", str(config_dir), HUB_LAND_KEY=land_key
    )

    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    listed = client.get("/api/v1/records/land_parcel?limit=100", headers=headers("land")).json
    assert listed["items"]


def test_run_once_exits_non_zero_when_the_run_fails(config_dir, land_key, land_system):
    requests.post(f"{land_system.url}/_sim/faults", json={"status": 500, "times": 50}, timeout=5)

    result = connector(
        "run", "land", "--once", "--config-dir", str(config_dir), HUB_LAND_KEY=land_key
    )

    assert result.exit_code == 1
    assert "failed" in result.output


def test_a_missing_access_key_is_named_at_start(config_dir):
    result = connector("run", "land", "--once", "--config-dir", str(config_dir), HUB_LAND_KEY="")

    assert result.exit_code == 1
    assert "HUB_LAND_KEY" in result.output


def test_unknown_settings_fail_at_start_naming_them(config_dir):
    settings = config_dir / "land.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("[source]", "[source]\npage_sise = 10"),
        encoding="utf-8",
    )

    result = connector("run", "land", "--once", "--config-dir", str(config_dir), HUB_LAND_KEY="k")

    assert result.exit_code == 1
    assert "page_sise" in result.output


@pytest.mark.parametrize(
    ("replace", "by", "named"),
    [
        ('as = "decimal"', 'as = "furlongs"', "as"),
        ('key_env = "HUB_LAND_KEY"', 'key_env = "hub land key"', "key_env"),
        ("batch_size = 500", "batch_size = 5000", "batch_size"),
    ],
)
def test_invalid_settings_fail_at_start_naming_them(config_dir, replace, by, named):
    settings = config_dir / "land.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace(replace, by, 1), encoding="utf-8"
    )

    result = connector("run", "land", "--once", "--config-dir", str(config_dir), HUB_LAND_KEY="k")

    assert result.exit_code == 1
    assert named in result.output


def test_a_connector_without_settings_is_named(tmp_path):
    result = connector("run", "forest", "--once", "--config-dir", str(tmp_path))

    assert result.exit_code == 1
    assert "forest.toml" in result.output


def test_every_shipped_connector_setting_is_valid(monkeypatch):
    """The TOML files in config/connectors load as they are, given their secrets."""
    from connectors import config, runner

    for variable in ("HUB_LAND_KEY", "HUB_FINANCE_KEY", "HUB_APPROVAL_KEY"):
        monkeypatch.setenv(variable, "hubk_example")
    monkeypatch.setenv("HUB_PERMITTING_CLIENT_SECRET", "secret")
    for name in ("land", "finance", "permitting"):
        built = runner.build(config.load(name, CONFIG_DIR))
        assert built.config.name == name
        built.close()


def test_simulating_permitting_needs_its_client_secret(monkeypatch):
    monkeypatch.delenv("HUB_PERMITTING_CLIENT_SECRET", raising=False)

    result = connector("simulate", "permitting", "--port", "1")

    assert result.exit_code == 1
    assert "HUB_PERMITTING_CLIENT_SECRET" in result.output


def test_a_run_shows_its_progress_when_asked(config_dir, land_key):
    result = connector(
        "run",
        "land",
        "--once",
        "--progress",
        "--config-dir",
        str(config_dir),
        HUB_LAND_KEY=land_key,
    )

    assert result.exit_code == 0, result.output
    assert "land: 100%" in result.output
    assert "12/12" in result.output


def test_simulate_serves_a_seeded_system_until_stopped():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(Path(sys.executable).parent / "hub-connector"), "simulate", "land"]
    process = subprocess.Popen([*command, "--port", str(port), "--rows", "7", "--seed", "3"])
    try:
        deadline, body = time.monotonic() + 30, None
        while body is None and time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/v1/parcels"
                body = requests.get(url, timeout=1).json()
            except requests.ConnectionError:
                time.sleep(0.1)
        assert body is not None, "the simulator did not start"
        expected = land_sim.generate_parcels(3, 7, list(DEMO_PROJECTS))
        served = {row["地块编号"]: row for row in body["data"]["records"]}
        assert served == {row["地块编号"]: row for row in expected}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_demo_names_a_missing_demo_key(tmp_path):
    keys = tmp_path / "demo-keys.txt"
    keys.write_text("admin      hubk_x\nland       hubk_y\n")
    # unset for the demo and restored after it, with what the demo set on its way
    unset = dict.fromkeys(("HUB_LAND_KEY", "HUB_FINANCE_KEY", "HUB_APPROVAL_KEY"))

    result = CliRunner().invoke(main, ["demo", "--keys", str(keys)], env=unset)

    assert result.exit_code == 1
    assert "no key for finance" in result.output
    assert "HUB_FINANCE_KEY" in result.output

    assert "HUB_LAND_KEY" not in os.environ
