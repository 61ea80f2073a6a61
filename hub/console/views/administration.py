"""The console's administration pages: departments, access keys and users (``admin`` scope).

Every change goes through the service its API twin calls (``hub.auth.service``,
``hub.users.service``) with the signed-in user's actor, so the audit log gets the same entry,
with the user as actor; each POST view declares that action (``@audited``) so that what the
user was refused is recorded too, as over the API.

A secret made here (a new key's secret, a rotated key's new one, an invitation link) is shown
once (Post/Redirect/Get): the POST that makes it keeps it in the session under a one-time name
and redirects to the thing's page, which takes it out as it shows it. Reloading that page
shows it no more, and the database keeps only its digest. The session is a signed, HttpOnly
cookie, so the secret crosses the network in the redirect and the next request only, as it
would in the page itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from werkzeug.wrappers import Response

from hub.auth import service as auth
from hub.auth.guard import audited
from hub.auth.models import AccessKey, Department
from hub.console.blueprint import blp
from hub.console.pages import FormErrors, errors_of, read_form, render_page, require_scope
from hub.console.signin import console_identity, current_user
from hub.core.db import utcnow
from hub.core.errors import Conflict, Unprocessable
from hub.core.extensions import db
from hub.core.http import city_today
from hub.users import service as people
from hub.users.models import User
from schemas import registry

Page = tuple[str, int] | Response

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "office": _l("Leading group office"),
    "officer": _l("Department officer"),
    "viewer": _l("Viewer"),
}
SCOPE_LABELS = {
    "records:read": _l("read records"),
    "records:write": _l("publish the department's records"),
    "events:read": _l("follow the change feed"),
    "subscriptions": _l("manage subscriptions"),
    "grants": _l("apply for and decide sharing requests"),
    "admin": _l("administer the hub"),
    "supervision": _l("supervise every project"),
}
SIGN_IN_LABELS = {
    "password": _l("Password"),
    "invited": _l("Invited"),
    "invitation_expired": _l("Invitation expired"),
    "single_sign_on": _l("Single sign-on"),
    "none": _l("Cannot sign in"),
}
_ENTER_DATE = _l("Enter a date such as 2026-12-31.")


# Shown once


def _keep_once(slot: str, value: str) -> None:
    """Keep ``value`` in the session until the page of ``slot`` takes it."""
    session[f"once:{slot}"] = value


def _take_once(slot: str) -> str | None:
    """The value kept for ``slot``, gone from the session from now on."""
    value: str | None = session.pop(f"once:{slot}", None)
    return value


# The city's days


def day_begins(day: date) -> datetime:
    """The moment ``day`` begins in the city's time zone, in UTC."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_ends(day: date) -> datetime:
    """The moment ``day`` ends in the city's time zone (the next one begins), in UTC."""
    return day_begins(day + timedelta(days=1))


def last_day(expires_at: datetime | None) -> str:
    """The city's day at whose end ``expires_at`` falls, as a date field shows it ("" for
    none)."""
    if expires_at is None:
        return ""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date().isoformat()


def _not_past(day: date) -> None:
    if day < city_today():
        raise ma.ValidationError(_("Choose today or a later date."))


# Forms


class DepartmentForm(ma.Schema):
    """A department to add (all fields) or change (name and publishes)."""

    id = fields.String(
        required=True,
        error_messages={"required": _l("Enter the department's id.")},
        validate=validate.Regexp(
            auth.DEPARTMENT_ID_PATTERN,
            error=_l("Use 2 to 64 lower-case letters, digits, '_' or '-', starting with a letter."),
        ),
    )
    name = fields.String(
        required=True,
        error_messages={"required": _l("Enter the department's name.")},
        validate=validate.Length(max=200, error=_l("Use at most 200 characters.")),
    )
    publishes = fields.List(
        fields.String(validate=validate.OneOf(tuple(registry()), error=_l("Not a record type."))),
        load_default=list,
    )


