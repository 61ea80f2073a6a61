"""The dispatch report as a printable HTML document: one standalone page, A4 when printed.

Made from the report's JSON form (``schemas.DispatchSchema``), so its figures are the JSON's.
No script, no external file: its one stylesheet is inline, its charts are SVG drawn here
(:mod:`hub.supervision.charts`). :data:`CONTENT_SECURITY_POLICY` allows exactly that
stylesheet (by its hash) and nothing else, for whoever serves the page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from hub.supervision import labels
from hub.supervision.charts import (
    DONE_COLOUR,
    PLAN_COLOUR,
    STATUS_COLOURS,
    Series,
    bar_chart,
    share_bar,
)

_CSS = (
    resources.files("hub.supervision").joinpath("templates/dispatch_print.css").read_text("utf-8")
)
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("hub.supervision", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(money=money, pct=pct, word=labels.word)
    environment.globals.update(labels=labels, share_bar=share_bar)
    return environment


def money(value: float | None) -> str:
    """An amount of 10,000 CNY as the report prints it: 1,234.50."""
    return "" if value is None else f"{value:,.2f}"


def pct(value: float | None) -> str:
    """A percentage as the report prints it: 65.3%; a dash for none."""
    return "—" if value is None else f"{value:.1f}%"


def month_label(period: str) -> str:
    """``2026-03`` → ``3月``."""
    return f"{int(period[5:7])}月"


def charts(report: Mapping[str, Any]) -> dict[str, Markup]:
    """The report's three charts: status by district, investment by month, the ranking."""
    districts = report["by_district"]
    months = report["investment_by_month"]
    ranked = [d for d in report["scorecard"]["departments"] if d["rank"] is not None]
    status_names = {"green": "绿色", "yellow": "黄色", "red": "红色"}
    return {
        "districts": bar_chart(
            [d["group"] or "未填" for d in districts],
            [
                Series(status_names[s], [d[s] for d in districts], STATUS_COLOURS[s])
                for s in ("green", "yellow", "red")
            ],
            ident="dispatch-districts",
            title="各区县项目红黄绿状态（个）",
            stacked=True,
        ),
        "investment": bar_chart(
            [month_label(m["period"]) for m in months],
            [
                Series("序时计划投资", [m["planned_to_date"] for m in months], PLAN_COLOUR),
                Series("累计完成投资", [m["invested_this_year"] for m in months], DONE_COLOUR),
            ],
            ident="dispatch-investment",
            title="本年计划与完成投资（万元）",
        ),
        "ranking": bar_chart(
            [d["name"] or d["department"] for d in ranked],
            [Series("综合按时率", [d["score"] for d in ranked], DONE_COLOUR)],
            ident="dispatch-ranking",
            title="部门考评综合按时率排名（%）",
            horizontal=True,
            maximum=100,
        ),
    }


def city_time(moment: str | None, zone: ZoneInfo) -> str:
    """An ISO date-time from the JSON as the city's ``YYYY-MM-DD HH:MM``."""
    if not moment:
        return ""
    return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def render(report: Mapping[str, Any], zone: ZoneInfo) -> str:
    """The report (its JSON form) as a standalone HTML document; times in ``zone``."""
    template = _environment().get_template("dispatch.html")
    return template.render(
        r=report,
        css=Markup(_CSS),
        charts=charts(report),
        month_label=month_label,
        city_time=lambda moment: city_time(moment, zone),
    )
