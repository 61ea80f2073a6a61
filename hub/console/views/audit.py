"""The console's audit page (``admin`` scope): the audit log, newest first, filtered like
``GET /api/v1/admin/audit``, and the hash chain's head and verification, like
``hub audit verify``."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import marshmallow as ma
from flask import redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from hub.audit import chain
from hub.audit.entries import AuditFilter, list_entries
from hub.audit.models import AuditEntry
from hub.auth import service as auth
from hub.console.blueprint import blp
from hub.console.pages import FormErrors, render_page, require_scope
from hub.console.views.administration import day_begins, day_ends
from hub.core.db import utcnow
from hub.core.errors import flatten_messages
from hub.core.extensions import db
from hub.core.wire import before_id, id_cursor

PAGE_SIZE = 50
FILTERS = ("department", "action", "target", "since", "until")
# where the last verification's result waits for the page (Post/Redirect/Get)
VERIFICATION = "audit_verification"
_ENTER_DATE = _l("Enter a date such as 2026-12-31.")


class AuditFilterForm(ma.Schema):
    """What to narrow the audit log to; the dates are the city's days, both included."""

    department = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.Length(max=64))
    target = fields.String(validate=validate.Length(max=300))
    since = fields.Date(error_messages={"invalid": _ENTER_DATE})
    until = fields.Date(error_messages={"invalid": _ENTER_DATE})

    @ma.validates_schema
    def _in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until < since:
            raise ma.ValidationError(_("Choose a day on or after the first one."), "until")


def _read_filters() -> tuple[dict[str, Any], FormErrors]:
    typed = {name: request.args[name].strip() for name in FILTERS if request.args.get(name)}
    typed = {name: value for name, value in typed.items() if value}
    try:
        return AuditFilterForm().load(typed), {}
    except ma.ValidationError as exc:
        return typed, flatten_messages(exc.messages)


def _where(values: dict[str, Any]) -> AuditFilter:
    since, until = values.get("since"), values.get("until")
    return AuditFilter(
        department_id=values.get("department"),
        action=values.get("action"),
        target=values.get("target"),
        since=day_begins(since) if since is not None else None,
        until=day_ends(until) if until is not None else None,
    )


def compact_details(entry: AuditEntry) -> str:
    """An entry's details as compact JSON (empty when it has none)."""
    if not entry.details:
        return ""
    return json.dumps(entry.details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@blp.route("/audit")
@require_scope("admin")
def audit() -> tuple[str, int]:
    """Audit entries, newest first, by department, action, target and days; the chain's head
    and the result of the last verification asked for."""
    values, errors = _read_filters()
    entries: list[AuditEntry] = []
    next_cursor = None
    if not errors:
        cursor = {"cursor": request.args.get("cursor")}
        found, next_before = list_entries(db.session, _where(values), PAGE_SIZE, before_id(cursor))
        entries, next_cursor = found, id_cursor(next_before)
    head_seq, head_hash = chain.head(db.session)
    verification = session.pop(VERIFICATION, None)
    if verification is not None:
        verification["checked_at"] = datetime.fromisoformat(verification["checked_at"])
    return render_page(
        "console/audit.html",
        422 if errors else 200,
        entries=[{"entry": entry, "details": compact_details(entry)} for entry in entries],
        next_cursor=next_cursor,
        values={name: _shown(values.get(name)) for name in FILTERS},
        errors=errors,
        department_options=[("", _("Any department"))]
        + [(d.id, f"{d.name} ({d.id})") for d in auth.list_departments(db.session)],
        head={"seq": head_seq, "hash": head_hash},
        verification=verification,
        filtered=any(values.get(name) for name in FILTERS),
    )


def _shown(value: Any) -> str:
    """A filter's value as its field shows it."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")


def _verify_chain() -> chain.ChainReport:
    """Walk the chain as ``hub audit verify`` does, in a read-only transaction of its own.

    The request's own (a writer, this being a POST) is ended first: the walk holds no lock
    and sees one snapshot throughout.
    """
    db.end_read()
    with Session(db.engine) as reader:
        return chain.verify(reader, key=chain.configured_key())


@blp.route("/audit/verify", methods=["POST"])
@require_scope("admin")
def verify_audit() -> Response:
    """Check the audit log's hash chain and show the result on the audit page."""
    report = _verify_chain()
    session[VERIFICATION] = {
        "intact": report.intact,
        "sealed": report.sealed,
        "unsealed": report.unsealed,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "keyed_from_seq": report.keyed_from_seq,
        "broken_at_seq": report.broken_at_seq,
        "broken_entry_id": report.broken_entry_id,
        "problem": report.problem,
        "checked_at": utcnow().isoformat(),
    }
    return redirect(url_for("console.audit"))
