"""Departments, access keys and tokens: what may happen to them.

An access key looks like ``hubk_<id>_<secret>``: the recognisable prefix lets secret scanners
find leaked keys, the id finds the row without scanning, and only the secret's digest is kept.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import jwt
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.auth.identity import Identity
from hub.auth.models import AccessKey, Department
from hub.db import utcnow
from hub.errors import Conflict, NotFound, Unauthorized, Unprocessable
from schemas import registry

SCOPES = ("records:read", "records:write", "events:read", "subscriptions", "grants", "admin")
KEY_PREFIX = "hubk_"
KEY_PATTERN = re.compile(r"^hubk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,})\Z")
DEPARTMENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}\Z")
TOKEN_ALGORITHM = "HS256"
TOKEN_LEEWAY_SECONDS = 10

_KEY_STATE = (
    select(
        AccessKey.id,
        AccessKey.department_id,
        AccessKey.scopes,
        AccessKey.revoked_at,
        AccessKey.expires_at,
        Department.publishes,
        Department.disabled_at,
    )
    .join(Department, Department.id == AccessKey.department_id)
    .where(AccessKey.id == bindparam("key_id"))
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_publishes(publishes: Iterable[str]) -> list[str]:
    types = registry()
    unknown = sorted(set(publishes) - set(types))
    if unknown:
        raise Unprocessable(
            f"Unknown record type(s): {', '.join(unknown)}.",
            errors={"publishes": [f"Not a record type: {name}." for name in unknown]},
        )
    return sorted(set(publishes))


def add_department(
    session: Session, department_id: str, name: str, publishes: Iterable[str]
) -> Department:
    """Register a department and the record types it may publish."""
    if not DEPARTMENT_ID_PATTERN.match(department_id):
        raise Unprocessable(
            "Invalid department id.",
            errors={"id": ["Lower-case letters, digits, '_' or '-', starting with a letter."]},
        )
    if session.get(Department, department_id) is not None:
        raise Conflict(f"Department '{department_id}' already exists.")
    department = Department(id=department_id, name=name, publishes=_check_publishes(publishes))
    session.add(department)
    session.flush()
    return department


def list_departments(session: Session) -> list[Department]:
    """Every department, by id."""
    return list(session.scalars(select(Department).order_by(Department.id)))


def create_key(
    session: Session,
    department_id: str,
    scopes: Iterable[str],
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[AccessKey, str]:
    """Create an access key; return it with its secret, which is never shown again."""
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(f"Department '{department_id}' does not exist.")
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise Unprocessable(
            "Invalid scopes.",
            errors={"scopes": [f"Each must be one of: {', '.join(SCOPES)}."]},
        )
    if expires_at is not None and expires_at <= utcnow():
        raise Unprocessable(
            "Expiry in the past.", errors={"expires_at": ["Must be in the future."]}
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = AccessKey(
        id=key_id,
        department_id=department.id,
        name=name or f"{department.id} key",
        scopes=scopes,
        secret_digest=_digest(secret),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{key_id}_{secret}"


def list_keys(session: Session, department_id: str | None = None) -> list[AccessKey]:
    """Access keys, newest first, optionally of one department."""
    query = select(AccessKey).order_by(AccessKey.created_at.desc(), AccessKey.id)
    if department_id is not None:
        query = query.where(AccessKey.department_id == department_id)
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: str) -> AccessKey:
    """Revoke a key; it and every token issued from it stop working at once."""
    key = session.get(AccessKey, key_id)
    if key is None:
        raise NotFound(f"Access key '{key_id}' does not exist.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def _refusal(
    revoked_at: datetime | None,
    expires_at: datetime | None,
    department_disabled_at: datetime | None,
    now: datetime,
) -> str | None:
    if revoked_at is not None:
        return "The access key has been revoked."
    if expires_at is not None and expires_at <= now:
        return "The access key has expired."
    if department_disabled_at is not None:
        return "The key's department is disabled."
    return None


def key_refusal(key: AccessKey, now: datetime) -> str | None:
    """Why ``key`` may not be used now, or None if it may."""
    return _refusal(key.revoked_at, key.expires_at, key.department.disabled_at, now)


def authenticate_key(session: Session, presented: str) -> AccessKey:
    """Return the usable key whose secret was presented, or raise 401."""
    match = KEY_PATTERN.match(presented)
    key = session.get(AccessKey, match["id"]) if match else None
    # Compare even when the id is unknown, so timing does not reveal which ids exist.
    expected = key.secret_digest if key is not None else _digest("")
    presented_digest = _digest(match["secret"] if match else presented)
    if not hmac.compare_digest(expected, presented_digest) or key is None:
        raise Unauthorized("The access key is not valid.")
    refusal = key_refusal(key, utcnow())
    if refusal:
        raise Unauthorized(refusal)
    return key


def _signing_key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def issue_token(key: AccessKey, settings: Mapping[str, Any]) -> tuple[str, int]:
    """Sign a short-lived JWT for ``key``; return it with its lifetime in seconds."""
    now = utcnow()
    ttl = int(settings["TOKEN_TTL"])
    if key.expires_at is not None:
        ttl = max(1, min(ttl, int((key.expires_at - now).total_seconds())))
    claims = {
        "iss": settings["TOKEN_ISSUER"],
        "aud": settings["TOKEN_AUDIENCE"],
        "sub": key.id,
        "dept": key.department_id,
        "scope": " ".join(key.scopes),
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
    }
    secret = settings["SECRET_KEY"]
    headers = {"kid": _signing_key_id(secret)}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM, headers=headers), ttl


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str, audience: str, issuer: str) -> Mapping[str, Any]:
    """Verify a token's signature and claims; cached, since clients resend the same token.

    Only verified tokens are cached; expiry is checked again on every use.
    """
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[TOKEN_ALGORITHM],
        audience=audience,
        issuer=issuer,
        leeway=TOKEN_LEEWAY_SECONDS,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return MappingProxyType(claims)


def identity_from_token(session: Session, token: str, settings: Mapping[str, Any]) -> Identity:
    """Verify a token and the key behind it; return who is calling, or raise 401."""
    try:
        claims = _verified_claims(
            token, settings["SECRET_KEY"], settings["TOKEN_AUDIENCE"], settings["TOKEN_ISSUER"]
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired; exchange the access key again.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The token is not valid.") from exc
    if claims["exp"] + TOKEN_LEEWAY_SECONDS < utcnow().timestamp():
        raise Unauthorized("The token has expired; exchange the access key again.")
    # Read on every request, so a revoked key or disabled department is refused at once.
    key = session.connection().execute(_KEY_STATE, {"key_id": str(claims["sub"])}).one_or_none()
    if key is None:
        raise Unauthorized("The token's access key does not exist.")
    refusal = _refusal(key.revoked_at, key.expires_at, key.disabled_at, utcnow())
    if refusal:
        raise Unauthorized(refusal)
    token_scopes = str(claims.get("scope", "")).split()
    return Identity(
        key_id=key.id,
        department_id=key.department_id,
        scopes=frozenset(token_scopes) & frozenset(key.scopes),
        publishes=frozenset(key.publishes),
    )
