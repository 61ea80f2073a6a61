"""The console's connectors pages: each connector's latest run, counts and errors, when it
last succeeded, how often it runs, and a stale mark when it has not succeeded within three of
its intervals; administrators see every connector, an officer their department's."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from hub.connector_runs.models import Connector, ConnectorRun
from hub.console.views.connectors import health, interval_text, run_interval
from hub.core.db import utcnow
from tests.console.conftest import Browser

PAGE = "/console/connectors"
Headers = Callable[..., dict[str, str]]
NOW = utcnow().replace(second=0, microsecond=0)
SCRIPT = "<script>alert(1)</script>"


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@pytest.fixture
def report(client: FlaskClient, headers: Headers) -> Callable[..., dict[str, Any]]:
    """Report one finished run of a connector through the API, as its department."""

    def send(
        name: str,
        started: datetime,
        status: str = "succeeded",
        department: str = "land",
        **body: Any,
    ) -> dict[str, Any]:
        finished = started + timedelta(minutes=5)
        run = {
            "run_id": str(uuid.uuid4()),
            "status": status,
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat() if status != "running" else None,
            **({"error": "It broke."} if status == "failed" else {}),
            **body,
        }
        response = client.post(
            f"/api/v1/connectors/{name}/runs",
            json=run,
            headers=headers(department, ["records:write"]),
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        sent: dict[str, Any] = response.json
        return sent

    return send


@pytest.fixture
def fleet(report: Callable[..., dict[str, Any]]) -> None:
    """land-parcels runs hourly and succeeds; land-legacy runs hourly and last succeeded six
    hours ago; land-once ran once, long ago; finance-funds belongs to finance."""
    for hours in (3, 2, 1):
        report("land-parcels", hours_ago(hours), read=120, published=30, unchanged=85)
    report("land-legacy", hours_ago(6))
    for hours in (5, 4, 3, 2):
        report("land-legacy", hours_ago(hours), "failed")
    report(
        "land-legacy",
        hours_ago(1),
        "failed",
        read=7,
        published=1,
        unchanged=2,
        deleted=3,
        rejected=4,
        error=f"Login refused by the land register {SCRIPT}",
    )
    report("land-once", hours_ago(24 * 30))
    report("finance-funds", hours_ago(2), department="finance")
    report("finance-funds", hours_ago(1), department="finance")


def english(visitor: Browser) -> Browser:
    visitor.get("/console/")
    assert visitor.post("/console/language", {"locale": "en"}).status_code == 302
    return visitor


@pytest.fixture
def officer(signed_in: Callable[..., Browser]) -> Browser:
    """The land department's officer, reading English."""
    return english(signed_in("land", "officer"))


@pytest.fixture
def administrator(signed_in: Callable[..., Browser]) -> Browser:
    """An administrator, reading English."""
    return english(signed_in("audit", "admin"))


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    body: str = response.get_data(as_text=True)
    return body


def rows(page: str) -> dict[str, str]:
    """The list's table rows by connector name."""
    found = {}
    for row in re.findall(r"<tr.*?</tr>", page, re.S):
        name = re.search(r'href="/console/connectors/([^"]+)"', row)
        if name:
            found[name.group(1)] = row
    return found


