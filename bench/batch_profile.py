"""Where a publish's time goes: one hub, in this process, profiled while it takes batches
(or single-record PUTs, ``--kind single``).

The hub is built with ``create_app`` on a fresh PostgreSQL schema (or SQLite file) and driven
through Flask's test client, so the figures leave out HTTP and gunicorn and keep everything the
hub does for a batch: reading the body, validating each item, locking and writing the rows and
versions, the audit entry, the commit and the response. Half the batches create records, half
change every record of an earlier batch. cProfile's cumulative time of the functions below
gives each phase's share (phases nest: "writing" includes its two statements).

    .venv/bin/python -m bench.batch_profile [--kind batch|single] [--batches 40] [--batch 200]
        [--backend postgres|sqlite] [--top N]

With ``--kind single`` each "batch" is ``--batch`` PUTs of one record each.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from bench.hubs import schema
from bench.publish import POSTGRES, PROJECT, PROJECT_CODE, parcel
from hub import create_app
from hub.audit.entries import Actor
from hub.auth import service as auth
from hub.core.extensions import db
from hub.core.migrate import upgrade

# phase -> (module path suffix, function name) whose cumulative time is the phase's
PHASES: dict[str, tuple[str, str]] = {
    "whole request": ("flask/app.py", "full_dispatch_request"),
    "body read as JSON": ("hub/core/http.py", "loads"),
    "batch envelope (webargs)": ("webargs/core.py", "parse"),
    "validation (each item)": ("schemas/base.py", "canonical"),
    "service: publish_many": ("hub/records/service.py", "publish_many"),
    "service: publish (single)": ("hub/records/service.py", "publish"),
    "  lock or insert (single)": ("hub/records/writes.py", "lock_or_insert"),
    "  update (single)": ("hub/records/writes.py", "update_record"),
    "authentication": ("hub/auth/identity.py", "current_identity"),
    "  lock and read rows": ("hub/records/writes.py", "lock_batch"),
    "  write rows and versions": ("hub/records/writes.py", "write_set"),
    "  sharing/departments check": ("hub/records/service.py", "look_up_records"),
    "audit entry": ("hub/audit/entries.py", "record"),
    "commit": ("sqlalchemy/orm/session.py", "commit"),
    "results built": ("hub/records/routes.py", "_batch_result"),
    "response serialised": ("hub/core/http.py", "response"),
}


@contextmanager
def hub_app(backend: str) -> Iterator[Flask]:
    """A hub on a fresh database of ``backend``."""
    secret = "bench-secret-" + "s" * 40
    overrides: dict[str, Any] = {"SECRET_KEY": secret, "BATCH_MAX_RECORDS": 1000, "RATE_LIMIT": ""}
    if backend == "postgres":
        with schema(POSTGRES, prefix="profile") as fresh:
            url = fresh.url.replace("postgresql://", "postgresql+psycopg://", 1)
            yield _migrated(create_app({"DATABASE_URL": url, **overrides}))
    else:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'hub.sqlite3'}"
            yield _migrated(create_app({"DATABASE_URL": url, **overrides}))


def _migrated(app: Flask) -> Flask:
    with app.app_context():
        upgrade(db.engine)
    return app


def keys(app: Flask) -> dict[str, str]:
    """Departments ndrc (projects) and land (parcels), and a writing key of each."""
    actor = Actor.cli()
    found = {}
    with app.app_context(), db.unit_of_work() as session:
        for department, publishes in (("ndrc", "project"), ("land", "land_parcel")):
            auth.add_department(session, actor, department, department.upper(), [publishes])
            created = auth.create_key(session, actor, department, ["records:write"])
            found[department] = created[1]
    return found


def bearer(client: Any, key: str) -> dict[str, str]:
    """Headers with a token for ``key``."""
    answer = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {key}"})
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--kind", choices=["batch", "single"], default="batch")
    parser.add_argument("--top", type=int, default=0, help="Also print cProfile's top N.")
    options = parser.parse_args()
    with hub_app(options.backend) as app:
        client = app.test_client()
        secrets = keys(app)
        ndrc, land = bearer(client, secrets["ndrc"]), bearer(client, secrets["land"])
        put = client.put(f"/api/v1/records/project/{PROJECT_CODE}", json=PROJECT, headers=ndrc)
        assert put.status_code == 201, put.json
        path = "/api/v1/records/land_parcel/batch"

        def body(n: int) -> dict[str, Any]:
            # even batches create records, odd ones change every record of the one before
            first = (n // 2) * options.batch
            return {
                "records": [
                    {"key": f"P-{first + i}", "data": parcel(first + i + (n % 2) * 7)}
                    for i in range(options.batch)
                ]
            }

        for n in range(4):  # warm up: caches, plans, the first statements
            assert client.post(path, json=body(1000 + n), headers=land).status_code == 200
        bodies = [body(n) for n in range(options.batches)]
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for sent in bodies:
            if options.kind == "batch":
                answer = client.post(path, json=sent, headers=land)
                assert answer.status_code == 200, answer.json
                continue
            for item in sent["records"]:
                url = f"/api/v1/records/land_parcel/{item['key']}"
                answer = client.put(url, json=item["data"], headers=land)
                assert answer.status_code in (200, 201), answer.json
        profile.disable()
        elapsed = time.perf_counter() - started
    records = options.batches * options.batch
    what = "batches" if options.kind == "batch" else "rounds of single PUTs"
    print(
        f"{options.backend}: {options.batches} {what} of {options.batch} land parcels in "
        f"{elapsed:.2f}s under the profiler: {records / elapsed:.0f} records/s "
        f"(the profiler slows Python, not the database: shares, not rates, are the point)"
    )
    stats = pstats.Stats(profile)
    total = _cumulative(stats, PHASES["whole request"])
    print(f"{'phase':<32} {'ms/batch':>9} {'share':>7}")
    for phase, where in PHASES.items():
        spent = _cumulative(stats, where)
        if not spent:
            continue
        print(f"{phase:<32} {spent * 1000 / options.batches:>9.1f} {spent / total:>7.0%}")
    if options.top:
        stats.sort_stats("cumulative").print_stats(options.top)


def _cumulative(stats: pstats.Stats, where: tuple[str, str]) -> float:
    suffix, name = where
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(
        entry[3]
        for (path, _, function), entry in entries.items()
        if function == name and path.endswith(suffix)
    )


if __name__ == "__main__":
    main()
