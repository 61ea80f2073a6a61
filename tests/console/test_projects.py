"""The console's projects pages: the list and search, one project whole, a record's history."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.audit.entries import AuditFilter, list_entries
from hub.core.db import utcnow
from hub.core.extensions import db
from tests.console.conftest import Browser
from tests.factories import (
    OTHER_PROJECT_CODE,
    PROJECT_CODE,
    funding_data,
    parcel_data,
    permit_data,
    project_data,
)

THIRD_PROJECT_CODE = "2505-330106-04-01-9Z1X2C"
SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMAGE = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
GRANT_SCOPES = ["grants", "records:read"]
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture
def english(app: Flask) -> Callable[[Browser], Browser]:
    """Switch a visitor's pages to English (so that tests can read their words)."""

    def switch(visitor: Browser) -> Browser:
        visitor.get("/console/")
        response = visitor.post("/console/language", {"locale": "en", "next": "/console/"})
        assert response.status_code == 302
        assert '<html lang="en">' in visitor.get("/console/").get_data(as_text=True)
        return visitor

    return switch


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    page: str = response.get_data(as_text=True)
    return page


def project_codes(page: str) -> list[str]:
    """The project codes the list shows, in order."""
    return re.findall(r'<a href="/console/projects/([^"]+)">', page)


def published(response: Any) -> None:
    assert response.status_code in (200, 201), response.json


# ---------- the list and search ----------


@pytest.fixture
def three_projects(publish: Callable[..., Any]) -> None:
    """Three projects of different divisions, stages, categories and leaders."""
    published(
        publish(
            "project",
            PROJECT_CODE,
            project_data(name="Riverside Metro Line 3", admin_division="330102"),
        )
    )
    published(
        publish(
            "project",
            OTHER_PROJECT_CODE,
            project_data(
                name="West Lake Museum",
                admin_division="330106",
                stage="preliminary",
                category="culture_tourism",
                responsible_leader={"name": "Zhao Min", "title": "Vice Governor"},
            ),
        )
    )
    published(
        publish(
            "project",
            THIRD_PROJECT_CODE,
            project_data(
                name="North Metro Depot",
                admin_division="330106",
                stage="construction",
                category="infrastructure",
                responsible_leader={"name": "Zhao Lei", "title": "Mayor"},
            ),
        )
    )


def test_the_list_shows_every_live_project_newest_first(
    three_projects: None, signed_in: Callable[..., Browser]
) -> None:
    page = text_of(signed_in("audit", "viewer").get("/console/projects"))
    assert project_codes(page) == [THIRD_PROJECT_CODE, OTHER_PROJECT_CODE, PROJECT_CODE]
    assert "West Lake Museum" in page
    assert "Zhao Min" in page
    assert "330106" in page


def test_a_search_finds_projects_by_name_in_any_case(
    three_projects: None, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    page = text_of(visitor.get("/console/projects", query_string={"q": "metro"}))
    assert project_codes(page) == [THIRD_PROJECT_CODE, PROJECT_CODE]
    page = text_of(visitor.get("/console/projects", query_string={"q": "LAKE MUS"}))
    assert project_codes(page) == [OTHER_PROJECT_CODE]


def test_a_search_finds_projects_by_the_start_of_their_code(
    three_projects: None, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    page = text_of(visitor.get("/console/projects", query_string={"q": "2504-3301"}))
    assert project_codes(page) == [OTHER_PROJECT_CODE]
    # a code's middle is not its start
    page = text_of(visitor.get("/console/projects", query_string={"q": "330106-03"}))
    assert project_codes(page) == []
    assert 'class="empty-state"' in page


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"admin_division": "330106"}, [THIRD_PROJECT_CODE, OTHER_PROJECT_CODE]),
        ({"admin_division": "3301"}, [THIRD_PROJECT_CODE, OTHER_PROJECT_CODE, PROJECT_CODE]),
        ({"leader": "zhao"}, [THIRD_PROJECT_CODE, OTHER_PROJECT_CODE]),
        ({"leader": "Wang Li"}, [PROJECT_CODE]),
        ({"stage": "preliminary"}, [OTHER_PROJECT_CODE]),
        ({"category": "infrastructure"}, [THIRD_PROJECT_CODE, PROJECT_CODE]),
        ({"category": "infrastructure", "admin_division": "330106"}, [THIRD_PROJECT_CODE]),
        ({"q": "metro", "leader": "Zhao", "stage": "construction"}, [THIRD_PROJECT_CODE]),
    ],
)
def test_filters_narrow_the_list(
    three_projects: None,
    signed_in: Callable[..., Browser],
    filters: dict[str, str],
    expected: list[str],
) -> None:
    page = text_of(signed_in("audit", "viewer").get("/console/projects", query_string=filters))
    assert project_codes(page) == expected
    for value in filters.values():
        assert f'value="{value}"' in page  # the form keeps what was asked


