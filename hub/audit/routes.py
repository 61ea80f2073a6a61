"""The audit log, read by administrators."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from hub.audit import service
from hub.audit.schemas import AuditCursorSchema, AuditPageSchema, AuditQuerySchema
from hub.auth.guard import require_scope
from hub.extensions import db
from hub.pagination import decode_cursor, encode_cursor

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin", description="The audit log.")


@blp.route("/audit", methods=["GET"])
@require_scope("admin")
@blp.arguments(AuditQuerySchema, location="query", as_kwargs=True)
@blp.response(200, AuditPageSchema)
def list_audit(**query: Any) -> dict[str, Any]:
    """Audit entries, newest first, filtered by department, action, target and time."""
    before = None
    if query.get("cursor"):
        before = decode_cursor(query["cursor"], AuditCursorSchema())["i"]
    where = service.AuditFilter(
        department_id=query.get("department"),
        action=query.get("action"),
        target=query.get("target"),
        since=query.get("since"),
        until=query.get("until"),
    )
    limit = query.get("limit") or current_app.config["PAGE_SIZE_DEFAULT"]
    entries, next_before = service.list_entries(db.session, where, limit, before)
    next_cursor = encode_cursor({"i": next_before}) if next_before is not None else None
    return {"items": entries, "next_cursor": next_cursor}
