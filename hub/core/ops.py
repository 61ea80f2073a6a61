"""Operational endpoints for load balancers and orchestrators."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from hub.core import metrics
from hub.core.errors import Unauthorized
from hub.core.extensions import db
from hub.core.migrate import current_revision, head_revision

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """The database answers and its schema is the one this code expects."""
    try:
        current = current_revision(db.engine)
    except SQLAlchemyError:
        return {"status": "unavailable", "database": "unreachable"}, 503
    expected = head_revision()
    if current != expected:
        detail = {"status": "unavailable", "database": "not migrated"}
        return {**detail, "schema": current, "expected": expected}, 503
    return {"status": "ok", "schema": current}, 200


@bp.get("/metrics")
def metrics_text() -> Response:
    """Prometheus metrics: events appended, deliveries, delivery latency, subscription lag.

    With METRICS_TOKEN set, a scrape must send ``Authorization: Bearer <METRICS_TOKEN>``.
    """
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            raise Unauthorized("Send 'Authorization: Bearer <METRICS_TOKEN>' to scrape /metrics.")
    return metrics.exposition()
