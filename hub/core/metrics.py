"""Prometheus metrics: what a process counts as it works, and what is read at scrape time.

Features register their counters on the app's registry (:func:`registry_of`) and, for what
the database knows, collectors read at each scrape (:func:`add_scrape_collector`), so every
process reports the same truth. Under ``hub serve`` with several workers, set
``PROMETHEUS_MULTIPROC_DIR`` (``hub serve`` does it for you) and ``/metrics`` adds up every
worker's counters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


@dataclass
class _State:
    registry: CollectorRegistry
    at_scrape: list[Collector] = field(default_factory=list)


def init_app(app: Flask) -> None:
    """Give the app its registry."""
    app.extensions["hub.metrics"] = _State(CollectorRegistry(auto_describe=True))


def _state(app: Flask) -> _State:
    state: _State = app.extensions["hub.metrics"]
    return state


def registry_of(app: Flask) -> CollectorRegistry:
    """The registry ``app``'s counters and histograms live in."""
    return _state(app).registry


def add_scrape_collector(app: Flask, collector: Collector) -> None:
    """Report what ``collector`` reads (from the database, say) at every scrape."""
    _state(app).at_scrape.append(collector)


def scrape_registry(app: Flask) -> CollectorRegistry:
    """What a scrape reports: this process's counters (or every worker's, in multiprocess
    mode), then what the scrape-time collectors read."""
    state = _state(app)
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = state.registry
    scrape = CollectorRegistry()
    scrape.register(_Merged(registry, state.at_scrape))
    return scrape


def exposition() -> Response:
    """The Prometheus text of a scrape."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(generate_latest(scrape_registry(app)), content_type=CONTENT_TYPE)


class _Merged(Collector):
    def __init__(self, registry: CollectorRegistry, at_scrape: list[Collector]) -> None:
        self._registry = registry
        self._at_scrape = at_scrape

    def collect(self) -> Iterator[Any]:
        yield from self._registry.collect()
        for collector in self._at_scrape:
            yield from collector.collect()
