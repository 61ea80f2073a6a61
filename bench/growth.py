"""What growth costs: the hub measured on a small city and on a large city's years, in one run.

A PostgreSQL schema made for the run (dropped after it) is filled straight into its tables with
``COPY``, not through the API: projects and their linked records of every type (the bodies
bench/supervision.py writes, a few hundred bytes each, validated by sample), each record with
1 to 9 versions (5 on average), every version numbered in the change log, interleaved over the
last ``--years`` years; a year of audit entries, sealed into the hash chain in order (so
``hub audit verify`` passes); and ``--subscriptions`` subscriptions made through the API (a
quarter of them webhooks to a receiver on loopback, following types the measures do not
publish, so the dispatchers look at every change without delivering).

The run fills ``--small`` records (10k), serves the hub with ``hub serve`` and measures; then
stops it, grows the same database to ``--size`` records (100k by default, ``full`` = 1,000,000),
serves it again and measures the same things. Statistics are fresh at both sizes (``VACUUM
ANALYZE`` after each fill, as autovacuum and the hub's housekeeping keep them on a live hub).

Measured from ``--clients`` client processes over keep-alive connections, in ``--rounds``
rounds that alternate between the measures (figures: requests or records per second):

- writes: single-record PUTs of new records, PUTs that change existing records, batches;
- reads: GET one record (any type), a list page filtered by project (``project_code``), a
  project's dossier, a feed page from an old cursor (near the oldest event kept), the feed
  page at the head (the last 10 events), a feed page filtered by project from an old cursor;
- ``hub events compact`` and ``hub audit verify`` (seconds; verify also as entries per second,
  as it walks the whole chain), beside the time of a CLI command that does nothing much.

The ratio full/small is the number that matters: at least 0.8 for every rate (no time may grow
with the table). At the full size it then prints, unless ``--no-explain``, the plans
(``EXPLAIN ANALYZE, BUFFERS``, by auto_explain) of every statement the hot requests run: the
hub's own code, in this process, against the same database, each request repeated so that the
plans shown are the ones PostgreSQL settles on for prepared statements.

    .venv/bin/python -m bench.growth [--size 100k|full|N] [--small 10k] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from array import array
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import psycopg

from bench import hubs
from bench.publish import (
    POSTGRES,
    PROJECT,
    PROJECT_CODE,
    hub_env,
    measure,
    request_json,
    run_cli,
    token,
)
from bench.receiver import Receiver
from bench.supervision import (
    CITY,
    DEPARTMENTS,
    MIX,
    OWNERS,
    linked_body,
    project_body,
    project_code,
)
from hub.audit.chain import entry_hash
from schemas import registry

FULL = 1_000_000
MAX_VERSIONS = 9
PAGE = 100
READER = "watch"
HUB_SETTINGS = {
    "HUB_RATE_LIMIT": "1000000/second",
    "HUB_WEBHOOK_ALLOW_HTTP": "true",
    "HUB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "HUB_TOKEN_TTL": "7200",
    "HUB_DATABASE_POOL_SIZE": "5",
}
# what each type's later versions change (a field no cross-field rule involves)
REVISED_FIELD = {
    "project": "description",
    "land_parcel": "area_mu",
    "funding": "disbursed",
    "permit": "authority",
    "coordination_item": "notes",
    "progress_report": "progress_note",
}


def parse_size(text: str) -> int:
    """``100k``, ``1m``, ``full`` (1,000,000) or a plain number of records."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    if text == "full":
        return FULL
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def label(records: int) -> str:
    if records >= 1_000_000 and records % 1_000_000 == 0:
        return f"{records // 1_000_000}m"
    if records >= 1_000 and records % 1_000 == 0:
        return f"{records // 1_000}k"
    return str(records)


# --- the city -----------------------------------------------------------------------------------


def versions_of(record: int) -> int:
    """How many versions record number ``record`` has: 1 to 9, 5 on average."""
    return 1 + ((record * 2654435761) >> 11) % MAX_VERSIONS


def revised(type_name: str, base: dict[str, Any], version: int) -> dict[str, Any]:
    """Version ``version`` of a record whose first version is ``base``."""
    if version == 1:
        return base
    name = REVISED_FIELD[type_name]
    value: Any
    if name == "area_mu":
        value = base["area_mu"] + version
    elif name == "disbursed":
        value = base["disbursed"] + version
    else:
        value = f"{base.get(name) or '进展'} 第{version}次更新"
    return {**base, name: value}


