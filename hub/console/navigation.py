"""The console's menu: the sections the signed-in user may use, by the scopes of their role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class Section:
    """A menu entry: its page, its label, the scopes any one of which shows it, the other
    pages that belong to it, and its own navigation (``children``, sections themselves: shown
    under the header on the section's pages, each by its own scopes)."""

    endpoint: str
    label: LazyString
    needs: frozenset[str]
    pages: tuple[str, ...] = ()
    children: tuple[Section, ...] = ()

    def shown(self, scopes: frozenset[str], pages: Iterable[str]) -> bool:
        """Whether the section shows for ``scopes``, its page being among ``pages``."""
        return bool(scopes & self.needs) and self.endpoint in pages

    def here(self, endpoint: str | None) -> bool:
        """Whether ``endpoint`` is one of the section's pages (its children's included)."""
        return (
            endpoint == self.endpoint
            or endpoint in self.pages
            or any(child.here(endpoint) for child in self.children)
        )


# The supervision area (DESIGN §6): the office and leaders (``supervision``) see it all; an
# officer (``records:write``) the board of the projects its department serves, and their pages.
SUPERVISION_BOARD = Section(
    "console.supervision",
    _l("Board"),
    frozenset({"supervision", "records:write"}),
    ("console.supervision_project",),
)
SUPERVISION_CHILDREN = (
    SUPERVISION_BOARD,
    Section("console.supervision_summary", _l("Summary"), frozenset({"supervision"})),
    Section(
        "console.scorecard",
        _l("Scorecard"),
        frozenset({"supervision"}),
        ("console.scorecard_department",),
    ),
    Section("console.dispatch", _l("Dispatch report"), frozenset({"supervision"})),
)


SECTIONS = (
    Section(
        "console.projects",
        _l("Projects"),
        frozenset({"records:read"}),
        ("console.project", "console.record_history"),
    ),
    Section(
        "console.supervision",
        _l("Supervision"),
        frozenset({"supervision", "records:write"}),
        children=SUPERVISION_CHILDREN,
    ),
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
    """The menu for the current user, the current page's section marked active; a section's
    own navigation (``children``) when it has more than one page this user may open (a page
    shows once its endpoint exists: areas built later join the menu by themselves)."""
    scopes = g.identity.scopes
    pages = current_app.view_functions
    items = []
    for section in SECTIONS:
        if not section.shown(scopes, pages):
            continue
        item: dict[str, Any] = {
            "endpoint": section.endpoint,
            "label": str(section.label),
            "active": section.here(request.endpoint),
        }
        children = [
            {
                "endpoint": child.endpoint,
                "label": str(child.label),
                "active": child.here(request.endpoint),
            }
            for child in section.children
            if child.shown(scopes, pages)
        ]
        if len(children) > 1:
            item["children"] = children
        items.append(item)
    return items
