"""Simulators of the external department systems, and what they share.

Each simulator is a small Flask app built by a ``create_app`` factory that holds seeded,
deterministic data in memory. This module serves such an app (in a background thread for tests,
or blocking for the CLI) and adds the fault-injection and statistics routes (``/_sim/faults``,
``/_sim/stats``) that let tests make a simulator fail on purpose.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import BaseWSGIServer, make_server

DEMO_PROJECTS: tuple[str, ...] = ("2503-330102-04-01-7K3Q9B", "2504-330106-03-02-2M8X4D")
# China has kept one offset without daylight saving since 1991, so a fixed offset is exact.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
SEED_START = datetime(2025, 1, 1, tzinfo=CHINA_TZ)
SEED_SPAN_SECONDS = int((datetime(2026, 7, 1, tzinfo=CHINA_TZ) - SEED_START).total_seconds())


def project_codes(projects: Iterable[str] | None) -> list[str]:
    """The project codes to seed rows with: the given ones, or the two demo projects."""
    codes = list(DEMO_PROJECTS if projects is None else projects)
    if not codes:
        raise ValueError("A simulator needs at least one project code.")
    return codes


def seeded_moment(rng: random.Random) -> datetime:
    """A whole-second moment in the seeding window 2025-01-01..2026-06-30, China time."""
    return SEED_START + timedelta(seconds=rng.randrange(SEED_SPAN_SECONDS))


def china_now() -> datetime:
    """The current time in China, truncated to whole seconds."""
    return datetime.now(CHINA_TZ).replace(microsecond=0)


def json_object() -> dict[str, Any] | None:
    """The request's JSON body if it is an object, else None."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def unknown_fields(body: dict[str, Any], allowed: Iterable[str]) -> list[str]:
    """The keys of ``body`` that are not among ``allowed``, sorted."""
    return sorted(set(body) - set(allowed))


def _bounded_int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


@dataclass
class _Fault:
    status: int
    times: int
    after: int


@dataclass
class SimControl:
    """Fault injection and request counting for the data routes of one simulator app."""

    data_prefixes: tuple[str, ...]
    counters: dict[str, int] = field(default_factory=dict)
    _fault: _Fault | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> None:
        """Add one to the named counter reported by ``/_sim/stats``."""
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    def install(self, app: Flask) -> None:
        """Register the ``/_sim`` routes and the hook that counts and fails data requests."""
        self.counters.setdefault("requests", 0)
        app.before_request(self._intercept)
        blueprint = Blueprint("sim", __name__, url_prefix="/_sim")
        blueprint.add_url_rule("/faults", view_func=self._set_fault, methods=["POST"])
        blueprint.add_url_rule("/faults", view_func=self._clear_fault, methods=["DELETE"])
        blueprint.add_url_rule("/stats", view_func=self._stats, methods=["GET"])
        app.register_blueprint(blueprint)

    def _intercept(self) -> Response | None:
        # Every data request counts, injected failures included, so tests can count retries.
        if not request.path.startswith(self.data_prefixes):
            return None
        with self._lock:
            self.counters["requests"] += 1
            fault = self._fault
            if fault is None:
                return None
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.times -= 1
            if fault.times <= 0:
                self._fault = None
            status = fault.status
        response = jsonify(error="injected")
        response.status_code = status
        return response

    def _set_fault(self) -> ResponseReturnValue:
        body = json_object() or {}
        status = _bounded_int(body.get("status"), 400, 599)
        times = _bounded_int(body.get("times", 1), 1, 10**6)
        after = _bounded_int(body.get("after_requests", 0), 0, 10**6)
        if status is None or times is None or after is None:
            message = "Expected integers: status 400..599, times >= 1, after_requests >= 0."
            return {"error": message}, 400
        with self._lock:
            self._fault = _Fault(status, times, after)
        return {"status": status, "times": times, "after_requests": after}, 201

    def _clear_fault(self) -> ResponseReturnValue:
        with self._lock:
            self._fault = None
        return "", 204

    def _stats(self) -> ResponseReturnValue:
        with self._lock:
            return dict(self.counters)


class ServedApp:
    """A Flask app served by werkzeug in a background thread, until ``shutdown()``."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        # a short poll interval keeps shutdown() quick; tests start and stop many servers
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve_forever(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` in this thread until interrupted (for the CLI and the demo)."""
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
