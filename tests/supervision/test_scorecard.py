"""The departments' scorecard over the API: each figure from the records and grants, counted
in working days across the National Day holiday, with its cases; as of the period's end, so
that later changes leave a past period's scorecard as it was; who may ask, what is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import coordination_item_data, permit_data, progress_report_data, project_data
from tests.record_helpers import assert_problem
from tests.supervision.conftest import API, CITY, Clock, Supervision

A = "2503-330102-04-01-AAAAA1"
B = "2503-330106-04-02-BBBBB2"
C = "2503-330102-04-03-CCCCC3"
OCTOBER = {"from": "2025-10-01", "to": "2025-10-31"}
GRANTS = ["grants"]
WRITE = ["records:write"]


class Moments(Clock):
    """The clock of records, grants and connector reports alike."""

    def at(self, day: str, hour: int = 10) -> None:
        super().at(day, hour)
        moment = datetime.combine(date.fromisoformat(day), time(hour), tzinfo=CITY).astimezone(UTC)
        for module in ("hub.sharing.grants", "hub.connector_runs.service"):
            self.monkeypatch.setattr(f"{module}.utcnow", lambda: moment)


@pytest.fixture
def moments(monkeypatch: pytest.MonkeyPatch) -> Moments:
    return Moments(monkeypatch)


def permit(code: str, submitted: str, days: int, **changes: Any) -> dict[str, Any]:
    return permit_data(code, submitted_at=submitted, statutory_days=days, **changes)


def approved(code: str, submitted: str, days: int, on: str) -> dict[str, Any]:
    return permit(code, submitted, days, status="approved", approved_at=on, permit_no=f"NO-{on}")


def item(code: str, due: str, assigned: list[str], resolved: str | None = None) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    if resolved:
        outcome = {"status": "resolved", "resolution": "已协调解决", "resolved_at": resolved}
    return coordination_item_data(
        code, raised_at="2025-09-20", due_date=due, assigned_to=assigned, **outcome
    )


def report(code: str, period: str) -> dict[str, Any]:
    return progress_report_data(code, period=period)


@pytest.fixture
def apply_for(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., int]:
    """A department applies for the permits' conditional fields; the grant's id."""

    def apply(applicant: str) -> int:
        body = {"type": "permit", "purpose": "项目审批协同"}
        response = client.post("/api/v1/grants", json=body, headers=headers(applicant, GRANTS))
        assert response.status_code == 201, response.json
        grant_id: int = response.json["id"]
        return grant_id

    return apply


@pytest.fixture
def approve(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[[int], None]:
    def decide(grant_id: int) -> None:
        body = {"expires_at": "2099-01-01T00:00:00+08:00"}
        response = client.post(
            f"/api/v1/grants/{grant_id}/approve", json=body, headers=headers("approval", GRANTS)
        )
        assert response.status_code == 200, response.json

    return decide


@pytest.fixture
def run(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., None]:
    """A department's connector reports a finished run."""
    counter = iter(range(1, 1000))

    def report_run(department: str, name: str, status: str, finished: str) -> None:
        body: dict[str, Any] = {
            "run_id": f"00000000-0000-4000-8000-{next(counter):012d}",
            "status": status,
            "started_at": finished,
            "finished_at": finished,
        }
        if status == "failed":
            body["error"] = "the land system did not answer"
        response = client.post(
            f"/api/v1/connectors/{name}/runs", json=body, headers=headers(department, WRITE)
        )
        assert response.status_code in (200, 201), response.json

    return report_run


