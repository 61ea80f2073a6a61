"""The dispatch report in a real Chromium: the printable page keeps its own stylesheet (and
nothing else) under its Content-Security-Policy and prints to A4 PDF; the console's dispatch
page shows the month and downloads the workbook (issue 14: "download October's report").

The PDF and screenshots are saved under ``screenshot_dir`` to be looked at.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console, PageWatch, sign_in
from tests.factories import (
    coordination_item_data,
    funding_data,
    permit_data,
    progress_report_data,
    project_data,
)
from tests.supervision.conftest import CITY, DEPARTMENTS, OWNERS

pytestmark = pytest.mark.browser

PERIOD = "2025-10"
A4_POINTS = (595.3, 841.9)  # 210 × 297 mm
DIVISIONS = ("330102", "330106", "330108", "330110")


@pytest.fixture
def departments(make_department: Callable[..., str]) -> dict[str, list[str]]:
    """The standard departments, ndrc also publishing progress reports, the leading group's
    office the problem list."""
    for department_id, publishes in DEPARTMENTS.items():
        make_department(department_id, publishes)
    return DEPARTMENTS


@pytest.fixture
def city(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    departments: dict[str, list[str]],
) -> None:
    """A dozen projects in four districts, some red and some yellow at the end of October
    2025, with their reports, funding, permits and problem list."""

    def publish(day: str, type_name: str, key: str, data: dict[str, Any]) -> None:
        moment = datetime.combine(date.fromisoformat(day), time(10), tzinfo=CITY)
        monkeypatch.setattr("hub.records.service.utcnow", lambda: moment.astimezone(UTC))
        response = client.put(
            f"/api/v1/records/{type_name}/{key}", json=data, headers=headers(OWNERS[type_name])
        )
        assert response.status_code in (200, 201), response.json

    for number in range(12):
        code = f"2503-{DIVISIONS[number % 4]}-04-01-PRJ{number:03d}"
        milestones = []
        if number % 3 == 0:  # red: 50 days late; yellow: 10 days late
            milestones = [
                {"name": "主体结构封顶", "planned_date": "2025-09-11", "status": "pending"}
            ]
        elif number % 3 == 1:
            milestones = [
                {"name": "完成桩基施工", "planned_date": "2025-10-21", "status": "pending"}
            ]
        body = project_data(
            stage="reserve",
            name=f"重点项目{number + 1:02d}号",
            admin_division=DIVISIONS[number % 4],
            responsible_leader={"name": ("王力", "陈敏", "李华")[number % 3], "title": "副市长"},
            milestones=milestones,
        )
        publish("2025-09-01", "project", code, body)
        plan = 10000 * (number + 1)
        publish(
            "2025-09-01",
            "funding",
            f"F-{number}",
            funding_data(code, fiscal_year=2025, allocated=plan, disbursed=0),
        )
        for month in range(1, 11):
            report = progress_report_data(
                code,
                period=f"2025-{month:02d}",
                annual_plan=plan,
                invested_this_year=round(plan * month / 12 * (0.7 + number % 4 / 10), 2),
                invested_to_date=plan * 3,
            )
            day = f"2025-{month + 1:02d}-05" if month < 10 else "2025-10-31"
            publish(day, "progress_report", f"{code}:2025-{month:02d}", report)
        if number % 4 == 0:
            item = coordination_item_data(
                code, raised_at="2025-10-09", due_date="2025-10-30", assigned_to=["land"]
            )
            publish("2025-10-09", "coordination_item", f"协调-{number}", item)
        publish(
            "2025-09-26",
            "permit",
            f"P-{number}",
            permit_data(code, submitted_at="2025-09-26", statutory_days=5),
        )
        approved_on = "2025-10-10" if number % 2 else "2025-10-13"
        publish(
            approved_on,
            "permit",
            f"P-{number}",
            permit_data(
                code,
                submitted_at="2025-09-26",
                statutory_days=5,
                status="approved",
                approved_at=approved_on,
                permit_no=f"X-{number}",
            ),
        )


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The width and height, in points, of each page of a PDF (its /MediaBox)."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(width), float(height)) for width, height in boxes]


def test_the_printable_report_keeps_its_style_and_prints_on_a4(
    page: Page,
    console: Console,
    watch: PageWatch,
    city: None,
    headers: Callable[..., dict[str, str]],
    screenshot_dir: Path,
    save_screenshot: Callable[..., Path],
) -> None:
    page.set_extra_http_headers(headers("office", ["supervision"]))
    page.set_viewport_size({"width": 1280, "height": 800})
    response = page.goto(console.at(f"/api/v1/supervision/dispatch?period={PERIOD}&format=html"))
    assert response is not None
    assert response.ok
    expect(page.locator("h1")).to_have_text("2025年10月重大项目推进调度通报")
    # the inline stylesheet applies (its hash is in the page's policy): the issuer line is red
    colour = page.locator(".issuer").evaluate("element => getComputedStyle(element).color")
    assert colour == "rgb(212, 53, 28)"
    assert page.locator("svg.bar-chart").count() == 3
    assert page.locator("script").count() == 0
    watch.assert_clean()
    save_screenshot(page, "dispatch-print-page")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    pages = pdf_pages(pdf)
    assert len(pages) >= 2, "a dozen projects' report runs over more than one page"
    for width, height in pages:
        assert (width, height) == pytest.approx(A4_POINTS, abs=1.5)
    path = screenshot_dir / f"dispatch-{PERIOD}.pdf"
    path.write_bytes(pdf)
    print(f"PDF: {path} ({len(pages)} pages)")


def test_the_office_downloads_octobers_report_from_the_console(
    page: Page,
    console: Console,
    watch: PageWatch,
    city: None,
    make_user: Callable[..., str],
    save_screenshot: Callable[..., Path],
    tmp_path: Path,
) -> None:
    make_user("zhou", "office", "office", display_name="周办公室")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, console, "zhou")
    page.goto(console.at(f"/console/supervision/dispatch?period={PERIOD}"))
    expect(page.locator("main h1")).to_contain_text(PERIOD)
    assert page.locator("main svg.bar-chart").count() == 2
    save_screenshot(page, "dispatch-console-page")
    with page.expect_download() as download_info:
        page.locator(f"a[href$='/dispatch/{PERIOD}.xlsx']").click()
    download = download_info.value
    assert download.suggested_filename == f"调度通报-{PERIOD}.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = load_workbook(io.BytesIO(saved.read_bytes()))
    assert book["总体情况"]["B3"].value == 12  # 项目总数
    page.goto(console.at("/console/supervision/scorecard?from=2025-10-01&to=2025-10-31"))
    expect(page.locator("main table")).to_be_visible()
    save_screenshot(page, "scorecard-console-page")
    page.locator("main table a[href*='/scorecard/approval']").first.click()
    expect(page.locator("section#permits")).to_be_visible()
    save_screenshot(page, "scorecard-department-page")
    watch.assert_clean()
