"""The console's supervision pages: the board (statuses, signals, filters, pages, charts), one
project's supervision page (delays, factors, problem list, reports), the summary; who may see
what, that no protected value shows where it may not, and that stored text is escaped."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.audit.entries import AuditFilter, list_entries
from hub.core.extensions import db
from tests.console.conftest import Browser
from tests.factories import (
    coordination_item_data,
    funding_data,
    parcel_data,
    permit_data,
    progress_report_data,
    project_data,
)
from tests.supervision.conftest import DEPARTMENTS, OWNERS, Clock

RED = "2503-330102-04-01-AAAAA1"  # a milestone 40 days late, and much more
YELLOW = "2503-330106-04-02-BBBBB2"  # a milestone 10 days late
GREEN = "2503-330102-04-03-CCCCC3"  # nothing wrong
AS_OF = "2026-05-10"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
# protected values, each of one record type: none may show to a reader without the right
BANK_ACCOUNT = "6222 9999 8888 7777"  # funding, restricted
RIGHTS_HOLDER = "Secret Holder Co"  # land_parcel, restricted
TRANSFER_PRICE = 777777.5  # land_parcel, conditional
APPLICANT = "Applicant Secret"  # permit, conditional
NOTES = "Notes only the office may read"  # coordination_item, conditional
PHONE = "0571 8765 4321"  # project contacts, conditional
BOARD = "/console/supervision"
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
ROW = re.compile(r"/console/supervision/projects/([0-9A-Z-]{24})")


@pytest.fixture
def departments(make_department: Callable[..., str]) -> dict[str, list[str]]:
    """The standard departments; ndrc also publishes progress reports, the leading group's
    office the problem list."""
    for department_id, publishes in DEPARTMENTS.items():
        make_department(department_id, publishes)
    return DEPARTMENTS


@pytest.fixture
def publish(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """PUT a record as the department that owns its type; asserts it was written."""

    def put(type_name: str, key: str, data: dict[str, Any]) -> None:
        response = client.put(
            f"/api/v1/records/{type_name}/{key}", json=data, headers=headers(OWNERS[type_name])
        )
        assert response.status_code in (200, 201), response.json

    return put


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Sets when records are written: ``clock.at("2026-05-01")``."""
    return Clock(monkeypatch)


def milestone(planned: str) -> dict[str, Any]:
    return {"name": "桩基完成", "planned_date": planned, "status": "pending"}


@pytest.fixture
def city(publish: Callable[..., Any], clock: Clock) -> None:
    """Three projects as of AS_OF: red, yellow, green (reserve projects: neither reporting nor
    stalling), the red one with a record of every kind."""
    clock.at("2026-05-01")
    publish(
        "project",
        RED,
        project_data(
            name="城东快速路二期",
            stage="reserve",
            category="infrastructure",
            admin_division="330102",
            lead_department="Transport Bureau",
            responsible_leader={"name": "王力", "title": "副市长"},
            task_force=[
                {"name": "李明", "department": "ndrc", "role": "lead"},
                {"name": "陈建国", "department": "land", "role": "member"},
            ],
            milestones=[milestone("2026-03-31")],
            contacts=[{"name": "陈华", "phone": PHONE}],
        ),
    )
    publish(
        "project",
        YELLOW,
        project_data(
            name="云栖生命健康产业园",
            stage="reserve",
            category="industry",
            admin_division="330106",
            lead_department="ndrc",
            responsible_leader={"name": "陈敏", "title": "副市长"},
            milestones=[milestone("2026-04-30")],
        ),
    )
    publish(
        "project",
        GREEN,
        project_data(
            name=f"{SCRIPT}紫金港第二小学",
            stage="reserve",
            category="public_service",
            admin_division="330102",
            lead_department="Education Bureau",
            responsible_leader={"name": "王力", "title": "副市长"},
        ),
    )
    publish(
        "land_parcel",
        "杭政储出〔2026〕7号",
        parcel_data(
            RED,
            supply_status="acquiring",
            supply_method="transfer",
            land_use="industrial",
            rights_holder=RIGHTS_HOLDER,
            transfer_price=TRANSFER_PRICE,
        ),
    )
    publish(
        "funding",
        "杭财建〔2026〕12号",
        funding_data(
            RED, fiscal_year=2026, allocated=50000, disbursed=20000, bank_account=BANK_ACCOUNT
        ),
    )
    publish(
        "permit",
        "HZSP-2026-00001",
        permit_data(
            RED,
            item="planning_permit",
            submitted_at="2026-03-02",
            statutory_days=20,
            applicant_contact=APPLICANT,
        ),
    )
    publish(
        "coordination_item",
        "LX2026-03-01",
        coordination_item_data(
            RED,
            title=f"管线迁改{SCRIPT}",
            raised_at="2026-03-12",
            due_date="2026-04-30",
            status="in_progress",
            notes=NOTES,
        ),
    )
    publish(
        "progress_report",
        f"{RED}:2026-04",
        progress_report_data(
            RED, "2026-04", annual_plan=100000, invested_this_year=10000, invested_to_date=30000
        ),
    )


