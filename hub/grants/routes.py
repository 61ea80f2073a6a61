"""Grants: apply for another department's conditional fields; approve, refuse, revoke."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "grants", __name__, url_prefix="/api/v1/grants", description="Access to conditional fields."
)
