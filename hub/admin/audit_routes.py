"""The audit log, read by administrators."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hub.admin.audit_schemas import AuditPageSchema, AuditQuerySchema
from hub.audit import entries as service
from hub.auth.guard import require_scope
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor, page_limit

blp = Blueprint("audit", __name__, url_prefix="/api/v1/admin", description="The audit log.")


@blp.route("/audit", methods=["GET"])
@require_scope("admin")
@blp.arguments(AuditQuerySchema, location="query", as_kwargs=True)
@blp.response(200, AuditPageSchema)
def list_audit(**query: Any) -> dict[str, Any]:
    """Audit entries, newest first, filtered by department, action, target and time."""
    where = service.AuditFilter(
        department_id=query.get("department"),
        action=query.get("action"),
        target=query.get("target"),
        since=query.get("since"),
        until=query.get("until"),
    )
    entries, next_before = service.list_entries(
        db.session, where, page_limit(query), before_id(query)
    )
    return {"items": entries, "next_cursor": id_cursor(next_before)}
