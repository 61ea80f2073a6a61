"""``Idempotency-Key``: a repeated write gets the first response back instead of running again.

Keys are scoped to the caller's department and kept for ``IDEMPOTENCY_TTL`` seconds. Only
successful responses are kept: a failed write rolls back its claim, so the client may retry.
A key reused for a different request (method, path or body) is refused with 422.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, current_app, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth.identity import current_identity
from hub.core.db import begin_transaction, utcnow
from hub.core.errors import Unprocessable
from hub.core.extensions import db
from hub.records.models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("ETag", "Location", "Content-Type")
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    # 1-255 characters, not all white space (HTTP trims what surrounds a header's value)
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    "description": "Repeat a write safely: a repeat with the same key gets the first response.",
}


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _find(session: Session, department_id: str, key: str) -> IdempotentRequest | None:
    return session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.department_id == department_id,
            IdempotentRequest.idempotency_key == key,
        )
    )


def _claim(
    session: Session, department_id: str, key: str, fingerprint: str
) -> tuple[IdempotentRequest, bool]:
    """Return the stored request for ``key`` and whether it is a new claim of ours."""
    existing = _find(session, department_id, key)
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL"])
    if existing is not None and existing.created_at < utcnow() - ttl:
        session.delete(existing)
        session.flush()
        existing = None
    if existing is not None:
        return existing, False
    claim = IdempotentRequest(
        department_id=department_id,
        idempotency_key=key,
        fingerprint=fingerprint,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same key committed first: replay its response.
        existing = _find(session, department_id, key)
        if existing is None:
            raise
        return existing, False
    return claim, True


def _replay(stored: IdempotentRequest) -> Response:
    response = Response(stored.response_body, status=stored.status_code)
    response.headers.update(stored.response_headers or {})
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Response]:
    """Make a write view honour ``Idempotency-Key`` (place it under the auth decorator)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return make_response(view(*args, **kwargs))
        if not 1 <= len(key) <= 255:
            raise Unprocessable(
                "Invalid Idempotency-Key.", errors={HEADER: ["Must be 1-255 characters."]}
            )
        fingerprint = _fingerprint()
        session = db.session
        # the claim, the write and the stored response commit together
        begin_transaction(session)
        stored, claimed = _claim(session, current_identity().department_id, key, fingerprint)
        if not claimed:
            if stored.fingerprint != fingerprint:
                raise Unprocessable(
                    "This Idempotency-Key was used for a different request.",
                    errors={HEADER: ["Already used with another method, path or body."]},
                )
            return _replay(stored)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            stored.status_code = response.status_code
            stored.response_body = response.get_data(as_text=True)
            stored.response_headers = {
                name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
            }
            session.flush()
        return response

    return wrapper
