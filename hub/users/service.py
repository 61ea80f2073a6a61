"""Console users: accounts, roles, passwords, invitations and sign-in.

A user acts for one department in one role. The role maps onto the same scopes an access key
carries, so a person in the console is held to exactly the rules an API caller is
(:func:`identity_of`): ``admin`` manages departments, keys and users and reads the audit log;
``office`` (the leading group's office) reads everything and supervises; ``officer`` acts for
its department (its records, grants, subscriptions); ``viewer`` reads.

Passwords are hashed with argon2id. A sign-in is refused with the same message whether the
user is unknown, disabled or the password wrong, and an unknown user costs a hash check too,
so neither the answer nor its timing tells which users exist. An invitation is a one-time
token (only its digest is stored) that lets its holder set a password within 24 hours.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.entries import Actor, Entry, record
from hub.auth.identity import Identity
from hub.auth.models import Department
from hub.core.db import add_unique, utcnow
from hub.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from hub.users.models import User

ROLES = ("admin", "office", "officer", "viewer")
_READ = frozenset({"records:read", "events:read"})
# The API scopes each role stands for.
ROLE_SCOPES: Mapping[str, frozenset[str]] = {
    "admin": _READ | {"admin"},
    "office": _READ | {"supervision"},
    "officer": _READ | {"records:write", "grants", "subscriptions"},
    "viewer": _READ,
}
# an e-mail address will do: single sign-on providers often name people by theirs
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}\Z")
USERNAME_RULE = (
    "2-64 lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit."
)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
INVITE_TTL = timedelta(hours=24)
# Where an invitation's link leads (the console's page for setting a password).
SET_PASSWORD_PATH = "/console/set-password"
SIGN_IN_REFUSED = "Wrong username or password."
# What the audit log calls each change made here.
CREATE = "user.create"
UPDATE = "user.update"
RESET_PASSWORD = "user.reset_password"
SET_PASSWORD = "user.set_password"
SIGN_IN = "user.sign_in"


@functools.lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def hasher(settings: Mapping[str, Any]) -> PasswordHasher:
    """The argon2id hasher the settings ask for (``PASSWORD_HASH_*``)."""
    return _hasher(settings["PASSWORD_HASH_TIME_COST"], settings["PASSWORD_HASH_MEMORY_KIB"])


@functools.lru_cache(maxsize=4)
def _decoy_hash(time_cost: int, memory_kib: int) -> str:
    """A hash to check unknown users' passwords against, so they take as long as known ones."""
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


