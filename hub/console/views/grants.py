"""The console's sharing requests (grants): the inbox of requests to the user's department,
the outbox of those it made, one request with its answers, and the form that asks another
department for its conditional fields.

Every page acts through ``hub.sharing.grants`` with the signed-in user's identity, so a
request or a decision made here is checked, and audited, exactly as over ``/api/v1/grants``,
with the user as actor. Administrators see every request in one list, and decide none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from hub.auth import service as auth
from hub.auth.guard import audited
from hub.auth.identity import Identity
from hub.console.blueprint import blp
from hub.console.locale import format_day
from hub.console.pages import FormErrors, errors_of, problems, read_form, render_page, require_scope
from hub.console.signin import console_identity
from hub.core.db import utcnow
from hub.core.errors import HubError
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor
from hub.sharing import grants as service
from hub.sharing.models import Grant
from hub.sharing.schemas import MAX_PURPOSE, MAX_REASON, GrantInSchema, RefuseInSchema
from schemas import RecordType, registry

Page = tuple[str, int] | Response

# rows of a list page; and pending requests shown above the inbox before "show all"
PAGE_SIZE = 25
WAITING_SHOWN = 50
STATUS_LABELS = {
    "pending": _l("Pending"),
    "approved": _l("Approved"),
    "refused": _l("Refused"),
    "revoked": _l("Revoked"),
    "withdrawn": _l("Withdrawn"),
    "expired": _l("Expired"),
}
# What each form field's error says, in the person's language (the schemas and the service
# explain the same rules in English, for programs).
FIELD_MESSAGES = {
    "type": _l("Choose a record type that another department shares under conditions."),
    "fields": _l("Choose among the conditional fields of this record type."),
    "owner": _l("Choose the department to ask."),
    "purpose": _l("Say what the fields are for, in at most %(n)s characters.", n=MAX_PURPOSE),
    "expires_at": _l("Enter a date that has not passed: the grant holds until that day ends."),
    "reason": _l("Give the reason for refusing, in at most %(n)s characters.", n=MAX_REASON),
}
# the fields of the grant forms, shown again as typed when one is refused
TYPED_FIELDS = ("type", "owner", "purpose", "expires_at", "reason")
REQUEST_FIELDS = ("type", "owner", "purpose")
# why an end of a grant (revoke: the owner; withdraw: the applicant) is not offered
CANNOT_END = {
    "revoke": _l("Only an approved grant that has not expired can be revoked, by its owner."),
    "withdraw": _l("Only a pending request can be withdrawn, by the department that made it."),
}


class ApproveFormSchema(ma.Schema):
    """The approval form: the last day the grant holds (``ApproveInSchema.expires_at`` as a
    date, which :func:`_end_of_day` makes a moment)."""

    expires_at = ma.fields.Date(required=True)


# ---------- the lists ----------


@blp.route("/grants")
@require_scope("grants", "admin")
def grants() -> tuple[str, int]:
    """The inbox (requests to the user's department, those waiting for an answer first) or
    the outbox (requests it made); administrators: every request."""
    identity = console_identity()
    see_all = "admin" in identity.scopes
    box = "all" if see_all else request.args.get("box", "inbox")
    if box not in ("all", "inbox", "outbox"):
        box = "inbox"
    status = request.args.get("status", "")
    status = status if status in service.STATUSES else ""
    before = before_id({"cursor": request.args.get("cursor")})
    now = utcnow()
    # the inbox's first page leads with what waits for an answer, nearest deadline first
    sectioned = box == "inbox" and not status
    waiting: list[Grant] = []
    more_waiting = False
    if sectioned and before is None:
        pending, next_pending = service.list_grants(
            db.session, identity, see_all=False, limit=WAITING_SHOWN, status="pending", role="owner"
        )
        waiting = sorted(pending, key=lambda grant: grant.respond_by)
        more_waiting = next_pending is not None
    page, next_before = service.list_grants(
        db.session,
        identity,
        see_all=see_all,
        limit=PAGE_SIZE,
        before_id=before,
        status=status or None,
        role={"inbox": "owner", "outbox": "applicant"}.get(box),
    )
    if sectioned:
        page = [grant for grant in page if service.status_at(grant, now) != "pending"]
    return render_page(
        "console/grants.html",
        box=box,
        chosen_status=status,
        status_options=[("", _("All statuses")), *STATUS_LABELS.items()],
        sectioned=sectioned,
        waiting=[_grant_view(grant, now) for grant in waiting],
        more_waiting=more_waiting,
        rows=[_grant_view(grant, now) for grant in page],
        next_cursor=id_cursor(next_before),
        can_apply="grants" in identity.scopes,
        names=_department_names(),
    )


# ---------- one grant, and its answers ----------


@blp.route("/grants/<int:grant_id>")
@require_scope("grants", "admin")
def grant(grant_id: int) -> tuple[str, int]:
    """One request: who asked whom for what and why, where it stands, and what the user's
    department may do with it now."""
    identity = console_identity()
    found = service.get_grant(db.session, identity, grant_id, see_all="admin" in identity.scopes)
    return _grant_page(found)


@blp.route("/grants/<int:grant_id>/approve", methods=["POST"])
@audited(service.APPROVE, "grant/{grant_id}")
@require_scope("grants")
def grant_approve(grant_id: int) -> Page:
    """The owner approves a pending request until the end of the chosen day."""
    identity = console_identity()
    found = service.get_grant(db.session, identity, grant_id, lock=True)
    values, errors = read_form(ApproveFormSchema(), ("expires_at",))
    if errors:
        return _grant_page(found, 422, values=values, errors=errors)
    try:
        service.approve(db.session, identity, found, _end_of_day(values["expires_at"]))
    except HubError as refusal:
        return _grant_page(found, refusal.status, values=_typed(), errors=errors_of(refusal))
    flash(
        _(
            "Request %(id)s is approved: %(department)s sees the fields until %(day)s.",
            id=found.id,
            department=_department_names().get(found.applicant_id, found.applicant_id),
            day=format_day(values["expires_at"]),
        ),
        "success",
    )
    return redirect(url_for("console.grant", grant_id=found.id))


@blp.route("/grants/<int:grant_id>/refuse", methods=["POST"])
@audited(service.REFUSE, "grant/{grant_id}")
@require_scope("grants")
def grant_refuse(grant_id: int) -> Page:
    """The owner refuses a pending request, saying why."""
    identity = console_identity()
    found = service.get_grant(db.session, identity, grant_id, lock=True)
    values, errors = read_form(RefuseInSchema(), ("reason",))
    if errors:
        return _grant_page(found, 422, values=values, errors=errors)
    try:
        service.refuse(db.session, identity, found, values["reason"])
    except HubError as refusal:
        return _grant_page(found, refusal.status, values=_typed(), errors=errors_of(refusal))
    flash(_("Request %(id)s is refused.", id=found.id), "success")
    return redirect(url_for("console.grant", grant_id=found.id))


@blp.route("/grants/<int:grant_id>/revoke", methods=["GET", "POST"])
@audited(service.REVOKE, "grant/{grant_id}")
@require_scope("grants")
def grant_revoke(grant_id: int) -> Page:
    """The owner revokes an active grant: a confirmation page, then the revocation."""
    return _end_grant(grant_id, "revoke")


@blp.route("/grants/<int:grant_id>/withdraw", methods=["GET", "POST"])
@audited(service.REVOKE, "grant/{grant_id}")
@require_scope("grants")
def grant_withdraw(grant_id: int) -> Page:
    """The applicant withdraws a pending request: a confirmation page, then the withdrawal."""
    return _end_grant(grant_id, "withdraw")


def _end_grant(grant_id: int, action: str) -> Page:
    """Confirm (GET) or carry out (POST) the end of a grant: ``revoke`` or ``withdraw``."""
    identity = console_identity()
    posted = request.method == "POST"
    found = service.get_grant(db.session, identity, grant_id, lock=posted)
    allowed = action in _actions(identity, found, utcnow())
    if not posted:
        if not allowed:
            flash(str(CANNOT_END[action]), "warning")
            return redirect(url_for("console.grant", grant_id=found.id))
        return render_page(
            "console/grant_confirm.html",
            action=action,
            grant=_grant_view(found, utcnow()),
            names=_department_names(),
        )
    if not allowed:
        return _grant_page(found, 409, errors={"_form": [str(CANNOT_END[action])]})
    try:
        service.revoke(db.session, identity, found)
    except HubError as refusal:
        return _grant_page(found, refusal.status, errors=errors_of(refusal))
    if action == "revoke":
        flash(_("Grant %(id)s is revoked.", id=found.id), "success")
    else:
        flash(_("Request %(id)s is withdrawn.", id=found.id), "success")
    return redirect(url_for("console.grant", grant_id=found.id))


def _grant_page(
    found: Grant,
    status: int = 200,
    *,
    values: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> tuple[str, int]:
    identity = console_identity()
    now = utcnow()
    return render_page(
        "console/grant.html",
        status,
        grant=_grant_view(found, now),
        actions=_actions(identity, found, now),
        values=values or {},
        errors=_in_words(errors or {}),
        today=_city_today().isoformat(),
        zone=current_app.config["TIMEZONE"],
        names=_department_names(),
    )


def _actions(identity: Identity, found: Grant, now: datetime) -> frozenset[str]:
    """What the user's department may do with ``found`` now: the owner approves or refuses a
    pending request and revokes an active grant; the applicant withdraws a pending one."""
    if "grants" not in identity.scopes:
        return frozenset()
    status = service.status_at(found, now)
    if identity.department_id == found.owner_id:
        if status == "pending":
            return frozenset({"approve", "refuse"})
        if status == "approved":
            return frozenset({"revoke"})
    elif identity.department_id == found.applicant_id and status == "pending":
        return frozenset({"withdraw"})
    return frozenset()


# ---------- a new request ----------


@blp.route("/grants/new", methods=["GET", "POST"])
@audited(service.APPLY)
@require_scope("grants")
def grant_request() -> Page:
    """Ask another department for conditional fields of one record type: choose the type,
    then the fields, the department asked (where several publish it) and the purpose.

    ``?type=land_parcel&fields=transfer_price`` (``fields`` repeated) opens the second step
    prefilled, as the project page's "Request access" links do."""
    identity = console_identity()
    if request.method == "GET":
        asked = {
            "type": request.args.get("type", ""),
            "fields": request.args.getlist("fields"),
            "owner": request.args.get("owner", ""),
        }
        return _request_page(identity, asked)
    values, errors = _read_request_form()
    if errors:
        return _request_page(identity, values, errors, 422)
    try:
        applied = service.apply(
            db.session,
            identity,
            type_name=values["type"],
            fields=values["fields_"],
            purpose=values["purpose"],
            owner=values.get("owner"),
            response_days=current_app.config["GRANT_RESPONSE_DAYS"],
        )
    except HubError as refusal:
        return _request_page(identity, _typed(), errors_of(refusal), refusal.status)
    flash(
        _(
            "Your request is sent to %(department)s, which should answer by %(day)s.",
            department=_department_names().get(applied.owner_id, applied.owner_id),
            day=format_day(applied.respond_by),
        ),
        "success",
    )
    return redirect(url_for("console.grant", grant_id=applied.id))


def _read_request_form() -> tuple[dict[str, Any], FormErrors]:
    """The posted request loaded through the API's ``GrantInSchema``: (values, {}) or (what
    was typed, errors by field). Not ``pages.read_form``: the schema's ``fields`` list is
    ``fields_`` in Python, so that helper would not see that it is a list."""
    typed = _typed()
    wire = {name: typed[name] for name in REQUEST_FIELDS if typed.get(name)}
    wire["fields"] = typed["fields"]
    try:
        return GrantInSchema().load(wire), {}
    except ma.ValidationError as exc:
        return typed, problems(exc.messages_dict)


def _request_page(
    identity: Identity,
    values: Mapping[str, Any],
    errors: FormErrors | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The request form: the choice of a type, or (for a type chosen) the request itself."""
    choices = _grantable_types(identity)
    chosen = choices.get(str(values.get("type", "")))
    own = values.get("type") in identity.publishes
    if values.get("type") and chosen is None and not own and not errors:
        errors = {"type": []}  # a link naming a type that cannot be asked for
    names = _department_names()
    context: dict[str, Any] = {
        "values": values,
        "errors": _in_words(errors or {}),
        "types": [(name, name) for name in choices],
        "own_type": values.get("type") if own else None,
        "record_type": None,
        "response_days": current_app.config["GRANT_RESPONSE_DAYS"],
        "names": names,
    }
    if chosen is not None:
        context["record_type"] = chosen.name
        context["conditional"] = sorted(chosen.fields_of_class("conditional"))
        publishers = service.publishers_of(db.session, chosen.name)
        context["publishers"] = publishers
        context["owner_options"] = [(owner, names.get(owner, owner)) for owner in publishers]
    return render_page("console/grant_request.html", status, **context)


def _grantable_types(identity: Identity) -> dict[str, RecordType]:
    """The record types with conditional fields that the user's department does not publish
    (those it publishes, it sees whole), by name."""
    return {
        name: record_type
        for name, record_type in sorted(registry().items())
        if record_type.fields_of_class("conditional") and not identity.may_publish(name)
    }


# ---------- what the pages show ----------


def _grant_view(found: Grant, now: datetime) -> dict[str, Any]:
    """What a page shows of ``found`` at ``now``: its wire form, plus the days left to answer
    and the type's conditional fields (for a request of all of them)."""
    status = service.status_at(found, now)
    record_type = registry().get(found.record_type)
    return {
        "id": found.id,
        "type": found.record_type,
        "fields": found.fields,
        "all_fields": sorted(record_type.fields_of_class("conditional")) if record_type else [],
        "purpose": found.purpose,
        "applicant": found.applicant_id,
        "owner": found.owner_id,
        "status": status,
        "status_label": str(STATUS_LABELS.get(status, status)),
        "requested_at": found.requested_at,
        "respond_by": found.respond_by,
        "days_left": _days_left(found.respond_by, now),
        "overdue": service.is_overdue(found, now),
        "decided_at": found.decided_at,
        "expires_at": found.expires_at,
        "reason": found.reason,
        "revoked_at": found.revoked_at,
    }


def _days_left(deadline: datetime, now: datetime) -> int:
    """Days until ``deadline``: begun days while it is ahead (1 while less than a day is
    left), then minus the whole days it has passed by, but at least 1."""
    days = (deadline - now) / timedelta(days=1)
    return math.ceil(days) if days >= 0 else -max(1, math.floor(-days))


def _department_names() -> dict[str, str]:
    """Each department's name, by id."""
    return {department.id: department.name for department in auth.list_departments(db.session)}


def _in_words(errors: FormErrors) -> FormErrors:
    """Form errors in the person's language where the console has words for the field."""
    return {
        name: [str(FIELD_MESSAGES[name])] if name in FIELD_MESSAGES else messages
        for name, messages in errors.items()
    }


def _typed() -> dict[str, Any]:
    """What the person typed into a grant form, to show again."""
    form = request.form
    typed: dict[str, Any] = {name: form.get(name, "") for name in TYPED_FIELDS if name in form}
    typed["fields"] = [name for name in form.getlist("fields") if name]
    return typed


def _city() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _city_today() -> date:
    return utcnow().astimezone(_city()).date()


def _end_of_day(day: date) -> datetime:
    """The last second of ``day`` in the city's time zone, in UTC: a grant approved "until
    20 October" holds all that day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=_city()).astimezone(UTC)
