"""Supervision signals of one project as of a date (DESIGN §6), from plain record data.

Each signal is checked on the day before it appears, the day it appears, and (where it has one)
the day it turns red. The records are the stored forms the hub keeps, made with the factories.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest

from hub.supervision.signals import (
    CODES,
    ProjectFacts,
    Signal,
    Thresholds,
    latest_report,
    milestone_delay,
    permit_clock,
    project_signals,
    status_of,
    year_share,
)
from schemas import registry
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

CALENDAR = WorkCalendar()
FIRST_UNKNOWN_YEAR = max(chinese_calendar.holidays).year + 1
AS_OF = date(2026, 10, 20)
START = {
    "name": "主体工程开工",
    "planned_date": "2026-03-01",
    "actual_date": "2026-03-05",
    "status": "done",
    "kind": "construction_start",
}


def d(text: str) -> date:
    return date.fromisoformat(text)


def stored(type_name: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a record, as the hub keeps it."""
    return registry()[type_name].canonical(body, key)


def project(**overrides: Any) -> dict[str, Any]:
    body = project_data(**{"stage": "construction", "milestones": [START], **overrides})
    return stored("project", PROJECT_CODE, body)


def report(period: str, **overrides: Any) -> dict[str, Any]:
    return stored(
        "progress_report",
        f"{PROJECT_CODE}:{period}",
        progress_report_data(period=period, **overrides),
    )


def permit(key: str = "P-1", **overrides: Any) -> dict[str, Any]:
    return stored("permit", key, permit_data(**overrides))


def parcel(key: str = "L-1", **overrides: Any) -> dict[str, Any]:
    return stored("land_parcel", key, parcel_data(**overrides))


def funding(key: str = "F-1", **overrides: Any) -> dict[str, Any]:
    return stored("funding", key, funding_data(**overrides))


def item(key: str = "C-1", **overrides: Any) -> dict[str, Any]:
    return stored("coordination_item", key, coordination_item_data(**overrides))


def green_facts(**overrides: Any) -> ProjectFacts:
    """A project in construction with nothing wrong as of AS_OF (2026-10-20)."""
    facts = ProjectFacts(
        project=project(),
        land_parcels=[parcel(supply_status="supplied", supplied_on="2026-01-10")],
        # 100,000 of 120,000 planned: 83%
        funding=[funding(fiscal_year=2026, allocated=100000, disbursed=50000)],
        permits=[
            permit(
                status="approved",
                submitted_at="2026-01-05",
                approved_at="2026-02-01",
                permit_no="EIA-2026-001",
            )
        ],
        coordination_items=[
            item(status="resolved", resolution="资金已拨付", resolved_at="2026-04-20")
        ],
        # 90,000 of 120,000 by September's end: 75% against a time share of 74.8%
        progress_reports=[report("2026-09", annual_plan=120000, invested_this_year=90000)],
        last_changed=d("2026-10-15"),
    )
    return replace(facts, **overrides)


def signals(
    facts: ProjectFacts, as_of: date, code: str | None = None, **options: Any
) -> list[Signal]:
    found = project_signals(facts, as_of, calendar=options.pop("calendar", CALENDAR), **options)
    return [signal for signal in found if code is None or signal.code == code]


def severities(facts: ProjectFacts, as_of: date, code: str, **options: Any) -> list[str]:
    return [signal.severity for signal in signals(facts, as_of, code, **options)]


# --- the whole --------------------------------------------------------------------------------


def test_a_project_with_nothing_wrong_is_green():
    assert signals(green_facts(), AS_OF) == []
    assert status_of([]) == "green"


def test_status_is_the_worst_severity():
    yellow = Signal("stalled", "yellow", "x", "x", {"type": "project", "key": PROJECT_CODE})
    red = replace(yellow, severity="red")
    assert status_of([yellow]) == "yellow"
    assert status_of([yellow, red, yellow]) == "red"
    assert status_of(iter([red])) == "red"


def test_a_signal_has_a_wire_form():
    facts = green_facts(last_changed=AS_OF - timedelta(days=40))
    (signal,) = signals(facts, AS_OF)
    wire = signal.as_dict()
    assert set(wire) == {"code", "severity", "message", "message_en", "record", "details"}
    assert wire["record"] == {"type": "project", "key": PROJECT_CODE}
    assert wire["code"] in CODES


