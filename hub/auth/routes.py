"""The token exchange: an access key in, a short-lived bearer token out."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from hub.audit.entries import Actor
from hub.auth import service
from hub.auth.guard import audited
from hub.auth.identity import bearer_credential
from hub.auth.schemas import TokenOutSchema
from hub.core import ratelimit
from hub.core.extensions import db

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Access tokens.")


@blp.route("/token", methods=["POST"])
@audited(service.TOKEN_EXCHANGE)
@blp.doc(security=[{"accessKey": []}])
@blp.response(200, TokenOutSchema)
def token() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Exchange ``Authorization: Bearer <access key>`` for a JWT."""
    # Every attempt counts, failed or not, before the key is looked at: guessing is slowed.
    ratelimit.limiter.check_address(request.remote_addr or "unknown")
    via = Actor("anonymous").over(request.method, request.path, request.remote_addr)
    access_token, expires_in = service.exchange_token(
        db.session, bearer_credential(), current_app.config, via
    )
    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}
    return body, 200, {"Cache-Control": "no-store"}
