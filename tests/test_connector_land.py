"""The land connector against the simulated land system and a hub served over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request

from connectors.runner import Connector
from connectors.simulators import CHINA_TZ, ServedApp
from connectors.simulators import land as land_sim
from tests.factories import PROJECT_CODE, PROJECTS
from tests.live import build_connector, shipped_settings

API = "/api/v1"


class Clock:
    """The land system's clock, moved on by hand so update times are known."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA_TZ)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: int = 60) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def land_system(clock: Clock) -> Iterator[ServedApp]:
    """The land system with 30 seeded parcels."""
    served = ServedApp(land_sim.create_app(seed=3, parcels=30, projects=PROJECTS, clock=clock))
    yield served
    served.shutdown()


@pytest.fixture
def land(
    live_hub: Any,
    land_system: ServedApp,
    make_key: Callable[..., str],
    projects: list[str],
    tmp_path: Path,
) -> Callable[..., Connector]:
    """Build the land connector as shipped, pointed at the test hub and land system."""
    key = make_key("land", ["records:read", "records:write"])

    def build(source: dict[str, Any] | None = None) -> Connector:
        raw = shipped_settings(
            "land",
            hub={"url": live_hub.url},
            source={"url": land_system.url, "page_size": 10, "retries": 1, **(source or {})},
            state_dir=str(tmp_path / "state"),
        )
        return build_connector(raw, {"HUB_LAND_KEY": key})

    return build


def connector_state(tmp_path: Path) -> Path:
    """Where the land connector built by the ``land`` fixture saves its state."""
    return tmp_path / "state" / "land.state.json"


def native(land_system: ServedApp) -> dict[str, dict[str, Any]]:
    """Every parcel the land system holds, by id."""
    body = requests.get(f"{land_system.url}/api/v1/parcels?page_size=1000", timeout=5).json()
    return {row["地块编号"]: row for row in body["data"]["records"]}


def hub_parcels(client: Any, headers: Any) -> dict[str, dict[str, Any]]:
    """Every live land parcel in the hub, by key."""
    response = client.get(f"{API}/records/land_parcel?limit=200", headers=headers("land"))
    assert response.json["next_cursor"] is None
    return {item["key"]: item for item in response.json["items"]}


def active(rows: dict[str, dict[str, Any]]) -> set[str]:
    return {key for key, row in rows.items() if row["状态"] == "正常"}


def change(land_system: ServedApp, parcel_id: str, **fields: Any) -> None:
    response = requests.put(f"{land_system.url}/api/v1/parcels/{parcel_id}", json=fields, timeout=5)
    assert response.status_code == 200, response.text


def run(connector: Connector) -> Any:
    [result] = connector.run_once()
    return result


def test_a_first_run_publishes_every_active_parcel_mapped_to_the_hub_record(
    land, land_system, client, headers
):
    rows = native(land_system)
    withdrawn = len(rows) - len(active(rows))

    result = run(land())

    assert result.ok, result.error
    parcels = hub_parcels(client, headers)
    assert set(parcels) == active(rows)
    assert (result.counts.read, result.counts.published) == (30, 30 - withdrawn)
    # a parcel withdrawn before the hub ever had it is already true in the hub
    assert result.counts.unchanged == withdrawn
    sold = next(r for r in rows.values() if r["成交价款"] is not None and r["状态"] == "正常")
    data = parcels[sold["地块编号"]]["data"]
    assert data["project_code"] == sold["项目代码"]
    assert Decimal(str(data["area_mu"])) == Decimal(str(sold["用地面积"]))
    assert Decimal(str(data["transfer_price"])) == Decimal(str(sold["成交价款"]))
    assert (data["supply_method"], data["supply_status"]) == ("transfer", "supplied")
    assert data["supplied_on"] == sold["供地日期"]
    assert data["rights_holder"] == sold["土地使用权人"]