@pytest.fixture
def english(app: Flask) -> Callable[[Browser], Browser]:
    """Switch a visitor's pages to English (so that tests can read their words)."""

    def switch(visitor: Browser) -> Browser:
        visitor.get("/console/")
        response = visitor.post("/console/language", {"locale": "en", "next": "/console/"})
        assert response.status_code == 302
        return visitor

    return switch


@pytest.fixture
def office(
    city: None, signed_in: Callable[..., Browser], english: Callable[[Browser], Browser]
) -> Browser:
    """The leading group's office, signed in, reading English."""
    return english(signed_in("office", "office", "office"))


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    page: str = response.get_data(as_text=True)
    return page


def rows(page: str) -> list[str]:
    """The projects the board lists, in order (each once)."""
    table = page[page.index('id="projects"') :]
    return list(dict.fromkeys(ROW.findall(table)))


def board(visitor: Browser, **filters: str) -> str:
    return text_of(visitor.get(BOARD, query_string={"as_of": AS_OF, **filters}))


def project_page(visitor: Browser, code: str) -> str:
    return text_of(visitor.get(f"{BOARD}/projects/{code}", query_string={"as_of": AS_OF}))


# ---------- the board ----------


def test_the_board_shows_each_project_with_its_status_and_signals(office: Browser) -> None:
    page = board(office)
    assert rows(page) == [RED, GREEN, YELLOW]
    assert 'tag tag--red">Red' in page
    assert 'tag tag--yellow">Yellow' in page
    assert 'tag tag--green">Green' in page
    # the signals' messages name the record and the threshold crossed
    assert "40 days late, more than 30 days" in page
    assert "10 days late" in page
    assert "Coordination item overdue" in page
    assert "Investment behind schedule" in page
    assert "Permit overdue" in page
    # the summary counts every project the filters pass, each count linking to its projects
    counts = re.findall(r'status-summary__figure">(\d+)<', page)
    assert counts == ["3", "1", "1", "1"]
    assert f'href="/console/supervision?as_of={AS_OF}&amp;status=red"' in page


def test_the_charts_are_drawn_from_the_boards_figures(office: Browser) -> None:
    page = board(office)
    options = re.search(
        r'<script type="application/json" id="chart-districts-options">(.*?)</script>', page, re.S
    )
    assert options is not None
    chart = json.loads(html.unescape(options.group(1)))
    assert chart["yAxis"]["data"] == ["上城区 330102", "西湖区 330106"]
    by_status = {series["name"]: series["data"] for series in chart["series"]}
    assert by_status == {"Green": [1, 0], "Yellow": [0, 1], "Red": [1, 0]}
    assert 'id="chart-status-options"' in page
    assert 'src="/console/static/vendor/echarts.min.js"' in page


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"admin_division": "330106"}, [YELLOW]),
        ({"leader": "王力"}, [RED, GREEN]),
        ({"status": "red"}, [RED]),
        ({"status": "green"}, [GREEN]),
        ({"category": "public_service"}, [GREEN]),
        ({"department": "land"}, [RED]),
        ({"department": "ndrc"}, [RED, YELLOW]),
        ({"admin_division": "330102", "status": "yellow"}, []),
    ],
)
def test_filters_narrow_the_board(
    office: Browser, filters: dict[str, str], expected: list[str]
) -> None:
    page = board(office, **filters)
    assert rows(page) == expected
    if not expected:
        assert "No project matches these filters on this day." in page


