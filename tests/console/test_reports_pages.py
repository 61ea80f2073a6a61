"""The console's supervision reports: the departments' scorecard with the cases behind each
figure, and the monthly dispatch report with its printable and XLSX downloads, the same
files as the API's; only for a role with the ``supervision`` scope."""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.console.conftest import Browser
from tests.factories import coordination_item_data, permit_data, progress_report_data, project_data
from tests.supervision.conftest import CITY, DEPARTMENTS, OWNERS

RED = "2503-330102-04-01-AAAAA1"
GREEN = "2503-330106-04-02-BBBBB2"
SCORECARD = "/console/supervision/scorecard"
DISPATCH = "/console/supervision/dispatch"
OCTOBER = {"from": "2025-10-01", "to": "2025-10-31"}
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def departments(make_department: Callable[..., str]) -> dict[str, list[str]]:
    """The standard departments, ndrc also publishing progress reports, and the leading
    group's office the problem list."""
    for department_id, publishes in DEPARTMENTS.items():
        make_department(department_id, publishes)
    return DEPARTMENTS


@pytest.fixture
def publish(
    client: FlaskClient, headers: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., None]:
    """PUT a record as the department owning its type, on the day given (10:00 city time)."""

    def put(day: str, type_name: str, key: str, data: dict[str, Any]) -> None:
        moment = datetime.combine(date.fromisoformat(day), time(10), tzinfo=CITY).astimezone(UTC)
        monkeypatch.setattr("hub.records.service.utcnow", lambda: moment)
        response = client.put(
            f"/api/v1/records/{type_name}/{key}", json=data, headers=headers(OWNERS[type_name])
        )
        assert response.status_code in (200, 201), response.json

    return put


@pytest.fixture
def october(publish: Callable[..., None]) -> None:
    """October 2025: a red project and a green one, permits decided in time and late across
    the National Day holiday, an item resolved a day late, a report on time."""
    late = {"name": "主体结构封顶", "planned_date": "2025-09-01", "status": "pending"}
    publish(
        "2025-09-01",
        "project",
        RED,
        project_data(stage="reserve", name="地铁3号线", milestones=[late]),
    )
    publish(
        "2025-09-01",
        "project",
        GREEN,
        project_data(stage="construction", name=SCRIPT, admin_division="330106"),
    )
    publish(
        "2025-09-20",
        "coordination_item",
        "I-1",
        coordination_item_data(
            RED, raised_at="2025-09-20", due_date="2025-10-20", assigned_to=["finance", "land"]
        ),
    )
    publish(
        "2025-09-26", "permit", "P-1", permit_data(RED, submitted_at="2025-09-26", statutory_days=5)
    )
    publish(
        "2025-09-26",
        "permit",
        "P-2",
        permit_data(GREEN, submitted_at="2025-09-26", statutory_days=5),
    )
    approved = {"status": "approved", "permit_no": "X-1"}
    publish(
        "2025-10-10",
        "permit",
        "P-1",
        permit_data(
            RED, submitted_at="2025-09-26", statutory_days=5, approved_at="2025-10-10", **approved
        ),
    )
    publish(
        "2025-10-11",
        "permit",
        "P-2",
        permit_data(
            GREEN, submitted_at="2025-09-26", statutory_days=5, approved_at="2025-10-11", **approved
        ),
    )
    publish(
        "2025-10-14",
        "progress_report",
        f"{GREEN}:2025-09",
        progress_report_data(GREEN, period="2025-09"),
    )
    resolved = {"status": "resolved", "resolution": "已解决", "resolved_at": "2025-10-21"}
    publish(
        "2025-10-21",
        "coordination_item",
        "I-1",
        coordination_item_data(
            RED,
            raised_at="2025-09-20",
            due_date="2025-10-20",
            assigned_to=["finance", "land"],
            **resolved,
        ),
    )


@pytest.fixture
def office(signed_in: Callable[..., Browser]) -> Browser:
    """The leading group's office, in the console."""
    return signed_in("office", "office")


def page_text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the scorecard -----------------------------------------------------------------------------


def test_the_scorecard_shows_each_department_with_its_shares(office: Browser, october: None):
    response = office.get(SCORECARD, query_string=OCTOBER)
    assert response.status_code == 200
    text = page_text(response)
    assert "<svg" in text  # the ranking and the share bars, drawn on the server
    assert 'style="' not in text
    # the approval department: P-1 in time (5 working days over the holiday), P-2 late
    assert "50.0%" in text
    assert "2 件中 1 件按时" in text
    link = f"{SCORECARD}/approval?from=2025-10-01&amp;to=2025-10-31#permits"
    assert link in response.get_data(as_text=True)
    assert 'value="2025-10-01"' in text


