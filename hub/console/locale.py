"""The console's language and how it writes dates: Simplified Chinese unless a person chose
English (kept in their session)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, session
from flask_babel import Babel

LOCALES = ("zh_Hans_CN", "en")
DEFAULT_LOCALE = "zh_Hans_CN"
babel = Babel()


def select_locale() -> str:
    """The locale of the current page."""
    chosen = session.get("locale") if session else None
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def is_english() -> bool:
    """Whether the current page is in English."""
    return select_locale() == "en"


def html_lang() -> str:
    """The page's language as ``<html lang>`` names it."""
    return "en" if is_english() else "zh-CN"


def format_day(value: date | datetime | str | None) -> str:
    """A date as 2026年10月20日 (ISO 2026-10-20 in English); a time is shown in the city's day."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()
    if is_english():
        return value.isoformat()
    return f"{value.year}年{value.month}月{value.day}日"


def format_moment(value: datetime | None) -> str:
    """A moment in the city's time zone: 2026年10月20日 14:05 (2026-10-20 14:05 in English)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    return f"{format_day(local.date())} {local:%H:%M}"
