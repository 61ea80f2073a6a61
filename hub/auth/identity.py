"""Who is calling: the identity behind a request's token, as services see it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from hub.audit.entries import Actor
from hub.core.errors import Unauthorized


def key_actor(key_id: str, department_id: str | None) -> Actor:
    """The actor of an access key (and of the tokens issued from it)."""
    return Actor(f"key:{key_id}", department_id=department_id, key_id=key_id)


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: its department, scopes and publishing rights, and who it is
    to the audit log (an access key, or a person in the console).

    ``key_id`` names the access key behind an API caller; it is what versions and grants
    record as written or decided by.
    """

    key_id: str
    department_id: str
    scopes: frozenset[str]
    publishes: frozenset[str]
    actor: Actor

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
