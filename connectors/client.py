"""A client of the hub's public HTTP API, for connectors and any department integrator.

It exchanges an access key for a token and refreshes it before it expires, reuses
connections, and retries connection errors, 429 and 5xx with exponential backoff and jitter,
honouring ``Retry-After`` (capped at the longest backoff). Record writes are safe to send
again: batch publishes carry an ``Idempotency-Key`` and the hub makes no new version for
unchanged content; acknowledgements never move back; a run report names its run. Creating a
subscription is not, so it is retried only when the connection failed before sending.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRIED_STATUSES = (429, 500, 502, 503, 504)
# Refresh a token this long before it expires, so a request never races its expiry.
REFRESH_MARGIN = 60.0
USER_AGENT = "hub-connector/1"


def _segment(key: str) -> str:
    """A record key as one URL path segment: keys may hold Chinese, '#', '[' or ':'."""
    return quote(key, safe="")


class HubRefused(Exception):
    """The hub refused a request; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        detail = problem.get("detail") or problem.get("title") or "no detail"
        super().__init__(f"hub answered {status}: {detail}")


@dataclass(frozen=True)
class EventPage:
    """One page of the change feed or of a pull subscription."""

    events: list[dict[str, Any]]
    next_after: int


def retry_policy(attempts: int = 5, backoff: float = 0.5, backoff_max: float = 30.0) -> Retry:
    """Retries for connection errors, 429 and 5xx on every method, with jitter and Retry-After."""
    return Retry(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        allowed_methods=None,  # the writes sent through it are safe to repeat (see module doc)
        status_forcelist=RETRIED_STATUSES,
        backoff_factor=backoff,
        backoff_max=backoff_max,
        backoff_jitter=backoff,
        respect_retry_after_header=True,
        # a proxy asking for an hour's pause must not stall a run that long
        retry_after_max=math.ceil(backoff_max),
        raise_on_status=False,
    )


def unsent_only(retry: Retry) -> Retry:
    """``retry`` narrowed to failures before the request was sent, for writes not safe to
    repeat."""
    return retry.new(read=0, status=0, status_forcelist=())