def test_signals_come_in_the_order_of_the_codes():
    facts = green_facts(
        project=project(
            milestones=[
                {"name": "主体开工", "planned_date": "2026-11-01", "status": "pending"},
                {"name": "封顶", "planned_date": "2026-08-01", "status": "pending"},
            ]
        ),
        land_parcels=[parcel(supply_status="acquiring")],
        funding=[],
        permits=[permit(submitted_at="2026-06-01", statutory_days=20)],
        coordination_items=[item(due_date="2026-09-30")],
        progress_reports=[report("2026-08", invested_this_year=1)],
        last_changed=AS_OF - timedelta(days=60),
    )
    found = [signal.code for signal in signals(facts, AS_OF)]
    assert found == list(CODES)
    assert status_of(signals(facts, AS_OF)) == "red"


SECRETS = {
    "contacts": [{"name": "保密联系人甲", "phone": "+86 571 0000 9999"}],
    "applicant_contact": "申请人联系方式乙",
    "transfer_price": 7777.777777,
    "rights_holder": "权利人丙",
    "bank_account": "6222 9999 8888 7777",
    "notes": "内部备注丁",
}


def test_messages_never_quote_conditional_or_restricted_values():
    facts = green_facts(
        project=project(
            contacts=SECRETS["contacts"],
            milestones=[
                {"name": "开工", "planned_date": "2026-10-25", "status": "pending"},
                {"name": "桩基完成", "planned_date": "2026-08-01", "status": "pending"},
            ],
        ),
        land_parcels=[
            parcel(
                supply_status="acquiring",
                transfer_price=SECRETS["transfer_price"],
                rights_holder=SECRETS["rights_holder"],
            )
        ],
        funding=[
            funding(
                fiscal_year=2026, allocated=10, disbursed=0, bank_account=SECRETS["bank_account"]
            )
        ],
        permits=[
            permit(
                submitted_at="2026-06-01",
                statutory_days=20,
                applicant_contact=SECRETS["applicant_contact"],
            )
        ],
        coordination_items=[item(due_date="2026-09-30", notes=SECRETS["notes"])],
        progress_reports=[report("2026-09", invested_this_year=1)],
        last_changed=AS_OF - timedelta(days=45),
    )
    found = signals(facts, AS_OF)
    assert {signal.code for signal in found} == set(CODES) - {"report_missing"}
    text = " ".join(f"{signal.message} {signal.message_en} {signal.details}" for signal in found)
    for secret in ("保密联系人甲", "0000 9999", "申请人联系方式乙", "7777.77", "权利人丙"):
        assert secret not in text
    for secret in ("6222 9999", "内部备注丁"):
        assert secret not in text


# --- permit_overdue ---------------------------------------------------------------------------


def golden_week_permit(**overrides: Any) -> ProjectFacts:
    # 10 working days from Tue Sep 23, 2025 run out on Mon Oct 13 (Oct 1 to 8 are holidays;
    # Sun Sep 28 and Sat Oct 11 are worked); 10 calendar days would have run out on Oct 3
    return green_facts(
        permits=[permit(item="eia", submitted_at="2025-09-23", statutory_days=10, **overrides)]
    )


def test_a_permit_submitted_before_national_day_is_not_overdue_by_calendar_days():
    facts = golden_week_permit()
    for day in ("2025-10-04", "2025-10-08", "2025-10-11", "2025-10-13"):
        assert severities(facts, d(day), "permit_overdue") == [], day
    assert severities(facts, d("2025-10-14"), "permit_overdue") == ["yellow"]


def test_a_permit_turns_red_past_one_and_a_half_times_its_limit():
    facts = golden_week_permit()
    # 15 working days run out on Mon Oct 20 (14, 15, 16, 17, 20 after the 13th)
    assert severities(facts, d("2025-10-20"), "permit_overdue") == ["yellow"]
    assert severities(facts, d("2025-10-21"), "permit_overdue") == ["red"]


