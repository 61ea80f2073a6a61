"""How console users look on the wire; password hashes and invitation digests never do."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from hub.users.service import MAX_PASSWORD_LENGTH, ROLES

_NAME = fields.String(validate=validate.Length(1, 200))


class UserInSchema(ma.Schema):
    """A user to create: with a password, or without one to be sent an invitation."""

    username = fields.String(required=True, validate=validate.Length(1, 64))
    department = fields.String(required=True, validate=validate.Length(1, 64))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = _NAME
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=MAX_PASSWORD_LENGTH),
        metadata={"description": "Omit to get a one-time link that lets the person set one."},
    )


class UserPatchSchema(ma.Schema):
    """Changes to a user; each applies from their next request."""

    display_name = _NAME
    department = fields.String(validate=validate.Length(1, 64))
    role = fields.String(validate=validate.OneOf(ROLES))
    disabled = fields.Boolean(metadata={"description": "true signs them out and keeps them out."})

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Send at least one field to change.")


class PasswordResetSchema(ma.Schema):
    """A new password, or nothing for a one-time link to set one."""

    password = fields.String(load_only=True, validate=validate.Length(max=MAX_PASSWORD_LENGTH))


class UserListQuerySchema(ma.Schema):
    """Narrow the user list to one department."""

    department = fields.String(validate=validate.Length(1, 64))


class UserOutSchema(ma.Schema):
    """A console user."""

    username = fields.String()
    display_name = fields.String()
    department = fields.String(attribute="department_id")
    role = fields.String()
    disabled = fields.Function(lambda user: user.disabled_at is not None)
    has_password = fields.Function(lambda user: user.password_hash is not None)
    single_sign_on = fields.Function(lambda user: user.oidc_subject is not None)
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