def retrying_session(retry: Retry) -> requests.Session:
    """A pooled HTTP session that retries as ``retry`` says."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def encode_json(body: Any) -> bytes:
    """JSON for the hub: decimals go as numbers (the hub keeps them within 15 digits)."""
    return json.dumps(body, ensure_ascii=False, default=_decimal_as_number).encode()


def _decimal_as_number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class HubClient:
    """A session with the hub, authenticated by one access key."""

    def __init__(
        self,
        base_url: str,
        access_key: str,
        *,
        timeout: float = 30.0,
        retry: Retry | None = None,
    ) -> None:
        if not access_key:
            raise ValueError("an access key is required")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._access_key = access_key
        self._token: str | None = None
        self._token_expires = 0.0
        self.http = retrying_session(retry or retry_policy())
        self._http_once = retrying_session(unsent_only(retry or retry_policy()))

    def close(self) -> None:
        """Release pooled connections."""
        self.http.close()
        self._http_once.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Authentication

    def token(self) -> str:
        """A valid access token, exchanged for the key again shortly before it expires."""
        if self._token is None or time.monotonic() >= self._token_expires:
            response = self.http.post(
                f"{self.base_url}/api/v1/auth/token",
                headers={"Authorization": f"Bearer {self._access_key}"},
                timeout=self.timeout,
            )
            body = _checked(response)
            lifetime = float(body["expires_in"])
            self._token = str(body["access_token"])
            self._token_expires = time.monotonic() + max(lifetime - REFRESH_MARGIN, lifetime / 2)
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        allow: Sequence[int] = (),
        repeatable: bool = True,
    ) -> requests.Response:
        """Send an authenticated request; raise HubRefused for an error status not in ``allow``.

        A request that is not ``repeatable`` is retried only if it was never sent.
        """
        session = self.http if repeatable else self._http_once
        sent_headers = dict(headers or {})
        data = None
        if body is not None:
            data = encode_json(body)
            sent_headers["Content-Type"] = "application/json"
        for attempt in range(2):
            sent_headers["Authorization"] = f"Bearer {self.token()}"
            response = session.request(
                method,
                f"{self.base_url}/api/v1{path}",
                data=data,
                params=params,
                headers=sent_headers,
                timeout=timeout or self.timeout,
            )
            # A token can be cut off early (key rotated, hub secret rotated): exchange once more.
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            break
        if response.status_code >= 400 and response.status_code not in allow:
            _checked(response)
        return response

    # Records

    def publish_batch(
        self, type_name: str, records: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Publish ``[{"key", "data"}]`` in one request; one result per record, in order."""
        response = self.request(
            "POST",
            f"/records/{type_name}/batch",
            body={"records": list(records)},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def put_record(self, type_name: str, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace one record."""
        body: dict[str, Any] = self.request(
            "PUT", f"/records/{type_name}/{_segment(key)}", body=data
        ).json()
        return body

    def get_record(self, type_name: str, key: str) -> dict[str, Any] | None:
        """One record, or None when the hub has none under that key."""
        response = self.request("GET", f"/records/{type_name}/{_segment(key)}", allow=(404,))
        if response.status_code == 404:
            return None
        body: dict[str, Any] = response.json()
        return body

    def delete_record(self, type_name: str, key: str) -> bool:
        """Tombstone a record; False when the hub never had it (nothing to delete)."""
        response = self.request("DELETE", f"/records/{type_name}/{_segment(key)}", allow=(404,))
        return response.status_code != 404

    def iter_records(
        self, type_name: str, *, limit: int = 200, **filters: str
    ) -> Iterator[dict[str, Any]]:
        """Every live record of a type the caller may read, page by page."""
        params: dict[str, Any] = {"limit": limit, **filters}
        while True:
            page = self.request("GET", f"/records/{type_name}", params=params).json()
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    # Change feed and pull subscriptions

    def events(
        self,
        after: int = 0,
        *,
        types: Sequence[str] = (),
        project_code: str | None = None,
        limit: int = 100,
        wait: float = 0,
    ) -> EventPage:
        """One page of the change feed after a sequence number, long-polling up to ``wait`` s."""
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": wait}
        if types:
            params["types"] = ",".join(types)
        if project_code:
            params["project_code"] = project_code
        body = self.request("GET", "/events", params=params, timeout=self.timeout + wait).json()
        return EventPage(body["events"], int(body["next_after"]))

    def create_subscription(
        self, types: Sequence[str], filters: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a pull subscription; its cursor starts after everything committed so far."""
        body: dict[str, Any] = {"types": list(types)}
        if filters:
            body["filter"] = dict(filters)
        created: dict[str, Any] = self.request(
            "POST", "/subscriptions", body=body, repeatable=False
        ).json()
        return created

    def get_subscription(self, subscription_id: int) -> dict[str, Any] | None:
        """A subscription of the caller's department, or None when it no longer exists."""
        response = self.request("GET", f"/subscriptions/{subscription_id}", allow=(404,))
        if response.status_code == 404:
            return None
        body: dict[str, Any] = response.json()
        return body

    def pull(self, subscription_id: int, *, limit: int = 100, wait: float = 0) -> EventPage:
        """The events after a pull subscription's acknowledged cursor."""
        body = self.request(
            "GET",
            f"/subscriptions/{subscription_id}/events",
            params={"limit": limit, "wait": wait},
            timeout=self.timeout + wait,
        ).json()
        return EventPage(body["events"], int(body["next_after"]))

    def ack(self, subscription_id: int, sequence: int) -> None:
        """Acknowledge every event of a subscription up to ``sequence``."""
        self.request("POST", f"/subscriptions/{subscription_id}/ack", body={"sequence": sequence})

    # Connector runs

    def report_run(self, connector: str, report: Mapping[str, Any]) -> dict[str, Any]:
        """Report a connector run (started, then finished) to the hub's administrators."""
        body: dict[str, Any] = self.request(
            "POST", f"/connectors/{connector}/runs", body=report
        ).json()
        return body


def _checked(response: requests.Response) -> dict[str, Any]:
    """The JSON body of a successful response, or HubRefused with the problem the hub gave."""
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:300] or response.reason}
    if response.status_code >= 400:
        raise HubRefused(response.status_code, body if isinstance(body, dict) else {})
    if not isinstance(body, dict):
        raise HubRefused(response.status_code, {"detail": "expected a JSON object"})
    return body
