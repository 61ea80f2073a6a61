"""Change feed and webhook delivery of the hub on PostgreSQL, against baselines of the same run.

One hub is served by gunicorn (``hub serve``, with its webhook dispatcher in each worker) on a
PostgreSQL schema made for the run and dropped after it. A department that publishes nothing
(so protected fields are withheld from what it reads) follows the land department's parcels;
three things are measured:

1. Feed reads: ``--events`` changes are published in batches and numbered, then paged through
   with ``GET /api/v1/events?after=..&limit=PAGE`` by one client over a keep-alive connection
   (which decodes each page's JSON, as any consumer must), in rounds alternating with a plain
   keyset ``SELECT`` of the same ``record_versions`` columns and page size through psycopg.
   Figures are events per second; the ratio feed/SELECT is the number that matters (target: at
   least 0.5). "client decode" is the share of the feed's time spent in the client's json.loads.
2. Webhook deliveries per second to a receiver on loopback (bench/receiver.py, answering 204)
   with 1, 10 and 100 subscriptions, each receiving every event: total received over the time
   from the first publish to the last receipt. "repeats" counts events a subscription received
   more than once, "connections" the TCP connections the receiver accepted.
3. Publish-to-receipt latency: single PUTs, one at a time, each followed by waiting for its
   webhook; p50/p99 of the time from sending the PUT to the receipt, beside p50/p99 of the PUT's
   own round trip (target: p50 latency within 5 publish round trips).

    .venv/bin/python -m bench.delivery [--events 20000] [--rounds 5]
        [--subscriptions 1 10 100] [--deliveries 3000] [--samples 300]

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.publish import (
    PROJECT,
    PROJECT_CODE,
    database,
    free_port,
    hub_env,
    parcel,
    request_json,
    run_cli,
    start_hub,
    token,
)
from bench.receiver import Receiver

# The columns a feed page reads from record_versions (all of RecordVersion's).
COLUMNS = (
    "id, record_id, record_type, record_key, project_code, version, operation, data, "
    "changed_fields, deleted, published_by, key_id, created_at, sequence"
)
PLAIN_PAGE = (
    f"SELECT {COLUMNS} FROM record_versions "
    "WHERE sequence > %s AND sequence <= %s ORDER BY sequence LIMIT %s"
)


@dataclass
class Hub:
    """A served hub and what the benchmark needs to drive it."""

    port: int
    url: str  # libpq URL of its database (schema on the search path)
    publisher: dict[str, str]  # bearer headers of the land department (records:write)
    watcher: dict[str, str]  # bearer headers of a department reading (events:read, subscriptions)
    env: dict[str, str]

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)


def libpq_url(url: str) -> str:
    """An SQLAlchemy PostgreSQL URL as psycopg takes it."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


@contextmanager
def served_hub(options: argparse.Namespace) -> Iterator[Hub]:
    """A hub on a fresh PostgreSQL schema, loopback webhooks allowed, the project published."""
    with database("postgres") as db, tempfile.TemporaryDirectory() as instance:
        env = hub_env(db.url, Path(instance))
        env.update(
            HUB_WEBHOOK_ALLOW_HTTP="true",
            HUB_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
            HUB_RATE_LIMIT="1000000/second",
        )

        def cli(*args: str) -> str:
            return run_cli(env, *args)

        cli("init")
        cli("departments", "add", "ndrc", "--name", "NDRC", "--publishes", "project")
        cli("departments", "add", "land", "--name", "Land", "--publishes", "land_parcel")
        cli("departments", "add", "watch", "--name", "Watcher")
        ndrc_key = cli("keys", "create", "--department", "ndrc", "--scope", "records:write")
        land_key = cli("keys", "create", "--department", "land", "--scope", "records:write")
        watch_key = cli(
            "keys", "create", "--department", "watch",
            "--scope", "events:read", "--scope", "subscriptions",
        )  # fmt: skip
        port = free_port()
        gunicorn = ["--workers", str(options.workers), "--threads", str(options.threads)]
        with start_hub(env, port, [*gunicorn, "--dispatcher"]):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            status, body = request_json(
                connection,
                "PUT",
                f"/api/v1/records/project/{PROJECT_CODE}",
                PROJECT,
                token(port, ndrc_key),
            )
            assert status in (200, 201), body
            yield Hub(port, libpq_url(db.url), token(port, land_key), token(port, watch_key), env)


