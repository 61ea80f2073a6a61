"""What dispatchers count about deliveries, and the log's state read at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.core import metrics
from hub.core.extensions import db
from hub.core.metrics import LATENCY_BUCKETS
from hub.events.log import head_sequence
from hub.subscriptions.models import Subscription


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
    """Count deliveries on the app's registry; report the log's state at each scrape."""
    app.extensions["hub.delivery_metrics"] = DeliveryMetrics(metrics.registry_of(app))
    metrics.add_scrape_collector(app, LogCollector(app))


def delivery_metrics(app: Flask | None = None) -> DeliveryMetrics:
    """The app's delivery metrics."""
    found: DeliveryMetrics = (app or current_app).extensions["hub.delivery_metrics"]
    return found
