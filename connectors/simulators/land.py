"""Simulator of the natural-resources land-supply system: REST, page numbers, Chinese field names.

Parcels are kept in a list sorted by (更新时间, 地块编号), so a page is a bisect on
``modified_since`` plus a slice. A write only marks that order stale and the next read re-sorts:
writes are rare, while a sync pages through up to 100,000 rows.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue

from connectors.simulators import (
    CHINA_TZ,
    SimControl,
    china_now,
    json_object,
    project_codes,
    seeded_moment,
    unknown_fields,
)

FIELDS = (
    "地块编号",
    "项目代码",
    "用地面积",
    "土地用途",
    "供地方式",
    "供应状态",
    "供地日期",
    "成交价款",
    "土地使用权人",
    "状态",
    "更新时间",
)
LAND_USES = (
    "工业用地",
    "商业用地",
    "住宅用地",
    "公共管理与公共服务用地",
    "交通运输用地",
    "混合用地",
)
SUPPLY_METHODS = ("出让", "划拨", "租赁")
SUPPLY_STATUSES = ("计划供应", "征收中", "待供应", "已供应")
HOLDERS = (
    "杭州城市建设投资集团有限公司",
    "浙江智造科技有限公司",
    "杭州滨江置业有限公司",
    "杭州市交通投资集团有限公司",
    "西湖区城市更新发展有限公司",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ACTIVE, WITHDRAWN = "正常", "已撤回"

Row = dict[str, Any]


class BadParameter(ValueError):
    """A request parameter the land system refuses (HTTP 400, code 40001)."""


def _order_key(row: Row) -> tuple[str, str]:
    return row["更新时间"], row["地块编号"]


def _parcel(rng: random.Random, project: str, serial_of: dict[tuple[str, int], int]) -> Row:
    updated = seeded_moment(rng)
    division = project[5:11] if project[5:11].isdigit() else "330100"
    serial = serial_of[division, updated.year] = serial_of.get((division, updated.year), 0) + 1
    area_cents = rng.randrange(200, 80_000)
    status = SUPPLY_STATUSES[min(int(rng.random() * 5), 3)]  # 已供应 twice as likely as others
    draw = rng.random()
    method = "出让" if draw < 0.6 else "划拨" if draw < 0.9 else "租赁"
    supplied = status == "已供应"
    supplied_on = (updated - timedelta(days=rng.randrange(180))).date() if supplied else None
    price = area_cents * rng.randrange(20, 600) / 100 if supplied and method == "出让" else None
    return {
        "地块编号": f"{division}-{updated.year}-{serial:05d}",
        "项目代码": project,
        "用地面积": area_cents / 100,
        "土地用途": rng.choice(LAND_USES),
        "供地方式": method,
        "供应状态": status,
        "供地日期": supplied_on.isoformat() if supplied_on else None,
        "成交价款": round(price, 2) if price is not None else None,
        "土地使用权人": rng.choice(HOLDERS) if supplied else None,
        "状态": WITHDRAWN if rng.random() < 0.02 else ACTIVE,
        "更新时间": updated.strftime(TIME_FORMAT),
    }


def generate_parcels(seed: int, count: int, projects: list[str]) -> list[Row]:
    """``count`` parcels determined by ``seed``, assigned to ``projects`` round-robin."""
    rng = random.Random(seed)
    serial_of: dict[tuple[str, int], int] = {}
    return [_parcel(rng, projects[i % len(projects)], serial_of) for i in range(count)]


class ParcelStore:
    """The parcels behind one lock, with the sorted order that pages are cut from."""

    def __init__(self, rows: list[Row], clock: Callable[[], datetime]) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._by_id = {row["地块编号"]: row for row in rows}
        self._ordered = sorted(self._by_id.values(), key=_order_key)
        self._stale = False

    def page(self, number: int, size: int, since: str | None) -> tuple[int, list[Row]]:
        """The total matching ``since`` (inclusive) and the rows of page ``number``."""
        with self._lock:
            if self._stale:
                # timsort is linear on a list that is sorted but for a few moved rows
                self._ordered.sort(key=_order_key)
                self._stale = False
            start = bisect_left(self._ordered, (since, ""), key=_order_key) if since else 0
            offset = start + (number - 1) * size
            return len(self._ordered) - start, [
                dict(r) for r in self._ordered[offset : offset + size]
            ]

    def get(self, parcel_id: str) -> Row | None:
        """A copy of one parcel, or None."""
        with self._lock:
            row = self._by_id.get(parcel_id)
            return dict(row) if row else None

    def add(self, row: Row) -> Row | None:
        """Store a new parcel stamped now; None if its id is taken."""
        with self._lock:
            if row["地块编号"] in self._by_id:
                return None
            row = {**row, "状态": ACTIVE, "更新时间": self._now()}
            self._by_id[row["地块编号"]] = row
            self._ordered.append(row)
            self._stale = True
            return dict(row)

    def change(self, parcel_id: str, changes: Row) -> Row | None:
        """Apply ``changes`` to a parcel and stamp it now; None if there is no such parcel."""
        with self._lock:
            row = self._by_id.get(parcel_id)
            if row is None:
                return None
            row.update(changes, 更新时间=self._now())
            self._stale = True
            return dict(row)

    def _now(self) -> str:
        now = self._clock()
        return (now.astimezone(CHINA_TZ) if now.tzinfo else now).strftime(TIME_FORMAT)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise BadParameter(f"参数 {name} 须为 {low} 到 {high} 之间的整数")
    return int(raw)


def _since_arg() -> str | None:
    raw = request.args.get("modified_since")
    if not raw:
        return None
    try:
        valid = datetime.strptime(raw, TIME_FORMAT).strftime(TIME_FORMAT) == raw
    except ValueError:
        valid = False
    if not valid:
        raise BadParameter("参数 modified_since 须为 YYYY-MM-DD HH:MM:SS 格式")
    return raw


def _body(allowed: tuple[str, ...]) -> Row:
    body = json_object()
    if body is None:
        raise BadParameter("请求体须为 JSON 对象")
    unknown = unknown_fields(body, allowed)
    if unknown:
        raise BadParameter(f"未知字段: {', '.join(unknown)}")
    return body


def _ok(data: Any, status: int = 200) -> ResponseReturnValue:
    return {"code": 0, "msg": "成功", "data": data}, status


NOT_FOUND = {"code": 40401, "msg": "地块不存在"}


def create_app(
    seed: int = 1,
    parcels: int = 50,
    projects: list[str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    """The land-supply system with ``parcels`` seeded parcels; writes are stamped by ``clock``."""
    store = ParcelStore(
        generate_parcels(seed, parcels, project_codes(projects)), clock or china_now
    )
    app = Flask(__name__)
    SimControl(("/api/",)).install(app)

    @app.errorhandler(BadParameter)
    def bad_parameter(error: BadParameter) -> ResponseReturnValue:
        """Answer a refused parameter the way the land system does."""
        return {"code": 40001, "msg": str(error)}, 400

    @app.get("/api/v1/parcels")
    def list_parcels() -> ResponseReturnValue:
        """One page of parcels ordered by (更新时间, 地块编号), from ``modified_since`` on."""
        number, size = _int_arg("page", 1, 1, 10**9), _int_arg("page_size", 100, 1, 1000)
        total, records = store.page(number, size, _since_arg())
        return _ok({"total": total, "page": number, "page_size": size, "records": records})

    @app.get("/api/v1/parcels/<parcel_id>")
    def get_parcel(parcel_id: str) -> ResponseReturnValue:
        """One parcel."""
        row = store.get(parcel_id)
        return _ok(row) if row else (NOT_FOUND, 404)

    @app.post("/api/v1/parcels")
    def add_parcel() -> ResponseReturnValue:
        """Register a parcel; any values are stored, as a real source holds bad rows too."""
        body = _body(FIELDS[:-2])
        if not isinstance(body.get("地块编号"), str) or not body["地块编号"]:
            raise BadParameter("缺少地块编号")
        row = store.add({name: body.get(name) for name in FIELDS[:-2]})
        return _ok(row, 201) if row else ({"code": 40901, "msg": "地块编号已存在"}, 409)

    @app.put("/api/v1/parcels/<parcel_id>")
    def change_parcel(parcel_id: str) -> ResponseReturnValue:
        """Change some fields of a parcel."""
        body = _body(FIELDS[:-1])
        if body.get("地块编号", parcel_id) != parcel_id:
            raise BadParameter("地块编号不可修改")
        row = store.change(parcel_id, body)
        return _ok(row) if row else (NOT_FOUND, 404)

    @app.post("/api/v1/parcels/<parcel_id>/withdraw")
    def withdraw_parcel(parcel_id: str) -> ResponseReturnValue:
        """Withdraw a parcel: it stays listed, marked 已撤回."""
        row = store.change(parcel_id, {"状态": WITHDRAWN})
        return _ok(row) if row else (NOT_FOUND, 404)

    return app
