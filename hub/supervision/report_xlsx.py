"""The dispatch report as an XLSX workbook (openpyxl), for Excel and WPS.

Made from the report's JSON form (``schemas.DispatchSchema``), so its figures are the JSON's:
one sheet per section, Chinese headings in a frozen first row, amounts of 万元 as
``#,##0.00``, percentages as ``0.0%`` (the JSON's percent divided by 100), dates as dates,
and bar charts where a chart says more than the table. The workbook's own times are the
report's day, so the same report makes the same file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hub.supervision import labels
from hub.supervision.charts import DONE_COLOUR, PLAN_COLOUR, STATUS_COLOURS

MONEY = "#,##0.00"
PERCENT = "0.0%"
DAY = "yyyy-mm-dd"
INTEGER = "0"
HEADER_FILL = PatternFill("solid", fgColor="F3F2F1")
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the sheets, in order
SUMMARY, DISTRICTS, INVESTMENT, RED, YELLOW, ITEMS, SCORECARD, CASES = (
    "总体情况",
    "分区县情况",
    "投资进度",
    "红色项目",
    "黄色项目",
    "协调事项",
    "部门考评",
    "考评明细",
)


class Column:
    """A column of a sheet: its heading, width, the cell's value from a row, and format."""

    def __init__(
        self,
        heading: str,
        value: Callable[[Any], Any],
        width: float = 12,
        number_format: str | None = None,
        wrap: bool = False,
    ) -> None:
        self.heading, self.value, self.width = heading, value, width
        self.number_format, self.wrap = number_format, wrap


