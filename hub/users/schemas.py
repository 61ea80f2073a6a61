"""How console users look on the wire; password hashes and invitation digests never do."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.auth.service import DEPARTMENT_ID_PATTERN
from hub.core.openapi import schema_keywords
from hub.users.models import User
from hub.users.service import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLES,
    USERNAME_PATTERN,
    USERNAME_RULE,
)

_NAME = fields.String(validate=validate.Length(1, 200))
# the service checks these (to give its own messages); the document states them
_DEPARTMENT = {"pattern": DEPARTMENT_ID_PATTERN.pattern, "description": "A department id."}
_PASSWORD = {"minLength": MIN_PASSWORD_LENGTH}


class UserInSchema(ma.Schema):
    """A user to create: with a password, or without one to be sent an invitation."""

    username = fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={"pattern": USERNAME_PATTERN.pattern, "description": USERNAME_RULE},
    )
    department = fields.String(required=True, validate=validate.Length(1, 64), metadata=_DEPARTMENT)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = _NAME
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=MAX_PASSWORD_LENGTH),
        metadata={
            "description": "Omit to get a one-time link that lets the person set one.",
            **_PASSWORD,
        },
    )


@schema_keywords(minProperties=1)
class UserPatchSchema(ma.Schema):
    """Changes to a user; each applies from their next request."""

    display_name = _NAME
    department = fields.String(validate=validate.Length(1, 64), metadata=_DEPARTMENT)
    role = fields.String(validate=validate.OneOf(ROLES))
    disabled = fields.Boolean(metadata={"description": "true signs them out and keeps them out."})

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Send at least one field to change.")


class PasswordResetSchema(ma.Schema):
    """A new password, or nothing for a one-time link to set one."""

    password = fields.String(
        load_only=True, validate=validate.Length(max=MAX_PASSWORD_LENGTH), metadata=_PASSWORD
    )


class UserListQuerySchema(ma.Schema):
    """Narrow the user list to one department."""

    department = fields.String(validate=validate.Length(1, 64))


class UserOutSchema(ma.Schema):
    """A console user."""

    username = fields.String()
    display_name = fields.String()
    department = fields.String()
    role = fields.String()
    disabled = fields.Boolean()
    has_password = fields.Boolean()
    single_sign_on = fields.Boolean()
    created_at = fields.AwareDateTime()
    last_signed_in_at = fields.AwareDateTime(allow_none=True)
    invite_expires_at = fields.AwareDateTime(allow_none=True)


class UserInvitedSchema(UserOutSchema):
    """A user just created or reset, with the one-time link to set a password (if any)."""

    invite_link = fields.String(
        allow_none=True, metadata={"description": "Shown only here; valid for 24 hours."}
    )


class InviteSchema(ma.Schema):
    """The one-time link to set a password (null when a password was given)."""

    invite_link = fields.String(allow_none=True)


class UserListSchema(ma.Schema):
    """Users by username."""

    items = fields.List(fields.Nested(UserOutSchema))


def user_out(user: User) -> dict[str, Any]:
    """The wire form of ``user``."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department_id,
        "role": user.role,
        "disabled": user.disabled_at is not None,
        "has_password": user.password_hash is not None,
        "single_sign_on": user.oidc_subject is not None,
        "created_at": user.created_at,
        "last_signed_in_at": user.last_signed_in_at,
        "invite_expires_at": user.invite_expires_at,
    }
