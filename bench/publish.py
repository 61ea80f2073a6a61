"""Publish throughput of the hub against a bare insert endpoint, on PostgreSQL and SQLite.

For each database the hub and the baseline (bench/bare_app.py) are served side by side by
gunicorn with the same workers and threads, and driven by the same client processes over
keep-alive connections: single-record PUTs, then batches. Figures are records per second. The
ratio hub/bare is the number that matters; rounds alternate between the two servers so that
the machine's drifting load hits both alike, and the medians of the rounds are printed.

    .venv/bin/python -m bench.publish [--rounds 5] [--seconds 4] [--backends postgres sqlite]

``--before REV`` also serves the hub as it was at git revision REV (exported from the repository,
on a database of its own) in the same rounds, and prints the current hub's rate against it:
how much a change cost, measured on the same machine at the same time.

``--idle-webhooks N`` also serves the hub (and the one at ``--before``, if given) with N active
webhook subscriptions that follow a type the bench never publishes (``funding``), pointed at a
receiver on loopback, and prints its rate against the same hub without them: what idle
subscriptions cost the publish path (each server runs its dispatchers, as ``hub serve`` does).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.bare_app import create_schema
from bench.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROJECT_CODE = "2503-330102-04-01-7K3Q9B"
PROJECT = {
    "name": "Benchmark project",
    "category": "infrastructure",
    "stage": "construction",
    "admin_division": "330102",
    "lead_department": "Transport Bureau",
    "responsible_leader": {"name": "Wang Li", "title": "Deputy Mayor"},
    "total_investment": 1000,
}


def parcel(n: int) -> dict[str, Any]:
    """The record both servers receive: a realistic land parcel."""
    return {
        "project_code": PROJECT_CODE,
        "area_mu": 10 + n % 500,
        "land_use": "industrial",
        "supply_method": "transfer",
        "supply_status": "ready",
        "transfer_price": 1234.5,
        "rights_holder": f"Holder {n}",
    }


LABELS = {"single": "single-record PUT", "batch": "batch (records)"}
# what the idle webhook subscriptions follow: a type the bench never publishes
IDLE_TYPES = ["funding"]
WEBHOOK_SETTINGS = {
    "HUB_WEBHOOK_ALLOW_HTTP": "true",
    "HUB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
}
BATCH = {"single": lambda options: 1, "batch": lambda options: options.batch}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


@contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, probe: str, cwd: Path = ROOT
) -> Iterator[None]:
    log_path = Path(tempfile.gettempdir()) / f"hub-bench-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            wait_until_up(port, probe)
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@dataclass
class Database:
    name: str
    url: str
    cleanup: Any


@contextmanager
def database(backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        try:
            yield Database("sqlite", f"sqlite:///{folder / 'hub.sqlite3'}", None)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES else "?"
    try:
        yield Database("postgres", f"{POSTGRES}{separator}options=-csearch_path%3D{schema}", None)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def hub_env(url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=url,
        HUB_SECRET_KEY="bench-secret-" + "s" * 40,
        HUB_INSTANCE_PATH=str(instance),
        HUB_MAX_CONTENT_LENGTH=str(16 * 1024 * 1024),
        HUB_BATCH_MAX_RECORDS="1000",
    )
    return env


@dataclass(frozen=True)
class HubSource:
    """Where a hub's code comes from: this checkout, or a revision exported to a folder."""

    root: Path
    label: str

    @property
    def command(self) -> list[str]:
        if self.root == ROOT:
            return [str(BIN / "hub")]
        # The exported package comes first on PYTHONPATH, ahead of the editable install.
        return [sys.executable, "-c", "import sys; from hub.cli import main; sys.exit(main())"]

    def environ(self, env: dict[str, str]) -> dict[str, str]:
        # Rate limiting stays on (its cost is measured) but high enough never to refuse; a
        # revision from before rate limits would refuse the setting as unknown.
        config = next(
            path
            for path in (self.root / "hub" / "core" / "config.py", self.root / "hub" / "config.py")
            if path.exists()
        )
        if "RATE_LIMIT" in config.read_text(encoding="utf-8"):
            env = {**env, "HUB_RATE_LIMIT": "1000000/second"}
        return env if self.root == ROOT else {**env, "PYTHONPATH": str(self.root)}


