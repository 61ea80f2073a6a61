"""The supervision board against a plain list of the same projects, on PostgreSQL.

A fresh schema is filled directly (COPY, not the API) with ``--projects`` projects and
``--records`` linked records (land, funding, permits, the problem list, monthly reports),
every record with one or two versions spread over the last two years, then the hub is served
by gunicorn and one client pages, in alternating rounds:

- ``list``: every project through ``GET /api/v1/records/project`` (the records API's list);
- ``board``: every project through ``GET /api/v1/supervision/projects`` as of today: each
  project's records as they stand, from the version history, judged;
- ``board as of``: the same as of ``--as-of`` (default: 150 days ago), mid-way through the
  history, so most records have a later version to skip.

Figures are the seconds a full pass takes (medians of the rounds). Targets: board/list >= 0.25
(the board's rate at least a quarter of the list's) and as-of/today <= 2. ``--explain`` also
prints the plans (EXPLAIN ANALYZE) of the board's two statements for the first page.

    .venv/bin/python -m bench.supervision [--projects 2000] [--records 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench.publish import database, free_port, hub_env, request_json, run_cli, start_hub, token
from hub.core.db import dump_stored_json, normalise_database_url
from schemas import registry

CITY = ZoneInfo("Asia/Shanghai")
DIVISIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330112", "330113")
LEADERS = (("王力", "副市长"), ("陈敏", "副市长"), ("赵强", "常务副市长"), ("孙丽", "副市长"))
CATEGORIES = ("infrastructure", "industry", "culture_tourism", "public_service", "other")
STAGES = ("preliminary", "construction", "construction", "construction", "reserve", "completed")
DEPARTMENTS = {
    "ndrc": ["project", "progress_report"],
    "land": ["land_parcel"],
    "finance": ["funding"],
    "approval": ["permit"],
    "office": ["coordination_item"],
}
OWNERS = {type_name: dept for dept, types in DEPARTMENTS.items() for type_name in types}
# each project's linked records, by type, in this proportion
MIX = (
    ("land_parcel", 4),
    ("funding", 6),
    ("permit", 12),
    ("coordination_item", 8),
    ("progress_report", 20),
)
RECORD_COLUMNS = (
    "id",
    "type",
    "key",
    "project_code",
    "version",
    "data",
    "published_by",
    "created_at",
    "updated_at",
    "deleted",
)
VERSION_COLUMNS = (
    "id",
    "record_id",
    "record_type",
    "record_key",
    "project_code",
    "version",
    "operation",
    "data",
    "changed_fields",
    "deleted",
    "published_by",
    "key_id",
    "created_at",
    "sequence",
)


# --- the city's records -------------------------------------------------------------------------


def project_code(n: int) -> str:
    return f"2{3 + n % 3}{1 + n % 12:02d}-{DIVISIONS[n % len(DIVISIONS)]}-04-0{1 + n % 5}-{n:05d}X"


def day(start: date, n: int, span: int) -> str:
    return (start + timedelta(days=n % span)).isoformat()


def project_body(n: int, today: date) -> dict[str, Any]:
    """Project ``n``: under way for a year or so; one in eight has let a milestone slip."""
    leader = LEADERS[n % len(LEADERS)]
    start = today - timedelta(days=400 - n % 300)
    started = start + timedelta(days=120)
    topping_out = today + timedelta(days=60 + n % 300) if n % 8 else today - timedelta(days=20)
    return {
        "name": f"重点项目 {n}",
        "category": CATEGORIES[n % len(CATEGORIES)],
        "stage": STAGES[n % len(STAGES)],
        "admin_division": DIVISIONS[n % len(DIVISIONS)],
        "lead_department": ("ndrc", "Transport Bureau", "Education Bureau")[n % 3],
        "responsible_leader": {"name": leader[0], "title": leader[1]},
        "total_investment": 10000 + n,
        "planned_start": start.isoformat(),
        "planned_completion": (start + timedelta(days=900)).isoformat(),
        "milestones": [
            {
                "name": "主体工程开工",
                "planned_date": started.isoformat(),
                "actual_date": (started + timedelta(days=5)).isoformat(),
                "status": "done",
                "kind": "construction_start",
            },
            {"name": "主体结构封顶", "planned_date": topping_out.isoformat(), "status": "pending"},
        ],
        "task_force": [
            {"name": "专班组长", "department": "ndrc", "role": "lead"},
            {"name": "用地专员", "department": "land", "role": "member"},
        ],
        "contacts": [{"name": "联系人", "phone": "+86 571 8888 0001"}],
    }


def annual_plan(n: int) -> int:
    return 12000 + n % 1000


def linked_body(
    type_name: str, code: str, n: int, i: int, today: date
) -> tuple[str, dict[str, Any]]:
    """The key and body of project ``code``'s ``i``-th record of ``type_name``: mostly in
    order, with the occasional parcel not ready, funding short, permit late, problem overdue
    or investment behind, so that most projects are green and some yellow or red."""
    year = today.year
    if type_name == "land_parcel":
        status = "acquiring" if n % 10 == 0 and i == 0 else "supplied"
        body: dict[str, Any] = {
            "project_code": code,
            "area_mu": 10 + i,
            "land_use": "industrial",
            "supply_method": "transfer",
            "supply_status": status,
            "transfer_price": 1234.5,
            "rights_holder": "某公司",
        }
        if status == "supplied":
            body["supplied_on"] = day(date(year - 1, 1, 1), n + i, 300)
        return f"L-{n}-{i}", body
    if type_name == "funding":
        allocated = annual_plan(n) // (3 if n % 12 else 30)
        return f"F-{n}-{i}", {
            "project_code": code,
            "source": ("central_budget", "special_bond", "local_budget")[i % 3],
            "fiscal_year": year - i % 2,
            "allocated": allocated,
            "disbursed": allocated // 2,
            "bank_account": "6222 0000 1111 2222",
        }
    if type_name == "permit":
        if i == 0 and n % 5 == 0:  # pending, within its time
            submitted, pending = today - timedelta(days=7), True
        elif i == 1 and n % 17 == 0:  # pending, late
            submitted, pending = today - timedelta(days=60), True
        else:
            submitted, pending = (
                date.fromisoformat(day(today - timedelta(days=700), n * 7 + i * 31, 600)),
                False,
            )
        body = {
            "project_code": code,
            "item": ("eia", "planning_permit", "construction_permit", "energy_review")[i % 4],
            "authority": "审批局",
            "status": "submitted" if pending else "approved",
            "submitted_at": submitted.isoformat(),
            "statutory_days": 20,
            "applicant_contact": "申请人",
        }
        if not pending:
            approved = submitted + timedelta(days=15 + i)
            body.update(approved_at=approved.isoformat(), permit_no=f"P-{n}-{i}")
        return f"P-{n}-{i}", body
    if type_name == "coordination_item":
        raised = date.fromisoformat(day(today - timedelta(days=600), n * 3 + i * 47, 560))
        due = raised + timedelta(days=30)
        status = "resolved"
        if i == 0 and n % 6 == 0:  # open, due later
            raised, due, status = today - timedelta(days=10), today + timedelta(days=20), "open"
        elif i == 1 and n % 9 == 0:  # open, overdue
            raised, due, status = today - timedelta(days=50), today - timedelta(days=20), "open"
        body = {
            "project_code": code,
            "title": f"协调事项 {i}",
            "factor": ("land", "funding", "permit", "other")[i % 4],
            "raised_at": raised.isoformat(),
            "raised_by": "ndrc",
            "assigned_to": ["land", "finance"],
            "due_date": due.isoformat(),
            "status": status,
            "notes": "内部备注",
        }
        if status == "resolved":
            body.update(resolution="已解决", resolved_at=(raised + timedelta(days=25)).isoformat())
        return f"C-{n}-{i}", body
    last = today.replace(day=1) - timedelta(days=1)
    month = (last.year * 12 + last.month - 1) - i
    period = f"{month // 12:04d}-{month % 12 + 1:02d}"
    share = (month % 12 + 1) / 12 * (0.6 if n % 8 == 1 else 1.0)
    return f"{code}:{period}", {
        "project_code": code,
        "period": period,
        "annual_plan": annual_plan(n),
        "invested_this_year": round(annual_plan(n) * share, 2),
        "invested_to_date": 50000 + annual_plan(n),
        "progress_note": "按计划推进",
    }


def revised(body: dict[str, Any]) -> dict[str, Any]:
    """A record's next version: a figure or a note changed."""
    if "area_mu" in body:
        return {**body, "area_mu": body["area_mu"] + 1}
    if "allocated" in body:
        return {**body, "approval_doc": "财建〔2026〕1号"}
    if "item" in body:
        return {**body, "authority": "行政审批局"}
    if "factor" in body:
        return {**body, "meeting": "联席会议"}
    return {**body, "progress_note": "已更新进度"}