def test_an_invalid_filter_names_the_field_and_keeps_the_typed_value(
    three_projects: None, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    response = visitor.get(
        "/console/projects", query_string={"admin_division": "33x", "stage": "finished"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'href="#field-admin_division"' in page
    assert 'href="#field-stage"' in page
    assert 'value="33x"' in page
    assert project_codes(page) == []


def test_the_list_pages_with_a_cursor_keeping_the_filters(
    three_projects: None, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    first = text_of(visitor.get("/console/projects", query_string={"limit": 2, "q": "2"}))
    assert project_codes(first) == [THIRD_PROJECT_CODE, OTHER_PROJECT_CODE]
    link = NEXT_LINK.search(first)
    assert link is not None
    following = html.unescape(link.group(1))
    assert "q=2" in following
    assert "limit=2" in following
    second = text_of(visitor.get(following))
    assert project_codes(second) == [PROJECT_CODE]
    assert NEXT_LINK.search(second) is None


def test_a_deleted_project_is_not_listed(
    three_projects: None,
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    signed_in: Callable[..., Browser],
) -> None:
    response = client.delete(f"/api/v1/records/project/{PROJECT_CODE}", headers=headers("ndrc"))
    assert response.status_code == 200, response.json
    page = text_of(signed_in("audit", "viewer").get("/console/projects"))
    assert PROJECT_CODE not in project_codes(page)


# ---------- one project ----------


@pytest.fixture
def dossier(project: str, publish: Callable[..., Any]) -> str:
    """The project with a parcel, a fund and a permit."""
    published(publish("land_parcel", "P-1", parcel_data()))
    published(publish("funding", "F-1", funding_data()))
    published(publish("permit", "EIA-1", permit_data()))
    return project


def test_the_project_page_shows_every_departments_records(
    dossier: str, signed_in: Callable[..., Browser]
) -> None:
    page = text_of(signed_in("audit", "viewer").get(f"/console/projects/{dossier}"))
    assert "Riverside Metro Line 3" in page
    assert "Transport Bureau" in page
    assert "Wang Li" in page
    for key in ("P-1", "F-1", "EIA-1"):
        assert key in page
    assert "Ecology &amp; Environment Bureau" in page
    for type_name, key in (("land_parcel", "P-1"), ("funding", "F-1"), ("permit", "EIA-1")):
        assert f'href="/console/records/{type_name}/{key}/history"' in page
    assert f'href="/console/records/project/{dossier}/history"' in page


def test_an_unknown_project_is_a_404_page(
    departments: Any, signed_in: Callable[..., Browser]
) -> None:
    response = signed_in("audit", "viewer").get(f"/console/projects/{OTHER_PROJECT_CODE}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_owner_sees_its_restricted_field_and_another_department_never_does(
    dossier: str, signed_in: Callable[..., Browser]
) -> None:
    land = text_of(signed_in("land", "officer").get(f"/console/projects/{dossier}"))
    assert "Metro Group" in land
    finance = signed_in("finance", "officer")
    for path in (
        f"/console/projects/{dossier}",
        "/console/records/land_parcel/P-1/history",
        "/console/projects",
    ):
        page = text_of(finance.get(path))
        assert "Metro Group" not in page
        assert "1,200.5" not in page
        assert "1200.5" not in page
    project_page = text_of(finance.get(f"/console/projects/{dossier}"))
    assert 'class="withheld"' in project_page
    # the conditional field may be asked for; a restricted one is never granted
    assert "type=land_parcel&amp;fields=transfer_price" in project_page
    assert "fields=rights_holder" not in project_page
    # the finance officer sees its own restricted field
    assert "6222 0000 1111 2222" in project_page


def test_a_viewer_is_not_offered_a_grant_request_it_could_not_make(
    dossier: str, signed_in: Callable[..., Browser]
) -> None:
    page = text_of(signed_in("finance", "viewer").get(f"/console/projects/{dossier}"))
    assert 'class="withheld"' in page
    assert "fields=transfer_price" not in page
    assert "fields=contacts" not in page


def test_contacts_are_withheld_until_a_grant_is_approved(
    project: str,
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    signed_in: Callable[..., Browser],
) -> None:
    finance = signed_in("finance", "officer")
    before = text_of(finance.get(f"/console/projects/{project}"))
    assert "Chen Hua" not in before
    assert "+86 571 8888 0001" not in before
    assert "type=project&amp;fields=contacts" in before
    applied = client.post(
        "/api/v1/grants",
        json={"type": "project", "fields": ["contacts"], "purpose": "Call the site office."},
        headers=headers("finance", GRANT_SCOPES),
    )
    assert applied.status_code == 201, applied.json
    grant = applied.get_json()
    assert isinstance(grant, dict)
    approved = client.post(
        f"/api/v1/grants/{grant['id']}/approve",
        json={"expires_at": (utcnow() + timedelta(days=30)).isoformat()},
        headers=headers("ndrc", GRANT_SCOPES),
    )
    assert approved.status_code == 200, approved.json
    after = text_of(finance.get(f"/console/projects/{project}"))
    assert "Chen Hua" in after
    assert "+86 571 8888 0001" in after
    assert "fields=contacts" not in after


def test_milestones_are_on_a_timeline_by_planned_date_and_late_ones_are_marked(
    departments: Any,
    publish: Callable[..., Any],
    signed_in: Callable[..., Browser],
    english: Callable[[Browser], Browser],
) -> None:
    milestones = [
        {"name": "Trial operation", "planned_date": "2099-06-30", "status": "pending"},
        {
            "name": "Land ready",
            "planned_date": "2024-03-01",
            "actual_date": "2024-03-11",
            "status": "done",
        },
        {"name": "Tunnel breakthrough", "planned_date": "2025-01-01", "status": "delayed"},
    ]
    published(publish("project", PROJECT_CODE, project_data(milestones=milestones)))
    page = text_of(english(signed_in("audit", "viewer")).get(f"/console/projects/{PROJECT_CODE}"))
    timeline = page[page.index('class="timeline"') :]
    positions = [timeline.index(name) for name in ("Land ready", "Tunnel breakthrough", "Trial")]
    assert positions == sorted(positions)
    items = re.findall(r'<li class="(timeline__item[^"]*)">\s*<h3[^>]*>([^<]+)</h3>', timeline)
    classes = {name: css for css, name in items}
    assert "timeline__item--late" in classes["Tunnel breakthrough"]
    assert "timeline__item--done" in classes["Land ready"]
    assert "late" not in classes["Trial operation"]
    assert "late" not in classes["Land ready"]
    days_late = (date.today() - date(2025, 1, 1)).days
    assert any(
        f"{days} days late" in timeline for days in (days_late - 1, days_late, days_late + 1)
    )
    assert "Delayed" in timeline
    assert "10 days after plan" in timeline


def test_the_task_force_is_listed(
    departments: Any, publish: Callable[..., Any], signed_in: Callable[..., Browser]
) -> None:
    task_force = [
        {"name": "Sun Yu", "department": "land", "role": "liaison"},
        {"name": "Gao Feng", "department": "ndrc", "role": "lead"},
    ]
    published(publish("project", PROJECT_CODE, project_data(task_force=task_force)))
    page = text_of(signed_in("audit", "viewer").get(f"/console/projects/{PROJECT_CODE}"))
    assert "Sun Yu" in page
    assert "Gao Feng" in page


# ---------- history ----------


def test_history_lists_versions_newest_first_with_changed_fields_marked(
    project: str,
    publish: Callable[..., Any],
    signed_in: Callable[..., Browser],
) -> None:
    published(publish("project", project, project_data(name="Riverside Metro Line 3 (phase 2)")))
    page = text_of(signed_in("audit", "viewer").get(f"/console/records/project/{project}/history"))
    assert page.index('id="version-2"') < page.index('id="version-1"')
    version_2 = page[page.index('id="version-2"') : page.index('id="version-1"')]
    changed_rows = re.findall(
        r'<tr class="field-changed">\s*<th scope="row" class="mono nowrap">(\w+)', version_2
    )
    assert changed_rows == ["name"]
    assert "Riverside Metro Line 3 (phase 2)" in version_2
    assert "ndrc" in version_2
    version_1 = page[page.index('id="version-1"') :]
    assert "field-changed" not in version_1


def test_history_never_names_a_withheld_field_as_changed(
    dossier: str, publish: Callable[..., Any], signed_in: Callable[..., Browser]
) -> None:
    published(publish("land_parcel", "P-1", parcel_data(rights_holder="City Rail Co", area_mu=90)))
    finance = text_of(
        signed_in("finance", "officer").get("/console/records/land_parcel/P-1/history")
    )
    assert "City Rail Co" not in finance
    assert "Metro Group" not in finance
    assert re.findall(r'class="changed-name mono">(\w+)<', finance) == ["area_mu"]
    land = text_of(signed_in("land", "officer").get("/console/records/land_parcel/P-1/history"))
    assert re.findall(r'class="changed-name mono">(\w+)<', land) == ["area_mu", "rights_holder"]
    assert "City Rail Co" in land


def test_history_pages_with_a_cursor(
    project: str, publish: Callable[..., Any], signed_in: Callable[..., Browser]
) -> None:
    for number in range(2, 5):
        published(publish("project", project, project_data(name=f"Line 3 v{number}")))
    visitor = signed_in("audit", "viewer")
    path = f"/console/records/project/{project}/history"
    first = text_of(visitor.get(path, query_string={"limit": 3}))
    assert re.findall(r'id="version-(\d+)"', first) == ["4", "3", "2"]
    link = NEXT_LINK.search(first)
    assert link is not None
    second = text_of(visitor.get(html.unescape(link.group(1))))
    assert re.findall(r'id="version-(\d+)"', second) == ["1"]


def test_the_history_of_an_unknown_record_is_a_404_page(
    project: str, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    assert visitor.get("/console/records/land_parcel/NOPE/history").status_code == 404
    assert visitor.get("/console/records/no_such_type/X/history").status_code == 404


# ---------- escaping and audit ----------


def test_a_stored_script_is_escaped_on_every_projects_page(
    departments: Any, publish: Callable[..., Any], signed_in: Callable[..., Browser]
) -> None:
    published(publish("project", PROJECT_CODE, project_data(name=SCRIPT, description=IMAGE)))
    published(publish("project", PROJECT_CODE, project_data(name=SCRIPT + IMAGE)))
    published(publish("permit", "EIA-1", permit_data(authority=IMAGE)))
    visitor = signed_in("audit", "viewer")
    pages = [
        visitor.get("/console/projects"),
        visitor.get("/console/projects", query_string={"q": IMAGE}),
        visitor.get(f"/console/projects/{PROJECT_CODE}"),
        visitor.get(f"/console/records/project/{PROJECT_CODE}/history"),
    ]
    for page in map(text_of, pages):
        assert "<script>alert" not in page
        assert "<img" not in page
        assert ESCAPED_SCRIPT in page
        assert ESCAPED_IMAGE in page
    permit_history = text_of(visitor.get("/console/records/permit/EIA-1/history"))
    assert "<img" not in permit_history
    assert ESCAPED_IMAGE in permit_history


def audit_entries(app: Flask, action: str) -> list[Any]:
    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action=action), limit=100)
        return list(entries)


def test_a_page_that_showed_protected_fields_is_audited_with_the_user_as_actor(
    app: Flask, dossier: str, signed_in: Callable[..., Browser]
) -> None:
    text_of(signed_in("land", "officer", "lin").get(f"/console/projects/{dossier}"))
    (entry,) = audit_entries(app, "project.dossier")
    assert entry.actor == "user:lin"
    assert entry.department_id == "land"
    assert entry.target == f"project/{dossier}"
    assert entry.outcome == 200
    assert "rights_holder" in entry.details["fields"]
    assert "land_parcel/P-1" in entry.details["records"]
    assert entry.details["path"] == f"/console/projects/{dossier}"
    text_of(signed_in("land", "viewer", "lu").get("/console/records/land_parcel/P-1/history"))
    (history,) = audit_entries(app, "record.history")
    assert history.actor == "user:lu"
    assert history.target == "land_parcel/P-1"


def test_a_page_of_open_fields_only_is_not_audited(
    app: Flask, dossier: str, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("audit", "viewer")
    text_of(visitor.get(f"/console/projects/{dossier}"))
    text_of(visitor.get("/console/records/land_parcel/P-1/history"))
    assert audit_entries(app, "project.dossier") == []
    assert audit_entries(app, "record.history") == []