CURRENT = HubSource(ROOT, "current")


@contextmanager
def exported(revision: str) -> Iterator[HubSource]:
    """The hub's code at ``revision``, exported with ``git archive`` into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="hub-before-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, "hub", "schemas"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        yield HubSource(folder, revision)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_cli(env: dict[str, str], *args: str, source: HubSource = CURRENT) -> str:
    return subprocess.run(
        [*source.command, *args],
        env=source.environ(env),
        check=True,
        capture_output=True,
        text=True,
        cwd=source.root,
    ).stdout.strip()


def request_json(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=payload, headers=all_headers)
    response = connection.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None


def _client_worker(args: tuple[int, int, str, dict[str, str], float, int, str]) -> int:
    port, client, kind, headers, seconds, batch_size, prefix = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    done, n = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kind == "single":
            key = f"{prefix}-{client}-{n}"
            path = f"/api/v1/records/land_parcel/{key}" if headers else f"/records/{key}"
            status, _ = request_json(connection, "PUT", path, parcel(n), headers)
            if status not in (200, 201):
                raise RuntimeError(f"PUT answered {status}")
            done += 1
            n += 1
        else:
            records = [
                {"key": f"{prefix}-{client}-{n + i}", "data": parcel(n + i)}
                for i in range(batch_size)
            ]
            path = "/api/v1/records/land_parcel/batch" if headers else "/batch"
            status, body = request_json(connection, "POST", path, {"records": records}, headers)
            if status != 200 or any(r["status"] not in (200, 201) for r in body["results"]):
                raise RuntimeError(f"batch answered {status}: {str(body)[:300]}")
            done += batch_size
            n += batch_size
    return done


def measure(
    pool: Any, port: int, kind: str, headers: dict[str, str], seconds: float, batch: int
) -> float:
    """Drive one server with every client process for ``seconds``; records per second."""
    prefix = uuid.uuid4().hex[:8]
    jobs = [(port, c, kind, headers, seconds, batch, prefix) for c in range(pool._processes)]
    started = time.monotonic()
    counts: list[int] = pool.map(_client_worker, jobs)
    return sum(counts) / (time.monotonic() - started)


def token(port: int, key: str) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, body = request_json(
        connection, "POST", "/api/v1/auth/token", None, {"Authorization": f"Bearer {key}"}
    )
    assert status == 200, body
    return {"Authorization": f"Bearer {body['access_token']}"}


def start_hub(
    env: dict[str, str], port: int, gunicorn: list[str], source: HubSource = CURRENT
) -> Any:
    # Neither server writes an access log: both are measured doing the same kind of work.
    command = [*source.command, "serve", "--port", str(port), "--no-access-log", *gunicorn]
    return server(command, source.environ(env), port, "/healthz", cwd=source.root)


@dataclass(frozen=True)
class IdleWebhooks:
    """How many idle webhook subscriptions a hub gets, and the receiver they point at."""

    count: int
    receiver: Receiver


def subscribe_idle(port: int, key: str, idle: IdleWebhooks) -> None:
    """``idle.count`` webhook subscriptions, made through the API, that nothing published
    here matches."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = token(port, key)
    for n in range(idle.count):
        body = {"types": IDLE_TYPES, "endpoint_url": idle.receiver.url(f"/idle/{port}/{n}")}
        status, answer = request_json(connection, "POST", "/api/v1/subscriptions", body, headers)
        if status != 201:
            raise RuntimeError(f"subscription answered {status}: {answer}")
    connection.close()


