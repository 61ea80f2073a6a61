"""The decorators of API views: who may call them, and what the audit log calls them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ParamSpec, TypeVar

from flask import current_app, g, request

from hub.auth.identity import bearer_credential
from hub.auth.service import identity_from_token
from hub.core import ratelimit
from hub.core.errors import Forbidden
from hub.core.extensions import db

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
            actor = identity.actor.over(request.method, request.path, request.remote_addr)
            # known from here on, also to the audit of a refusal
            g.identity = identity = replace(identity, actor=actor)
            # Before the scope check, so that refused calls count against the key too.
            ratelimit.limiter.check_key(identity.key_id)
            if scope is not None and scope not in identity.scopes:
                raise Forbidden(f"This action needs the '{scope}' scope.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


@dataclass(frozen=True)
class Audited:
    """What the audit log calls a view's action, and what it acts on.

    ``target`` is formatted with the view's URL arguments; without one, the request's path.
    """

    action: str
    target: str | None = None

    def target_of_request(self) -> str:
        """The target of the current request."""
        if self.target is None:
            return request.path
        return self.target.format(**(request.view_args or {}))


def audited(action: str, target: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare the audit action of a view (the name its service records it under).

    The service records what the action did; the declaration lets the request's end record
    what the caller was refused, and reads that showed protected fields
    (``hub.auth.refusals``, ``hub.sharing.readers``).
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        view.audited = Audited(action, target)  # type: ignore[attr-defined]
        return view

    return decorator


def declared_action() -> Audited | None:
    """The audit declaration of the current request's view, if it has one."""
    view = current_app.view_functions.get(request.endpoint or "")
    found: Audited | None = getattr(view, "audited", None)
    return found
