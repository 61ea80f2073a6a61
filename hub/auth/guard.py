"""The decorator that authenticates a view's caller and checks its scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import current_app, g

from hub import ratelimit
from hub.auth.identity import bearer_credential
from hub.auth.service import identity_from_token
from hub.errors import Forbidden
from hub.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def require_scope(scope: str | None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a valid token carrying ``scope`` (any valid token when ``scope`` is None).

    Every call with a valid token counts against its key's RATE_LIMIT (429 past it).
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            identity = identity_from_token(db.session, bearer_credential(), current_app.config)
            g.identity = identity  # known from here on, also to the audit of a refusal
            # Before the scope check, so that refused calls count against the key too.
            ratelimit.limiter.check_key(identity.key_id)
            if scope is not None and scope not in identity.scopes:
                raise Forbidden(f"This action needs the '{scope}' scope.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
