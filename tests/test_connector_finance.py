"""The finance connector: GBK CSV and XLSX exports dropped in a folder, into the hub."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.runner import Connector
from connectors.simulators import finance as finance_sim
from schemas.funding import SOURCES as FUNDING_SOURCES
from tests.factories import PROJECTS
from tests.live import build_connector, shipped_settings

API = "/api/v1"


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """The folder the finance system exports into."""
    return tmp_path / "drop"


@pytest.fixture
def ledger(drop: Path) -> FlaskClient:
    """The finance system's HTTP routes, to change lines and trigger exports."""
    return finance_sim.create_app(drop, seed=5, lines=12, projects=PROJECTS).test_client()


@pytest.fixture
def finance(
    live_hub: Any,
    drop: Path,
    make_key: Callable[..., str],
    projects: list[str],
    tmp_path: Path,
) -> Callable[..., Connector]:
    key = make_key("finance", ["records:read", "records:write"])

    def build(**source: Any) -> Connector:
        raw = shipped_settings(
            "finance",
            hub={"url": live_hub.url},
            source={"folder": str(drop), "settle_seconds": 0, **source},
            state_dir=str(tmp_path / "state"),
        )
        return build_connector(raw, {"HUB_FINANCE_KEY": key})

    return build


def export(ledger: FlaskClient, fmt: str = "csv", full: bool = False) -> str:
    response = ledger.post("/api/exports", json={"format": fmt, "full": full})
    assert response.status_code == 201, response.json
    return str(response.json["file"])


def lines(ledger: FlaskClient) -> dict[str, dict[str, Any]]:
    return {line["资金编号"]: line for line in ledger.get("/api/lines").json["items"]}


def live(lines_by_id: dict[str, dict[str, Any]]) -> set[str]:
    return {key for key, line in lines_by_id.items() if line["状态"] == "有效"}


def hub_funding(client: Any, headers: Any) -> dict[str, dict[str, Any]]:
    response = client.get(f"{API}/records/funding?limit=200", headers=headers("finance"))
    return {item["key"]: item for item in response.json["items"]}


def run(connector: Connector) -> Any:
    [result] = connector.run_once()
    return result


def test_a_gbk_csv_export_is_published_in_units_of_10000_cny(
    finance, ledger, drop, client, headers
):
    name = export(ledger)
    assert (drop / name).read_bytes().decode("gbk").startswith("资金编号")

    result = run(finance())

    assert result.ok, result.error
    funding = hub_funding(client, headers)
    assert set(funding) == live(lines(ledger))
    line = next(line for key, line in lines(ledger).items() if key in funding)
    data = funding[line["资金编号"]]["data"]
    assert Decimal(str(data["allocated"])) == Decimal(str(line["安排金额（元）"])) / 10000
    native_sources = dict(zip(finance_sim.SOURCES, FUNDING_SOURCES, strict=True))
    assert data["source"] == native_sources[line["资金来源"]]
    assert data["fiscal_year"] == line["年度"]
    assert (drop / "processed" / name).exists()
    assert not (drop / name).exists()
    assert result.counts.cursor == name


def test_an_xlsx_export_of_changes_updates_and_tombstones(finance, ledger, client, headers):
    connector = finance()
    export(ledger)
    run(connector)
    changed, cancelled = sorted(live(lines(ledger)))[:2]
    ledger.put(
        f"/api/lines/{changed}", json={"安排金额（元）": 1234567.89, "已拨付金额（元）": 1000}
    )
    ledger.post(f"/api/lines/{cancelled}/cancel")
    export(ledger, "xlsx")

    result = run(connector)

    assert result.ok, result.error
    assert (result.counts.read, result.counts.published, result.counts.deleted) == (2, 1, 1)
    funding = hub_funding(client, headers)
    assert Decimal(str(funding[changed]["data"]["allocated"])) == Decimal("123.456789")
    assert cancelled not in funding


