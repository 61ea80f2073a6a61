"""The land-supply system: a REST API paged by page number, filtered by ``modified_since``.

Rows carry an update time to the second. A row can commit after rows stamped later than it,
so each run starts a look-back window before the saved mark; rows already sent with the same
content (kept by key and fingerprint for the window) are skipped, so the boundary is sent
once. Paging re-anchors ``modified_since`` at the last update time read instead of counting
pages, so rows that change while the run pages cannot shift others out of view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate
from urllib3.util.retry import Retry

from connectors.client import retry_policy, retrying_session
from connectors.sync import Chunk, SourceError

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class LandSettingsSchema(ma.Schema):
    """``[source]`` of a land connector."""

    url = fields.URL(require_tld=False, required=True, schemes={"http", "https"})
    page_size = fields.Integer(load_default=500, validate=validate.Range(1, 1000))
    lookback_seconds = fields.Integer(load_default=300, validate=validate.Range(min=0))
    updated_field = fields.String(load_default="更新时间")
    timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    retries = fields.Integer(load_default=2, validate=validate.Range(0, 10))


class LandSource:
    """Parcels changed since the saved mark, in update-time order."""

    def __init__(
        self, settings: Mapping[str, Any], key_field: str, retry: Retry | None = None
    ) -> None:
        self.url = str(settings["url"]).rstrip("/")
        self.page_size: int = settings["page_size"]
        self.lookback = dt.timedelta(seconds=settings["lookback_seconds"])
        self.updated_field: str = settings["updated_field"]
        self.timeout: float = settings["timeout"]
        self.key_field = key_field
        self.http = retrying_session(retry or retry_policy(settings["retries"], backoff=0.2))
        self.total: int | None = None
        self.notes: list[str] = []

    def chunks(self, state: Mapping[str, Any]) -> Iterator[Chunk]:
        """One chunk per page, each with the mark and boundary to save once it is published."""
        mark: str | None = state.get("mark")
        seen: dict[str, list[str]] = dict(state.get("seen", {}))
        since = self._minus_lookback(mark) if mark else None
        page = 1
        while True:
            body = self._page(since, page)
            rows: list[dict[str, Any]] = body["records"]
            if self.total is None:
                self.total = int(body["total"])
            if not rows:
                return
            fresh = []
            for row in rows:
                key, updated = str(row.get(self.key_field)), self._updated(row)
                fingerprint = _fingerprint(row)
                if seen.get(key, [None, None])[1] != fingerprint:
                    fresh.append(row)
                    seen[key] = [updated, fingerprint]
            last = self._updated(rows[-1])
            mark = max(mark or last, last)
            floor = self._minus_lookback(mark)
            seen = {key: entry for key, entry in seen.items() if entry[0] >= floor}
            yield Chunk(fresh, {"mark": mark, "seen": seen})
            if len(rows) < self.page_size:
                return
            # a page all stamped with the anchor itself: only then page on by number
            if last == since:
                page += 1
            else:
                since, page = last, 1

    def _page(self, since: str | None, page: int) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "page_size": self.page_size}
        if since:
            params["modified_since"] = since
        response = self.http.get(f"{self.url}/api/v1/parcels", params=params, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"land system answered {response.status_code}, not JSON") from None
        if response.status_code != 200 or body.get("code") != 0:
            message = body.get("msg") or body.get("error") if isinstance(body, dict) else None
            raise SourceError(f"land system answered {response.status_code}: {message}")
        data: dict[str, Any] = body["data"]
        return data

    def _updated(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.updated_field)
        try:
            dt.datetime.strptime(str(value), TIME_FORMAT)
        except ValueError:
            raise SourceError(
                f"row {row.get(self.key_field)!r} has no readable {self.updated_field}: {value!r}"
            ) from None
        return str(value)

    def _minus_lookback(self, mark: str) -> str:
        return (dt.datetime.strptime(mark, TIME_FORMAT) - self.lookback).strftime(TIME_FORMAT)


def _fingerprint(row: Mapping[str, Any]) -> str:
    text = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