def render(report: Mapping[str, Any], zone: ZoneInfo) -> bytes:
    """The report (its JSON form) as the bytes of an XLSX workbook; times in ``zone``."""
    book = Workbook()
    made = datetime.combine(date.fromisoformat(report["as_of"]), time(23, 59, 59))
    book.properties.created = book.properties.modified = made
    book.properties.creator = "重大项目数据交换平台"
    book.properties.title = report["title"]
    book.remove(book.active)  # type: ignore[arg-type]
    _summary(book, report)
    _districts(book, report)
    _investment(book, report)
    for status, name in (("red", RED), ("yellow", YELLOW)):
        _listed(book, name, report[status])
    _items(book, report["coordination_items"])
    _scorecard(book, report["scorecard"], zone)
    _cases(book, report["scorecard"])
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def percent_cell(value: float | None) -> float | None:
    """A percentage of the JSON (65.3) as a spreadsheet's fraction (0.653)."""
    return None if value is None else round(value / 100, 6)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _table(book: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Any]) -> Worksheet:
    """A sheet with a frozen, bold heading row and one row per item of ``rows``."""
    sheet: Worksheet = book.create_sheet(title)
    sheet.append([column.heading for column in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in rows:
        sheet.append([column.value(row) for column in columns])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if column.number_format:
                cell.number_format = column.number_format
            if column.wrap:
                cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "A2"
    return sheet


def _summary(book: Workbook, report: Mapping[str, Any]) -> None:
    totals, items = report["totals"], report["coordination_items"]
    rows = [
        ("统计截至", _day(report["as_of"]), DAY),
        ("项目总数（个）", totals["projects"], INTEGER),
        ("绿色项目（个）", totals["green"], INTEGER),
        ("黄色项目（个）", totals["yellow"], INTEGER),
        ("红色项目（个）", totals["red"], INTEGER),
        ("绿色占比", percent_cell(totals["green_share"]), PERCENT),
        ("黄色占比", percent_cell(totals["yellow_share"]), PERCENT),
        ("红色占比", percent_cell(totals["red_share"]), PERCENT),
        ("年度计划投资（万元）", totals["annual_plan"], MONEY),
        ("本年完成投资（万元）", totals["invested_this_year"], MONEY),
        ("投资完成率", percent_cell(totals["rate"]), PERCENT),
        ("序时进度", percent_cell(totals["time_share"]), PERCENT),
        ("本月新增协调事项（项）", items["opened_count"], INTEGER),
        ("本月办结协调事项（项）", items["closed_count"], INTEGER),
        ("月末未办结协调事项（项）", items["open_at_end"], INTEGER),
        ("其中逾期（项）", items["overdue_at_end"], INTEGER),
    ]
    columns = [
        Column("指标", lambda row: row[0], 28),
        Column("数值", lambda row: row[1], 20),
    ]
    sheet = _table(book, SUMMARY, columns, rows)
    for index, (_, _, number_format) in enumerate(rows, start=2):
        sheet.cell(index, 2).number_format = number_format
    for row, warning in enumerate(report["calendar_warnings"], start=len(rows) + 3):
        sheet.cell(row, 1, warning)


def _tally_columns(group: str) -> list[Column]:
    return [
        Column(group, lambda row: row["group"] or "未填", 14),
        Column("项目数", lambda row: row["projects"], 10, INTEGER),
        Column("绿色", lambda row: row["green"], 8, INTEGER),
        Column("黄色", lambda row: row["yellow"], 8, INTEGER),
        Column("红色", lambda row: row["red"], 8, INTEGER),
        Column("年度计划投资（万元）", lambda row: row["annual_plan"], 20, MONEY),
        Column("本年完成投资（万元）", lambda row: row["invested_this_year"], 20, MONEY),
        Column("完成率", lambda row: percent_cell(row["rate"]), 10, PERCENT),
    ]


def _districts(book: Workbook, report: Mapping[str, Any]) -> None:
    districts = report["by_district"]
    rows = [*districts, {**report["totals"], "group": "合计"}]
    sheet = _table(book, DISTRICTS, _tally_columns("行政区划"), rows)
    if districts:
        chart = _bar_chart("各区县项目红黄绿状态（个）", "个", stacked=True)
        last = len(districts) + 1
        chart.add_data(Reference(sheet, min_col=3, max_col=5, min_row=1, max_row=last), True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
        _colour(chart, [STATUS_COLOURS["green"], STATUS_COLOURS["yellow"], STATUS_COLOURS["red"]])
        sheet.add_chart(chart, "J2")


def _investment(book: Workbook, report: Mapping[str, Any]) -> None:
    months = report["investment_by_month"]
    columns = [
        Column("月份", lambda row: row["period"], 10),
        Column("年度计划投资（万元）", lambda row: row["annual_plan"], 20, MONEY),
        Column("序时计划投资（万元）", lambda row: row["planned_to_date"], 20, MONEY),
        Column("累计完成投资（万元）", lambda row: row["invested_this_year"], 20, MONEY),
        Column("完成率", lambda row: percent_cell(row["rate"]), 10, PERCENT),
        Column("序时进度", lambda row: percent_cell(row["time_share"]), 10, PERCENT),
    ]
    sheet = _table(book, INVESTMENT, columns, months)
    if months:
        chart = _bar_chart("本年计划与完成投资（万元）", "万元")
        last = len(months) + 1
        chart.add_data(Reference(sheet, min_col=3, max_col=4, min_row=1, max_row=last), True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
        _colour(chart, [PLAN_COLOUR, DONE_COLOUR])
        sheet.add_chart(chart, "H2")


def _leader(project: Mapping[str, Any], part: str) -> str:
    leader = project.get("responsible_leader") or {}
    return str(leader.get(part) or "")


def _listed(book: Workbook, title: str, projects: Sequence[Mapping[str, Any]]) -> None:
    numbered = list(enumerate(projects, start=1))
    columns = [
        Column("序号", lambda row: row[0], 6, INTEGER),
        Column("项目代码", lambda row: row[1]["project_code"], 28),
        Column("项目名称", lambda row: row[1]["name"], 28, wrap=True),
        Column("行政区划", lambda row: row[1]["admin_division"], 10),
        Column("项目阶段", lambda row: labels.word(labels.STAGE, row[1]["stage"]), 10),
        Column("牵头单位", lambda row: row[1]["lead_department"], 16, wrap=True),
        Column("责任领导", lambda row: _leader(row[1], "name"), 10),
        Column("职务", lambda row: _leader(row[1], "title"), 12),
        Column(
            "预警原因",
            lambda row: "\n".join(
                f"【{labels.word(labels.SEVERITY, s['severity'])}】{s['message']}"
                for s in row[1]["signals"]
            ),
            80,
            wrap=True,
        ),
    ]
    _table(book, title, columns, numbered)


def _items(book: Workbook, items: Mapping[str, Any]) -> None:
    rows = [("本月新增", line) for line in items["opened"]]
    rows += [("本月办结", line) for line in items["closed"]]
    columns = [
        Column("类别", lambda row: row[0], 10),
        Column("事项编号", lambda row: row[1]["item_id"], 18),
        Column("项目代码", lambda row: row[1]["project_code"], 28),
        Column("项目名称", lambda row: row[1]["project_name"], 24, wrap=True),
        Column("事项", lambda row: row[1]["title"], 36, wrap=True),
        Column("要素", lambda row: labels.word(labels.FACTOR, row[1]["factor"]), 8),
        Column("会议", lambda row: row[1]["meeting"] or "", 20),
        Column("提出日期", lambda row: _day(row[1]["raised_at"]), 12, DAY),
        Column("办结时限", lambda row: _day(row[1]["due_date"]), 12, DAY),
        Column("责任单位", lambda row: "、".join(row[1]["assigned_to"]), 20),
        Column("状态", lambda row: labels.word(labels.ITEM_STATUS, row[1]["status"]), 10),
        Column("办结日期", lambda row: _day(row[1]["resolved_at"]), 12, DAY),
    ]
    _table(book, ITEMS, columns, rows)


def _figure_columns(name: str, heading: str) -> list[Column]:
    return [
        Column(f"{heading}率", lambda row: percent_cell(row[name]["share"]), 12, PERCENT),
        Column(f"{heading}（件）", lambda row: row[name]["total"], 10, INTEGER),
        Column(f"{heading}·按时（件）", lambda row: row[name]["in_time"], 10, INTEGER),
    ]


def _scorecard(book: Workbook, card: Mapping[str, Any], zone: ZoneInfo) -> None:
    departments = card["departments"]

    def connectors(row: Mapping[str, Any]) -> str:
        return "\n".join(
            f"{c['name']}：{_moment_text(c['last_success'], zone) or '从未成功'}"
            for c in row["connectors"]
        )

    columns = [
        Column("排名", lambda row: row["rank"], 6, INTEGER),
        Column("部门", lambda row: row["department"], 14),
        Column("部门名称", lambda row: row["name"], 20),
        Column("综合按时率", lambda row: percent_cell(row["score"]), 12, PERCENT),
        Column("考评件数", lambda row: row["cases"], 10, INTEGER),
    ]
    for name, heading in labels.FIGURES:
        columns += _figure_columns(name, heading)
    columns += [
        Column(
            "审批用时中位数（工作日）",
            lambda row: row["permits"]["median_working_days"],
            14,
            "0.0",
        ),
        Column("超期未办结审批（件）", lambda row: row["permits"]["pending_overdue"], 12, INTEGER),
        Column("连接器最近成功", connectors, 36, wrap=True),
    ]
    sheet = _table(book, SCORECARD, columns, departments)
    ranked = sum(1 for row in departments if row["rank"] is not None)
    if ranked:
        chart = _bar_chart("部门考评综合按时率排名", "%")
        chart.type = "bar"
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
        chart.y_axis.number_format = "0%"
        chart.x_axis.scaling.orientation = "maxMin"  # the best at the top
        chart.add_data(Reference(sheet, min_col=4, min_row=1, max_row=ranked + 1), True)
        chart.set_categories(Reference(sheet, min_col=3, min_row=2, max_row=ranked + 1))
        _colour(chart, [DONE_COLOUR])
        chart.height = max(7.5, 0.8 * ranked + 3)
        sheet.add_chart(chart, f"A{len(departments) + 4}")


def _cases(book: Workbook, card: Mapping[str, Any]) -> None:
    rows = [
        (department, heading, case)
        for department in card["departments"]
        for name, heading in labels.FIGURES
        for case in department[name]["cases"]
    ]
    columns = [
        Column("部门", lambda row: row[0]["department"], 14),
        Column("指标", lambda row: row[1], 16),
        Column("类型", lambda row: labels.word(labels.CASE_TYPE, row[2]["type"]), 10),
        Column("编号", lambda row: row[2]["key"], 30),
        Column("项目代码", lambda row: row[2]["project_code"] or "", 28),
        Column("结果", lambda row: labels.word(labels.OUTCOME, row[2]["outcome"]), 10),
        Column("应办日期", lambda row: _day(row[2]["due"]), 12, DAY),
        Column("办结日期", lambda row: _day(row[2]["done"]), 12, DAY),
        Column("逾期（审批为工作日，其余为天）", lambda row: row[2]["days_late"], 14, INTEGER),
        Column("用时（工作日）", lambda row: row[2]["working_days"], 12, INTEGER),
        Column("法定时限（工作日）", lambda row: row[2]["statutory_days"], 12, INTEGER),
    ]
    _table(book, CASES, columns, rows)


def _moment_text(moment: str | None, zone: ZoneInfo) -> str:
    if not moment:
        return ""
    return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _bar_chart(title: str, unit: str, *, stacked: bool = False) -> BarChart:
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    chart.y_axis.title = unit
    chart.width, chart.height = 18, 9
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    return chart


def _colour(chart: BarChart, colours: Sequence[str]) -> None:
    for series, colour in zip(chart.series, colours, strict=False):
        series.graphicalProperties.solidFill = colour.removeprefix("#").upper()
        series.graphicalProperties.line.solidFill = colour.removeprefix("#").upper()
