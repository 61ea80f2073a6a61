"""Prometheus metrics: deliveries counted where they happen, the log's state read at scrape.

Counters and histograms of deliveries live in the process that delivers. Under ``hub serve``
with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``hub serve`` does it for you) and
``/metrics`` adds up every worker's values. What the database knows (events appended, each
subscription's lag) is read from it at scrape time, so every process reports the same truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.events.service import head_sequence
from hub.extensions import db
from hub.subscriptions.models import Subscription

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


class DeliveryMetrics:
    """What a dispatcher process observes about its deliveries."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "hub_deliveries",
            "Webhook delivery attempts by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "hub_delivery_duration_seconds",
            "Time an endpoint took to answer one delivery attempt.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.latency = Histogram(
            "hub_delivery_latency_seconds",
            "Time from a change's commit to its confirmed delivery.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, outcome: str, duration: float, latency: float | None) -> None:
        """Count one attempt."""
        self.attempts.labels(outcome=outcome).inc()
        self.duration.observe(duration)
        if latency is not None:
            self.latency.observe(max(0.0, latency))


class LogCollector(Collector):
    """Events appended and subscription lag, read from the database at scrape time."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[Any]:
        """The log's metrics now; nothing when the database cannot be read."""
        with self._app.app_context():
            try:
                head = head_sequence(db.session)
                rows = db.session.execute(
                    select(
                        Subscription.id,
                        Subscription.department_id,
                        Subscription.kind,
                        Subscription.status,
                        Subscription.cursor,
                    )
                ).all()
            except SQLAlchemyError:
                return
            finally:
                db.end_read()
        appended = CounterMetricFamily(
            "hub_events_appended", "Changes appended to the log (numbered events)."
        )
        appended.add_metric([], head)
        yield appended
        lag = GaugeMetricFamily(
            "hub_subscription_lag_events",
            "Events in the log after a subscription's cursor.",
            labels=["subscription", "department", "kind", "status"],
        )
        for row in rows:
            labels = [str(row.id), row.department_id, row.kind, row.status]
            lag.add_metric(labels, max(0, head - row.cursor))
        yield lag


def init_app(app: Flask) -> None:
    """Give the app its delivery metrics and its scrape-time collector."""
    registry = CollectorRegistry(auto_describe=True)
    app.extensions["hub.metrics"] = DeliveryMetrics(registry)
    app.extensions["hub.metrics.registry"] = registry


def delivery_metrics(app: Flask | None = None) -> DeliveryMetrics:
    """The app's delivery metrics."""
    found: DeliveryMetrics = (app or current_app).extensions["hub.metrics"]
    return found


def scrape_registry(app: Flask) -> CollectorRegistry:
    """What a scrape reports: this process's deliveries (or every worker's, in multiprocess
    mode) and the log's state."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = app.extensions["hub.metrics.registry"]
    scrape = CollectorRegistry()
    scrape.register(_Merged(registry, LogCollector(app)))
    return scrape


def exposition() -> Response:
    """The Prometheus text of a scrape."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(generate_latest(scrape_registry(app)), content_type=CONTENT_TYPE)


class _Merged(Collector):
    def __init__(self, registry: CollectorRegistry, log: LogCollector) -> None:
        self._registry = registry
        self._log = log

    def collect(self) -> Iterator[Any]:
        yield from self._registry.collect()
        yield from self._log.collect()
