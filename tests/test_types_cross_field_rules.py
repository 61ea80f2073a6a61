"""Rules across fields: planned dates, parcel supply, disbursement, permit approval, milestones."""

from __future__ import annotations

import pytest

from tests.factories import funding_data, parcel_data, permit_data, project_data
from tests.type_helpers import refused, without


@pytest.mark.parametrize(
    ("start", "completion", "accepted"),
    [
        ("2025-06-01", "2029-12-31", True),
        ("2025-06-01", "2025-06-01", True),
        ("2025-06-01", None, True),
        (None, "2025-06-01", True),
        ("2025-06-01", "2025-05-31", False),
    ],
)
def test_planned_completion_is_not_before_planned_start(put, start, completion, accepted):
    response = put("project", project_data(planned_start=start, planned_completion=completion))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "planned_completion")


@pytest.mark.parametrize(
    ("status", "supplied_on", "accepted"),
    [
        ("supplied", "2025-05-20", True),
        ("supplied", None, False),
        ("ready", None, True),
        ("planned", None, True),
        ("acquiring", "2025-05-20", True),
    ],
)
def test_supplied_parcel_needs_its_supply_date(project, put, status, supplied_on, accepted):
    response = put("land_parcel", parcel_data(supply_status=status, supplied_on=supplied_on))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "supplied_on")


@pytest.mark.parametrize(
    ("allocated", "disbursed", "accepted"),
    [
        (120000, 45000.25, True),
        (120000, 120000, True),
        ("45000", "45000.000000", True),
        (120000, 120000.000001, False),
        (0, 0.01, False),
        ("45000", "45000.000001", False),
    ],
)
def test_disbursed_does_not_exceed_allocated(project, put, allocated, disbursed, accepted):
    response = put("funding", funding_data(allocated=allocated, disbursed=disbursed))
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "disbursed")


APPROVED = {
    "status": "approved",
    "submitted_at": "2025-02-10",
    "approved_at": "2025-03-28",
    "permit_no": "EIA-2025-017",
}


def test_approved_permit_with_its_dates_and_number_is_accepted(project, put):
    response = put("permit", permit_data(**APPROVED))
    assert response.status_code == 201, response.json
    assert response.json["data"]["permit_no"] == "EIA-2025-017"


@pytest.mark.parametrize(
    "missing",
    [
        ("submitted_at",),
        ("approved_at",),
        ("permit_no",),
        ("submitted_at", "approved_at", "permit_no"),
    ],
)
def test_approved_permit_needs_submitted_at_approved_at_and_permit_no(put, missing):
    body = without(permit_data(**APPROVED), *missing)
    refused(put("permit", body), *missing)


def test_approved_permit_needs_a_non_empty_permit_no(put):
    refused(put("permit", permit_data(**{**APPROVED, "permit_no": ""})), "permit_no")


@pytest.mark.parametrize(
    ("status", "approved_at", "accepted"),
    [
        ("approved", "2025-02-10", True),
        ("approved", "2025-02-09", False),
        ("rejected", "2025-02-09", False),
    ],
)
def test_approved_at_is_not_before_submitted_at(project, put, status, approved_at, accepted):
    body = permit_data(**{**APPROVED, "status": status, "approved_at": approved_at})
    response = put("permit", body)
    if accepted:
        assert response.status_code == 201, response.json
    else:
        refused(response, "approved_at")


@pytest.mark.parametrize("status", ["submitted", "accepted"])
def test_pending_permit_needs_its_submission_date(put, status):
    refused(put("permit", permit_data(status=status, submitted_at=None)), "submitted_at")


@pytest.mark.parametrize(
    ("milestone", "error"),
    [
        ({"status": "done", "actual_date": "2025-06-03"}, None),
        ({"status": "done"}, "milestones.0.actual_date"),
        ({"status": "done", "actual_date": None}, "milestones.0.actual_date"),
        ({"status": "pending"}, None),
        ({"status": "delayed"}, None),
        ({"status": "finished"}, "milestones.0.status"),
    ],
)
def test_done_milestone_needs_its_actual_date(put, milestone, error):
    body = project_data(
        milestones=[{"name": "Groundbreaking", "planned_date": "2025-06-01", **milestone}]
    )
    response = put("project", body)
    if error is None:
        assert response.status_code == 201, response.json
    else:
        refused(response, error)
