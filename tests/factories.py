"""Valid record bodies of each type, to be varied by keyword overrides."""

from __future__ import annotations

from typing import Any

from hub.audit.entries import Actor

# who sets up a test's departments and keys, to the audit log
OPERATOR = Actor("test:setup")
PROJECT_CODE = "2503-330102-04-01-7K3Q9B"
OTHER_PROJECT_CODE = "2504-330106-03-02-2M8X4D"
# the projects the simulated external systems attach their rows to in connector tests
PROJECTS = [PROJECT_CODE, OTHER_PROJECT_CODE]


def project_data(**overrides: Any) -> dict[str, Any]:
    """A valid ``project`` body (without its key field)."""
    data: dict[str, Any] = {
        "name": "Riverside Metro Line 3",
        "category": "infrastructure",
        "stage": "construction",
        "admin_division": "330102",
        "lead_department": "Transport Bureau",
        "responsible_leader": {"name": "Wang Li", "title": "Deputy Mayor"},
        "total_investment": 1850000.5,
        "planned_start": "2025-06-01",
        "planned_completion": "2029-12-31",
        "contacts": [{"name": "Chen Hua", "phone": "+86 571 8888 0001"}],
    }
    data.update(overrides)
    return data


def parcel_data(project_code: str = PROJECT_CODE, **overrides: Any) -> dict[str, Any]:
    """A valid ``land_parcel`` body."""
    data: dict[str, Any] = {
        "project_code": project_code,
        "area_mu": 86.4,
        "land_use": "infrastructure",
        "supply_method": "allocation",
        "supply_status": "ready",
        "transfer_price": 1200.5,
        "rights_holder": "Metro Group",
    }
    data.update(overrides)
    return data


def funding_data(project_code: str = PROJECT_CODE, **overrides: Any) -> dict[str, Any]:
    """A valid ``funding`` body."""
    data: dict[str, Any] = {
        "project_code": project_code,
        "source": "special_bond",
        "fiscal_year": 2025,
        "allocated": 120000,
        "disbursed": 45000.25,
        "bank_account": "6222 0000 1111 2222",
    }
    data.update(overrides)
    return data


def permit_data(project_code: str = PROJECT_CODE, **overrides: Any) -> dict[str, Any]:
    """A valid ``permit`` body."""
    data: dict[str, Any] = {
        "project_code": project_code,
        "item": "eia",
        "authority": "Ecology & Environment Bureau",
        "status": "submitted",
        "submitted_at": "2025-02-10",
        "statutory_days": 60,
        "applicant_contact": "Li Na",
    }
    data.update(overrides)
    return data


def coordination_item_data(project_code: str = PROJECT_CODE, **overrides: Any) -> dict[str, Any]:
    """A valid ``coordination_item`` body: an open problem from a joint meeting."""
    data: dict[str, Any] = {
        "project_code": project_code,
        "title": "征迁补偿资金未到位",
        "factor": "funding",
        "raised_at": "2026-03-12",
        "meeting": "2026年第3次联席会议",
        "raised_by": "ndrc",
        "assigned_to": ["finance", "land"],
        "due_date": "2026-04-30",
        "status": "open",
        "notes": "Compensation talks with 12 households pending",
    }
    data.update(overrides)
    return data


def progress_report_data(
    project_code: str = PROJECT_CODE, period: str = "2026-09", **overrides: Any
) -> dict[str, Any]:
    """A valid ``progress_report`` body; its key is ``f"{project_code}:{period}"``."""
    data: dict[str, Any] = {
        "project_code": project_code,
        "period": period,
        "annual_plan": 120000,
        "invested_this_year": 86000.5,
        "invested_to_date": 412000.5,
        "progress_note": "Stations 3 to 5 structure topped out",
        "next_steps": "Track laying on section 2",
    }
    data.update(overrides)
    return data
