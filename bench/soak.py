"""A bounded soak: the hub under a steady mixed load for minutes, its processes watched.

``hub serve --no-dispatcher`` and a ``hub worker`` run on a PostgreSQL schema made for the run
(dropped after it) while threads of this process, each at a steady pace:

- publish: single PUTs of land parcels (``--rate`` a second; new ones, and changes to the
  ones published before), and a batch of ``--batch`` every ``--batch-every`` seconds;
- read: GET one record, a list page and a dossier of projects whose records do not change, a
  feed page (``--reads`` a second, from two clients);
- long-poll: ``--pollers`` clients following the feed with ``wait``;
- deliver: ``--webhooks`` webhook subscriptions on a receiver on loopback (the worker's work).

After ``--warmup`` seconds it samples each hub process (the gunicorn arbiter, its workers, the
hub worker): resident memory (VmRSS) and threads from ``/proc``, and the run's open database
connections from ``pg_stat_activity`` (the hub's URL names them); then every
``--sample-every`` seconds, and at the end, before the load stops. It prints the samples and
whether, at the end, each process's RSS is within 10% of its warmed-up RSS and neither the
connections nor any process's threads grew.

    .venv/bin/python -m bench.soak [--minutes 10] [--warmup 60] [--rate 10] [--reads 20]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench import hubs
from bench.publish import POSTGRES, hub_env, request_json, token
from bench.receiver import Receiver
from bench.supervision import linked_body, project_body, project_code

PROJECTS = [project_code(n) for n in range(4)]
# new records go to the first two projects; lists and dossiers read the other two, which hold a
# fixed set of records: what one read costs stays the same however long the soak
WRITTEN, READ = (0, 1), (2, 3)
PARCELS_READ = 30
RSS_TOLERANCE = 0.10


@dataclass
class Counter:
    """What one kind of load did."""

    done: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, count: int = 1) -> None:
        with self.lock:
            self.done += count

    def failed(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.messages) < 5:
                self.messages.append(message)


class Paced(threading.Thread):
    """Calls ``action(connection, n)`` ``rate`` times a second until stopped."""

    def __init__(
        self,
        name: str,
        port: int,
        rate: float,
        action: Callable[[http.client.HTTPConnection, int], int],
        counter: Counter,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.port, self.rate, self.action = port, rate, action
        self.counter, self.stop = counter, stop

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        due, n = time.monotonic(), 0
        while not self.stop.is_set():
            due += 1 / self.rate
            pause = due - time.monotonic()
            if pause > 0 and self.stop.wait(pause):
                break
            try:
                try:
                    self.counter.ok(self.action(connection, n))
                except (OSError, http.client.HTTPException):
                    # the server closes a connection idle for longer than its keep-alive:
                    # the same request again, on a new one (every request here is idempotent)
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    self.counter.ok(self.action(connection, n))
            except (OSError, RuntimeError, http.client.HTTPException) as exc:
                self.counter.failed(f"{self.name}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            n += 1
        connection.close()


def checked(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> Any:
    status, answer = request_json(connection, method, path, body, headers)
    if status not in (200, 201):
        raise RuntimeError(f"{method} {path} answered {status}: {str(answer)[:200]}")
    return answer


@dataclass
class ProcessSamples:
    name: str
    pid: int
    samples: list[tuple[float, hubs.Sample | None]] = field(default_factory=list)


def sample_all(processes: list[ProcessSamples], at: float) -> None:
    for process in processes:
        process.samples.append((at, hubs.sample(process.pid)))


def connections_now(db: hubs.Schema, looks: int = 3) -> int:
    """The most connections seen in ``looks`` looks a second apart (pools breathe)."""
    seen = 0
    for n in range(looks):
        if n:
            time.sleep(1)
        seen = max(seen, hubs.connections(db))
    return seen


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="Length of the soak.")
    parser.add_argument("--warmup", type=float, default=60, help="Seconds before the baseline.")
    parser.add_argument("--sample-every", type=float, default=30, help="Seconds between samples.")
    parser.add_argument("--rate", type=float, default=10, help="Single PUTs a second.")
    parser.add_argument("--batch", type=int, default=50, help="Records per batch.")
    parser.add_argument("--batch-every", type=float, default=5, help="Seconds between batches.")
    parser.add_argument("--reads", type=float, default=20, help="Reads a second.")
    parser.add_argument("--pollers", type=int, default=4, help="Long-polling clients.")
    parser.add_argument("--webhooks", type=int, default=5, help="Webhook subscriptions.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker.")
    parser.add_argument("--postgres", default=POSTGRES, help="The server (libpq URL).")
    options = parser.parse_args(argv)
    seconds = options.minutes * 60
    if options.warmup >= seconds:
        parser.error("--warmup must be shorter than the soak")
    print(
        f"PostgreSQL; hub serve --no-dispatcher ({options.workers} workers x "
        f"{options.threads} threads) and a hub worker; {options.minutes:g} min: "
        f"{options.rate:g} PUTs/s, a batch of {options.batch} every {options.batch_every:g}s, "
        f"{options.reads:g} reads/s, {options.pollers} long-pollers, {options.webhooks} "
        f"webhooks; baseline after {options.warmup:g}s",
        flush=True,
    )
    receiver = Receiver().start()
    try:
        with (
            hubs.schema(options.postgres, "soak") as db,
            tempfile.TemporaryDirectory() as instance,
            hubs.Processes() as processes,
        ):
            env = {
                **hub_env(db.url, Path(instance)),
                "HUB_RATE_LIMIT": "1000000/second",
                "HUB_WEBHOOK_ALLOW_HTTP": "true",
                "HUB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                "HUB_DATABASE_POOL_SIZE": "4",
                "HUB_TOKEN_TTL": str(int(seconds + 3600)),
            }
            keys = set_up(env)
            serve = processes.serve(
                env, dispatcher=False, workers=options.workers, threads=options.threads, wait=False
            )
            worker = processes.worker(env, name="soak-worker", wait=False)
            processes.ready(serve, worker)
            assert serve.port is not None
            port = serve.port
            headers = {name: token(port, key) for name, key in keys.items()}
            prepare(port, headers, receiver, options.webhooks)
            figures = soak(db, port, headers, serve, worker, receiver, options, seconds)
    finally:
        receiver.stop()
    return figures


def set_up(env: dict[str, str]) -> dict[str, str]:
    hubs.cli(env, "init")
    hubs.quick_cli(env, "departments", "add", "ndrc", "--name", "NDRC", "--publishes", "project")
    hubs.quick_cli(
        env, "departments", "add", "land", "--name", "Land", "--publishes", "land_parcel"
    )
    hubs.quick_cli(env, "departments", "add", "watch", "--name", "Watcher")
    return {
        "ndrc": hubs.quick_cli(
            env, "keys", "create", "--department", "ndrc", "--scope", "records:write"
        ),
        "land": hubs.quick_cli(
            env, "keys", "create", "--department", "land", "--scope", "records:write"
        ),
        "watch": hubs.quick_cli(
            env,
            "keys",
            "create",
            "--department",
            "watch",
            "--scope",
            "records:read",
            "--scope",
            "events:read",
            "--scope",
            "subscriptions",
        ),
    }


def prepare(port: int, headers: dict[str, dict[str, str]], receiver: Receiver, hooks: int) -> None:
    """The projects, and the webhook subscriptions."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    today = date.today()
    for n, code in enumerate(PROJECTS):
        body = {**project_body(n, today), "project_code": code}
        checked(connection, "PUT", f"/api/v1/records/project/{code}", body, headers["ndrc"])
    for n in READ:
        records = []
        for i in range(PARCELS_READ):
            key, parcel = linked_body("land_parcel", PROJECTS[n], n, i, today)
            records.append({"key": key, "data": parcel})
        path = "/api/v1/records/land_parcel/batch"
        checked(connection, "POST", path, {"records": records}, headers["land"])
    for n in range(hooks):
        types = ["land_parcel"] if n % 2 else ["land_parcel", "project"]
        body = {"types": types, "endpoint_url": receiver.url(f"/soak/{n}")}
        checked(connection, "POST", "/api/v1/subscriptions", body, headers["watch"])
    connection.close()


