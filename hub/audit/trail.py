"""The audit trail of HTTP requests: every write and every disclosure of protected fields.

Views do not audit themselves. Whatever a write view does, the request is recorded here once,
from its endpoint, arguments and response: a successful write in its own unit of work (so the
entry commits exactly when the change does), a refused one in a unit of work of its own (the
change's is rolled back). The one exception is the hot path: a record write view hands
:func:`change_entry` to the records service, whose write statement inserts the entry itself
(on PostgreSQL), and the trail then has nothing left to add. A read is recorded when it
returned ``conditional`` or ``restricted`` fields, which the renderers report through
:func:`note_disclosure`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.audit import service
from hub.auth.identity import Identity, bearer_credential
from hub.auth.service import KEY_PATTERN
from hub.errors import Unauthorized
from hub.extensions import db
from schemas import RecordType

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refusals that say nothing about the caller's intent, or that count requests we must not
# turn into writes (a flood of them is what rate limits are for).
UNRECORDED_STATUSES = frozenset({404, 405, 429})
logger = logging.getLogger(__name__)
# A listing names at most this many of the records it disclosed.
MAX_DISCLOSED_LISTED = 1000
# Action names, the same whether an action came over HTTP or from the CLI; an endpoint not
# named here is recorded under its endpoint name.
ACTIONS = {
    "auth.token": "token.exchange",
    "records.put_record": "record.put",
    "records.patch_record": "record.patch",
    "records.delete_record": "record.delete",
    "records.batch_publish": "record.batch",
    "records.get_record": "record.read",
    "records.list_records": "record.list",
    "records.record_history": "record.history",
    "records.project_dossier": "project.dossier",
    "events.feed": "events.read",
    "admin.create_department": "department.create",
    "admin.update_department": "department.update",
    "admin.create_key": "key.create",
    "admin.rotate_key": "key.rotate",
    "admin.expire_key": "key.expire",
    "admin.revoke_key": "key.revoke",
    "grants.apply": "grant.apply",
    "grants.approve": "grant.approve",
    "grants.refuse": "grant.refuse",
    "grants.revoke": "grant.revoke",
    "subscriptions.create_subscription": "subscription.create",
    "subscriptions.delete_subscription": "subscription.delete",
    "subscriptions.pause_subscription": "subscription.pause",
    "subscriptions.resume_subscription": "subscription.resume",
    "subscriptions.replay_subscription": "subscription.replay",
    "subscriptions.rotate_secret": "subscription.rotate_secret",
    "subscriptions.pull_events": "subscription.pull",
    "subscriptions.ack_events": "subscription.ack",
}
# Endpoints that create something named in their response rather than in their URL.
CREATED = {
    "admin.create_department": "department",
    "admin.create_key": "key",
    "grants.apply": "grant",
    "subscriptions.create_subscription": "subscription",
}


def note_disclosure(record_type: RecordType, key: str, shown: Mapping[str, Any]) -> None:
    """Remember that the response shows ``key``'s protected fields, if it does."""
    protected = record_type.protected_fields & shown.keys()
    if protected and has_request_context():
        disclosed: dict[str, set[str]] = g.setdefault("audit_disclosed", {})
        disclosed.setdefault(f"{record_type.name}/{key}", set()).update(protected)


def _target(view_args: Mapping[str, Any], response: Response | None) -> str:
    """What a request acted on, named the same way whatever the endpoint."""
    created = CREATED.get(request.endpoint or "")
    if created and response is not None and response.status_code == 201:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and "id" in body:
            return f"{created}/{body['id']}"
    if "type_name" in view_args:
        key = view_args.get("key")
        return f"{view_args['type_name']}/{key}" if key else str(view_args["type_name"])
    for argument, kind in (
        ("project_code", "project"),
        ("grant_id", "grant"),
        ("key_id", "key"),
        ("department_id", "department"),
        ("subscription_id", "subscription"),
        ("name", "connector"),
    ):
        if argument in view_args:
            return f"{kind}/{view_args[argument]}"
    return request.path


def _caller() -> tuple[str, str | None, str | None]:
    """Who made the request: actor, department and key (the key a token exchange named)."""
    identity: Identity | None = g.get("identity")
    if identity is not None:
        return f"key:{identity.key_id}", identity.department_id, identity.key_id
    # An unauthenticated request names at most the key it presented; never store the secret.
    try:
        match = KEY_PATTERN.match(bearer_credential())
    except Unauthorized:
        match = None
    if match:
        return f"key:{match['id']}", None, match["id"]
    return "anonymous", None, None


