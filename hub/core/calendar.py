"""The app's working-day calendar: the national holiday calendar with the city's extra days.

Built once at start from ``WORKDAYS_EXTRA_HOLIDAYS`` and ``WORKDAYS_EXTRA_WORKDAYS`` (ISO
dates; see :mod:`schemas.workdays` for how a city adds next year's calendar before the package
has it), and shared by everything that counts working days: computed record fields such as a
permit's ``overdue``, and supervision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask import Flask, current_app

from schemas.workdays import WorkCalendar

_EXTENSION = "hub.work_calendar"
HOLIDAYS = "WORKDAYS_EXTRA_HOLIDAYS"
WORKDAYS = "WORKDAYS_EXTRA_WORKDAYS"


def calendar_from_settings(settings: Mapping[str, Any]) -> WorkCalendar:
    """The calendar the settings describe; ``ValueError`` starting with the setting's name.

    Dates may be ISO strings, or dates (a TOML config file can write them unquoted).
    """
    days: dict[str, list[str]] = {}
    for name in (HOLIDAYS, WORKDAYS):
        try:
            days[name] = _iso_dates(settings[name])
            WorkCalendar.from_iso(days[name])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: {exc}") from exc
    try:
        return WorkCalendar.from_iso(days[HOLIDAYS], days[WORKDAYS])
    except ValueError as exc:
        raise ValueError(f"{HOLIDAYS} and {WORKDAYS}: {exc}") from exc


def _iso_dates(values: Iterable[Any]) -> list[str]:
    if isinstance(values, str):
        raise TypeError("must be a list of ISO dates (YYYY-MM-DD)")
    return [value.isoformat() if isinstance(value, date) else value for value in values]


def init_app(app: Flask) -> None:
    """Build the app's calendar from its (validated) settings."""
    app.extensions[_EXTENSION] = calendar_from_settings(app.config)


def work_calendar(app: Flask | None = None) -> WorkCalendar:
    """The working-day calendar of ``app`` (the current app by default)."""
    calendar: WorkCalendar = (app or current_app).extensions[_EXTENSION]
    return calendar