@contextmanager
def running_hub(
    backend: str,
    gunicorn: list[str],
    source: HubSource = CURRENT,
    idle: IdleWebhooks | None = None,
) -> Iterator[tuple[int, dict[str, str], str]]:
    """A hub from ``source`` on a fresh database, with a project published (and ``idle``
    webhook subscriptions, if given); yields its port, the land department's bearer headers
    and the database URL."""
    with database(backend) as db, tempfile.TemporaryDirectory() as instance:
        env = hub_env(db.url, Path(instance))
        if idle is not None:
            env.update(WEBHOOK_SETTINGS)

        def cli(*args: str) -> str:
            return run_cli(env, *args, source=source)

        cli("init")
        cli("departments", "add", "ndrc", "--name", "NDRC", "--publishes", "project")
        cli("departments", "add", "land", "--name", "Land", "--publishes", "land_parcel")
        ndrc_key = cli("keys", "create", "--department", "ndrc", "--scope", "records:write")
        land_key = cli("keys", "create", "--department", "land", "--scope", "records:write")
        if idle is not None:
            cli("departments", "add", "watch", "--name", "Watcher")
            watch_key = cli("keys", "create", "--department", "watch", "--scope", "subscriptions")
        port = free_port()
        with start_hub(env, port, gunicorn, source):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            project_path = f"/api/v1/records/project/{PROJECT_CODE}"
            status, body = request_json(
                connection, "PUT", project_path, PROJECT, token(port, ndrc_key)
            )
            assert status in (200, 201), body
            if idle is not None:
                subscribe_idle(port, watch_key, idle)
            yield port, token(port, land_key), db.url


def start_bare(env: dict[str, str], port: int, gunicorn: list[str]) -> Any:
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"]
    command += [*gunicorn, "--log-level", "warning", "bench.bare_app:create_app()"]
    return server(command, env, port, "/nothing")


