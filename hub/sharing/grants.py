"""Grants: what may happen to an application for another department's conditional fields.

A department (the applicant) applies for a record type it does not publish, optionally naming
some of the type's conditional fields, with a purpose. A department that may publish the type
(the owner) approves it until a date, or refuses it with a reason; the owner can revoke an
approved grant, and the applicant can withdraw a request still pending. Expiry is never
written: an approved grant past ``expires_at`` simply stops counting (``hub.sharing`` compares
with the time of each read), and is shown as ``expired``.

Stored statuses are pending, approved, refused and revoked. Two more are derived for the wire:
``expired`` (approved, past ``expires_at``) and ``withdrawn`` (revoked before any decision,
which only the applicant can do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from hub.audit.entries import Entry, record
from hub.auth.identity import Identity
from hub.auth.models import Department
from hub.core.db import utcnow
from hub.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from hub.core.pagination import MAX_ID, newest_first
from hub.sharing.models import Grant
from schemas import RecordType, registry

STATUSES = ("pending", "approved", "refused", "revoked", "withdrawn", "expired")
# What the audit log calls each change made here.
APPLY = "grant.apply"
APPROVE = "grant.approve"
REFUSE = "grant.refuse"
REVOKE = "grant.revoke"


def status_at(grant: Grant, now: datetime) -> str:
    """The grant's status as the parties see it at ``now``."""
    if grant.status == "approved" and grant.expires_at is not None and grant.expires_at <= now:
        return "expired"
    if grant.status == "revoked" and grant.decided_at is None:
        return "withdrawn"
    return grant.status


def is_overdue(grant: Grant, now: datetime) -> bool:
    """Whether the owner has let a pending request pass its ``respond_by`` deadline."""
    return grant.status == "pending" and grant.respond_by < now


def _status_is(status: str, now: datetime) -> ColumnElement[bool]:
    """The SQL condition for a grant having the (possibly derived) ``status`` at ``now``."""
    if status == "approved":
        return and_(Grant.status == "approved", Grant.expires_at > now)
    if status == "expired":
        return and_(Grant.status == "approved", Grant.expires_at <= now)
    if status == "revoked":
        return and_(Grant.status == "revoked", Grant.decided_at.is_not(None))
    if status == "withdrawn":
        return and_(Grant.status == "revoked", Grant.decided_at.is_(None))
    return Grant.status == status


def _grantable_type(type_name: str) -> RecordType:
    record_type = registry().get(type_name)
    if record_type is None:
        raise Unprocessable(
            f"There is no record type '{type_name}'.",
            errors={"type": ["Not a record type; GET /api/v1/types lists them."]},
        )
    if not record_type.fields_of_class("conditional"):
        raise Unprocessable(
            f"Record type '{type_name}' has no conditional fields to grant.",
            errors={"type": ["Has no conditional fields; restricted fields are never granted."]},
        )
    return record_type


def _field_problem(record_type: RecordType, name: str) -> str:
    sharing = record_type.sharing.get(name)
    if sharing is None:
        return f"{name}: not a field of {record_type.name}."
    if sharing == "restricted":
        return f"{name}: restricted; only departments that publish the type see it."
    return f"{name}: {sharing}, not conditional; grants are for conditional fields."


def _requested_fields(record_type: RecordType, names: Iterable[str]) -> list[str]:
    """The conditional fields asked for, sorted and without repeats; 422 naming the others."""
    wanted = sorted(set(names))
    conditional = record_type.fields_of_class("conditional")
    problems = [_field_problem(record_type, name) for name in wanted if name not in conditional]
    if problems:
        raise Unprocessable(
            "Only conditional fields can be asked for: "
            f"{', '.join(sorted(conditional))} for {record_type.name}.",
            errors={"fields": problems},
        )
    return wanted


def publishers_of(session: Session, type_name: str) -> list[str]:
    """The enabled departments that may publish ``type_name``, by id."""
    departments = session.scalars(
        select(Department).where(Department.disabled_at.is_(None)).order_by(Department.id)
    )
    return [department.id for department in departments if type_name in department.publishes]


def _owner_for(session: Session, type_name: str, owner: str | None) -> str:
    publishers = publishers_of(session, type_name)
    if not publishers:
        raise Unprocessable(
            f"No department publishes '{type_name}', so none can grant it.",
            errors={"type": ["No department publishes this type."]},
        )
    if owner is None:
        if len(publishers) > 1:
            raise Unprocessable(
                f"Several departments publish '{type_name}'; name the one you ask.",
                errors={"owner": [f"Required: one of {', '.join(publishers)}."]},
            )
        return publishers[0]
    if owner not in publishers:
        raise Unprocessable(
            f"Department '{owner}' does not publish '{type_name}'.",
            errors={"owner": [f"Must be a department that publishes it: {', '.join(publishers)}."]},
        )
    return owner


def apply(
    session: Session,
    identity: Identity,
    *,
    type_name: str,
    fields: Sequence[str],
    purpose: str,
    owner: str | None,
    response_days: int,
) -> Grant:
    """Record the caller's department's application for a type's conditional fields."""
    record_type = _grantable_type(type_name)
    named = _requested_fields(record_type, fields)
    if identity.may_publish(type_name):
        raise Unprocessable(
            f"Your department publishes '{type_name}' and already sees its conditional fields.",
            errors={"type": ["Your department publishes this type."]},
        )
    owner_id = _owner_for(session, type_name, owner)
    # Applications of one department queue here, so two at once cannot both pass the check.
    session.get(Department, identity.department_id, with_for_update=True)
    now = utcnow()
    existing = session.scalar(
        select(Grant.id)
        .where(
            Grant.applicant_id == identity.department_id,
            Grant.owner_id == owner_id,
            Grant.record_type == type_name,
            or_(Grant.status == "pending", _status_is("approved", now)),
        )
        .limit(1)
    )
    if existing is not None:
        raise Conflict(
            f"Your department already holds a pending or active grant {existing} from "
            f"'{owner_id}' for '{type_name}'; wait for it to end, or withdraw it."
        )
    grant = Grant(
        applicant_id=identity.department_id,
        owner_id=owner_id,
        record_type=type_name,
        fields=named,
        purpose=purpose,
        status="pending",
        requested_at=now,
        requested_by=identity.key_id,
        respond_by=now + timedelta(days=response_days),
    )
    session.add(grant)
    session.flush()
    details = {"type": type_name, "owner": owner_id, "fields": named}
    record(session, Entry(identity.actor, APPLY, f"grant/{grant.id}", details), 201)
    return grant


