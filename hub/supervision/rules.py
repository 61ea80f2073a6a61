"""How supervision judges, as the app's settings configure it: the thresholds, the working-day
calendar and the city's time zone, built once at start."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from hub.core.calendar import work_calendar
from hub.core.config import ConfigError
from hub.supervision.signals import Thresholds
from schemas.workdays import WorkCalendar

_EXTENSION = "hub.supervision_rules"
SETTINGS_PREFIX = "SUPERVISION_"


@dataclass(frozen=True)
class Rules:
    """The thresholds signals are judged by, the calendar working days are counted in, and
    the zone whose midnight ends a day."""

    thresholds: Thresholds
    calendar: WorkCalendar
    zone: ZoneInfo


def init_app(app: Flask) -> None:
    """Build the rules from the app's (validated) settings; after ``core.calendar``'s."""
    try:
        thresholds = Thresholds.from_settings(app.config, SETTINGS_PREFIX)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"HUB_{SETTINGS_PREFIX}* settings: {exc}") from exc
    app.extensions[_EXTENSION] = Rules(
        thresholds, work_calendar(app), ZoneInfo(app.config["TIMEZONE"])
    )


def rules(app: Flask | None = None) -> Rules:
    """The supervision rules of ``app`` (the current app by default)."""
    configured: Rules = (app or current_app).extensions[_EXTENSION]
    return configured
