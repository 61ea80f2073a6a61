"""The simulated department systems, through their native HTTP APIs (connectors.simulators)."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from connectors.simulators import CHINA_TZ, DEMO_PROJECTS, ServedApp, finance, land, permitting

SECRET = "sim-secret"
PARCELS = "/api/v1/parcels"
EXPORT_NAME = re.compile(r"^资金安排_[0-9]{8}_[0-9]{6}_[0-9]{4}\.(csv|xlsx)\Z")


def fixed_clock(text: str) -> Callable[[], datetime]:
    """A clock that always reads ``text`` (China time)."""
    moment = datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)
    return lambda: moment


def parcel_pages(client: FlaskClient, size: int, since: str | None = None) -> list[dict[str, Any]]:
    """Every parcel, read page by page."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        query: dict[str, Any] = {"page": page, "page_size": size}
        if since:
            query["modified_since"] = since
        data = client.get(PARCELS, query_string=query).json["data"]
        rows += data["records"]
        if page * size >= data["total"]:
            return rows
        page += 1


def token_headers(client: FlaskClient) -> dict[str, str]:
    """Headers carrying a fresh token of the approval system."""
    form = {"grant_type": "client_credentials", "client_id": "hub-connector"}
    token = client.post("/oauth/token", data=form | {"client_secret": SECRET}).json
    return {"Authorization": f"Bearer {token['access_token']}"}


def permit_client(**kwargs: Any) -> tuple[FlaskClient, dict[str, str]]:
    """A client of the approval system and the headers carrying a fresh token."""
    client = permitting.create_app(client_secret=SECRET, **kwargs).test_client()
    return client, token_headers(client)


def approval_pages(
    client: FlaskClient, headers: dict[str, str], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str]:
    """Every approval after ``cursor``, and the cursor to resume from."""
    items: list[dict[str, Any]] = []
    while True:
        query: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v2/approvals", query_string=query, headers=headers).json
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return items, body["next_cursor"]


# land


def test_land_same_seed_gives_same_parcels() -> None:
    first = parcel_pages(land.create_app(seed=7).test_client(), 1000)
    assert first == parcel_pages(land.create_app(seed=7).test_client(), 1000)
    assert first != parcel_pages(land.create_app(seed=8).test_client(), 1000)


def test_land_seeded_parcels_are_valid_for_the_hub() -> None:
    projects = ["2601-330106-01-01-AAAAAA", "2602-330108-02-02-BBBBBB", "2603-330109-01-03-CCCCCC"]
    rows = parcel_pages(land.create_app(parcels=300, projects=projects).test_client(), 1000)
    assert len(rows) == 300
    assert {row["项目代码"] for row in rows} == set(projects)
    for row in rows:
        assert set(row) == set(land.FIELDS)  # every key present, null where empty
        assert re.match(r"^[0-9]{6}-20[0-9]{2}-[0-9]{5}\Z", row["地块编号"])
        assert row["用地面积"] > 0
        assert round(row["用地面积"], 2) == row["用地面积"]
        assert row["土地用途"] in land.LAND_USES
        assert row["供地方式"] in land.SUPPLY_METHODS
        assert row["状态"] in ("正常", "已撤回")
        if row["供应状态"] == "已供应":
            assert row["供地日期"]
            assert row["供地日期"] <= row["更新时间"][:10]
        if row["成交价款"] is not None:
            assert row["供地方式"] == "出让"
        assert "2025-01-01 00:00:00" <= row["更新时间"] <= "2026-06-30 23:59:59"


def test_land_pages_are_ordered_and_modified_since_is_inclusive() -> None:
    client = land.create_app(parcels=120).test_client()
    rows = parcel_pages(client, 7)
    assert len(rows) == 120
    assert len({row["地块编号"] for row in rows}) == 120
    keys = [(row["更新时间"], row["地块编号"]) for row in rows]
    assert keys == sorted(keys)

    since = rows[40]["更新时间"]
    newer = parcel_pages(client, 9, since=since)
    assert newer == [row for row in rows if row["更新时间"] >= since]
    assert newer[0]["更新时间"] == since


def test_land_answers_a_page_beyond_the_end_with_no_records() -> None:
    data = land.create_app(parcels=5).test_client().get(f"{PARCELS}?page=3&page_size=4").json
    assert data == {
        "code": 0,
        "msg": "成功",
        "data": {"total": 5, "page": 3, "page_size": 4, "records": []},
    }


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=x", "page_size=0", "page_size=1001", "modified_since=2026-01-01",
     "modified_since=2026-1-1 00:00:00", "modified_since=2026-02-30 00:00:00"],
)  # fmt: skip
def test_land_refuses_bad_parameters_with_40001(query: str) -> None:
    response = land.create_app(parcels=5).test_client().get(f"{PARCELS}?{query}")
    assert response.status_code == 400
    assert response.json["code"] == 40001