@dataclass(frozen=True)
class City:
    """Which records a city of ``projects`` projects holds: each project and, in the proportions
    of bench/supervision.py's MIX, ``per_project - 1`` records linked to it."""

    projects: int
    per_project: int
    today: date
    layout: tuple[tuple[str, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        linked = self.per_project - 1
        weights = sum(weight for _, weight in MIX)
        counts = [linked * weight // weights for _, weight in MIX]
        counts[-1] += linked - sum(counts)
        layout = [("project", 0)]
        for (type_name, _), count in zip(MIX, counts, strict=True):
            layout.extend((type_name, i) for i in range(count))
        object.__setattr__(self, "layout", tuple(layout))

    def record(self, project: int, slot: int) -> tuple[str, str, str, dict[str, Any]]:
        """Type, key, project code and first version (canonical) of a project's ``slot``."""
        type_name, i = self.layout[slot]
        code = project_code(project)
        if type_name == "project":
            return (
                "project",
                code,
                code,
                {**project_body(project, self.today), "project_code": code},
            )
        key, body = linked_body(type_name, code, project, i, self.today)
        body[registry()[type_name].key_field] = key
        return type_name, key, code, body

    def slots_of(self, type_name: str) -> list[int]:
        return [slot for slot, (name, _) in enumerate(self.layout) if name == type_name]


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def copy_line(values: tuple[Any, ...]) -> str:
    return "\t".join(_text(value) for value in values) + "\n"


VERSION_COLUMNS = (
    "id, record_id, record_type, record_key, project_code, version, operation, data, "
    "changed_fields, deleted, published_by, key_id, created_at, sequence"
)
RECORD_COLUMNS = (
    "id, type, key, project_code, version, data, published_by, created_at, updated_at, deleted"
)
AUDIT_COLUMNS = (
    "id, at, department_id, key_id, actor, action, target, remote_addr, outcome, details, "
    "seq, prev_hash, hash"
)
CHUNK = 1 << 20  # characters per COPY write


@dataclass
class FillReport:
    records: int
    versions: int
    audit: int
    seconds: float


class Filler:
    """Grows the city in the database, ``COPY`` by ``COPY``; the hub must not be running."""

    def __init__(self, url: str, city: City, years: float, audit_per_record: float) -> None:
        self.url = url
        self.city = city
        self.span = timedelta(days=365 * years)
        self.audit_per_record = audit_per_record
        self.projects = 0  # filled so far
        self.validated: set[tuple[str, int]] = set()

    def grow(self, projects: int) -> FillReport:
        """Add projects ``self.projects .. projects - 1`` with their records, versions, events
        and a year of audit entries, in one transaction; then vacuum and analyse."""
        started = time.perf_counter()
        first, count = self.projects, projects - self.projects
        with psycopg.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            head = _one(cursor, "SELECT last_sequence FROM event_counter WHERE id = 1 FOR UPDATE")
            seq, prev_hash, keyed = _row(
                cursor, "SELECT last_seq, last_hash, keyed_from_seq FROM audit_head FOR UPDATE"
            )
            if keyed is not None:
                raise RuntimeError("the audit chain is keyed: the bench seals unkeyed entries")
            record_base = _one(cursor, "SELECT coalesce(max(id), 0) FROM records")
            version_base = _one(cursor, "SELECT coalesce(max(id), 0) FROM record_versions")
            audit_base = _one(cursor, "SELECT coalesce(max(id), 0) FROM audit_log")
            records = count * self.city.per_project
            with cursor.copy(f"COPY record_versions ({VERSION_COLUMNS}) FROM STDIN") as copy:
                events = self._versions(copy, first, count, record_base, version_base, head)
            with cursor.copy(f"COPY records ({RECORD_COLUMNS}) FROM STDIN") as copy:
                self._records(copy, first, count, record_base, events)
            audit = int(records * self.audit_per_record)
            with cursor.copy(f"COPY audit_log ({AUDIT_COLUMNS}) FROM STDIN") as copy:
                seq, prev_hash = self._audit(copy, first, count, audit_base, audit, seq, prev_hash)
            for table in ("records", "record_versions", "audit_log"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            new_head = head + events.total
            cursor.execute("UPDATE event_counter SET last_sequence = %s WHERE id = 1", (new_head,))
            cursor.execute(
                "UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1", (seq, prev_hash)
            )
            # every subscription caught up: the filled history is not news to anyone
            cursor.execute("UPDATE subscriptions SET cursor = %s", (new_head,))
            connection.commit()
        with psycopg.connect(self.url, autocommit=True) as connection:
            for table in ("records", "record_versions", "audit_log", "subscriptions"):
                connection.execute(f"VACUUM ANALYZE {table}")
        self.projects = projects
        return FillReport(records, events.total, audit, time.perf_counter() - started)

    # -- versions: the change log -------------------------------------------------------------

    def _versions(
        self,
        copy: Any,
        first: int,
        count: int,
        record_base: int,
        version_base: int,
        head: int,
    ) -> Events:
        """Write every version of the new records, in rounds: every record's first version,
        then the second of those that have one, and so on, so that a record's versions are
        spread over the years rather than side by side in the log."""
        city = self.city
        per = city.per_project
        records = count * per
        total = sum(versions_of(first * per + n) for n in range(records))
        events = Events(total, array("q", bytes(8 * records)), self._moment(total))
        buffer = io.StringIO()
        number = 0
        for round_ in range(MAX_VERSIONS):
            for local in range(records):
                record = first * per + local
                if versions_of(record) <= round_:
                    continue
                project, slot = divmod(record, per)
                type_name, key, code, base = city.record(project, slot)
                version = round_ + 1
                data = revised(type_name, base, version)
                self._validate(type_name, slot, key, data, version)
                if version == 1:
                    operation, changed = "created", sorted(data)
                else:
                    operation, changed = "updated", [REVISED_FIELD[type_name]]
                moment = events.moment(number)
                buffer.write(
                    copy_line(
                        (
                            version_base + number + 1,
                            record_base + local + 1,
                            type_name,
                            key,
                            code,
                            version,
                            operation,
                            orjson.dumps(data).decode(),
                            json.dumps(changed),
                            False,
                            OWNERS[type_name],
                            "bench",
                            moment,
                            head + number + 1,
                        )
                    )
                )
                events.last_event[local] = number
                number += 1
                if buffer.tell() >= CHUNK:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
        copy.write(buffer.getvalue())
        assert number == total
        return events

    def _moment(self, total: int) -> Callable[[int], datetime]:
        start = datetime.now(UTC) - self.span
        step = (self.span - timedelta(hours=1)) / max(total, 1)
        return lambda number: start + step * number

    def _validate(self, type_name: str, slot: int, key: str, data: dict[str, Any], v: int) -> None:
        """Check the first records of each layout slot and version against their schema."""
        if (slot, v) in self.validated:
            return
        canonical = registry()[type_name].canonical(data, key)
        if canonical != data:
            raise RuntimeError(f"{type_name} {key} v{v} is not canonical: {data} != {canonical}")
        self.validated.add((slot, v))

    def _records(self, copy: Any, first: int, count: int, record_base: int, events: Events) -> None:
        city = self.city
        per = city.per_project
        buffer = io.StringIO()
        for local in range(count * per):
            record = first * per + local
            project, slot = divmod(record, per)
            type_name, key, code, base = city.record(project, slot)
            versions = versions_of(record)
            data = revised(type_name, base, versions)
            buffer.write(
                copy_line(
                    (
                        record_base + local + 1,
                        type_name,
                        key,
                        code,
                        versions,
                        orjson.dumps(data).decode(),
                        OWNERS[type_name],
                        events.moment(local),
                        events.moment(events.last_event[local]),
                        False,
                    )
                )
            )
            if buffer.tell() >= CHUNK:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())

    # -- a year of audit ----------------------------------------------------------------------

    def _audit(
        self,
        copy: Any,
        first: int,
        count: int,
        audit_base: int,
        total: int,
        seq: int,
        prev_hash: str,
    ) -> tuple[int, str]:
        """``total`` sealed entries over the last year, chained after ``(seq, prev_hash)``."""
        city = self.city
        per = city.per_project
        start = datetime.now(UTC) - timedelta(days=365)
        step = timedelta(days=365) / max(total, 1)
        departments = sorted(DEPARTMENTS)
        rng = random.Random(first)
        buffer = io.StringIO()
        for n in range(total):
            record = first * per + rng.randrange(count * per)
            project, slot = divmod(record, per)
            type_name, _ = city.layout[slot]
            key = city.record(project, slot)[1]
            owner = OWNERS[type_name]
            kind = n % 20
            if kind < 16:
                action, target, outcome = "record.put", f"{type_name}/{key}", 200
                details: dict[str, Any] = {
                    "method": "PUT",
                    "path": f"/api/v1/records/{type_name}/{urllib.parse.quote(key, safe=':')}",
                    "version": str(1 + n % MAX_VERSIONS),
                }
            elif kind < 18:
                action, target, outcome = "record.batch", type_name, 200
                details = {"method": "POST", "path": f"/api/v1/records/{type_name}/batch",
                           "created": 40, "updated": 160}  # fmt: skip
            elif kind < 19:
                owner = departments[n % len(departments)]
                action, target, outcome = "events.read", "events", 200
                details = {"method": "GET", "path": "/api/v1/events", "disclosed": ["contacts"]}
            else:
                action, target, outcome = "auth.token", f"key/{owner}-bench", 200
                details = {"method": "POST", "path": "/api/v1/auth/token"}
            entry = SimpleNamespace(
                id=audit_base + n + 1,
                at=start + step * n,
                department_id=owner,
                key_id=f"{owner}-bench",
                actor=f"key:{owner}-bench",
                action=action,
                target=target,
                remote_addr=f"10.20.{n % 7}.{n % 250 + 1}",
                outcome=outcome,
                details=details,
            )
            seq += 1
            digest = entry_hash(entry, seq, prev_hash)  # type: ignore[arg-type]
            buffer.write(
                copy_line(
                    (
                        entry.id,
                        entry.at,
                        entry.department_id,
                        entry.key_id,
                        entry.actor,
                        entry.action,
                        entry.target,
                        entry.remote_addr,
                        entry.outcome,
                        json.dumps(details, ensure_ascii=False),
                        seq,
                        prev_hash,
                        digest,
                    )
                )
            )
            prev_hash = digest
            if buffer.tell() >= CHUNK:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
        return seq, prev_hash


@dataclass
class Events:
    """The versions a fill wrote: how many, each record's last, and when each was written."""

    total: int
    last_event: array[int]
    moment: Callable[[int], datetime]


def _one(cursor: Any, sql: str) -> int:
    row = cursor.execute(sql).fetchone()
    return int(row[0])


def _row(cursor: Any, sql: str) -> tuple[Any, ...]:
    row = cursor.execute(sql).fetchone()
    assert row is not None, sql
    return tuple(row)


# --- the hub, served ----------------------------------------------------------------------------


@dataclass
class Keys:
    """The access keys the bench uses: one per publishing department, and a reader's."""

    by_department: dict[str, str]

    def headers(self, port: int, department: str) -> dict[str, str]:
        return token(port, self.by_department[department])


def set_up(env: dict[str, str]) -> Keys:
    """Migrate, and add the departments (a reader among them) and their keys."""
    run_cli(env, "init")
    keys = {}
    for department, types in DEPARTMENTS.items():
        publishes = [arg for type_name in types for arg in ("--publishes", type_name)]
        run_cli(env, "departments", "add", department, "--name", department, *publishes)
        keys[department] = run_cli(
            env, "keys", "create", "--department", department, "--scope", "records:write"
        )
    run_cli(env, "departments", "add", READER, "--name", "Watcher")
    keys[READER] = run_cli(
        env, "keys", "create", "--department", READER,
        "--scope", "records:read", "--scope", "events:read", "--scope", "subscriptions",
    )  # fmt: skip
    return Keys(keys)


def subscribe(port: int, headers: dict[str, str], city: City, count: int, url: str) -> None:
    """``count`` subscriptions: every fourth a webhook to ``url``, following a type the
    measures do not publish (so dispatchers look at each change and deliver nothing)."""
    pulls: list[list[str]] = [[], ["project"], ["land_parcel"], ["permit"], ["progress_report"]]
    hooks: list[list[str]] = [["funding"], ["permit"], ["coordination_item"], ["project"]]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for n in range(count):
        body: dict[str, Any]
        if n % 4 == 3:
            body = {"types": hooks[n % len(hooks)], "endpoint_url": f"{url}/hooks/{n}"}
        else:
            body = {"types": pulls[n % len(pulls)]}
        if n % 3 == 2:
            body["filter"] = {"project_code": project_code(n % city.projects)}
        status, answer = request_json(connection, "POST", "/api/v1/subscriptions", body, headers)
        if status != 201:
            raise RuntimeError(f"subscription answered {status}: {answer}")
    connection.close()


Request = tuple[str, str, Any]  # method, path, body
OK = (200, 201)


def _requests_worker(args: tuple[int, dict[str, str], float, list[Request], str]) -> int:
    """One client: random requests of the list, for ``seconds``; how many it made. A body with
    a ``rights_holder`` gets a new one each time, so every PUT of it changes the record."""
    port, headers, seconds, requests, seed = args
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        method, path, body = rng.choice(requests)
        if isinstance(body, dict) and "rights_holder" in body:
            body = {**body, "rights_holder": f"Holder {seed}-{done}"}
        status, answer = request_json(connection, method, path, body, headers)
        if status not in OK:
            raise RuntimeError(f"{method} {path} answered {status}: {str(answer)[:300]}")
        done += 1
    connection.close()
    return done


def drive(
    pool: Any, port: int, headers: dict[str, str], requests: list[Request], seconds: float
) -> float:
    """Requests per second, every client process sending random ``requests``."""
    tag = os.urandom(4).hex()
    jobs = [(port, headers, seconds, requests, f"{tag}-{c}") for c in range(pool._processes)]
    started = time.monotonic()
    counts: list[int] = pool.map(_requests_worker, jobs)
    return sum(counts) / (time.monotonic() - started)


def log_bounds(url: str) -> tuple[int, int]:
    """The change log's head and the feed's horizon (``retained_after``)."""
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT last_sequence, retained_after FROM event_counter WHERE id = 1"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def quoted(key: str) -> str:
    return urllib.parse.quote(key, safe=":")


def targets(city: City, projects: int, url: str, seed: int = 7) -> dict[str, list[Request]]:
    """What each measure asks for, at random among the records of the first ``projects``."""
    rng = random.Random(seed)
    head, horizon = log_bounds(url)
    old = max(1, (head - horizon) // 10)
    land = city.slots_of("land_parcel")

    def code() -> str:
        return project_code(rng.randrange(projects))

    def record() -> tuple[str, str, str, dict[str, Any]]:
        return city.record(rng.randrange(projects), rng.randrange(city.per_project))

    def after() -> int:
        return horizon + rng.randrange(old)

    updates = []
    for _ in range(1000):
        _, key, _, body = city.record(rng.randrange(projects), rng.choice(land))
        updates.append(("PUT", f"/api/v1/records/land_parcel/{quoted(key)}", body))
    return {
        "update": updates,
        "get": [
            ("GET", f"/api/v1/records/{t}/{quoted(k)}", None)
            for t, k, _, _ in (record() for _ in range(1000))
        ],  # fmt: skip
        "list": [
            ("GET", f"/api/v1/records/progress_report?project_code={code()}&limit={PAGE}", None)
            for _ in range(500)
        ],
        "dossier": [("GET", f"/api/v1/projects/{code()}/dossier", None) for _ in range(500)],
        "feed_old": [
            ("GET", f"/api/v1/events?after={after()}&limit={PAGE}", None) for _ in range(500)
        ],
        "feed_head": [
            ("GET", f"/api/v1/events?after={max(horizon, head - 10)}&limit={PAGE}", None)
        ],
        "feed_project": [
            ("GET", f"/api/v1/events?after={after()}&limit={PAGE}&project_code={code()}", None)
            for _ in range(500)
        ],
    }


# name, what, unit; reads first, then writes (which move the head)
READS = (
    ("get", "GET one record", "req/s"),
    ("list", f"list page by project_code ({PAGE})", "req/s"),
    ("dossier", "project dossier", "req/s"),
    ("feed_old", f"feed page, old cursor ({PAGE})", "req/s"),
    ("feed_head", "feed page at the head", "req/s"),
    ("feed_project", "feed page by project, old cursor", "req/s"),
)
WRITES = (
    ("put", "single PUT, new record", "rec/s"),
    ("update", "single PUT, changed record", "rec/s"),
    ("batch", "batch, new records", "rec/s"),
)


@dataclass
class Step:
    """What was measured at one size."""

    records: int
    versions: int
    audit: int
    fill_seconds: float
    rates: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    load: str = ""


def table_sizes(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url, autocommit=True) as connection:
        counts = [
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in ("records", "record_versions", "audit_log")
        ]
    return tuple(int(row[0]) for row in counts if row is not None)  # type: ignore[return-value]


def timed_cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [str(hubs.BIN / "hub"), *args], env=env, capture_output=True, text=True, cwd=hubs.ROOT
    )
    taken = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"hub {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return taken, result.stdout + result.stderr


def measure_step(
    step: Step,
    env: dict[str, str],
    url: str,
    city: City,
    projects: int,
    keys: Keys,
    pool: Any,
    options: argparse.Namespace,
    first: Callable[[int, dict[str, str]], None] | None,
) -> None:
    """Serve the hub and measure everything once per round; then compact and verify."""
    with hubs.Processes() as processes:
        hub = processes.serve(env, workers=options.workers, threads=options.threads)
        port = hub.port
        assert port is not None
        reader, land = keys.headers(port, READER), keys.headers(port, "land")
        if first is not None:
            first(port, reader)
        wanted = targets(city, projects, url)
        for name, _, _ in READS:  # warm-up: the hub's workers and the database's cache
            drive(pool, port, reader, wanted[name], 1)
        measure(pool, port, "single", land, 1, 1)
        for _ in range(options.rounds):
            for name, _, _ in READS:
                step.rates.setdefault(name, []).append(
                    drive(pool, port, reader, wanted[name], options.seconds)
                )
        for _ in range(options.rounds):
            step.rates.setdefault("put", []).append(
                measure(pool, port, "single", land, options.seconds, 1)
            )
            step.rates.setdefault("update", []).append(
                drive(pool, port, land, wanted["update"], options.seconds)
            )
            step.rates.setdefault("batch", []).append(
                measure(pool, port, "batch", land, options.batch_seconds, options.batch)
            )
        step.seconds["cli"], _ = timed_cli(env, "departments", "list")
        step.seconds["compact"], _ = timed_cli(env, "events", "compact")
        step.seconds["verify"], said = timed_cli(env, "audit", "verify")
        entries = said.split("intact: ", 1)[1].split(" entries", 1)[0]
        step.seconds["verified"] = float(entries)
        step.load = " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the plans of the hot statements ------------------------------------------------------------

AUTO_EXPLAIN = (
    "LOAD 'auto_explain'",
    "SET auto_explain.log_min_duration = 0",
    "SET auto_explain.log_analyze = on",
    "SET auto_explain.log_buffers = on",
    "SET auto_explain.log_nested_statements = on",
    "SET auto_explain.log_level = notice",
    "SET client_min_messages = notice",
)
SCANNED = ("records", "record_versions", "audit_log", "subscriptions", "deliveries")


@contextmanager
def explaining_app(url: str, env: dict[str, str]) -> Iterator[tuple[Any, list[str]]]:
    """The hub in this process on ``url``, every statement it runs explained (auto_explain,
    analysed, with buffers); yields the app and the list the plans arrive in."""
    from sqlalchemy import event

    from hub import create_app
    from hub.core.extensions import db

    plans: list[str] = []
    os.environ["HUB_INSTANCE_PATH"] = env["HUB_INSTANCE_PATH"]
    settings = {
        "DATABASE_URL": url,
        "SECRET_KEY": env["HUB_SECRET_KEY"],
        "DATABASE_POOL_SIZE": 1,
        "RATE_LIMIT": HUB_SETTINGS["HUB_RATE_LIMIT"],
        "WEBHOOK_ALLOW_HTTP": True,
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"],
        "TOKEN_TTL": 7200,
    }
    app = create_app(settings)
    engine = db.engine_of(app)
    engine.dispose()

    def on_connect(connection: Any, record: Any) -> None:
        connection.add_notice_handler(lambda diagnostic: plans.append(diagnostic.message_primary))
        connection.autocommit = True
        for statement in AUTO_EXPLAIN:
            connection.execute(statement)
        connection.autocommit = False

    event.listen(engine, "connect", on_connect)
    try:
        yield app, plans
    finally:
        event.remove(engine, "connect", on_connect)
        db.dispose(app)
        os.environ.pop("HUB_INSTANCE_PATH", None)


def _query_text(plan: str) -> str:
    return plan.split("Query Text: ", 1)[-1].split("\n", 1)[0].strip()


def explain(url: str, env: dict[str, str], keys: Keys, city: City, projects: int) -> list[str]:
    """Print the plans of the statements each hot request runs (its last of ``REPEAT`` runs);
    return the statements whose plans scan one of the big tables."""
    from flask.cli import ScriptInfo

    from hub.cli import cli

    repeat = 12  # past psycopg's prepare threshold and PostgreSQL's five custom plans
    wanted = targets(city, projects, libpq_of(url), seed=11)
    land_key, reader_key = keys.by_department["land"], keys.by_department[READER]
    scans: list[str] = []
    printed: dict[str, int] = {}
    with explaining_app(url, env) as (app, plans):
        client = app.test_client()

        def bearer(key: str) -> dict[str, str]:
            answer = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {key}"})
            return {"Authorization": f"Bearer {answer.json['access_token']}"}  # type: ignore[index]

        reader, land = bearer(reader_key), bearer(land_key)
        tag = os.urandom(3).hex()
        requests: list[tuple[str, Callable[[int], Request], dict[str, str]]] = [
            ("PUT a new record (the write's key lookup, insert, version, audit)",
             lambda n: ("PUT", f"/api/v1/records/land_parcel/EXPLAIN-{tag}-{n}",
                        {**PROJECT_LAND, "rights_holder": f"E {n}"}), land),
            ("PUT changing an existing record (lock by key, update, version, audit)",
             lambda n: _changed(wanted["update"][n]), land),
            ("batch of 50 new records",
             lambda n: ("POST", "/api/v1/records/land_parcel/batch", {"records": [
                 {"key": f"EXPLAIN-{tag}-b{n}-{i}", "data": PROJECT_LAND} for i in range(50)]}),
             land),
            ("GET one record", lambda n: wanted["get"][n], reader),
            ("list page by project_code", lambda n: wanted["list"][n], reader),
            ("project dossier", lambda n: wanted["dossier"][n], reader),
            ("feed page from an old cursor", lambda n: wanted["feed_old"][n], reader),
            ("feed page at the head", lambda n: wanted["feed_head"][0], reader),
            ("feed page at the head, nothing new (after = head)",
             lambda n: ("GET", f"/api/v1/events?after={log_bounds(libpq_of(url))[0]}", None),
             reader),
            ("feed page by project from an old cursor",
             lambda n: wanted["feed_project"][n], reader),
        ]  # fmt: skip
        for title, make, headers in requests:
            for n in range(repeat):
                plans.clear()
                method, path, body = make(n)
                answer = client.open(path, method=method, json=body, headers=headers)
                if answer.status_code not in OK:
                    raise RuntimeError(f"{title}: {answer.status_code} {answer.get_data()!r}")
            _print_plans(f"{title}: {method} {path}", plans, printed, scans)
        script = ScriptInfo(create_app=lambda: app)
        for args in (["events", "compact"], ["audit", "verify"]):
            plans.clear()
            cli.main(args=args, obj=script, standalone_mode=False)
            _print_plans(f"hub {' '.join(args)}", plans, printed, scans)
    return scans


PROJECT_LAND = {
    "project_code": PROJECT_CODE,
    "area_mu": 12,
    "land_use": "industrial",
    "supply_method": "transfer",
    "supply_status": "ready",
    "transfer_price": 1234.5,
    "rights_holder": "Holder",
}


def _changed(request: Request) -> Request:
    method, path, body = request
    return method, path, {**body, "rights_holder": f"Explained {os.urandom(3).hex()}"}


def _print_plans(title: str, plans: list[str], printed: dict[str, int], scans: list[str]) -> None:
    print(f"\n-- {title}")
    seen: dict[str, str] = {}
    for plan in plans:  # the last run of each statement in the request
        seen[_query_text(plan)] = plan
    for query, plan in seen.items():
        duration = plan.split("  plan:", 1)[0]
        if query in printed:
            print(f"   [{duration}] statement {printed[query]} again")
            continue
        printed[query] = len(printed) + 1
        print(f"   statement {printed[query]} [{duration}]")
        body = plan.split("plan:\n", 1)[-1]
        print("\n".join("     " + line for line in body.splitlines()))
        for table in SCANNED:
            if f"Seq Scan on {table} " in body or body.count(f"Seq Scan on {table}\n"):
                scans.append(f"{title}: statement {printed[query]} scans {table}")


def libpq_of(url: str) -> str:
    return hubs.libpq(url)


# --- reporting ----------------------------------------------------------------------------------


def report(small: Step, full: Step, names: tuple[str, str]) -> dict[str, Any]:
    a, b = names
    figures: dict[str, Any] = {}
    print(f"\n{'measure':<36} {'unit':<9} {a:>9} {b:>9} {b + '/' + a:>10}  rounds at {a} | at {b}")
    for name, what, unit in (*WRITES, *READS):
        low, high = statistics.median(small.rates[name]), statistics.median(full.rates[name])
        ratio = high / low
        figures[name] = (low, high, ratio)
        mark = "" if ratio >= 0.8 else "  < 0.8"
        rounds = " ".join(f"{x:.0f}" for x in small.rates[name])
        rounds += " | " + " ".join(f"{x:.0f}" for x in full.rates[name])
        print(f"{what:<36} {unit:<9} {low:>9.0f} {high:>9.0f} {ratio:>10.2f}  {rounds}{mark}")
    for name, what in (("compact", "hub events compact"), ("verify", "hub audit verify"),
                       ("cli", "hub departments list (CLI start)")):  # fmt: skip
        low, high = small.seconds[name], full.seconds[name]
        figures[name] = (low, high, high / low)
        print(f"{what:<36} {'s':<9} {low:>9.2f} {high:>9.2f} {high / low:>10.2f}")
    low = small.seconds["verified"] / small.seconds["verify"]
    high = full.seconds["verified"] / full.seconds["verify"]
    figures["verify_rate"] = (low, high, high / low)
    print(f"{'hub audit verify':<36} {'entries/s':<9} {low:>9.0f} {high:>9.0f} {high / low:>10.2f}")
    print(
        "medians of the rounds; target: every rate at the full size >= 0.8 x its small-size "
        "rate, and no time growing with the table (verify walks the whole chain: compare its "
        "entries/s)"
    )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k", help="Records at the full size (full = 1m).")
    parser.add_argument("--small", default="10k", help="Records at the small size.")
    parser.add_argument("--projects", type=int, default=2000, help="Projects at the full size.")
    parser.add_argument("--years", type=float, default=3, help="Years the versions span.")
    parser.add_argument("--audit-per-record", type=float, default=2, help="Audit entries.")
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3, help="Seconds per measure and round.")
    parser.add_argument("--batch-seconds", type=float, default=2, help="The same for batches.")
    parser.add_argument("--batch", type=int, default=100, help="Records per batch.")
    parser.add_argument("--clients", type=int, default=4, help="Client processes.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default=POSTGRES, help="The server (libpq URL).")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    options = parser.parse_args(argv)
    size, small = parse_size(options.size), parse_size(options.small)
    per_project = size // options.projects
    if per_project < 1 + len(MIX):
        parser.error(f"{size} records make fewer than {1 + len(MIX)} per project: fewer projects")
    if not 0 < small < size:
        parser.error("--small must be below --size")
    small_projects = max(1, options.projects * small // size)
    city = City(options.projects, per_project, datetime.now(CITY).date())
    names = (label(small_projects * per_project), label(options.projects * per_project))
    print(
        f"PostgreSQL; {names[0]} then {names[1]} records ({per_project} a project, "
        f"{small_projects} then {options.projects} projects), ~5 versions each, "
        f"{options.audit_per_record:g} audit entries a record, {options.subscriptions} "
        f"subscriptions; gunicorn {options.workers} workers x {options.threads} threads; "
        f"{options.clients} client processes; {options.rounds} rounds of {options.seconds:g}s",
        flush=True,
    )
    began = time.monotonic()
    steps: list[Step] = []
    scans: list[str] = []
    with ExitStack() as stack:
        pool = stack.enter_context(multiprocessing.Pool(options.clients))
        receiver = Receiver().start()
        stack.callback(receiver.stop)
        db = stack.enter_context(hubs.schema(options.postgres, "growth"))
        instance = stack.enter_context(tempfile.TemporaryDirectory())
        env = {**hub_env(db.url, Path(instance)), **HUB_SETTINGS}
        keys = set_up(env)
        filler = Filler(db.url, city, options.years, options.audit_per_record)

        def first(port: int, reader: dict[str, str]) -> None:
            ndrc = keys.headers(port, "ndrc")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            path = f"/api/v1/records/project/{PROJECT_CODE}"
            status, answer = request_json(connection, "PUT", path, PROJECT, ndrc)
            assert status in OK, answer
            subscribe(port, reader, city, options.subscriptions, receiver.url(""))

        for index, projects in enumerate((small_projects, options.projects)):
            run_cli(env, "events", "number")
            run_cli(env, "audit", "seal")
            filled = filler.grow(projects)
            records, versions, audit = table_sizes(db.url)
            print(
                f"\n{names[index]}: filled {filled.records} records, {filled.versions} versions, "
                f"{filled.audit} audit entries in {filled.seconds:.0f}s "
                f"({filled.versions / filled.seconds:.0f} versions/s); the tables hold "
                f"{records} records, {versions} versions, {audit} audit entries",
                flush=True,
            )
            step = Step(records, versions, audit, filled.seconds)
            measure_step(
                step, env, db.url, city, projects, keys, pool, options,
                first if index == 0 else None,
            )  # fmt: skip
            print(
                f"{names[index]}: measured in rounds; load average {step.load}; the tables then "
                f"held {'/'.join(str(n) for n in table_sizes(db.url))} records/versions/audit",
                flush=True,
            )
            steps.append(step)
        figures = report(steps[0], steps[1], names)
        if options.explain:
            print(
                f"\nPlans at {names[1]} (EXPLAIN ANALYZE, BUFFERS by auto_explain) of every "
                "statement of each hot request, run by the hub's code in this process"
            )
            scans = explain(db.url, env, keys, city, options.projects)
            print("\nStatements that scan a big table: " + ("none" if not scans else ""))
            for line in scans:
                print(f"  {line}")
    figures["scans"] = scans
    print(f"\nwhole run {time.monotonic() - began:.0f}s")
    sys.stdout.flush()
    return figures


if __name__ == "__main__":
    main()
