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

from connectors.client import HubClient, HubRefused, encode_json, retry_policy, retrying_session
from connectors.config import NAME, NativeField
from connectors.engine import Chunk, RunProgress, SourceError
from connectors.mapping import MappingError, RecordMapping
from connectors.state import Quarantine, StateStore

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

    connector = fields.String(required=True, validate=NAME)
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
        headers = {}
        if "json" in kwargs:
            headers["Content-Type"] = "application/json"
            kwargs["data"] = encode_json(kwargs.pop("json"))
        for attempt in range(2):
            headers["Authorization"] = f"Bearer {self._access_token()}"
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

    def projects(self) -> list[dict[str, Any]]:
        """Every project in the registry, deleted ones included."""
        items = _json(self.request("GET", "/v2/projects"), "project registry").get("items")
        if not isinstance(items, list):
            raise SourceError("the project registry answered a list without items")
        return items

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
            items = page.get("items")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise SourceError("the approval system answered a page without items")
            # a page without a cursor to resume from leaves the saved one as it was
            cursor = str(page["next_cursor"]) if page.get("next_cursor") else cursor
            yield Chunk(items, {"cursor": cursor} if cursor else None, position=cursor)
            if not page.get("has_more") or not items:
                return


class ProjectPush:
    """Pushes new and changed hub projects into the permitting system's registry."""

    def __init__(
        self,
        client: HubClient,
        api: PermittingApi,
        mapping: RecordMapping,
        store: StateStore,
        quarantine: Quarantine,
        record_type: str = "project",
    ) -> None:
        self.client = client
        self.api = api
        self.mapping = mapping
        self.store = store
        self.quarantine = quarantine
        self.record_type = record_type

    def run_once(self, counts: RunProgress, wait: float = 0) -> list[str]:
        """Push what changed since the last acknowledged event (everything on a first run)."""
        notes: list[str] = []
        state = self._subscribed(self.store.load())
        subscription = int(state["subscription_id"])
        while True:
            if not state.get("listed"):
                self._list_all(counts, notes)
                state["listed"] = True
                self.store.save(state)
            try:
                page = self.client.pull(subscription, limit=100, wait=wait)
            except HubRefused as error:
                if error.status != 410:
                    raise
                # The hub no longer keeps the events after our cursor: go on from its head
                # and list every project again, which covers whatever those events said.
                notes.append(f"subscription {subscription} fell behind the hub's log: re-listed")
                state.update(listed=False)
                self.store.save(state)
                self._acknowledge(state, int(error.problem["resume_after"]))
                continue
            for event in page.events:
                data = event["data"]
                if data["deleted"]:
                    self._delete(data["key"], counts, notes)
                else:
                    self._push(data["key"], data["version"], data["record"], counts, notes)
            # Empty pages are acknowledged too: the cursor must follow the hub's log even
            # when no project changes, or compaction would leave it behind.
            self._acknowledge(state, page.next_after)
            counts.cursor = f"acknowledged event {state.get('acknowledged', 0)}"
            if not page.events:
                return notes
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

    def _acknowledge(self, state: dict[str, Any], sequence: int) -> None:
        if sequence > state.get("acknowledged", 0):
            self.client.ack(int(state["subscription_id"]), sequence)
            state["acknowledged"] = sequence
            self.store.save(state)

    def _list_all(self, counts: RunProgress, notes: list[str]) -> None:
        """Push every live record, and delete from the registry what the hub no longer has
        (events of deletions made while no subscription followed them are gone)."""
        live = set()
        for record in self.client.iter_records(self.record_type):
            live.add(record["key"])
            self._push(record["key"], record["version"], record["data"], counts, notes)
        for project in self.api.projects():
            code = project.get("projectCode")
            if isinstance(code, str) and code not in live and not project.get("deleted"):
                self._delete(code, counts, notes)

    def _push(
        self,
        code: str,
        version: int,
        record: Mapping[str, Any],
        counts: RunProgress,
        notes: list[str],
    ) -> None:
        counts.read += 1
        try:
            body = self.mapping.data_of(record)
            self.api.put_project(code, {**body, "projectCode": code, "sourceVersion": version})
        except (MappingError, Refused) as error:
            self._refused(code, record, error, counts, notes)
            return
        counts.published += 1

    def _delete(self, code: str, counts: RunProgress, notes: list[str]) -> None:
        counts.read += 1
        try:
            self.api.delete_project(code)
        except Refused as error:
            self._refused(code, {"projectCode": code, "deleted": True}, error, counts, notes)
            return
        counts.deleted += 1

    def _refused(
        self,
        code: str,
        record: Mapping[str, Any],
        error: Exception,
        counts: RunProgress,
        notes: list[str],
    ) -> None:
        # a project the registry cannot take must not hold back every later one
        counts.rejected += 1
        errors = error.errors if isinstance(error, MappingError) else {}
        self.quarantine.add(code, record, str(error), errors)
        notes.append(f"project {code} not taken by the registry: {error}")
        log.warning("project %s not pushed: %s", code, error)