@pytest.fixture
def october(publish, moments: Moments, apply_for, approve, run, client, headers) -> None:
    """October 2025, with the National Day holiday (1-8 October off, Sunday 28 September and
    Saturday 11 October working days): permits, grants, items, reports and connectors."""
    moments.at("2025-09-01")
    for code in (A, B, C):
        publish("project", code, project_data(stage="construction"))
    publish("permit", "P-5", approved(A, "2025-08-01", 20, "2025-09-15"))
    moments.at("2025-09-20")
    publish("coordination_item", "I-1", item(A, "2025-10-20", ["finance", "land"]))
    publish("coordination_item", "I-2", item(B, "2025-10-25", ["land"]))
    publish("coordination_item", "I-3", item(C, "2025-11-05", ["finance"]))
    publish("coordination_item", "I-4", item(A, "2025-10-28", ["finance"]))
    moments.at("2025-09-26")
    publish("permit", "P-1", permit(A, "2025-09-26", 5))
    publish("permit", "P-2", permit(B, "2025-09-26", 5))
    moments.at("2025-09-30")
    publish("permit", "P-3", permit(C, "2025-09-30", 3))
    moments.at("2025-10-01")
    late_grant = apply_for("audit")  # to be answered by 16 October
    moments.at("2025-10-02")
    prompt_grant = apply_for("finance")
    moments.at("2025-10-05")
    approve(prompt_grant)
    moments.at("2025-10-10")
    publish("permit", "P-1", approved(A, "2025-09-26", 5, "2025-10-10"))
    withdrawn = apply_for("land")
    moments.at("2025-10-11")
    publish("permit", "P-2", approved(B, "2025-09-26", 5, "2025-10-11"))
    moments.at("2025-10-12")
    response = client.delete(f"/api/v1/grants/{withdrawn}", headers=headers("land", GRANTS))
    assert response.status_code == 200, response.json
    moments.at("2025-10-13")
    publish("permit", "P-3", permit(C, "2025-09-30", 3, status="rejected"))
    moments.at("2025-10-14", hour=16)
    publish("progress_report", f"{A}:2025-09", report(A, "2025-09"))
    moments.at("2025-10-15")
    publish("progress_report", f"{B}:2025-09", report(B, "2025-09"))
    moments.at("2025-10-20")
    approve(late_grant)
    publish("permit", "P-4", permit(A, "2025-10-20", 5))
    moments.at("2025-10-21")
    publish("coordination_item", "I-1", item(A, "2025-10-20", ["finance", "land"], "2025-10-21"))
    moments.at("2025-10-24")
    publish("coordination_item", "I-2", item(B, "2025-10-25", ["land"], "2025-10-24"))
    moments.at("2025-10-30")
    run("ndrc", "ndrc-sync", "succeeded", "2025-10-30T08:00:00+00:00")
    run("land", "land-sync", "failed", "2025-10-30T09:00:00+00:00")


def by_department(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["department"]: row for row in card["departments"]}


