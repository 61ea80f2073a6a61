"""A connector's saved position and its quarantine of rows the hub refused.

State is one JSON file, replaced atomically (write a temporary file, fsync, rename), so a
crash leaves either the old state or the new one, never half of each.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class StateStore:
    """The saved state of one connector."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.state.json"

    def load(self) -> dict[str, Any]:
        """The last saved state, or an empty one on a first run."""
        try:
            state: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return state

    def save(self, state: Mapping[str, Any]) -> None:
        """Replace the saved state in one step."""
        write_atomically(self.path, json.dumps(state, ensure_ascii=False, sort_keys=True))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader or a crash never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Quarantine:
    """Rows set aside with the reason, one JSON object per line, for an operator to fix."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.quarantine.jsonl"

    def add(
        self,
        key: str | None,
        row: Mapping[str, Any],
        detail: str,
        errors: Mapping[str, Any] | None = None,
    ) -> None:
        """Set one native row aside with the hub's (or the mapping's) error."""
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "key": key,
            "detail": detail,
            "errors": dict(errors or {}),
            "row": dict(row),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        """Everything quarantined so far, oldest first."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line]
