"""The working-day calendar that statutory time limits are counted in.

Permit limits count working days (工作日) under the national holiday calendar, with its
make-up working weekends (调休), as published each year by the State Council. The dates come
from the maintained ``chinesecalendar`` package (import name ``chinese_calendar``). A city
extends it with ``extra_holidays`` and ``extra_workdays``: local rest days, or next year's
official calendar when it is published before the package is updated.

For a year that neither the package nor the extras know, the calendar falls back to Monday
to Friday and says so: every counting method can record the years it had to guess in an
``unknown_years`` set the caller passes, and :meth:`WorkCalendar.warnings` turns those years
into the messages a response carries as ``calendar_warnings``::

    guessed: set[int] = set()
    deadline = calendar.add_workdays(submitted, 20, unknown_years=guessed)
    ...
    body["calendar_warnings"] = WorkCalendar.warnings(guessed)

Counting follows the Administrative Licensing Law: a limit runs from the day after the
application is accepted, so neither ``add_workdays`` nor ``workdays_between`` counts the start
date itself. Both work on a sorted array of the working days of each year (built once per year
and calendar), searched by bisection: no call walks day by day.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache

import chinese_calendar

from schemas.base import ISO_DATE_PATTERN

__all__ = ["WorkCalendar", "package_knows", "unknown_year_warning"]


@cache
def package_knows(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the official calendar of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 7, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _package_workdays(year: int) -> tuple[int, ...]:
    """Ordinals of the working days of ``year``: the package's, or Monday to Friday."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    if package_knows(year):
        days = chinese_calendar.get_workdays(first, last)
        return tuple(day.toordinal() for day in days)
    return tuple(
        ordinal
        for ordinal in range(first.toordinal(), last.toordinal() + 1)
        if date.fromordinal(ordinal).weekday() < 5
    )


def unknown_year_warning(year: int, today: date | None = None) -> str:
    """The message that ``year``'s working days were counted Monday to Friday."""
    if today is not None and year < today.year:
        return (
            f"{year}年节假日安排未收录，按周一至周五计算工作日 / "
            f"The {year} holiday calendar is not on record; working days counted Monday to Friday"
        )
    return (
        f"{year}年节假日安排尚未收录，按周一至周五计算工作日 / "
        f"The {year} holiday calendar is not known yet; working days counted Monday to Friday"
    )