def test_a_figure_links_to_its_cases_and_each_case_to_its_record(office: Browser, october: None):
    response = office.get(f"{SCORECARD}/approval", query_string=OCTOBER)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'id="permits"' in text
    assert "/console/records/permit/P-1/history" in text
    assert "/console/records/permit/P-2/history" in text
    assert f"/console/projects/{RED}" in text
    land = office.get(f"{SCORECARD}/land", query_string=OCTOBER).get_data(as_text=True)
    # resolved one day late: against land (and finance)
    assert "/console/records/coordination_item/I-1/history" in land
    assert "tag--red" in land
    finance = office.get(f"{SCORECARD}/finance", query_string=OCTOBER).get_data(as_text=True)
    assert "/console/records/coordination_item/I-1/history" in finance


def test_an_unknown_department_is_404(office: Browser, october: None):
    assert office.get(f"{SCORECARD}/nobody").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-10-01"}, "to"),
        ({"from": "2025-10-31", "to": "2025-10-01"}, "to"),
        ({"from": "tomorrow", "to": "2025-10-31"}, "from"),
    ],
)
def test_an_invalid_period_keeps_what_was_typed_and_names_the_field(
    office: Browser, october: None, query: dict[str, str], field: str
):
    response = office.get(SCORECARD, query_string=query)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert f'href="#field-{field}"' in text
    assert f'id="field-{field}-error"' in text
    for value in query.values():
        assert f'value="{value}"' in text


# --- the dispatch report -------------------------------------------------------------------------


def test_the_dispatch_page_summarises_the_month_with_its_downloads(office: Browser, october: None):
    response = office.get(DISPATCH, query_string={"period": "2025-10"})
    assert response.status_code == 200
    text = page_text(response)
    assert "2025-10" in text
    assert "地铁3号线" in text  # on the red list
    assert "主体结构封顶" in text  # its reason
    assert f"{DISPATCH}/2025-10.html" in text
    assert f"{DISPATCH}/2025-10.xlsx" in text
    assert text.count("<svg") >= 2
    assert 'style="' not in text
    # a stored script is shown as text
    assert SCRIPT not in response.get_data(as_text=True)


def test_the_downloads_are_the_apis_files(
    office: Browser, october: None, client: FlaskClient, headers: Callable[..., dict[str, str]]
):
    api = client.get(
        "/api/v1/supervision/dispatch",
        query_string={"period": "2025-10", "format": "xlsx"},
        headers=headers("office", ["supervision"]),
    )
    response = office.client.get(f"{DISPATCH}/2025-10.xlsx")
    assert response.status_code == 200
    assert response.mimetype == api.mimetype
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="dispatch-2025-10.xlsx"; '
        f"filename*=UTF-8''{quote('调度通报-2025-10.xlsx')}"
    )
    ours, theirs = (load_workbook(io.BytesIO(r.data)) for r in (response, api))
    for sheet in ours.worksheets:
        assert list(sheet.values) == list(theirs[sheet.title].values), sheet.title
    printable = office.get(f"{DISPATCH}/2025-10.html")
    assert printable.status_code == 200
    assert printable.mimetype == "text/html"
    assert printable.headers["Content-Disposition"].startswith("attachment;")
    assert "2025年10月重大项目推进调度通报" in printable.get_data(as_text=True)


def test_an_invalid_month_is_422_naming_the_field(office: Browser, october: None):
    response = office.get(DISPATCH, query_string={"period": "2025-13"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'href="#field-period"' in text
    assert 'value="2025-13"' in text
    assert office.get(f"{DISPATCH}/2025-13.xlsx").status_code == 404
    assert office.get(f"{DISPATCH}/2025-10.pdf").status_code == 404


# --- who may see them ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        SCORECARD,
        f"{SCORECARD}/land",
        DISPATCH,
        f"{DISPATCH}/2025-10.html",
        f"{DISPATCH}/2025-10.xlsx",
    ],
)
@pytest.mark.parametrize("role", ["officer", "viewer", "admin"])
def test_a_role_without_the_supervision_scope_gets_403(
    signed_in: Callable[..., Browser], path: str, role: str
):
    person = signed_in("land", role)
    assert person.get(path).status_code == 403