def soak(
    db: hubs.Schema,
    port: int,
    headers: dict[str, dict[str, str]],
    serve: hubs.HubProcess,
    worker: hubs.HubProcess,
    receiver: Receiver,
    options: argparse.Namespace,
    seconds: float,
) -> dict[str, Any]:
    today = date.today()
    stop = threading.Event()
    counters = {name: Counter() for name in ("puts", "batches", "reads", "polls")}
    published: list[str] = []  # keys of land parcels, for reads and changes

    def parcel(n: int) -> tuple[str, dict[str, Any]]:
        project = WRITTEN[n % len(WRITTEN)]
        key, body = linked_body("land_parcel", PROJECTS[project], project, n, today)
        return key, body

    def put(connection: http.client.HTTPConnection, n: int) -> int:
        if n % 5 == 4 and published:  # a change to a parcel published before
            key = random.choice(published)
            _, body = parcel(int(key.split("-")[2]))
            body = {**body, "rights_holder": f"Holder {n}"}
        else:
            key, body = parcel(n)
        path = f"/api/v1/records/land_parcel/{key}"
        checked(connection, "PUT", path, body, headers["land"])
        if n % 5 != 4:
            published.append(key)
        return 1

    def batch(connection: http.client.HTTPConnection, n: int) -> int:
        records = []
        for i in range(options.batch):
            key, body = parcel(10_000_000 + n * options.batch + i)
            records.append({"key": key, "data": body})
        path = "/api/v1/records/land_parcel/batch"
        checked(connection, "POST", path, {"records": records}, headers["land"])
        return int(options.batch)

    def read(connection: http.client.HTTPConnection, n: int) -> int:
        code = PROJECTS[READ[n % len(READ)]]
        kind = n % 4
        if kind == 0 and published:
            path = f"/api/v1/records/land_parcel/{random.choice(published)}"
        elif kind == 1:
            path = f"/api/v1/records/land_parcel?project_code={code}&limit=50"
        elif kind == 2:
            path = f"/api/v1/projects/{code}/dossier"
        else:
            path = f"/api/v1/events?after={max(0, len(published) - 100)}&limit=100"
        checked(connection, "GET", path, None, headers["watch"])
        return 1

    def poller() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        after = 0
        counter = counters["polls"]
        while not stop.is_set():
            try:
                page = checked(
                    connection,
                    "GET",
                    f"/api/v1/events?after={after}&limit=100&wait=5",
                    None,
                    headers["watch"],
                )
                after = page["next_after"]
                counter.ok()
            except (OSError, RuntimeError, http.client.HTTPException) as exc:
                counter.failed(f"poll: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                stop.wait(1)
        connection.close()

    threads: list[threading.Thread] = [
        Paced("puts", port, options.rate, put, counters["puts"], stop),
        Paced("batches", port, 1 / options.batch_every, batch, counters["batches"], stop),
    ]
    threads += [  # two readers, so that a slow answer does not hold up the pace
        Paced(f"reads-{n}", port, options.reads / 2, read, counters["reads"], stop)
        for n in range(2)
    ]
    threads += [
        threading.Thread(target=poller, name=f"poller-{n}", daemon=True)
        for n in range(options.pollers)
    ]
    processes = [ProcessSamples("serve (arbiter)", serve.pid)]
    processes += [
        ProcessSamples(f"serve worker {n + 1}", pid) for n, pid in enumerate(serve.pids()[1:])
    ]
    processes += [ProcessSamples("hub worker", worker.pid)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    connections: list[tuple[float, int]] = []
    try:
        time.sleep(options.warmup)
        moments = [options.warmup]
        next_at = options.warmup + options.sample_every
        while next_at < seconds - 1:
            moments.append(next_at)
            next_at += options.sample_every
        moments.append(seconds)
        for moment in moments:
            time.sleep(max(0.0, started + moment - time.monotonic()))
            at = time.monotonic() - started
            sample_all(processes, at)
            connections.append((at, connections_now(db)))
            print(_sample_line(at, processes, connections[-1][1]), flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    elapsed = time.monotonic() - started
    return report(processes, connections, counters, receiver, elapsed)


def _sample_line(at: float, processes: list[ProcessSamples], connections: int) -> str:
    parts = []
    for process in processes:
        sample = process.samples[-1][1]
        shown = "gone" if sample is None else f"{sample.rss_kib / 1024:.1f} MiB/{sample.threads}t"
        parts.append(f"{process.name} {shown}")
    return f"  {at:6.0f}s  " + "; ".join(parts) + f"; {connections} connections"


def grew(counts: list[int]) -> bool:
    """Whether a count ends above every sample of the first half of the soak after warm-up (a
    pool or a thread pool that fills up lazily in the first minutes is not growth)."""
    first_half = counts[: max(1, (len(counts) + 1) // 2)]
    return counts[-1] > max(first_half)


def rss_slope(samples: list[tuple[float, hubs.Sample | None]]) -> float:
    """MiB per minute, least squares over the samples after warm-up."""
    points = [(at / 60, sample.rss_kib / 1024) for at, sample in samples if sample is not None]
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def report(
    processes: list[ProcessSamples],
    connections: list[tuple[float, int]],
    counters: dict[str, Counter],
    receiver: Receiver,
    elapsed: float,
) -> dict[str, Any]:
    print(
        f"\n{'process':<18} {'RSS warm':>10} {'RSS end':>10} {'change':>8} {'MiB/min':>8} "
        f"{'threads':>9}"
    )
    figures: dict[str, Any] = {"processes": {}}
    rss_ok = threads_ok = True
    for process in processes:
        first, last = process.samples[0][1], process.samples[-1][1]
        if first is None or last is None:
            print(f"{process.name:<18} gone during the soak")
            rss_ok = threads_ok = False
            continue
        change = (last.rss_kib - first.rss_kib) / first.rss_kib
        rss_ok = rss_ok and change <= RSS_TOLERANCE
        counts = [sample.threads for _, sample in process.samples if sample is not None]
        grown = grew(counts)
        threads_ok = threads_ok and not grown
        slope = rss_slope(process.samples)
        figures["processes"][process.name] = {
            "rss_warm_kib": first.rss_kib,
            "rss_end_kib": last.rss_kib,
            "rss_change": change,
            "rss_mib_per_minute": slope,
            "threads": counts,
        }
        print(
            f"{process.name:<18} {first.rss_kib / 1024:>8.1f}Mi {last.rss_kib / 1024:>8.1f}Mi "
            f"{change:>+8.1%} {slope:>+8.2f} {first.threads:>4}->{last.threads:<4}"
        )
    counts = [count for _, count in connections]
    connections_ok = not grew(counts)
    print(
        f"database connections: {counts[0]} after warm-up, {counts[-1]} at the end (most seen "
        f"{max(counts)}; samples {' '.join(str(n) for n in counts)})"
    )
    rates = {name: counter.done / elapsed for name, counter in counters.items()}
    print(
        f"load over {elapsed:.0f}s: {counters['puts'].done} PUTs ({rates['puts']:.1f}/s), "
        f"{counters['batches'].done} records in batches, {counters['reads'].done} reads "
        f"({rates['reads']:.1f}/s), {counters['polls'].done} long-polls answered, "
        f"{receiver.count} webhook deliveries ({receiver.count / elapsed:.1f}/s)"
    )
    errors = {name: counter.errors for name, counter in counters.items() if counter.errors}
    if errors:
        print(f"errors: {errors}")
        for counter in counters.values():
            for message in counter.messages:
                print(f"  ! {message}")
    print(
        f"RSS at the end within {RSS_TOLERANCE:.0%} of warmed-up: {'yes' if rss_ok else 'NO'}; "
        f"connections not grown: {'yes' if connections_ok else 'NO'}; threads not grown: "
        f"{'yes' if threads_ok else 'NO'} (grown: the end above every sample of the first half; "
        "MiB/min: the RSS trend after warm-up, least squares)"
    )
    figures.update(
        rss_ok=rss_ok,
        connections_ok=connections_ok,
        threads_ok=threads_ok,
        connections=counts,
        done={name: counter.done for name, counter in counters.items()},
        errors=errors,
        deliveries=receiver.count,
        elapsed=elapsed,
    )
    return figures


if __name__ == "__main__":
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    main()
