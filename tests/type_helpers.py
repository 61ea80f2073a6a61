"""What the tests of project, land_parcel, funding and permit share: their fields, valid bodies
and checks of a refusal.

Most rules are driven through ``PUT /api/v1/records/{type}/{key}`` as a department system would
meet them; a few are checked directly on ``schemas.registry()[name].canonical(data, key)``, the
one function every write path validates through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
import pytest

from schemas import registry
from tests.factories import OTHER_PROJECT_CODE, funding_data, parcel_data, permit_data, project_data

TYPES = ("project", "land_parcel", "funding", "permit")
BODIES: dict[str, Callable[..., dict[str, Any]]] = {
    "project": project_data,
    "land_parcel": parcel_data,
    "funding": funding_data,
    "permit": permit_data,
}
# The project fixture already holds PROJECT_CODE, so new projects use the other code.
KEYS = {"project": OTHER_PROJECT_CODE, "land_parcel": "L-1", "funding": "F-1", "permit": "P-1"}
KEY_FIELDS = {
    "project": "project_code",
    "land_parcel": "parcel_id",
    "funding": "funding_id",
    "permit": "permit_id",
    # supervision's types, tested in their own modules
    "coordination_item": "item_id",
    "progress_report": "report_id",
}
OWNERS = {"project": "ndrc", "land_parcel": "land", "funding": "finance", "permit": "approval"}
REQUIRED = {
    "project": {
        "name",
        "category",
        "stage",
        "admin_division",
        "lead_department",
        "responsible_leader",
        "total_investment",
    },
    "land_parcel": {"project_code", "area_mu", "land_use", "supply_method", "supply_status"},
    "funding": {"project_code", "source", "fiscal_year", "allocated"},
    "permit": {"project_code", "item", "authority", "status"},
}
# Optional fields of each type, sent as null in a body that is otherwise valid without them.
OPTIONAL = {
    "project": {
        "planned_start",
        "planned_completion",
        "milestones",
        "contacts",
        "description",
    },
    "land_parcel": {"supplied_on", "transfer_price", "rights_holder"},
    "funding": {"disbursed", "approval_doc", "bank_account"},
    "permit": {"submitted_at", "approved_at", "permit_no", "statutory_days", "applicant_contact"},
}
ENUMS = [
    (
        "project",
        "category",
        ["infrastructure", "industry", "culture_tourism", "public_service", "other"],
    ),
    ("project", "stage", ["reserve", "preliminary", "construction", "completed", "suspended"]),
    (
        "land_parcel",
        "land_use",
        ["industrial", "commercial", "residential", "public", "infrastructure", "mixed"],
    ),
    ("land_parcel", "supply_method", ["transfer", "allocation", "lease"]),
    ("land_parcel", "supply_status", ["planned", "acquiring", "ready", "supplied"]),
    (
        "funding",
        "source",
        [
            "central_budget",
            "special_bond",
            "local_budget",
            "bank_loan",
            "private_capital",
            "other",
        ],
    ),
    (
        "permit",
        "item",
        [
            "land_pre_review",
            "site_selection",
            "planning_permit",
            "eia",
            "energy_review",
            "construction_permit",
            "completion_acceptance",
            "other",
        ],
    ),
    (
        "permit",
        "status",
        ["not_started", "submitted", "accepted", "approved", "rejected", "withdrawn"],
    ),
]
MILESTONE_STATUSES = ["pending", "done", "delayed"]


def refused(response: Any, *fields: str) -> dict[str, list[str]]:
    """Assert a 422 problem+json naming exactly ``fields``; return its field errors."""
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == 422
    errors: dict[str, list[str]] = problem["errors"]
    assert set(errors) == set(fields), errors
    for name in fields:
        assert errors[name], errors
        assert all(isinstance(message, str) and message for message in errors[name])
    return errors


def canonical_errors(type_name: str, data: Any, key: str) -> dict[str, Any]:
    """The messages of the ValidationError ``canonical`` raises for ``data``."""
    with pytest.raises(ma.ValidationError) as caught:
        registry()[type_name].canonical(data, key)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


def valid_body(type_name: str, **overrides: Any) -> dict[str, Any]:
    """A valid body of ``type_name`` with ``overrides`` applied."""
    return BODIES[type_name](**overrides)


def without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """``data`` without the fields ``names``."""
    return {name: value for name, value in data.items() if name not in names}
