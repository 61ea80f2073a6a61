"""Demo data for a new embedded hub: the four departments of the design, keys, two projects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.entries import Actor
from hub.auth import service as auth
from hub.auth.identity import Identity, key_actor
from hub.auth.models import Department
from hub.records import service as records
from hub.users import service as users
from schemas import registry

KEYS_FILE = "demo-keys.txt"
CONSOLE_ADMIN = "admin"
READER_SCOPES = ["records:read", "events:read", "subscriptions", "grants"]

DEPARTMENTS = [
    ("ndrc", "Development & Reform Commission", ["project"]),
    ("land", "Natural Resources & Planning Bureau", ["land_parcel"]),
    ("finance", "Finance Bureau", ["funding"]),
    ("approval", "Administrative Approval Bureau", ["permit"]),
]

PROJECTS: list[dict[str, Any]] = [
    {
        "project_code": "2503-330102-04-01-7K3Q9B",
        "name": "Riverside Metro Line 3, Phase I",
        "category": "infrastructure",
        "stage": "construction",
        "admin_division": "330102",
        "lead_department": "Municipal Transport Bureau",
        "responsible_leader": {"name": "Wang Li", "title": "Deputy Mayor"},
        "total_investment": 1850000,
        "planned_start": "2025-06-01",
        "planned_completion": "2029-12-31",
        "milestones": [
            {
                "name": "Groundbreaking",
                "planned_date": "2025-06-01",
                "actual_date": "2025-06-18",
                "status": "done",
            },
            {"name": "Tunnel breakthrough", "planned_date": "2027-09-30", "status": "pending"},
        ],
        "contacts": [{"name": "Chen Hua", "phone": "+86 571 8888 0001"}],
    },
    {
        "project_code": "2504-330106-03-02-2M8X4D",
        "name": "West Lake Digital Culture Park",
        "category": "culture_tourism",
        "stage": "preliminary",
        "admin_division": "330106",
        "lead_department": "Culture & Tourism Bureau",
        "responsible_leader": {"name": "Zhao Min", "title": "District Head"},
        "total_investment": 326000.5,
        "planned_start": "2026-03-01",
    },
]
LINKED: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "land",
        "land_parcel",
        "HZ-2025-0117",
        {
            "project_code": "2503-330102-04-01-7K3Q9B",
            "area_mu": 86.4,
            "land_use": "infrastructure",
            "supply_method": "allocation",
            "supply_status": "supplied",
            "supplied_on": "2025-05-20",
            "rights_holder": "Hangzhou Metro Group",
        },
    ),
    (
        "finance",
        "funding",
        "F-2025-M3-SB",
        {
            "project_code": "2503-330102-04-01-7K3Q9B",
            "source": "special_bond",
            "fiscal_year": 2025,
            "allocated": 120000,
            "disbursed": 45000.25,
            "approval_doc": "Finance [2025] No. 42",
            "bank_account": "6222 0000 1111 2222",
        },
    ),
    (
        "approval",
        "permit",
        "EIA-2025-0031",
        {
            "project_code": "2503-330102-04-01-7K3Q9B",
            "item": "eia",
            "authority": "Municipal Ecology & Environment Bureau",
            "status": "approved",
            "submitted_at": "2025-02-10",
            "approved_at": "2025-04-02",
            "permit_no": "HZ-EIA-2025-0031",
            "statutory_days": 60,
        },
    ),
    (
        "approval",
        "permit",
        "CP-2026-0007",
        {
            "project_code": "2504-330106-03-02-2M8X4D",
            "item": "construction_permit",
            "authority": "Housing & Construction Bureau",
            "status": "submitted",
            "submitted_at": "2026-01-05",
            "statutory_days": 20,
            "applicant_contact": "Li Na, +86 571 8888 0099",
        },
    ),
]


def is_empty(session: Session) -> bool:
    """Whether no department exists yet."""
    return session.scalar(select(Department.id).limit(1)) is None


def load_console_admin(session: Session, settings: Mapping[str, Any]) -> str:
    """Create the demo's console administrator (``admin``) with an invitation; its token."""
    _, token = users.add_user(
        session,
        Actor.cli(),
        CONSOLE_ADMIN,
        "admin",
        "admin",
        settings,
        display_name="Demo administrator",
    )
    assert token is not None, "a user without a password gets an invitation"
    return token


def load_demo(session: Session, instance_path: Path) -> list[tuple[str, str]]:
    """Create the demo departments, keys and records; write the keys to the instance folder."""
    identities: dict[str, Identity] = {}
    lines: list[tuple[str, str]] = []
    operator = Actor.cli()
    auth.add_department(session, operator, "admin", "Hub administration", [])
    key, secret = auth.create_key(
        session, operator, "admin", ["admin", *READER_SCOPES], "demo admin"
    )
    lines.append(("admin", secret))
    for department_id, name, publishes in DEPARTMENTS:
        auth.add_department(session, operator, department_id, name, publishes)
        key, secret = auth.create_key(
            session,
            operator,
            department_id,
            ["records:write", *READER_SCOPES],
            f"demo {department_id}",
        )
        identities[department_id] = Identity(
            key.id,
            department_id,
            frozenset(key.scopes),
            frozenset(publishes),
            key_actor(key.id, department_id),
        )
        lines.append((department_id, secret))
    types = registry()
    for project in PROJECTS:
        records.publish(
            session, identities["ndrc"], types["project"], project["project_code"], project
        )
    for department_id, type_name, key_name, data in LINKED:
        records.publish(session, identities[department_id], types[type_name], key_name, data)
    keys_file = instance_path / KEYS_FILE
    keys_file.write_text("".join(f"{dept:<10} {secret}\n" for dept, secret in lines))
    keys_file.chmod(0o600)
    return lines