def bench_backend(
    backend: str,
    options: argparse.Namespace,
    pool: Any,
    before: HubSource | None,
    receiver: Receiver | None = None,
) -> dict[str, list[float]]:
    """Alternating rounds of each server, per measurement kind; each round's figures in a list."""
    gunicorn = ["--workers", str(options.workers), "--threads", str(options.threads)]
    figures: dict[str, list[float]] = {}
    with ExitStack() as stack:
        hub_port, hub_headers, url = stack.enter_context(running_hub(backend, gunicorn))
        create_schema(url)
        bare_port = free_port()
        stack.enter_context(
            start_bare({**os.environ, "BARE_DATABASE_URL": url}, bare_port, gunicorn)
        )
        servers = {"hub": (hub_port, hub_headers), "bare": (bare_port, {})}
        if before is not None:
            before_port, before_headers, _ = stack.enter_context(
                running_hub(backend, gunicorn, before)
            )
            servers["before"] = (before_port, before_headers)
        if options.idle_webhooks:
            assert receiver is not None
            idle = IdleWebhooks(options.idle_webhooks, receiver)
            sources = {"idle": CURRENT, "before_idle": before}
            for name, source in sources.items():
                if source is not None:
                    port, headers, _ = stack.enter_context(
                        running_hub(backend, gunicorn, source, idle)
                    )
                    servers[name] = (port, headers)
        for port, headers in servers.values():
            measure(pool, port, "single", headers, 1, 1)  # warm-up
        for kind in options.kinds:
            batch = options.batch if kind == "batch" else 1
            # Alternate short rounds so that drift in the machine's load hits all alike.
            for _ in range(options.rounds):
                for name, (port, headers) in servers.items():
                    figures.setdefault(f"{name}_{kind}", []).append(
                        measure(pool, port, kind, headers, options.seconds, batch)
                    )
    return figures


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def _median_ratio(numerators: list[float], denominators: list[float]) -> tuple[float, list[float]]:
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return statistics.median(ratios), ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="Seconds per round.")
    parser.add_argument("--rounds", type=int, default=5, help="Alternating rounds per figure.")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["postgres", "sqlite"])
    parser.add_argument("--kinds", nargs="+", default=["single", "batch"])
    parser.add_argument(
        "--before", metavar="REV", help="Also measure the hub at this git revision (hub/before)."
    )
    parser.add_argument(
        "--idle-webhooks",
        type=int,
        default=0,
        metavar="N",
        help="Also measure the hub(s) with N webhook subscriptions nothing published matches.",
    )
    options = parser.parse_args()
    print(
        f"{options.clients} client processes; gunicorn {options.workers} workers x "
        f"{options.threads} threads; {options.rounds} alternating rounds of "
        f"{options.seconds:g}s; batches of {options.batch}; {_load()} at the start"
    )
    header = f"{'database':<10} {'measure':<22} {'hub/s':>9} {'bare/s':>9} {'hub/bare':>9}"
    if options.before:
        header += f" {'before/s':>9} {'hub/before':>10}"
    idle = options.idle_webhooks
    if idle:
        header += f" {'idle/s':>9} {'idle/hub':>9}"
        if options.before:
            header += f" {'b-idle/s':>9} {'b-idle/b':>9}"
    print(header + "  rounds (hub/bare" + ("; idle/hub" if idle else "") + ")")
    with ExitStack() as stack, multiprocessing.Pool(options.clients) as pool:
        before = stack.enter_context(exported(options.before)) if options.before else None
        receiver = Receiver().start() if idle else None
        if receiver is not None:
            stack.callback(receiver.stop)
        for backend in options.backends:
            figures = bench_backend(backend, options, pool, before, receiver)
            for kind in options.kinds:
                hub, bare = figures[f"hub_{kind}"], figures[f"bare_{kind}"]
                ratio, ratios = _median_ratio(hub, bare)
                line = (
                    f"{backend:<10} {LABELS[kind]:<22} {statistics.median(hub):>9.0f} "
                    f"{statistics.median(bare):>9.0f} {ratio:>9.2f}"
                )
                if before is not None:
                    previous = figures[f"before_{kind}"]
                    line += f" {statistics.median(previous):>9.0f}"
                    line += f" {_median_ratio(hub, previous)[0]:>10.2f}"
                rounds = " ".join(f"{r:.2f}" for r in ratios)
                if idle:
                    with_idle = figures[f"idle_{kind}"]
                    idle_ratio, idle_ratios = _median_ratio(with_idle, hub)
                    line += f" {statistics.median(with_idle):>9.0f} {idle_ratio:>9.2f}"
                    rounds += "; " + " ".join(f"{r:.2f}" for r in idle_ratios)
                    if before is not None:
                        before_idle = figures[f"before_idle_{kind}"]
                        previous = figures[f"before_{kind}"]
                        line += f" {statistics.median(before_idle):>9.0f}"
                        line += f" {_median_ratio(before_idle, previous)[0]:>9.2f}"
                        rounds += "; b-idle/b " + " ".join(
                            f"{r:.2f}" for r in _median_ratio(before_idle, previous)[1]
                        )
                print(line + "  " + rounds)
                for name in ("hub", "idle", "before", "before_idle"):
                    if f"{name}_{kind}" in figures:
                        each = " ".join(f"{r:.0f}" for r in figures[f"{name}_{kind}"])
                        print(f"{'':<10} {'  ' + name + '/s rounds':<22} {each}")
    if receiver is not None:
        print(
            f"idle: {idle} webhook subscriptions following {', '.join(IDLE_TYPES)} on each "
            f"idle server; {receiver.count} deliveries received (none expected)"
        )
    print(f"medians; {_load()} at the end (the machine's load skews the absolute rates)")
    print("targets on postgres: hub/bare >= 0.55 for single-record PUT, >= 0.35 for batches")
    if options.before:
        print(f"hub/before: the current hub against {options.before}, round by round")


if __name__ == "__main__":
    main()
