"""Scale-out: two API processes and two dispatchers on one PostgreSQL, one dispatcher killed.

Two ``hub serve --no-dispatcher`` processes take a steady publish load (single PUTs, new land
parcels and permits of two projects and changes to them, alternating between the two), while
two ``hub worker`` processes deliver to ``--subscriptions`` webhook subscriptions on a receiver
on loopback: a quarter follow everything, a quarter land parcels, a quarter permits, a quarter
one project. ``--kill-at`` seconds into the load the worker holding the most leases is killed
(SIGKILL: nothing is finished or given back). When the load is over and every subscription has
caught up (or ``--timeout`` has passed), the run checks, per subscription, what the receiver got
against the events its filter selects from the feed:

- lost: events it never received (must be 0);
- out of order: a receipt not after the one before it, but for a repeat of it (must be 0);
- duplicates: repeats, allowed only right after the kill, once per subscription the killed
  worker held (its delivery in flight, sent but not confirmed);
- the feed (``GET /api/v1/events`` paged from 0) is contiguous: exactly 1..head;

and prints deliveries per second (steady, before the kill; and overall), and the time the
killed worker's subscriptions waited before another worker took them over (their leases run
out: ``DISPATCHER_TURN_SECONDS`` + ``WEBHOOK_TIMEOUT`` + ``DISPATCHER_LEASE_MARGIN_SECONDS``,
30 s unless ``--lease-margin`` says otherwise).

    .venv/bin/python -m bench.scaleout [--subscriptions 50] [--seconds 60] [--rate 20]
        [--kill-at 20]

tests/test_scaleout.py runs the same at a small size and asserts the guarantees.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import psycopg

from bench import hubs
from bench.publish import POSTGRES, hub_env, request_json, token
from bench.supervision import linked_body, project_body, project_code
from hub.core.config import DEFAULTS
from schemas import registry

DEPARTMENTS = {"ndrc": "project", "land": "land_parcel", "approval": "permit"}
READER = "watch"
PROJECTS = (project_code(0), project_code(1))
EVERY_TYPE = tuple(sorted(registry()))


class Endpoint(Protocol):
    """A webhook receiver: the URL of a path on it, and what arrived there, in order."""

    def url(self, path: str) -> str: ...

    def arrivals(self, path: str) -> list[tuple[int, float]]:
        """(event sequence, ``time.monotonic()`` of arrival) of each request to ``path``."""
        ...


class RecordingReceiver:
    """A webhook endpoint on loopback that answers 204 and notes each event's sequence."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds each answer takes, as a real endpoint's would
        self.torn = 0  # requests that arrived incomplete
        self._lock = threading.Lock()
        self._arrivals: dict[str, list[tuple[int, float]]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the hub's sender pools connections

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    sequence = int(json.loads(body)["sequence"])
                except (ValueError, KeyError, TypeError):
                    # a request cut off by the killed worker: not a delivery
                    with receiver._lock:
                        receiver.torn += 1
                    self.send_response_only(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver._note(self.path.lstrip("/"), sequence)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response_only(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _note(self, path: str, sequence: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._arrivals.setdefault(path, []).append((sequence, now))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{path}"

    def arrivals(self, path: str) -> list[tuple[int, float]]:
        with self._lock:
            return list(self._arrivals.get(path, []))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Options:
    subscriptions: int = 50
    seconds: float = 60  # of publish load
    rate: float = 20  # records per second, all publishers together
    publishers: int = 2
    kill_at: float = 20  # seconds into the load
    timeout: float = 180  # longest wait for every subscription to catch up after the load
    webhook_timeout: float | None = None  # HUB_WEBHOOK_TIMEOUT; None: the hub's default
    turn: float | None = None  # HUB_DISPATCHER_TURN_SECONDS; None: the hub's default
    concurrency: int = 8  # HUB_DISPATCHER_CONCURRENCY
    lease_margin: float | None = None  # HUB_DISPATCHER_LEASE_MARGIN_SECONDS; None: the default
    pool: int = 5  # HUB_DATABASE_POOL_SIZE


@dataclass
class Subscription:
    id: int
    path: str
    types: tuple[str, ...]
    project: str | None
    start: int  # its cursor when made: it gets what comes after

    def wants(self, event: tuple[int, str, str]) -> bool:
        sequence, type_name, code = event
        return (
            sequence > self.start
            and (not self.types or type_name in self.types)
            and self.project in (None, code)
        )


@dataclass
class Figures:
    """What a scale-out run found."""

    subscriptions: int
    head: int
    feed_contiguous: bool
    expected: int  # deliveries the filters call for
    received: int  # requests the receiver got, repeats included
    lost: int
    out_of_order: int
    duplicates: int
    duplicates_elsewhere: int  # repeats outside the killed worker's subscriptions
    most_duplicates: int  # on one subscription
    published: int
    publish_errors: list[str]
    load_seconds: float
    killed: str | None
    killed_held: int  # subscriptions whose leases the killed worker held
    lease_seconds: float
    recovery_seconds: float | None  # kill to the last of its subscriptions delivering again
    caught_up_seconds: float | None  # end of load to the last delivery owed
    steady_rate: float  # deliveries per second from the first delivery to the kill
    overall_rate: float  # deliveries per second from the first to the last
    problems: dict[int, str] = field(default_factory=dict)


def settings(options: Options) -> dict[str, str]:
    values = {
        "HUB_RATE_LIMIT": "1000000/second",
        "HUB_WEBHOOK_ALLOW_HTTP": "true",
        "HUB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HUB_DATABASE_POOL_SIZE": str(options.pool),
        "HUB_DISPATCHER_CONCURRENCY": str(options.concurrency),
        "HUB_TOKEN_TTL": "7200",
    }
    if options.webhook_timeout is not None:
        values["HUB_WEBHOOK_TIMEOUT"] = str(options.webhook_timeout)
    if options.turn is not None:
        values["HUB_DISPATCHER_TURN_SECONDS"] = str(options.turn)
    if options.lease_margin is not None:
        values["HUB_DISPATCHER_LEASE_MARGIN_SECONDS"] = str(options.lease_margin)
    return values


def set_up(env: dict[str, str]) -> dict[str, str]:
    """Migrate; the departments and their keys."""
    hubs.cli(env, "init")
    keys = {}
    for department, type_name in DEPARTMENTS.items():
        hubs.quick_cli(
            env, "departments", "add", department, "--name", department, "--publishes", type_name
        )
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
        "events:read",
        "--scope",
        "subscriptions",
    )
    return keys


class Publisher(threading.Thread):
    """Single PUTs at a steady pace to one API process: new land parcels and permits of the two
    projects, every second one a change to the record before it."""

    def __init__(
        self,
        number: int,
        port: int,
        headers: dict[str, dict[str, str]],
        interval: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"publisher-{number}", daemon=True)
        self.number, self.port, self.headers = number, port, headers
        self.interval, self.stop = interval, stop
        self.published = 0
        self.errors: list[str] = []
        self.today = date.today()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        due = time.monotonic()
        n = 0
        while not self.stop.is_set():
            due += self.interval
            pause = due - time.monotonic()
            if pause > 0 and self.stop.wait(pause):
                break
            type_name = ("land_parcel", "permit")[(n // 2) % 2]
            project = (n // 4) % 2
            key, body = linked_body(type_name, PROJECTS[project], project, n // 2, self.today)
            key = f"{key}-{self.number}"
            if n % 2:  # the change: a new rights holder, or a new authority
                body = {
                    **body,
                    **(
                        {"rights_holder": "改"}
                        if "area_mu" in body
                        else {"authority": "行政审批局"}
                    ),
                }
            owner = "land" if type_name == "land_parcel" else "approval"
            path = f"/api/v1/records/{type_name}/{key}"
            headers = self.headers[owner]
            try:
                try:
                    status, answer = request_json(connection, "PUT", path, body, headers)
                except (OSError, http.client.HTTPException):
                    # a connection the server closed (idle past its keep-alive): again on a
                    # new one (a PUT can be repeated)
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    status, answer = request_json(connection, "PUT", path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"PUT {path}: {exc}")
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            else:
                if status in (200, 201):
                    self.published += 1
                else:
                    self.errors.append(f"PUT {path}: {status} {str(answer)[:200]}")
            n += 1
        connection.close()


def leases(connection: psycopg.Connection[Any]) -> dict[str, list[int]]:
    """The subscriptions each dispatcher holds a live lease on."""
    rows = connection.execute(
        "SELECT lease_owner, id FROM subscriptions "
        "WHERE lease_owner IS NOT NULL AND lease_until > now() ORDER BY id"
    ).fetchall()
    held: dict[str, list[int]] = {}
    for owner, subscription_id in rows:
        held.setdefault(owner, []).append(int(subscription_id))
    return held


def read_feed(port: int, headers: dict[str, str]) -> tuple[list[tuple[int, str, str]], bool]:
    """Every event of the feed from the start, and whether their sequences are 1..head."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    events: list[tuple[int, str, str]] = []
    after = 0
    contiguous = True
    while True:
        status, page = request_json(
            connection, "GET", f"/api/v1/events?after={after}&limit=1000", None, headers
        )
        assert status == 200, page
        for event in page["events"]:
            sequence = int(event["sequence"])
            if sequence != len(events) + 1:
                contiguous = False
            events.append((sequence, event["data"]["type"], event["data"]["project_code"]))
        if not page["events"]:
            contiguous = contiguous and page["next_after"] == len(events)
            break
        after = page["next_after"]
    connection.close()
    return events, contiguous


@contextmanager
def cluster(
    options: Options, server: str
) -> Iterator[
    tuple[hubs.Schema, dict[str, str], hubs.Processes, list[hubs.HubProcess], list[hubs.HubProcess]]
]:
    """Two API processes and two workers on a fresh schema of ``server``; keys by department."""
    with (
        hubs.schema(server, "scaleout") as db,
        tempfile.TemporaryDirectory() as instance,
        hubs.Processes() as processes,
    ):
        env = {**hub_env(db.url, Path(instance)), **settings(options)}
        keys = set_up(env)
        apis = [
            processes.serve(env, name=f"api{n}", dispatcher=False, workers=1, threads=4, wait=False)
            for n in (1, 2)
        ]
        workers = [processes.worker(env, name=f"worker{n}", wait=False) for n in (1, 2)]
        processes.ready(*apis, *workers)
        yield db, keys, processes, apis, workers


def run(options: Options, server: str, endpoint: Endpoint, progress: Any = None) -> Figures:
    """One scale-out run against ``server`` (a PostgreSQL libpq URL), delivering to
    ``endpoint``; see the module's docstring."""
    say = progress or (lambda message: None)
    with cluster(options, server) as (db, keys, _, apis, workers):
        ports = [api.port for api in apis if api.port is not None]
        headers = {name: token(ports[0], key) for name, key in keys.items()}
        connection = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=30)
        for n, code in enumerate(PROJECTS):
            body = {**project_body(n, date.today()), "project_code": code}
            status, answer = request_json(
                connection, "PUT", f"/api/v1/records/project/{code}", body, headers["ndrc"]
            )
            assert status == 201, answer
        subscriptions = []
        for n in range(options.subscriptions):
            types: tuple[str, ...] = (EVERY_TYPE, ("land_parcel",), ("permit",), EVERY_TYPE)[n % 4]
            project = PROJECTS[0] if n % 4 == 3 else None
            body = {"types": list(types), "endpoint_url": endpoint.url(f"s{n}")}
            if project is not None:
                body["filter"] = {"project_code": project}
            status, answer = request_json(
                connection, "POST", "/api/v1/subscriptions", body, headers[READER]
            )
            assert status == 201, answer
            subscriptions.append(
                Subscription(int(answer["id"]), f"s{n}", types, project, int(answer["cursor"]))
            )
        connection.close()
        say(f"{len(subscriptions)} subscriptions; publishing {options.rate:g}/s")

        stop = threading.Event()
        interval = options.publishers / options.rate
        publishers = [
            Publisher(n, ports[n % 2], headers, interval, stop) for n in range(options.publishers)
        ]
        started = time.monotonic()
        for publisher in publishers:
            publisher.start()
        killed: str | None = None
        held: list[int] = []
        killed_at = started + options.kill_at
        try:
            time.sleep(max(0.0, options.kill_at - 0.5))
            with psycopg.connect(db.url, autocommit=True) as watching:
                # the worker holding the most leases, at a moment when one holds any
                victim = None
                deadline = time.monotonic() + 10
                while victim is None and time.monotonic() < deadline:
                    now_held = leases(watching)
                    named = [w for w in workers if now_held.get(w.name)]
                    if named:
                        victim = max(named, key=lambda w: len(now_held[w.name]))
                    else:
                        time.sleep(0.01)
                victim = victim or workers[0]
                victim.kill()
                killed_at = time.monotonic()
                killed = victim.name
                held = leases(watching).get(victim.name, [])
            say(f"killed {killed} holding {len(held)} leases; load goes on")
            time.sleep(max(0.0, options.seconds - (time.monotonic() - started)))
        finally:
            stop.set()
            for publisher in publishers:
                publisher.join(timeout=30)
        load_end = time.monotonic()
        load_seconds = load_end - started
        published = sum(p.published for p in publishers)
        errors = [error for p in publishers for error in p.errors]
        say(f"published {published} in {load_seconds:.0f}s; waiting for deliveries")

        events, contiguous = read_feed(ports[1], headers[READER])
        wanted = {s.path: [e[0] for e in events if s.wants(e)] for s in subscriptions}

        def caught_up() -> bool:
            return all(
                set(wanted[s.path]) <= {seq for seq, _ in endpoint.arrivals(s.path)}
                for s in subscriptions
            )

        hubs.wait_for(caught_up, options.timeout, interval=0.2)
        arrivals = {s.path: endpoint.arrivals(s.path) for s in subscriptions}

    by_id = {s.id: s for s in subscriptions}
    held_paths = {by_id[i].path for i in held if i in by_id}
    return judge(
        subscriptions,
        arrivals,
        wanted,
        held_paths,
        head=len(events),
        contiguous=contiguous,
        published=published,
        errors=errors,
        load_seconds=load_seconds,
        killed=killed,
        killed_at=killed_at,
        load_end=load_end,
        lease_seconds=_lease_seconds(options),
    )


def _lease_seconds(options: Options) -> float:
    chosen = (options.turn, options.webhook_timeout, options.lease_margin)
    defaults = ("DISPATCHER_TURN_SECONDS", "WEBHOOK_TIMEOUT", "DISPATCHER_LEASE_MARGIN_SECONDS")
    return sum(
        float(DEFAULTS[name]) if value is None else value
        for value, name in zip(chosen, defaults, strict=True)
    )


def judge(
    subscriptions: list[Subscription],
    arrivals: dict[str, list[tuple[int, float]]],
    wanted: dict[str, list[int]],
    held_paths: set[str],
    *,
    head: int,
    contiguous: bool,
    published: int,
    errors: list[str],
    load_seconds: float,
    killed: str | None,
    killed_at: float,
    load_end: float,
    lease_seconds: float,
) -> Figures:
    """Each subscription's receipts against what its filter selects from the feed."""
    lost = out_of_order = duplicates = elsewhere = most = 0
    problems: dict[int, str] = {}
    recovered: list[float] = []
    for s in subscriptions:
        got = arrivals[s.path]
        sequences = [seq for seq, _ in got]
        collapsed: list[int] = []
        repeats = disorder = 0
        for seq in sequences:
            if collapsed and seq == collapsed[-1]:
                repeats += 1
            elif collapsed and seq < collapsed[-1]:
                disorder += 1
            else:
                collapsed.append(seq)
        missing = sorted(set(wanted[s.path]) - set(sequences))
        extra = sorted(set(sequences) - set(wanted[s.path]))
        lost += len(missing)
        out_of_order += disorder
        duplicates += repeats
        most = max(most, repeats)
        if s.path not in held_paths:
            elsewhere += repeats
        elif killed is not None:
            # what arrives within half a second of the kill was on its way from the killed
            # worker already (a lease outlasts its margin): the first receipt after that is the
            # takeover
            after = [moment for _, moment in got if moment > killed_at + 0.5]
            if after:
                recovered.append(after[0] - killed_at)
        if missing or disorder or extra or (repeats and s.path not in held_paths) or repeats > 1:
            problems[s.id] = (
                f"{len(missing)} lost {missing[:5]}, {disorder} out of order, {repeats} repeats, "
                f"{len(extra)} not wanted {extra[:5]}"
            )
    moments = sorted(moment for got in arrivals.values() for _, moment in got)
    received = len(moments)
    expected = sum(len(w) for w in wanted.values())
    steady = [m for m in moments if m <= killed_at]
    steady_rate = len(steady) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    overall = received / (moments[-1] - moments[0]) if received > 1 else 0.0
    caught_up = None
    if lost == 0 and moments:
        caught_up = max(0.0, moments[-1] - load_end)
    return Figures(
        subscriptions=len(subscriptions),
        head=head,
        feed_contiguous=contiguous,
        expected=expected,
        received=received,
        lost=lost,
        out_of_order=out_of_order,
        duplicates=duplicates,
        duplicates_elsewhere=elsewhere,
        most_duplicates=most,
        published=published,
        publish_errors=errors,
        load_seconds=load_seconds,
        killed=killed,
        killed_held=len(held_paths),
        lease_seconds=lease_seconds,
        recovery_seconds=max(recovered) if recovered else None,
        caught_up_seconds=caught_up,
        steady_rate=steady_rate,
        overall_rate=overall,
        problems=problems,
    )


def report(figures: Figures) -> None:
    f = figures
    print(
        f"\nsubscriptions {f.subscriptions}; events published {f.published} "
        f"in {f.load_seconds:.0f}s; feed head {f.head}; publish errors {len(f.publish_errors)}"
    )
    print(f"deliveries owed {f.expected}; received {f.received} (repeats included)")
    print(f"lost {f.lost} (must be 0); out of order {f.out_of_order} (must be 0)")
    print(
        f"duplicates {f.duplicates} (at most 1 on each of the {f.killed_held} subscriptions "
        f"{f.killed} held; elsewhere {f.duplicates_elsewhere}, most on one {f.most_duplicates})"
    )
    print(f"feed contiguous 1..{f.head}: {'yes' if f.feed_contiguous else 'NO'}")
    print(
        f"deliveries/s: {f.steady_rate:.0f} steady (before the kill), {f.overall_rate:.0f} "
        "overall (first to last receipt)"
    )
    recovery = "n/a" if f.recovery_seconds is None else f"{f.recovery_seconds:.1f}s"
    caught = "never" if f.caught_up_seconds is None else f"{f.caught_up_seconds:.1f}s"
    print(
        f"recovery after the kill: {recovery} until the last of its subscriptions delivered "
        f"again (lease {f.lease_seconds:g}s); caught up {caught} after the load ended"
    )
    for subscription_id, problem in sorted(f.problems.items()):
        print(f"  ! subscription {subscription_id}: {problem}")
    for error in f.publish_errors[:5]:
        print(f"  ! {error}")


def main(argv: list[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Options()
    parser.add_argument("--subscriptions", type=int, default=defaults.subscriptions)
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="Load length.")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="Records/s published.")
    parser.add_argument("--publishers", type=int, default=defaults.publishers)
    parser.add_argument("--kill-at", type=float, default=defaults.kill_at)
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--webhook-timeout", type=float, default=None)
    parser.add_argument("--turn", type=float, default=None, help="DISPATCHER_TURN_SECONDS.")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument(
        "--lease-margin", type=float, default=None, help="DISPATCHER_LEASE_MARGIN_SECONDS."
    )
    parser.add_argument(
        "--answer-ms", type=float, default=5, help="Milliseconds each webhook answer takes."
    )
    parser.add_argument("--postgres", default=POSTGRES, help="The server (libpq URL).")
    args = parser.parse_args(argv)
    options = Options(
        subscriptions=args.subscriptions,
        seconds=args.seconds,
        rate=args.rate,
        publishers=args.publishers,
        kill_at=args.kill_at,
        timeout=args.timeout,
        webhook_timeout=args.webhook_timeout,
        turn=args.turn,
        concurrency=args.concurrency,
        lease_margin=args.lease_margin,
    )
    print(
        f"PostgreSQL; 2 x hub serve --no-dispatcher (1 worker x 4 threads), 2 x hub worker "
        f"(concurrency {options.concurrency}); {options.subscriptions} webhook subscriptions "
        f"on loopback; {options.rate:g} records/s for {options.seconds:g}s, a worker killed "
        f"at {options.kill_at:g}s",
        flush=True,
    )
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    receiver = RecordingReceiver(args.answer_ms / 1000)
    try:
        figures = run(options, args.postgres, receiver, progress=lambda m: print(m, flush=True))
    finally:
        receiver.close()
    report(figures)
    print(f"requests the kill cut off mid-way (answered 400, not counted): {receiver.torn}")
    return figures


if __name__ == "__main__":
    main()
