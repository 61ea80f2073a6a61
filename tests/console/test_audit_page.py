"""The console's audit page: the log newest first with its filters and pages, the chain's head,
and the "Verify the chain" button that says what ``hub audit verify`` says."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from hub.audit import chain
from hub.audit.models import AuditEntry, AuditHead
from hub.console.views import audit as audit_page
from hub.core.extensions import db
from tests.console.conftest import Browser

ADMIN = "root"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Seal after every audited request, so the chain holds what the tests did."""
    return {**settings, "AUDIT_SEAL_INTERVAL": 0.0}


@pytest.fixture
def admin_browser(
    make_department: Callable[..., str], signed_in: Callable[..., Browser]
) -> Browser:
    """The hub's administrator, signed in, reading the console in English."""
    make_department("cityadmin", [], name="Hub administration")
    visitor = signed_in("cityadmin", "admin", ADMIN)
    visitor.get("/console/")
    visitor.post("/console/language", {"locale": "en", "next": "/console/"})
    return visitor


@pytest.fixture
def history(admin_browser: Browser) -> Browser:
    """Some administration done in the console: a department added, a key created."""
    admin_browser.get("/console/departments")
    added = admin_browser.post(
        "/console/departments", {"id": "transport", "name": "Transport", "publishes": ["permit"]}
    )
    assert added.status_code == 302
    admin_browser.get("/console/keys")
    created = admin_browser.post(
        "/console/keys", {"department": "transport", "scopes": ["records:read"]}
    )
    assert created.status_code == 302
    return admin_browser


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def rows(page: str) -> list[str]:
    """The table rows of the entries on an audit page."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def verify(visitor: Browser) -> str:
    """Press "Verify the chain"; return the page it leads back to."""
    visitor.get("/console/audit")
    answer = visitor.post("/console/audit/verify")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/audit"
    return text(visitor.get("/console/audit"))


def test_entries_are_shown_newest_first_with_who_did_what(history: Browser) -> None:
    page = text(history.get("/console/audit"))
    shown = rows(page)
    actions = [
        re.search(r'<td class="mono">([a-z_.]+)</td>\s*<td class="mono audit-target"', row)
        for row in shown
    ]
    names = [match.group(1) for match in actions if match]
    assert names.index("key.create") < names.index("department.create")
    department_row = next(row for row in shown if "department/transport" in row)
    assert f"user:{ADMIN}" in department_row
    assert "cityadmin" in department_row
    assert ">201<" in department_row
    shown_details = re.search(r'<code class="audit-details">(.*?)</code>', department_row)
    assert shown_details
    details = html.unescape(shown_details.group(1))
    assert '"name":"Transport"' in details
    assert '"publishes":["permit"]' in details


def test_the_log_filters_by_action_and_target(history: Browser) -> None:
    keys_only = rows(text(history.get("/console/audit?action=key.create")))
    assert keys_only
    assert all("key.create" in row for row in keys_only)
    one = rows(text(history.get("/console/audit?target=department/transport")))
    assert len(one) == 1
    assert "department.create" in one[0]
    assert not rows(text(history.get("/console/audit?action=grant.approve")))
    assert "No entries match these filters." in text(history.get("/console/audit?action=nothing"))


def test_the_log_filters_by_department_and_days(app: Flask, history: Browser) -> None:
    today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
    mine = rows(text(history.get("/console/audit?department=cityadmin")))
    assert mine
    assert all("cityadmin" in row for row in mine)
    assert rows(text(history.get(f"/console/audit?since={today}&until={today}")))
    tomorrow = today + timedelta(days=1)
    assert not rows(text(history.get(f"/console/audit?since={tomorrow}")))
    yesterday = today - timedelta(days=1)
    assert not rows(text(history.get(f"/console/audit?until={yesterday}")))


def test_filters_that_do_not_make_sense_are_named_and_kept(history: Browser) -> None:
    refused = history.get("/console/audit?since=2026-05-02&until=2026-05-01&action=key.create")
    assert refused.status_code == 422
    page = text(refused)
    assert 'id="field-until-error"' in page
    assert 'value="key.create"' in page
    assert 'value="2026-05-02"' in page
    bad_day = history.get("/console/audit?since=someday")
    assert bad_day.status_code == 422
    assert 'id="field-since-error"' in text(bad_day)


def test_the_log_pages_with_the_api_cursor(
    history: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 2)
    first = text(history.get("/console/audit"))
    assert len(rows(first)) == 2
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following
    second = text(history.get(html.unescape(following.group(1))))
    assert rows(second)
    assert set(rows(second)).isdisjoint(rows(first))
    assert "First page" in second


def test_the_page_shows_the_chain_head(app: Flask, history: Browser) -> None:
    page = text(history.get("/console/audit"))
    with app.app_context():
        seq, digest = chain.head(db.session)
    assert seq > 0
    assert digest in page
    assert f"entry {seq}" in page


def test_verify_reports_an_intact_chain(app: Flask, history: Browser) -> None:
    page = verify(history)
    with app.app_context():
        seq, digest = chain.head(db.session)
    assert "The chain is intact" in page
    assert f"{seq} sealed entries checked" in page
    assert digest in page
    assert "The chain is intact" not in text(history.get("/console/audit"))


def test_verify_checks_a_keyed_chain_with_the_hubs_key(app: Flask, history: Browser) -> None:
    app.config["AUDIT_CHAIN_KEY"] = "k" * 40
    history.get("/console/departments")
    added = history.post("/console/departments", {"id": "water", "name": "Water"})
    assert added.status_code == 302
    with app.app_context(), db.unit_of_work() as session:
        chain.seal(session, key=chain.configured_key())
        keyed_from = session.scalar(select(AuditHead.keyed_from_seq))
    assert keyed_from is not None
    page = verify(history)
    assert "The chain is intact" in page
    assert f"Entries from {keyed_from} on are keyed" in page


def test_verify_reports_a_broken_chain_after_tampering(app: Flask, history: Browser) -> None:
    with app.app_context(), db.unit_of_work() as session:
        victim = session.scalars(
            select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
        ).all()[1]
        session.execute(update(AuditEntry).where(AuditEntry.id == victim.id).values(outcome=403))
    page = verify(history)
    assert f"The chain is BROKEN at entry {victim.seq}" in page
    assert f"Row id {victim.id}" in page
    assert "its content does not match its hash" in page
    assert "The chain is intact" not in page