class WorkCalendar:
    """Working days under the national holiday calendar, with a city's extras; immutable.

    ``extra_holidays`` are dates that are not working days even if the package says they
    are; ``extra_workdays`` are dates that are, even on a weekend. A date may not be in both.
    A year counts as known when the package has it or when an extra date falls in it, so a
    city that adds next year's official calendar (holidays and make-up days) as extras stops
    the fallback warning for that year.

    Safe to share between threads; equal when the extras are equal.
    """

    __slots__ = ("_extra_holidays", "_extra_workdays", "_extra_years", "_lock", "_years")

    _extra_holidays: frozenset[date]
    _extra_workdays: frozenset[date]
    _extra_years: frozenset[int]
    _lock: threading.Lock
    _years: dict[int, tuple[int, ...]]

    def __init__(
        self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        holidays, workdays = frozenset(extra_holidays), frozenset(extra_workdays)
        for day in holidays | workdays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise TypeError(f"extra days must be dates, not {day!r}")
        both = sorted(holidays & workdays)
        if both:
            listed = ", ".join(day.isoformat() for day in both)
            raise ValueError(f"dates both extra holidays and extra workdays: {listed}")
        set_attribute = object.__setattr__
        set_attribute(self, "_extra_holidays", holidays)
        set_attribute(self, "_extra_workdays", workdays)
        set_attribute(self, "_extra_years", frozenset(day.year for day in holidays | workdays))
        set_attribute(self, "_lock", threading.Lock())
        set_attribute(self, "_years", {})

    @classmethod
    def from_iso(
        cls, extra_holidays: Iterable[str] = (), extra_workdays: Iterable[str] = ()
    ) -> WorkCalendar:
        """A calendar from ISO dates (``YYYY-MM-DD``), as settings list them.

        Raises ``ValueError`` naming a date that is not one.
        """
        return cls(_parse_dates(extra_holidays), _parse_dates(extra_workdays))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return (self._extra_holidays, self._extra_workdays) == (
            other._extra_holidays,
            other._extra_workdays,
        )

    def __hash__(self) -> int:
        return hash((self._extra_holidays, self._extra_workdays))

    def __repr__(self) -> str:
        return (
            f"WorkCalendar(extra_holidays={len(self._extra_holidays)} dates, "
            f"extra_workdays={len(self._extra_workdays)} dates)"
        )

    @property
    def extra_holidays(self) -> frozenset[date]:
        """The city's extra non-working days."""
        return self._extra_holidays

    @property
    def extra_workdays(self) -> frozenset[date]:
        """The city's extra working days."""
        return self._extra_workdays

    # --- what the calendar knows --------------------------------------------------------------

    def knows(self, year: int) -> bool:
        """Whether ``year``'s holidays are known (package or extras), not guessed."""
        return year in self._extra_years or package_knows(year)

    def unknown_years_between(self, start: date, end: date) -> frozenset[int]:
        """The years from ``start`` to ``end`` (inclusive, either order) counted Mon–Fri."""
        low, high = sorted((start.year, end.year))
        return frozenset(year for year in range(low, high + 1) if not self.knows(year))

    @staticmethod
    def warnings(years: Iterable[int], today: date | None = None) -> list[str]:
        """One message per year counted Monday to Friday, in year order.

        With ``today``, a past year is said to be not on record rather than not known yet.
        """
        return [unknown_year_warning(year, today) for year in sorted(set(years))]

    def warnings_for(self, start: date, end: date, today: date | None = None) -> list[str]:
        """The messages for the years from ``start`` to ``end`` this calendar had to guess."""
        return self.warnings(self.unknown_years_between(start, end), today)

    # --- counting ------------------------------------------------------------------------------

    def is_workday(self, day: date, *, unknown_years: set[int] | None = None) -> bool:
        """Whether ``day`` is a working day."""
        self._note(day.year, day.year, unknown_years)
        ordinals = self._workdays(day.year)
        index = bisect_right(ordinals, day.toordinal())
        return index > 0 and ordinals[index - 1] == day.toordinal()

    def workdays_between(
        self, start: date, end: date, *, unknown_years: set[int] | None = None
    ) -> int:
        """The number of working days in ``(start, end]``: after ``start``, up to ``end``.

        This is how many working days of a limit that started on ``start`` are used up by the
        end of ``end``. Negative (the count in ``(end, start]``) when ``end`` is before
        ``start``; 0 when they are the same day.
        """
        if end < start:
            return -self.workdays_between(end, start, unknown_years=unknown_years)
        if end == start:
            return 0
        self._note((start + timedelta(days=1)).year, end.year, unknown_years)
        start_ordinal, end_ordinal = start.toordinal(), end.toordinal()
        if start.year == end.year:
            ordinals = self._workdays(start.year)
            return bisect_right(ordinals, end_ordinal) - bisect_right(ordinals, start_ordinal)
        first = self._workdays(start.year)
        count = len(first) - bisect_right(first, start_ordinal)
        for year in range(start.year + 1, end.year):
            count += len(self._workdays(year))
        return count + bisect_right(self._workdays(end.year), end_ordinal)

    def add_workdays(self, start: date, n: int, *, unknown_years: set[int] | None = None) -> date:
        """The day on which ``n`` working days counted after ``start`` are used up.

        Counting starts the working day after ``start`` (the Administrative Licensing Law
        counts from the day after acceptance): ``add_workdays(d, 1)`` is the first working
        day after ``d``, and ``add_workdays(d, 0)`` is ``d``. For ``n >= 1`` the result ``r``
        is the working day with ``workdays_between(start, r) == n``; a limit of ``n`` working
        days from ``start`` is exceeded from the day after ``r``.
        """
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        if n == 0:
            return start
        year, remaining = start.year, n
        ordinals = self._workdays(year)
        index = bisect_right(ordinals, start.toordinal())
        while index + remaining > len(ordinals):
            remaining -= len(ordinals) - index
            year += 1
            ordinals, index = self._workdays(year), 0
        result = date.fromordinal(ordinals[index + remaining - 1])
        self._note((start + timedelta(days=1)).year, result.year, unknown_years)
        return result

    def nth_workday_of_month(
        self, year: int, month: int, n: int, *, unknown_years: set[int] | None = None
    ) -> date:
        """The ``n``-th working day (1-based) of a month, e.g. the 5th working day of October.

        It may fall in a later month when the month has fewer than ``n`` working days.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        return self.add_workdays(
            date(year, month, 1) - timedelta(days=1), n, unknown_years=unknown_years
        )

    # --- internals -----------------------------------------------------------------------------

    def _note(self, first_year: int, last_year: int, unknown_years: set[int] | None) -> None:
        if unknown_years is None:
            return
        unknown_years.update(
            year for year in range(first_year, last_year + 1) if not self.knows(year)
        )

    def _workdays(self, year: int) -> tuple[int, ...]:
        """Sorted ordinals of the working days of ``year``, extras applied; cached."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        base = _package_workdays(year)
        if year in self._extra_years:
            days = set(base)
            days.difference_update(d.toordinal() for d in self._extra_holidays if d.year == year)
            days.update(d.toordinal() for d in self._extra_workdays if d.year == year)
            base = tuple(sorted(days))
        with self._lock:
            return self._years.setdefault(year, base)


def _parse_dates(values: Iterable[str]) -> list[date]:
    days = []
    for value in values:
        try:
            if not isinstance(value, str) or not ISO_DATE_PATTERN.match(value):
                raise ValueError(value)
            days.append(date.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from exc
    return days
