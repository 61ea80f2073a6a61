"""Who is calling: the identity behind a request's token, and the scope checks on views."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from hub.errors import Unauthorized


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the key, its department, its scopes and publishing rights."""

    key_id: str
    department_id: str
    scopes: frozenset[str]
    publishes: frozenset[str]

    def may_publish(self, record_type: str) -> bool:
        """Whether the caller's department may publish ``record_type``."""
        return record_type in self.publishes


def bearer_credential() -> str:
    """The credential of the ``Authorization: Bearer`` header, or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'.")
    return credential.strip()


def current_identity() -> Identity:
    """The identity of the current request (set by ``hub.auth.guard.require_scope``)."""
    identity: Identity = g.identity
    return identity
