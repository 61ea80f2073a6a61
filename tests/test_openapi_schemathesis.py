"""Schemathesis against the served OpenAPI document of a live hub: no 5xx, and every response
as the document describes it (status, content type, headers, body).

The run is bounded (a few requests per operation, every operation, one seed) so that it is part
of every test run. Its caller holds every scope; the operations that name an object by id meet
the objects seeded here (a project and a record of each type, a pull subscription, a grant, a
user, a connector's run) and the rest answer 404, as documented. The ids of the fuzzer's own
department and key are never given, so it cannot lock itself out halfway.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth.service import SCOPES
from schemas import registry
from tests.factories import (
    PROJECT_CODE,
    coordination_item_data,
    funding_data,
    parcel_data,
    permit_data,
    progress_report_data,
    project_data,
)

HOOKS = Path(__file__).with_name("openapi_hooks.py")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
SEED = 20251215
# test cases per operation: ~90 operations make a few hundred requests in all
EXAMPLES_PER_OPERATION = 4
# the department and key the fuzzer acts on (never its own)
OTHER = "land"
USER = "alice"
CONNECTOR = "land-sync"
# with nested objects and lists, computed fields (a permit's overdue) and a deletion below
PROJECT = project_data(
    milestones=[
        {
            "name": "Groundbreaking",
            "planned_date": "2025-06-01",
            "status": "done",
            "actual_date": "2025-06-18",
            "kind": "construction_start",
        },
        {"name": "Tunnel breakthrough", "planned_date": "2027-09-30", "status": "pending"},
    ],
    task_force=[{"name": "Zhou Jie", "department": OTHER, "role": "liaison"}],
    description="Phase I.",
)
RECORDS: dict[str, tuple[str, dict[str, Any]]] = {
    "project": (PROJECT_CODE, PROJECT),
    "land_parcel": ("L-1", parcel_data()),
    "funding": ("F-1", funding_data()),
    "permit": ("P-1", permit_data()),
    "coordination_item": (
        "C-1",
        coordination_item_data(raised_by="fuzzer", assigned_to=[OTHER]),
    ),
    "progress_report": (f"{PROJECT_CODE}:2026-09", progress_report_data()),
}


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """No rate limit gets in the fuzzer's way."""
    return {**settings, "RATE_LIMIT": "1000000/second", "TOKEN_RATE_LIMIT": "1000000/second"}


def _token(client: FlaskClient, secret: str) -> str:
    response = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def _ok(response: Any) -> Any:
    assert response.status_code < 300, (response.request.path, response.status_code, response.json)
    return response.json


def _seed(client: FlaskClient, fuzzer: dict[str, str], other: dict[str, str]) -> dict[str, Any]:
    """A record of each type, a subscription, a grant, a user, a connector run; their ids."""
    assert set(RECORDS) == set(registry()), "seed a record of every type"
    for type_name, (key, data) in RECORDS.items():
        _ok(client.put(f"/api/v1/records/{type_name}/{key}", json=data, headers=fuzzer))
    # a history of two versions, and a tombstone that listings with include_deleted show
    changed = permit_data(applicant_contact="Wang Fang")  # still pending: overdue by now
    _ok(client.put(f"/api/v1/records/permit/{RECORDS['permit'][0]}", json=changed, headers=fuzzer))
    _ok(client.put("/api/v1/records/land_parcel/L-2", json=parcel_data(), headers=fuzzer))
    _ok(client.delete("/api/v1/records/land_parcel/L-2", headers=fuzzer))
    subscription = _ok(
        client.post("/api/v1/subscriptions", json={"types": ["project"]}, headers=fuzzer)
    )
    grant = _ok(
        client.post(
            "/api/v1/grants", json={"type": "project", "purpose": "A check."}, headers=other
        )
    )
    _ok(
        client.post(
            "/api/v1/admin/users",
            json={"username": USER, "department": OTHER, "role": "viewer"},
            headers=fuzzer,
        )
    )
    run = {"run_id": str(uuid.uuid4()), "status": "running", "started_at": "2026-01-05T08:00:00Z"}
    _ok(client.post(f"/api/v1/connectors/{CONNECTOR}/runs", json=run, headers=other))
    return {"subscription_id": subscription["id"], "grant_id": grant["id"]}


def _config(parameters: dict[str, Any]) -> str:
    """schemathesis.toml: the hooks, no state kept between runs, the seeded ids."""
    lines = [
        f"hooks = {json.dumps(str(HOOKS))}",
        "cache = { enabled = false }",
        "[parameters]",
        *(f"{name} = {json.dumps(value)}" for name, value in parameters.items()),
    ]
    for type_name, (key, _) in RECORDS.items():
        # each type's paths name its own seeded record
        lines += [
            "[[operations]]",
            f'include-path-regex = "/records/{type_name}/"',
            f"parameters = {{ key = {json.dumps(key)} }}",
        ]
    return "\n".join(lines) + "\n"


def test_the_served_document_describes_every_response(
    live_hub: Any,
    client: FlaskClient,
    make_department: Callable[..., str],
    make_key: Callable[..., str],
    tmp_path: Path,
) -> None:
    make_department("fuzzer", list(registry()))
    make_department(OTHER, ["land_parcel"])
    fuzzer_key = make_key("fuzzer", list(SCOPES))
    other_key = make_key(OTHER, list(SCOPES))
    token = _token(client, fuzzer_key)
    fuzzer = {"Authorization": f"Bearer {token}"}
    seeded = _seed(client, fuzzer, {"Authorization": f"Bearer {_token(client, other_key)}"})
    parameters = {
        **seeded,
        "key_id": other_key.split("_")[1],
        "department_id": OTHER,
        "username": USER,
        "name": CONNECTOR,
        "project_code": PROJECT_CODE,
        "code": PROJECT_CODE,
    }
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(parameters), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{live_hub.url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        # a slow machine is not a finding: only the API's answers are
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "10",
        "--no-color",
        "--output-truncate",
        "false",
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"schemathesis found problems:\n{output}", pytrace=False)
    tested = re.search(r"Tested: (\d+)", output)
    assert tested is not None, output
    operations = sum(
        method != "parameters"
        for path in client.get("/api/v1/openapi.json").json["paths"].values()
        for method in path
    )
    assert int(tested[1]) == operations, output
    requests = len(live_hub.outage.paths)
    assert 100 <= requests <= 1000, f"{requests} requests in {time.monotonic() - started:.0f} s"
