"""A webhook receiver on loopback for tests: one path per subscription, answers from a script,
records what arrives."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# seconds a receiver waits for what a test expects (and holds a held answer at most)
DEADLINE = 10.0


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    # seconds to wait before answering
    delay: float = 0.0
    # answer only once this is set (or after DEADLINE)
    hold: threading.Event | None = None


OK = Reply()


@dataclass(frozen=True)
class Receipt:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float  # time.monotonic()
    status: int  # what the script answered

    @property
    def event(self) -> dict[str, Any]:
        """The CloudEvent in the body."""
        found: dict[str, Any] = json.loads(self.body)
        return found

    @property
    def sequence(self) -> int:
        return int(self.event["sequence"])

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """A webhook endpoint on 127.0.0.1: one path per subscription, answers from a script."""

    def __init__(self, port: int = 0) -> None:
        self._changed = threading.Condition()
        self._receipts: list[Receipt] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._active: dict[str, int] = defaultdict(int)
        # the most requests to one path that were waiting for their answer at once
        self.most_at_once: dict[str, int] = defaultdict(int)
        self._holds: list[threading.Event] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        """The endpoint URL of ``path``."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def script(self, path: str, *replies: Reply, then: Reply = OK) -> None:
        """Answer the next requests to ``path`` with ``replies``, and ``then`` after them."""
        with self._changed:
            self._scripts[path] = deque(replies)
            self._defaults[path] = then
            self._holds.extend(r.hold for r in (*replies, then) if r.hold is not None)

    def receipts(self, path: str | None = None) -> list[Receipt]:
        """What arrived (at ``path``), in order of arrival."""
        with self._changed:
            return [r for r in self._receipts if path is None or r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = DEADLINE) -> list[Receipt]:
        """The first ``count`` requests to ``path``, waiting for them at most ``timeout``."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: sum(r.path == path for r in self._receipts) >= count, timeout
            )
        found = self.receipts(path)
        if not arrived:
            pytest.fail(
                f"{path}: {len(found)} of {count} requests in {timeout}s; "
                f"sequences {[r.sequence for r in found]}"
            )
        return found[:count]

    def close(self) -> None:
        """Answer whatever is held, and stop listening."""
        with self._changed:
            holds = list(self._holds)
        for hold in holds:
            hold.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length)
        if len(body) < length:
            return  # the sender went away mid-request (a killed worker): nothing was delivered
        path = handler.path.lstrip("/")
        with self._changed:
            script = self._scripts.get(path)
            reply = script.popleft() if script else self._defaults.get(path, OK)
            self._active[path] += 1
            self.most_at_once[path] = max(self.most_at_once[path], self._active[path])
            headers = {name.lower(): value for name, value in handler.headers.items()}
            self._receipts.append(Receipt(path, headers, body, time.monotonic(), reply.status))
            self._changed.notify_all()
        try:
            if reply.hold is not None:
                reply.hold.wait(DEADLINE)
            if reply.delay:
                time.sleep(reply.delay)
        finally:
            # no longer in flight before the answer leaves: the next request may follow at once
            with self._changed:
                self._active[path] -= 1
        payload = reply.body.encode()
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the hub stopped waiting (its timeout)
