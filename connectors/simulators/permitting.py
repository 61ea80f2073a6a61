"""Simulator of the online approval system: OAuth client credentials and cursor pagination.

Every change to an approval takes the next value of one global revision counter, so "the
approvals with a revision above r" is a complete change feed a client can resume; the opaque
cursor only wraps r. The system also receives the hub's project master data and ignores a push
whose sourceVersion is older than the one it holds, so a replayed push never overwrites a newer.
"""

from __future__ import annotations

import base64
import random
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue

from connectors.simulators import (
    SimControl,
    china_now,
    json_object,
    project_codes,
    seeded_moment,
    unknown_fields,
)

HANDLING_ORGS = {
    "LAND_PRE_REVIEW": "杭州市规划和自然资源局",
    "SITE_SELECTION": "杭州市规划和自然资源局",
    "PLANNING_PERMIT": "杭州市规划和自然资源局",
    "EIA": "杭州市生态环境局",
    "ENERGY_REVIEW": "杭州市发展和改革委员会",
    "CONSTRUCTION_PERMIT": "杭州市城乡建设委员会",
    "COMPLETION_ACCEPTANCE": "杭州市城乡建设委员会",
    "OTHER": "杭州市数据资源管理局",
}
ITEM_CODES = tuple(HANDLING_ORGS)
STATES = ("NOT_STARTED", "SUBMITTED", "ACCEPTED", "APPROVED", "REJECTED", "WITHDRAWN")
# what a client may send; the revision is the server's own
APPROVAL_FIELDS = (
    "approvalId",
    "projectCode",
    "itemCode",
    "handlingOrg",
    "state",
    "submitTime",
    "approveTime",
    "certificateNo",
    "timeLimitDays",
    "applicantContact",
    "deleted",
)
PROJECT_FIELDS = (
    "projectCode",
    "projectName",
    "category",
    "stage",
    "divisionCode",
    "leadOrg",
    "totalInvestment",
    "plannedStart",
    "plannedCompletion",
    "sourceVersion",
)
CONTACTS = ("王工 0571-87001234", "李经理 13957100001", "陈女士 0571-86002345")
CURSOR_TEXT = re.compile(r"^rev:(0|[1-9][0-9]{0,17})\Z")

Approval = dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _approval(rng: random.Random, serial: int, project: str) -> Approval:
    item, state = rng.choice(ITEM_CODES), rng.choice((*STATES, "APPROVED"))
    submitted = None if state == "NOT_STARTED" else seeded_moment(rng) - timedelta(days=30)
    approved = None
    if state == "APPROVED" and submitted:
        approved = submitted + timedelta(days=rng.randrange(1, 30), hours=rng.randrange(8))
    year = (submitted or china_now()).year
    return {
        "approvalId": f"AP-{year}-{serial:06d}",
        "projectCode": project,
        "itemCode": item,
        "handlingOrg": HANDLING_ORGS[item],
        "state": state,
        "submitTime": _iso(submitted),
        "approveTime": _iso(approved),
        "certificateNo": f"杭审〔{year}〕第{serial:06d}号" if approved else None,
        "timeLimitDays": rng.choice((None, 5, 10, 20, 30, 60)),
        "applicantContact": rng.choice((None, *CONTACTS)),
        "deleted": rng.random() < 0.03,
        "revision": serial,
    }


def generate_approvals(seed: int, count: int, projects: list[str]) -> list[Approval]:
    """``count`` approvals determined by ``seed``, with revisions 1..count."""
    rng = random.Random(seed)
    return [_approval(rng, n, projects[(n - 1) % len(projects)]) for n in range(1, count + 1)]