def test_a_second_run_with_no_changes_reads_and_publishes_nothing(
    land, land_system, client, headers
):
    connector = land()
    run(connector)
    events = client.get(f"{API}/events?limit=500", headers=headers("land")).json["events"]

    again = run(connector)

    assert again.ok
    assert (again.counts.read, again.counts.published) == (0, 0)
    after = client.get(f"{API}/events?limit=500", headers=headers("land")).json["events"]
    assert len(after) == len(events)


def test_changes_in_the_source_reach_the_hub_on_the_next_run(
    land, land_system, clock, client, headers
):
    connector = land()
    run(connector)
    parcel_id = sorted(active(native(land_system)))[0]
    clock.tick()
    change(land_system, parcel_id, 用地面积=123.45, 土地用途="混合用地")
    new = {**native(land_system)[parcel_id], "地块编号": "330102-2026-99999"}
    del new["状态"], new["更新时间"]
    assert requests.post(f"{land_system.url}/api/v1/parcels", json=new, timeout=5).ok

    result = run(connector)

    assert (result.counts.read, result.counts.published) == (2, 2)
    parcels = hub_parcels(client, headers)
    assert parcels[parcel_id]["version"] == 2
    assert parcels[parcel_id]["data"]["area_mu"] == 123.45
    assert parcels[parcel_id]["data"]["land_use"] == "mixed"
    assert "330102-2026-99999" in parcels


def test_a_withdrawn_parcel_becomes_a_tombstone(land, land_system, clock, client, headers):
    connector = land()
    run(connector)
    parcel_id = sorted(active(native(land_system)))[0]
    clock.tick()
    requests.post(f"{land_system.url}/api/v1/parcels/{parcel_id}/withdraw", timeout=5)

    result = run(connector)

    assert result.counts.deleted == 1
    record = client.get(f"{API}/records/land_parcel/{parcel_id}", headers=headers("land")).json
    assert (record["deleted"], record["version"]) == (True, 2)


def test_a_row_changed_late_within_the_look_back_window_is_not_missed(
    land, land_system, clock, client, headers
):
    """A change stamped before the saved mark (a late commit) is caught by the look-back."""
    connector = land()
    clock.tick()
    first, second = sorted(active(native(land_system)))[:2]
    change(land_system, first, 用地面积=10)
    run(connector)
    late_stamp = clock.now - dt.timedelta(seconds=30)
    clock.now = late_stamp
    change(land_system, second, 用地面积=20)

    result = run(connector)

    assert (result.counts.read, result.counts.published) == (1, 1)
    assert hub_parcels(client, headers)[second]["data"]["area_mu"] == 20


def test_rows_the_hub_or_the_mapping_refuses_are_quarantined_and_the_rest_go_on(
    land, land_system, clock, client, headers, tmp_path
):
    connector = land()
    run(connector)
    bad_area, bad_use = sorted(active(native(land_system)))[:2]
    good = sorted(active(native(land_system)))[2]
    clock.tick()
    change(land_system, bad_area, 用地面积=-5)
    change(land_system, bad_use, 土地用途="林地")
    change(land_system, good, 用地面积=77)

    result = run(connector)

    assert result.ok
    assert (result.counts.read, result.counts.published, result.counts.rejected) == (3, 1, 2)
    quarantined = {entry["key"]: entry for entry in connector.engine.quarantine.entries()}
    assert set(quarantined) == {bad_area, bad_use}
    assert "area_mu" in quarantined[bad_area]["errors"]
    assert "林地" in quarantined[bad_use]["errors"]["land_use"][0]
    assert quarantined[bad_area]["row"]["用地面积"] == -5
    assert hub_parcels(client, headers)[good]["data"]["area_mu"] == 77
    # the refused rows are not sent again until the source changes them
    assert run(connector).counts.read == 0


