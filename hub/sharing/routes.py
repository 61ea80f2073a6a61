"""Grants: apply for another department's conditional fields; approve, refuse, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, url_for
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.auth.identity import Identity, current_identity
from hub.core.db import utcnow
from hub.core.errors import Forbidden
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor, page_limit
from hub.sharing import grants as service
from hub.sharing.models import Grant
from hub.sharing.schemas import (
    ApproveInSchema,
    GrantInSchema,
    GrantOutSchema,
    GrantPageSchema,
    GrantQuerySchema,
    RefuseInSchema,
    grant_out,
)

blp = Blueprint(
    "grants", __name__, url_prefix="/api/v1/grants", description="Access to conditional fields."
)

GRANT_URL = "/<int:grant_id>"
# Reading grants: the parties with the grants scope, and administrators, who see every grant.
READ_SCOPES = frozenset({"grants", "admin"})


def _grant_reader() -> tuple[Identity, bool]:
    """The caller and whether it sees every grant; 403 without a scope that reads grants."""
    identity = current_identity()
    if not identity.scopes & READ_SCOPES:
        raise Forbidden("Reading grants needs the 'grants' or the 'admin' scope.")
    return identity, "admin" in identity.scopes


def _decided(grant_id: int) -> Grant:
    """The grant ``grant_id`` locked for a decision by one of its parties."""
    return service.get_grant(db.session, current_identity(), grant_id, lock=True)


@blp.route("", methods=["POST"])
@audited(service.APPLY)
@require_scope("grants")
@blp.arguments(GrantInSchema)
@blp.response(201, GrantOutSchema)
def apply(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Apply, for the caller's department, for another department's conditional fields."""
    grant = service.apply(
        db.session,
        current_identity(),
        type_name=body["type"],
        fields=body["fields_"],
        purpose=body["purpose"],
        owner=body.get("owner"),
        response_days=current_app.config["GRANT_RESPONSE_DAYS"],
    )
    location = url_for("grants.get_grant", grant_id=grant.id)
    return grant_out(grant, utcnow()), 201, {"Location": location}


@blp.route("", methods=["GET"])
@require_scope(None)
@blp.arguments(GrantQuerySchema, location="query", as_kwargs=True)
@blp.response(200, GrantPageSchema)
def list_grants(**query: Any) -> dict[str, Any]:
    """Grants the caller's department applied for or owns (administrators: all), newest first."""
    identity, see_all = _grant_reader()
    grants, next_before = service.list_grants(
        db.session,
        identity,
        see_all=see_all,
        limit=page_limit(query),
        before_id=before_id(query),
        status=query.get("status"),
        role=query.get("role"),
        type_name=query.get("type"),
    )
    now = utcnow()
    return {
        "items": [grant_out(grant, now) for grant in grants],
        "next_cursor": id_cursor(next_before),
    }


@blp.route(GRANT_URL, methods=["GET"])
@require_scope(None)
@blp.response(200, GrantOutSchema)
def get_grant(grant_id: int) -> dict[str, Any]:
    """One grant the caller's department is party to (administrators: any)."""
    identity, see_all = _grant_reader()
    grant = service.get_grant(db.session, identity, grant_id, see_all=see_all)
    return grant_out(grant, utcnow())


@blp.route(f"{GRANT_URL}/approve", methods=["POST"])
@audited(service.APPROVE, "grant/{grant_id}")
@require_scope("grants")
@blp.arguments(ApproveInSchema)
@blp.response(200, GrantOutSchema)
def approve(body: dict[str, datetime], grant_id: int) -> dict[str, Any]:
    """The owner approves a pending request until ``expires_at``."""
    grant = service.approve(db.session, current_identity(), _decided(grant_id), body["expires_at"])
    return grant_out(grant, utcnow())


@blp.route(f"{GRANT_URL}/refuse", methods=["POST"])
@audited(service.REFUSE, "grant/{grant_id}")
@require_scope("grants")
@blp.arguments(RefuseInSchema)
@blp.response(200, GrantOutSchema)
def refuse(body: dict[str, str], grant_id: int) -> dict[str, Any]:
    """The owner refuses a pending request; the reason is required."""
    grant = service.refuse(db.session, current_identity(), _decided(grant_id), body["reason"])
    return grant_out(grant, utcnow())


@blp.route(GRANT_URL, methods=["DELETE"])
@audited(service.REVOKE, "grant/{grant_id}")
@require_scope("grants")
@blp.response(200, GrantOutSchema)
def revoke(grant_id: int) -> dict[str, Any]:
    """The owner revokes an active grant; the applicant withdraws a pending request."""
    grant = service.revoke(db.session, current_identity(), _decided(grant_id))
    return grant_out(grant, utcnow())
