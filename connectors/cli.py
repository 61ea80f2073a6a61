"""The ``hub-connector`` command: run connectors, simulate external systems, run the demo."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import click
import requests
from flask import Flask

from connectors import config as connector_config
from connectors import runner
from connectors.simulators import DEMO_PROJECTS, ServedApp, serve_forever
from connectors.simulators import finance as finance_sim
from connectors.simulators import land as land_sim
from connectors.simulators import permitting as permitting_sim

SIMULATORS = ("land", "finance", "permitting")
DEMO_PORTS = {"land": 8101, "finance": 8102, "permitting": 8103}
# seconds the demo gives its connectors to finish when it is stopped
STOP_SECONDS = 2.0
# the department whose demo key each connector publishes with (hub init --demo)
DEMO_KEYS = {
    "HUB_LAND_KEY": "land",
    "HUB_FINANCE_KEY": "finance",
    "HUB_APPROVAL_KEY": "approval",
}


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log each run.")
def main(verbose: bool) -> None:
    """Run connectors between department systems and the hub."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.argument("name")
@click.option("--once", is_flag=True, help="Run one sync and exit (non-zero if it failed).")
@click.option("--interval", type=click.FloatRange(min=0.1), help="Seconds between runs.")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where NAME.toml is [default: $HUB_CONNECTOR_CONFIG_DIR or config/connectors].",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a tty].")
def run(
    name: str,
    once: bool,
    interval: float | None,
    config_dir: Path | None,
    progress: bool | None,
) -> None:
    """Sync the connector NAME, once or every --interval seconds until stopped."""
    try:
        connector = runner.build(connector_config.load(name, config_dir), progress=progress)
    except connector_config.ConfigError as error:
        raise click.ClickException(str(error)) from None
    try:
        if once:
            results = connector.run_once()
            for result in results:
                click.echo(_summary(result.status, result.counts, result.error), err=True)
            if not all(result.ok for result in results):
                raise SystemExit(1)
            return
        stop = _stop_on_signals()
        connector.run_forever(interval or connector.config.interval, stop)
    finally:
        connector.close()


@main.command()
@click.argument("name", type=click.Choice(SIMULATORS))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, help="[default: 8101 land, 8102 finance, 8103 permitting]")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--rows", type=click.IntRange(min=0), default=50, show_default=True)
@click.option(
    "--project",
    "projects",
    multiple=True,
    help="Project codes to attach rows to (repeat) [default: the demo projects].",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance/finance-drop"),
    show_default=True,
    help="finance: where exports are dropped.",
)
def simulate(
    name: str,
    host: str,
    port: int | None,
    seed: int,
    rows: int,
    projects: Sequence[str],
    folder: Path,
) -> None:
    """Serve a simulated external system (land, finance or permitting) with seeded data.

    The permitting system's client secret comes from HUB_PERMITTING_CLIENT_SECRET.
    """
    try:
        app = _simulator(name, seed, rows, list(projects) or None, folder)
    except connector_config.ConfigError as error:
        raise click.ClickException(str(error)) from None
    serve_forever(app, host, port or DEMO_PORTS[name])


@main.command()
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=Path("instance/demo-keys.txt"),
    show_default=True,
    help="The demo keys `hub init --demo` wrote.",
)
@click.option("--interval", type=click.FloatRange(min=0.5), default=15.0, show_default=True)
def demo(keys_file: Path, interval: float) -> None:
    """Serve the three simulated systems and run their connectors against the demo hub."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    keys = dict(line.split() for line in keys_file.read_text().splitlines() if line.strip())
    for variable, department in DEMO_KEYS.items():
        if department not in keys and variable not in os.environ:
            raise click.ClickException(
                f"{keys_file} has no key for {department}: "
                f"run `hub init --demo` on an empty database, or set {variable}"
            )
        os.environ.setdefault(variable, keys.get(department, ""))
    os.environ.setdefault("HUB_PERMITTING_CLIENT_SECRET", secrets.token_urlsafe(24))
    folder = Path("instance/finance-drop")
    apps = {name: _simulator(name, 1, 30, list(DEMO_PROJECTS), folder) for name in SIMULATORS}
    served = [ServedApp(app, port=DEMO_PORTS[name]) for name, app in apps.items()]
    # the first export, as the finance office would drop it
    apps["finance"].test_client().post("/api/exports", json={"format": "csv", "full": True})
    stop = _stop_on_signals()
    connectors = [runner.build(connector_config.load(name)) for name in SIMULATORS]
    _wait_for_hub(connectors[0].client.base_url, stop)
    threads = [
        threading.Thread(target=c.run_forever, args=(interval, stop), daemon=True)
        for c in connectors
    ]
    for thread in threads:
        thread.start()
    click.echo(f"demo: simulators on {', '.join(s.url for s in served)}; connectors running")
    click.echo(
        "demo: the permitting simulator's client is hub-connector, secret "
        f"{os.environ['HUB_PERMITTING_CLIENT_SECRET']} (POST /oauth/token)"
    )
    stop.wait()
    # A run in progress is not waited for: the demo stops with its hub, which closes such a
    # run as abandoned when the connector next starts one.
    deadline = time.monotonic() + STOP_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    for connector in connectors:
        connector.close()
    for server in served:
        server.shutdown()


def _wait_for_hub(url: str, stop: threading.Event, timeout: float = 60) -> None:
    """Wait until the hub answers /healthz (it starts beside the demo), or give up quietly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        stop.wait(0.5)


def _simulator(name: str, seed: int, rows: int, projects: list[str] | None, folder: Path) -> Flask:
    if name == "land":
        return land_sim.create_app(seed=seed, parcels=rows, projects=projects)
    if name == "finance":
        return finance_sim.create_app(folder, seed=seed, lines=rows, projects=projects)
    secret = connector_config.require_secret("HUB_PERMITTING_CLIENT_SECRET")
    return permitting_sim.create_app(
        seed=seed, approvals=rows, projects=projects, client_secret=secret
    )


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: the run in progress finishes, then the loop stops."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _summary(status: str, counts: object, error: str | None) -> str:
    line = f"{status}: {counts}"
    return f"{line}\n  {error}" if error else line