def test_land_writes_bump_update_time_and_move_the_parcel_last() -> None:
    client = land.create_app(parcels=20, clock=fixed_clock("2026-11-01 08:00:00.7")).test_client()
    first = parcel_pages(client, 100)[0]
    url = f"{PARCELS}/{first['地块编号']}"

    changed = client.put(url, json={"用地面积": -3.5}).json  # a bad value is stored as is
    assert changed["data"]["用地面积"] == -3.5
    assert changed["data"]["更新时间"] == "2026-11-01 08:00:00"
    rows = parcel_pages(client, 100)
    assert rows[-1]["地块编号"] == first["地块编号"]
    assert len(rows) == 20

    withdrawn = client.post(f"{url}/withdraw").json
    assert withdrawn["data"]["状态"] == "已撤回"
    since = parcel_pages(client, 100, since="2026-11-01 08:00:00")
    assert [row["地块编号"] for row in since] == [first["地块编号"]]


def test_land_registers_parcels_and_answers_unknown_ones_with_40401() -> None:
    client = land.create_app(parcels=3, clock=fixed_clock("2026-11-02 09:00:00")).test_client()
    row = {"地块编号": "330102-2026-90001", "项目代码": DEMO_PROJECTS[0], "用地面积": 12.5}
    created = client.post(PARCELS, json=row)
    assert created.status_code == 201
    assert created.json["data"] | row == created.json["data"]
    assert created.json["data"]["状态"] == "正常"
    assert created.json["data"]["供地日期"] is None
    assert client.post(PARCELS, json=row).status_code == 409
    assert client.post(PARCELS, json={"面积": 1}).json["code"] == 40001

    missing = client.get(f"{PARCELS}/330102-2026-99999")
    assert missing.status_code == 404
    assert missing.json["code"] == 40401
    assert client.put(f"{PARCELS}/nope", json={"用地面积": 1}).status_code == 404


def test_land_holds_100000_parcels_in_order() -> None:
    client = land.create_app(parcels=100_000).test_client()
    rows = parcel_pages(client, 1000)
    assert len(rows) == 100_000
    assert len({row["地块编号"] for row in rows}) == 100_000
    keys = [(row["更新时间"], row["地块编号"]) for row in rows]
    assert keys == sorted(keys)
    since = rows[60_000]["更新时间"]
    newer = client.get(PARCELS, query_string={"page_size": 1000, "modified_since": since}).json
    assert newer["data"]["total"] == sum(1 for key in keys if key[0] >= since)
    assert newer["data"]["records"][0]["更新时间"] == since


# finance


def export(client: FlaskClient, fmt: str = "csv", full: bool = False) -> dict[str, Any]:
    """Trigger an export and return its answer."""
    response = client.post("/api/exports", json={"format": fmt, "full": full})
    assert response.status_code == 201
    return response.json


def read_csv(path: Path) -> list[list[str]]:
    """The rows of a GBK export, header included."""
    with path.open(encoding="gbk", newline="") as file:
        return list(csv.reader(file))


def test_finance_same_seed_gives_same_valid_ledger(tmp_path: Path) -> None:
    def ledger(seed: int) -> Any:
        return finance.create_app(tmp_path, seed=seed).test_client().get("/api/lines").json

    assert ledger(3) == ledger(3) != ledger(4)
    lines = ledger(3)["items"]
    assert len(lines) == 30
    assert {line["项目代码"] for line in lines} == set(DEMO_PROJECTS)
    for line in lines:
        assert line["资金来源"] in finance.SOURCES
        assert line["年度"] in (2025, 2026)
        assert (
            line["已拨付金额（元）"] is None or line["已拨付金额（元）"] <= line["安排金额（元）"]
        )


def test_finance_first_csv_export_holds_every_line_then_only_changes(tmp_path: Path) -> None:
    client = finance.create_app(tmp_path, lines=5).test_client()
    lines = client.get("/api/lines").json["items"]
    first = export(client)
    assert first["rows"] == 5
    assert EXPORT_NAME.match(first["file"])
    rows = read_csv(tmp_path / first["file"])
    assert rows[0] == list(finance.COLUMNS)
    assert [row[0] for row in rows[1:]] == [line["资金编号"] for line in lines]
    assert (tmp_path / first["file"]).read_bytes().count(b"\r\n") == 6

    key = lines[2]["资金编号"]
    client.put(f"/api/lines/{key}", json={"安排金额（元）": 1200000000, "已拨付金额（元）": None})
    client.post(f"/api/lines/{lines[4]['资金编号']}/cancel")
    second = export(client)
    assert second["rows"] == 2
    assert second["file"] > first["file"]
    changed = read_csv(tmp_path / second["file"])[1:]
    assert changed[0][0] == key
    assert changed[0][4:6] == ["1,200,000,000.00", ""]
    assert changed[1][8] == "已撤销"
    assert export(client)["rows"] == 0
    assert export(client, full=True)["rows"] == 5


