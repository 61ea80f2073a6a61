"""Administration: departments and access keys (``admin`` scope)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="Departments and access keys."
)