def test_permit_overdue_message_names_the_limit_and_the_days_used():
    (signal,) = signals(golden_week_permit(), d("2025-10-15"), "permit_overdue")
    assert signal.record == {"type": "permit", "key": "P-1"}
    assert "环评审批" in signal.message
    assert "法定 10 个工作日" in signal.message
    assert "已用 12 个工作日" in signal.message
    assert "2025-10-13" in signal.message
    assert "statutory 10 working days" in signal.message_en
    assert "12 used" in signal.message_en
    assert signal.details["working_days_used"] == 12
    (red,) = signals(golden_week_permit(), d("2025-10-21"), "permit_overdue")
    assert "1.5 倍（15 个工作日）" in red.message
    assert "1.5× the limit (15 working days)" in red.message_en


@pytest.mark.parametrize("status", ["accepted", "submitted"])
def test_both_pending_statuses_can_be_overdue(status):
    facts = golden_week_permit(status=status)
    assert severities(facts, d("2025-10-14"), "permit_overdue") == ["yellow"]


@pytest.mark.parametrize("status", ["approved", "rejected", "withdrawn", "not_started"])
def test_a_permit_no_longer_pending_is_not_overdue(status):
    body = {
        "status": status,
        "submitted_at": "2025-09-23",
        "approved_at": "2025-12-01",
        "permit_no": "EIA-1",
    }
    if status == "not_started":
        body = {"status": status}
    facts = green_facts(permits=[permit(statutory_days=10, **body)])
    assert severities(facts, d("2025-12-31"), "permit_overdue") == []


def test_a_permit_without_a_limit_is_not_overdue():
    facts = green_facts(permits=[permit(submitted_at="2025-01-02", statutory_days=None)])
    assert severities(facts, AS_OF, "permit_overdue") == []


def test_the_red_factor_is_a_threshold():
    facts = golden_week_permit()
    strict = Thresholds(permit_red_factor=1.2)  # 12 working days: Oct 15
    assert severities(facts, d("2025-10-15"), "permit_overdue", thresholds=strict) == ["yellow"]
    assert severities(facts, d("2025-10-16"), "permit_overdue", thresholds=strict) == ["red"]
    (signal,) = signals(facts, d("2025-10-16"), "permit_overdue", thresholds=strict)
    assert "1.2 倍" in signal.message


def test_a_citys_extra_holiday_moves_the_deadline():
    city = WorkCalendar(extra_holidays={d("2025-10-13")})
    facts = golden_week_permit()
    assert severities(facts, d("2025-10-14"), "permit_overdue", calendar=city) == []
    assert severities(facts, d("2025-10-15"), "permit_overdue", calendar=city) == ["yellow"]


def test_the_permit_clock_counts_working_days_used_and_left():
    data = permit(submitted_at="2025-09-23", statutory_days=10)
    clock = permit_clock(data, d("2025-10-10"), CALENDAR)
    assert clock is not None
    assert (clock.deadline, clock.used, clock.left, clock.overdue) == (d("2025-10-13"), 8, 2, False)
    late = permit_clock(data, d("2025-10-16"), CALENDAR)
    assert late is not None
    assert (late.used, late.left, late.overdue, late.red) == (13, -3, True, False)
    before = permit_clock(data, d("2025-09-01"), CALENDAR)
    assert before is not None
    assert before.used == 0


def test_a_permit_counted_in_an_unknown_year_is_reported():
    facts = green_facts(
        permits=[permit(submitted_at=f"{FIRST_UNKNOWN_YEAR}-01-04", statutory_days=20)]
    )
    unknown: set[int] = set()
    signals(facts, date(FIRST_UNKNOWN_YEAR, 3, 1), unknown_years=unknown)
    assert FIRST_UNKNOWN_YEAR in unknown
    assert WorkCalendar.warnings(unknown)[0].startswith(f"{FIRST_UNKNOWN_YEAR}年")


# --- milestone_delayed -------------------------------------------------------------------------


def milestone_facts(status: str = "pending", **extra: Any) -> ProjectFacts:
    milestone = {"name": "主体结构封顶", "planned_date": "2026-09-01", "status": status, **extra}
    return green_facts(project=project(milestones=[START, milestone]))


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2026-08-31", []),
        ("2026-09-01", []),
        ("2026-09-02", ["yellow"]),
        ("2026-10-01", ["yellow"]),  # 30 days late
        ("2026-10-02", ["red"]),  # 31 days late
    ],
)
def test_milestone_delayed_appears_after_its_date_and_turns_red_past_30_days(as_of, expected):
    facts = replace(milestone_facts(), last_changed=d(as_of))
    assert severities(facts, d(as_of), "milestone_delayed") == expected


