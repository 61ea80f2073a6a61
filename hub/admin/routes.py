"""Administration: departments and access keys (``admin`` scope).

Changes to a department or key take effect from the next request of the department or key:
every request re-reads the key's state and its department's rights (hub.auth.service).
Responses that carry a new secret are marked ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from hub.admin.schemas import (
    DepartmentInSchema,
    DepartmentListSchema,
    DepartmentOutSchema,
    DepartmentPatchSchema,
    KeyInSchema,
    KeyListQuerySchema,
    KeyListSchema,
    KeyOutSchema,
    KeyPatchSchema,
    KeyRotateSchema,
    KeySecretSchema,
    describe_key,
)
from hub.auth import service as auth
from hub.auth.guard import audited, require_scope
from hub.auth.identity import current_identity
from hub.auth.models import Department
from hub.core.errors import NotFound, Unprocessable
from hub.core.extensions import db

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="Departments and access keys."
)

NO_STORE = {"Cache-Control": "no-store"}


# Departments


@blp.route("/departments", methods=["POST"])
@audited(auth.DEPARTMENT_CREATE)
@require_scope("admin")
@blp.arguments(DepartmentInSchema)
@blp.response(201, DepartmentOutSchema)
@blp.alt_response(409, description="A department with this id exists.")
def create_department(body: dict[str, Any]) -> Department:
    """Register a department and the record types it may publish."""
    return auth.add_department(
        db.session, current_identity().actor, body["id"], body["name"], body["publishes"]
    )


@blp.route("/departments", methods=["GET"])
@require_scope("admin")
@blp.response(200, DepartmentListSchema)
def list_departments() -> dict[str, Any]:
    """Every department, by id."""
    return {"items": auth.list_departments(db.session)}


@blp.route("/departments/<string:department_id>", methods=["GET"])
@require_scope("admin")
@blp.response(200, DepartmentOutSchema)
def get_department(department_id: str) -> Department:
    """One department."""
    return auth.get_department(db.session, department_id)


@blp.route("/departments/<string:department_id>", methods=["PATCH"])
@audited(auth.DEPARTMENT_UPDATE, "department/{department_id}")
@require_scope("admin")
@blp.arguments(DepartmentPatchSchema)
@blp.response(200, DepartmentOutSchema)
@blp.alt_response(409, description="Disabling it would leave no usable admin key.")
def update_department(body: dict[str, Any], department_id: str) -> Department:
    """Rename, change what it may publish, disable or re-enable; applies from its next request."""
    return auth.update_department(db.session, current_identity().actor, department_id, **body)


# Access keys


@blp.route("/keys", methods=["POST"])
@audited(auth.KEY_CREATE)
@require_scope("admin")
@blp.arguments(KeyInSchema)
@blp.response(201, KeySecretSchema, description="The key, with its secret: shown only here.")
def create_key(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create an access key for a department; the response holds its only copy of the secret."""
    try:
        key, secret = auth.create_key(
            db.session,
            current_identity().actor,
            body["department"],
            body["scopes"],
            body["name"],
            body["expires_at"],
        )
    except NotFound as exc:
        # The department is named in the body: it is a field to correct, not a missing URL.
        raise Unprocessable(exc.detail, errors={"department": [exc.detail]}) from exc
    return describe_key(key, secret), 201, NO_STORE


@blp.route("/keys", methods=["GET"])
@require_scope("admin")
@blp.arguments(KeyListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, KeyListSchema)
def list_keys(department: str | None = None) -> dict[str, Any]:
    """Access keys, newest first, without secrets; ``?department=`` narrows to one."""
    return {"items": [describe_key(key) for key in auth.list_keys(db.session, department)]}


@blp.route("/keys/<string:key_id>", methods=["GET"])
@require_scope("admin")
@blp.response(200, KeyOutSchema)
def get_key(key_id: str) -> dict[str, Any]:
    """One access key, without its secret."""
    return describe_key(auth.get_key(db.session, key_id))


@blp.route("/keys/<string:key_id>/rotate", methods=["POST"])
@audited(auth.KEY_ROTATE, "key/{key_id}")
@require_scope("admin")
@blp.arguments(KeyRotateSchema, required=False)
@blp.response(200, KeySecretSchema, description="The key, with its new secret: shown only here.")
@blp.alt_response(409, description="The key is revoked, expired or its department disabled.")
def rotate_key(body: dict[str, Any], key_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Give a key a new secret; the old one and its tokens work for ``grace_seconds`` more."""
    grace = body.get("grace_seconds", current_app.config["KEY_ROTATION_GRACE"])
    key, secret = auth.rotate_key(db.session, current_identity().actor, key_id, grace)
    return describe_key(key, secret), 200, NO_STORE


@blp.route("/keys/<string:key_id>", methods=["PATCH"])
@audited(auth.KEY_EXPIRE, "key/{key_id}")
@require_scope("admin")
@blp.arguments(KeyPatchSchema)
@blp.response(200, KeyOutSchema)
@blp.alt_response(409, description="The key is revoked.")
def expire_key(body: dict[str, Any], key_id: str) -> dict[str, Any]:
    """Set when a key stops working (a past or present moment ends it now), or clear it."""
    actor = current_identity().actor
    return describe_key(auth.expire_key(db.session, actor, key_id, body["expires_at"]))


@blp.route("/keys/<string:key_id>", methods=["DELETE"])
@audited(auth.KEY_REVOKE, "key/{key_id}")
@require_scope("admin")
@blp.response(200, KeyOutSchema, description="Revoked (revoking again changes nothing).")
@blp.alt_response(409, description="It is the last usable key with the admin scope.")
def revoke_key(key_id: str) -> dict[str, Any]:
    """Revoke a key: it and every token issued from it are refused from the next request."""
    return describe_key(auth.revoke_key(db.session, current_identity().actor, key_id))
