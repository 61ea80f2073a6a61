"""How tokens look on the wire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class TokenOutSchema(ma.Schema):
    """A bearer token issued for an access key."""

    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer(metadata={"description": "Seconds until the token expires."})
