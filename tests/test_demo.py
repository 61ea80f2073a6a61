"""The demo city of ``hub init --demo``: the supervision board tells its projects apart for real
reasons, as of the day it is loaded, whatever that day is.

The demo is laid out relative to the day it is loaded for; a signal whose rule cannot fire on
some days of the year (a report is only missing after the 5th working day of the month, this
year's investment is only measurably behind once February's report is in) is expected on the
days it can. The fixed days below show every signal at once.
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from connectors.simulators import DEMO_PROJECTS
from hub import create_app
from hub.core.extensions import db
from hub.core.http import city_today
from hub.demo import PLANS, PROJECT_CODES, _City, load_demo
from hub.records.models import Record, RecordVersion
from hub.supervision import service
from hub.supervision.rules import rules
from hub.supervision.signals import CODES
from hub.users.models import User
from hub.users.service import SET_PASSWORD_PATH
from tests.test_cli import clean_environment, exchange, run_hub

STATUSES = {"green", "yellow", "red"}
API = "/api/v1/supervision"


def codes_possible_on(day: date, app: Flask) -> set[str]:
    """The signal codes the demo can show as of ``day``: a report is missing only after the
    due working day of the month; this year's investment and funding are judged only once a
    report of the year is in (funding: January's, sent in February; investment: February's,
    sent in March, the first month-end far enough into the year to be 10 points behind)."""
    configured = rules(app)
    calendar, due = configured.calendar, configured.thresholds.report_due_workday
    possible = set(CODES)
    if day <= calendar.nth_workday_of_month(day.year, day.month, due):
        possible.discard("report_missing")
    if day <= calendar.nth_workday_of_month(day.year, 2, due) or day.month < 2:
        possible.discard("funding_short")
    if day <= calendar.nth_workday_of_month(day.year, 3, due) or day.month < 3:
        possible.discard("investment_behind")
    return possible


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment for ``hub``; yields the instance folder."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(instance))
    return instance


def test_hub_init_demo_seeds_a_city_whose_board_shows_every_status_for_real_reasons(
    tmp_path: Path, embedded: Path
) -> None:
    env = clean_environment(HUB_INSTANCE_PATH=str(embedded))
    run = run_hub(env, "init", "--demo", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # the console's two demo users, each with a one-time sign-in link
    assert run.stderr.count(SET_PASSWORD_PATH) == 2, run.stderr
    keys_file = embedded / "demo-keys.txt"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    keys = dict(line.split() for line in keys_file.read_text().splitlines())
    assert set(keys) == {"admin", "ndrc", "land", "finance", "approval", "office"}

    app = create_app()
    try:
        client = app.test_client()
        token = exchange(client, keys["office"])
        assert token.status_code == 200, token.json
        bearer = {"Authorization": f"Bearer {token.json['access_token']}"}
        board = client.get(f"{API}/projects", query_string={"limit": 100}, headers=bearer)
        assert board.status_code == 200, board.json
        items: list[dict[str, Any]] = board.get_json()["items"]
        assert len(items) == len(PLANS)
        statuses = Counter(item["status"] for item in items)
        assert statuses.keys() == STATUSES, statuses
        with app.app_context():
            today = city_today()
            possible = codes_possible_on(today, app)
            with db.unit_of_work() as session:
                usernames = set(session.scalars(select(User.username)))
        shown = {signal["code"] for item in items for signal in item["signals"]}
        assert shown == possible, f"as of {today}: missing {possible - shown}"
        # every signal names the threshold it crossed, in Chinese and English
        assert all(
            signal["message"] and signal["message_en"]
            for item in items
            for signal in item["signals"]
        )
        assert usernames >= {"admin", "office"}
        # the office sees the summary of the same board
        summary = client.get(f"{API}/summary", headers=bearer)
        assert summary.status_code == 200, summary.json
        totals = summary.get_json()["totals"]
        assert (totals["green"], totals["yellow"], totals["red"]) == tuple(
            statuses[status] for status in ("green", "yellow", "red")
        )
    finally:
        db.dispose(app)


def _judged(app: Flask, tmp_path: Path, day: date) -> list[service.Judged]:
    with app.app_context():
        with db.unit_of_work() as session:
            load_demo(session, tmp_path, today=day)
        page = service.board(db.session, rules(), day, day, limit=100)
        return page.items


@pytest.mark.parametrize(
    "day",
    [
        # after the National Day holiday: a permit's working days skip it
        "2026-10-20",
        "2026-06-15",
        # a year the installed calendar may not know: counted Monday to Friday
        "2027-03-10",
    ],
)
def test_on_a_day_every_rule_can_fire_the_demo_shows_every_signal(
    app: Flask, tmp_path: Path, day: str
) -> None:
    judged = _judged(app, tmp_path, date.fromisoformat(day))
    assert {project.status for project in judged} == STATUSES
    counts = Counter(project.status for project in judged)
    assert counts["green"] > counts["yellow"] > counts["red"] >= 3, counts
    assert {signal.code for project in judged for signal in project.signals} == set(CODES)


def test_the_demo_is_the_same_for_the_same_day_and_dates_its_history(
    app: Flask, tmp_path: Path
) -> None:
    day = date(2026, 10, 20)
    configured = rules(app)

    def laid_out() -> list[tuple[Any, ...]]:
        city = _City(day, configured.calendar, configured.zone, configured.thresholds)
        return [(w.moment, w.department, w.type_name, w.key, w.data) for w in city.build()]

    assert laid_out() == laid_out()
    judged = _judged(app, tmp_path, day)
    with app.app_context():
        versions = db.session.execute(
            select(RecordVersion.record_id, RecordVersion.version, RecordVersion.created_at)
        ).all()
        projects = set(db.session.scalars(select(Record.key).where(Record.type == "project")))
    # every version dated before the day it was laid out for, ascending per record
    by_record: dict[int, list[tuple[int, Any]]] = {}
    for record_id, number, created in versions:
        by_record.setdefault(record_id, []).append((number, created))
    for history in by_record.values():
        moments = [created for _, created in sorted(history)]
        assert moments == sorted(moments)
    assert max(created for _, _, created in versions).astimezone(configured.zone).date() < day
    # the projects the connector demo syncs keep their codes
    assert set(PROJECT_CODES) == set(DEMO_PROJECTS)
    assert projects >= set(DEMO_PROJECTS)
    assert len({project.project["project_code"] for project in judged}) == len(PLANS)


def test_the_demo_loads_in_a_few_seconds(app: Flask, tmp_path: Path) -> None:
    started = time.perf_counter()
    _judged(app, tmp_path, date(2026, 12, 9))
    assert time.perf_counter() - started < 10
