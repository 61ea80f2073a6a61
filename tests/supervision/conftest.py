"""Supervision fixtures: departments that publish every record type, a clock that sets when
records are written, and a client of the supervision API.

Records are published through the API as department systems would; ``clock.at(day)`` sets the
time the hub writes their versions (``hub.records.service.utcnow``), so a test can lay out a
project's history over months and then ask about any day of it with ``as_of``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from flask.testing import FlaskClient

from tests.conftest import STANDARD_DEPARTMENTS

# who publishes what here: the standard departments, development & reform also the monthly
# progress reports, and the leading group's office the joint meeting's problem list
DEPARTMENTS = {
    **STANDARD_DEPARTMENTS,
    "ndrc": ["project", "progress_report"],
    "office": ["coordination_item"],
}
OWNERS = {type_name: dept for dept, types in DEPARTMENTS.items() for type_name in types}
CITY = ZoneInfo("Asia/Shanghai")
SUPERVISION = ["supervision"]
API = "/api/v1/supervision"
# the first year the installed chinesecalendar does not know
FIRST_UNKNOWN_YEAR = max(chinese_calendar.holidays).year + 1


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def departments(make_department: Callable[..., str]) -> dict[str, list[str]]:
    """The standard departments, with ``ndrc`` also publishing progress reports, and the
    leading group's ``office`` publishing coordination items."""
    for department_id, publishes in DEPARTMENTS.items():
        make_department(department_id, publishes)
    return DEPARTMENTS


@pytest.fixture
def publish(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """PUT a record as the department that owns its type; asserts it was written."""

    def put(type_name: str, key: str, data: dict[str, Any]) -> Any:
        response = client.put(
            f"/api/v1/records/{type_name}/{key}", json=data, headers=headers(OWNERS[type_name])
        )
        assert response.status_code in (200, 201), response.json
        return response

    return put


@dataclass
class Clock:
    """The time the hub writes records at, in the city."""

    monkeypatch: pytest.MonkeyPatch

    def at(self, day: str, hour: int = 10) -> None:
        """Write what follows at ``hour`` o'clock on ``day`` (YYYY-MM-DD), city time."""
        moment = datetime.combine(d(day), time(hour), tzinfo=CITY).astimezone(UTC)
        self.monkeypatch.setattr("hub.records.service.utcnow", lambda: moment)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Sets when records are written: ``clock.at("2025-09-23")``."""
    return Clock(monkeypatch)


@dataclass
class Supervision:
    """A client of the supervision API with the ``supervision`` scope."""

    client: FlaskClient
    headers: dict[str, str]

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{API}{path}", query_string=params, headers=self.headers)

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        body: dict[str, Any] = response.json
        return body

    def board(self, **params: Any) -> dict[str, Any]:
        return self.ok("/projects", **params)

    def project(self, code: str, **params: Any) -> dict[str, Any]:
        return self.ok(f"/projects/{code}", **params)

    def summary(self, **params: Any) -> dict[str, Any]:
        return self.ok("/summary", **params)

    def signals(self, code: str, as_of: str, signal: str | None = None) -> list[dict[str, Any]]:
        """The signals of project ``code`` as of ``as_of`` (of one code, if given)."""
        found = self.project(code, as_of=as_of)["signals"]
        return [s for s in found if signal is None or s["code"] == signal]

    def severities(self, code: str, as_of: str, signal: str) -> list[str]:
        """The severities of ``signal`` on project ``code`` as of ``as_of``."""
        return [s["severity"] for s in self.signals(code, as_of, signal)]


@pytest.fixture
def supervision(client: FlaskClient, headers: Callable[..., dict[str, str]]) -> Supervision:
    """The leading group's office, reading the supervision API."""
    return Supervision(client, headers("office", SUPERVISION))
