"""How run reports look on the wire: the report, the stored run, and the administrators' view."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.connector_runs.models import ConnectorRun
from hub.connector_runs.service import (
    COUNTERS,
    REPORTED_STATUSES,
    STATUSES,
    ConnectorRuns,
    RunReport,
)
from hub.core.pagination import MAX_ID
from hub.core.wire import NOT_BLANK, UtcDateTime, not_blank
from schemas.base import UNSTORABLE_TEXT

MAX_ERROR = 2000
MAX_CURSOR = 500
MAX_DETAILS_BYTES = 16 * 1024
MAX_RECENT_RUNS = 50
DEFAULT_RECENT_RUNS = 5


def _storable(value: str) -> None:
    """Text every database stores: no NUL, no unpaired surrogates."""
    if UNSTORABLE_TEXT.search(value):
        raise ma.ValidationError("Must not contain NUL characters or unpaired surrogates.")


def _storable_document(document: Any) -> None:
    """A JSON object every database stores as sent, within MAX_DETAILS_BYTES serialised."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            _storable(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ma.ValidationError("Numbers must be finite.")
        elif isinstance(value, int) and not -MAX_ID - 1 <= value <= MAX_ID:
            raise ma.ValidationError("Integers must fit in 64 bits.")
    size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_DETAILS_BYTES:
        raise ma.ValidationError(
            f"At most {MAX_DETAILS_BYTES} bytes as compact JSON, not {size}; "
            "keep details small (file names, not file contents)."
        )


def _counter(description: str) -> fields.Integer:
    return fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(0, MAX_ID),
        metadata={"description": description},
    )


class RunReportSchema(ma.Schema):
    """A connector's report of one sync run; reporting the same ``run_id`` again replaces it."""

    run_id = fields.UUID(
        required=True,
        metadata={"description": "The connector's own id of the run; the same on each report."},
    )
    status = fields.String(required=True, validate=validate.OneOf(REPORTED_STATUSES))
    started_at = UtcDateTime(required=True, metadata={"description": "ISO 8601 with offset."})
    finished_at = UtcDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "Required once the run has succeeded or failed."},
    )
    read = _counter("Rows read from the external system.")
    published = _counter("Records the hub created or changed.")
    unchanged = _counter("Records the hub already held as sent.")
    deleted = _counter("Records deleted in the hub.")
    rejected = _counter("Rows refused (quarantined) by the connector or the hub.")
    error = fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=MAX_ERROR), not_blank, _storable],
        metadata={"description": "Why the run failed; required when it did.", **NOT_BLANK},
    )
    cursor = fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=MAX_CURSOR), _storable],
        metadata={"description": "The connector's saved position, for the operator."},
    )
    details = fields.Dict(
        keys=fields.String(),
        allow_none=True,
        load_default=None,
        validate=_storable_document,
        metadata={"description": f"A small JSON object (at most {MAX_DETAILS_BYTES} bytes)."},
    )

    @ma.validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        status, started, finished = data["status"], data["started_at"], data["finished_at"]
        errors: dict[str, list[str]] = {}
        if status == "running" and finished is not None:
            errors["finished_at"] = ["Must be absent while the run is running."]
        elif status != "running" and finished is None:
            errors["finished_at"] = [f"Required when the run has {status}."]
        elif finished is not None and finished < started:
            errors["finished_at"] = ["Must not be before started_at."]
        if status == "failed" and data["error"] is None:
            errors["error"] = ["Required when the run has failed: say why."]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _report(self, data: dict[str, Any], **kwargs: Any) -> RunReport:
        return RunReport(**{**data, "run_id": str(data["run_id"])})


class RunSummarySchema(ma.Schema):
    """A run in a connector's recent history: its outcome and its counts."""

    run_id = fields.String()
    status = fields.String(
        metadata={
            "description": "running, succeeded or failed; abandoned when the connector began "
            "another run while this one still said running (its process ended)."
        }
    )
    started_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    read = fields.Integer()
    published = fields.Integer()
    unchanged = fields.Integer()
    deleted = fields.Integer()
    rejected = fields.Integer()


class RunOutSchema(RunSummarySchema):
    """A run as last reported, with its connector, the connector's department and when."""

    connector = fields.String()
    department = fields.String()
    error = fields.String(allow_none=True)
    cursor = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    reported_at = fields.AwareDateTime(metadata={"description": "When the hub last heard of it."})


class RunPageSchema(ma.Schema):
    """A page of a connector's runs, newest first."""

    items = fields.List(fields.Nested(RunOutSchema))
    next_cursor = fields.String(allow_none=True)


class StatusCountsSchema(ma.Schema):
    """How many of the recent runs are in each status."""

    running = fields.Integer()
    succeeded = fields.Integer()
    failed = fields.Integer()


class ConnectorOutSchema(ma.Schema):
    """A connector: its department, when it reported, its latest run and recent history."""

    name = fields.String()
    department = fields.String()
    first_reported_at = fields.AwareDateTime()
    last_reported_at = fields.AwareDateTime()
    latest_run = fields.Nested(RunOutSchema, allow_none=True)
    recent_runs = fields.List(
        fields.Nested(RunSummarySchema),
        metadata={"description": "The latest runs (as many as ?runs= asks), newest first."},
    )
    recent_counts = fields.Nested(StatusCountsSchema)


class ConnectorListSchema(ma.Schema):
    """Every connector, by name."""

    items = fields.List(fields.Nested(ConnectorOutSchema))


class ConnectorListQuerySchema(ma.Schema):
    """How much recent history each connector is shown with."""

    runs = fields.Integer(
        load_default=DEFAULT_RECENT_RUNS,
        validate=validate.Range(1, MAX_RECENT_RUNS),
        metadata={"description": f"Latest runs per connector (default {DEFAULT_RECENT_RUNS})."},
    )


def run_out(run: ConnectorRun, department: str) -> dict[str, Any]:
    """The wire form of ``run``, a run of a connector of ``department``."""
    return {
        "connector": run.connector,
        "department": department,
        "run_id": run.run_id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        **{counter: getattr(run, counter) for counter in COUNTERS},
        "error": run.error,
        "cursor": run.cursor,
        "details": run.details,
        "reported_at": run.reported_at,
    }


def connector_out(recent: ConnectorRuns) -> dict[str, Any]:
    """The wire form of a connector with its recent runs."""
    connector, runs = recent.connector, recent.runs
    statuses = Counter(run.status for run in runs)
    return {
        "name": connector.name,
        "department": connector.department_id,
        "first_reported_at": connector.first_reported_at,
        "last_reported_at": connector.last_reported_at,
        "latest_run": run_out(runs[0], connector.department_id) if runs else None,
        "recent_runs": runs,
        "recent_counts": {status: statuses[status] for status in STATUSES},
    }
