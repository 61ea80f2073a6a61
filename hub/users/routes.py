"""Console users, managed by administrators over the API (``admin`` scope)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.auth.identity import current_identity
from hub.core.extensions import db
from hub.users import service
from hub.users.schemas import (
    InviteSchema,
    PasswordResetSchema,
    UserInSchema,
    UserInvitedSchema,
    UserListQuerySchema,
    UserListSchema,
    UserOutSchema,
    UserPatchSchema,
    user_out,
)

blp = Blueprint(
    "users", __name__, url_prefix="/api/v1/admin/users", description="People who use the console."
)
NO_STORE = {"Cache-Control": "no-store"}
ONE = "/<string:username>"
TARGET = "user/{username}"


def _link(token: str | None) -> str | None:
    return service.invite_link(current_app.config, token) if token is not None else None


@blp.route("", methods=["POST"])
@audited(service.CREATE)
@require_scope("admin")
@blp.arguments(UserInSchema)
@blp.response(201, UserInvitedSchema, description="With the invitation link: shown only here.")
@blp.alt_response(409, description="A user with this username exists.")
def create_user(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a console user with a password, or with a one-time link to set one."""
    user, token = service.add_user(
        db.session,
        current_identity().actor,
        body["username"],
        body["department"],
        body["role"],
        current_app.config,
        display_name=body.get("display_name", ""),
        password=body.get("password"),
    )
    return {**user_out(user), "invite_link": _link(token)}, 201, NO_STORE


@blp.route("", methods=["GET"])
@require_scope("admin")
@blp.arguments(UserListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, UserListSchema)
def list_users(department: str | None = None) -> dict[str, Any]:
    """Console users by username; ``?department=`` narrows to one department."""
    return {"items": [user_out(user) for user in service.list_users(db.session, department)]}


@blp.route(ONE, methods=["GET"])
@require_scope("admin")
@blp.response(200, UserOutSchema)
def get_user(username: str) -> dict[str, Any]:
    """One console user."""
    return user_out(service.get_user(db.session, username))


@blp.route(ONE, methods=["PATCH"])
@audited(service.UPDATE, TARGET)
@require_scope("admin")
@blp.arguments(UserPatchSchema)
@blp.response(200, UserOutSchema)
def update_user(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Rename, move, change the role of, disable or re-enable a user."""
    user = service.update_user(
        db.session,
        current_identity().actor,
        username,
        display_name=body.get("display_name"),
        department_id=body.get("department"),
        role=body.get("role"),
        disabled=body.get("disabled"),
    )
    return user_out(user)


@blp.route(f"{ONE}/reset-password", methods=["POST"])
@audited(service.RESET_PASSWORD, TARGET)
@require_scope("admin")
@blp.arguments(PasswordResetSchema, required=False)
@blp.response(200, InviteSchema, description="With the invitation link: shown only here.")
def reset_password(
    body: dict[str, Any], username: str
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Set a user's password, or clear it and get a one-time link for them to set one."""
    token = service.reset_password(
        db.session, current_identity().actor, username, current_app.config, body.get("password")
    )
    return {"invite_link": _link(token)}, 200, NO_STORE