def list_grants(
    session: Session,
    identity: Identity,
    *,
    see_all: bool,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    role: str | None = None,
    type_name: str | None = None,
) -> tuple[list[Grant], int | None]:
    """Grants the caller's department is party to (every grant with ``see_all``), newest
    first, and the id to continue before (or None)."""
    department = identity.department_id
    query = select(Grant)
    if role == "applicant":
        query = query.where(Grant.applicant_id == department)
    elif role == "owner":
        query = query.where(Grant.owner_id == department)
    elif not see_all:
        query = query.where(or_(Grant.applicant_id == department, Grant.owner_id == department))
    if status is not None:
        query = query.where(_status_is(status, utcnow()))
    if type_name is not None:
        query = query.where(Grant.record_type == type_name)
    return newest_first(session, query, Grant.id, limit, before_id)


def grants_due(session: Session, since: datetime, until: datetime) -> list[Grant]:
    """Every grant whose owner had to answer in ``[since, until)`` (its ``respond_by``), by
    owner and id: what an owner's promptness is judged on (supervision's scorecard).

    Only applications made before ``until`` are listed; whether and when each was answered
    is in ``decided_at`` (and a withdrawal in ``revoked_at``, without a decision).
    """
    query = (
        select(Grant)
        .where(Grant.respond_by >= since, Grant.respond_by < until, Grant.requested_at < until)
        .order_by(Grant.owner_id, Grant.id)
    )
    return list(session.scalars(query))


def get_grant(
    session: Session,
    identity: Identity,
    grant_id: int,
    *,
    see_all: bool = False,
    lock: bool = False,
) -> Grant:
    """The grant ``grant_id`` if the caller is party to it (or ``see_all``), else 404.

    With ``lock``, the row is locked for a decision, so two decisions cannot cross.
    """
    # an id beyond the column's range names no grant (and would overflow SQLite's integers)
    grant = session.get(Grant, grant_id, with_for_update=lock) if grant_id <= MAX_ID else None
    department = identity.department_id
    if grant is None or not (see_all or department in (grant.applicant_id, grant.owner_id)):
        raise NotFound(f"There is no grant {grant_id} that your department is party to.")
    return grant


def _require_owner(identity: Identity, grant: Grant, action: str) -> None:
    if identity.department_id != grant.owner_id:
        raise Forbidden(f"Only the owner, '{grant.owner_id}', may {action} this grant.")


def _require_pending(grant: Grant, action: str, now: datetime) -> None:
    if grant.status != "pending":
        raise Conflict(
            f"Grant {grant.id} is {status_at(grant, now)}; only a pending one can be {action}."
        )


def approve(session: Session, identity: Identity, grant: Grant, expires_at: datetime) -> Grant:
    """The owner approves a pending request until ``expires_at``."""
    _require_owner(identity, grant, "approve")
    now = utcnow()
    _require_pending(grant, "approved", now)
    if expires_at <= now:
        raise Unprocessable(
            "The expiry is not in the future.", errors={"expires_at": ["Must be in the future."]}
        )
    if not identity.may_publish(grant.record_type):
        raise Conflict(
            f"Your department no longer publishes '{grant.record_type}', so cannot grant it."
        )
    grant.status = "approved"
    grant.decided_at, grant.decided_by = now, identity.key_id
    grant.expires_at = expires_at
    session.flush()
    details = {"expires_at": expires_at.isoformat()}
    record(session, Entry(identity.actor, APPROVE, f"grant/{grant.id}", details), 200)
    return grant


def refuse(session: Session, identity: Identity, grant: Grant, reason: str) -> Grant:
    """The owner refuses a pending request, saying why."""
    _require_owner(identity, grant, "refuse")
    now = utcnow()
    _require_pending(grant, "refused", now)
    grant.status = "refused"
    grant.decided_at, grant.decided_by = now, identity.key_id
    grant.reason = reason
    session.flush()
    record(session, Entry(identity.actor, REFUSE, f"grant/{grant.id}"), 200)
    return grant


def revoke(session: Session, identity: Identity, grant: Grant) -> Grant:
    """End a grant: the owner revokes an active one; the applicant withdraws a pending one."""
    now = utcnow()
    status = status_at(grant, now)
    if identity.department_id == grant.owner_id:
        if status != "approved":
            hint = " Refuse it, with a reason." if status == "pending" else ""
            raise Conflict(f"Grant {grant.id} is {status}; only an active grant is revoked.{hint}")
    elif status == "approved":
        raise Forbidden(f"Only the owner, '{grant.owner_id}', may revoke an approved grant.")
    elif status != "pending":
        raise Conflict(f"Grant {grant.id} is {status}; only a pending request can be withdrawn.")
    grant.status = "revoked"
    grant.revoked_at, grant.revoked_by = now, identity.key_id
    session.flush()
    record(session, Entry(identity.actor, REVOKE, f"grant/{grant.id}", {"was": status}), 200)
    return grant