@pytest.mark.parametrize("status", ["pending", "delayed"])
def test_a_milestone_not_done_is_delayed_whatever_its_status(status):
    assert severities(milestone_facts(status), d("2026-09-15"), "milestone_delayed") == ["yellow"]


def test_a_done_milestone_is_not_delayed():
    facts = milestone_facts("done", actual_date="2026-10-15")
    assert severities(facts, AS_OF, "milestone_delayed") == []


def test_milestone_message_names_the_milestone_the_delay_and_the_red_threshold():
    (signal,) = signals(milestone_facts(), d("2026-10-05"), "milestone_delayed")
    assert signal.record == {"type": "project", "key": PROJECT_CODE}
    assert "主体结构封顶" in signal.message
    assert "已延期 34 天" in signal.message
    assert "超过 30 天" in signal.message
    assert "34 days late" in signal.message_en
    assert signal.details["days_late"] == 34
    assert milestone_delay({"planned_date": "2026-09-01", "status": "pending"}, AS_OF) == 49


def test_the_milestone_red_days_are_a_threshold():
    facts = milestone_facts()
    thresholds = Thresholds(milestone_red_days=10)
    assert severities(facts, d("2026-09-11"), "milestone_delayed", thresholds=thresholds) == [
        "yellow"
    ]
    assert severities(facts, d("2026-09-12"), "milestone_delayed", thresholds=thresholds) == ["red"]


# --- investment_behind -------------------------------------------------------------------------

# June's report: the year's share elapsed at June 30, 2026 is 181/365. With a plan of 36,500,
# on pace is 18,100; each point of the plan is 365.
JUNE_AS_OF = d("2026-07-10")


def june(invested: float, **thresholds: Any) -> list[str]:
    facts = green_facts(
        progress_reports=[
            report("2026-05", annual_plan=36500, invested_this_year=18000),
            report("2026-06", annual_plan=36500, invested_this_year=invested),
        ]
    )
    return severities(facts, JUNE_AS_OF, "investment_behind", thresholds=Thresholds(**thresholds))


@pytest.mark.parametrize(
    ("invested", "expected"),
    [
        (18100, []),  # on pace
        (14450.000001, []),  # just under 10 points behind
        (14450, ["yellow"]),  # 10 points behind
        (7150, ["yellow"]),  # 30 points behind
        (7149.999999, ["red"]),  # past 30 points
        (0, ["red"]),
    ],
)
def test_investment_behind_yellow_at_10_points_red_past_30(invested, expected):
    assert june(invested) == expected


@pytest.mark.parametrize(
    ("invested", "expected"),
    [
        (14480, []),  # 80% of the time share
        (14479.999999, ["yellow"]),
        (10860, ["yellow"]),  # 60%
        (10859.999999, ["red"]),
    ],
)
def test_the_wuhan_rule_yellow_below_80_and_red_below_60_percent_of_the_time_share(
    invested, expected
):
    assert june(invested, investment_rule="ratio") == expected


def test_the_points_are_thresholds():
    assert june(16000, investment_yellow_points=5) == ["yellow"]
    assert june(16000) == []
    assert june(12000, investment_red_points=15) == ["red"]


def test_the_time_share_is_taken_at_the_reports_month_end_or_at_as_of():
    # at July 10 the year is 191/365 gone: 10 points behind is 15,450 at as_of
    assert june(15000) == []
    assert june(15000, investment_share_basis="as_of") == ["yellow"]


def test_investment_message_names_the_rates_and_the_threshold():
    facts = green_facts(
        progress_reports=[report("2026-06", annual_plan=36500, invested_this_year=14450)]
    )
    (signal,) = signals(facts, JUNE_AS_OF, "investment_behind")
    assert signal.record == {"type": "progress_report", "key": f"{PROJECT_CODE}:2026-06"}
    assert "本年完成投资 39.6%" in signal.message
    assert "序时进度 49.6%" in signal.message
    assert "落后 10 个百分点，达到 10 个百分点" in signal.message
    assert "10 or more" in signal.message_en
    assert signal.details["points_behind"] == 10.0


