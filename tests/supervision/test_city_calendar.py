"""The city's working-day calendar: extra days off and extra working days from the settings
(WORKDAYS_EXTRA_HOLIDAYS, WORKDAYS_EXTRA_WORKDAYS), used by every working-day figure."""

from __future__ import annotations

from datetime import date

import pytest

from hub.core.calendar import work_calendar
from schemas.workdays import WorkCalendar
from tests.factories import PROJECT_CODE, permit_data, project_data
from tests.supervision.conftest import FIRST_UNKNOWN_YEAR, Clock, Supervision

# a city's rest day on a Monday, and next year's official calendar (a few of its days) added
# before the package has it
CITY_HOLIDAY = date(2025, 11, 10)
NEXT_YEAR_HOLIDAYS = [f"{FIRST_UNKNOWN_YEAR}-01-01", f"{FIRST_UNKNOWN_YEAR}-02-16"]
NEXT_YEAR_WORKDAYS = [f"{FIRST_UNKNOWN_YEAR}-02-14"]


@pytest.fixture
def settings(settings):
    return {
        **settings,
        "WORKDAYS_EXTRA_HOLIDAYS": [CITY_HOLIDAY.isoformat(), *NEXT_YEAR_HOLIDAYS],
        "WORKDAYS_EXTRA_WORKDAYS": NEXT_YEAR_WORKDAYS,
    }


def test_the_app_counts_in_the_citys_calendar(app):
    calendar = work_calendar(app)
    assert calendar == WorkCalendar.from_iso(
        [CITY_HOLIDAY.isoformat(), *NEXT_YEAR_HOLIDAYS], NEXT_YEAR_WORKDAYS
    )
    assert not calendar.is_workday(CITY_HOLIDAY)
    assert calendar.knows(FIRST_UNKNOWN_YEAR)


def test_a_permits_overdue_follows_the_citys_holidays(project, put, monkeypatch):
    # one working day from Friday 7 November 2025: Monday the 10th nationally, here the 11th
    monkeypatch.setattr("hub.records.routes.city_today", lambda: date(2025, 11, 11))
    response = put("permit", permit_data(submitted_at="2025-11-07", statutory_days=1))
    assert response.json["data"]["overdue"] is False


def test_supervision_counts_in_the_citys_calendar(publish, clock: Clock, supervision):
    clock.at("2025-11-01")
    publish("project", PROJECT_CODE, project_data())
    publish("permit", "P-1", permit_data(submitted_at="2025-11-07", statutory_days=1))
    assert supervision.signals(PROJECT_CODE, "2025-11-11", "permit_overdue") == []
    assert len(supervision.signals(PROJECT_CODE, "2025-11-12", "permit_overdue")) == 1


def test_a_year_the_city_added_is_not_warned_about(publish, clock: Clock, supervision: Supervision):
    clock.at(f"{FIRST_UNKNOWN_YEAR - 1}-12-01")
    publish("project", PROJECT_CODE, project_data())
    response = publish(
        "permit",
        "P-1",
        permit_data(submitted_at=f"{FIRST_UNKNOWN_YEAR - 1}-12-20", statutory_days=30),
    )
    assert "calendar_warnings" not in response.json
    as_of = f"{FIRST_UNKNOWN_YEAR}-01-20"
    assert supervision.board(as_of=as_of)["calendar_warnings"] == []