def test_a_source_failing_mid_run_keeps_the_state_and_the_next_run_completes(
    land, land_system, client, headers
):
    connector = land()
    requests.post(
        f"{land_system.url}/_sim/faults",
        json={"status": 500, "times": 100, "after_requests": 1},
        timeout=5,
    )

    failed = run(connector)

    assert failed.status == "failed"
    assert "500" in failed.error
    assert len(hub_parcels(client, headers)) <= 10
    saved = json.loads(connector.engine.store.path.read_text())
    requests.delete(f"{land_system.url}/_sim/faults", timeout=5)

    completed = run(connector)

    assert completed.ok
    assert json.loads(connector.engine.store.path.read_text())["mark"] > saved["mark"]
    parcels = hub_parcels(client, headers)
    assert set(parcels) == active(native(land_system))
    assert {p["version"] for p in parcels.values()} == {1}


def test_a_hub_answering_503_is_retried_and_the_run_completes(
    live_hub, land, land_system, client, headers
):
    live_hub.outage.fail_next(2, "/batch")

    result = run(land())

    assert result.ok, result.error
    assert live_hub.outage.refused == 2
    assert set(hub_parcels(client, headers)) == active(native(land_system))


def test_a_hub_down_past_the_retries_fails_the_run_and_loses_nothing(
    live_hub, land, land_system, client, headers
):
    connector = land()
    live_hub.outage.fail_next(1000, "/batch")

    failed = run(connector)

    assert failed.status == "failed"
    assert not connector.engine.store.path.exists()
    live_hub.outage.fail_next(0)
    completed = run(connector)
    assert completed.ok
    assert set(hub_parcels(client, headers)) == active(native(land_system))


def test_a_hub_failing_after_a_confirmed_page_loses_no_row_of_the_next(
    live_hub, land, land_system, client, headers
):
    """The first page is confirmed but not saved yet when the second fails: what is saved
    must not count the second page's rows as sent."""
    connector = land()
    live_hub.outage.fail_next(1000, "/batch", after=1)

    failed = run(connector)

    assert failed.status == "failed"
    live_hub.outage.fail_next(0)
    completed = run(connector)
    assert completed.ok, completed.error
    assert set(hub_parcels(client, headers)) == active(native(land_system))


def test_each_run_is_reported_to_the_hub(land, land_system, client, admin, tmp_path):
    result = run(land())

    runs = client.get(f"{API}/admin/connectors", headers=admin).json
    [land_connector] = [c for c in runs["items"] if c["name"] == "land"]
    latest = land_connector["latest_run"]
    assert latest["run_id"] == result.run_id
    assert latest["status"] == "succeeded"
    assert (latest["read"], latest["published"]) == (30, result.counts.published)
    saved = json.loads(Path(connector_state(tmp_path)).read_text())
    assert latest["cursor"] == saved["mark"]


def test_a_group_of_one_second_paged_by_number_loses_no_row_edited_meanwhile(
    land, clock, client, headers, tmp_path
):
    """25 parcels stamped in one second, read 10 a page: one edited during the paging moves
    to the end and shifts the rest back by one; the row that slid into a page already read
    must still reach the hub."""
    system = ServedApp(land_sim.create_app(parcels=0, projects=PROJECTS, clock=clock))
    try:
        template = {**native_parcel(), "地块编号": ""}
        for n in range(1, 26):
            row = {**template, "地块编号": f"330102-2026-{n:05d}"}
            assert requests.post(f"{system.url}/api/v1/parcels", json=row, timeout=5).ok
        connector = land(source={"url": system.url})
        source = connector.new_source()
        responses = 0

        def edit_after_the_second_page(response: Any, *args: Any, **kwargs: Any) -> None:
            nonlocal responses
            responses += 1
            if responses == 2:
                clock.tick(1)
                change(system, "330102-2026-00003", 用地面积=33)

        source.http.hooks["response"].append(edit_after_the_second_page)

        result = connector.engine.run_once(source)

        assert result.ok, result.error
        parcels = hub_parcels(client, headers)
        assert set(parcels) == {f"330102-2026-{n:05d}" for n in range(1, 26)}
        assert parcels["330102-2026-00003"]["data"]["area_mu"] == 33
    finally:
        system.shutdown()


