"""Simulator of the finance budget & treasury system, which only exports files.

The ledger of funding lines lives in memory; its HTTP routes exist so tests and the demo can
change it and trigger exports. Each export holds the lines changed since the previous one and
is written under a temporary "." name, then renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import os
import random
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from flask import Flask
from flask.typing import ResponseReturnValue
from openpyxl import Workbook

from connectors.simulators import (
    SimControl,
    china_now,
    json_object,
    project_codes,
    unknown_fields,
)

COLUMNS = (
    "资金编号",
    "项目代码",
    "资金来源",
    "年度",
    "安排金额（元）",
    "已拨付金额（元）",
    "批复文号",
    "收款账号",
    "状态",
)
AMOUNT_COLUMNS = frozenset({"安排金额（元）", "已拨付金额（元）"})
SOURCES = ("中央预算内投资", "专项债券", "地方财政资金", "银行贷款", "社会资本", "其他")
ACTIVE, CANCELLED = "有效", "已撤销"
SHEET_TITLE = "资金安排"
FORMATS = ("csv", "xlsx")
EXPORT_NAME = re.compile(r"^资金安排_[0-9]{8}_[0-9]{6}_(?P<seq>[0-9]{4,})\.(csv|xlsx)\Z")

Line = dict[str, Any]


def generate_lines(seed: int, count: int, projects: list[str]) -> list[Line]:
    """``count`` funding lines determined by ``seed``, assigned to ``projects`` round-robin."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        year = rng.choice((2025, 2026))
        allocated = rng.randrange(1_000, 2_000_000) * 1000
        disbursed = None if rng.random() < 0.25 else round(allocated * rng.random(), 2)
        lines.append(
            {
                "资金编号": f"ZJ-{year}-{index + 1:05d}",
                "项目代码": projects[index % len(projects)],
                "资金来源": rng.choice(SOURCES),
                "年度": year,
                "安排金额（元）": allocated,
                "已拨付金额（元）": disbursed,
                "批复文号": f"杭财预〔{year}〕{rng.randrange(1, 400)}号",
                "收款账号": f"3301{rng.randrange(10**15):015d}",
                "状态": CANCELLED if rng.random() < 0.05 else ACTIVE,
            }
        )
    return lines


