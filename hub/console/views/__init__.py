"""The console's pages, one module per area; importing them adds their routes to the
console's blueprint."""

from __future__ import annotations

import importlib

AREAS = (
    "session",
    "home",
    "projects",
    "grants",
    "administration",
    "subscriptions",
    "connectors",
    "audit",
    "supervision",
    "reports",
)


def register() -> None:
    """Import every area's module (Python imports each once, so routes are added once)."""
    for area in AREAS:
        importlib.import_module(f"{__name__}.{area}")
