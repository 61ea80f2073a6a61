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
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

import jwt
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from hub.audit.entries import Actor, Entry, record
from hub.auth.identity import Identity, key_actor
from hub.auth.models import AccessKey, Department
from hub.core.db import add_unique, utcnow
from hub.core.driver import DriverStatement
from hub.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from schemas import registry

SCOPES = (
    "records:read",
    "records:write",
    "events:read",
    "subscriptions",
    "grants",
    "admin",
    # the leading group office's and leaders' view of every project (DESIGN §6)
    "supervision",
)
KEY_PREFIX = "hubk_"
KEY_ID_PATTERN = re.compile(r"^[0-9a-f]{12}\Z")
KEY_PATTERN = re.compile(r"^hubk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,})\Z")
DEPARTMENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}\Z")
TOKEN_ALGORITHM = "HS256"
# The longest grace a rotated key's old secret may get: a year, long enough for any planned
# hand-over, short enough that no date overflows.
MAX_GRACE_SECONDS = 366 * 24 * 3600
# What the audit log calls each change made here, through the API, the console or the CLI.
DEPARTMENT_CREATE = "department.create"
DEPARTMENT_UPDATE = "department.update"
KEY_CREATE = "key.create"
KEY_ROTATE = "key.rotate"
KEY_EXPIRE = "key.expire"
KEY_REVOKE = "key.revoke"
TOKEN_EXCHANGE = "token.exchange"
TOKEN_LEEWAY_SECONDS = 10

_KEY_STATE = (
    select(
        AccessKey.id,
        AccessKey.department_id,
        AccessKey.scopes,
        AccessKey.revoked_at,
        AccessKey.expires_at,
        AccessKey.generation,
        AccessKey.previous_valid_until,
        Department.publishes,
        Department.disabled_at,
    )
    .join(Department, Department.id == AccessKey.department_id)
    .where(AccessKey.id == bindparam("key_id"))
)
# read on every authenticated request: on PostgreSQL, run on the driver (hub.core.driver)
_KEY_STATE_ON_DRIVER = DriverStatement(_KEY_STATE)


class KeyState(NamedTuple):
    """What every request reads of its access key and the key's department."""

    id: str
    department_id: str
    scopes: list[str]
    revoked_at: datetime | None
    expires_at: datetime | None
    generation: int
    previous_valid_until: datetime | None
    publishes: list[str]
    disabled_at: datetime | None