def test_only_the_latest_report_of_the_year_counts():
    behind_then_caught_up = [
        report("2026-08", annual_plan=36500, invested_this_year=100),
        report("2026-09", annual_plan=36500, invested_this_year=30000),
    ]
    facts = green_facts(progress_reports=behind_then_caught_up)
    assert severities(facts, AS_OF, "investment_behind") == []
    assert latest_report(behind_then_caught_up, AS_OF) == behind_then_caught_up[1]
    # as of early September, only August's report existed
    before = green_facts(progress_reports=behind_then_caught_up[:1])
    assert severities(before, d("2026-09-03"), "investment_behind") == ["red"]
    # a report for a month after as_of is not the latest as of then
    assert latest_report(behind_then_caught_up, d("2026-08-20")) == behind_then_caught_up[0]


def test_last_years_report_does_not_judge_this_year():
    facts = green_facts(
        progress_reports=[report("2025-12", annual_plan=36500, invested_this_year=100)]
    )
    assert severities(facts, d("2026-01-20"), "investment_behind") == []


def test_a_project_with_no_plan_this_year_is_not_behind():
    facts = green_facts(progress_reports=[report("2026-09", annual_plan=0, invested_this_year=0)])
    assert severities(facts, AS_OF, "investment_behind") == []


def test_the_share_of_the_year():
    assert year_share(d("2026-12-31")) == 1
    assert year_share(d("2026-07-02")) == pytest.approx(183 / 365)
    assert year_share(d("2028-12-31")) == 1  # leap year


# --- report_missing ----------------------------------------------------------------------------


def without_september_report(**overrides: Any) -> ProjectFacts:
    return green_facts(
        progress_reports=[report("2026-08", annual_plan=120000, invested_this_year=80000)],
        **overrides,
    )


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # October 2026: 1 to 7 are holidays; the 8th, 9th, 10th (a make-up Saturday), 12th and
        # 13th are its first five working days
        ("2026-10-08", []),
        ("2026-10-12", []),
        ("2026-10-13", []),
        ("2026-10-14", ["yellow"]),
        ("2026-10-31", ["yellow"]),
    ],
)
def test_report_missing_after_the_5th_working_day(as_of, expected):
    facts = without_september_report(last_changed=d(as_of))
    assert severities(facts, d(as_of), "report_missing") == expected


def test_report_missing_in_a_month_without_holidays():
    # November 2026: the 2nd to 6th are its first five working days
    facts = green_facts(
        progress_reports=[report("2026-09", annual_plan=120000, invested_this_year=90000)],
        last_changed=d("2026-11-06"),
    )
    assert severities(facts, d("2026-11-06"), "report_missing") == []
    assert severities(facts, d("2026-11-07"), "report_missing") == ["yellow"]


def test_a_report_for_last_month_stops_the_signal():
    assert severities(green_facts(), d("2026-10-14"), "report_missing") == []


def test_report_missing_names_the_missing_report_and_its_due_day():
    (signal,) = signals(without_september_report(), d("2026-10-14"), "report_missing")
    assert signal.record == {"type": "progress_report", "key": f"{PROJECT_CODE}:2026-09"}
    assert "2026-09" in signal.message
    assert "第 5 个工作日 2026-10-13" in signal.message
    assert "working day 5" in signal.message_en


def test_the_due_working_day_is_a_threshold():
    facts = without_september_report()
    thresholds = Thresholds(report_due_workday=3)  # Saturday, Oct 10
    assert severities(facts, d("2026-10-10"), "report_missing", thresholds=thresholds) == []
    assert severities(facts, d("2026-10-11"), "report_missing", thresholds=thresholds) == ["yellow"]


@pytest.mark.parametrize("stage", ["reserve", "completed", "suspended"])
def test_projects_not_under_way_need_no_report(stage):
    facts = without_september_report(project=project(stage=stage))
    assert severities(facts, d("2026-10-20"), "report_missing") == []


# --- land_not_ready ----------------------------------------------------------------------------


