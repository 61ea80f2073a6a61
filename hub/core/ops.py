"""Operational endpoints for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from flask import Blueprint, Response
from sqlalchemy.exc import SQLAlchemyError

from hub.core import metrics
from hub.core.extensions import db
from hub.core.migrate import head_revision

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """The database answers and its schema is the one this code expects."""
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError:
        return {"status": "unavailable", "database": "unreachable"}, 503
    expected = head_revision()
    if current != expected:
        detail = {"status": "unavailable", "database": "not migrated"}
        return {**detail, "schema": current, "expected": expected}, 503
    return {"status": "ok", "schema": current}, 200


@bp.get("/metrics")
def metrics_text() -> Response:
    """Prometheus metrics: events appended, deliveries, delivery latency, subscription lag."""
    return metrics.exposition()