def test_the_status_filter_keeps_the_counts_of_every_status(office: Browser) -> None:
    page = board(office, leader="王力", status="red")
    assert rows(page) == [RED]
    assert re.findall(r'status-summary__figure">(\d+)<', page) == ["2", "1", "0", "1"]


def test_a_day_before_the_projects_existed_shows_none(office: Browser) -> None:
    page = text_of(office.get(BOARD, query_string={"as_of": "2026-04-01"}))
    assert rows(page) == []
    assert "No project had been published by the end of this day." in page


def test_the_board_pages_with_a_cursor_keeping_the_filters(office: Browser) -> None:
    first = board(office, leader="王力", limit="1")
    assert rows(first) == [RED]
    link = NEXT_LINK.search(first)
    assert link is not None
    following = html.unescape(link.group(1))
    assert "leader=" in following
    assert f"as_of={AS_OF}" in following
    second = text_of(office.get(following))
    assert rows(second) == [GREEN]
    assert NEXT_LINK.search(second) is None


def test_an_invalid_filter_is_named_and_keeps_what_was_typed(office: Browser) -> None:
    response = office.get(BOARD, query_string={"admin_division": "3301", "as_of": "2026-13-01"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a 6-digit division code." in page
    assert "Enter a date such as 2026-10-20." in page
    assert 'href="#field-admin_division"' in page
    assert 'value="2026-13-01"' in page


# ---------- one project ----------


def test_the_project_page_shows_delays_factors_problems_and_reports(office: Browser) -> None:
    page = project_page(office, RED)
    assert "城东快速路二期" in page
    # signals, each linking to the record it comes from
    assert "Milestone late" in page
    assert "/console/records/project/" in page
    assert "/console/records/coordination_item/LX2026-03-01/history" in page
    # the milestone timeline with its delay
    assert "桩基完成" in page
    assert "40 days late" in page
    # land by supply status, funding against the plan, permits' working days
    assert re.search(r'supply-counts__figure">1</span> Being acquired', page)
    assert "50,000" in page
    assert "50.0% of the plan" in page
    assert "20.0% of the plan" in page
    assert "Planning permit" in page
    assert "working days used" in page
    assert "working days overdue" in page
    # the problem list: the item, its state and how late it is
    assert "In progress" in page
    assert "10 days overdue" in page
    assert "2026年第3次联席会议" in page
    # the progress reports
    assert "2026-04" in page
    assert "10,000" in page
    assert "10.0%" in page
    assert 'id="chart-investment-options"' in page


def test_the_project_page_takes_a_day_and_links_back(office: Browser) -> None:
    earlier = text_of(
        office.get(f"{BOARD}/projects/{YELLOW}", query_string={"as_of": "2026-05-05"})
    )
    assert "5 days late" in earlier
    assert 'href="/console/supervision?as_of=2026-05-05"' in earlier
    assert f'href="/console/projects/{YELLOW}"' in earlier
    assert "10 days late" in project_page(office, YELLOW)
    assert "No signal: the project is on track on this day." in project_page(office, GREEN)


def test_a_project_not_live_on_the_day_is_a_404_page(office: Browser) -> None:
    response = office.get(f"{BOARD}/projects/{RED}", query_string={"as_of": "2026-04-01"})
    assert response.status_code == 404


def test_the_projects_page_links_to_its_supervision_page(office: Browser) -> None:
    page = text_of(office.get(f"/console/projects/{RED}"))
    assert f'href="/console/supervision/projects/{RED}"' in page


# ---------- who sees what ----------


def test_a_viewer_is_refused_every_supervision_page(
    city: None, signed_in: Callable[..., Browser]
) -> None:
    viewer = signed_in("audit", "viewer")
    for path in (BOARD, f"{BOARD}/projects/{RED}", f"{BOARD}/summary"):
        assert viewer.get(path).status_code == 403, path
    assert f'href="{BOARD}"' not in text_of(viewer.get("/console/"))
    assert f"/console/supervision/projects/{RED}" not in text_of(
        viewer.get(f"/console/projects/{RED}")
    )


def test_an_officer_sees_only_the_projects_its_department_serves(
    city: None, signed_in: Callable[..., Browser], english: Callable[[Browser], Browser]
) -> None:
    officer = english(signed_in("land", "officer"))
    page = board(officer)
    assert rows(page) == [RED]
    assert "You see the projects your department serves" in page
    # its department is the filter: another one in the address changes nothing
    assert rows(board(officer, department="ndrc")) == [RED]
    assert 'name="department"' not in page
    assert re.findall(r'status-summary__figure">(\d+)<', page) == ["1", "0", "0", "1"]
    assert text_of(officer.get(f"{BOARD}/projects/{RED}", query_string={"as_of": AS_OF}))
    assert officer.get(f"{BOARD}/projects/{YELLOW}").status_code == 403
    assert officer.get(f"{BOARD}/summary").status_code == 403
    assert f'href="{BOARD}"' in text_of(officer.get("/console/"))
    assert f"/console/supervision/projects/{YELLOW}" not in text_of(
        officer.get(f"/console/projects/{YELLOW}")
    )


def test_no_protected_value_shows_where_it_may_not(
    office: Browser, signed_in: Callable[..., Browser]
) -> None:
    page = board(office)
    for value in (BANK_ACCOUNT, RIGHTS_HOLDER, "777,777", APPLICANT, NOTES, PHONE):
        assert value not in page
    # the office publishes the problem list: it reads its notes, and nothing else protected
    office_page = project_page(office, RED)
    assert NOTES in office_page
    for value in (BANK_ACCOUNT, RIGHTS_HOLDER, "777,777", APPLICANT, PHONE):
        assert value not in office_page
    assert "Withheld" in office_page
    # the land department reads its own parcel's, and not the office's notes
    land_page = project_page(signed_in("land", "officer"), RED)
    assert RIGHTS_HOLDER in land_page
    for value in (BANK_ACCOUNT, APPLICANT, NOTES, PHONE):
        assert value not in land_page


def test_a_project_page_that_showed_protected_fields_is_audited(
    app: Flask, office: Browser
) -> None:
    project_page(office, RED)
    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action="supervision.project"), limit=10)
    (entry,) = entries
    assert entry.actor == "user:office"
    assert entry.target == f"project/{RED}"
    assert "notes" in entry.details["fields"]


