"""A webhook receiver for benchmarks: a threaded HTTP server on loopback that answers 204.

It verifies nothing (the tests do) and does as little as it can per request: read the body,
note the time, the path and the ``webhook-id``, answer. It counts deliveries, remembers when
the first and the last arrived, tells apart repeats of a (path, webhook-id) already received,
and wakes whoever waits for a given ``webhook-id`` with the moment it arrived.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub's sender pools connections
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver.connected()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.receiver.note(self.path, self.headers.get("webhook-id") or "")
        self.send_response_only(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line per request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class Receiver:
    """The server, run in a thread of this process, and what it received."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-receiver", daemon=True
        )
        self._watched: dict[str, float | None] = {}
        self.reset()

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        """An endpoint URL on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget what was received so far."""
        with self._condition:
            self.count = 0
            self.connections = 0
            self.first: float | None = None
            self.last: float | None = None
            self._seen: set[tuple[str, str]] = set()
            self.repeats = 0

    def connected(self) -> None:
        """Count one new connection (called by the request handler)."""
        with self._condition:
            self.connections += 1

    def note(self, path: str, webhook_id: str) -> None:
        """Record one delivery (called by the request handler)."""
        now = time.monotonic()
        with self._condition:
            self.count += 1
            if self.first is None:
                self.first = now
            self.last = now
            pair = (path, webhook_id)
            if pair in self._seen:
                self.repeats += 1
            else:
                self._seen.add(pair)
            if webhook_id in self._watched and self._watched[webhook_id] is None:
                self._watched[webhook_id] = now
            self._condition.notify_all()

    def wait_for_count(self, expected: int, timeout: float) -> bool:
        """Block until ``expected`` deliveries arrived (since the last reset), or time out."""
        with self._condition:
            return self._condition.wait_for(lambda: self.count >= expected, timeout)

    def watch(self, webhook_id: str) -> None:
        """Remember when ``webhook_id`` first arrives (call before it can arrive)."""
        with self._condition:
            self._watched[webhook_id] = None

    def arrival(self, webhook_id: str, timeout: float) -> float | None:
        """When ``webhook_id`` arrived (``time.monotonic``), waiting up to ``timeout``."""
        with self._condition:
            self._condition.wait_for(lambda: self._watched.get(webhook_id) is not None, timeout)
            return self._watched.pop(webhook_id, None)
