"""The permitting connector: approvals into the hub, and hub projects out to its registry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.runner import Connector
from connectors.simulators import ServedApp
from connectors.simulators import permitting as permitting_sim
from tests.factories import PROJECT_CODE, PROJECTS, parcel_data, project_data
from tests.live import build_connector, shipped_settings

API = "/api/v1"
CLIENT_SECRET = "permitting-client-secret"
THIRD_PROJECT = "2505-330104-01-01-3A7B9C"


@pytest.fixture
def system() -> Iterator[ServedApp]:
    """The approval system with 20 seeded approvals."""
    app = permitting_sim.create_app(
        seed=4, approvals=20, projects=PROJECTS, client_secret=CLIENT_SECRET
    )
    served = ServedApp(app)
    yield served
    served.shutdown()


class Native:
    """The approval system's API, as its own users drive it."""

    def __init__(self, url: str) -> None:
        self.url = url
        token = requests.post(
            f"{url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "hub-connector",
                "client_secret": CLIENT_SECRET,
            },
            timeout=5,
        ).json()["access_token"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def approvals(self) -> dict[str, dict[str, Any]]:
        items, cursor = [], None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.http.get(f"{self.url}/v2/approvals", params=params, timeout=5).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return {item["approvalId"]: item for item in items}

    def live(self) -> set[str]:
        return {key for key, item in self.approvals().items() if not item["deleted"]}

    def patch(self, approval_id: str, **fields: Any) -> None:
        response = self.http.patch(f"{self.url}/v2/approvals/{approval_id}", json=fields, timeout=5)
        assert response.ok, response.text

    def delete(self, approval_id: str) -> None:
        assert self.http.delete(f"{self.url}/v2/approvals/{approval_id}", timeout=5).ok

    def project(self, code: str) -> dict[str, Any] | None:
        response = self.http.get(f"{self.url}/v2/projects/{code}", timeout=5)
        return response.json() if response.ok else None

    def project_puts(self) -> int:
        return int(requests.get(f"{self.url}/_sim/stats", timeout=5).json()["project_puts"])


@pytest.fixture
def native(system: ServedApp) -> Native:
    return Native(system.url)


@pytest.fixture
def permitting(
    live_hub: Any,
    system: ServedApp,
    make_key: Callable[..., str],
    projects: list[str],
    tmp_path: Path,
) -> Callable[..., Connector]:
    key = make_key("approval", ["records:read", "records:write", "subscriptions"])

    def build(secret: str = CLIENT_SECRET, **source: Any) -> Connector:
        raw = shipped_settings(
            "permitting",
            hub={"url": live_hub.url},
            source={"url": system.url, "page_size": 5, "retries": 1, **source},
            state_dir=str(tmp_path / "state"),
        )
        environ = {"HUB_APPROVAL_KEY": key, "HUB_PERMITTING_CLIENT_SECRET": secret}
        return build_connector(raw, environ)

    return build


def hub_permits(client: Any, headers: Any) -> dict[str, dict[str, Any]]:
    response = client.get(f"{API}/records/permit?limit=200", headers=headers("approval"))
    return {item["key"]: item for item in response.json["items"]}


def test_approvals_are_published_and_changes_follow_the_cursor(permitting, native, client, headers):
    connector = permitting()

    inbound, _ = connector.run_once()

    assert inbound.ok, inbound.error
    assert set(hub_permits(client, headers)) == native.live()
    pending = next(
        key
        for key, item in native.approvals().items()
        if item["state"] == "SUBMITTED" and not item["deleted"]
    )
    gone = sorted(native.live() - {pending})[0]
    native.patch(
        pending,
        state="APPROVED",
        approveTime="2026-11-20T10:00:00+08:00",
        certificateNo="HZ-2026-0001",
    )
    native.delete(gone)

    inbound, _ = connector.run_once()

    assert (inbound.counts.read, inbound.counts.published, inbound.counts.deleted) == (2, 1, 1)
    permit = hub_permits(client, headers)[pending]
    assert permit["data"]["status"] == "approved"
    assert permit["data"]["approved_at"] == "2026-11-20"
    assert permit["data"]["permit_no"] == "HZ-2026-0001"
    assert gone not in hub_permits(client, headers)
    assert connector.run_once()[0].counts.read == 0


def test_a_token_the_system_stops_accepting_is_fetched_again(permitting, native, client, headers):
    connector = permitting()
    connector.run_once()
    # the system restarted and forgot its tokens: the connector's token is refused mid-life
    connector.new_source().api._token = "forgotten"
    native.patch(sorted(native.live())[0], handlingOrg="Municipal Approval Centre")

    inbound, _ = connector.run_once()

    assert inbound.ok, inbound.error
    assert inbound.counts.published == 1


def test_a_wrong_client_secret_fails_the_run_and_saves_nothing(permitting, client, headers):
    connector = permitting(secret="not-the-secret")

    inbound, _ = connector.run_once()

    assert inbound.status == "failed"
    assert "invalid_client" in inbound.error
    assert not connector.engine.store.path.exists()
    assert hub_permits(client, headers) == {}


def test_a_system_failing_mid_run_resumes_from_the_saved_cursor(
    permitting, system, native, client, headers
):
    connector = permitting()
    requests.post(
        f"{system.url}/_sim/faults",
        json={"status": 503, "times": 100, "after_requests": 1},
        timeout=5,
    )

    failed, _ = connector.run_once()

    assert failed.status == "failed"
    saved = json.loads(connector.engine.store.path.read_text())
    assert len(hub_permits(client, headers)) <= 5
    requests.delete(f"{system.url}/_sim/faults", timeout=5)
    completed, _ = connector.run_once()
    assert completed.ok
    assert json.loads(connector.engine.store.path.read_text())["cursor"] != saved["cursor"]
    assert set(hub_permits(client, headers)) == native.live()


def test_hub_projects_are_pushed_to_the_registry_and_changes_follow(
    permitting, native, publish, client, headers
):
    connector = permitting()

    _, outbound = connector.run_once()

    assert outbound.ok, outbound.error
    assert outbound.counts.published == 2
    pushed = native.project(PROJECT_CODE)
    assert pushed is not None
    assert pushed["projectName"] == project_data()["name"]
    assert pushed["divisionCode"] == PROJECT_CODE[5:11]
    assert pushed["totalInvestment"] == project_data()["total_investment"]
    assert pushed["sourceVersion"] == 1
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Line 3, Phase I"))

    _, outbound = connector.run_once()

    assert outbound.counts.published == 1
    assert outbound.counts.cursor.startswith("acknowledged event ")
    assert native.project(PROJECT_CODE)["projectName"] == "Line 3, Phase I"
    assert native.project(PROJECT_CODE)["sourceVersion"] == 2
    puts = native.project_puts()
    connector.run_once()
    assert native.project_puts() == puts


def test_the_push_resumes_after_the_connector_is_stopped_and_restarted(permitting, native, publish):
    first = permitting()
    first.run_once()
    first.close()
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Renamed"))
    publish("project", THIRD_PROJECT, project_data(admin_division="330104", name="Third"))

    restarted = permitting()
    _, outbound = restarted.run_once()

    assert outbound.counts.published == 2
    assert native.project(PROJECT_CODE)["projectName"] == "Renamed"
    assert native.project(THIRD_PROJECT)["projectName"] == "Third"


def test_a_pushed_project_deleted_in_the_hub_is_deleted_in_the_registry(
    permitting, native, publish, client, headers
):
    publish("project", THIRD_PROJECT, project_data(admin_division="330104"))
    connector = permitting()
    connector.run_once()
    assert native.project(THIRD_PROJECT) is not None
    client.delete(f"{API}/records/project/{THIRD_PROJECT}", headers=headers("ndrc"))

    _, outbound = connector.run_once()

    assert outbound.counts.deleted == 1
    assert native.project(THIRD_PROJECT)["deleted"] is True


def test_a_push_interrupted_before_its_ack_is_sent_again(
    permitting, native, publish, system, live_hub
):
    connector = permitting()
    connector.run_once()
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Again"))
    live_hub.outage.fail_next(1000, "/ack")

    _, interrupted = connector.run_once()

    assert interrupted.status == "failed"
    assert native.project(PROJECT_CODE)["projectName"] == "Again"
    live_hub.outage.fail_next(0)
    _, resumed = connector.run_once()
    assert resumed.ok
    # at-least-once: the unacknowledged event is pushed again, harmlessly
    assert resumed.counts.published == 1
    assert native.project(PROJECT_CODE)["sourceVersion"] == 2


def test_a_registry_push_after_the_systems_token_was_forgotten_still_lands(
    permitting, native, publish
):
    connector = permitting()
    connector.run_once()
    connector.outbound.push.api._token = "forgotten"
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="After 401"))

    _, outbound = connector.run_once()

    assert (outbound.counts.published, outbound.counts.rejected) == (1, 0)
    assert native.project(PROJECT_CODE)["projectName"] == "After 401"


