"""The budget and treasury system: CSV (GBK) and XLSX exports dropped into a folder.

Each file is processed once, by content hash: once the hub has confirmed all its rows the
hash is saved and the file moves to ``processed/``. A file that cannot be read (wrong
encoding, not a workbook, missing columns) moves to ``rejected/`` beside a report saying why;
rows of a readable file that fail are quarantined one by one.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import marshmallow as ma
from marshmallow import fields, validate
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from connectors.engine import Chunk
from connectors.mapping import RecordMapping
from connectors.state import write_atomically

PATTERNS = ("*.csv", "*.xlsx")
# what openpyxl raises, one layer or another, on a damaged or foreign file
CORRUPT_WORKBOOK = (
    zipfile.BadZipFile,
    InvalidFileException,
    ParseError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    EOFError,
    OSError,
)


class FinanceSettingsSchema(ma.Schema):
    """``[source]`` of a finance connector."""

    folder = fields.String(required=True)
    # GB18030 reads every GBK file, and the characters GBK lacks
    csv_encoding = fields.String(load_default="gb18030")
    # a file changed this recently may still be being copied in: wait for the next run
    settle_seconds = fields.Float(load_default=5.0, validate=validate.Range(min=0))
    sheet = fields.String(load_default=None, allow_none=True)
    chunk_rows = fields.Integer(load_default=500, validate=validate.Range(1, 100_000))


class BadFile(Exception):
    """A dropped file that cannot be read as an export."""


class FinanceSource:
    """Rows of every export file not processed yet, file by file in name order."""

    def __init__(self, settings: Mapping[str, Any], mapping: RecordMapping) -> None:
        self.folder = Path(settings["folder"])
        self.encoding: str = settings["csv_encoding"]
        self.sheet: str | None = settings["sheet"]
        self.chunk_rows: int = settings["chunk_rows"]
        self.settle_seconds: float = settings["settle_seconds"]
        self.columns = required_columns(mapping)
        self.total: int | None = None
        self.notes: list[str] = []

    def chunks(self, state: Mapping[str, Any]) -> Iterator[Chunk]:
        """The rows of each new file; its hash is saved with the file's last chunk."""
        done: dict[str, Any] = dict(state.get("files", {}))
        self.total = 0
        for path in self.pending():
            content = path.read_bytes()
            digest = hashlib.sha256(content).hexdigest()
            if digest in done:
                self.notes.append(f"{path.name}: already processed as {done[digest]['file']}")
                _move(path, self.folder / "processed")
                continue
            try:
                rows = self.read(path, content)
            except BadFile as error:
                self._set_aside(path, str(error))
                continue
            self.total += len(rows)
            done = {**done, digest: {"file": path.name, "rows": len(rows), "at": _now()}}
            starts = range(0, len(rows), self.chunk_rows) if rows else [0]
            for start in starts:
                if start + self.chunk_rows < len(rows):
                    yield Chunk(rows[start : start + self.chunk_rows])
                else:
                    yield Chunk(
                        rows[start:],
                        checkpoint={"files": done},
                        after_save=functools.partial(_move, path, self.folder / "processed"),
                        position=path.name,
                    )

    def pending(self) -> list[Path]:
        """Export files waiting in the folder, oldest name first (names carry the time).

        Names starting with "." are files still being written, by the convention of writing
        under a temporary name and renaming; files modified in the last ``settle_seconds``
        wait for the next run, for writers that copy in place.
        """
        found = {p for pattern in PATTERNS for p in self.folder.glob(pattern) if p.is_file()}
        settled_before = time.time() - self.settle_seconds
        ready = []
        for path in sorted(p for p in found if not p.name.startswith(".")):
            if path.stat().st_mtime > settled_before:
                self.notes.append(
                    f"{path.name}: changed in the last seconds; left for the next run"
                )
            else:
                ready.append(path)
        return ready

    def read(self, path: Path, content: bytes) -> list[dict[str, Any]]:
        """The rows of one export as dicts keyed by column header."""
        is_csv = path.suffix.lower() == ".csv"
        table = self._csv(content) if is_csv else self._xlsx(content)
        if not table:
            raise BadFile("the file is empty: no header row")
        header = [str(cell or "").strip().lstrip("\ufeff") for cell in table[0]]
        missing = [column for column in self.columns if column not in header]
        if missing:
            raise BadFile(f"missing columns: {', '.join(missing)}")
        rows = []
        for values in table[1:]:
            if all(value is None or str(value).strip() == "" for value in values):
                continue
            padded = list(values) + [None] * (len(header) - len(values))
            rows.append(dict(zip(header, padded, strict=False)))
        return rows

    def _csv(self, content: bytes) -> list[Sequence[Any]]:
        try:
            text = content.decode(self.encoding)
        except UnicodeDecodeError as error:
            raise BadFile(f"not {self.encoding} text (byte {error.start})") from None
        try:
            return list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as error:
            raise BadFile(f"not CSV: {error}") from None

    def _xlsx(self, content: bytes) -> list[Sequence[Any]]:
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except CORRUPT_WORKBOOK as error:
            raise BadFile(f"not an XLSX workbook: {type(error).__name__}: {error}") from None
        try:
            if self.sheet is not None and self.sheet not in workbook.sheetnames:
                raise BadFile(f"no sheet named {self.sheet}")
            sheet = workbook[self.sheet] if self.sheet else workbook.worksheets[0]
            return [list(row) for row in sheet.iter_rows(values_only=True)]
        except CORRUPT_WORKBOOK as error:
            # read-only workbooks parse their sheets lazily, so damage can surface only here
            raise BadFile(f"a damaged XLSX workbook: {type(error).__name__}: {error}") from None
        finally:
            workbook.close()

    def _set_aside(self, path: Path, reason: str) -> None:
        moved = _move(path, self.folder / "rejected")
        report = {"file": path.name, "reason": reason, "at": _now()}
        write_atomically(moved.with_name(moved.name + ".report.json"), json.dumps(report))
        self.notes.append(f"{path.name}: set aside in rejected/: {reason}")


def required_columns(mapping: RecordMapping) -> list[str]:
    """Every column the mapping reads: an export without one of them is not readable."""
    columns = [mapping.key, *(rule.source for rule in mapping.fields)]
    if mapping.deleted_field:
        columns.append(mapping.deleted_field)
    return list(dict.fromkeys(columns))


def _move(path: Path, directory: Path) -> Path:
    """Move a file into ``directory``, never over another file of the same name."""
    directory.mkdir(exist_ok=True)
    target = directory / path.name
    if target.exists():
        target = directory / f"{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}"
    return path.rename(target)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