def land_facts(supply_status: str = "acquiring", **milestone: Any) -> ProjectFacts:
    start = {
        "name": "二期开工",
        "planned_date": "2026-11-30",
        "status": "pending",
        "kind": "construction_start",
        **milestone,
    }
    extra = {"supplied_on": "2026-09-01"} if supply_status == "supplied" else {}
    return green_facts(
        project=project(stage="preliminary", milestones=[start]),
        land_parcels=[
            parcel("L-1", supply_status="ready"),
            parcel("L-2", supply_status=supply_status, **extra),
        ],
    )


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2026-10-30", []),  # 31 days before the start
        ("2026-10-31", ["yellow"]),  # 30 days before
        ("2026-11-30", ["yellow"]),
        ("2026-12-15", ["yellow"]),  # the start is late and the land still not ready
    ],
)
def test_land_not_ready_within_30_days_of_the_construction_start(as_of, expected):
    facts = replace(land_facts(), last_changed=d(as_of))
    assert severities(facts, d(as_of), "land_not_ready") == expected


@pytest.mark.parametrize("status", ["ready", "supplied"])
def test_ready_or_supplied_land_is_no_signal(status):
    assert severities(land_facts(status), d("2026-11-15"), "land_not_ready") == []


def test_a_started_project_needs_no_land_signal():
    facts = land_facts(status="done", actual_date="2026-11-10")
    assert severities(facts, d("2026-11-15"), "land_not_ready") == []


def test_a_milestone_named_for_the_start_counts_without_a_kind():
    facts = land_facts(kind=None, name="项目开工")
    assert severities(facts, d("2026-11-15"), "land_not_ready") == ["yellow"]
    other = land_facts(kind="completion", name="竣工验收")
    assert severities(other, d("2026-11-15"), "land_not_ready") == []


def test_land_message_names_the_parcel_its_status_and_the_start():
    (signal,) = signals(land_facts("planned"), d("2026-11-15"), "land_not_ready")
    assert signal.record == {"type": "land_parcel", "key": "L-2"}
    assert "地块 L-2" in signal.message
    assert "二期开工" in signal.message
    assert "2026-11-30" in signal.message
    assert "30 天内" in signal.message
    assert "within 30 days" in signal.message_en


def test_the_lookahead_is_a_threshold():
    facts = land_facts()
    thresholds = Thresholds(land_lookahead_days=60)
    assert severities(facts, d("2026-10-01"), "land_not_ready", thresholds=thresholds) == ["yellow"]


# --- funding_short -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "expected"),
    # with the second line's 40,000, of a plan of 120,000: 80%, just under, a third
    [("56000", []), ("55999.999999", ["yellow"]), ("0", ["yellow"])],
)
def test_funding_short_below_80_percent_of_this_years_plan(first_line, expected):
    facts = green_facts(
        funding=[
            funding("F-1", fiscal_year=2026, allocated=first_line, disbursed=0),
            funding("F-2", fiscal_year=2026, allocated=40000, disbursed=0),
            funding("F-0", fiscal_year=2025, allocated=500000, disbursed=0),
        ]
    )
    assert severities(facts, AS_OF, "funding_short") == expected


def test_funding_short_message_names_the_share_and_threshold():
    facts = green_facts(funding=[funding(fiscal_year=2026, allocated=60000, disbursed=0)])
    (signal,) = signals(facts, AS_OF, "funding_short")
    assert signal.record == {"type": "progress_report", "key": f"{PROJECT_CODE}:2026-09"}
    assert "60,000 万元" in signal.message
    assert "120,000 万元" in signal.message
    assert "50%，低于 80%" in signal.message
    assert "below 80%" in signal.message_en


def test_without_a_plan_there_is_no_funding_signal():
    assert severities(green_facts(progress_reports=[], funding=[]), AS_OF, "funding_short") == []


def test_the_funding_ratio_is_a_threshold():
    facts = green_facts()  # 83%
    thresholds = Thresholds(funding_short_ratio=0.9)
    assert severities(facts, AS_OF, "funding_short", thresholds=thresholds) == ["yellow"]


# --- item_overdue ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [("2026-10-30", []), ("2026-10-31", []), ("2026-11-01", ["yellow"])],
)
def test_item_overdue_from_the_day_after_its_due_date(as_of, expected):
    facts = green_facts(coordination_items=[item(due_date="2026-10-31")], last_changed=d(as_of))
    assert severities(facts, d(as_of), "item_overdue") == expected


