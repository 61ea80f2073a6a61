"""Sending one event to a webhook endpoint, signed as Standard Webhooks specify.

The body is the CloudEvent; ``webhook-id`` is the event's id (the same on every retry, so
receivers can de-duplicate); ``webhook-signature`` carries one ``v1,`` signature per live
secret, so a receiver still on the secret before a rotation keeps verifying. Redirects are not
followed (they could lead past the endpoint policy) and the transport never retries on its
own: retries follow the subscription's schedule.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from hub.subscriptions.policy import Target

SECRET_PREFIX = "whsec_"
USER_AGENT = "project-hub-webhooks/1"
# what is kept of an endpoint's answer for the attempt log (no more of it is read)
ERROR_EXCERPT = 300
# seconds between the watchdog's looks at deliveries running late
DEADLINE_CHECK = 0.1


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    signing_secrets: Sequence[str], message_id: str, body: str, at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed with each secret."""
    signatures = " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt came to."""

    outcome: str  # delivered, failed or gone
    response_code: int | None
    duration: float
    error: str | None = None
    retry_after: float | None = None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


class _Deadlines:
    """Connections in use and when their delivery must be over; a watchdog thread shuts the
    socket of one that runs late, so an endpoint trickling its answer cannot hold a delivery
    thread past the timeout (a socket timeout only bounds each single read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[Any, float] = {}
        self._local = threading.local()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hub-webhook-deadlines")
        self._thread.daemon = True
        self._thread.start()

    def begin(self, deadline: float) -> None:
        """The calling thread's deliveries must end by ``deadline`` (a monotonic time)."""
        self._local.deadline = deadline
        self._local.connections = []

    def watch(self, connection: Any) -> None:
        """Watch ``connection``, about to carry the calling thread's delivery."""
        with self._lock:
            self._due[connection] = self._local.deadline
        self._local.connections.append(connection)

    def end(self) -> None:
        """The calling thread's delivery is over."""
        with self._lock:
            for connection in self._local.connections:
                self._due.pop(connection, None)
        self._local.connections = []

    def close(self) -> None:
        """Stop the watchdog."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(DEADLINE_CHECK):
            now = time.monotonic()
            with self._lock:
                late = [c for c, due in self._due.items() if due < now]
                for connection in late:
                    del self._due[connection]
            for connection in late:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


def _watched(base: type[Any], deadlines: _Deadlines) -> type[Any]:
    """A connection class of ``base`` that puts itself under ``deadlines`` for each request."""

    class Watched(base):  # type: ignore[misc]
        def request(self, *args: Any, **kwargs: Any) -> None:
            deadlines.watch(self)
            super().request(*args, **kwargs)

    return Watched


class Sender:
    """An HTTP client for deliveries: pooled connections to the checked address, a timeout
    on the whole exchange, no retries and no redirects of its own."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        self._timeout = timeout
        self._deadlines = _Deadlines()
        plain = type(
            "WatchedPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _watched(HTTPConnection, self._deadlines)},
        )
        secure = type(
            "WatchedSecurePool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _watched(HTTPSConnection, self._deadlines)},
        )
        self._pool = urllib3.PoolManager(
            num_pools=max(pool_size, 10),
            # one connection per delivery thread to the same host, kept for the next
            maxsize=max(1, pool_size),
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,
        )
        self._pool.pool_classes_by_scheme = {"http": plain, "https": secure}

    def send(self, target: Target, headers: dict[str, str], body: str) -> Attempt:
        """POST ``body`` to the checked ``target`` and classify the answer."""
        started = time.monotonic()
        tls = {"server_hostname": target.host, "assert_hostname": target.host}
        pool = self._pool.connection_from_host(
            str(target.address),
            target.port,
            target.scheme,
            pool_kwargs=tls if target.scheme == "https" else None,
        )
        self._deadlines.begin(started + self._timeout)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body.encode(),
                headers={**headers, "host": target.host_header},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            answer = response.read(ERROR_EXCERPT + 1, decode_content=False)
            if len(answer) > ERROR_EXCERPT:
                response.close()  # a long answer is not read to its end: drop the connection
            else:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            duration = time.monotonic() - started
            error = f"{type(exc).__name__}: {exc}"
            if duration >= self._timeout:
                error = f"Timed out: no complete answer within {self._timeout:g}s ({error})"
            return Attempt("failed", None, duration, error[:ERROR_EXCERPT])
        finally:
            self._deadlines.end()
        duration = time.monotonic() - started
        status = response.status
        if 200 <= status < 300:
            return Attempt("delivered", status, duration)
        excerpt = answer[:ERROR_EXCERPT].decode("utf-8", "replace")
        error = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        if status == 410:
            return Attempt("gone", status, duration, error)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        return Attempt("failed", status, duration, error, retry_after)

    def close(self) -> None:
        """Close pooled connections and stop the watchdog."""
        self._pool.clear()
        self._deadlines.close()
