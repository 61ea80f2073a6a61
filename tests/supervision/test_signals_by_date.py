"""Each signal of DESIGN §6, built from records published through the API, appears and
disappears on the right day, and a past day keeps its answer after the records change.

Each test lays out a project's history with ``clock.at(day)`` and reads the project's signals
with ``as_of``; the thresholds are the defaults.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.workdays import WorkCalendar
from tests.factories import (
    PROJECT_CODE,
    coordination_item_data,
    funding_data,
    parcel_data,
    permit_data,
    progress_report_data,
    project_data,
)
from tests.supervision.conftest import Clock, Supervision, d

NATIONAL = WorkCalendar()
CODE = PROJECT_CODE


@pytest.fixture
def publish_project(publish, clock: Clock):
    """Publish the project (stage construction) on a day, with overrides."""

    def put(day: str, **overrides):
        clock.at(day)
        return publish("project", CODE, project_data(**overrides))

    return put


# --- permit_overdue -------------------------------------------------------------------------


def test_a_permit_submitted_before_national_day_is_not_overdue_on_a_calendar_day_count(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    # 10 working days from Tue 23 September 2025 run out on Mon 13 October: 1 to 8 October are
    # the holiday, Sun 28 September and Sat 11 October are worked. Counted in calendar days
    # they would have run out on 3 October.
    publish_project("2025-09-01")
    clock.at("2025-09-23")
    publish("permit", "P-1", permit_data(submitted_at="2025-09-23", statutory_days=10))
    for day in ("2025-10-03", "2025-10-04", "2025-10-08", "2025-10-11", "2025-10-13"):
        assert supervision.severities(CODE, day, "permit_overdue") == [], day
    assert supervision.severities(CODE, "2025-10-14", "permit_overdue") == ["yellow"]
    # red past 1.5 × 10 = 15 working days: 13 + 5 working days is Mon 20 October
    assert supervision.severities(CODE, "2025-10-20", "permit_overdue") == ["yellow"]
    assert supervision.severities(CODE, "2025-10-21", "permit_overdue") == ["red"]
    # approved on 22 October: no longer overdue from then, still overdue before
    clock.at("2025-10-22")
    publish(
        "permit",
        "P-1",
        permit_data(
            status="approved",
            submitted_at="2025-09-23",
            statutory_days=10,
            approved_at="2025-10-22",
            permit_no="EIA-2025-017",
        ),
    )
    assert supervision.severities(CODE, "2025-10-22", "permit_overdue") == []
    assert supervision.severities(CODE, "2025-10-21", "permit_overdue") == ["red"]


def test_the_permit_signal_names_the_record_and_the_limit(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2025-09-01")
    publish("permit", "P-1", permit_data(submitted_at="2025-09-23", statutory_days=10))
    (signal,) = supervision.signals(CODE, "2025-10-14", "permit_overdue")
    assert signal["record"] == {"type": "permit", "key": "P-1"}
    assert "法定 10 个工作日" in signal["message"]
    assert "2025-10-13" in signal["message"]
    assert signal["details"]["deadline"] == "2025-10-13"


def test_the_project_page_counts_a_permits_working_days(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2025-09-01")
    publish("permit", "P-1", permit_data(submitted_at="2025-09-23", statutory_days=10))
    (permit,) = supervision.project(CODE, as_of="2025-10-09")["factors"]["permits"]
    # 24, 25, 26, 28, 29, 30 September and 9 October
    assert permit["working_days_used"] == 7
    assert permit["working_days_left"] == 3
    assert permit["deadline"] == "2025-10-13"
    assert permit["overdue"] is False


# --- milestone_delayed -----------------------------------------------------------------------

MILESTONE = {"name": "桩基完成", "planned_date": "2026-03-01", "status": "pending"}


def test_a_milestone_is_delayed_after_its_date_and_red_past_30_days(
    publish_project, supervision: Supervision
):
    publish_project("2026-01-05", milestones=[MILESTONE])
    assert supervision.severities(CODE, "2026-03-01", "milestone_delayed") == []
    assert supervision.severities(CODE, "2026-03-02", "milestone_delayed") == ["yellow"]
    assert supervision.severities(CODE, "2026-03-31", "milestone_delayed") == ["yellow"]
    assert supervision.severities(CODE, "2026-04-01", "milestone_delayed") == ["red"]
    done = {**MILESTONE, "status": "done", "actual_date": "2026-04-08"}
    publish_project("2026-04-08", milestones=[done])
    assert supervision.severities(CODE, "2026-04-08", "milestone_delayed") == []
    assert supervision.severities(CODE, "2026-04-07", "milestone_delayed") == ["red"]
    milestones = supervision.project(CODE, as_of="2026-04-07")["milestones"]
    assert [m["delay_days"] for m in milestones] == [37]


# --- investment_behind and funding_short -----------------------------------------------------


def test_investment_behind_appears_with_a_report_and_goes_with_a_better_one(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-01-05")
    # by the end of May 41.4% of the year has passed: 25% done is 16.4 points behind
    clock.at("2026-06-03")
    key = f"{CODE}:2026-05"
    body = progress_report_data(period="2026-05", annual_plan=100000, invested_to_date=900000)
    publish("progress_report", key, {**body, "invested_this_year": 25000})
    assert supervision.severities(CODE, "2026-06-02", "investment_behind") == []
    assert supervision.severities(CODE, "2026-06-03", "investment_behind") == ["yellow"]
    clock.at("2026-06-04")
    publish("progress_report", key, {**body, "invested_this_year": 5000})  # 36.4 behind
    assert supervision.severities(CODE, "2026-06-04", "investment_behind") == ["red"]
    clock.at("2026-06-05")
    publish("progress_report", key, {**body, "invested_this_year": 40000})  # 1.4 behind
    assert supervision.severities(CODE, "2026-06-05", "investment_behind") == []
    assert supervision.severities(CODE, "2026-06-03", "investment_behind") == ["yellow"]
    assert supervision.severities(CODE, "2026-06-04", "investment_behind") == ["red"]


def test_funding_short_until_80_percent_of_the_plan_is_allocated(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-01-05")
    clock.at("2026-03-03")
    publish(
        "progress_report",
        f"{CODE}:2026-02",
        progress_report_data(period="2026-02", annual_plan=100000, invested_this_year=20000),
    )
    assert supervision.severities(CODE, "2026-03-03", "funding_short") == ["yellow"]
    clock.at("2026-03-10")
    publish("funding", "F-1", funding_data(fiscal_year=2026, allocated=79999, disbursed=0))
    assert supervision.severities(CODE, "2026-03-10", "funding_short") == ["yellow"]
    clock.at("2026-03-20")
    publish("funding", "F-2", funding_data(fiscal_year=2026, allocated=1, disbursed=0))
    assert supervision.severities(CODE, "2026-03-20", "funding_short") == []
    assert supervision.severities(CODE, "2026-03-19", "funding_short") == ["yellow"]
    funding = supervision.project(CODE, as_of="2026-03-20")["factors"]["funding"]
    assert funding["allocated"] == 80000
    assert funding["annual_plan"] == 100000
    assert funding["allocated_of_plan"] == 80.0


# --- report_missing ---------------------------------------------------------------------------


def test_a_report_is_missing_after_the_5th_working_day_until_it_comes(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-09-01")
    # October 2026 starts with the National Day holiday: its 5th working day is late
    due = NATIONAL.nth_workday_of_month(2026, 10, 5)
    assert due > d("2026-10-07")
    after = (due + timedelta(days=1)).isoformat()
    publish_project(due.isoformat(), description="touched, so it is not stalled")
    assert supervision.severities(CODE, due.isoformat(), "report_missing") == []
    assert supervision.severities(CODE, after, "report_missing") == ["yellow"]
    late = (due + timedelta(days=3)).isoformat()
    clock.at(late)
    publish("progress_report", f"{CODE}:2026-09", progress_report_data(period="2026-09"))
    assert supervision.severities(CODE, late, "report_missing") == []
    assert supervision.severities(CODE, after, "report_missing") == ["yellow"]


# --- land_not_ready ---------------------------------------------------------------------------

START = {
    "name": "主体工程开工",
    "planned_date": "2026-06-30",
    "status": "pending",
    "kind": "construction_start",
}


def test_land_not_ready_within_30_days_of_the_construction_start(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-01-05", stage="preliminary", milestones=[START])
    clock.at("2026-02-01")
    publish("land_parcel", "L-1", parcel_data(supply_status="acquiring"))
    assert supervision.severities(CODE, "2026-05-30", "land_not_ready") == []
    assert supervision.severities(CODE, "2026-05-31", "land_not_ready") == ["yellow"]
    clock.at("2026-06-10")
    publish("land_parcel", "L-1", parcel_data(supply_status="ready"))
    assert supervision.severities(CODE, "2026-06-10", "land_not_ready") == []
    assert supervision.severities(CODE, "2026-06-09", "land_not_ready") == ["yellow"]
    land = supervision.project(CODE, as_of="2026-06-09")["factors"]["land"]
    assert land["by_supply_status"] == {"planned": 0, "acquiring": 1, "ready": 0, "supplied": 0}


# --- item_overdue -----------------------------------------------------------------------------


def test_an_item_resolved_one_day_late_is_overdue_for_that_day(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-03-01")
    clock.at("2026-03-12")
    body = coordination_item_data(due_date="2026-04-30")
    publish("coordination_item", "C-1", body)
    assert supervision.severities(CODE, "2026-04-30", "item_overdue") == []
    assert supervision.severities(CODE, "2026-05-01", "item_overdue") == ["yellow"]
    clock.at("2026-05-02")
    resolved = {"status": "resolved", "resolution": "补偿资金已拨付", "resolved_at": "2026-05-02"}
    publish("coordination_item", "C-1", {**body, **resolved})
    assert supervision.severities(CODE, "2026-05-02", "item_overdue") == []
    (signal,) = supervision.signals(CODE, "2026-05-01", "item_overdue")
    assert signal["record"] == {"type": "coordination_item", "key": "C-1"}
    assert signal["details"]["assigned_to"] == ["finance", "land"]
    items = supervision.project(CODE, as_of="2026-05-01")["coordination_items"]
    assert [(i["item_id"], i["status"], i["days_overdue"]) for i in items] == [("C-1", "open", 1)]


# --- stalled ----------------------------------------------------------------------------------


def test_a_project_with_no_change_for_30_days_is_stalled(
    publish, publish_project, clock: Clock, supervision: Supervision
):
    publish_project("2026-01-01")
    assert supervision.severities(CODE, "2026-01-30", "stalled") == []
    assert supervision.severities(CODE, "2026-01-31", "stalled") == ["yellow"]
    assert supervision.severities(CODE, "2026-02-01", "stalled") == ["yellow"]
    clock.at("2026-02-05")
    publish("land_parcel", "L-1", parcel_data())
    assert supervision.severities(CODE, "2026-02-05", "stalled") == []
    assert supervision.severities(CODE, "2026-02-01", "stalled") == ["yellow"]
    assert supervision.project(CODE, as_of="2026-02-06")["last_changed"] == "2026-02-05"


def test_a_project_not_under_way_does_not_stall(publish_project, supervision: Supervision):
    publish_project("2026-01-01", stage="reserve")
    assert supervision.severities(CODE, "2026-06-01", "stalled") == []


def test_a_change_counts_on_the_citys_day(publish, clock: Clock, supervision: Supervision):
    # 23:30 on 1 January in the city is 15:30 UTC the same day; 00:30 on 2 January in the city
    # is still 1 January in UTC, but counts as a change on 2 January
    clock.at("2026-01-02", hour=0)
    publish("project", CODE, project_data())
    assert supervision.project(CODE, as_of="2026-01-02")["last_changed"] == "2026-01-02"
    response = supervision.get(f"/projects/{CODE}", as_of="2026-01-01")
    assert response.status_code == 404