def cases(figure: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {case["key"]: (case["outcome"], case["days_late"]) for case in figure["cases"]}


# --- each figure --------------------------------------------------------------------------------


def test_permits_are_judged_in_working_days_across_the_national_day_holiday(
    october, supervision: Supervision
):
    permits = by_department(supervision.ok("/scorecard", **OCTOBER))["approval"]["permits"]
    listed = {case["key"]: case for case in permits["cases"]}
    # 5 working days from Friday 26 September: 28 (a Sunday worked), 29, 30 September, 9 and
    # 10 October; decided on the 10th, 14 calendar days later, it is in time
    assert listed["P-1"]["outcome"] == "in_time"
    assert (listed["P-1"]["working_days"], listed["P-1"]["due"]) == (5, "2025-10-10")
    assert listed["P-1"]["done"] == "2025-10-10"
    # decided on Saturday 11 October, a working day: the 6th
    assert (listed["P-2"]["outcome"], listed["P-2"]["working_days"]) == ("late", 6)
    assert listed["P-2"]["days_late"] == 1
    # rejected: decided the day its rejection was published
    assert listed["P-3"]["done"] == "2025-10-13"
    assert (listed["P-3"]["outcome"], listed["P-3"]["working_days"]) == ("late", 4)
    # still pending past its limit at the end of October: listed, outside the share
    assert listed["P-4"]["outcome"] == "pending_overdue"
    assert (listed["P-4"]["due"], listed["P-4"]["done"]) == ("2025-10-27", None)
    assert listed["P-4"]["days_late"] == 4
    assert "P-5" not in listed  # decided in September
    assert (permits["total"], permits["in_time"], permits["late"]) == (3, 1, 2)
    assert permits["share"] == 33.3
    assert permits["median_working_days"] == 5
    assert permits["pending_overdue"] == 1
    assert listed["P-1"]["href"] == "/api/v1/records/permit/P-1"
    # the late ones first
    assert [case["outcome"] for case in permits["cases"]] == [
        "late",
        "late",
        "pending_overdue",
        "in_time",
    ]


def test_a_grant_answered_after_its_deadline_is_late_and_a_withdrawn_one_does_not_count(
    october, supervision: Supervision
):
    grants = by_department(supervision.ok("/scorecard", **OCTOBER))["approval"]["grants"]
    assert (grants["total"], grants["in_time"], grants["share"]) == (2, 1, 50.0)
    outcomes = sorted((c["outcome"], c["due"], c["done"], c["days_late"]) for c in grants["cases"])
    assert outcomes == [
        ("in_time", "2025-10-17", "2025-10-05", 0),
        ("late", "2025-10-16", "2025-10-20", 4),
    ]
    assert all(case["href"].startswith("/api/v1/grants/") for case in grants["cases"])


def test_an_item_resolved_one_day_late_counts_against_each_assigned_department(
    october, supervision: Supervision
):
    card = by_department(supervision.ok("/scorecard", **OCTOBER))
    land, finance = card["land"]["coordination_items"], card["finance"]["coordination_items"]
    assert cases(land) == {"I-1": ("late", 1), "I-2": ("in_time", 0)}
    assert land["share"] == 50.0
    # I-1 against finance too; I-4 still open three days past its due date; I-3 due in November
    assert cases(finance) == {"I-1": ("late", 1), "I-4": ("late", 3)}
    assert (finance["total"], finance["share"]) == (2, 0.0)
    assert "office" not in card  # raised them, assigned none


def test_a_report_is_on_time_by_the_fifth_working_day_and_late_after(
    october, supervision: Supervision
):
    reports = by_department(supervision.ok("/scorecard", **OCTOBER))["ndrc"]["progress_reports"]
    listed = {case["project_code"]: case for case in reports["cases"]}
    # September's reports were due on the 5th working day of October: the 9th, 10th, 11th
    # (a Saturday worked), 13th, 14th
    assert {case["due"] for case in reports["cases"]} == {"2025-10-14"}
    assert (listed[A]["outcome"], listed[A]["done"]) == ("in_time", "2025-10-14")
    assert (listed[B]["outcome"], listed[B]["days_late"]) == ("late", 1)
    # never published: late, counted against the department publishing the project
    assert (listed[C]["outcome"], listed[C]["done"], listed[C]["days_late"]) == ("late", None, 17)
    assert listed[C]["key"] == f"{C}:2025-09"
    assert (reports["total"], reports["share"]) == (3, 33.3)


def test_connectors_show_their_last_success_as_of_the_period_end(
    october, supervision: Supervision, moments: Moments, run
):
    moments.at("2025-11-03")
    run("ndrc", "ndrc-sync", "succeeded", "2025-11-03T08:00:00+00:00")
    card = by_department(supervision.ok("/scorecard", **OCTOBER))
    assert card["ndrc"]["connectors"] == [
        {"name": "ndrc-sync", "last_success": "2025-10-30T08:00:00+00:00"}
    ]
    assert card["land"]["connectors"] == [{"name": "land-sync", "last_success": None}]
    november = by_department(
        supervision.ok("/scorecard", **{"from": "2025-11-01", "to": "2025-11-30"})
    )
    assert november["ndrc"]["connectors"][0]["last_success"] == "2025-11-03T08:00:00+00:00"


def test_departments_are_ranked_by_their_share_of_cases_in_time(october, supervision):
    card = supervision.ok("/scorecard", **OCTOBER)
    assert (card["from"], card["to"], card["as_of"]) == ("2025-10-01", "2025-10-31", "2025-10-31")
    assert card["grant_response_days"] == 15
    assert card["report_due_workday"] == 5
    assert card["calendar_warnings"] == []
    ranking = [
        (row["department"], row["rank"], row["score"], row["cases"]) for row in card["departments"]
    ]
    assert ranking == [
        ("land", 1, 50.0, 2),
        ("approval", 2, 40.0, 5),
        ("ndrc", 3, 33.3, 3),
        ("finance", 4, 0.0, 2),
    ]
    assert by_department(card)["approval"]["name"] == "approval"


# --- as of the period's end ---------------------------------------------------------------------


def test_the_scorecard_of_a_past_period_does_not_change_with_later_records(
    october, supervision: Supervision, publish, moments: Moments, approve, apply_for
):
    before = supervision.ok("/scorecard", **OCTOBER)
    moments.at("2025-11-04")
    # filled in later, dated back into October: October's scorecard took them as they were
    publish("coordination_item", "I-4", item(A, "2025-10-28", ["finance"], "2025-10-29"))
    publish("progress_report", f"{C}:2025-09", report(C, "2025-09"))
    publish("permit", "P-4", approved(A, "2025-10-20", 5, "2025-10-27"))
    publish("permit", "P-3", permit(C, "2025-09-30", 3, status="rejected", authority="另一机关"))
    approve(apply_for("land"))
    after = supervision.ok("/scorecard", **OCTOBER)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    # and November's sees them
    november = by_department(
        supervision.ok("/scorecard", **{"from": "2025-11-01", "to": "2025-11-30"})
    )
    # an approval published late counts when it was published, judged by its date
    assert cases(november["approval"]["permits"]) == {"P-4": ("in_time", 0)}


def test_without_a_period_it_is_the_last_full_month(supervision: Supervision, departments):
    card = supervision.ok("/scorecard")
    today = datetime.now(CITY).date()
    last = today.replace(day=1) - timedelta(days=1)
    assert (card["from"], card["to"]) == (last.replace(day=1).isoformat(), last.isoformat())
    assert card["departments"] == []


def test_many_cases_are_listed_up_to_the_limit_and_counted_in_full(
    publish, moments: Moments, supervision: Supervision, monkeypatch
):
    monkeypatch.setattr("hub.supervision.scorecard.CASE_LIMIT", 2)
    moments.at("2025-09-01")
    publish("project", A, project_data(stage="reserve"))
    for number in range(3):
        publish("coordination_item", f"I-{number}", item(A, "2025-10-10", ["land"], "2025-10-09"))
    figure = by_department(supervision.ok("/scorecard", **OCTOBER))["land"]["coordination_items"]
    assert (figure["total"], len(figure["cases"]), figure["truncated"]) == (3, 2, True)


# --- who may ask, and what is refused ---------------------------------------------------------


def test_without_the_supervision_scope_it_is_refused(client, headers, departments):
    officer = headers("land", ["records:read", "records:write", "events:read"])
    assert_problem(client.get(f"{API}/scorecard", headers=officer), 403)
    assert_problem(client.get(f"{API}/scorecard"), 401)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-10-01"}, "to"),
        ({"to": "2025-10-31"}, "from"),
        ({"from": "2025-10-31", "to": "2025-10-01"}, "to"),
        ({"from": "2025-13-01", "to": "2025-12-31"}, "from"),
        ({"from": "2025-10-01", "to": "31/10/2025"}, "to"),
        ({"from": "1999-10-01", "to": "1999-10-31"}, "from"),
        ({"from": "2024-01-01", "to": "2025-12-31"}, "to"),
    ],
    ids=repr,
)
def test_invalid_periods_are_422_naming_the_field(supervision, params, field):
    assert_problem(supervision.get("/scorecard", **params), 422, field)


def test_the_scorecard_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"][f"{API}/scorecard"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to"}
    assert "Scorecard" in document["components"]["schemas"]
    department = document["components"]["schemas"]["DepartmentScore"]["properties"]
    assert {"permits", "grants", "coordination_items", "progress_reports", "connectors"} <= set(
        department
    )