class KeyForm(ma.Schema):
    """An access key to create."""

    department = fields.String(
        required=True, error_messages={"required": _l("Choose the department the key acts for.")}
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(auth.SCOPES, error=_l("Not a scope."))),
        validate=validate.Length(min=1, error=_l("Choose at least one scope.")),
        load_default=list,
    )
    name = fields.String(
        load_default="", validate=validate.Length(max=200, error=_l("Use at most 200 characters."))
    )
    expires_on = fields.Date(
        load_default=None, validate=_not_past, error_messages={"invalid": _ENTER_DATE}
    )


class ExpiryForm(ma.Schema):
    """The last day a key works."""

    expires_on = fields.Date(
        required=True,
        validate=_not_past,
        error_messages={
            "required": _l("Enter the last day the key works."),
            "invalid": _ENTER_DATE,
        },
    )


class RotationForm(ma.Schema):
    """How long a rotated key's old secret keeps working."""

    grace_seconds = fields.Integer(
        required=True,
        validate=validate.Range(
            min=0,
            max=auth.MAX_GRACE_SECONDS,
            error=_l("Enter a whole number of seconds from {min} to {max}."),
        ),
        error_messages={
            "required": _l("Enter how many seconds the old secret keeps working."),
            "invalid": _l("Enter a whole number of seconds."),
        },
    )