def native_parcel() -> dict[str, Any]:
    """A valid parcel as the land system writes it (without its id, status and time)."""
    return {
        "项目代码": PROJECT_CODE,
        "用地面积": 12.5,
        "土地用途": "工业用地",
        "供地方式": "出让",
        "供应状态": "待供应",
        "供地日期": None,
        "成交价款": None,
        "土地使用权人": None,
    }


@pytest.fixture
def scripted_land() -> Iterator[tuple[ServedApp, list[dict[str, Any]]]]:
    """A land API answering one scripted page, to feed the connector rows no real system
    should send."""
    rows: list[dict[str, Any]] = []
    app = Flask(__name__)

    @app.get("/api/v1/parcels")
    def parcels() -> Any:
        page = int(request.args.get("page", 1))
        shown = rows if page == 1 else []
        return {"code": 0, "msg": "成功", "data": {"total": len(rows), "records": shown}}

    served = ServedApp(app)
    yield served, rows
    served.shutdown()


def scripted(n: int, updated: str) -> dict[str, Any]:
    return {
        **native_parcel(),
        "地块编号": f"330102-2026-{n:05d}",
        "状态": "正常",
        "更新时间": updated,
    }


def test_a_row_without_a_readable_update_time_is_quarantined(land, scripted_land, client, headers):
    system, rows = scripted_land
    rows += [
        scripted(1, "2026-11-01 08:00:00"),
        scripted(2, "yesterday"),
        scripted(3, "2026-11-01 09:00:00"),
    ]
    connector = land(source={"url": system.url})

    result = run(connector)

    assert result.ok, result.error
    assert (result.counts.read, result.counts.published, result.counts.rejected) == (3, 2, 1)
    [entry] = connector.engine.quarantine.entries()
    assert entry["key"] == "330102-2026-00002"
    assert "yesterday" in entry["detail"]
    assert set(hub_parcels(client, headers)) == {"330102-2026-00001", "330102-2026-00003"}


def test_a_source_not_sorted_by_update_time_stops_the_run(land, scripted_land):
    system, rows = scripted_land
    rows += [scripted(1, "2026-11-01 09:00:00"), scripted(2, "2026-11-01 08:00:00")]
    connector = land(source={"url": system.url})

    result = run(connector)

    assert result.status == "failed"
    assert "not in 更新时间 order" in result.error
    assert not connector.engine.store.path.exists()


@pytest.mark.parametrize(
    "answer",
    [
        {"code": 0, "msg": "成功"},
        {"code": 0, "data": {"records": "many", "total": 1}},
        {"code": 0, "data": {"records": [1, 2], "total": 2}},
        ["not", "an", "object"],
    ],
)
def test_a_page_of_the_wrong_shape_fails_the_run_clearly(land, answer):
    app = Flask(__name__)
    app.get("/api/v1/parcels")(
        lambda: (json.dumps(answer), 200, {"Content-Type": "application/json"})
    )
    with ServedApp(app) as system:
        result = run(land(source={"url": system.url}))

    assert result.status == "failed"
    assert "land system answered" in result.error


class BrokenSource:
    """A source with a bug in it."""

    total = None
    notes: list[str] = []

    def chunks(self, state: Any) -> Iterator[Any]:
        raise ZeroDivisionError("a bug")


def test_an_unforeseen_error_fails_and_reports_the_run_instead_of_stopping_the_connector(
    land, client, admin
):
    connector = land()

    result = connector.engine.run_once(BrokenSource())

    assert (result.status, result.error) == ("failed", "ZeroDivisionError: a bug")
    runs = client.get(f"{API}/admin/connectors", headers=admin).json
    [reported] = [c["latest_run"] for c in runs["items"] if c["name"] == "land"]
    assert (reported["status"], reported["error"]) == ("failed", "ZeroDivisionError: a bug")
    assert run(connector).ok
