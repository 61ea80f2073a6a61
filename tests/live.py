"""The hub served over HTTP for connector tests, with an outage switch; settings helpers."""

from __future__ import annotations

import copy
import json
import threading
import tomllib
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from connectors import config, runner
from connectors.client import retry_policy

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "connectors"


class Outage:
    """WSGI middleware: the next ``count`` requests whose path contains ``part`` fail.

    It also notes the path of every request, so tests can count what a client sent.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.remaining = 0
        self.part = ""
        self.status = "503 SERVICE UNAVAILABLE"
        self.retry_after = "0"
        self.refused = 0
        self.passing = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def fail_next(
        self, count: int, part: str = "", status: int = 503, retry_after: int = 0, after: int = 0
    ) -> None:
        """Answer ``count`` matching requests, after the next ``after``, with ``status`` and
        ``Retry-After``."""
        with self._lock:
            self.remaining, self.part, self.passing = count, part, after
            self.status = f"{status} {HTTPStatus(status).phrase.upper()}"
            self.retry_after = str(retry_after)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.paths.append(path)
            down = self.remaining > 0 and self.part in path
            if down and self.passing > 0:
                self.passing, down = self.passing - 1, False
            if down:
                self.remaining -= 1
                self.refused += 1
        if down:
            status = int(self.status.split()[0])
            body = json.dumps({"title": self.status, "status": status}).encode()
            start_response(
                self.status,
                [("Content-Type", "application/problem+json"), ("Retry-After", self.retry_after)],
            )
            return [body]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def shipped_settings(name: str, **overrides: Any) -> dict[str, Any]:
    """The settings shipped in ``config/connectors/NAME.toml``, with tables merged over."""
    with (CONFIG_DIR / f"{name}.toml").open("rb") as file:
        raw = tomllib.load(file)
    return _merged(raw, overrides)


def _merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_connector(raw: Mapping[str, Any], environ: Mapping[str, str]) -> runner.Connector:
    """A connector from settings, with retries short enough for tests."""
    return runner.build(
        config.parse(raw, environ),
        progress=False,
        environ=environ,
        hub_retry=retry_policy(3, backoff=0.01),
    )
