"""The working-day calendar: national holidays with make-up working days, a city's extras, the
Monday-to-Friday fallback for years nobody knows yet (and its warning), and a permit's
``overdue`` counted in working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from schemas import registry
from schemas.permit import compute_overdue, statutory_deadline
from schemas.workdays import WorkCalendar, package_knows, unknown_year_warning
from tests.factories import permit_data

NATIONAL = WorkCalendar()
# the first year the installed chinesecalendar has no official calendar for (2027 with 1.11)
FIRST_UNKNOWN_YEAR = max(chinese_calendar.holidays).year + 1


def d(text: str) -> date:
    return date.fromisoformat(text)


def days(start: str, end: str) -> list[date]:
    first, last = d(start), d(end)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def first_weekday(year: int, month: int, weekday: int) -> date:
    day = date(year, month, 1)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


# --- the national calendar -----------------------------------------------------------------------


def test_national_day_golden_week_2025():
    assert [NATIONAL.is_workday(day) for day in days("2025-10-01", "2025-10-08")] == [False] * 8
    assert NATIONAL.is_workday(d("2025-09-28"))  # Sunday, a make-up working day
    assert NATIONAL.is_workday(d("2025-10-11"))  # Saturday, a make-up working day
    assert NATIONAL.is_workday(d("2025-09-30"))
    assert NATIONAL.is_workday(d("2025-10-09"))
    assert not NATIONAL.is_workday(d("2025-10-12"))  # an ordinary Sunday


def test_counting_across_the_golden_week_2025():
    # Sep 28 (Sun), 29, 30, Oct 9, 10, 11 (Sat) are the working days in (Sep 26, Oct 12]
    assert NATIONAL.workdays_between(d("2025-09-26"), d("2025-10-12")) == 6
    assert NATIONAL.add_workdays(d("2025-09-30"), 1) == d("2025-10-09")
    assert NATIONAL.add_workdays(d("2025-09-26"), 1) == d("2025-09-28")
    assert NATIONAL.add_workdays(d("2025-09-26"), 6) == d("2025-10-11")
    assert NATIONAL.add_workdays(d("2025-09-26"), 7) == d("2025-10-13")


def test_spring_festival_2026():
    holidays = days("2026-02-15", "2026-02-23")
    assert not any(NATIONAL.is_workday(day) for day in holidays)
    assert NATIONAL.is_workday(d("2026-02-14"))  # Saturday, a make-up working day
    assert NATIONAL.is_workday(d("2026-02-28"))  # Saturday, a make-up working day
    assert not NATIONAL.is_workday(d("2026-02-21"))
    assert NATIONAL.add_workdays(d("2026-02-13"), 1) == d("2026-02-14")
    assert NATIONAL.add_workdays(d("2026-02-14"), 1) == d("2026-02-24")
    # Feb 14 and Feb 24 to 28 (Saturday the 28th included)
    assert NATIONAL.workdays_between(d("2026-02-13"), d("2026-02-28")) == 6


def test_agrees_with_the_package_every_day_of_the_years_it_knows():
    for year in (2024, 2025, 2026):
        for day in days(f"{year}-01-01", f"{year}-12-31"):
            assert NATIONAL.is_workday(day) == chinese_calendar.is_workday(day), day


def test_the_limit_counts_from_the_day_after_the_start():
    friday = d("2025-11-07")
    assert NATIONAL.add_workdays(friday, 0) == friday
    assert NATIONAL.add_workdays(friday, 1) == d("2025-11-10")
    assert NATIONAL.add_workdays(friday, 5) == d("2025-11-14")
    assert NATIONAL.workdays_between(friday, friday) == 0
    assert NATIONAL.workdays_between(friday, d("2025-11-09")) == 0
    assert NATIONAL.workdays_between(friday, d("2025-11-10")) == 1
    # a start on a rest day counts the same as on the working day before it
    assert NATIONAL.add_workdays(d("2025-11-08"), 1) == d("2025-11-10")


def test_workdays_between_is_antisymmetric():
    start, end = d("2025-09-20"), d("2025-12-31")
    assert NATIONAL.workdays_between(end, start) == -NATIONAL.workdays_between(start, end)


def test_counting_across_years():
    assert NATIONAL.workdays_between(d("2024-12-31"), d("2026-12-31")) == (
        NATIONAL.workdays_between(d("2024-12-31"), d("2025-12-31"))
        + NATIONAL.workdays_between(d("2025-12-31"), d("2026-12-31"))
    )
    assert NATIONAL.workdays_between(d("2025-12-31"), d("2026-12-31")) == len(
        chinese_calendar.get_workdays(d("2026-01-01"), d("2026-12-31"))
    )
    # Dec 31, 2025 is a Wednesday; Jan 1 to 3, 2026 are holidays, Jan 4 (Sunday) is worked
    assert NATIONAL.add_workdays(d("2025-12-31"), 1) == d("2026-01-04")
    assert NATIONAL.add_workdays(d("2025-12-30"), 1) == d("2025-12-31")


def test_add_workdays_refuses_a_negative_count():
    with pytest.raises(ValueError):
        NATIONAL.add_workdays(d("2025-10-01"), -1)


def test_nth_working_day_of_a_month():
    # October 2025: 1 to 8 are holidays; the 11th is a make-up Saturday
    assert NATIONAL.nth_workday_of_month(2025, 10, 1) == d("2025-10-09")
    assert NATIONAL.nth_workday_of_month(2025, 10, 3) == d("2025-10-11")
    assert NATIONAL.nth_workday_of_month(2025, 10, 5) == d("2025-10-14")
    assert NATIONAL.nth_workday_of_month(2026, 2, 5) == d("2026-02-06")
    with pytest.raises(ValueError):
        NATIONAL.nth_workday_of_month(2026, 2, 0)


# --- inverse consistency -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 20, 60, 250])
def test_add_workdays_and_workdays_between_are_inverse(n):
    start = d("2024-11-01")
    for offset in range(0, 800, 3):
        day = start + timedelta(days=offset)
        end = NATIONAL.add_workdays(day, n)
        assert NATIONAL.is_workday(end), (day, n)
        assert NATIONAL.workdays_between(day, end) == n, (day, n)
        assert NATIONAL.workdays_between(day, end - timedelta(days=1)) == n - 1, (day, n)


def test_workdays_between_and_add_workdays_agree_on_any_span():
    start = d("2025-01-01")
    for offset in range(0, 700, 7):
        for length in (1, 3, 9, 40, 400):
            first = start + timedelta(days=offset)
            last = first + timedelta(days=length)
            used = NATIONAL.workdays_between(first, last)
            if used:
                assert NATIONAL.add_workdays(first, used) <= last
            assert NATIONAL.add_workdays(first, used + 1) > last


def test_counts_match_a_day_by_day_count_with_the_package():
    start = d("2024-12-20")
    for offset in range(0, 740, 11):  # up to the end of 2026
        end = start + timedelta(days=offset)
        naive = sum(
            chinese_calendar.is_workday(start + timedelta(days=n)) for n in range(1, offset + 1)
        )
        assert NATIONAL.workdays_between(start, end) == naive, end


# --- years nobody knows yet ----------------------------------------------------------------------


def test_the_package_knows_2004_to_2026_and_not_the_year_after():
    assert package_knows(2004)
    assert package_knows(2026)
    assert not package_knows(FIRST_UNKNOWN_YEAR)
    assert not package_knows(2003)


def test_an_unknown_year_falls_back_to_monday_to_friday():
    year = FIRST_UNKNOWN_YEAR
    assert not NATIONAL.knows(year)
    for day in days(f"{year}-01-01", f"{year}-12-31"):
        assert NATIONAL.is_workday(day) == (day.weekday() < 5), day


def test_counting_in_an_unknown_year_records_it():
    year = FIRST_UNKNOWN_YEAR
    monday = first_weekday(year, 10, 0)
    unknown: set[int] = set()
    assert NATIONAL.is_workday(monday, unknown_years=unknown)
    assert unknown == {year}
    unknown.clear()
    assert NATIONAL.add_workdays(monday, 5, unknown_years=unknown) == monday + timedelta(days=7)
    assert unknown == {year}
    unknown.clear()
    assert NATIONAL.workdays_between(monday, monday + timedelta(days=14), unknown_years=unknown)
    assert unknown == {year}


def test_a_count_reaching_into_an_unknown_year_records_only_that_year():
    unknown: set[int] = set()
    last_known = date(FIRST_UNKNOWN_YEAR - 1, 12, 1)
    NATIONAL.add_workdays(last_known, 40, unknown_years=unknown)
    assert unknown == {FIRST_UNKNOWN_YEAR}
    unknown.clear()
    NATIONAL.add_workdays(last_known, 5, unknown_years=unknown)
    NATIONAL.workdays_between(
        last_known, date(FIRST_UNKNOWN_YEAR - 1, 12, 31), unknown_years=unknown
    )
    NATIONAL.is_workday(last_known, unknown_years=unknown)
    assert unknown == set()


def test_an_unknown_year_gives_a_warning_in_chinese_and_english():
    year = FIRST_UNKNOWN_YEAR
    warnings = NATIONAL.warnings_for(date(year - 1, 11, 1), date(year, 3, 1))
    assert warnings == [unknown_year_warning(year)]
    assert f"{year}年节假日安排尚未收录，按周一至周五计算工作日" in warnings[0]
    assert f"The {year} holiday calendar is not known yet" in warnings[0]
    assert "Monday to Friday" in warnings[0]
    assert NATIONAL.warnings_for(d("2025-01-01"), d("2026-12-31")) == []


def test_warnings_gather_many_counts_into_one_message_per_year():
    unknown: set[int] = set()
    for month in range(1, 13):
        NATIONAL.add_workdays(date(FIRST_UNKNOWN_YEAR, month, 1), 3, unknown_years=unknown)
    NATIONAL.is_workday(date(2003, 5, 1), unknown_years=unknown)
    warnings = WorkCalendar.warnings(unknown, today=date(FIRST_UNKNOWN_YEAR - 1, 12, 2))
    assert len(warnings) == 2
    assert warnings[0].startswith("2003年节假日安排未收录")
    assert warnings[1].startswith(f"{FIRST_UNKNOWN_YEAR}年节假日安排尚未收录")


# --- a city's extras -----------------------------------------------------------------------------


def test_an_extra_holiday_makes_a_weekday_a_rest_day():
    tuesday = d("2025-11-11")
    city = WorkCalendar(extra_holidays={tuesday})
    assert NATIONAL.is_workday(tuesday)
    assert not city.is_workday(tuesday)
    assert city.add_workdays(d("2025-11-10"), 1) == d("2025-11-12")
    assert city.workdays_between(d("2025-11-09"), d("2025-11-14")) == 4


def test_an_extra_workday_makes_a_saturday_a_working_day():
    saturday = d("2025-11-15")
    city = WorkCalendar(extra_workdays={saturday})
    assert not NATIONAL.is_workday(saturday)
    assert city.is_workday(saturday)
    assert city.add_workdays(d("2025-11-14"), 1) == saturday
    assert city.workdays_between(d("2025-11-14"), d("2025-11-17")) == 2


def test_extras_override_the_package_on_its_own_days():
    city = WorkCalendar(extra_holidays={d("2025-09-28")}, extra_workdays={d("2025-10-08")})
    assert not city.is_workday(d("2025-09-28"))
    assert city.is_workday(d("2025-10-08"))


def test_next_years_official_calendar_given_as_extras_ends_the_fallback():
    year = FIRST_UNKNOWN_YEAR
    new_year = date(year, 1, 1)
    saturday = first_weekday(year, 2, 5)
    city = WorkCalendar(extra_holidays={new_year}, extra_workdays={saturday})
    assert city.knows(year)
    assert not city.is_workday(new_year)
    assert city.is_workday(saturday)
    unknown: set[int] = set()
    city.add_workdays(date(year, 3, 1), 30, unknown_years=unknown)
    assert unknown == set()
    assert city.warnings_for(date(year, 1, 1), date(year, 12, 31)) == []


def test_extras_from_iso_dates_as_settings_list_them():
    city = WorkCalendar.from_iso(["2025-11-11"], ["2025-11-15"])
    assert city == WorkCalendar({d("2025-11-11")}, {d("2025-11-15")})
    assert hash(city) == hash(WorkCalendar({d("2025-11-11")}, {d("2025-11-15")}))
    assert city.extra_holidays == {d("2025-11-11")}
    assert city.extra_workdays == {d("2025-11-15")}


@pytest.mark.parametrize("value", ["2025-13-01", "20251111", "2025-W46-2", "", "tomorrow"])
def test_extras_that_are_not_iso_dates_are_refused(value):
    with pytest.raises(ValueError, match="ISO date"):
        WorkCalendar.from_iso([value])


def test_a_date_both_holiday_and_workday_is_refused():
    with pytest.raises(ValueError, match="2025-11-11"):
        WorkCalendar({d("2025-11-11")}, {d("2025-11-11")})


def test_extras_must_be_dates():
    with pytest.raises(TypeError):
        WorkCalendar({datetime(2025, 11, 11, 9, 0)})


def test_the_calendar_is_immutable():
    city = WorkCalendar({d("2025-11-11")})
    with pytest.raises(AttributeError):
        city._extra_holidays = frozenset()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        city.extra_holidays = frozenset()  # type: ignore[misc]
    assert city != NATIONAL
    assert WorkCalendar() == NATIONAL


def test_extras_leave_other_calendars_alone():
    WorkCalendar(extra_holidays={d("2025-11-11")}).is_workday(d("2025-11-11"))
    assert WorkCalendar().is_workday(d("2025-11-11"))


# --- a permit's overdue flag, in working days ----------------------------------------------------


def permit(**overrides: object) -> dict[str, object]:
    return registry()["permit"].canonical(permit_data(**overrides), "P-1")


def test_a_permit_submitted_before_the_golden_week_is_not_overdue_by_calendar_days():
    # 10 working days from Tue Sep 23, 2025: Sep 24, 25, 26, 28 (a make-up Sunday), 29, 30,
    # then the holiday to Oct 8, then Oct 9, 10, 11 (a make-up Saturday) and 13
    data = permit(submitted_at="2025-09-23", statutory_days=10)
    assert statutory_deadline(data) == d("2025-10-13")
    # 10 calendar days would have run out on Oct 3
    assert compute_overdue(data, d("2025-10-04"))["overdue"] is False
    assert compute_overdue(data, d("2025-10-12"))["overdue"] is False
    assert compute_overdue(data, d("2025-10-13"))["overdue"] is False
    assert compute_overdue(data, d("2025-10-14"))["overdue"] is True


@pytest.mark.parametrize("status", ["submitted", "accepted"])
def test_a_pending_permit_is_overdue_from_the_day_after_its_deadline(status):
    data = permit(status=status, submitted_at="2026-02-10", statutory_days=20)
    deadline = NATIONAL.add_workdays(d("2026-02-10"), 20)
    assert statutory_deadline(data) == deadline == d("2026-03-16")
    assert compute_overdue(data, deadline)["overdue"] is False
    assert compute_overdue(data, deadline + timedelta(days=1))["overdue"] is True


@pytest.mark.parametrize("status", ["not_started", "approved", "rejected", "withdrawn"])
def test_a_permit_not_pending_is_never_overdue(status):
    body = {"status": status, "submitted_at": "2025-01-02", "statutory_days": 5}
    assert compute_overdue(body, d("2026-12-01"))["overdue"] is False


def test_a_permit_without_a_limit_is_never_overdue():
    data = permit(statutory_days=None)
    assert statutory_deadline(data) is None
    assert compute_overdue(data, d("2030-01-01"))["overdue"] is False


def test_the_permit_deadline_follows_the_calendar_it_is_given():
    data = permit(submitted_at="2025-11-07", statutory_days=1)
    city = WorkCalendar(extra_holidays={d("2025-11-10")})
    assert statutory_deadline(data) == d("2025-11-10")
    assert statutory_deadline(data, city) == d("2025-11-11")
    assert compute_overdue(data, d("2025-11-11"))["overdue"] is True
    assert compute_overdue(data, d("2025-11-11"), city)["overdue"] is False


def test_the_permit_deadline_reports_the_years_it_guessed():
    unknown: set[int] = set()
    data = {"status": "submitted", "submitted_at": f"{FIRST_UNKNOWN_YEAR - 1}-12-20"}
    compute_overdue({**data, "statutory_days": 30}, date.today(), unknown_years=unknown)
    assert unknown == {FIRST_UNKNOWN_YEAR}


def test_the_permit_type_computes_overdue_with_the_national_calendar():
    data = permit(submitted_at="2025-09-23", statutory_days=10)
    present = registry()["permit"].present
    assert present(data, d("2025-10-13"))["overdue"] is False
    assert present(data, d("2025-10-14"))["overdue"] is True
