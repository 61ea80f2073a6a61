"""The land-supply system: a REST API paged by page number, filtered by ``modified_since``.

Rows carry an update time to the second. A row can commit after rows stamped later than it,
so each run starts a look-back window before the saved mark; rows already sent with the same
content (kept by key and fingerprint for the window) are skipped, so the boundary is sent
once. Paging re-anchors ``modified_since`` at the last update time read instead of counting
pages, so rows that change while the run pages cannot shift others out of view. Only a page
entirely within one second is paged by number; such a group is read again until a pass over
it finds nothing new, because a row edited meanwhile shifts the others back.
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
from connectors.engine import Chunk, SourceError

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
        page, group_fresh = 1, False
        while True:
            body = self._page(since, page)
            rows: list[dict[str, Any]] = body["records"]
            if self.total is None:
                self.total = body["total"]
            placed, refused = self._placed(rows, since)
            # a new dict per page: the last checkpoint handed out must stay as it was
            seen = dict(seen)
            fresh = [row for row, updated in placed if _is_new(row, updated, seen, self.key_field)]
            if placed:
                mark = max(mark or placed[-1][1], placed[-1][1])
                floor = self._minus_lookback(mark)
                seen = {key: entry for key, entry in seen.items() if entry[0] >= floor}
            checkpoint = {"mark": mark, "seen": seen} if mark else None
            yield Chunk(fresh, checkpoint, refused=refused, position=mark)
            full = len(rows) == self.page_size
            last = placed[-1][1] if placed else since
            pass_fresh = group_fresh or bool(fresh)
            if full and last == since:
                # a page all stamped with the anchor itself: only then page on by number
                group_fresh, page = pass_fresh, page + 1
                continue
            if page > 1 and pass_fresh:
                # A row of the group edited during the pass moved to the end and shifted the
                # rest back by one, past a page already read: read the group again, until a
                # pass finds nothing new.
                group_fresh, page = False, 1
                continue
            if not full:
                return
            since, page, group_fresh = last, 1, False

    def _page(self, since: str | None, page: int) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "page_size": self.page_size}
        if since:
            params["modified_since"] = since
        response = self.http.get(f"{self.url}/api/v1/parcels", params=params, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"land system answered {response.status_code}, not JSON") from None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("code") != 0:
            message = (body.get("msg") or body.get("error")) if isinstance(body, dict) else body
            raise SourceError(f"land system answered {response.status_code}: {message!r:.300}")
        data = body.get("data")
        if not (
            isinstance(data, dict)
            and isinstance(data.get("records"), list)
            and all(isinstance(row, dict) for row in data["records"])
            and isinstance(data.get("total"), int)
        ):
            raise SourceError("land system answered a page without data.records and data.total")
        return data

    def _placed(
        self, rows: list[dict[str, Any]], since: str | None
    ) -> tuple[list[tuple[dict[str, Any], str]], list[tuple[dict[str, Any], str]]]:
        """Rows with their update time, in order, and rows whose update time is unreadable.

        A source that does not sort by update time would make the anchor skip rows, so that
        stops the run.
        """
        placed, refused = [], []
        previous = since or ""
        for row in rows:
            value = row.get(self.updated_field)
            try:
                updated = dt.datetime.strptime(str(value), TIME_FORMAT).strftime(TIME_FORMAT)
            except ValueError:
                refused.append((row, f"unreadable {self.updated_field}: {value!r}"))
                continue
            if updated < previous:
                raise SourceError(
                    f"the land system's rows are not in {self.updated_field} order: "
                    f"{row.get(self.key_field)!r} at {updated} after {previous}"
                )
            placed.append((row, updated))
            previous = updated
        return placed, refused

    def _minus_lookback(self, mark: str) -> str:
        return (dt.datetime.strptime(mark, TIME_FORMAT) - self.lookback).strftime(TIME_FORMAT)


def _is_new(
    row: Mapping[str, Any], updated: str, seen: dict[str, list[str]], key_field: str
) -> bool:
    """Whether ``row`` differs from what was sent under its key; if so, remember it as sent."""
    key, fingerprint = str(row.get(key_field)), _fingerprint(row)
    if seen.get(key, [None, None])[1] == fingerprint:
        return False
    seen[key] = [updated, fingerprint]
    return True


def _fingerprint(row: Mapping[str, Any]) -> str:
    text = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