def publish_batches(hub: Hub, keys: list[str], batch: int, threads: int = 1) -> None:
    """Publish a new land parcel under each key, ``batch`` records a request."""
    chunks = [keys[i : i + batch] for i in range(0, len(keys), batch)]

    def send(chunk_list: list[list[str]]) -> None:
        connection = hub.connection()
        for chunk in chunk_list:
            records = [{"key": key, "data": parcel(n)} for n, key in enumerate(chunk)]
            status, body = request_json(
                connection,
                "POST",
                "/api/v1/records/land_parcel/batch",
                {"records": records},
                hub.publisher,
            )
            if status != 200 or any(r["status"] not in (200, 201) for r in body["results"]):
                raise RuntimeError(f"batch answered {status}: {str(body)[:300]}")

    if threads <= 1:
        send(chunks)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, [chunks[t::threads] for t in range(threads)]))


def new_keys(count: int, prefix: str) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}-{tag}-{n}" for n in range(count)]


# -- 1. the feed against a plain SELECT ---------------------------------------------------------


def log_head(url: str) -> tuple[int, int]:
    """The counter's last sequence, and how many versions still wait for a number."""
    with psycopg.connect(url, autocommit=True) as connection:
        head = connection.execute("SELECT last_sequence FROM event_counter").fetchone()
        waiting = connection.execute(
            "SELECT count(*) FROM record_versions WHERE sequence IS NULL"
        ).fetchone()
    assert head is not None
    assert waiting is not None
    return int(head[0]), int(waiting[0])


def read_feed(hub: Hub, head: int, page: int) -> tuple[int, float, float]:
    """Page through the feed up to ``head``; events read, seconds taken, and of those the
    seconds this client spent decoding the pages' JSON."""
    connection = hub.connection()
    after, read, decoding = 0, 0, 0.0
    started = time.monotonic()
    while after < head:
        connection.request("GET", f"/api/v1/events?after={after}&limit={page}", headers=hub.watcher)
        response = connection.getresponse()
        raw = response.read()
        received = time.monotonic()
        body = json.loads(raw)
        decoding += time.monotonic() - received
        if response.status != 200:
            raise RuntimeError(f"feed answered {response.status}: {str(body)[:300]}")
        read += len(body["events"])
        after = body["next_after"]
    taken = time.monotonic() - started
    connection.close()
    return read, taken, decoding


def read_plain(url: str, head: int, page: int) -> tuple[int, float]:
    """The same rows by keyset pages of a plain SELECT; rows read and seconds taken."""
    with psycopg.connect(url, autocommit=True) as connection:
        after, read = 0, 0
        started = time.monotonic()
        while after < head:
            rows = connection.execute(PLAIN_PAGE, (after, head, page)).fetchall()
            if not rows:
                break
            read += len(rows)
            after = rows[-1][-1]
        return read, time.monotonic() - started


@dataclass
class FeedFigures:
    events: int
    feed: list[float]
    plain: list[float]
    decoding: list[float]  # share of the feed's time spent decoding JSON in the client
    publish_rate: float


def bench_feed(hub: Hub, options: argparse.Namespace) -> FeedFigures:
    keys = new_keys(options.events, "feed")
    started = time.monotonic()
    publish_batches(hub, keys, options.batch, options.publishers)
    publish_rate = len(keys) / (time.monotonic() - started)
    run_cli(hub.env, "events", "number")
    head, waiting = log_head(hub.url)
    assert waiting == 0, f"{waiting} versions still unnumbered"
    feed, plain, decoding = [], [], []
    read_feed(hub, head, options.page)  # warm-up: both caches and the hub's workers
    read_plain(hub.url, head, options.page)
    for _ in range(options.rounds):
        read, taken, decoded = read_feed(hub, head, options.page)
        assert read == head, f"the feed gave {read} events of {head}"
        feed.append(read / taken)
        decoding.append(decoded / taken)
        read, taken = read_plain(hub.url, head, options.page)
        assert read == head, f"the SELECT gave {read} rows of {head}"
        plain.append(read / taken)
    return FeedFigures(head, feed, plain, decoding, publish_rate)


