"""The permit's ``overdue`` flag: refused when sent, not stored, computed from its submission
date and statutory time limit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from schemas import registry
from schemas.workdays import WorkCalendar
from tests.factories import permit_data
from tests.type_helpers import refused

CALENDAR = WorkCalendar()


@pytest.fixture
def today(app: Flask) -> date:
    """Today in the city's time zone, as the hub counts permit deadlines."""
    return datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()


@pytest.mark.parametrize("value", [True, False])
def test_overdue_cannot_be_sent_on_put(put, value):
    errors = refused(put("permit", permit_data(overdue=value)), "overdue")
    assert errors["overdue"]


@pytest.mark.parametrize("value", [True, False])
def test_overdue_cannot_be_sent_on_patch(client, project, put, headers, value):
    assert put("permit", permit_data()).status_code == 201
    response = client.patch(
        "/api/v1/records/permit/P-1",
        json={"overdue": value},
        headers={**headers("approval"), "Content-Type": "application/merge-patch+json"},
    )
    refused(response, "overdue")


def test_overdue_cannot_be_sent_in_a_batch(client, project, headers):
    response = client.post(
        "/api/v1/records/permit/batch",
        json={"records": [{"key": "P-1", "data": permit_data(overdue=False)}]},
        headers=headers("approval"),
    )
    assert response.status_code == 200, response.json
    result = response.json["results"][0]
    assert result["status"] == 422
    assert "overdue" in result["errors"]


def test_overdue_is_not_part_of_the_stored_data():
    data = registry()["permit"].canonical(permit_data(submitted_at="2000-01-01"), "P-1")
    assert "overdue" not in data


def working_days_before(day: date, count: int) -> date:
    """The day ``count`` working days before ``day``, on the national calendar; counted back
    from the first working day on or after ``day``, so that a limit of ``count`` working days
    from it runs out on that working day, never before ``day``."""
    while not CALENDAR.is_workday(day):
        day += timedelta(days=1)
    while count > 0:
        day -= timedelta(days=1)
        if CALENDAR.is_workday(day):
            count -= 1
    return day


# submitted: working days ago; statutory: working days; approved: calendar days ago
OVERDUE_CASES = {
    "submitted, 40 days past its limit": ("submitted", 100, 60, None, True),
    "accepted, 40 days past its limit": ("accepted", 100, 60, None, True),
    "submitted, limit ended yesterday": ("submitted", 61, 60, None, True),
    "submitted, limit ends today": ("submitted", 60, 60, None, False),
    "submitted, within time": ("submitted", 10, 60, None, False),
    "submitted today": ("submitted", 0, 1, None, False),
    "approved late": ("approved", 100, 60, 50, False),
    "rejected late": ("rejected", 100, 60, None, False),
    "withdrawn late": ("withdrawn", 100, 60, None, False),
    "submitted without a time limit": ("submitted", 400, None, None, False),
}


@pytest.mark.parametrize(
    ("status", "submitted_days_ago", "statutory_days", "approved_days_ago", "expected"),
    OVERDUE_CASES.values(),
    ids=OVERDUE_CASES.keys(),
)
def test_overdue_is_computed_from_submission_and_statutory_days(
    client,
    project,
    put,
    headers,
    today,
    status,
    submitted_days_ago,
    statutory_days,
    approved_days_ago,
    expected,
):
    submitted = working_days_before(today, submitted_days_ago) if submitted_days_ago else today
    body = permit_data(
        status=status,
        submitted_at=submitted.isoformat(),
        statutory_days=statutory_days,
    )
    if approved_days_ago is not None:
        body.update(
            approved_at=(today - timedelta(days=approved_days_ago)).isoformat(),
            permit_no="EIA-2025-017",
        )
    response = put("permit", body)
    assert response.status_code == 201, response.json
    assert response.json["data"]["overdue"] is expected
    for reader in ("approval", "audit"):
        got = client.get("/api/v1/records/permit/P-1", headers=headers(reader))
        assert got.json["data"]["overdue"] is expected


def test_not_started_permit_is_never_overdue(project, put):
    response = put("permit", permit_data(status="not_started", submitted_at=None))
    assert response.status_code == 201, response.json
    assert response.json["data"]["overdue"] is False


def test_overdue_is_recomputed_when_the_permit_is_approved(client, project, put, today):
    submitted = (today - timedelta(days=100)).isoformat()
    late = put("permit", permit_data(submitted_at=submitted, statutory_days=30))
    assert late.json["data"]["overdue"] is True
    approved = put(
        "permit",
        permit_data(
            status="approved",
            submitted_at=submitted,
            statutory_days=30,
            approved_at=today.isoformat(),
            permit_no="EIA-2025-017",
        ),
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["data"]["overdue"] is False


@pytest.mark.parametrize(
    ("today", "overdue"),
    [
        # 13 calendar days after submission, but the golden week stops the clock
        (date(2025, 10, 9), False),
        (date(2025, 10, 10), False),  # the 5th working day: the limit runs out today
        (date(2025, 10, 11), True),  # a make-up working Saturday, past the limit
    ],
)
def test_overdue_counts_working_days_across_the_national_day_holiday(
    project, put, client, headers, monkeypatch, today, overdue
):
    # Submitted on Friday 26 September 2025 with 5 working days: Sunday 28 September (made
    # a working day), 29 and 30 September, then 9 and 10 October after the holiday.
    monkeypatch.setattr("hub.records.routes.city_today", lambda: today)
    body = permit_data(submitted_at="2025-09-26", statutory_days=5)
    response = put("permit", body)
    assert response.status_code == 201, response.json
    assert response.json["data"]["overdue"] is overdue
