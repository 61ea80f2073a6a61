"""Connector run reports: connectors report their sync runs; administrators see the latest."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.auth.identity import current_identity
from hub.connector_runs import service
from hub.connector_runs.models import Connector
from hub.connector_runs.schemas import (
    ConnectorListQuerySchema,
    ConnectorListSchema,
    RunOutSchema,
    RunPageSchema,
    RunReportSchema,
    connector_out,
    run_out,
)
from hub.core.extensions import db
from hub.core.wire import PageQuerySchema, before_id, id_cursor, page_limit

blp = Blueprint(
    "connectors", __name__, url_prefix="/api/v1", description="Connectors' sync run reports."
)

RUNS_URL = "/connectors/<string:name>/runs"


def _run_page(connector: Connector, query: dict[str, Any]) -> dict[str, Any]:
    runs, next_before = service.list_runs(
        db.session, connector, page_limit(query), before_id(query)
    )
    return {
        "items": [run_out(run, connector.department_id) for run in runs],
        "next_cursor": id_cursor(next_before),
    }


@blp.route(RUNS_URL, methods=["POST"])
@audited(service.REPORT, "connector/{name}")
@require_scope("records:write")
@blp.arguments(RunReportSchema)
@blp.response(200, RunOutSchema, description="A run already reported, updated.")
@blp.alt_response(201, schema=RunOutSchema, description="The first report of this run.")
@blp.alt_response(403, description="Another department owns this connector name.")
@blp.alt_response(409, description="The run has finished; it cannot go back to running.")
def report_run(report: service.RunReport, name: str) -> tuple[dict[str, Any], int]:
    """Report a sync run: when it starts, as it goes and when it ends, under one ``run_id``."""
    identity = current_identity()
    run, created = service.report_run(db.session, identity, name, report)
    return run_out(run, identity.department_id), 201 if created else 200


@blp.route(RUNS_URL, methods=["GET"])
@require_scope("records:write")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, RunPageSchema)
def list_own_runs(name: str, **query: Any) -> dict[str, Any]:
    """The runs of a connector of the caller's department, newest first."""
    return _run_page(service.owned_connector(db.session, current_identity(), name), query)


@blp.route("/admin/connectors", methods=["GET"])
@require_scope("admin")
@blp.arguments(ConnectorListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, ConnectorListSchema)
def list_connectors(runs: int) -> dict[str, Any]:
    """Every connector, by name, with its department, latest run and recent runs."""
    recent = service.latest_runs(db.session, runs)
    return {"items": [connector_out(connector) for connector in recent]}


@blp.route("/admin/connectors/<string:name>/runs", methods=["GET"])
@require_scope("admin")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, RunPageSchema)
def list_runs(name: str, **query: Any) -> dict[str, Any]:
    """Every run of one connector, newest first."""
    return _run_page(service.get_connector(db.session, name), query)