def _key_state(connection: Connection, key_id: str) -> KeyState | None:
    if connection.dialect.name == "postgresql":
        row = _KEY_STATE_ON_DRIVER.one(connection, {"key_id": key_id})
    else:
        row = connection.execute(_KEY_STATE, {"key_id": key_id}).one_or_none()
    return None if row is None else KeyState(*row)


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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def add_department(
    session: Session, actor: Actor, department_id: str, name: str, publishes: Iterable[str]
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
    add_unique(session, department, Conflict(f"Department '{department_id}' already exists."))
    details = {"name": department.name, "publishes": department.publishes}
    record(session, Entry(actor, DEPARTMENT_CREATE, f"department/{department.id}", details), 201)
    return department


def list_departments(session: Session) -> list[Department]:
    """Every department, by id."""
    return list(session.scalars(select(Department).order_by(Department.id)))


def get_department(session: Session, department_id: str) -> Department:
    """The department ``department_id``, or 404."""
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(f"Department '{department_id}' does not exist.")
    return department


def update_department(
    session: Session,
    actor: Actor,
    department_id: str,
    *,
    name: str | None = None,
    publishes: Iterable[str] | None = None,
    disabled: bool | None = None,
) -> Department:
    """Rename a department, change what it may publish, or disable or re-enable it.

    Every change applies from the department's next request: rights are read per request.
    """
    department = get_department(session, department_id)
    if name is not None:
        department.name = name
    if publishes is not None:
        department.publishes = _check_publishes(publishes)
    if disabled is not None and disabled != (department.disabled_at is not None):
        if disabled and _holds_the_last_admin_keys(session, department.id):
            raise Conflict(
                f"Department '{department.id}' holds the last usable keys with the admin "
                "scope; give another department an admin key before you disable it."
            )
        department.disabled_at = utcnow() if disabled else None
    session.flush()
    changes: dict[str, object] = {
        "name": name,
        "publishes": department.publishes if publishes is not None else None,
        "disabled": disabled,
    }
    details = {field: value for field, value in changes.items() if value is not None}
    record(session, Entry(actor, DEPARTMENT_UPDATE, f"department/{department.id}", details), 200)
    return department


def create_key(
    session: Session,
    actor: Actor,
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
    details = {
        "department": key.department_id,
        "scopes": key.scopes,
        "name": key.name,
        "expires_at": _iso(key.expires_at),
    }
    record(session, Entry(actor, KEY_CREATE, f"key/{key.id}", details), 201)
    return key, f"{KEY_PREFIX}{key_id}_{secret}"


def list_keys(session: Session, department_id: str | None = None) -> list[AccessKey]:
    """Access keys, newest first, optionally of one department."""
    query = select(AccessKey).order_by(AccessKey.created_at.desc(), AccessKey.id)
    if department_id is not None:
        query = query.where(AccessKey.department_id == department_id)
    return list(session.scalars(query))


def get_key(session: Session, key_id: str, *, lock: bool = False) -> AccessKey:
    """The access key ``key_id`` (locked for the transaction if ``lock``), or 404."""
    key = (
        session.get(AccessKey, key_id, with_for_update=lock)
        if KEY_ID_PATTERN.match(key_id)
        else None
    )
    if key is None:
        raise NotFound(f"Access key '{key_id}' does not exist.")
    return key


def _other_admin_keys(
    session: Session, *, except_key: str | None = None, except_department: str | None = None
) -> int:
    """How many usable keys with the admin scope there are, leaving one key or one
    department's keys out."""
    now = utcnow()
    keys = session.scalars(
        select(AccessKey)
        .join(Department, Department.id == AccessKey.department_id)
        .where(AccessKey.revoked_at.is_(None), Department.disabled_at.is_(None))
    )
    return sum(
        1
        for key in keys
        if "admin" in key.scopes
        and (key.expires_at is None or key.expires_at > now)
        and key.id != except_key
        and key.department_id != except_department
    )


def _holds_the_last_admin_keys(session: Session, department_id: str) -> bool:
    """Whether every usable admin key belongs to ``department_id`` (and there is one)."""
    everywhere = _other_admin_keys(session)
    return everywhere > 0 and _other_admin_keys(session, except_department=department_id) == 0


def _keep_an_admin_key(session: Session, key: AccessKey, action: str) -> None:
    """Refuse (409) to end the last usable admin key: nobody could administer the hub after."""
    usable_admin_key = "admin" in key.scopes and key_refusal(key, utcnow()) is None
    if usable_admin_key and _other_admin_keys(session, except_key=key.id) == 0:
        raise Conflict(
            f"Access key '{key.id}' is the last usable key with the admin scope; create "
            f"another admin key before you {action} it."
        )


def revoke_key(session: Session, actor: Actor, key_id: str) -> AccessKey:
    """Revoke a key; it and every token issued from it stop working at once. The last usable
    admin key is not revoked (409)."""
    key = get_key(session, key_id, lock=True)
    if key.revoked_at is None:
        _keep_an_admin_key(session, key, "revoke")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    details = {"revoked_at": _iso(key.revoked_at)}
    record(session, Entry(actor, KEY_REVOKE, f"key/{key.id}", details), 200)
    return key


def expire_key(
    session: Session, actor: Actor, key_id: str, expires_at: datetime | None
) -> AccessKey:
    """Set (or, with None, clear) when a key stops working; a past moment ends it now."""
    key = get_key(session, key_id, lock=True)
    if key.revoked_at is not None:
        raise Conflict(f"Access key '{key_id}' is revoked; its expiry cannot change.")
    if expires_at is not None and expires_at <= utcnow():
        _keep_an_admin_key(session, key, "expire")
    key.expires_at = expires_at
    session.flush()
    details = {"expires_at": _iso(key.expires_at)}
    record(session, Entry(actor, KEY_EXPIRE, f"key/{key.id}", details), 200)
    return key


def rotate_key(
    session: Session, actor: Actor, key_id: str, grace_seconds: int
) -> tuple[AccessKey, str]:
    """Give a key a new secret; the old secret and its tokens work for ``grace_seconds`` more.

    Rotating again during a grace period ends the older generation's grace at once: only
    the current secret and the one just replaced are ever valid. The last usable admin key is
    not rotated (409): create another admin key first.
    """
    key = get_key(session, key_id, lock=True)
    refusal = key_refusal(key, utcnow())
    if refusal:
        raise Conflict(f"Access key '{key_id}' cannot be rotated. {refusal}")
    # a rotation whose answer is lost would lock the administrators out after the grace
    _keep_an_admin_key(session, key, "rotate")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    key.previous_digest = key.secret_digest
    key.previous_valid_until = now + timedelta(seconds=grace_seconds)
    key.secret_digest = _digest(secret)
    key.generation += 1
    key.rotated_at = now
    session.flush()
    details = {
        "generation": key.generation,
        "grace_seconds": grace_seconds,
        "previous_valid_until": _iso(key.previous_valid_until),
    }
    record(session, Entry(actor, KEY_ROTATE, f"key/{key.id}", details), 200)
    return key, f"{KEY_PREFIX}{key.id}_{secret}"


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


def authenticate_key(session: Session, presented: str) -> tuple[AccessKey, int]:
    """Return the usable key whose secret was presented and that secret's generation.

    The secret a rotation replaced is accepted until its grace period ends. Raises 401.
    """
    match = KEY_PATTERN.match(presented)
    key = session.get(AccessKey, match["id"]) if match else None
    now = utcnow()
    # Compare even when the id is unknown, so timing does not reveal which ids exist.
    current = key.secret_digest if key is not None else _digest("")
    previous = _digest("")
    if key is not None and key.previous_digest and _in_grace(key.previous_valid_until, now):
        previous = key.previous_digest
    presented_digest = _digest(match["secret"] if match else presented)
    is_current = hmac.compare_digest(current, presented_digest)
    is_previous = hmac.compare_digest(previous, presented_digest)
    if key is None or not (is_current or is_previous):
        raise Unauthorized("The access key is not valid.")
    refusal = key_refusal(key, now)
    if refusal:
        raise Unauthorized(refusal)
    return key, key.generation if is_current else key.generation - 1


def _in_grace(valid_until: datetime | None, now: datetime) -> bool:
    return valid_until is not None and now < valid_until


def _signing_key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _signing_keys(secret: str, previous: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The secrets tokens may be signed with, as (key id, secret): current, then retired."""
    return tuple((_signing_key_id(s), s) for s in (secret, *previous))


def issue_token(
    key: AccessKey, settings: Mapping[str, Any], generation: int | None = None
) -> tuple[str, int]:
    """Sign a short-lived JWT for ``key``; return it with its lifetime in seconds.

    ``generation`` is that of the secret presented (the current one unless it is a rotated
    secret in its grace period); the token lives no longer than that secret does.
    """
    now = utcnow()
    ttl = int(settings["TOKEN_TTL"])
    generation = key.generation if generation is None else generation
    ends = [key.expires_at]
    if generation != key.generation:
        ends.append(key.previous_valid_until)
    for end in ends:
        if end is not None:
            ttl = max(1, min(ttl, int((end - now).total_seconds())))
    claims = {
        "iss": settings["TOKEN_ISSUER"],
        "aud": settings["TOKEN_AUDIENCE"],
        "sub": key.id,
        "dept": key.department_id,
        "scope": " ".join(key.scopes),
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": uuid.uuid4().hex,
        "gen": generation,
    }
    secret = settings["SECRET_KEY"]
    headers = {"kid": _signing_key_id(secret)}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM, headers=headers), ttl


@functools.lru_cache(maxsize=4096)
def _verified_claims(
    token: str, keys: tuple[tuple[str, str], ...], audience: str, issuer: str
) -> Mapping[str, Any]:
    """Verify a token's signature and claims; cached, since clients resend the same token.

    The header's ``kid`` picks the signing secret among the current and retired ones; the
    algorithm is pinned whatever the header says. Only verified tokens are cached; expiry
    is checked again on every use.
    """
    kid = jwt.get_unverified_header(token).get("kid")
    secret = next((secret for key_id, secret in keys if key_id == kid), None)
    if secret is None:
        raise jwt.InvalidTokenError("The token names no signing key the hub knows.")
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[TOKEN_ALGORITHM],
        audience=audience,
        issuer=issuer,
        leeway=TOKEN_LEEWAY_SECONDS,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "gen"]},
    )
    if not isinstance(claims["gen"], int) or not isinstance(claims["sub"], str):
        raise jwt.InvalidTokenError("Malformed claims.")
    return MappingProxyType(claims)


def identity_from_token(session: Session, token: str, settings: Mapping[str, Any]) -> Identity:
    """Verify a token and the key behind it; return who is calling, or raise 401."""
    try:
        keys = _signing_keys(settings["SECRET_KEY"], tuple(settings["PREVIOUS_SECRET_KEYS"]))
        claims = _verified_claims(token, keys, settings["TOKEN_AUDIENCE"], settings["TOKEN_ISSUER"])
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired; exchange the access key again.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The token is not valid.") from exc
    if claims["exp"] + TOKEN_LEEWAY_SECONDS < utcnow().timestamp():
        raise Unauthorized("The token has expired; exchange the access key again.")
    # Read on every request, so a revoked key or disabled department is refused at once.
    key = _key_state(session.connection(), claims["sub"])
    if key is None:
        raise Unauthorized("The token's access key does not exist.")
    now = utcnow()
    refusal = _refusal(key.revoked_at, key.expires_at, key.disabled_at, now)
    if refusal:
        raise Unauthorized(refusal)
    generation = claims["gen"]
    if generation != key.generation and not (
        generation == key.generation - 1 and _in_grace(key.previous_valid_until, now)
    ):
        raise Unauthorized("The access key was rotated; exchange the new key for a token.")
    token_scopes = str(claims.get("scope", "")).split()
    return Identity(
        key_id=key.id,
        department_id=key.department_id,
        scopes=frozenset(token_scopes) & frozenset(key.scopes),
        publishes=frozenset(key.publishes),
        actor=key_actor(key.id, key.department_id),
    )


def exchange_token(
    session: Session, presented: str, settings: Mapping[str, Any], via: Actor
) -> tuple[str, int]:
    """Exchange a presented access key for a token and its lifetime; 401 if it is not usable.

    ``via`` says where the exchange came from (address, request); the key is the actor.
    """
    key, generation = authenticate_key(session, presented)
    token, expires_in = issue_token(key, settings, generation)
    # not yet acting for its department: the key is named, as for a refused exchange
    actor = replace(via, name=key_actor(key.id, None).name, key_id=key.id)
    record(session, Entry(actor, TOKEN_EXCHANGE, f"key/{key.id}"), 200)
    return token, expires_in


def key_state(key: AccessKey, now: datetime) -> str:
    """A key's state for administrators: active, revoked, expired, or disabled (its department)."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.department.disabled_at is not None:
        return "disabled"
    return "active"