class UserForm(ma.Schema):
    """A user to add (all fields) or change (name, department, role)."""

    username = fields.String(
        required=True,
        error_messages={"required": _l("Enter a username.")},
        validate=validate.Regexp(
            people.USERNAME_PATTERN,
            error=_l(
                "Use 2 to 64 lower-case letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit."
            ),
        ),
    )
    display_name = fields.String(
        load_default="", validate=validate.Length(max=200, error=_l("Use at most 200 characters."))
    )
    department = fields.String(
        required=True, error_messages={"required": _l("Choose the user's department.")}
    )
    role = fields.String(
        required=True,
        error_messages={"required": _l("Choose a role.")},
        validate=validate.OneOf(people.ROLES, error=_l("Choose a role.")),
    )
    sign_in = fields.String(load_default="invite", validate=validate.OneOf(("invite", "password")))
    password = fields.String(load_default="")
    confirm = fields.String(load_default="")

    @ma.validates_schema
    def _passwords(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("sign_in") != "password":
            return
        password = data.get("password", "")
        if not people.MIN_PASSWORD_LENGTH <= len(password) <= people.MAX_PASSWORD_LENGTH:
            message = _(
                "Use %(min)s to %(max)s characters.",
                min=people.MIN_PASSWORD_LENGTH,
                max=people.MAX_PASSWORD_LENGTH,
            )
            raise ma.ValidationError(message, "password")
        if data.get("confirm") != password:
            raise ma.ValidationError(_("The two passwords differ."), "confirm")


DEPARTMENT_FIELDS = ("id", "name", "publishes")
DEPARTMENT_CHANGES = ("name", "publishes")
KEY_FIELDS = ("department", "scopes", "name", "expires_on")
USER_FIELDS = ("username", "display_name", "department", "role", "sign_in", "password", "confirm")
USER_CHANGES = ("display_name", "department", "role")


def _known_department(values: dict[str, Any], errors: FormErrors) -> None:
    """Name the department field if it holds no department (the lists offer only these)."""
    chosen = values.get("department")
    if "department" not in errors and chosen not in _department_ids():
        errors["department"] = [_("Choose a department.")]


def _department_ids() -> list[str]:
    return [department.id for department in auth.list_departments(db.session)]


def _department_options(none_label: str | None = None) -> list[tuple[str, str]]:
    """Departments to choose from, by id; first ``none_label`` for none (all, or not yet)."""
    options = [
        (department.id, f"{department.name} ({department.id})")
        for department in auth.list_departments(db.session)
    ]
    return [("", none_label), *options] if none_label is not None else options


# Departments


def _record_type_options() -> list[tuple[str, str]]:
    # record types go by their names, as in the API
    return [(name, name) for name in registry()]


def _department_state(department: Department) -> str:
    return "disabled" if department.disabled_at is not None else "active"


def _departments_page(status: int = 200, **context: Any) -> Page:
    return render_page(
        "console/departments.html",
        status,
        departments=[
            {"department": department, "state": _department_state(department)}
            for department in auth.list_departments(db.session)
        ],
        record_types=_record_type_options(),
        **context,
    )


@blp.route("/departments", methods=["GET", "POST"])
@audited(auth.DEPARTMENT_CREATE)
@require_scope("admin")
def departments() -> Page:
    """Every department, and the form to add one."""
    if request.method == "GET":
        return _departments_page(values={}, errors={})
    values, errors = read_form(DepartmentForm(), DEPARTMENT_FIELDS)
    if not errors:
        try:
            department = auth.add_department(
                db.session,
                console_identity().actor,
                values["id"],
                values["name"],
                values["publishes"],
            )
        except Conflict:
            errors = {"id": [_("A department with this id exists already.")]}
        except Unprocessable as refusal:
            errors = errors_of(refusal)
        else:
            flash(_("Department %(id)s added.", id=department.id), "success")
            return redirect(url_for("console.department", department_id=department.id))
    return _departments_page(422, values=values, errors=errors)


def _department_page(department: Department, status: int = 200, **context: Any) -> Page:
    context.setdefault("values", {"name": department.name, "publishes": list(department.publishes)})
    return render_page(
        "console/department.html",
        status,
        department=department,
        state=_department_state(department),
        record_types=_record_type_options(),
        key_count=len(auth.list_keys(db.session, department.id)),
        user_count=len(people.list_users(db.session, department.id)),
        own=department.id == console_identity().department_id,
        errors=context.pop("errors", {}),
        **context,
    )


@blp.route("/departments/<department_id>", methods=["GET", "POST"])
@audited(auth.DEPARTMENT_UPDATE, "department/{department_id}")
@require_scope("admin")
def department(department_id: str) -> Page:
    """A department: rename it, change what it may publish, disable or enable it."""
    found = auth.get_department(db.session, department_id)
    if request.method == "GET":
        return _department_page(found)
    values, errors = read_form(DepartmentForm(only=DEPARTMENT_CHANGES), DEPARTMENT_CHANGES)
    if errors:
        return _department_page(found, 422, values=values, errors=errors)
    auth.update_department(
        db.session,
        console_identity().actor,
        department_id,
        name=values["name"],
        publishes=values["publishes"],
    )
    flash(_("Your changes to %(id)s are saved.", id=department_id), "success")
    return redirect(url_for("console.department", department_id=department_id))


@blp.route("/departments/<department_id>/disable", methods=["GET", "POST"])
@audited(auth.DEPARTMENT_UPDATE, "department/{department_id}")
@require_scope("admin")
def disable_department(department_id: str) -> Page:
    """Ask, then disable a department: its keys, tokens and people are refused."""
    found = auth.get_department(db.session, department_id)
    if found.id == console_identity().department_id:
        raise Conflict(_("You cannot disable your own department: you would be signed out."))
    if request.method == "GET":
        return render_page("console/department_disable.html", department=found)
    auth.update_department(db.session, console_identity().actor, department_id, disabled=True)
    flash(_("Department %(id)s is disabled.", id=department_id), "success")
    return redirect(url_for("console.department", department_id=department_id))


@blp.route("/departments/<department_id>/enable", methods=["POST"])
@audited(auth.DEPARTMENT_UPDATE, "department/{department_id}")
@require_scope("admin")
def enable_department(department_id: str) -> Response:
    """Enable a disabled department again."""
    auth.update_department(db.session, console_identity().actor, department_id, disabled=False)
    flash(_("Department %(id)s is enabled again.", id=department_id), "success")
    return redirect(url_for("console.department", department_id=department_id))


# Access keys


def _key_slot(key_id: str) -> str:
    return f"key/{key_id}"


def _keys_page(status: int = 200, **context: Any) -> Page:
    department = request.args.get("department") or None
    now = utcnow()
    return render_page(
        "console/keys.html",
        status,
        keys=[
            {"key": key, "state": auth.key_state(key, now)}
            for key in auth.list_keys(db.session, department)
        ],
        department=department,
        department_options=_department_options(_("Choose a department")),
        filter_options=_department_options(_("All departments")),
        scopes=[(scope, f"{scope} · {SCOPE_LABELS.get(scope, '')}") for scope in auth.SCOPES],
        **context,
    )


@blp.route("/keys", methods=["GET", "POST"])
@audited(auth.KEY_CREATE)
@require_scope("admin")
def keys() -> Page:
    """Access keys, newest first (of one department with ``?department=``), and the form to
    create one."""
    if request.method == "GET":
        chosen = request.args.get("department", "")
        return _keys_page(values={"department": chosen, "scopes": []}, errors={})
    values, errors = read_form(KeyForm(), KEY_FIELDS)
    _known_department(values, errors)
    if not errors:
        expires_on: date | None = values["expires_on"]
        try:
            key, secret = auth.create_key(
                db.session,
                console_identity().actor,
                values["department"],
                values["scopes"],
                values["name"],
                day_ends(expires_on) if expires_on is not None else None,
            )
        except Unprocessable as refusal:
            errors = _renamed(errors_of(refusal), {"expires_at": "expires_on"})
        else:
            _keep_once(_key_slot(key.id), secret)
            flash(_("Access key %(id)s created.", id=key.id), "success")
            return redirect(url_for("console.key", key_id=key.id))
    values.setdefault("scopes", [])
    return _keys_page(422, values=values, errors=errors)


def _renamed(errors: FormErrors, names: dict[str, str]) -> FormErrors:
    return {names.get(name, name): messages for name, messages in errors.items()}


def _key_page(key: AccessKey, status: int = 200, **context: Any) -> Page:
    context.setdefault("values", {"expires_on": last_day(key.expires_at)})
    return render_page(
        "console/key.html",
        status,
        key=key,
        state=auth.key_state(key, utcnow()),
        scope_labels=SCOPE_LABELS,
        errors=context.pop("errors", {}),
        **context,
    )


@blp.route("/keys/<key_id>")
@require_scope("admin")
def key(key_id: str) -> Page:
    """An access key; after it was created or rotated, its secret, this once."""
    found = auth.get_key(db.session, key_id)
    return _key_page(found, secret=_take_once(_key_slot(found.id)))


@blp.route("/keys/<key_id>/rotate", methods=["GET", "POST"])
@audited(auth.KEY_ROTATE, "key/{key_id}")
@require_scope("admin")
def rotate_key(key_id: str) -> Page:
    """Ask, then give a key a new secret; the old one works for the grace period."""
    found = auth.get_key(db.session, key_id)
    default = current_app.config["KEY_ROTATION_GRACE"]
    if request.method == "GET":
        values = {"grace_seconds": default}
        return render_page("console/key_rotate.html", key=found, values=values, errors={})
    values, errors = read_form(RotationForm(), ("grace_seconds",))
    if errors:
        return render_page("console/key_rotate.html", 422, key=found, values=values, errors=errors)
    rotated, secret = auth.rotate_key(
        db.session, console_identity().actor, key_id, values["grace_seconds"]
    )
    _keep_once(_key_slot(rotated.id), secret)
    flash(_("Access key %(id)s has a new secret.", id=rotated.id), "success")
    return redirect(url_for("console.key", key_id=rotated.id))


@blp.route("/keys/<key_id>/revoke", methods=["GET", "POST"])
@audited(auth.KEY_REVOKE, "key/{key_id}")
@require_scope("admin")
def revoke_key(key_id: str) -> Page:
    """Ask, then revoke a key: it and its tokens are refused from the next request."""
    found = auth.get_key(db.session, key_id)
    if request.method == "GET":
        return render_page("console/key_revoke.html", key=found)
    auth.revoke_key(db.session, console_identity().actor, key_id)
    flash(_("Access key %(id)s is revoked.", id=key_id), "success")
    return redirect(url_for("console.key", key_id=key_id))


@blp.route("/keys/<key_id>/expire", methods=["POST"])
@audited(auth.KEY_EXPIRE, "key/{key_id}")
@require_scope("admin")
def expire_key(key_id: str) -> Page:
    """Set the last day a key works (it stops at that day's end in the city), end it now, or
    let it work until revoked."""
    found = auth.get_key(db.session, key_id)
    action = request.form.get("action", "date")
    expires_at: datetime | None
    if action == "now":
        expires_at = utcnow()
        message = _("Access key %(id)s has stopped working.", id=key_id)
    elif action == "clear":
        expires_at = None
        message = _("Access key %(id)s works until it is revoked.", id=key_id)
    else:
        values, errors = read_form(ExpiryForm(), ("expires_on",))
        if errors:
            return _key_page(found, 422, values=values, errors=errors)
        expires_at = day_ends(values["expires_on"])
        message = _("Access key %(id)s works until the end of that day.", id=key_id)
    auth.expire_key(db.session, console_identity().actor, key_id, expires_at)
    flash(message, "success")
    return redirect(url_for("console.key", key_id=key_id))


# Users


def _invite_slot(username: str) -> str:
    return f"invite/{username}"


def _user_state(user: User, disabled_departments: Iterable[str]) -> str:
    if user.disabled_at is not None:
        return "disabled"
    if user.department_id in disabled_departments:
        return "department_disabled"
    return "active"


def _disabled_departments() -> set[str]:
    return {
        department.id
        for department in auth.list_departments(db.session)
        if department.disabled_at is not None
    }


def _role_options() -> list[tuple[str, str]]:
    return [(role, str(ROLE_LABELS[role])) for role in people.ROLES]


def _users_page(status: int = 200, **context: Any) -> Page:
    department = request.args.get("department") or None
    now = utcnow()
    disabled = _disabled_departments()
    return render_page(
        "console/users.html",
        status,
        users=[
            {
                "user": user,
                "state": _user_state(user, disabled),
                "sign_in": people.sign_in_method(user, now),
            }
            for user in people.list_users(db.session, department)
        ],
        department=department,
        department_options=_department_options(_("Choose a department")),
        filter_options=_department_options(_("All departments")),
        role_options=_role_options(),
        role_labels=ROLE_LABELS,
        sign_in_labels=SIGN_IN_LABELS,
        min_password=people.MIN_PASSWORD_LENGTH,
        **context,
    )


@blp.route("/users", methods=["GET", "POST"], endpoint="users")
@audited(people.CREATE)
@require_scope("admin")
def user_list() -> Page:
    """The console's users (of one department with ``?department=``), and the form to add
    one with a password or an invitation."""
    if request.method == "GET":
        chosen = request.args.get("department", "")
        return _users_page(values={"department": chosen, "sign_in": "invite"}, errors={})
    values, errors = read_form(UserForm(), USER_FIELDS)
    _known_department(values, errors)
    password = values.pop("password", "")
    values.pop("confirm", None)
    if not errors:
        try:
            user, token = people.add_user(
                db.session,
                console_identity().actor,
                values["username"],
                values["department"],
                values["role"],
                current_app.config,
                display_name=values["display_name"],
                password=password if values["sign_in"] == "password" else None,
            )
        except Conflict:
            errors = {"username": [_("A user with this username exists already.")]}
        except Unprocessable as refusal:
            errors = errors_of(refusal)
        else:
            if token is not None:
                _keep_once(
                    _invite_slot(user.username), people.invite_link(current_app.config, token)
                )
            flash(_("User %(username)s added.", username=user.username), "success")
            return redirect(url_for("console.user", username=user.username))
    return _users_page(422, values=values, errors=errors)


def _user_page(user: User, status: int = 200, **context: Any) -> Page:
    context.setdefault(
        "values",
        {"display_name": user.display_name, "department": user.department_id, "role": user.role},
    )
    signed_in = current_user()
    return render_page(
        "console/user.html",
        status,
        user=user,
        state=_user_state(user, _disabled_departments()),
        sign_in=people.sign_in_method(user, utcnow()),
        sign_in_labels=SIGN_IN_LABELS,
        role_labels=ROLE_LABELS,
        role_options=_role_options(),
        department_options=_department_options(),
        yourself=signed_in is not None and signed_in.id == user.id,
        errors=context.pop("errors", {}),
        **context,
    )


@blp.route("/users/<username>", methods=["GET", "POST"])
@audited(people.UPDATE, "user/{username}")
@require_scope("admin")
def user(username: str) -> Page:
    """A user: change their name, department or role; disable, enable or reset their
    password; after they were added or reset, their invitation link, this once."""
    found = people.get_user(db.session, username)
    if request.method == "GET":
        return _user_page(found, link=_take_once(_invite_slot(found.username)))
    values, errors = read_form(UserForm(only=USER_CHANGES), USER_CHANGES)
    _known_department(values, errors)
    if errors:
        return _user_page(found, 422, values=values, errors=errors)
    people.update_user(
        db.session,
        console_identity().actor,
        username,
        display_name=values["display_name"] or found.username,
        department_id=values["department"],
        role=values["role"],
    )
    flash(_("Your changes to %(username)s are saved.", username=username), "success")
    return redirect(url_for("console.user", username=username))


def _not_yourself(user: User) -> None:
    signed_in = current_user()
    if signed_in is not None and signed_in.id == user.id:
        raise Conflict(_("You cannot disable yourself."))


@blp.route("/users/<username>/disable", methods=["GET", "POST"])
@audited(people.UPDATE, "user/{username}")
@require_scope("admin")
def disable_user(username: str) -> Page:
    """Ask, then disable a user: they are signed out at their next request."""
    found = people.get_user(db.session, username)
    _not_yourself(found)
    if request.method == "GET":
        return render_page("console/user_disable.html", user=found)
    people.update_user(db.session, console_identity().actor, username, disabled=True)
    flash(_("User %(username)s is disabled and signed out.", username=username), "success")
    return redirect(url_for("console.user", username=username))


@blp.route("/users/<username>/enable", methods=["POST"])
@audited(people.UPDATE, "user/{username}")
@require_scope("admin")
def enable_user(username: str) -> Response:
    """Enable a disabled user again."""
    people.update_user(db.session, console_identity().actor, username, disabled=False)
    flash(_("User %(username)s is enabled again.", username=username), "success")
    return redirect(url_for("console.user", username=username))


@blp.route("/users/<username>/reset-password", methods=["GET", "POST"])
@audited(people.RESET_PASSWORD, "user/{username}")
@require_scope("admin")
def reset_password(username: str) -> Page:
    """Ask, then clear a user's password and make a new invitation to set one."""
    found = people.get_user(db.session, username)
    if request.method == "GET":
        return render_page("console/user_reset_password.html", user=found)
    token = people.reset_password(
        db.session, console_identity().actor, username, current_app.config
    )
    assert token is not None, "without a password, a reset always makes an invitation"
    _keep_once(_invite_slot(username), people.invite_link(current_app.config, token))
    flash(_("The password of %(username)s is cleared.", username=username), "success")
    return redirect(url_for("console.user", username=username))
