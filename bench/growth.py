"""What growth costs: the hub measured on a small city and on a large city's years, in one run.

PostgreSQL schemas made for the run (dropped after it) are filled straight into their tables
with ``COPY``, not through the API: projects and their linked records of every type (the bodies
bench/supervision.py writes, a few hundred bytes each, validated by sample), each record with
1 to 9 versions (5 on average), every version numbered in the change log, interleaved over the
last ``--years`` years; a year of audit entries (``--audit-per-record`` a record), sealed into
the hash chain in order with the hub's own ``entry_hash`` (so ``hub audit verify`` passes); and
``--subscriptions`` subscriptions made through the API, ``--webhooks`` of them webhooks to a
receiver on loopback following types the measures do not publish (so the dispatchers look at
every change and deliver nothing), the rest pull subscriptions.

1. Fill ``--small`` records (10k), serve the hub (``hub serve``, its dispatcher in each worker)
   and measure it: the "small, alone" column.
2. Stop it and grow the same database to ``--size`` records (100k by default; ``full`` is
   1,000,000, 2,000 projects, ~5,000,000 versions). Fill a twin of the small database.
3. Serve the grown one and the twin side by side and measure them in alternation, round by
   round, so that the drift of a shared machine's load hits both alike: the ratio full/small is
   the median of the rounds' ratios.

Statistics are fresh after each fill (``VACUUM ANALYZE``, as autovacuum and the hub's
housekeeping keep them on a live hub). Measured from ``--clients`` client processes over
keep-alive connections (figures: records or requests per second):

- writes: single-record PUTs of new records, PUTs that change existing records, batches;
- reads: GET one record (any type), a list page filtered by project (``project_code``), a
  project's dossier, a feed page from an old cursor (near the oldest event kept), the feed
  page at the head (the last 10 events), a feed page filtered by project from an old cursor;
- ``hub events compact`` and ``hub audit verify`` (seconds; verify also as entries per second
  less the time a CLI command takes to start, as it walks the whole chain).

Target: every rate at the full size at least 0.8 of its rate at the small size; no time growing
with the table. At the full size it then prints, unless ``--no-explain``, the plans (``EXPLAIN
ANALYZE, BUFFERS``, by auto_explain) of every statement the hot requests and the two commands
run: the hub's own code, in this process, on the grown database, each request repeated so that
the plans shown are the ones PostgreSQL settles on for prepared statements; and lists the
statements that scan a big table or read many rows or pages.

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
import re
import statistics
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
from sqlalchemy.exc import SQLAlchemyError

from bench import hubs
from bench.publish import (
    POSTGRES,
    PROJECT,
    PROJECT_CODE,
    hub_env,
    measure,
    request_json,
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


def _json(value: Any) -> str:
    """``value`` as JSON in a COPY text field (orjson escapes every control character, so
    only the backslashes need doubling)."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


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
        self.validated: set[tuple[int, int]] = set()  # (layout slot, version)

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
            events = self._events(first, count)
            with cursor.copy(f"COPY records ({RECORD_COLUMNS}) FROM STDIN") as copy:
                self._records(copy, first, count, record_base, events)
            with cursor.copy(f"COPY record_versions ({VERSION_COLUMNS}) FROM STDIN") as copy:
                self._versions(copy, first, count, record_base, version_base, head, events)
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

    def _events(self, first: int, count: int) -> Events:
        """Where each new record's versions fall in the log: versions are written in rounds,
        every record's first version, then the second of those that have one, and so on, so
        that a record's versions are spread over the years rather than side by side."""
        per = self.city.per_project
        records = count * per
        counts = bytes(versions_of(first * per + n) for n in range(records))
        last = array("q", bytes(8 * records))
        number = 0
        for round_ in range(MAX_VERSIONS):
            for local, versions in enumerate(counts):
                if versions > round_:
                    last[local] = number
                    number += 1
        return Events(number, last, self._moment(number))

    def _versions(
        self,
        copy: Any,
        first: int,
        count: int,
        record_base: int,
        version_base: int,
        head: int,
        events: Events,
    ) -> None:
        """Write every version of the new records, in the order :meth:`_events` gave them."""
        city = self.city
        per = city.per_project
        records = count * per
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
                buffer.write(
                    f"{version_base + number + 1}\t{record_base + local + 1}\t{type_name}\t"
                    f"{key}\t{code}\t{version}\t{operation}\t{_json(data)}\t{_json(changed)}\t"
                    f"f\t{OWNERS[type_name]}\tbench\t{events.moment(number).isoformat()}\t"
                    f"{head + number + 1}\n"
                )
                number += 1
                if buffer.tell() >= CHUNK:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
        copy.write(buffer.getvalue())
        assert number == events.total

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
            created = events.moment(local).isoformat()
            updated = events.moment(events.last_event[local]).isoformat()
            buffer.write(
                f"{record_base + local + 1}\t{type_name}\t{key}\t{code}\t{versions}\t"
                f"{_json(data)}\t{OWNERS[type_name]}\t{created}\t{updated}\tf\n"
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
        # the records entries name: a few thousand of the new ones (making a key costs more
        # than the rest of an entry)
        pool = [
            city.record(*divmod(first * per + rng.randrange(count * per), per))[:2]
            for _ in range(min(5000, count * per))
        ]
        buffer = io.StringIO()
        for n in range(total):
            type_name, key = pool[rng.randrange(len(pool))]
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
                details = {
                    "method": "POST",
                    "path": f"/api/v1/records/{type_name}/batch",
                    "created": 40,
                    "updated": 160,
                }
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
    started: bool = False  # served once (its project and subscriptions made)

    def headers(self, port: int, department: str) -> dict[str, str]:
        return token(port, self.by_department[department])


def set_up(env: dict[str, str]) -> Keys:
    """Migrate, and add the departments (a reader among them) and their keys."""
    hubs.cli(env, "init")
    keys = {}
    for department, types in DEPARTMENTS.items():
        publishes = [arg for type_name in types for arg in ("--publishes", type_name)]
        hubs.quick_cli(env, "departments", "add", department, "--name", department, *publishes)
        keys[department] = hubs.quick_cli(
            env, "keys", "create", "--department", department, "--scope", "records:write"
        )
    hubs.quick_cli(env, "departments", "add", READER, "--name", "Watcher")
    keys[READER] = hubs.quick_cli(
        env,
        "keys",
        "create",
        "--department",
        READER,
        "--scope",
        "records:read",
        "--scope",
        "events:read",
        "--scope",
        "subscriptions",
    )
    return Keys(keys)


def subscribe(
    port: int, headers: dict[str, str], city: City, count: int, webhooks: int, url: str
) -> None:
    """``count`` subscriptions, ``webhooks`` of them (spread among the rest) webhooks to
    ``url`` following a type the measures do not publish (so dispatchers look at each change
    and deliver nothing); the others pull."""
    pulls: list[list[str]] = [
        sorted(registry()),
        ["project"],
        ["land_parcel"],
        ["permit"],
        ["progress_report"],
    ]
    hooks: list[list[str]] = [["funding"], ["permit"], ["coordination_item"], ["project"]]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hook_numbers = {n * count // webhooks for n in range(webhooks)} if webhooks else set()
    for n in range(count):
        body: dict[str, Any]
        if n in hook_numbers:
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
        ],
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
CLI = (
    ("cli", ("departments", "list")),
    ("compact", ("events", "compact")),
    ("verify", ("audit", "verify")),
)


@dataclass
class Served:
    """A hub being measured: its database, port, headers and what the measures ask it."""

    name: str
    url: str
    env: dict[str, str]
    port: int
    reader: dict[str, str]
    land: dict[str, str]
    wanted: dict[str, list[Request]]


@dataclass
class Figures:
    """What was measured of one hub: rates per round, and CLI seconds per run."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    verified: int = 0  # audit entries the last verify walked


def table_sizes(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url, autocommit=True) as connection:
        counts = [
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in ("records", "record_versions", "audit_log")
        ]
    return tuple(int(row[0]) for row in counts if row is not None)  # type: ignore[return-value]


def timed_cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    said = hubs.cli(env, *args)
    return time.perf_counter() - started, said


def measure_rates(
    served: list[Served], pool: Any, options: argparse.Namespace
) -> dict[str, Figures]:
    """Every measure once per round on each hub, hub after hub (the first one first in even
    rounds, last in odd ones), so that drift in the machine's load hits them alike: reads,
    then writes (which move the head); then the CLI commands, as many times."""
    figures = {hub.name: Figures() for hub in served}
    for hub in served:  # warm-up: the hub's workers and the database's cache
        for name, _, _ in READS:
            drive(pool, hub.port, hub.reader, hub.wanted[name], options.warmup)
        measure(pool, hub.port, "single", hub.land, options.warmup, 1)

    def ordered(round_: int) -> list[Served]:
        return served if round_ % 2 == 0 else served[::-1]

    for round_ in range(options.rounds):
        for name, _, _ in READS:
            for hub in ordered(round_):
                rate = drive(pool, hub.port, hub.reader, hub.wanted[name], options.seconds)
                figures[hub.name].rates.setdefault(name, []).append(rate)
    for round_ in range(options.rounds):
        for name, _, _ in WRITES:
            for hub in ordered(round_):
                if name == "put":
                    rate = measure(pool, hub.port, "single", hub.land, options.seconds, 1)
                elif name == "update":
                    rate = drive(pool, hub.port, hub.land, hub.wanted["update"], options.seconds)
                else:
                    rate = measure(
                        pool, hub.port, "batch", hub.land, options.batch_seconds, options.batch
                    )
                figures[hub.name].rates.setdefault(name, []).append(rate)
    for round_ in range(options.cli_rounds):
        for hub in ordered(round_):
            taken = figures[hub.name].seconds
            for name, args in CLI:
                seconds, said = timed_cli(hub.env, *args)
                taken.setdefault(name, []).append(seconds)
                if name == "verify":
                    figures[hub.name].verified = int(said.split("intact: ", 1)[1].split()[0])
    return figures


@contextmanager
def serving(
    hubs_wanted: list[tuple[str, str, dict[str, str], Keys, int]],
    city: City,
    first: Callable[[int, dict[str, str], Keys], None] | None,
    options: argparse.Namespace,
) -> Iterator[list[Served]]:
    """Serve each (name, url, env, keys, projects) with ``hub serve``; ``first`` is run once
    on each hub served for the first time."""
    with hubs.Processes() as processes:
        started = [
            processes.serve(
                env, name=name, workers=options.workers, threads=options.threads, wait=False
            )
            for name, _, env, _, _ in hubs_wanted
        ]
        processes.ready(*started)
        served = []
        for (name, url, env, keys, projects), process in zip(hubs_wanted, started, strict=True):
            port = process.port
            assert port is not None
            reader, land = keys.headers(port, READER), keys.headers(port, "land")
            if first is not None and not keys.started:
                first(port, reader, keys)
            keys.started = True
            wanted = targets(city, projects, url)
            served.append(Served(name, url, env, port, reader, land, wanted))
        yield served


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
SCANNED = ("records", "record_versions", "audit_log")


@contextmanager
def explaining_app(url: str, env: dict[str, str]) -> Iterator[tuple[Any, list[str]]]:
    """The hub in this process on ``url``, every statement it runs explained (auto_explain,
    analysed, with buffers); yields the app and the list the plans arrive in."""
    from sqlalchemy import event

    from hub import create_app
    from hub.core.extensions import db

    plans: list[str] = []
    instance_before = os.environ.get("HUB_INSTANCE_PATH")
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
        if instance_before is None:
            os.environ.pop("HUB_INSTANCE_PATH", None)
        else:
            os.environ["HUB_INSTANCE_PATH"] = instance_before


def split_plan(message: str) -> tuple[str, str, str]:
    """An auto_explain message's duration, statement and plan."""
    duration, _, rest = message.partition("  plan:\n")
    lines = rest.removeprefix("Query Text: ").splitlines()
    for n, line in enumerate(lines):
        if "(cost=" in line:
            return duration, "\n".join(lines[:n]).strip(), "\n".join(lines[n:])
    return duration, "\n".join(lines).strip(), ""


def plan_shape(plan: str) -> str:
    """A plan's nodes without their figures: two runs with the same shape did the same."""
    return "\n".join(line.split("  (cost=")[0] for line in plan.splitlines() if "(cost=" in line)


def heavy(plan: str) -> list[str]:
    """What in a plan costs more as its tables grow: a scan of a big table, or many rows or
    pages read for one statement."""
    found = [f"Seq Scan on {t}" for t in SCANNED if re.search(rf"Seq Scan on {t}\b", plan)]
    removed = [int(n) for n in re.findall(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", plan)]
    if removed and max(removed) > 1000:
        found.append(f"{max(removed)} rows removed by a filter")
    buffers = re.search(r"Buffers: shared((?: \w+=\d+)+)", plan)
    if buffers:
        pages = sum(int(n) for n in re.findall(r"=(\d+)", buffers.group(1)))
        if pages > 1000:
            found.append(f"{pages} buffers")
    return found


def explain(url: str, env: dict[str, str], keys: Keys, city: City, projects: int) -> list[str]:
    """Print the plans of the statements each hot request runs (its last of ``REPEAT`` runs);
    return the statements whose plans scan one of the big tables."""
    from flask.cli import ScriptInfo

    from hub.cli import cli

    repeat = 12  # past psycopg's prepare threshold and PostgreSQL's five custom plans
    wanted = targets(city, projects, libpq_of(url), seed=11)
    land_key, reader_key = keys.by_department["land"], keys.by_department[READER]
    scans: list[str] = []
    printed: dict[tuple[str, str], int] = {}
    with explaining_app(url, env) as (app, plans):
        client = app.test_client()

        def bearer(key: str) -> dict[str, str]:
            answer = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {key}"})
            assert answer.json is not None, answer.status
            return {"Authorization": f"Bearer {answer.json['access_token']}"}

        reader, land = bearer(reader_key), bearer(land_key)
        tag = os.urandom(3).hex()
        requests: list[tuple[str, Callable[[int], Request], dict[str, str]]] = [
            (
                "PUT a new record (the write's key lookup, insert, version, audit)",
                lambda n: (
                    "PUT",
                    f"/api/v1/records/land_parcel/EXPLAIN-{tag}-{n}",
                    {**PROJECT_LAND, "rights_holder": f"E {n}"},
                ),
                land,
            ),
            (
                "PUT changing an existing record (lock by key, update, version, audit)",
                lambda n: _changed(wanted["update"][n]),
                land,
            ),
            (
                "batch of 50 new records",
                lambda n: (
                    "POST",
                    "/api/v1/records/land_parcel/batch",
                    {
                        "records": [
                            {"key": f"EXPLAIN-{tag}-b{n}-{i}", "data": PROJECT_LAND}
                            for i in range(50)
                        ]
                    },
                ),
                land,
            ),
            ("GET one record", lambda n: wanted["get"][n], reader),
            ("list page by project_code", lambda n: wanted["list"][n], reader),
            ("project dossier", lambda n: wanted["dossier"][n], reader),
            ("feed page from an old cursor", lambda n: wanted["feed_old"][n], reader),
            ("feed page at the head", lambda n: wanted["feed_head"][0], reader),
            (
                "feed page at the head, nothing new (after = head)",
                lambda n: ("GET", f"/api/v1/events?after={log_bounds(libpq_of(url))[0]}", None),
                reader,
            ),
            (
                "feed page by project from an old cursor",
                lambda n: wanted["feed_project"][n],
                reader,
            ),
        ]
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


def _print_plans(
    title: str, plans: list[str], printed: dict[tuple[str, str], int], scans: list[str]
) -> None:
    print(f"\n-- {title}")
    last: dict[str, tuple[str, str]] = {}
    for message in plans:  # the last run of each statement in the request
        duration, statement, plan = split_plan(message)
        last[statement] = (duration, plan)
    for statement, (duration, plan) in last.items():
        key = (statement, plan_shape(plan))
        if key in printed:
            print(f"   statement {printed[key]} again, the same plan [{duration}]")
            continue
        printed[key] = len(printed) + 1
        print(f"   statement {printed[key]} [{duration}]")
        print("\n".join("     " + line for line in statement.splitlines()))
        print("\n".join("       " + line for line in plan.splitlines()))
        for problem in heavy(plan):
            scans.append(f"{title}: statement {printed[key]}: {problem}")


def libpq_of(url: str) -> str:
    return hubs.libpq(url)


# --- reporting ----------------------------------------------------------------------------------


def _median_ratio(top: list[float], bottom: list[float]) -> tuple[float, list[float]]:
    ratios = [t / b for t, b in zip(top, bottom, strict=True)]
    return statistics.median(ratios), ratios


def report(before: Figures, twin: Figures, full: Figures, names: tuple[str, str]) -> dict[str, Any]:
    """Print every figure at both sizes and the ratio full/small; return them."""
    a, b = names
    figures: dict[str, Any] = {}
    print(
        f"\n{'measure':<34} {'unit':<9} {a + ' alone':>10} {a:>9} {b:>9} {b + '/' + a:>9}  "
        f"rounds ({b}/{a})"
    )
    for name, what, unit in (*WRITES, *READS):
        alone = statistics.median(before.rates[name])
        low, high = statistics.median(twin.rates[name]), statistics.median(full.rates[name])
        ratio, ratios = _median_ratio(full.rates[name], twin.rates[name])
        figures[name] = {"alone": alone, "small": low, "full": high, "ratio": ratio}
        mark = "" if ratio >= 0.8 else "  < 0.8"
        print(
            f"{what:<34} {unit:<9} {alone:>10.0f} {low:>9.0f} {high:>9.0f} {ratio:>9.2f}  "
            + " ".join(f"{r:.2f}" for r in ratios)
            + mark
        )
    for name, what in (
        ("compact", "hub events compact"),
        ("verify", "hub audit verify"),
        ("cli", "hub departments list (CLI start)"),
    ):
        alone = statistics.median(before.seconds[name])
        low, high = statistics.median(twin.seconds[name]), statistics.median(full.seconds[name])
        figures[name] = {"alone": alone, "small": low, "full": high, "ratio": high / low}
        print(
            f"{what:<34} {'s':<9} {alone:>10.2f} {low:>9.2f} {high:>9.2f} {high / low:>9.2f}  "
            + " | ".join(
                f"{x:.2f} {y:.2f}"
                for x, y in zip(twin.seconds[name], full.seconds[name], strict=True)
            )
        )

    def walk_rate(f: Figures) -> float:
        walking = statistics.median(f.seconds["verify"]) - statistics.median(f.seconds["cli"])
        return f.verified / max(walking, 0.01)

    low, high = walk_rate(twin), walk_rate(full)
    figures["verify_rate"] = {"alone": walk_rate(before), "small": low, "full": high,
                              "ratio": high / low}  # fmt: skip
    print(
        f"{'audit verify, less CLI start':<34} {'entries/s':<9} {walk_rate(before):>10.0f} "
        f"{low:>9.0f} {high:>9.0f} {high / low:>9.2f}  ({twin.verified} and {full.verified} "
        "entries)"
    )
    print(
        f"medians. '{a} alone': the small database measured before it grew; '{a}' and '{b}': a "
        f"twin of it and the grown one, served side by side and measured in alternation, round "
        f"by round ({b}/{a} is the median of the rounds' ratios). Target: every rate at {b} >= "
        f"0.8 x its rate at {a}; no time growing with the table (verify walks the whole chain: "
        "compare its entries/s)"
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
    parser.add_argument(
        "--webhooks", type=int, default=50, help="How many of the subscriptions are webhooks."
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3, help="Seconds per measure and round.")
    parser.add_argument("--batch-seconds", type=float, default=2, help="The same for batches.")
    parser.add_argument("--batch", type=int, default=100, help="Records per batch.")
    parser.add_argument("--cli-rounds", type=int, default=2, help="Runs of each CLI command.")
    parser.add_argument("--warmup", type=float, default=1, help="Seconds of warm-up a measure.")
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
        f"subscriptions ({options.webhooks} webhooks); gunicorn {options.workers} workers x "
        f"{options.threads} threads; "
        f"{options.clients} client processes; {options.rounds} rounds of {options.seconds:g}s",
        flush=True,
    )
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    began = time.monotonic()
    scans: list[str] = []
    with ExitStack() as stack:
        pool = stack.enter_context(multiprocessing.Pool(options.clients))
        receiver = Receiver().start()
        stack.callback(receiver.stop)
        databases, envs, keys, fillers = [], [], [], []
        for name in ("growth", "growth_twin"):
            db = stack.enter_context(hubs.schema(options.postgres, name))
            instance = stack.enter_context(tempfile.TemporaryDirectory())
            env = {**hub_env(db.url, Path(instance)), **HUB_SETTINGS}
            databases.append(db)
            envs.append(env)
            keys.append(set_up(env))
            fillers.append(Filler(db.url, city, options.years, options.audit_per_record))
        grown, twin = databases

        def first(port: int, reader: dict[str, str], keys: Keys) -> None:
            ndrc = keys.headers(port, "ndrc")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            path = f"/api/v1/records/project/{PROJECT_CODE}"
            status, answer = request_json(connection, "PUT", path, PROJECT, ndrc)
            assert status in OK, answer
            subscribe(port, reader, city, options.subscriptions, options.webhooks, receiver.url(""))

        def fill(index: int, projects: int, label: str) -> None:
            hubs.quick_cli(envs[index], "events", "number")
            hubs.quick_cli(envs[index], "audit", "seal")
            filled = fillers[index].grow(projects)
            records, versions, audit = table_sizes(databases[index].url)
            print(
                f"{label}: filled {filled.records} records, {filled.versions} versions, "
                f"{filled.audit} audit entries in {filled.seconds:.0f}s "
                f"({filled.versions / filled.seconds:.0f} versions/s); the tables hold "
                f"{records} records, {versions} versions, {audit} audit entries",
                flush=True,
            )

        fill(0, small_projects, f"{names[0]}")
        small_hub = (names[0], grown.url, envs[0], keys[0], small_projects)
        with serving([small_hub], city, first, options) as served:
            before = measure_rates(served, pool, options)[names[0]]
        print(f"{names[0]} alone: measured; load average {_load()}", flush=True)
        fill(0, options.projects, f"{names[1]}")
        fill(1, small_projects, f"{names[0]} twin")
        both = [
            (names[1], grown.url, envs[0], keys[0], options.projects),
            (names[0], twin.url, envs[1], keys[1], small_projects),
        ]
        with serving(both, city, first, options) as served:
            during = measure_rates(served, pool, options)
        print(
            f"{names[1]} and {names[0]}: measured side by side; load average {_load()}; the "
            f"tables then held {'/'.join(str(n) for n in table_sizes(grown.url))} and "
            f"{'/'.join(str(n) for n in table_sizes(twin.url))} records/versions/audit",
            flush=True,
        )
        figures = report(before, during[names[0]], during[names[1]], names)
        if options.explain:
            print(
                f"\nPlans at {names[1]} (EXPLAIN ANALYZE, BUFFERS by auto_explain) of every "
                "statement of each hot request, run by the hub's code in this process"
            )
            try:
                scans = explain(grown.url, envs[0], keys[0], city, options.projects)
            except (psycopg.Error, SQLAlchemyError) as exc:  # auto_explain needs a superuser
                print(f"no plans: {exc}")
            print("\nStatements that scan a big table or walk many rows: " + ("none" * (not scans)))
            for line in scans:
                print(f"  {line}")
    figures["scans"] = scans
    print(f"\nwhole run {time.monotonic() - began:.0f}s; load average at the end {_load()}")
    sys.stdout.flush()
    return figures


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
