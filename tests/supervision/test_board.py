"""The supervision board, a project's page and the summary over the API: filters, pages,
totals, who may call them, what they refuse, and that a past day keeps its answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.factories import (
    coordination_item_data,
    funding_data,
    parcel_data,
    permit_data,
    progress_report_data,
    project_data,
)
from tests.record_helpers import assert_problem
from tests.supervision.conftest import API, Clock

RED = "2503-330102-04-01-AAAAA1"  # a milestone 40 days late
YELLOW = "2503-330106-04-02-BBBBB2"  # a milestone 10 days late
GREEN = "2503-330102-04-03-CCCCC3"  # nothing wrong
AS_OF = "2026-05-10"


def milestone(planned: str) -> dict[str, Any]:
    return {"name": "可研批复", "planned_date": planned, "status": "pending"}


PROJECTS = {
    RED: project_data(
        name="Metro Line 3",
        stage="reserve",
        admin_division="330102",
        category="infrastructure",
        lead_department="Transport Bureau",
        responsible_leader={"name": "王力", "title": "副市长"},
        task_force=[{"name": "李娜", "department": "land", "role": "member"}],
        milestones=[milestone("2026-03-31")],
    ),
    YELLOW: project_data(
        name="Chip Fab",
        stage="reserve",
        admin_division="330106",
        category="industry",
        lead_department="ndrc",
        responsible_leader={"name": "陈敏", "title": "副市长"},
        milestones=[milestone("2026-04-30")],
    ),
    GREEN: project_data(
        name="No. 2 School",
        stage="reserve",
        admin_division="330102",
        category="public_service",
        lead_department="Education Bureau",
        responsible_leader={"name": "王力", "title": "副市长"},
    ),
}


@pytest.fixture
def three(publish, clock: Clock) -> dict[str, dict[str, Any]]:
    """A red, a yellow and a green project as of AS_OF, published on 1 January 2026."""
    clock.at("2026-01-01")
    for code, body in PROJECTS.items():
        publish("project", code, body)
    return PROJECTS


def codes(board: dict[str, Any]) -> list[str]:
    return [item["project_code"] for item in board["items"]]


# --- the board --------------------------------------------------------------------------------


def test_the_board_lists_each_project_with_its_status_and_signals(three, supervision):
    board = supervision.board(as_of=AS_OF)
    assert board["as_of"] == AS_OF
    assert board["next_cursor"] is None
    assert board["calendar_warnings"] == []
    by_code = {item["project_code"]: item for item in board["items"]}
    assert sorted(by_code) == sorted(PROJECTS)
    red = by_code[RED]
    assert set(red) == {
        "project_code",
        "name",
        "stage",
        "responsible_leader",
        "lead_department",
        "status",
        "signals",
    }
    assert red["name"] == "Metro Line 3"
    assert red["responsible_leader"] == {"name": "王力", "title": "副市长"}
    assert red["status"] == "red"
    (signal,) = red["signals"]
    assert signal["code"] == "milestone_delayed"
    assert set(signal) == {"code", "severity", "message", "message_en", "record", "details"}
    assert by_code[YELLOW]["status"] == "yellow"
    assert by_code[GREEN]["status"] == "green"
    assert by_code[GREEN]["signals"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"admin_division": "330102"}, {RED, GREEN}),
        ({"admin_division": "330106"}, {YELLOW}),
        ({"leader": "王力"}, {RED, GREEN}),
        ({"department": "ndrc"}, {YELLOW}),
        ({"department": "land"}, {RED}),  # a task-force member's department
        ({"department": "Education Bureau"}, {GREEN}),
        ({"status": "red"}, {RED}),
        ({"status": "green"}, {GREEN}),
        ({"category": "industry"}, {YELLOW}),
        ({"admin_division": "330102", "status": "green"}, {GREEN}),
        ({"leader": "nobody"}, set()),
    ],
    # the ids name the filter only: a set's order differs between processes (xdist)
    ids=lambda value: repr(value) if isinstance(value, dict) else "",
)
def test_the_board_filters(three, supervision, params, expected):
    assert set(codes(supervision.board(as_of=AS_OF, **params))) == expected


def test_the_status_depends_on_the_day(three, supervision):
    # before any milestone was due every project was green
    assert set(codes(supervision.board(as_of="2026-03-31", status="green"))) == set(PROJECTS)
    assert codes(supervision.board(as_of="2026-03-31", status="red")) == []


@pytest.mark.parametrize("status", [None, "yellow"])
def test_the_board_pages_with_an_opaque_cursor(three, supervision, status):
    params = {"as_of": AS_OF, "limit": 1, **({"status": status} if status else {})}
    seen, cursor = [], None
    for _ in range(5):
        board = supervision.board(**params, **({"cursor": cursor} if cursor else {}))
        seen.extend(codes(board))
        cursor = board["next_cursor"]
        if cursor is None:
            break
    expected = [code for code in sorted(PROJECTS) if status is None or code == YELLOW]
    assert seen == expected


def test_a_project_appears_from_the_day_it_is_published_until_it_is_deleted(
    three, publish, clock, client, headers, supervision
):
    assert set(codes(supervision.board(as_of="2025-12-31"))) == set()
    clock.at("2026-06-01")
    response = client.delete(f"/api/v1/records/project/{GREEN}", headers=headers("ndrc"))
    assert response.status_code == 200
    assert GREEN in codes(supervision.board(as_of="2026-05-31"))
    assert GREEN not in codes(supervision.board(as_of="2026-06-01"))
    assert supervision.get(f"/projects/{GREEN}", as_of="2026-06-01").status_code == 404
    assert supervision.project(GREEN, as_of="2026-05-31")["project"]["name"] == "No. 2 School"


# --- reproducibility --------------------------------------------------------------------------


def test_a_past_day_gives_the_same_answer_after_the_records_change(
    three, publish, clock, client, headers, supervision
):
    clock.at("2026-02-01")
    publish("land_parcel", "L-1", parcel_data(RED, supply_status="acquiring"))
    publish("land_parcel", "L-2", parcel_data(RED, supply_status="planned"))
    publish("funding", "F-1", funding_data(RED, fiscal_year=2026, allocated=1000, disbursed=0))
    publish("permit", "P-1", permit_data(RED, submitted_at="2026-03-02", statutory_days=20))
    publish("coordination_item", "C-1", coordination_item_data(RED, due_date="2026-04-30"))
    publish(
        "progress_report",
        f"{RED}:2026-04",
        progress_report_data(RED, period="2026-04", annual_plan=50000, invested_this_year=800),
    )

    def answers() -> str:
        return json.dumps(
            [
                supervision.board(as_of=AS_OF),
                supervision.board(as_of=AS_OF, status="red"),
                supervision.project(RED, as_of=AS_OF),
                supervision.project(YELLOW, as_of=AS_OF),
                supervision.summary(as_of=AS_OF, group_by="leader"),
            ],
            sort_keys=True,
        )

    before = answers()
    clock.at("2026-05-20")
    publish("project", RED, {**PROJECTS[RED], "name": "Renamed", "milestones": []})
    publish(
        "land_parcel", "L-1", parcel_data(RED, supply_status="supplied", supplied_on="2026-05-20")
    )
    publish("land_parcel", "L-2", parcel_data(YELLOW, supply_status="planned"))  # moved
    publish(
        "permit",
        "P-1",
        permit_data(
            RED,
            status="approved",
            submitted_at="2026-03-02",
            approved_at="2026-05-20",
            permit_no="EIA-1",
        ),
    )
    publish("coordination_item", "C-2", coordination_item_data(RED, due_date="2026-05-01"))
    assert (
        client.delete("/api/v1/records/funding/F-1", headers=headers("finance")).status_code == 200
    )
    assert (
        client.delete(f"/api/v1/records/project/{GREEN}", headers=headers("ndrc")).status_code
        == 200
    )
    assert answers() == before
    # and the later day sees the changes
    later = supervision.project(RED, as_of="2026-05-20")
    assert later["project"]["name"] == "Renamed"
    assert [p["parcel_id"] for p in later["factors"]["land"]["parcels"]] == ["L-1"]
    assert later["factors"]["funding"]["lines"] == []
    moved = supervision.project(YELLOW, as_of="2026-05-20")["factors"]["land"]["parcels"]
    assert [p["parcel_id"] for p in moved] == ["L-2"]


# --- the project's page -----------------------------------------------------------------------

SECRETS = {
    "contacts": [{"name": "保密联系人甲", "phone": "+86 571 0000 9999"}],
    "transfer_price": 7777.77,
    "rights_holder": "权利人丙",
    "bank_account": "6222 9999 8888 7777",
    "applicant_contact": "申请人联系方式乙",
    "notes": "内部备注丁",
}


def test_no_view_shows_a_protected_value_to_a_reader_not_entitled_to_it(
    publish, clock, supervision
):
    clock.at("2026-01-05")
    publish(
        "project",
        RED,
        {**PROJECTS[RED], "stage": "construction", "contacts": SECRETS["contacts"]},
    )
    publish(
        "land_parcel",
        "L-1",
        parcel_data(
            RED,
            supply_status="acquiring",
            transfer_price=SECRETS["transfer_price"],
            rights_holder=SECRETS["rights_holder"],
        ),
    )
    publish(
        "funding",
        "F-1",
        funding_data(
            RED, fiscal_year=2026, allocated=10, disbursed=0, bank_account=SECRETS["bank_account"]
        ),
    )
    publish(
        "permit",
        "P-1",
        permit_data(
            RED,
            submitted_at="2026-01-05",
            statutory_days=5,
            applicant_contact=SECRETS["applicant_contact"],
        ),
    )
    publish(
        "coordination_item",
        "C-1",
        coordination_item_data(RED, due_date="2026-02-01", notes=SECRETS["notes"]),
    )
    publish(
        "progress_report",
        f"{RED}:2026-04",
        progress_report_data(RED, period="2026-04", annual_plan=50000, invested_this_year=1),
    )
    board = supervision.board(as_of=AS_OF)
    page = supervision.project(RED, as_of=AS_OF)
    summary = supervision.summary(as_of=AS_OF)
    assert {s["code"] for s in page["signals"]} >= {
        "permit_overdue",
        "milestone_delayed",
        "investment_behind",
        "funding_short",
        "item_overdue",
        "stalled",
    }
    shown = json.dumps([board, summary, page["signals"]], ensure_ascii=False)
    for secret in (
        "保密联系人甲",
        "0000 9999",
        "7777.77",
        "权利人丙",
        "6222 9999",
        "申请人联系方式乙",
    ):
        assert secret not in shown
        assert secret not in json.dumps(page, ensure_ascii=False)
    assert SECRETS["notes"] not in shown
    # the office publishes the problem list, so it sees its notes; the rest is withheld
    assert page["withheld"] == {
        "project": ["contacts"],
        "land_parcel": ["rights_holder", "transfer_price"],
        "funding": ["bank_account"],
        "permit": ["applicant_contact"],
        "coordination_item": [],
        "progress_report": [],
    }


def test_the_project_page_lists_everything_as_of_the_day(three, publish, clock, supervision):
    clock.at("2026-02-01")
    for period in ("2026-01", "2026-02", "2026-03"):
        publish("progress_report", f"{RED}:{period}", progress_report_data(RED, period=period))
    publish("funding", "F-1", funding_data(RED, fiscal_year=2026, allocated=120000))
    page = supervision.project(RED, as_of="2026-02-15")
    assert page["as_of"] == "2026-02-15"
    assert page["project"]["project_code"] == RED
    assert page["status"] == "green"
    # reports up to the day's month, newest first
    assert [r["period"] for r in page["progress_reports"]] == ["2026-02", "2026-01"]
    assert page["milestones"] == [{**milestone("2026-03-31"), "delay_days": 0}]
    assert page["factors"]["permits"] == []
    assert page["calendar_warnings"] == []
    assert page["last_changed"] == "2026-02-01"


def test_an_unknown_project_is_404(three, supervision):
    assert_problem(supervision.get("/projects/2503-330102-04-01-ZZZZZ9"), 404)


# --- the summary ------------------------------------------------------------------------------


def test_the_summary_tallies_each_group_and_the_total(three, publish, clock, supervision):
    clock.at("2026-05-05")
    publish(
        "progress_report",
        f"{RED}:2026-04",
        progress_report_data(RED, period="2026-04", annual_plan=1000, invested_this_year=300),
    )
    publish(
        "progress_report",
        f"{GREEN}:2026-04",
        progress_report_data(GREEN, period="2026-04", annual_plan=3000, invested_this_year=1200.5),
    )
    publish("funding", "F-1", funding_data(GREEN, fiscal_year=2026, allocated=3000, disbursed=0))
    # last year's report does not count for this year
    publish(
        "progress_report",
        f"{YELLOW}:2025-12",
        progress_report_data(YELLOW, period="2025-12", annual_plan=9000, invested_this_year=9000),
    )
    summary = supervision.summary(as_of=AS_OF)
    assert summary["group_by"] == "admin_division"
    assert summary["as_of"] == AS_OF
    assert summary["groups"] == [
        {
            "group": "330102",
            "projects": 2,
            "green": 1,
            "yellow": 0,
            "red": 1,
            "annual_plan": 4000,
            "invested_this_year": 1500.5,
            "rate": 37.5,
        },
        {
            "group": "330106",
            "projects": 1,
            "green": 0,
            "yellow": 1,
            "red": 0,
            "annual_plan": 0,
            "invested_this_year": 0,
            "rate": None,
        },
    ]
    assert summary["totals"] == {
        "projects": 3,
        "green": 1,
        "yellow": 1,
        "red": 1,
        "annual_plan": 4000,
        "invested_this_year": 1500.5,
        "rate": 37.5,
    }
    assert summary["calendar_warnings"] == []


@pytest.mark.parametrize(
    ("group_by", "groups"),
    [
        ("leader", {"王力": 2, "陈敏": 1}),
        ("lead_department", {"Transport Bureau": 1, "ndrc": 1, "Education Bureau": 1}),
        ("category", {"infrastructure": 1, "industry": 1, "public_service": 1}),
    ],
)
def test_the_summary_groups_by(three, supervision, group_by, groups):
    summary = supervision.summary(as_of=AS_OF, group_by=group_by)
    assert {g["group"]: g["projects"] for g in summary["groups"]} == groups
    assert summary["totals"]["projects"] == 3


# --- who may ask, and what is refused ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/projects", f"/projects/{RED}", "/summary"])
def test_a_departments_officer_without_the_supervision_scope_is_refused(
    three, client, headers, path
):
    officer = headers("land", ["records:read", "records:write", "events:read"])
    assert_problem(client.get(f"{API}{path}", headers=officer), 403)
    assert_problem(client.get(f"{API}{path}"), 401)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/projects", {"as_of": "2026-02-30"}, "as_of"),
        ("/projects", {"as_of": "20260101"}, "as_of"),
        ("/projects", {"as_of": "1999-12-31"}, "as_of"),
        ("/projects", {"status": "blue"}, "status"),
        ("/projects", {"category": "roads"}, "category"),
        ("/projects", {"admin_division": "99"}, "admin_division"),
        ("/projects", {"limit": "0"}, "limit"),
        ("/projects", {"cursor": "not-a-cursor"}, "cursor"),
        (f"/projects/{RED}", {"as_of": "yesterday"}, "as_of"),
        ("/summary", {"group_by": "district"}, "group_by"),
        ("/summary", {"as_of": "2101-01-01"}, "as_of"),
    ],
    ids=repr,
)
def test_invalid_query_values_are_422_naming_the_field(three, supervision, path, params, field):
    assert_problem(supervision.get(path, **params), 422, field)


def test_the_views_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    for path in ("/projects", "/projects/{code}", "/summary"):
        operation = document["paths"][f"{API}{path}"]["get"]
        assert "200" in operation["responses"]
    parameters = {p["name"] for p in document["paths"][f"{API}/projects"]["get"]["parameters"]}
    assert {"as_of", "admin_division", "leader", "department", "status", "category"} <= parameters
    assert {"cursor", "limit"} <= parameters
    assert "Board" in document["components"]["schemas"]


# --- the board and a project's page agree --------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2026-01-08", "2026-01-20", "2026-02-10", "2026-06-30"])
def test_the_board_judges_each_project_as_its_page_does(publish, clock, supervision, as_of):
    # the board reads only the records a signal can look at; a project's page reads them all
    clock.at("2025-06-01")
    start = {
        "name": "开工",
        "planned_date": "2026-02-20",
        "status": "pending",
        "kind": "construction_start",
    }
    publish("project", RED, {**PROJECTS[RED], "stage": "construction", "milestones": [start]})
    publish("project", GREEN, {**PROJECTS[GREEN], "stage": "preliminary"})
    for code in (RED, GREEN):
        publish("land_parcel", f"L-{code[-1]}-1", parcel_data(code, supply_status="acquiring"))
        publish("land_parcel", f"L-{code[-1]}-2", parcel_data(code, supply_status="ready"))
        for year, allocated in ((2025, 90000), (2026, 50000)):
            body = funding_data(code, fiscal_year=year, allocated=allocated, disbursed=0)
            publish("funding", f"F-{code[-1]}-{year}", body)
        publish(
            "permit",
            f"P-{code[-1]}-1",
            permit_data(code, submitted_at="2025-12-01", statutory_days=20),
        )
        approved = permit_data(
            code,
            status="approved",
            submitted_at="2025-06-02",
            approved_at="2025-09-01",
            permit_no="X-1",
        )
        publish("permit", f"P-{code[-1]}-2", approved)
        publish(
            "coordination_item",
            f"C-{code[-1]}-1",
            coordination_item_data(code, due_date="2026-01-15"),
        )
        resolved = {"status": "resolved", "resolution": "已办结", "resolved_at": "2025-12-20"}
        publish(
            "coordination_item",
            f"C-{code[-1]}-2",
            coordination_item_data(code, due_date="2025-12-31", raised_at="2025-11-01", **resolved),
        )
    for period, invested in (
        ("2025-11", 100000),
        ("2025-12", 118000),
        ("2026-01", 1000),
        ("2026-05", 30000),
    ):
        body = progress_report_data(
            RED,
            period=period,
            annual_plan=120000,
            invested_this_year=invested,
            invested_to_date=500000,
        )
        publish("progress_report", f"{RED}:{period}", body)
    publish(
        "progress_report",
        f"{GREEN}:2025-12",
        progress_report_data(GREEN, period="2025-12", annual_plan=10000, invested_this_year=2000),
    )
    board = {item["project_code"]: item for item in supervision.board(as_of=as_of)["items"]}
    assert set(board) == {RED, GREEN}
    for code, item in board.items():
        page = supervision.project(code, as_of=as_of)
        assert item["signals"] == page["signals"], code
        assert item["status"] == page["status"]
    assert any(item["signals"] for item in board.values())