def _write_details(response: Response) -> dict[str, Any]:
    details: dict[str, Any] = {"method": request.method, "path": request.path}
    if response.status_code >= 400 or request.endpoint == "records.batch_publish":
        # Only errors and batch results are read back: a success's body may carry secrets.
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            if "detail" in body:
                details["detail"] = body["detail"]
            if "results" in body:
                details["results"] = [
                    {"key": r.get("key"), "status": r.get("status")} for r in body["results"]
                ]
    elif etag := response.headers.get("ETag"):
        details["version"] = etag.strip('"')
    return details


def _read_details(disclosed: Mapping[str, set[str]]) -> dict[str, Any]:
    records = sorted(disclosed)
    fields = sorted(set().union(*disclosed.values()))
    details: dict[str, Any] = {"method": request.method, "path": request.path, "fields": fields}
    details["records"] = records[:MAX_DISCLOSED_LISTED]
    if len(records) > MAX_DISCLOSED_LISTED:
        details["records_not_listed"] = len(records) - MAX_DISCLOSED_LISTED
    return details


def _entry(response: Response | None, action: str, details: dict[str, Any]) -> dict[str, Any]:
    """The entry of this request; without a response, all but its outcome."""
    actor, department_id, key_id = _caller()
    entry: dict[str, Any] = {
        "action": action,
        "target": _target(request.view_args or {}, response),
        "actor": actor,
        "department_id": department_id,
        "key_id": key_id,
        "remote_addr": request.remote_addr,
        "details": details,
    }
    if response is not None:
        entry["outcome"] = response.status_code
    return entry


def change_entry() -> service.ChangeEntry:
    """The audit entry of this request's record change, for the write itself to insert."""
    action = ACTIONS.get(request.endpoint or "", request.endpoint or "")
    entry = service.ChangeEntry(
        _entry(None, action, {"method": request.method, "path": request.path})
    )
    g.audit_change = entry
    return entry


@dataclass(frozen=True)
class PendingEntry:
    """The audit entry of a request, and what kind of event it records.

    ``change``: a successful write, recorded in the change's own unit of work. ``refusal``: a
    refused write, recorded apart (the change rolled back); losing it must not hide the
    refusal's own answer. ``disclosure``: a read that showed protected fields, recorded apart,
    and the read fails if it cannot be recorded.
    """

    entry: dict[str, Any]
    kind: Literal["change", "refusal", "disclosure"]

    @property
    def with_change(self) -> bool:
        """Whether the entry commits with the request's own unit of work."""
        return self.kind == "change"


def change_written() -> bool:
    """Whether this request's write inserted its own audit entry (see change_entry)."""
    change: service.ChangeEntry | None = g.get("audit_change")
    return change is not None and change.written_outcome is not None


def pending_entry(response: Response) -> PendingEntry | None:
    """The audit entry this request calls for, or None if nothing is audited."""
    if request.endpoint is None or not request.path.startswith("/api/"):
        return None
    status = response.status_code
    if request.method in WRITE_METHODS:
        if status in UNRECORDED_STATUSES:
            return None
        if status == 401 and request.endpoint != "auth.token":
            return None  # no identity: nothing to attribute, and cheap to flood
        change: service.ChangeEntry | None = g.get("audit_change")
        if change is not None and change.written_outcome == status:
            return None  # the write inserted its entry (see change_entry)
        action = ACTIONS.get(request.endpoint, request.endpoint)
        entry = _entry(response, action, _write_details(response))
        return PendingEntry(entry, "change" if status < 400 else "refusal")
    disclosed = g.get("audit_disclosed")
    if disclosed and status < 400:
        action = ACTIONS.get(request.endpoint, request.endpoint)
        return PendingEntry(_entry(response, action, _read_details(disclosed)), "disclosure")
    return None


def record_in(session: Session, entry: Mapping[str, Any]) -> None:
    """Write a pending entry in ``session``'s unit of work."""
    service.record(session, **entry)


def record_apart(pending: PendingEntry) -> None:
    """Write an entry in a unit of work of its own (after the request's has ended)."""
    try:
        with db.separate_unit_of_work() as session:
            service.record(session, **pending.entry)
    except SQLAlchemyError:
        if pending.kind == "disclosure":
            raise
        logger.warning("Could not audit a refused request", exc_info=True)


def seal_if_due() -> None:
    """Run a sealing round if this process has not run one for ``AUDIT_SEAL_INTERVAL``.

    A failed round leaves the entries unsealed for the next one; the response stands.
    """
    state: dict[str, float] = current_app.extensions["hub.audit"]
    now = time.monotonic()
    if now - state["last_sealed"] < current_app.config["AUDIT_SEAL_INTERVAL"]:
        return
    state["last_sealed"] = now
    try:
        with db.separate_unit_of_work() as session:
            service.seal(session)
    except SQLAlchemyError:
        logger.warning("Audit sealing round failed; the next one will retry", exc_info=True)


def init_app(app: Flask) -> None:
    """Prepare the per-process sealing clock."""
    app.extensions["hub.audit"] = {"last_sealed": float("-inf")}