@pytest.mark.parametrize("status", ["open", "in_progress", "escalated"])
def test_every_unresolved_item_can_be_overdue(status):
    facts = green_facts(coordination_items=[item(due_date="2026-10-01", status=status)])
    assert severities(facts, AS_OF, "item_overdue") == ["yellow"]


def test_a_resolved_item_is_not_overdue():
    resolved = item(
        due_date="2026-10-01", status="resolved", resolution="已协调", resolved_at="2026-10-10"
    )
    assert severities(green_facts(coordination_items=[resolved]), AS_OF, "item_overdue") == []


def test_item_message_names_the_item_the_delay_and_the_departments():
    facts = green_facts(coordination_items=[item("C-7", due_date="2026-10-15")])
    (signal,) = signals(facts, AS_OF, "item_overdue")
    assert signal.record == {"type": "coordination_item", "key": "C-7"}
    assert "征迁补偿资金未到位" in signal.message
    assert "已逾期 5 天" in signal.message
    assert "finance、land" in signal.message
    assert "5 days overdue" in signal.message_en


# --- stalled -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle_days", "expected"), [(0, []), (29, []), (30, ["yellow"]), (31, ["yellow"])]
)
def test_stalled_after_30_days_without_a_change(idle_days, expected):
    facts = green_facts(last_changed=AS_OF - timedelta(days=idle_days))
    assert severities(facts, AS_OF, "stalled") == expected


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("preliminary", ["yellow"]),
        ("construction", ["yellow"]),
        ("reserve", []),
        ("completed", []),
        ("suspended", []),
    ],
)
def test_only_projects_under_way_can_stall(stage, expected):
    facts = green_facts(project=project(stage=stage), last_changed=AS_OF - timedelta(days=31))
    assert severities(facts, AS_OF, "stalled") == expected


def test_stalled_message_names_the_days_and_the_threshold():
    facts = green_facts(last_changed=d("2026-09-19"))
    (signal,) = signals(facts, AS_OF, "stalled")
    assert signal.record == {"type": "project", "key": PROJECT_CODE}
    assert "已 31 天无任何记录更新" in signal.message
    assert "2026-09-19" in signal.message
    assert "30 天" in signal.message
    assert "stalled after 30 days" in signal.message_en


def test_the_stalled_days_and_stages_are_thresholds():
    facts = green_facts(last_changed=AS_OF - timedelta(days=20))
    assert severities(facts, AS_OF, "stalled", thresholds=Thresholds(stalled_days=20)) == ["yellow"]
    idle = green_facts(project=project(stage="reserve"), last_changed=AS_OF - timedelta(days=40))
    everything = Thresholds(active_stages=frozenset({"reserve", "preliminary", "construction"}))
    assert severities(idle, AS_OF, "stalled", thresholds=everything) == ["yellow"]


# --- thresholds as settings --------------------------------------------------------------------


def test_thresholds_default_to_the_design():
    defaults = Thresholds()
    assert defaults.permit_red_factor == 1.5
    assert defaults.milestone_red_days == 30
    assert (defaults.investment_yellow_points, defaults.investment_red_points) == (10, 30)
    assert defaults.report_due_workday == 5
    assert defaults.land_lookahead_days == 30
    assert defaults.funding_short_ratio == 0.8
    assert defaults.stalled_days == 30


def test_thresholds_are_read_from_settings():
    settings = Thresholds.settings()
    assert settings["SUPERVISION_PERMIT_RED_FACTOR"] == 1.5
    assert settings["SUPERVISION_ACTIVE_STAGES"] == ["construction", "preliminary"]
    assert Thresholds.from_settings(settings) == Thresholds()
    changed = Thresholds.from_settings(
        {"SUPERVISION_STALLED_DAYS": 45, "SUPERVISION_INVESTMENT_RULE": "ratio", "OTHER": 1}
    )
    assert changed == Thresholds(stalled_days=45, investment_rule="ratio")


@pytest.mark.parametrize(
    "values",
    [
        {"investment_rule": "percent"},
        {"investment_yellow_points": 40},
        {"investment_yellow_ratio": 0.5},
        {"permit_red_factor": 0.9},
        {"report_due_workday": 0},
        {"stalled_days": -1},
    ],
)
def test_inconsistent_thresholds_are_refused(values):
    with pytest.raises(ValueError):
        Thresholds(**values)
