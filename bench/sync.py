"""Land connector sync rate against the hub's own batch-publish rate, in the same run.

Per round, a fresh PostgreSQL schema gets a hub served by gunicorn, and a simulated land system
(``hub-connector simulate land``, its own process) holds ``--rows`` parcels. Two things are
timed on that hub:

1. baseline: the parcels, fetched and mapped beforehand (untimed), published by one client in
   sequential batches of ``--batch`` through the connectors' hub client (withdrawn parcels as
   deletions, as the connector sends them): the rate at which the hub takes batches from one
   sender;
2. sync: the land connector's first full run (``SyncEngine.run_once``): paging the land system,
   mapping, batch publishing under other keys, saving state after each confirmed page.

Rounds alternate which goes first, so the table the second one writes into is the bigger one
equally often. Figures are records per second; sync/baseline is the number that matters
(target: at least 0.70).

    .venv/bin/python -m bench.sync [--rows 100000] [--rounds 2] [--batch 500]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench.publish import (
    BIN,
    PROJECT,
    PROJECT_CODE,
    database,
    free_port,
    hub_env,
    request_json,
    run_cli,
    server,
    start_hub,
    token,
)
from connectors import config, runner
from connectors.client import HubClient

ROOT = Path(__file__).resolve().parent.parent
OTHER_PROJECT = "2504-330106-03-02-2M8X4D"


@contextmanager
def hub(gunicorn: list[str]) -> Iterator[tuple[str, str]]:
    """A hub on a fresh PostgreSQL schema with both projects; yields its URL and a land key."""
    with database("postgres") as db, tempfile.TemporaryDirectory() as instance:
        env = hub_env(db.url, Path(instance))
        run_cli(env, "init")
        run_cli(env, "departments", "add", "ndrc", "--name", "NDRC", "--publishes", "project")
        run_cli(env, "departments", "add", "land", "--name", "Land", "--publishes", "land_parcel")
        ndrc = run_cli(env, "keys", "create", "--department", "ndrc", "--scope", "records:write")
        land = run_cli(env, "keys", "create", "--department", "land", "--scope", "records:write")
        port = free_port()
        with start_hub(env, port, gunicorn):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for code, division in ((PROJECT_CODE, "330102"), (OTHER_PROJECT, "330106")):
                status, body = request_json(
                    connection,
                    "PUT",
                    f"/api/v1/records/project/{code}",
                    {**PROJECT, "admin_division": division},
                    token(port, ndrc),
                )
                assert status in (200, 201), body
            yield f"http://127.0.0.1:{port}", land


@contextmanager
def land_system(rows: int) -> Iterator[str]:
    """The simulated land system with ``rows`` parcels, in a process of its own."""
    port = free_port()
    command = [str(BIN / "hub-connector"), "simulate", "land", "--port", str(port)]
    command += ["--rows", str(rows), "--project", PROJECT_CODE, "--project", OTHER_PROJECT]
    with server(command, {}, port, "/api/v1/parcels?page_size=1"):
        yield f"http://127.0.0.1:{port}"


def settings(hub_url: str, land_url: str, state_dir: Path, batch: int) -> dict[str, Any]:
    """The shipped land connector settings, pointed at this run's hub and land system."""
    with (ROOT / "config" / "connectors" / "land.toml").open("rb") as file:
        raw = tomllib.load(file)
    raw["hub"]["url"] = hub_url
    raw["source"].update(url=land_url, page_size=batch)
    raw.update(state_dir=str(state_dir), batch_size=batch)
    return raw


def mapped_records(raw: dict[str, Any], key: str, land_url: str) -> list[dict[str, Any]]:
    """Every parcel as a batch item, read and mapped before the clock starts."""
    mapping = config.parse(raw, {"HUB_LAND_KEY": key}).mapping
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = requests.get(
            f"{land_url}/api/v1/parcels", params={"page": page, "page_size": 1000}, timeout=60
        ).json()["data"]
        for row in body["records"]:
            key = f"base-{mapping.key_of(row)}"
            if mapping.is_deleted(row):
                records.append({"key": key, "deleted": True})
            else:
                records.append({"key": key, "data": mapping.data_of(row)})
        if len(body["records"]) < 1000:
            return records
        page += 1


def baseline(hub_url: str, key: str, records: list[dict[str, Any]], batch: int) -> float:
    """Records per second the hub takes from one client sending batches back to back."""
    with HubClient(hub_url, key) as client:
        client.token()
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            results = client.publish_batch("land_parcel", records[start : start + batch])
            # a withdrawal of a parcel the hub never had is a 404, as it is for the connector
            if any(r["status"] not in (200, 201, 404) for r in results):
                raise RuntimeError(f"baseline batch refused: {results[:3]}")
        return len(records) / (time.perf_counter() - started)


def sync(raw: dict[str, Any], key: str) -> tuple[float, Any]:
    """Records per second of the land connector's first full run, and its counts."""
    connector = runner.build(config.parse(raw, {"HUB_LAND_KEY": key}), progress=False)
    try:
        connector.client.token()
        source = connector.new_source()
        started = time.perf_counter()
        result = connector.engine.run_once(source)
        elapsed = time.perf_counter() - started
    finally:
        connector.close()
    if not result.ok:
        raise RuntimeError(f"sync failed: {result.error}")
    return result.counts.read / elapsed, result.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()
    gunicorn = ["--workers", str(options.workers), "--threads", str(options.threads)]
    print(
        f"{options.rows} land parcels; batches of {options.batch}; gunicorn {options.workers} "
        f"workers x {options.threads} threads; PostgreSQL; {options.rounds} rounds"
    )
    print(f"{'round':<6} {'first':<9} {'baseline/s':>11} {'sync/s':>9} {'sync/baseline':>14}")
    ratios = []
    with land_system(options.rows) as land_url:
        for number in range(options.rounds):
            with hub(gunicorn) as (hub_url, key), tempfile.TemporaryDirectory() as state:
                raw = settings(hub_url, land_url, Path(state), options.batch)
                records = mapped_records(raw, key, land_url)
                if number % 2 == 0:
                    base = baseline(hub_url, key, records, options.batch)
                    synced, counts = sync(raw, key)
                else:
                    synced, counts = sync(raw, key)
                    base = baseline(hub_url, key, records, options.batch)
                ratios.append(synced / base)
                first = "baseline" if number % 2 == 0 else "sync"
                print(
                    f"{number + 1:<6} {first:<9} {base:>11.0f} {synced:>9.0f} {ratios[-1]:>14.2f}"
                )
                if counts.rejected:
                    print(f"       ({counts.rejected} rows rejected)", file=sys.stderr)
    print(f"median sync/baseline {statistics.median(ratios):.2f}; target >= 0.70")


if __name__ == "__main__":
    main()