@dataclass
class Fill:
    """Rows for COPY into ``records`` and ``record_versions``."""

    records: io.StringIO
    versions: io.StringIO
    record_id: int = 0
    version_id: int = 0

    def add(
        self,
        type_name: str,
        key: str,
        code: str,
        bodies: list[dict[str, Any]],
        times: list[datetime],
    ) -> None:
        """A record whose versions are ``bodies`` written at ``times``; the last is current."""
        record_type = registry()[type_name]
        self.record_id += 1
        owner = OWNERS[type_name]
        before: dict[str, Any] = {}
        for number, (body, moment) in enumerate(zip(bodies, times, strict=True), start=1):
            data = record_type.canonical(body, key)
            changed = sorted(k for k in before.keys() | data.keys() if before.get(k) != data.get(k))
            self.version_id += 1
            operation = "created" if number == 1 else "updated"
            row = (
                self.version_id, self.record_id, type_name, key, code, number, operation,
                dump_stored_json(data), json.dumps(changed), "f", owner, "bench",
                moment.isoformat(), self.version_id,
            )  # fmt: skip
            self.versions.write(_copy_line(row))
            before = data
        row = (
            self.record_id, type_name, key, code, len(bodies), dump_stored_json(before), owner,
            times[0].isoformat(), times[-1].isoformat(), "f",
        )  # fmt: skip
        self.records.write(_copy_line(row))


