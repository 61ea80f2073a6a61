"""The console's menu: the sections the signed-in user may use, by the scopes of their role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class Section:
    """A menu entry: its page, its label, the scopes any one of which shows it, and the other
    pages that belong to it."""

    endpoint: str
    label: LazyString
    needs: frozenset[str]
    pages: tuple[str, ...] = ()


SECTIONS = (
    Section(
        "console.projects",
        _l("Projects"),
        frozenset({"records:read"}),
        ("console.project", "console.record_history"),
    ),
    Section("console.supervision", _l("Supervision"), frozenset({"supervision"})),
    Section(
        "console.grants",
        _l("Sharing requests"),
        frozenset({"grants", "admin"}),
        (
            "console.grant",
            "console.grant_request",
            "console.grant_approve",
            "console.grant_refuse",
            "console.grant_revoke",
            "console.grant_withdraw",
        ),
    ),
    Section(
        "console.subscriptions",
        _l("Subscriptions"),
        frozenset({"subscriptions"}),
        (
            "console.subscription",
            "console.subscription_pause",
            "console.subscription_resume",
            "console.subscription_replay",
        ),
    ),
    Section(
        "console.connectors",
        _l("Connectors"),
        frozenset({"admin", "records:write"}),
        ("console.connector",),
    ),
    Section(
        "console.departments", _l("Departments"), frozenset({"admin"}), ("console.department",)
    ),
    Section("console.keys", _l("Access keys"), frozenset({"admin"}), ("console.key",)),
    Section("console.users", _l("Users"), frozenset({"admin"}), ("console.user",)),
    Section("console.audit", _l("Audit"), frozenset({"admin"})),
)


def nav_items() -> list[dict[str, Any]]:
    """The menu for the current user, the current page's section marked active."""
    scopes = g.identity.scopes
    pages = current_app.view_functions
    return [
        {
            "endpoint": section.endpoint,
            "label": str(section.label),
            "active": request.endpoint == section.endpoint or request.endpoint in section.pages,
        }
        for section in SECTIONS
        if scopes & section.needs and section.endpoint in pages
    ]