def yuan_text(value: Any) -> str:
    """An amount as finance offices write it, "1,200,000,000.00"; non-numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:  # inf and nan: a bad row the connector must quarantine
        return str(value)


def _cells(line: Mapping[str, Any]) -> list[Any]:
    return [_cell(name, line.get(name)) for name in COLUMNS]


def _cell(name: str, value: Any) -> Any:
    if name in AMOUNT_COLUMNS:
        return yuan_text(value)
    if value is None:
        return ""
    # keep numbers as numbers in XLSX, as a spreadsheet would; anything odd becomes text
    return value if isinstance(value, (str, int, float)) else str(value)


def last_export_seq(folder: Path) -> int:
    """The highest sequence number among the exports in ``folder``, 0 if there are none."""
    seqs = (EXPORT_NAME.match(path.name) for path in folder.iterdir())
    return max((int(match["seq"]) for match in seqs if match), default=0)


def write_export(
    folder: Path,
    lines: Iterable[Mapping[str, Any]],
    fmt: str = "csv",
    *,
    seq: int | None = None,
    now: datetime | None = None,
) -> Path:
    """Write ``lines`` as one export file in ``folder``, atomically, and return its path."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; expected one of {FORMATS}.")
    seq = last_export_seq(folder) + 1 if seq is None else seq
    name = f"资金安排_{now or china_now():%Y%m%d_%H%M%S}_{seq:04d}.{fmt}"
    temp = folder / f".{name}.tmp"
    try:
        if fmt == "csv":
            # Legacy GBK: a character it lacks becomes "?", as in the real system's exports.
            with temp.open("w", encoding="gbk", errors="replace", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(COLUMNS)
                writer.writerows(_cells(line) for line in lines)
        else:
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet(SHEET_TITLE)
            sheet.append(COLUMNS)
            for line in lines:
                sheet.append(_cells(line))
            workbook.save(temp)
        os.replace(temp, folder / name)
    finally:
        temp.unlink(missing_ok=True)
    return folder / name


class Ledger:
    """The funding lines behind one lock, and which of them changed since the last export."""

    def __init__(self, folder: Path, lines: list[Line]) -> None:
        self._lock = threading.Lock()
        self._folder = folder
        self._lines = {line["资金编号"]: line for line in lines}
        self._changed: set[str] | None = None  # None: never exported, so every line is new
        self._seq = last_export_seq(folder)

    def all(self) -> list[Line]:
        """Copies of every line, ordered by 资金编号."""
        with self._lock:
            return [dict(self._lines[key]) for key in sorted(self._lines)]

    def get(self, funding_id: str) -> Line | None:
        """A copy of one line, or None."""
        with self._lock:
            line = self._lines.get(funding_id)
            return dict(line) if line else None

    def add(self, line: Line) -> Line | None:
        """Store a new line; None if its id is taken."""
        with self._lock:
            if line["资金编号"] in self._lines:
                return None
            self._lines[line["资金编号"]] = line
            self._mark(line["资金编号"])
            return dict(line)

    def change(self, funding_id: str, changes: Line) -> Line | None:
        """Apply ``changes`` to a line; None if there is no such line."""
        with self._lock:
            line = self._lines.get(funding_id)
            if line is None:
                return None
            line.update(changes)
            self._mark(funding_id)
            return dict(line)

    def export(self, fmt: str, full: bool) -> tuple[Path, int]:
        """Write the lines changed since the last export (all if ``full``): path and row count."""
        with self._lock:
            keys = self._lines.keys() if full or self._changed is None else self._changed
            rows = [self._lines[key] for key in sorted(keys)]
            # own counter as well as the folder: a reader may move files away between exports
            self._seq = max(self._seq, last_export_seq(self._folder)) + 1
            path = write_export(self._folder, rows, fmt, seq=self._seq)
            self._changed = set()
            return path, len(rows)

    def _mark(self, funding_id: str) -> None:
        if self._changed is not None:
            self._changed.add(funding_id)


def _error(message: str, status: int = 400) -> ResponseReturnValue:
    return {"error": message}, status


def _line_body() -> Line | None:
    body = json_object()
    return None if body is None or unknown_fields(body, COLUMNS) else body


BAD_BODY = f"Expected a JSON object with keys among {', '.join(COLUMNS)}."
NOT_FOUND = {"error": "not_found"}


def create_app(
    folder: Path,
    seed: int = 1,
    lines: int = 30,
    projects: list[str] | None = None,
) -> Flask:
    """The finance system with ``lines`` seeded funding lines, exporting into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(folder, generate_lines(seed, lines, project_codes(projects)))
    app = Flask(__name__)
    SimControl(("/api/",)).install(app)

    @app.get("/api/lines")
    def list_lines() -> ResponseReturnValue:
        """Every funding line, amounts as numbers in yuan."""
        return {"items": ledger.all()}

    @app.get("/api/lines/<funding_id>")
    def get_line(funding_id: str) -> ResponseReturnValue:
        """One funding line."""
        line = ledger.get(funding_id)
        return line if line else (NOT_FOUND, 404)

    @app.post("/api/lines")
    def add_line() -> ResponseReturnValue:
        """Add a funding line; any values are stored, as a real ledger holds bad rows too."""
        body = _line_body()
        if body is None:
            return _error(BAD_BODY)
        if not isinstance(body.get("资金编号"), str) or not body["资金编号"]:
            return _error("资金编号 is required.")
        line = ledger.add({name: body.get(name) for name in COLUMNS} | {"状态": ACTIVE} | body)
        return (line, 201) if line else _error("资金编号 exists already.", 409)

    @app.put("/api/lines/<funding_id>")
    def change_line(funding_id: str) -> ResponseReturnValue:
        """Change some fields of a funding line."""
        body = _line_body()
        if body is None:
            return _error(BAD_BODY)
        if body.get("资金编号", funding_id) != funding_id:
            return _error("资金编号 cannot change.")
        line = ledger.change(funding_id, body)
        return line if line else (NOT_FOUND, 404)

    @app.post("/api/lines/<funding_id>/cancel")
    def cancel_line(funding_id: str) -> ResponseReturnValue:
        """Cancel a funding line: it stays in the ledger, marked 已撤销."""
        line = ledger.change(funding_id, {"状态": CANCELLED})
        return line if line else (NOT_FOUND, 404)

    @app.post("/api/exports")
    def export() -> ResponseReturnValue:
        """Write an export of the lines changed since the last one (or all, with ``full``)."""
        body = json_object() or {}
        fmt, full = body.get("format", "csv"), body.get("full", False)
        if fmt not in FORMATS or not isinstance(full, bool):
            return _error('Expected {"format": "csv"|"xlsx", "full": true|false}.')
        path, rows = ledger.export(fmt, full)
        return {"file": path.name, "rows": rows}, 201

    return app
