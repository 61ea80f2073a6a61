"""Sending one event to a webhook endpoint, signed as Standard Webhooks specify.

The body is the CloudEvent; ``webhook-id`` is the event's id (the same on every retry, so
receivers can de-duplicate); ``webhook-signature`` carries one ``v1,`` signature per live
secret, so a receiver still on the secret before a rotation keeps verifying. Redirects are not
followed (they could lead past the endpoint policy) and the transport never retries on its
own: retries follow the subscription's schedule.
"""

from __future__ import annotations

import base64
import email.utils
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
USER_AGENT = "project-hub-webhooks/1"
# what is kept of an endpoint's answer for the attempt log
ERROR_EXCERPT = 300


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


class Sender:
    """An HTTP client for deliveries: pooled connections, a timeout, no retries of its own."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=max(pool_size, 10),
            # one connection per delivery thread to the same host, kept for the next
            maxsize=max(1, pool_size),
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,
        )

    def send(self, url: str, headers: dict[str, str], body: str) -> Attempt:
        """POST ``body`` to ``url`` and classify the answer."""
        started = time.monotonic()
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body.encode(),
                headers=headers,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_EXCERPT]
            return Attempt("failed", None, time.monotonic() - started, error)
        duration = time.monotonic() - started
        status = response.status
        if 200 <= status < 300:
            return Attempt("delivered", status, duration)
        excerpt = response.data[:ERROR_EXCERPT].decode("utf-8", "replace")
        error = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        if status == 410:
            return Attempt("gone", status, duration, error)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        return Attempt("failed", status, duration, error, retry_after)

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()