def cells(row: str) -> list[str]:
    """The text of each cell of a table row."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in found]


def moment(at: datetime) -> str:
    """A moment as the English console writes it."""
    return f"{at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}"


def test_an_officer_sees_their_departments_connectors_with_counts_and_a_stale_mark(
    officer: Browser, fleet: None
) -> None:
    page = text_of(officer.get(PAGE))

    listed = rows(page)
    assert sorted(listed) == ["land-legacy", "land-once", "land-parcels"]
    name, latest, *counts, last_success, interval = cells(listed["land-legacy"])
    assert name == "land-legacy Stale Department land"
    assert latest.startswith(f"Failed Started {moment(hours_ago(1))}")
    assert counts == ["7", "1", "2", "3", "4"]
    assert last_success == moment(hours_ago(6) + timedelta(minutes=5))
    assert interval == "every 1 h"
    assert 'class="row--stale"' in listed["land-legacy"]
    assert "1 connector has not succeeded lately" in page

    name, latest, *counts, last_success, interval = cells(listed["land-parcels"])
    assert name == "land-parcels Department land"
    assert latest.startswith("Succeeded")
    assert counts == ["120", "30", "85", "0", "0"]
    assert last_success == moment(hours_ago(1) + timedelta(minutes=5))
    assert "row--stale" not in listed["land-parcels"]

    # one run, however old, gives no interval: never stale
    name, *_, interval = cells(listed["land-once"])
    assert (name, interval) == ("land-once Department land", "Not known yet")


def test_a_run_error_is_shown_inert(officer: Browser, fleet: None) -> None:
    for path in (PAGE, f"{PAGE}/land-legacy"):
        page = text_of(officer.get(path))
        assert SCRIPT not in page
        assert "Login refused by the land register &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_administrator_sees_every_departments_connectors(
    administrator: Browser, fleet: None
) -> None:
    page = text_of(administrator.get(PAGE))

    listed = rows(page)
    assert sorted(listed) == ["finance-funds", "land-legacy", "land-once", "land-parcels"]
    assert cells(listed["finance-funds"])[0] == "finance-funds Department finance"
    assert text_of(administrator.get(f"{PAGE}/finance-funds"))


def test_an_officer_cannot_open_another_departments_connector(
    officer: Browser, fleet: None
) -> None:
    assert officer.get(f"{PAGE}/finance-funds").status_code == 403
    assert officer.get(f"{PAGE}/nobody-knows").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "office"])
def test_a_role_that_may_not_write_records_gets_403(
    signed_in: Callable[..., Browser], fleet: None, role: str
) -> None:
    visitor = signed_in("land", role)
    assert visitor.get(PAGE).status_code == 403
    assert visitor.get(f"{PAGE}/land-parcels").status_code == 403


def test_the_last_success_is_found_beyond_the_recent_runs(
    officer: Browser, report: Callable[..., dict[str, Any]]
) -> None:
    report("land-flaky", hours_ago(40))
    for hours in range(30, 0, -2):
        report("land-flaky", hours_ago(hours), "failed")

    row = rows(text_of(officer.get(PAGE)))["land-flaky"]

    assert cells(row)[-2:] == [moment(hours_ago(40) + timedelta(minutes=5)), "every 2 h"]
    assert "Stale" in cells(row)[0]


def test_a_connector_page_lists_its_runs_with_errors_cursor_and_details(
    officer: Browser, report: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.console.views.connectors.PAGE_SIZE", 2)
    report("land-parcels", hours_ago(3), cursor="2025-02-28T23:00:00Z")
    report("land-parcels", hours_ago(2), details={"file": "parcels-<b>.csv"})
    report("land-parcels", hours_ago(1), "failed", error=f"Timeout {SCRIPT}")

    first = text_of(officer.get(f"{PAGE}/land-parcels"))
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following, first
    second = text_of(officer.get(html.unescape(following.group(1))))

    assert "every 1 h" in first
    assert "Timeout &lt;script&gt;alert(1)&lt;/script&gt;" in first
    assert "&#34;file&#34;: &#34;parcels-&lt;b&gt;.csv&#34;" in first
    assert moment(hours_ago(3)) not in first
    assert "2025-02-28T23:00:00Z" in second
    assert moment(hours_ago(3)) in second
    assert 'rel="next"' not in second


def run(started: datetime, status: str = "succeeded") -> ConnectorRun:
    finished = started + timedelta(minutes=1) if status != "running" else None
    return ConnectorRun(started_at=started, finished_at=finished, status=status)


def test_the_interval_is_the_median_gap_between_starts() -> None:
    starts = [hours_ago(h) for h in (0, 1, 2, 3, 10)]  # one run missed in between
    assert run_interval([run(s) for s in starts]) == timedelta(hours=1)
    assert run_interval([run(hours_ago(1))]) is None
    assert run_interval([run(hours_ago(1)), run(hours_ago(1))]) is None


def test_staleness_counts_three_intervals_from_the_last_success() -> None:
    connector = Connector(name="c", department_id="land", first_reported_at=hours_ago(100))
    recent = [run(hours_ago(h), "failed") for h in (0, 1, 2)]
    assert not health(connector, recent, hours_ago(2.9), NOW).stale
    assert health(connector, recent, hours_ago(3.1), NOW).stale
    # never succeeded: counted from the first run known
    assert health(connector, recent, None, NOW).stale
    fresh = Connector(name="c", department_id="land", first_reported_at=hours_ago(1))
    assert not health(fresh, [run(NOW, "failed"), run(hours_ago(1), "failed")], None, NOW).stale


def test_intervals_read_as_people_say_them(app: Flask) -> None:
    with app.test_request_context(), force_locale("en"):
        assert interval_text(timedelta(seconds=45)) == "every 45 s"
        assert interval_text(timedelta(minutes=15)) == "every 15 min"
        assert interval_text(timedelta(minutes=60)) == "every 1 h"
        assert interval_text(timedelta(minutes=90)) == "every 1.5 h"
        assert interval_text(timedelta(hours=6)) == "every 6 h"
        assert interval_text(timedelta(days=7)) == "every 7 d"


def test_a_run_its_connector_never_finished_shows_as_abandoned(
    officer: Browser, report: Callable[..., dict[str, Any]]
) -> None:
    report("land-parcels", hours_ago(2), "running")
    report("land-parcels", hours_ago(1))

    page = text_of(officer.get(f"{PAGE}/land-parcels"))

    assert "Abandoned" in page
    assert "ended before it reported how this run finished" in page
