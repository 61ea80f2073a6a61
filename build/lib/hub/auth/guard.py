"""The decorator that authenticates a view's caller and checks its scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import current_app, g

from hub.auth.identity import bearer_credential
from hub.auth.service import identity_from_token
from hub.errors import Forbidden
from hub.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def require_scope(scope: str | None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a valid token carrying ``scope`` (any valid token when ``scope`` is None)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            identity = identity_from_token(db.session, bearer_credential(), current_app.config)
            if scope is not None and scope not in identity.scopes:
                raise Forbidden(f"This action needs the '{scope}' scope.")
            g.identity = identity
            return view(*args, **kwargs)

        return wrapper

    return decorator
