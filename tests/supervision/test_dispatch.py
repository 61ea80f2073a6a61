"""The monthly dispatch report over the API: its figures, as JSON, printable HTML and XLSX that
agree with each other; the same report however records changed after the month; who may
ask, what is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from typing import Any
from urllib.parse import quote

import html5lib
import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from hub.supervision import report_xlsx
from tests.factories import (
    coordination_item_data,
    funding_data,
    progress_report_data,
    project_data,
)
from tests.record_helpers import assert_problem
from tests.supervision.conftest import API, Clock, Supervision

RED = "2503-330102-04-01-AAAAA1"  # a milestone 46 days late on 31 October
YELLOW = "2503-330106-04-02-BBBBB2"  # a milestone 16 days late
GREEN = "2503-330102-04-03-CCCCC3"
PERIOD = "2025-10"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def milestone(planned: str) -> dict[str, Any]:
    return {"name": "主体结构封顶", "planned_date": planned, "status": "pending"}


def project(division: str, leader: str, **changes: Any) -> dict[str, Any]:
    return project_data(
        stage="reserve",
        admin_division=division,
        responsible_leader={"name": leader, "title": "副市长"},
        **changes,
    )


def report(code: str, period: str, plan: float, invested: float) -> dict[str, Any]:
    return progress_report_data(
        code, period=period, annual_plan=plan, invested_this_year=invested, invested_to_date=9e5
    )


def item(code: str, raised: str, due: str, resolved: str | None = None) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    if resolved:
        outcome = {"status": "resolved", "resolution": "已协调解决", "resolved_at": resolved}
    return coordination_item_data(code, raised_at=raised, due_date=due, **outcome)


@pytest.fixture
def october(publish, clock: Clock) -> None:
    """Three projects in two districts, red, yellow and green at the end of October 2025, with
    their progress reports and the problem list."""
    clock.at("2025-09-01")
    publish(
        "project",
        RED,
        project("330102", "王力", name="地铁3号线", milestones=[milestone("2025-09-15")]),
    )
    publish(
        "project",
        YELLOW,
        project("330106", "陈敏", name="芯片厂", milestones=[milestone("2025-10-15")]),
    )
    publish("project", GREEN, project("330102", "王力", name="第二中学"))
    publish("coordination_item", "I-2", item(RED, "2025-09-01", "2025-12-31"))
    publish("coordination_item", "I-3", item(RED, "2025-09-01", "2025-10-15"))
    clock.at("2025-10-05")
    publish("progress_report", f"{RED}:2025-09", report(RED, "2025-09", 1000, 500))
    publish("coordination_item", "I-1", item(RED, "2025-10-05", "2025-11-30"))
    publish("coordination_item", "I-4", item(GREEN, "2025-10-02", "2025-10-31"))
    clock.at("2025-10-20")
    publish("coordination_item", "I-2", item(RED, "2025-09-01", "2025-12-31", "2025-10-20"))
    clock.at("2025-10-25")
    publish("coordination_item", "I-4", item(GREEN, "2025-10-02", "2025-10-31", "2025-10-25"))
    clock.at("2025-10-31")
    publish("progress_report", f"{RED}:2025-10", report(RED, "2025-10", 1000, 600))
    publish("progress_report", f"{GREEN}:2025-10", report(GREEN, "2025-10", 2000, 1700.5))
    publish("funding", "F-1", funding_data(GREEN, fiscal_year=2025, allocated=2000, disbursed=0))


def the_report(supervision: Supervision, **params: Any) -> dict[str, Any]:
    return supervision.ok("/dispatch", period=PERIOD, **params)


def download(supervision: Supervision, kind: str) -> Any:
    response = supervision.get("/dispatch", period=PERIOD, format=kind)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def workbook(supervision: Supervision) -> Workbook:
    return load_workbook(io.BytesIO(download(supervision, "xlsx").data))


def cell_values(book: Workbook) -> dict[str, list[tuple[Any, ...]]]:
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def rows_by_label(sheet: Any) -> dict[Any, tuple[Any, ...]]:
    return {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}


# --- the figures ---------------------------------------------------------------------------------


def test_the_report_counts_the_projects_and_their_investment(october, supervision):
    body = the_report(supervision)
    assert (body["period"], body["as_of"]) == (PERIOD, "2025-10-31")
    assert body["title"] == "2025年10月重大项目推进调度通报"
    totals = body["totals"]
    assert {k: totals[k] for k in ("projects", "green", "yellow", "red")} == {
        "projects": 3,
        "green": 1,
        "yellow": 1,
        "red": 1,
    }
    assert (totals["green_share"], totals["red_share"]) == (33.3, 33.3)
    assert (totals["annual_plan"], totals["invested_this_year"]) == (3000, 2300.5)
    assert totals["rate"] == 76.7
    assert totals["time_share"] == 83.3  # 304 of 365 days
    assert totals["points_behind"] == 6.6
    districts = {d["group"]: d for d in body["by_district"]}
    assert (districts["330102"]["projects"], districts["330102"]["red"]) == (2, 1)
    assert districts["330106"]["yellow"] == 1
    months = body["investment_by_month"]
    assert [m["period"] for m in months] == [f"2025-{m:02d}" for m in range(1, 11)]
    assert months[0]["annual_plan"] == 0
    assert months[0]["rate"] is None
    assert (months[8]["annual_plan"], months[8]["invested_this_year"]) == (1000, 500)
    assert (months[9]["annual_plan"], months[9]["invested_this_year"]) == (3000, 2300.5)
    assert months[9]["planned_to_date"] == 2498.63  # 3000 × 304/365


def test_the_red_and_yellow_lists_give_reasons_and_the_responsible_leader(october, supervision):
    body = the_report(supervision)
    (red,) = body["red"]
    assert red["project_code"] == RED
    assert red["name"] == "地铁3号线"
    assert red["responsible_leader"] == {"name": "王力", "title": "副市长"}
    assert red["signals"][0]["severity"] == "red"
    codes = [s["code"] for s in red["signals"]]
    assert codes[0] == "milestone_delayed"
    assert "item_overdue" in codes
    assert "46 天" in red["signals"][0]["message"]
    (yellow,) = body["yellow"]
    assert (yellow["project_code"], yellow["responsible_leader"]["name"]) == (YELLOW, "陈敏")
    assert [s["code"] for s in yellow["signals"]] == ["milestone_delayed"]


def test_the_problem_list_of_the_month(october, supervision):
    items = the_report(supervision)["coordination_items"]
    assert [i["item_id"] for i in items["opened"]] == ["I-4", "I-1"]
    assert [i["item_id"] for i in items["closed"]] == ["I-2", "I-4"]
    assert (items["opened_count"], items["closed_count"]) == (2, 2)
    assert (items["open_at_end"], items["overdue_at_end"]) == (2, 1)
    assert items["opened"][1]["project_name"] == "地铁3号线"
    assert "notes" not in items["opened"][0]  # conditional: never in the report


def test_the_report_carries_the_months_scorecard(october, supervision):
    card = the_report(supervision)["scorecard"]
    assert (card["from"], card["to"]) == ("2025-10-01", "2025-10-31")
    office = {row["department"]: row for row in card["departments"]}
    # I-3 was due on 15 October and is still open
    assert office["finance"]["coordination_items"]["late"] == 1


# --- the same month, whatever happened since --------------------------------------------------


def test_a_months_report_is_the_same_after_later_changes(
    october, supervision: Supervision, publish, clock: Clock
):
    before_json = the_report(supervision)
    before_cells = cell_values(workbook(supervision))
    before_html = download(supervision, "html").get_data(as_text=True)
    clock.at("2025-11-03")
    # a correction of October's report, an item closed and one raised backdated into October,
    # a milestone done, a new project: all written in November
    publish("progress_report", f"{RED}:2025-10", report(RED, "2025-10", 1200, 1100))
    publish("coordination_item", "I-3", item(RED, "2025-09-01", "2025-10-15", "2025-10-30"))
    publish("coordination_item", "I-9", item(GREEN, "2025-10-30", "2025-11-10"))
    publish("project", YELLOW, project("330106", "陈敏", name="芯片厂"))
    publish("project", "2503-330108-04-01-DDDDD4", project("330108", "李华"))
    assert the_report(supervision) == before_json
    assert cell_values(workbook(supervision)) == before_cells
    assert download(supervision, "html").get_data(as_text=True) == before_html
    # November's report sees them
    november = supervision.ok("/dispatch", period="2025-11")
    assert november["totals"]["projects"] == 4


# --- the workbook --------------------------------------------------------------------------------


def test_the_workbook_has_a_sheet_per_section_with_the_jsons_totals(october, supervision):
    body = the_report(supervision)
    response = download(supervision, "xlsx")
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="dispatch-2025-10.xlsx"; '
        f"filename*=UTF-8''{quote('调度通报-2025-10.xlsx')}"
    )
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == [
        "总体情况",
        "分区县情况",
        "投资进度",
        "红色项目",
        "黄色项目",
        "协调事项",
        "部门考评",
        "考评明细",
    ]
    totals = body["totals"]
    summary = rows_by_label(book["总体情况"])
    assert summary["项目总数（个）"][1] == totals["projects"]
    assert summary["红色项目（个）"][1] == totals["red"]
    assert summary["年度计划投资（万元）"][1] == totals["annual_plan"]
    assert summary["本年完成投资（万元）"][1] == totals["invested_this_year"]
    assert summary["投资完成率"][1] * 100 == pytest.approx(totals["rate"])
    assert summary["序时进度"][1] * 100 == pytest.approx(totals["time_share"])
    assert summary["本月新增协调事项（项）"][1] == 2
    districts = rows_by_label(book["分区县情况"])
    total_row = districts.pop("合计")
    assert total_row[1:7] == (
        totals["projects"],
        totals["green"],
        totals["yellow"],
        totals["red"],
        totals["annual_plan"],
        totals["invested_this_year"],
    )
    assert sum(row[1] for row in districts.values()) == totals["projects"]
    assert sum(row[6] for row in districts.values()) == totals["invested_this_year"]
    months = list(book["投资进度"].iter_rows(min_row=2, values_only=True))
    assert months[-1][3] == body["investment_by_month"][-1]["invested_this_year"]
    red = list(book["红色项目"].iter_rows(min_row=2, values_only=True))
    assert [(row[1], row[6]) for row in red] == [(RED, "王力")]
    assert "46 天" in red[0][8]
    ranked = list(book["部门考评"].iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in ranked] == [d["department"] for d in body["scorecard"]["departments"]]


def test_the_workbook_is_formatted_for_reading(october, supervision):
    book = workbook(supervision)
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.bold for cell in sheet[1] if cell.value is not None), sheet.title
    summary = book["总体情况"]
    formats = {row[0].value: row[1].number_format for row in summary.iter_rows(min_row=2)}
    assert formats["年度计划投资（万元）"] == report_xlsx.MONEY == "#,##0.00"
    assert formats["投资完成率"] == report_xlsx.PERCENT == "0.0%"
    districts = book["分区县情况"]
    assert districts["F2"].number_format == "#,##0.00"
    assert districts["H2"].number_format == "0.0%"
    assert book["投资进度"]["C2"].number_format == "#,##0.00"
    assert book["部门考评"]["D2"].number_format == "0.0%"
    for name in ("分区县情况", "投资进度", "部门考评"):
        assert len(book[name]._charts) == 1, name


# --- the printable page --------------------------------------------------------------------------


def test_the_html_is_a_valid_standalone_printable_page(october, supervision):
    body = the_report(supervision)
    response = download(supervision, "html")
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"].startswith(
        'inline; filename="dispatch-2025-10.html"'
    )
    page = response.get_data(as_text=True)
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    assert "<script" not in page
    assert not re.search(r'\b(src|href)="https?:', page)
    assert not re.search(r"\sstyle=", page)
    for heading in ("一、总体情况", "二、投资完成情况", "三、红色预警项目", "六、部门考评"):
        assert heading in page
    assert page.count("<svg") >= 3
    assert "@page { size: A4" in page
    assert body["red"][0]["signals"][0]["message"] in page
    # the page's policy allows its one stylesheet and nothing else
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy


def test_a_stored_value_is_escaped_in_the_page(publish, clock, supervision):
    clock.at("2025-10-01")
    script = "<script>alert(1)</script>"
    publish(
        "project", RED, project("330102", script, name=script, milestones=[milestone("2025-09-01")])
    )
    page = download(supervision, "html").get_data(as_text=True)
    assert script not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- who may ask, and what is refused ---------------------------------------------------------


def test_without_the_supervision_scope_it_is_refused(client, headers, departments):
    officer = headers("land", ["records:read", "records:write", "events:read"])
    for kind in ("json", "html", "xlsx"):
        path = f"{API}/dispatch?period={PERIOD}&format={kind}"
        assert_problem(client.get(path, headers=officer), 403)
    assert_problem(client.get(f"{API}/dispatch"), 401)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025-13"}, "period"),
        ({"period": "2025-1"}, "period"),
        ({"period": "October"}, "period"),
        ({"period": "1999-12"}, "period"),
        ({"period": PERIOD, "format": "pdf"}, "format"),
    ],
    ids=repr,
)
def test_invalid_values_are_422_naming_the_field(supervision, departments, params, field):
    assert_problem(supervision.get("/dispatch", **params), 422, field)


def test_without_a_period_it_is_the_last_full_month(supervision, departments):
    body = supervision.ok("/dispatch")
    assert body["as_of"] == body["scorecard"]["to"]
    assert body["period"] == body["as_of"][:7]
    assert body["totals"]["projects"] == 0


def test_the_report_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"][f"{API}/dispatch"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"period", "format"}
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/html", XLSX} <= set(content)
    assert "Dispatch" in document["components"]["schemas"]
    assert json.dumps(document["components"]["schemas"]["Dispatch"])