def _copy_line(values: tuple[Any, ...]) -> str:
    def text(value: Any) -> str:
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    return "\t".join(text(value) for value in values) + "\n"


def moment(today: date, n: int, span_days: int = 700) -> datetime:
    """A write time within the last ``span_days`` days, in office hours."""
    written = today - timedelta(days=span_days - n % span_days)
    return datetime(written.year, written.month, written.day, 9 + n % 9, tzinfo=CITY).astimezone(
        UTC
    )


def fill(url: str, projects: int, records: int, today: date) -> tuple[int, int]:
    """Fill the hub's tables at ``url`` (libpq form) with the city; (records, versions)."""
    per_project = max(1, records // projects)
    weights = sum(count for _, count in MIX)
    rows = Fill(io.StringIO(), io.StringIO())
    for n in range(projects):
        code = project_code(n)
        body = project_body(n, today)
        start = moment(today, n * 13, 700)
        if n % 3 == 0:  # changed since: the stage moved on, or a milestone slipped
            later = max(start, moment(today, n * 17, 120))
            rows.add(
                "project", code, code, [body, {**body, "description": "已更新"}], [start, later]
            )
        else:
            rows.add("project", code, code, [body], [start])
        index = 0
        for type_name, count in MIX:
            for i in range(max(1, per_project * count // weights)):
                key, linked = linked_body(type_name, code, n, i, today)
                first = max(start, moment(today, n * 31 + index * 7, 650))
                if (n + index) % 4 == 0:
                    second = max(first, moment(today, n * 11 + index * 5, 200))
                    rows.add(type_name, key, code, [linked, revised(linked)], [first, second])
                else:
                    rows.add(type_name, key, code, [linked], [first])
                index += 1
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table, columns, buffer in (
            ("records", RECORD_COLUMNS, rows.records),
            ("record_versions", VERSION_COLUMNS, rows.versions),
        ):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        for table in ("records", "record_versions"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute(
            "UPDATE event_counter SET last_sequence = (SELECT max(sequence) FROM record_versions)"
        )
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE records")
        connection.execute("VACUUM ANALYZE record_versions")
    return rows.record_id, rows.version_id


# --- the measures -------------------------------------------------------------------------------


@dataclass
class Hub:
    port: int
    headers: dict[str, str]
    url: str

    def get(self, connection: http.client.HTTPConnection, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        status, body = request_json(connection, "GET", f"{path}?{query}", None, self.headers)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {str(body)[:300]}")
        return body


def page_through(hub: Hub, path: str, page: int, **params: Any) -> int:
    """Every page of a listing; how many items it held."""
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=300)
    cursor, count = None, 0
    while True:
        body = hub.get(connection, path, limit=page, cursor=cursor, **params)
        count += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            connection.close()
            return count


def timed(action: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = action()
    return time.perf_counter() - started, count


@contextmanager
def served(options: argparse.Namespace) -> Iterator[tuple[Hub, int, int]]:
    """A hub on a fresh PostgreSQL schema filled with the city; its records and versions."""
    with database("postgres") as db, tempfile.TemporaryDirectory() as instance:
        env = hub_env(db.url, Path(instance))
        env.update(HUB_RATE_LIMIT="1000000/second", HUB_PAGE_SIZE_MAX="1000")

        def cli(*args: str) -> str:
            return run_cli(env, *args)

        cli("init")
        for department, types in DEPARTMENTS.items():
            publishes = [arg for type_name in types for arg in ("--publishes", type_name)]
            cli("departments", "add", department, "--name", department, *publishes)
        cli("departments", "add", "leaders", "--name", "领导小组办公室")
        key = cli(
            "keys", "create", "--department", "leaders",
            "--scope", "supervision", "--scope", "records:read",
        )  # fmt: skip
        libpq = "postgresql://" + db.url.split("://", 1)[1]
        started = time.perf_counter()
        counts = fill(libpq, options.projects, options.records, options.today)
        print(
            f"filled {counts[0]} records ({counts[0] - options.projects} linked) with "
            f"{counts[1]} versions in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        port = free_port()
        gunicorn = ["--workers", "1", "--threads", "2", "--no-dispatcher"]
        with start_hub(env, port, gunicorn):
            yield Hub(port, token(port, key), db.url), *counts


def explain(url: str, as_of: date, page: int) -> None:
    """The plans of the board's two statements for its first page as of ``as_of``."""
    from hub.supervision import facts

    engine = create_engine(normalise_database_url(url))
    cutoff = facts.end_of_day(as_of, CITY)
    heads, params = facts.heads_query(cutoff, after=None, limit=page + 1)
    with engine.connect() as connection:
        facts.plan_serially(Session(connection))  # as the hub plans them
        codes = [row[0] for row in connection.execute(heads, params)]
        linked = facts.linked_query(cutoff, codes, as_of=as_of, relevant_only=True)
        for name, (statement, values) in (("heads", (heads, params)), ("linked", linked)):
            expanded = statement.compile(dialect=engine.dialect).construct_expanded_state(values)
            plan = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {expanded.statement}", expanded.parameters
            )
            print(f"\n-- {name}, as of {as_of} ({len(codes)} projects)")
            for (line,) in plan:
                print(line)
    engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--records", type=int, default=100000, help="Linked records in all.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--page", type=int, default=100, help="Page size of both listings.")
    parser.add_argument("--as-of", type=date.fromisoformat, help="Default: 150 days ago.")
    parser.add_argument("--explain", action="store_true", help="Print the board's plans.")
    options = parser.parse_args(argv)
    options.today = datetime.now(CITY).date()
    past = options.as_of or options.today - timedelta(days=150)
    with served(options) as (hub, _, _):
        measures: dict[str, Callable[[], int]] = {
            "list": lambda: page_through(hub, "/api/v1/records/project", options.page),
            "board": lambda: page_through(hub, "/api/v1/supervision/projects", options.page),
            "board_past": lambda: page_through(
                hub, "/api/v1/supervision/projects", options.page, as_of=past.isoformat()
            ),
        }
        for measure in measures.values():  # warm-up
            measure()
        seconds: dict[str, list[float]] = {name: [] for name in measures}
        counts: dict[str, int] = {}
        for _ in range(options.rounds):
            for name, measure in measures.items():
                elapsed, counts[name] = timed(measure)
                seconds[name].append(elapsed)
        if options.explain:
            explain(hub.url, options.today, options.page)
            explain(hub.url, past, options.page)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    board_list = [lst / brd for lst, brd in zip(seconds["list"], seconds["board"], strict=True)]
    past_today = [p / b for p, b in zip(seconds["board_past"], seconds["board"], strict=True)]
    figures = {
        **medians,
        "board/list": statistics.median(board_list),
        "past/today": statistics.median(past_today),
    }
    print(f"\n{options.rounds} rounds, pages of {options.page}; seconds per full pass (median)")
    labels = {
        "list": "list  GET /records/project",
        "board": "board GET /supervision/projects (today)",
        "board_past": f"board as of {past}",
    }
    for name, label in labels.items():
        rounds = " ".join(f"{value:.3f}" for value in seconds[name])
        print(f"{label:<44} {medians[name]:>7.3f}s  {counts[name]:>5} projects  [{rounds}]")
    print(
        f"board/list (rate) {figures['board/list']:.2f}  target >= 0.25   "
        + " ".join(f"{ratio:.2f}" for ratio in board_list)
    )
    print(
        f"as-of/today (time) {figures['past/today']:.2f}  target <= 2       "
        + " ".join(f"{ratio:.2f}" for ratio in past_today)
    )
    sys.stdout.flush()
    return figures


if __name__ == "__main__":
    main()