# -- 2. webhook deliveries per second -----------------------------------------------------------


def subscribe(hub: Hub, endpoint: str) -> int:
    connection = hub.connection()
    body = {"types": ["land_parcel"], "endpoint_url": endpoint}
    status, created = request_json(connection, "POST", "/api/v1/subscriptions", body, hub.watcher)
    assert status == 201, created
    connection.close()
    return int(created["id"])


def unsubscribe(hub: Hub, ids: list[int]) -> None:
    connection = hub.connection()
    for subscription_id in ids:
        status, body = request_json(
            connection, "DELETE", f"/api/v1/subscriptions/{subscription_id}", None, hub.watcher
        )
        assert status == 204, body
    connection.close()


@dataclass
class DeliveryFigures:
    subscriptions: int
    events: int
    received: int
    repeats: int
    connections: int
    seconds: float
    publish_seconds: float

    @property
    def rate(self) -> float:
        return self.received / self.seconds


def bench_deliveries(
    hub: Hub, receiver: Receiver, subscriptions: int, options: argparse.Namespace
) -> DeliveryFigures:
    """Deliveries per second with ``subscriptions`` webhooks, each receiving every event."""
    run = uuid.uuid4().hex[:6]
    ids = [subscribe(hub, receiver.url(f"/hooks/{run}/{n}")) for n in range(subscriptions)]
    events = max(options.min_events, math.ceil(options.deliveries / subscriptions))
    expected = events * subscriptions
    keys = new_keys(events, f"wh{subscriptions}")
    receiver.reset()
    started = time.monotonic()
    # Small batches from one client: the dispatchers start on the first while the rest arrive.
    publish_batches(hub, keys, options.webhook_batch)
    published = time.monotonic() - started
    complete = receiver.wait_for_count(expected, options.timeout)
    last = receiver.last or time.monotonic()
    figures = DeliveryFigures(
        subscriptions,
        events,
        receiver.count,
        receiver.repeats,
        receiver.connections,
        last - started,
        published,
    )
    if not complete:
        print(f"  ! {subscriptions} subscriptions: {receiver.count} of {expected} received")
    unsubscribe(hub, ids)
    return figures


# -- 3. publish-to-receipt latency ---------------------------------------------------------------


@dataclass
class LatencyFigures:
    latency: list[float]
    round_trip: list[float]
    lost: int


def bench_latency(hub: Hub, receiver: Receiver, options: argparse.Namespace) -> LatencyFigures:
    """Single PUTs, one at a time, each waited for at the receiver."""
    run = uuid.uuid4().hex[:6]
    ids = [subscribe(hub, receiver.url(f"/latency/{run}"))]
    connection = hub.connection()
    latency: list[float] = []
    round_trip: list[float] = []
    lost = 0
    for n in range(options.warmup + options.samples):
        key = f"lat-{run}-{n}"
        event_id = f"land_parcel/{key}/1"
        receiver.watch(event_id)
        body = parcel(n)
        started = time.monotonic()
        status, answer = request_json(
            connection, "PUT", f"/api/v1/records/land_parcel/{key}", body, hub.publisher
        )
        answered = time.monotonic()
        assert status == 201, answer
        arrived = receiver.arrival(event_id, options.timeout)
        if n >= options.warmup:
            round_trip.append(answered - started)
            if arrived is None:
                lost += 1
            else:
                latency.append(arrived - started)
        if options.gap > 0:
            time.sleep(options.gap)
    connection.close()
    unsubscribe(hub, ids)
    return LatencyFigures(latency, round_trip, lost)


# -- reporting ------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def report_feed(figures: FeedFigures, options: argparse.Namespace) -> None:
    ratios = [f / p for f, p in zip(figures.feed, figures.plain, strict=True)]
    print(
        f"\n1. Feed reads: {figures.events} events in pages of {options.page} "
        f"(published at {figures.publish_rate:.0f} records/s in batches of {options.batch})"
    )
    print(
        f"{'feed/s':>9} {'SELECT/s':>9} {'feed/SELECT':>12} {'client decode':>14}  "
        "rounds (feed/SELECT)"
    )
    print(
        f"{statistics.median(figures.feed):>9.0f} {statistics.median(figures.plain):>9.0f} "
        f"{statistics.median(ratios):>12.2f} {statistics.median(figures.decoding):>14.0%}  "
        + " ".join(f"{r:.2f}" for r in ratios)
    )
    print(
        "medians; target: feed/SELECT >= 0.50; client decode: share of the feed's time spent "
        "in json.loads here"
    )


