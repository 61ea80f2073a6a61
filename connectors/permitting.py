"""The online approval (permitting) system, both ways.

Inbound: approvals read with the system's own client-credentials token and its opaque change
cursor, saved once the hub has confirmed each page. Outbound: project master data pushed into
the system's project registry, following a pull subscription on the hub; events are
acknowledged only after the registry accepted them, so a stopped connector resumes where it
was, and the registry ignores a push older than the version it holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import marshmallow as ma
import requests
from marshmallow import fields, validate
from urllib3.util.retry import Retry

from connectors.client import HubClient, encode_json, retry_policy, retrying_session
from connectors.config import NativeField
from connectors.mapping import MappingError, RecordMapping
from connectors.state import StateStore
from connectors.sync import Chunk, RunCounts, SourceError

log = logging.getLogger(__name__)
TOKEN_MARGIN = 30.0


class PermittingSettingsSchema(ma.Schema):
    """``[source]`` of the permitting connector."""

    url = fields.URL(require_tld=False, required=True, schemes={"http", "https"})
    client_id = fields.String(required=True)
    client_secret_env = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*$"))
    page_size = fields.Integer(load_default=200, validate=validate.Range(1, 500))
    timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    retries = fields.Integer(load_default=2, validate=validate.Range(0, 10))


class OutboundSettingsSchema(ma.Schema):
    """``[outbound]``: which hub records go to the registry, and how its fields are named."""

    connector = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]*$"))
    record_type = fields.String(load_default="project")
    wait = fields.Float(load_default=20.0, validate=validate.Range(0, 60))
    fields_ = fields.Dict(
        keys=fields.String(), values=NativeField(), required=True, data_key="fields"
    )


class PermittingApi:
    """The approval system's REST API, with its own token."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        client_secret: str,
        retry: Retry | None = None,
    ) -> None:
        self.url = str(settings["url"]).rstrip("/")
        self.client_id: str = settings["client_id"]
        self.timeout: float = settings["timeout"]
        self._secret = client_secret
        self._token: str | None = None
        self._token_expires = 0.0
        self.http = retrying_session(retry or retry_policy(settings["retries"], backoff=0.2))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An authenticated request; a token refused mid-life is fetched again once."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            if "json" in kwargs:
                headers["Content-Type"] = "application/json"
                kwargs["data"] = encode_json(kwargs.pop("json"))
            response = self.http.request(
                method, f"{self.url}{path}", headers=headers, timeout=self.timeout, **kwargs
            )
            if response.status_code != 401 or attempt:
                return response
            self._token = None
        raise AssertionError("unreachable")

    def approvals(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """One page of approvals changed after ``cursor``."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = self.request("GET", "/v2/approvals", params=params)
        body: dict[str, Any] = _json(response, "approvals")
        return body

    def put_project(self, code: str, body: Mapping[str, Any]) -> None:
        """Create or update a project in the registry."""
        _json(self.request("PUT", f"/v2/projects/{code}", json=dict(body)), "project registry")

    def delete_project(self, code: str) -> None:
        """Mark a project deleted in the registry (gone already is fine)."""
        response = self.request("DELETE", f"/v2/projects/{code}")
        if response.status_code not in (204, 404):
            _json(response, "project registry")

    def _access_token(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            response = self.http.post(
                f"{self.url}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                },
                timeout=self.timeout,
            )
            body = _json(response, "token")
            lifetime = float(body.get("expires_in", 300))
            self._token = str(body["access_token"])
            self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
        return self._token


class Refused(SourceError):
    """The system refused what was sent (a 4xx other than auth or rate limits)."""


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if status >= 400 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else response.text[:200]
        message = f"permitting {what} answered {status}: {error}"
        if 400 <= status < 500 and status not in (401, 403, 408, 429):
            raise Refused(message)
        raise SourceError(message)
    return body


class ApprovalSource:
    """Approvals changed after the saved cursor, page by page."""

    def __init__(self, api: PermittingApi, page_size: int) -> None:
        self.api = api
        self.page_size = page_size
        self.total: int | None = None
        self.notes: list[str] = []

    def chunks(self, state: Mapping[str, Any]) -> Iterator[Chunk]:
        """One chunk per page; the cursor after it is saved once the hub confirmed it."""
        cursor: str | None = state.get("cursor")
        while True:
            page = self.api.approvals(cursor, self.page_size)
            cursor = str(page["next_cursor"])
            yield Chunk(list(page["items"]), {"cursor": cursor})
            if not page.get("has_more"):
                return


class ProjectPush:
    """Pushes new and changed hub projects into the permitting system's registry."""

    def __init__(
        self,
        client: HubClient,
        api: PermittingApi,
        mapping: RecordMapping,
        store: StateStore,
        record_type: str = "project",
    ) -> None:
        self.client = client
        self.api = api
        self.mapping = mapping
        self.store = store
        self.record_type = record_type

    def run_once(self, counts: RunCounts, wait: float = 0) -> list[str]:
        """Push what changed since the last acknowledged event (everything on a first run)."""
        state = self._subscribed(self.store.load())
        subscription = int(state["subscription_id"])
        if not state.get("listed"):
            # Events only cover changes after the subscription began: list what came before.
            for record in self.client.iter_records(self.record_type):
                self._push(record["key"], record["version"], record["data"], counts)
            state["listed"] = True
            self.store.save(state)
        while True:
            page = self.client.pull(subscription, limit=100, wait=wait)
            if not page.events:
                return []
            for event in page.events:
                data = event["data"]
                if data["deleted"]:
                    counts.read += 1
                    self.api.delete_project(data["key"])
                    counts.deleted += 1
                else:
                    self._push(data["key"], data["version"], data["record"], counts)
            self.client.ack(subscription, page.next_after)
            wait = 0

    def _subscribed(self, state: dict[str, Any]) -> dict[str, Any]:
        """The saved subscription, or a new one (and a fresh listing) when it is gone."""
        known = state.get("subscription_id")
        if known is not None and self.client.get_subscription(int(known)) is not None:
            return state
        created = self.client.create_subscription([self.record_type])
        state = {"subscription_id": created["id"], "listed": False}
        self.store.save(state)
        return state

    def _push(self, code: str, version: int, record: Mapping[str, Any], counts: RunCounts) -> None:
        counts.read += 1
        try:
            body = self.mapping.data_of(record)
            self.api.put_project(code, {**body, "projectCode": code, "sourceVersion": version})
        except (MappingError, Refused) as error:
            # a project the registry cannot take must not hold back every later one
            counts.rejected += 1
            log.warning("project %s not pushed: %s", code, error)
            return
        counts.published += 1