def test_finance_xlsx_export_is_one_sheet_of_text_amounts(tmp_path: Path) -> None:
    client = finance.create_app(tmp_path, lines=4).test_client()
    client.post("/api/lines", json={"资金编号": "ZJ-2026-99999", "安排金额（元）": 1234.5})
    answer = export(client, "xlsx")
    workbook = openpyxl.load_workbook(tmp_path / answer["file"])
    assert workbook.sheetnames == ["资金安排"]
    rows = list(workbook["资金安排"].iter_rows(values_only=True))
    assert rows[0] == finance.COLUMNS
    assert len(rows) == 6 == answer["rows"] + 1
    assert rows[-1][0] == "ZJ-2026-99999"
    assert rows[-1][4] == "1,234.50"
    assert rows[-1][8] == "有效"


def test_finance_exports_are_renamed_into_place_from_a_dot_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(source: Any, target: Any) -> None:
        moves.append((Path(source).name, Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    client = finance.create_app(tmp_path, lines=2).test_client()
    names = [export(client, fmt)["file"] for fmt in ("csv", "xlsx", "csv")]
    assert [move[1] for move in moves] == names
    assert all(source.startswith(".") and source != target for source, target in moves)
    assert [name.split("_")[-1].split(".")[0] for name in names] == ["0001", "0002", "0003"]
    assert sorted(os.listdir(tmp_path)) == sorted(names)  # no temporary file left


def test_write_export_works_without_http_and_continues_the_sequence(tmp_path: Path) -> None:
    now = datetime(2026, 3, 4, 5, 6, 7)
    lines = finance.generate_lines(1, 3, list(DEMO_PROJECTS))
    first = finance.write_export(tmp_path, lines, now=now)
    second = finance.write_export(tmp_path, lines[:1], "xlsx", now=now)
    assert (first.name, second.name) == (
        "资金安排_20260304_050607_0001.csv",
        "资金安排_20260304_050607_0002.xlsx",
    )
    assert len(read_csv(first)) == 4
    with pytest.raises(ValueError):
        finance.write_export(tmp_path, lines, "pdf")


def test_finance_refuses_unknown_fields_and_answers_unknown_lines_with_404(tmp_path: Path) -> None:
    client = finance.create_app(tmp_path, lines=1).test_client()
    assert client.post("/api/lines", json={"编号": "x"}).status_code == 400
    assert client.get("/api/lines/ZJ-1999-00001").status_code == 404
    assert client.post("/api/exports", json={"format": "pdf"}).status_code == 400


# permitting


def test_permitting_requires_a_valid_token() -> None:
    client = permitting.create_app(client_secret=SECRET).test_client()
    assert client.get("/v2/approvals").json == {"error": "invalid_token"}
    wrong = {"grant_type": "client_credentials", "client_id": "hub-connector", "client_secret": "x"}
    refused = client.post("/oauth/token", data=wrong)
    assert refused.status_code == 401
    assert refused.json == {"error": "invalid_client"}
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert client.get("/v2/approvals", headers=bad_token).status_code == 401

    client, headers = permit_client()
    assert client.get("/v2/approvals", headers=headers).status_code == 200


def test_permitting_tokens_expire() -> None:
    client, headers = permit_client(token_ttl=0)
    response = client.get("/v2/approvals", headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "invalid_token"}


def test_permitting_same_seed_gives_same_approvals_valid_for_the_hub() -> None:
    items, _ = approval_pages(*permit_client(seed=5, approvals=60), None, 500)
    assert items == approval_pages(*permit_client(seed=5, approvals=60), None, 500)[0]
    assert items != approval_pages(*permit_client(seed=6, approvals=60), None, 500)[0]
    for item in items:
        assert item["itemCode"] in permitting.ITEM_CODES
        assert item["state"] in permitting.STATES
        if item["state"] in ("SUBMITTED", "ACCEPTED", "APPROVED"):
            assert item["submitTime"].endswith("+08:00")
        if item["state"] == "APPROVED":
            assert item["certificateNo"]
            assert item["approveTime"] >= item["submitTime"]


def test_permitting_cursor_walks_every_approval_once_and_resumes() -> None:
    client, headers = permit_client(approvals=23)
    items, cursor = approval_pages(client, headers, None, 5)
    assert [item["revision"] for item in items] == list(range(1, 24))

    again = client.get("/v2/approvals", query_string={"cursor": cursor}, headers=headers).json
    assert again == {"items": [], "next_cursor": cursor, "has_more": False}

    target = items[3]["approvalId"]
    patched = client.patch(f"/v2/approvals/{target}", json={"state": "WITHDRAWN"}, headers=headers)
    assert patched.json["revision"] == 24
    assert (
        client.delete(f"/v2/approvals/{items[0]['approvalId']}", headers=headers).status_code == 204
    )
    changed, _ = approval_pages(client, headers, cursor, 100)
    assert [(item["approvalId"], item["revision"]) for item in changed] == [
        (target, 24),
        (items[0]["approvalId"], 25),
    ]
    assert changed[1]["deleted"] is True


@pytest.mark.parametrize("cursor", ["garbage!", "cmV2Oi0x", "cmV2OjI="])
def test_permitting_refuses_a_foreign_cursor(cursor: str) -> None:
    client, headers = permit_client()
    response = client.get("/v2/approvals", query_string={"cursor": cursor}, headers=headers)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_cursor"}


def test_permitting_registers_new_approvals_with_the_next_revision() -> None:
    client, headers = permit_client(approvals=2)
    created = client.post(
        "/v2/approvals", json={"projectCode": "x", "state": "ODD"}, headers=headers
    )
    assert created.status_code == 201
    assert created.json["revision"] == 3
    assert created.json["deleted"] is False
    url = f"/v2/approvals/{created.json['approvalId']}"
    assert client.get(url, headers=headers).json == created.json
    assert client.get("/v2/approvals/AP-1999-000001", headers=headers).status_code == 404


def test_permitting_project_push_keeps_the_newest_source_version() -> None:
    client, headers = permit_client()
    code = DEMO_PROJECTS[0]
    url = f"/v2/projects/{code}"
    push = {"projectCode": code, "projectName": "Metro", "totalInvestment": 1.5, "sourceVersion": 2}
    assert client.put(url, json=push, headers=headers).status_code == 201
    newer = push | {"projectName": "Metro Line 3", "sourceVersion": 3}
    assert client.put(url, json=newer, headers=headers).status_code == 200
    replayed = client.put(url, json=push, headers=headers)
    assert replayed.status_code == 200
    assert replayed.json["projectName"] == "Metro Line 3"

    assert client.put(url, json=push | {"projectName": ""}, headers=headers).status_code == 400
    mismatch = push | {"projectCode": DEMO_PROJECTS[1]}
    assert client.put(url, json=mismatch, headers=headers).status_code == 400
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).json["deleted"] is True
    assert [
        p["projectCode"] for p in client.get("/v2/projects", headers=headers).json["items"]
    ] == [code]
    assert client.get("/v2/projects/nope", headers=headers).json == {"error": "not_found"}
    assert client.get("/_sim/stats").json["project_puts"] == 5


# shared: fault injection and serving


def land_app(tmp_path: Path) -> tuple[Flask, str, dict[str, str]]:
    """The land simulator, a data URL and no headers."""
    return land.create_app(parcels=3), PARCELS, {}


def finance_app(tmp_path: Path) -> tuple[Flask, str, dict[str, str]]:
    """The finance simulator, a data URL and no headers."""
    return finance.create_app(tmp_path, lines=3), "/api/lines", {}


def permitting_app(tmp_path: Path) -> tuple[Flask, str, dict[str, str]]:
    """The approval simulator, a data URL and the headers with a token."""
    app = permitting.create_app(client_secret=SECRET, approvals=3)
    return app, "/v2/approvals", token_headers(app.test_client())


@pytest.mark.parametrize("make", [land_app, finance_app, permitting_app])
def test_injected_faults_answer_after_some_requests_then_clear(
    make: Callable[[Path], tuple[Flask, str, dict[str, str]]], tmp_path: Path
) -> None:
    app, url, headers = make(tmp_path)
    client = app.test_client()
    fault = {"status": 503, "times": 2, "after_requests": 1}
    assert client.post("/_sim/faults", json=fault).status_code == 201
    statuses = [client.get(url, headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert client.get("/_sim/stats").json["requests"] == 4

    client.post("/_sim/faults", json={"status": 500, "times": 5})
    failed = client.get(url, headers=headers)
    assert failed.status_code == 500
    assert failed.json == {"error": "injected"}
    assert client.delete("/_sim/faults").status_code == 204
    assert client.get(url, headers=headers).status_code == 200
    assert client.post("/_sim/faults", json={"status": 200}).status_code == 400


def test_a_simulator_serves_real_http_in_a_thread() -> None:
    with ServedApp(land.create_app(parcels=10)) as served:
        query = {"page_size": 4, "modified_since": "2025-01-01 00:00:00"}
        answer = requests.get(f"{served.url}{PARCELS}", params=query, timeout=5).json()
        assert answer["data"]["total"] == 10
        assert len(answer["data"]["records"]) == 4
        assert requests.get(f"{served.url}/_sim/stats", timeout=5).json() == {"requests": 1}
