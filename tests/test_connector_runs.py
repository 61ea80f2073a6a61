"""Connector run reports: connectors report each sync run; administrators see them.

A run is named by the connector's own UUID and reported as often as the connector likes: the
first report creates it (201), later ones replace it (200), and a finished run never goes back
to running. A connector name belongs to the department that first reported under it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from hub.connector_runs.models import ConnectorRun
from hub.core.db import utcnow
from hub.core.extensions import db

API = "/api/v1"
ADMIN = f"{API}/admin"
WRITE = ["records:write"]
STARTED = "2025-03-01T08:00:00+08:00"
FINISHED = "2025-03-01T08:05:30+08:00"
DETAILS_LIMIT = 16 * 1024


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status`` whose ``errors`` name each of ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    for field in fields:
        assert field in body.get("errors", {}), body
    return body


def new_run_id() -> str:
    return str(uuid.uuid4())


def running(run_id: str, **overrides: Any) -> dict[str, Any]:
    """The report of a run that has just started."""
    return {"run_id": run_id, "status": "running", "started_at": STARTED, **overrides}


def succeeded(run_id: str, **overrides: Any) -> dict[str, Any]:
    """The report of a run that has ended well, with its totals."""
    totals = {"read": 120, "published": 30, "unchanged": 85, "deleted": 2, "rejected": 3}
    body = {"status": "succeeded", "finished_at": FINISHED, **totals, **overrides}
    return running(run_id, **body)


@pytest.fixture
def connectors(client: FlaskClient, headers: Callable[..., dict[str, str]], admin: Any) -> Any:
    """Shortcuts for reporting runs as a department and reading them back as administrators."""

    class Connectors:
        def report(self, name: str, body: Any, department: str = "land") -> Any:
            return client.post(
                f"{API}/connectors/{name}/runs", json=body, headers=headers(department, WRITE)
            )

        def reported(self, name: str, body: Any, department: str = "land") -> dict[str, Any]:
            response = self.report(name, body, department)
            assert response.status_code in (200, 201), response.json
            run: dict[str, Any] = response.json
            return run

        def listing(self, **query: Any) -> list[dict[str, Any]]:
            response = client.get(f"{ADMIN}/connectors", headers=admin, query_string=query)
            assert response.status_code == 200, response.json
            items: list[dict[str, Any]] = response.json["items"]
            return items

        def runs_page(self, name: str, **query: Any) -> dict[str, Any]:
            response = client.get(
                f"{ADMIN}/connectors/{name}/runs", headers=admin, query_string=query
            )
            assert response.status_code == 200, response.json
            page: dict[str, Any] = response.json
            return page

    return Connectors()


# --- reporting a run -----------------------------------------------------------------------


def test_a_run_reported_at_its_start_is_created_with_201(connectors: Any) -> None:
    run_id = new_run_id()
    before = utcnow()

    response = connectors.report("land-sync", running(run_id, cursor="2025-02-28T23:59:59Z"))

    assert response.status_code == 201, response.json
    run = response.json
    assert run == {
        "connector": "land-sync",
        "department": "land",
        "run_id": run_id,
        "status": "running",
        "started_at": "2025-03-01T00:00:00+00:00",
        "finished_at": None,
        "read": 0,
        "published": 0,
        "unchanged": 0,
        "deleted": 0,
        "rejected": 0,
        "error": None,
        "cursor": "2025-02-28T23:59:59Z",
        "details": None,
        "reported_at": run["reported_at"],
    }
    assert before <= datetime.fromisoformat(run["reported_at"]) <= utcnow()


def test_the_end_of_a_run_updates_it_with_200_and_its_totals(connectors: Any) -> None:
    run_id = new_run_id()
    started = connectors.reported("land-sync", running(run_id))

    details = {"quarantine": ["parcels-2025-03-01.csv"], "source_rows": {"skipped": 1}}
    response = connectors.report("land-sync", succeeded(run_id, details=details))

    assert response.status_code == 200, response.json
    run = response.json
    assert (run["run_id"], run["status"]) == (run_id, "succeeded")
    assert run["finished_at"] == "2025-03-01T00:05:30+00:00"
    assert [run[c] for c in ("read", "published", "unchanged", "deleted", "rejected")] == [
        120,
        30,
        85,
        2,
        3,
    ]
    assert run["details"] == details
    assert run["reported_at"] >= started["reported_at"]
    assert [r["status"] for r in connectors.runs_page("land-sync")["items"]] == ["succeeded"]


def test_a_failed_run_is_reported_with_its_error(connectors: Any) -> None:
    run_id = new_run_id()
    connectors.reported("finance-sync", running(run_id), department="finance")

    failure = succeeded(run_id, status="failed", error="Budget system answered 503 three times.")
    run = connectors.reported("finance-sync", failure, department="finance")

    assert (run["status"], run["department"]) == ("failed", "finance")
    assert run["error"] == "Budget system answered 503 three times."


def test_a_new_run_closes_the_runs_its_connector_left_running_as_abandoned(
    connectors: Any,
) -> None:
    # the connector's process ended mid-run (stopped, crashed): the run still says running
    stranded = new_run_id()
    connectors.reported("land-sync", running(stranded))
    other = new_run_id()
    connectors.reported("finance-sync", running(other), department="finance")

    fresh = new_run_id()
    connectors.reported("land-sync", running(fresh))

    runs = {r["run_id"]: r for r in connectors.runs_page("land-sync")["items"]}
    assert runs[fresh]["status"] == "running"
    assert runs[stranded]["status"] == "abandoned"
    assert runs[stranded]["finished_at"] is not None
    assert fresh in runs[stranded]["error"]
    # another connector's run is none of its business
    [finance_run] = connectors.runs_page("finance-sync")["items"]
    assert finance_run["status"] == "running"


def test_an_abandoned_run_reported_late_takes_its_real_outcome(connectors: Any) -> None:
    late = new_run_id()
    connectors.reported("land-sync", running(late))
    connectors.reported("land-sync", running(new_run_id()))
    run = connectors.reported("land-sync", succeeded(late))
    assert run["status"] == "succeeded"
    assert connectors.report("land-sync", running(late)).status_code == 409


def test_a_connector_may_not_report_a_run_abandoned_itself(connectors: Any) -> None:
    response = connectors.report("land-sync", succeeded(new_run_id(), status="abandoned"))
    assert response.status_code == 422
    assert "status" in response.json["errors"]


def test_a_run_may_be_reported_only_once_it_has_finished(connectors: Any) -> None:
    response = connectors.report("land-sync", succeeded(new_run_id()))
    assert response.status_code == 201, response.json
    assert response.json["status"] == "succeeded"


def test_reporting_the_same_report_again_is_harmless(connectors: Any) -> None:
    run_id = new_run_id()
    first = connectors.report("land-sync", succeeded(run_id))
    again = connectors.report("land-sync", succeeded(run_id))

    assert (first.status_code, again.status_code) == (201, 200)
    assert {**again.json, "reported_at": None} == {**first.json, "reported_at": None}
    assert len(connectors.runs_page("land-sync")["items"]) == 1


def test_a_running_run_may_report_its_progress(connectors: Any) -> None:
    run_id = new_run_id()
    connectors.reported("land-sync", running(run_id))

    response = connectors.report("land-sync", running(run_id, read=50, published=10))

    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["read"]) == ("running", 50)


def test_a_run_id_is_written_in_any_uuid_form_and_stored_in_the_canonical_one(
    connectors: Any,
) -> None:
    run_id = new_run_id()
    connectors.reported("land-sync", running(run_id.upper()))

    response = connectors.report("land-sync", succeeded(run_id.replace("-", "")))

    assert response.status_code == 200, response.json
    assert response.json["run_id"] == run_id


def test_the_same_run_id_under_two_connectors_is_two_runs(connectors: Any) -> None:
    run_id = new_run_id()
    assert connectors.report("land-sync", running(run_id)).status_code == 201
    assert connectors.report("land-archive", running(run_id)).status_code == 201


def test_a_finished_run_cannot_go_back_to_running(connectors: Any) -> None:
    run_id = new_run_id()
    connectors.reported("land-sync", succeeded(run_id))

    body = assert_problem(connectors.report("land-sync", running(run_id)), 409)

    assert "cannot go back to running" in body["detail"]
    assert connectors.runs_page("land-sync")["items"][0]["status"] == "succeeded"


def test_a_finished_run_may_be_corrected(connectors: Any) -> None:
    run_id = new_run_id()
    connectors.reported("land-sync", succeeded(run_id))

    correction = succeeded(run_id, status="failed", error="The export was truncated.")
    response = connectors.report("land-sync", correction)

    assert response.status_code == 200, response.json
    assert response.json["status"] == "failed"


def concurrently(app: Flask, requests: list[tuple[str, Any, dict[str, str]]]) -> list[Any]:
    """POST each ``(url, body, headers)`` from a thread of its own, all at once."""
    barrier = threading.Barrier(len(requests))
    responses: list[Any] = [None] * len(requests)

    def post(n: int) -> None:
        url, body, request_headers = requests[n]
        client = app.test_client()
        barrier.wait()
        responses[n] = client.post(url, json=body, headers=request_headers)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_concurrent_reports_of_one_new_run_make_one_creation(
    app: Flask, connectors: Any, headers: Callable[..., Any]
) -> None:
    run_id, land = new_run_id(), headers("land", WRITE)
    url = f"{API}/connectors/land-sync/runs"

    responses = concurrently(app, [(url, running(run_id, read=n), land) for n in range(6)])

    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    [connector] = connectors.listing()
    assert [run["run_id"] for run in connector["recent_runs"]] == [run_id]


def test_of_two_departments_racing_for_a_new_name_one_owns_it(
    app: Flask, connectors: Any, headers: Callable[..., Any]
) -> None:
    url = f"{API}/connectors/shared-sync/runs"
    racers = ["land", "finance"] * 3
    tokens = {department: headers(department, WRITE) for department in set(racers)}

    responses = concurrently(
        app, [(url, running(new_run_id()), tokens[department]) for department in racers]
    )

    [connector] = connectors.listing()
    owner = connector["department"]
    outcomes = sorted((d, r.status_code) for d, r in zip(racers, responses, strict=True))
    other = "finance" if owner == "land" else "land"
    assert outcomes == sorted([(owner, 201)] * 3 + [(other, 403)] * 3)


# --- what a report may say -----------------------------------------------------------------


def _details_of_size(size: int) -> dict[str, str]:
    """A details object whose compact JSON is ``size`` bytes long."""
    return {"x": "a" * (size - len('{"x":""}'))}


BAD_REPORTS = [
    ("run_id", lambda r: {k: v for k, v in running(r).items() if k != "run_id"}),
    ("run_id", lambda r: running("run-1")),
    ("run_id", lambda r: running(42)),
    ("status", lambda r: running(r, status="done")),
    ("status", lambda r: {k: v for k, v in running(r).items() if k != "status"}),
    ("started_at", lambda r: {k: v for k, v in running(r).items() if k != "started_at"}),
    ("started_at", lambda r: running(r, started_at="2025-03-01T08:00:00")),
    ("started_at", lambda r: running(r, started_at="yesterday")),
    ("finished_at", lambda r: succeeded(r, finished_at=None)),
    ("finished_at", lambda r: {k: v for k, v in succeeded(r).items() if k != "finished_at"}),
    ("finished_at", lambda r: running(r, finished_at=FINISHED)),
    ("finished_at", lambda r: succeeded(r, finished_at="2025-03-01T07:59:59+08:00")),
    ("finished_at", lambda r: succeeded(r, finished_at="2025-03-01T08:00:00")),
    ("read", lambda r: succeeded(r, read=-1)),
    ("published", lambda r: succeeded(r, published="30")),
    ("unchanged", lambda r: succeeded(r, unchanged=1.5)),
    ("deleted", lambda r: succeeded(r, deleted=True)),
    ("rejected", lambda r: succeeded(r, rejected=2**63)),
    ("error", lambda r: succeeded(r, status="failed")),
    ("error", lambda r: succeeded(r, status="failed", error="   ")),
    ("error", lambda r: succeeded(r, error="x" * 2001)),
    ("error", lambda r: succeeded(r, status="failed", error="broken\x00pipe")),
    ("cursor", lambda r: running(r, cursor="c" * 501)),
    ("cursor", lambda r: running(r, cursor=17)),
    ("details", lambda r: running(r, details=["not", "an", "object"])),
    ("details", lambda r: running(r, details=_details_of_size(DETAILS_LIMIT + 1))),
    ("details", lambda r: running(r, details={"file": "a\x00.csv"})),
    ("details", lambda r: running(r, details={"\ud800": 1})),
    ("details", lambda r: running(r, details={"huge": 2**64})),
    ("connector", lambda r: running(r, connector="other")),
]


@pytest.mark.parametrize(("field", "make"), BAD_REPORTS, ids=[f for f, _ in BAD_REPORTS])
def test_a_bad_report_is_refused_with_422_naming_the_field(
    connectors: Any, field: str, make: Callable[[str], Any]
) -> None:
    run_id = new_run_id()

    assert_problem(connectors.report("land-sync", make(run_id)), 422, field)

    assert connectors.listing() == []


def test_several_bad_fields_are_named_at_once(connectors: Any) -> None:
    body = {"status": "succeeded", "started_at": "noon", "read": -5, "extra": 1}

    problem = assert_problem(connectors.report("land-sync", body), 422)

    assert set(problem["errors"]) == {"run_id", "started_at", "read", "extra"}


def test_a_report_that_is_not_a_json_object_is_refused(connectors: Any) -> None:
    assert_problem(connectors.report("land-sync", ["not", "an", "object"]), 422)


def test_details_of_exactly_the_size_limit_are_accepted(connectors: Any) -> None:
    details = _details_of_size(DETAILS_LIMIT)
    run = connectors.reported("land-sync", running(new_run_id(), details=details))
    assert run["details"] == details


@pytest.mark.parametrize(
    "name", ["Land-sync", "-land", "_land", "land.sync", "land sync", "x" * 65]
)
def test_a_connector_name_outside_the_pattern_is_refused_with_422(
    connectors: Any, name: str
) -> None:
    assert_problem(connectors.report(name, running(new_run_id())), 422, "name")


@pytest.mark.parametrize("name", ["0", "land_sync-2", "x" * 64])
def test_names_within_the_pattern_are_accepted(connectors: Any, name: str) -> None:
    assert connectors.report(name, running(new_run_id())).status_code == 201


# --- who may report ------------------------------------------------------------------------


def test_a_connector_name_belongs_to_the_department_that_first_reported_it(
    connectors: Any,
) -> None:
    connectors.reported("land-sync", running(new_run_id()))

    problem = assert_problem(
        connectors.report("land-sync", running(new_run_id()), department="finance"), 403
    )

    assert "'land'" in problem["detail"]
    [connector] = connectors.listing()
    assert (connector["department"], len(connector["recent_runs"])) == ("land", 1)


def test_a_run_is_not_taken_over_by_another_department(connectors: Any) -> None:
    run_id = new_run_id()
    connectors.reported("land-sync", running(run_id))

    assert_problem(connectors.report("land-sync", succeeded(run_id), department="finance"), 403)

    assert connectors.runs_page("land-sync")["items"][0]["status"] == "running"


def test_reporting_needs_a_token(client: FlaskClient, connectors: Any) -> None:
    response = client.post(f"{API}/connectors/land-sync/runs", json=running(new_run_id()))
    assert_problem(response, 401)


@pytest.mark.parametrize("scopes", [["records:read", "events:read"], ["admin"]])
def test_reporting_needs_the_records_write_scope(
    client: FlaskClient, connectors: Any, headers: Callable[..., Any], scopes: list[str]
) -> None:
    response = client.post(
        f"{API}/connectors/land-sync/runs",
        json=running(new_run_id()),
        headers=headers("land", scopes),
    )
    problem = assert_problem(response, 403)
    assert "records:write" in problem["detail"]


ADMIN_READS = [f"{ADMIN}/connectors", f"{ADMIN}/connectors/land-sync/runs"]


@pytest.mark.parametrize("url", ADMIN_READS)
def test_the_administrators_view_needs_a_token(
    client: FlaskClient, connectors: Any, url: str
) -> None:
    assert_problem(client.get(url), 401)


@pytest.mark.parametrize("url", ADMIN_READS)
def test_the_administrators_view_needs_the_admin_scope(
    client: FlaskClient, connectors: Any, headers: Callable[..., Any], url: str
) -> None:
    connectors.reported("land-sync", running(new_run_id()))
    everything_but_admin = ["records:read", "records:write", "events:read", "grants"]
    problem = assert_problem(client.get(url, headers=headers("land", everything_but_admin)), 403)
    assert "admin" in problem["detail"]


def test_a_report_is_audited_like_every_write(
    client: FlaskClient, connectors: Any, admin: dict[str, str]
) -> None:
    connectors.reported("land-sync", running(new_run_id()))
    connectors.report("land-sync", running(new_run_id()), department="finance")

    response = client.get(
        f"{ADMIN}/audit", headers=admin, query_string={"target": "connector/land-sync"}
    )

    assert response.status_code == 200, response.json
    entries = response.json["items"]
    assert [(e["department"], e["outcome"]) for e in entries] == [("finance", 403), ("land", 201)]
    assert all(e["details"]["path"] == f"{API}/connectors/land-sync/runs" for e in entries)


# --- what administrators see ---------------------------------------------------------------


def test_administrators_see_every_connector_with_its_latest_runs_newest_first(
    connectors: Any,
) -> None:
    land_runs = [new_run_id() for _ in range(7)]
    outcomes = ["succeeded", "failed", "succeeded", "succeeded", "failed", "succeeded", "running"]
    for run_id, outcome in zip(land_runs, outcomes, strict=True):
        if outcome == "running":
            connectors.reported("land-sync", running(run_id))
        else:
            error = "Timed out." if outcome == "failed" else None
            connectors.reported("land-sync", succeeded(run_id, status=outcome, error=error))
    finance_run = new_run_id()
    connectors.reported("finance-sync", succeeded(finance_run, published=4), department="finance")
    approval_runs = [new_run_id(), new_run_id()]
    for run_id in approval_runs:
        connectors.reported("approval-sync", running(run_id), department="approval")
    connectors.reported("approval-sync", succeeded(approval_runs[0]), department="approval")

    items = connectors.listing()

    assert [(c["name"], c["department"]) for c in items] == [
        ("approval-sync", "approval"),
        ("finance-sync", "finance"),
        ("land-sync", "land"),
    ]
    approval, finance, land = items
    # the latest run is the one reported first last: a later report of an older run does
    # not make it the latest
    assert approval["latest_run"]["run_id"] == approval_runs[1]
    assert [r["run_id"] for r in approval["recent_runs"]] == approval_runs[::-1]
    assert approval["recent_counts"] == {"running": 1, "succeeded": 1, "failed": 0}
    assert finance["latest_run"]["run_id"] == finance_run
    assert finance["latest_run"]["published"] == 4
    assert finance["recent_counts"] == {"running": 0, "succeeded": 1, "failed": 0}
    # five runs by default, newest first
    assert [r["run_id"] for r in land["recent_runs"]] == land_runs[:-6:-1]
    assert land["latest_run"]["run_id"] == land_runs[-1]
    assert land["latest_run"]["status"] == "running"
    assert land["recent_counts"] == {"running": 1, "succeeded": 3, "failed": 1}
    assert land["first_reported_at"] <= land["last_reported_at"]

    land_all = connectors.listing(runs=50)[2]
    assert [r["run_id"] for r in land_all["recent_runs"]] == land_runs[::-1]
    assert land_all["recent_counts"] == {"running": 1, "succeeded": 4, "failed": 2}
    land_one = connectors.listing(runs=1)[2]
    assert [r["run_id"] for r in land_one["recent_runs"]] == [land_runs[-1]]
    assert land_one["recent_counts"] == {"running": 1, "succeeded": 0, "failed": 0}


def test_with_no_reports_there_are_no_connectors(connectors: Any) -> None:
    assert connectors.listing() == []


@pytest.mark.parametrize("runs", ["0", "51", "-1", "five"])
def test_a_bad_number_of_recent_runs_is_refused_with_422(
    client: FlaskClient, admin: dict[str, str], runs: str
) -> None:
    response = client.get(f"{ADMIN}/connectors", headers=admin, query_string={"runs": runs})
    assert_problem(response, 422, "runs")


def test_a_connectors_runs_are_paged_newest_first(connectors: Any) -> None:
    run_ids = [new_run_id() for _ in range(5)]
    for run_id in run_ids:
        connectors.reported("land-sync", succeeded(run_id))
    connectors.reported("land-archive", succeeded(new_run_id()))

    seen: list[str] = []
    pages = 0
    query: dict[str, Any] = {"limit": 2}
    while True:
        page = connectors.runs_page("land-sync", **query)
        pages += 1
        assert len(page["items"]) <= 2
        assert all(run["connector"] == "land-sync" for run in page["items"])
        seen.extend(run["run_id"] for run in page["items"])
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]

    assert (seen, pages) == (run_ids[::-1], 3)


def test_a_forged_runs_cursor_is_refused_with_422(
    client: FlaskClient, connectors: Any, admin: dict[str, str]
) -> None:
    connectors.reported("land-sync", running(new_run_id()))
    response = client.get(
        f"{ADMIN}/connectors/land-sync/runs", headers=admin, query_string={"cursor": "bogus"}
    )
    assert_problem(response, 422, "cursor")


@pytest.mark.parametrize("name", ["never-reported", "Not-A-Name"])
def test_the_runs_of_an_unknown_connector_are_404(
    client: FlaskClient, admin: dict[str, str], name: str
) -> None:
    assert_problem(client.get(f"{ADMIN}/connectors/{name}/runs", headers=admin), 404)


# --- what a department sees of its own connectors ------------------------------------------


def test_a_department_reads_its_own_connectors_runs(
    client: FlaskClient, connectors: Any, headers: Callable[..., Any]
) -> None:
    first, second = new_run_id(), new_run_id()
    connectors.reported("land-sync", succeeded(first, cursor="page-9"))
    connectors.reported("land-sync", running(second))

    response = client.get(f"{API}/connectors/land-sync/runs", headers=headers("land", WRITE))

    assert response.status_code == 200, response.json
    assert [run["run_id"] for run in response.json["items"]] == [second, first]
    assert response.json["items"][1]["cursor"] == "page-9"


def test_a_department_cannot_read_another_departments_connector(
    client: FlaskClient, connectors: Any, headers: Callable[..., Any]
) -> None:
    connectors.reported("land-sync", running(new_run_id()))
    url = f"{API}/connectors/land-sync/runs"

    assert_problem(client.get(url, headers=headers("finance", WRITE)), 403)
    assert_problem(client.get(f"{API}/connectors/other/runs", headers=headers("land", WRITE)), 404)


def test_the_openapi_document_describes_the_connector_endpoints(client: FlaskClient) -> None:
    paths = client.get(f"{API}/openapi.json").json["paths"]
    report = paths["/api/v1/connectors/{name}/runs"]["post"]
    assert {"200", "201", "403", "409", "422"} <= set(report["responses"])
    assert "get" in paths["/api/v1/connectors/{name}/runs"]
    assert "get" in paths["/api/v1/admin/connectors"]
    assert "get" in paths["/api/v1/admin/connectors/{name}/runs"]


# --- pruning old runs ------------------------------------------------------------------------


def test_prune_removes_old_runs_but_keeps_each_connectors_latest(
    app: Flask, connectors: Any, hub_cli: Any
) -> None:
    old = [new_run_id() for _ in range(3)]
    for run_id in old:
        connectors.reported("land-sync", succeeded(run_id))
    connectors.reported("finance-sync", succeeded(new_run_id()), department="finance")
    fresh = new_run_id()
    connectors.reported("land-sync", succeeded(fresh))
    with app.app_context(), db.unit_of_work() as session:
        # everything but the last land run was reported long ago
        session.execute(
            update(ConnectorRun)
            .where(ConnectorRun.run_id != fresh)
            .values(reported_at=utcnow() - timedelta(days=40))
        )

    result = hub_cli("connectors", "prune", "--older-than", "30")

    assert result.exit_code == 0, result.stderr
    assert "Removed 3 connector runs." in result.stderr
    land = connectors.runs_page("land-sync")["items"]
    assert [run["run_id"] for run in land] == [fresh]
    # a connector that stopped reporting keeps its last run, so administrators see it stopped
    assert len(connectors.runs_page("finance-sync")["items"]) == 1