def report_deliveries(rows: list[DeliveryFigures]) -> None:
    print("\n2. Webhook deliveries to a loopback receiver (each subscription gets every event)")
    print(
        f"{'subscriptions':>13} {'events':>7} {'received':>9} {'repeats':>8} "
        f"{'connections':>11} {'seconds':>8} {'publish s':>9} {'deliveries/s':>13}"
    )
    for row in rows:
        print(
            f"{row.subscriptions:>13} {row.events:>7} {row.received:>9} {row.repeats:>8} "
            f"{row.connections:>11} {row.seconds:>8.2f} {row.publish_seconds:>9.2f} "
            f"{row.rate:>13.0f}"
        )
    print(
        "deliveries/s: received / (last receipt - first publish); connections: TCP connections "
        "the receiver accepted"
    )


def report_latency(figures: LatencyFigures, options: argparse.Namespace) -> None:
    print(
        f"\n3. Publish-to-receipt latency: {len(figures.latency)} single PUTs one at a time "
        f"(1 subscription, {options.gap * 1000:g} ms apart)"
    )
    if not figures.latency:
        print("no samples arrived")
        return
    lat50, lat99 = percentile(figures.latency, 0.5), percentile(figures.latency, 0.99)
    rtt50, rtt99 = percentile(figures.round_trip, 0.5), percentile(figures.round_trip, 0.99)
    print(f"{'':<22} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'publish-to-receipt':<22} {lat50 * 1000:>8.1f} {lat99 * 1000:>8.1f}")
    print(f"{'publish round trip':<22} {rtt50 * 1000:>8.1f} {rtt99 * 1000:>8.1f}")
    print(f"p50 latency / p50 publish round trip: {lat50 / rtt50:.2f} (target: <= 5)")
    if figures.lost:
        print(f"! {figures.lost} events did not arrive within {options.timeout:g}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="Events read through the feed.")
    parser.add_argument("--page", type=int, default=1000, help="Feed page size (limit).")
    parser.add_argument("--rounds", type=int, default=5, help="Alternating feed/SELECT rounds.")
    parser.add_argument("--batch", type=int, default=500, help="Records per batch publish.")
    parser.add_argument("--publishers", type=int, default=4, help="Threads pre-publishing.")
    parser.add_argument(
        "--subscriptions", type=int, nargs="+", default=[1, 10, 100], help="Webhooks per run."
    )
    parser.add_argument(
        "--deliveries",
        type=int,
        default=3000,
        help="Deliveries aimed at per subscription count (events = deliveries / subscriptions).",
    )
    parser.add_argument("--min-events", type=int, default=30, help="Fewest events per run.")
    parser.add_argument(
        "--webhook-batch", type=int, default=50, help="Records per publish in delivery runs."
    )
    parser.add_argument("--samples", type=int, default=300, help="Latency samples.")
    parser.add_argument("--warmup", type=int, default=10, help="Latency samples not counted.")
    parser.add_argument("--gap", type=float, default=0.05, help="Seconds between latency samples.")
    parser.add_argument("--timeout", type=float, default=120, help="Longest wait for deliveries.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["feed", "webhooks", "latency"], help="Parts."
    )
    options = parser.parse_args()
    print(
        f"PostgreSQL; gunicorn {options.workers} workers x {options.threads} threads, "
        "a dispatcher in each worker; receiver on loopback in this process"
    )
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    began = time.monotonic()
    receiver = Receiver().start()
    try:
        with served_hub(options) as hub:
            if "feed" not in options.skip:
                report_feed(bench_feed(hub, options), options)
            if "webhooks" not in options.skip:
                rows = [bench_deliveries(hub, receiver, n, options) for n in options.subscriptions]
                report_deliveries(rows)
            if "latency" not in options.skip:
                report_latency(bench_latency(hub, receiver, options), options)
    finally:
        receiver.stop()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nwhole run {time.monotonic() - began:.0f}s; load average at the end: {load}")


if __name__ == "__main__":
    main()