def test_stored_text_is_escaped_on_every_supervision_page(office: Browser) -> None:
    pages = [
        board(office),
        project_page(office, GREEN),
        project_page(office, RED),
        text_of(office.get(f"{BOARD}/summary", query_string={"group_by": "leader"})),
    ]
    for page in pages:
        assert SCRIPT not in page
    for page in pages[:3]:
        assert ESCAPED_SCRIPT in page


# ---------- the summary and the menu ----------


def test_the_summary_groups_the_projects_with_a_chart(office: Browser) -> None:
    page = text_of(office.get(f"{BOARD}/summary", query_string={"as_of": AS_OF}))
    assert "上城区 330102" in page
    assert "西湖区 330106" in page
    assert 'id="chart-summary-options"' in page
    by_leader = text_of(
        office.get(f"{BOARD}/summary", query_string={"as_of": AS_OF, "group_by": "leader"})
    )
    assert "王力" in by_leader
    assert "陈敏" in by_leader
    assert "10.0%" in by_leader  # the red project's investment against its plan
    bad = office.get(f"{BOARD}/summary", query_string={"group_by": "mood"})
    assert bad.status_code == 422
    assert "Choose a grouping from the list." in bad.get_data(as_text=True)


def test_the_supervision_menu_has_the_areas_own_pages(office: Browser) -> None:
    page = board(office)
    menu = page[page.index('class="sub-nav"') :]
    assert f'href="{BOARD}"' in menu
    assert f'href="{BOARD}/summary"' in menu
    assert 'aria-current="page">Board' in menu