def user_actor(user: User) -> Actor:
    """The actor of a console user."""
    return Actor(f"user:{user.username}", department_id=user.department_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# what would let a name pass for something else where it is shown: a line break in the
# tab-separated `hub users list`, a right-to-left override in the console
_HIDDEN_CHARACTER_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _hidden_characters(name: str) -> bool:
    return any(unicodedata.category(char) in _HIDDEN_CHARACTER_CATEGORIES for char in name)


def _check_display_name(name: str) -> None:
    if _hidden_characters(name):
        raise Unprocessable(
            "Invalid name.",
            errors={"display_name": ["One line of text, without control characters."]},
        )


def _one_line(name: str) -> str:
    """A name from elsewhere (a sign-on provider's claim), its hidden characters spaces."""
    if not _hidden_characters(name):
        return name
    shown = "".join(
        " " if unicodedata.category(char) in _HIDDEN_CHARACTER_CATEGORIES else char for char in name
    )
    return " ".join(shown.split())


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Unprocessable(
            "The password is too short or too long.",
            errors={
                "password": [
                    f"Must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long."
                ]
            },
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Unprocessable("Unknown role.", errors={"role": [f"One of: {', '.join(ROLES)}."]})


def _check_department(session: Session, department_id: str) -> Department:
    department = session.get(Department, department_id)
    if department is None:
        raise Unprocessable(
            f"Department '{department_id}' does not exist.",
            errors={"department": [f"No department '{department_id}'."]},
        )
    return department


def _new_invitation(user: User) -> str:
    token = secrets.token_urlsafe(32)
    user.invite_digest = _digest(token)
    user.invite_expires_at = utcnow() + INVITE_TTL
    return token


def invite_link(settings: Mapping[str, Any], token: str) -> str:
    """The link an invited person opens to set a password."""
    return f"{settings['PUBLIC_URL'].rstrip('/')}{SET_PASSWORD_PATH}/{token}"


def add_user(
    session: Session,
    actor: Actor,
    username: str,
    department_id: str,
    role: str,
    settings: Mapping[str, Any],
    *,
    display_name: str = "",
    password: str | None = None,
) -> tuple[User, str | None]:
    """Create a user with ``password``, or without one and with an invitation; return the
    user and the invitation's token (None with a password)."""
    if not USERNAME_PATTERN.match(username):
        raise Unprocessable("Invalid username.", errors={"username": [USERNAME_RULE]})
    _check_role(role)
    _check_department(session, department_id)
    _check_display_name(display_name)
    if password is not None:
        _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"User '{username}' already exists.")
    user = User(
        username=username,
        display_name=display_name or username,
        department_id=department_id,
        role=role,
        password_hash=hasher(settings).hash(password) if password is not None else None,
    )
    token = _new_invitation(user) if password is None else None
    add_unique(session, user, Conflict(f"User '{username}' already exists."))
    details = {"department": department_id, "role": role, "invited": token is not None}
    record(session, Entry(actor, CREATE, f"user/{username}", details), 201)
    return user, token


def list_users(session: Session, department_id: str | None = None) -> list[User]:
    """Users by username, optionally of one department."""
    query = select(User).order_by(User.username)
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    return list(session.scalars(query))


def get_user(session: Session, username: str, *, lock: bool = False) -> User:
    """The user ``username``, or 404."""
    query = select(User).where(User.username == username)
    user = session.scalar(query.with_for_update() if lock else query)
    if user is None:
        raise NotFound(f"There is no user '{username}'.")
    return user


def update_user(
    session: Session,
    actor: Actor,
    username: str,
    *,
    display_name: str | None = None,
    department_id: str | None = None,
    role: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's name, department or role, or disable or re-enable them; a change
    applies from their next request."""
    user = get_user(session, username, lock=True)
    changes: dict[str, Any] = {}
    if display_name is not None:
        _check_display_name(display_name)
        user.display_name = changes["display_name"] = display_name
    if department_id is not None:
        _check_department(session, department_id)
        user.department_id = changes["department"] = department_id
    if role is not None:
        _check_role(role)
        user.role = changes["role"] = role
    if disabled is not None and disabled != (user.disabled_at is not None):
        user.disabled_at = utcnow() if disabled else None
        if disabled:
            user.sessions_valid_after = user.disabled_at
        changes["disabled"] = disabled
    session.flush()
    record(session, Entry(actor, UPDATE, f"user/{username}", changes), 200)
    return user


def sign_in_method(user: User, now: datetime) -> str:
    """How ``user`` signs in: password, invited (or the invitation expired), single sign-on,
    or not at all."""
    if user.oidc_subject is not None:
        return "single_sign_on"
    if user.password_hash is not None:
        return "password"
    if user.invite_digest is not None:
        expires = user.invite_expires_at
        return "invited" if expires is not None and expires > now else "invitation_expired"
    return "none"


def reset_password(
    session: Session,
    actor: Actor,
    username: str,
    settings: Mapping[str, Any],
    password: str | None = None,
) -> str | None:
    """Set a user's password, or (without one) clear it and issue an invitation to set a new
    one; return the invitation's token, if any."""
    user = get_user(session, username, lock=True)
    if user.oidc_subject is not None:
        raise Conflict(
            f"User {username} signs in through single sign-on: the identity provider keeps "
            "their password, and the hub gives them none."
        )
    user.sessions_valid_after = utcnow()  # whoever knew the old password is signed out
    token = None
    if password is not None:
        _check_password(password)
        user.password_hash = hasher(settings).hash(password)
        user.invite_digest = user.invite_expires_at = None
    else:
        user.password_hash = None
        token = _new_invitation(user)
    session.flush()
    details = {"invited": token is not None}
    record(session, Entry(actor, RESET_PASSWORD, f"user/{username}", details), 200)
    return token


def invited_user(session: Session, token: str) -> User:
    """The user an unexpired invitation is for; 404 for any other token."""
    user = session.scalar(select(User).where(User.invite_digest == _digest(token)))
    expires = user.invite_expires_at if user is not None else None
    if user is None or expires is None or expires <= utcnow() or user.disabled_at is not None:
        raise NotFound("This link is not valid: it was used already, or it has expired.")
    return user


def accept_invitation(
    session: Session, token: str, password: str, settings: Mapping[str, Any], remote_addr: str
) -> User:
    """Set the password of the user an invitation is for; the invitation is used up."""
    user = invited_user(session, token)
    _check_password(password)
    user.password_hash = hasher(settings).hash(password)
    user.invite_digest = user.invite_expires_at = None
    session.flush()
    actor = Actor(f"user:{user.username}", user.department_id, remote_addr=remote_addr)
    record(session, Entry(actor, SET_PASSWORD, f"user/{user.username}"), 200)
    return user


def authenticate(
    session: Session, username: str, password: str, settings: Mapping[str, Any]
) -> User:
    """The enabled user whose password this is; otherwise 401, the same for every reason."""
    user = session.scalar(select(User).where(User.username == username))
    password_hasher = hasher(settings)
    stored = user.password_hash if user is not None else None
    cost = (settings["PASSWORD_HASH_TIME_COST"], settings["PASSWORD_HASH_MEMORY_KIB"])
    try:
        password_hasher.verify(stored or _decoy_hash(*cost), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as exc:
        raise Unauthorized(SIGN_IN_REFUSED) from exc
    if user is None or stored is None or not usable(session, user):
        raise Unauthorized(SIGN_IN_REFUSED)
    if password_hasher.check_needs_rehash(stored):
        user.password_hash = password_hasher.hash(password)
    return user


def end_sessions(session: Session, user: User) -> None:
    """End every console session ``user`` has (signing out ends copies of the cookie too)."""
    user.sessions_valid_after = utcnow()
    session.flush()


def session_is_current(user: User, began: float) -> bool:
    """Whether a session that began at ``began`` (a Unix time) has not been ended since."""
    ended = user.sessions_valid_after
    return ended is None or began >= ended.timestamp()


def usable(session: Session, user: User) -> bool:
    """Whether ``user`` may act now: enabled, in an enabled department."""
    department = session.get(Department, user.department_id)
    return user.disabled_at is None and department is not None and department.disabled_at is None


def signed_in(session: Session, user: User, remote_addr: str | None) -> None:
    """Note a successful sign-in, in the user's record and the audit log."""
    user.last_signed_in_at = utcnow()
    session.flush()
    actor = Actor(f"user:{user.username}", user.department_id, remote_addr=remote_addr)
    record(session, Entry(actor, SIGN_IN, f"user/{user.username}"), 200)


def identity_of(session: Session, user: User) -> Identity | None:
    """The identity a user acts with, read afresh (their role, their department's rights), or
    None if they may not act now."""
    department = session.get(Department, user.department_id)
    if user.disabled_at is not None or department is None or department.disabled_at is not None:
        return None
    return Identity(
        key_id=f"user:{user.id}",
        department_id=department.id,
        scopes=ROLE_SCOPES[user.role],
        publishes=frozenset(department.publishes),
        actor=user_actor(user),
    )


def user_from_claims(
    session: Session, subject: str, username: str, department_id: str, role: str, name: str
) -> User:
    """The user a single sign-on identity stands for: matched on ``subject``, created on
    first sign-in, and given the department and role the provider says, every time."""
    _check_role(role)
    _check_department(session, department_id)
    if not USERNAME_PATTERN.match(username):
        raise Unprocessable("Invalid username.", errors={"username": [USERNAME_RULE]})
    name = _one_line(name)
    actor = Actor(f"user:{username}", department_id)
    user = session.scalar(select(User).where(User.oidc_subject == subject))
    if user is None:
        taken = Conflict(
            f"A user '{username}' exists already and is not tied to this sign-on identity."
        )
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise taken
        user = User(
            username=username,
            display_name=name or username,
            oidc_subject=subject,
            department_id=department_id,
            role=role,
            password_hash=None,
        )
        add_unique(session, user, taken)
        details = {"department": department_id, "role": role, "single_sign_on": True}
        record(session, Entry(actor, CREATE, f"user/{username}", details), 201)
        return user
    changes = {
        name_: value
        for name_, value, before in (
            ("department", department_id, user.department_id),
            ("role", role, user.role),
        )
        if value != before
    }
    user.department_id, user.role = department_id, role
    user.display_name = name or user.display_name
    session.flush()
    if changes:  # the provider says so now: recorded like an administrator's change
        record(session, Entry(actor, UPDATE, f"user/{user.username}", changes), 200)
    return user