def encode_cursor(revision: int) -> str:
    """The opaque cursor standing for "after ``revision``"."""
    # unpadded, so it needs no escaping in a query string
    return base64.urlsafe_b64encode(f"rev:{revision}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The revision a cursor stands for, or None if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        match = CURSOR_TEXT.match(base64.urlsafe_b64decode(padded.encode()).decode())
    except ValueError:  # binascii.Error and UnicodeDecodeError among them
        return None
    # only the canonical spelling: other base64 spellings of the same text are not ours
    return int(match[1]) if match and encode_cursor(int(match[1])) == cursor else None


class ApprovalStore:
    """The approvals behind one lock, stamped from one global revision counter."""

    def __init__(self, approvals: list[Approval]) -> None:
        self._lock = threading.Lock()
        self._by_id = {approval["approvalId"]: approval for approval in approvals}
        self._revision = max((a["revision"] for a in approvals), default=0)

    def after(self, revision: int, limit: int) -> tuple[list[Approval], bool]:
        """Up to ``limit`` approvals with a revision above ``revision``, and whether more exist."""
        with self._lock:
            newer = [a for a in self._by_id.values() if a["revision"] > revision]
            newer.sort(key=lambda approval: int(approval["revision"]))
            return [dict(a) for a in newer[:limit]], len(newer) > limit

    def get(self, approval_id: str) -> Approval | None:
        """A copy of one approval, or None."""
        with self._lock:
            approval = self._by_id.get(approval_id)
            return dict(approval) if approval else None

    def add(self, approval: Approval) -> Approval | None:
        """Store a new approval (numbering it if it has no id); None if its id is taken."""
        with self._lock:
            next_id = f"AP-{china_now().year}-{self._revision + 1:06d}"
            approval_id = approval.get("approvalId") or next_id
            if approval_id in self._by_id:
                return None
            self._revision += 1
            approval = approval | {"approvalId": approval_id, "revision": self._revision}
            self._by_id[approval_id] = approval
            return dict(approval)

    def change(self, approval_id: str, changes: Approval) -> Approval | None:
        """Apply ``changes`` and take the next revision; None if there is no such approval."""
        with self._lock:
            approval = self._by_id.get(approval_id)
            if approval is None:
                return None
            self._revision += 1
            approval.update(changes, revision=self._revision)
            return dict(approval)


class TokenIssuer:
    """Bearer tokens for one client, each valid for ``ttl`` seconds."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        """A new token."""
        token, now = secrets.token_urlsafe(32), time.monotonic()
        with self._lock:
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
            self._expiry[token] = now + self.ttl
        return token

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            return time.monotonic() < self._expiry.get(token, 0.0)


class ProjectRegistry:
    """Project master data pushed by the hub, keyed by project code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, Any]] = {}

    def put(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a push unless a newer sourceVersion is held: the stored project, and if new."""
        with self._lock:
            stored = self._projects.get(body["projectCode"])
            if stored is not None and body["sourceVersion"] < stored["sourceVersion"]:
                return dict(stored), False
            project = {name: body.get(name) for name in PROJECT_FIELDS} | {"deleted": False}
            self._projects[body["projectCode"]] = project
            return dict(project), stored is None

    def delete(self, code: str) -> bool:
        """Mark a project deleted; False if it was never pushed."""
        with self._lock:
            if code not in self._projects:
                return False
            self._projects[code]["deleted"] = True
            return True

    def all(self) -> list[dict[str, Any]]:
        """Copies of every project, ordered by code."""
        with self._lock:
            return [dict(self._projects[code]) for code in sorted(self._projects)]

    def get(self, code: str) -> dict[str, Any] | None:
        """A copy of one project, or None."""
        with self._lock:
            project = self._projects.get(code)
            return dict(project) if project else None


def _error(code: str, status: int = 400) -> ResponseReturnValue:
    return {"error": code}, status


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _limit_arg() -> int | None:
    raw = request.args.get("limit", "100")
    ok = raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 500
    return int(raw) if ok else None


def _approval_body() -> Approval | None:
    body = json_object()
    return None if body is None or unknown_fields(body, APPROVAL_FIELDS) else body


def create_app(
    seed: int = 1,
    approvals: int = 30,
    projects: list[str] | None = None,
    client_id: str = "hub-connector",
    *,
    client_secret: str,
    token_ttl: int = 3600,
) -> Flask:
    """The approval system with ``approvals`` seeded approvals, open to one OAuth client."""
    store = ApprovalStore(generate_approvals(seed, approvals, project_codes(projects)))
    registry, tokens = ProjectRegistry(), TokenIssuer(token_ttl)
    control = SimControl(("/v2/",), counters={"project_puts": 0})
    app = Flask(__name__)
    control.install(app)  # first: an injected fault answers before authentication

    @app.before_request
    def authenticate() -> ResponseReturnValue | None:
        """Refuse a /v2 request without a valid bearer token."""
        if not request.path.startswith("/v2/"):
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and tokens.is_valid(token.strip()):
            return None
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return {"error": "invalid_token"}, 401, challenge

    @app.post("/oauth/token")
    def issue_token() -> ResponseReturnValue:
        """Grant a token for the client-credentials flow."""
        if request.form.get("grant_type") != "client_credentials":
            return _error("unsupported_grant_type")
        id_ok = _same(request.form.get("client_id", ""), client_id)
        secret_ok = _same(request.form.get("client_secret", ""), client_secret)
        if not (id_ok and secret_ok):
            return _error("invalid_client", 401)
        token = tokens.issue()
        return {"access_token": token, "token_type": "Bearer", "expires_in": tokens.ttl}

    @app.get("/v2/approvals")
    def list_approvals() -> ResponseReturnValue:
        """The approvals changed after the cursor, in revision order, and the cursor to resume."""
        cursor, limit = request.args.get("cursor"), _limit_arg()
        after = 0 if cursor is None else decode_cursor(cursor)
        if after is None:
            return _error("invalid_cursor")
        if limit is None:
            return _error("invalid_limit")
        items, has_more = store.after(after, limit)
        next_cursor = encode_cursor(items[-1]["revision"]) if items else cursor or encode_cursor(0)
        return {"items": items, "next_cursor": next_cursor, "has_more": has_more}

    @app.get("/v2/approvals/<approval_id>")
    def get_approval(approval_id: str) -> ResponseReturnValue:
        """One approval, deleted ones included."""
        approval = store.get(approval_id)
        return approval if approval else _error("not_found", 404)

    @app.post("/v2/approvals")
    def add_approval() -> ResponseReturnValue:
        """Register an approval; any values are stored, as a real source holds bad rows too."""
        body = _approval_body()
        if body is None:
            return _error("invalid_request")
        approval = store.add(
            {name: body.get(name) for name in APPROVAL_FIELDS} | {"deleted": False} | body
        )
        return (approval, 201) if approval else _error("conflict", 409)

    @app.patch("/v2/approvals/<approval_id>")
    def change_approval(approval_id: str) -> ResponseReturnValue:
        """Change some fields of an approval."""
        body = _approval_body()
        if body is None or body.get("approvalId", approval_id) != approval_id:
            return _error("invalid_request")
        approval = store.change(approval_id, body)
        return approval if approval else _error("not_found", 404)

    @app.delete("/v2/approvals/<approval_id>")
    def delete_approval(approval_id: str) -> ResponseReturnValue:
        """Delete an approval logically: it stays listed with ``deleted`` set."""
        approval = store.change(approval_id, {"deleted": True})
        return ("", 204) if approval else _error("not_found", 404)

    @app.put("/v2/projects/<code>")
    def put_project(code: str) -> ResponseReturnValue:
        """Receive the hub's master data of one project; an older sourceVersion is ignored."""
        control.count("project_puts")
        body = json_object()
        if body is None or not body.get("projectName") or body.get("projectCode") != code:
            return _error("projectName is required and projectCode must match the URL.")
        version = body.get("sourceVersion")
        if isinstance(version, bool) or not isinstance(version, int):
            return _error("sourceVersion must be an integer.")
        project, created = registry.put(body)
        return project, 201 if created else 200

    @app.delete("/v2/projects/<code>")
    def delete_project(code: str) -> ResponseReturnValue:
        """Mark a project deleted; it stays listed with ``deleted`` set."""
        return ("", 204) if registry.delete(code) else _error("not_found", 404)

    @app.get("/v2/projects")
    def list_projects() -> ResponseReturnValue:
        """Every project pushed so far."""
        return {"items": registry.all()}

    @app.get("/v2/projects/<code>")
    def get_project(code: str) -> ResponseReturnValue:
        """One pushed project."""
        project = registry.get(code)
        return project if project else _error("not_found", 404)

    return app