def test_an_idle_push_keeps_up_with_the_log_so_compaction_does_not_strand_it(
    permitting, native, publish, hub_cli
):
    connector = permitting()
    connector.run_once()
    for n in range(3):  # other types move the log on while no project changes
        publish("land_parcel", f"L-{n}", parcel_data())
    _, idle = connector.run_once()
    assert idle.counts.read == 0
    assert hub_cli("events", "number").exit_code == 0
    assert hub_cli("events", "compact", "--older-than", "0").exit_code == 0
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Later"))

    _, outbound = connector.run_once()

    assert outbound.ok, outbound.error
    assert outbound.notes == []
    assert native.project(PROJECT_CODE)["projectName"] == "Later"


def test_a_push_left_behind_the_compacted_log_lists_every_project_again(
    permitting, native, publish, hub_cli
):
    connector = permitting()
    connector.run_once()
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Missed"))
    assert hub_cli("events", "number").exit_code == 0
    assert hub_cli("events", "compact", "--older-than", "0").exit_code == 0

    _, outbound = connector.run_once()

    assert outbound.ok, outbound.error
    assert any("re-listed" in note for note in outbound.notes)
    assert native.project(PROJECT_CODE)["projectName"] == "Missed"
    _, after = connector.run_once()
    assert (after.ok, after.counts.read) == (True, 0)