def test_a_file_dropped_again_is_not_processed_twice(finance, ledger, drop, client, headers):
    connector = finance()
    name = export(ledger)
    run(connector)
    shutil.copy(drop / "processed" / name, drop / name)
    events = client.get(f"{API}/events?limit=500", headers=headers("finance")).json["events"]

    again = run(connector)

    assert (again.counts.read, again.counts.published) == (0, 0)
    assert any("already processed" in note for note in again.notes)
    assert not (drop / name).exists()
    after = client.get(f"{API}/events?limit=500", headers=headers("finance")).json["events"]
    assert len(after) == len(events)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("资金安排_broken.xlsx", b"PK\x03\x04 not really a workbook", "not an XLSX workbook"),
        ("资金安排_latin.csv", "资金编号,项目代码\n".encode("utf-16"), "not gb18030 text"),
        ("资金安排_short.csv", "资金编号,项目代码\nZJ-1,X\n".encode("gbk"), "missing columns"),
        ("资金安排_empty.csv", b"", "empty"),
    ],
)
def test_an_unreadable_file_is_set_aside_with_a_report(
    finance, ledger, drop, client, headers, name, content, reason
):
    drop.mkdir(exist_ok=True)
    (drop / name).write_bytes(content)
    good = export(ledger)

    result = run(finance())

    assert result.ok
    report = json.loads((drop / "rejected" / f"{name}.report.json").read_text())
    assert reason in report["reason"]
    assert (drop / "rejected" / name).read_bytes() == content
    assert any(name in note for note in result.notes)
    assert (drop / "processed" / good).exists()
    assert set(hub_funding(client, headers)) == live(lines(ledger))


def test_a_malformed_row_is_quarantined_and_the_file_still_processed(
    finance, ledger, drop, client, headers
):
    bad, over = sorted(live(lines(ledger)))[:2]
    ledger.put(f"/api/lines/{bad}", json={"安排金额（元）": "about a million"})
    ledger.put(f"/api/lines/{over}", json={"已拨付金额（元）": 10**12})
    name = export(ledger)

    result = run(finance())

    assert result.ok
    assert result.counts.rejected == 2
    quarantined = {e["key"]: e for e in finance().engine.quarantine.entries()}
    assert "allocated" in quarantined[bad]["errors"]
    assert "disbursed" in quarantined[over]["errors"]
    assert set(hub_funding(client, headers)) == live(lines(ledger)) - {bad, over}
    assert (drop / "processed" / name).exists()


def test_a_hub_failing_mid_file_leaves_the_file_for_the_next_run(
    live_hub, finance, ledger, drop, client, headers
):
    connector = finance(chunk_rows=4)
    name = export(ledger)
    live_hub.outage.fail_next(1000, "/batch", after=2)

    failed = run(connector)

    assert failed.status == "failed"
    assert failed.counts.read == 12  # two chunks of four published, the third refused
    assert (drop / name).exists()
    live_hub.outage.fail_next(0)
    completed = run(connector)
    assert completed.ok
    assert (drop / "processed" / name).exists()
    funding = hub_funding(client, headers)
    assert set(funding) == live(lines(ledger))
    assert {item["version"] for item in funding.values()} == {1}


def test_a_file_still_being_written_waits_for_the_next_run(finance, ledger, drop, client, headers):
    name = export(ledger)

    result = run(finance(settle_seconds=60))

    assert (result.counts.read, result.counts.published) == (0, 0)
    assert any(name in note and "next run" in note for note in result.notes)
    assert (drop / name).exists()


def test_a_workbook_damaged_inside_is_set_aside(finance, ledger, drop):
    name = export(ledger, "xlsx")
    damaged = drop / "资金安排_damaged.xlsx"
    with zipfile.ZipFile(drop / name) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                content = content[: len(content) // 2]  # cut off mid-element
            target.writestr(item, content)
    (drop / name).unlink()

    result = run(finance())

    assert result.ok, result.error
    report = json.loads((drop / "rejected" / f"{damaged.name}.report.json").read_text())
    assert "XLSX" in report["reason"]
