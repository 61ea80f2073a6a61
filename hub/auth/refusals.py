"""Recording what an API caller was refused: every refused write of an identified caller.

A refused change rolls back with the request's unit of work, so its entry is written apart,
after the response is made. The action is the one the view declares (``guard.audited``),
the same its service records when the action succeeds. Refusals that say nothing of a
caller's intent (404, 405) or that count requests (429) are not recorded: a flood of them
must not turn into database writes; nor are requests without a valid token, except a token
exchange, which records the key it was shown (never the secret).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from hub.audit.entries import Actor, Entry, record_apart
from hub.auth.guard import declared_action
from hub.auth.identity import Identity, bearer_credential, key_actor
from hub.auth.service import KEY_PATTERN, TOKEN_EXCHANGE
from hub.core.db import SAFE_METHODS
from hub.core.errors import Unauthorized

UNRECORDED_STATUSES = frozenset({404, 405, 429})
logger = logging.getLogger(__name__)


def _caller() -> Actor:
    """Who made the request: its identity, or the access key it presented (token exchange)."""
    identity: Identity | None = g.get("identity")
    if identity is not None:
        return identity.actor
    try:
        match = KEY_PATTERN.match(bearer_credential())
    except Unauthorized:
        match = None
    actor = key_actor(match["id"], None) if match else Actor("anonymous")
    return actor.over(request.method, request.path, request.remote_addr)


def _refused_details(response: Response) -> dict[str, Any]:
    body = response.get_json(silent=True)
    return {"detail": body["detail"]} if isinstance(body, dict) and "detail" in body else {}


def record_refusal(response: Response) -> None:
    """Record the refusal ``response`` answers a write with, if it is one to record.

    Losing the entry must not hide the refusal's own answer: a failure is logged.
    """
    if request.method in SAFE_METHODS or response.status_code < 400:
        return
    declared = declared_action()
    status = response.status_code
    if declared is None or status in UNRECORDED_STATUSES:
        return
    if status == 401 and declared.action != TOKEN_EXCHANGE:
        return  # no identity: nothing to attribute, and cheap to flood
    entry = Entry(
        _caller(), declared.action, declared.target_of_request(), _refused_details(response)
    )
    try:
        record_apart(entry, status)
    except SQLAlchemyError:
        logger.warning("Could not audit a refused request", exc_info=True)