def test_a_deletion_the_registry_refuses_is_quarantined_and_later_pushes_go_on(
    permitting, native, publish, system, client, headers
):
    publish("project", THIRD_PROJECT, project_data(admin_division="330104"))
    connector = permitting()
    connector.run_once()
    client.delete(f"{API}/records/project/{THIRD_PROJECT}", headers=headers("ndrc"))
    requests.post(
        f"{system.url}/_sim/faults",
        json={"status": 409, "times": 1, "after_requests": 1},
        timeout=5,
    )

    _, refused = connector.run_once()

    assert (refused.ok, refused.counts.rejected) == (True, 1)
    [entry] = connector.outbound.push.quarantine.entries()
    assert entry["key"] == THIRD_PROJECT
    assert "409" in entry["detail"]
    publish("project", PROJECT_CODE, project_data(admin_division="330102", name="Goes on"))
    _, later = connector.run_once()
    assert native.project(PROJECT_CODE)["projectName"] == "Goes on"
    assert later.counts.read == 1


def test_a_new_subscription_also_deletes_what_the_hub_deleted_meanwhile(
    permitting, native, publish, client, headers, make_key
):
    publish("project", THIRD_PROJECT, project_data(admin_division="330104"))
    connector = permitting()
    connector.run_once()
    subscription = connector.outbound.push.store.load()["subscription_id"]
    approval = headers("approval", ["subscriptions"])
    assert client.delete(f"{API}/subscriptions/{subscription}", headers=approval).status_code in (
        200,
        204,
    )
    client.delete(f"{API}/records/project/{THIRD_PROJECT}", headers=headers("ndrc"))

    _, outbound = connector.run_once()

    assert outbound.ok, outbound.error
    assert native.project(THIRD_PROJECT)["deleted"] is True
    assert native.project(PROJECT_CODE)["deleted"] is False
