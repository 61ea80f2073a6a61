"""bench/growth.py runs: a tiny city filled, grown and measured at both sizes, the plans of the
hot statements printed (its figures are the bench's business, not the test's). It fills and
serves PostgreSQL, so it runs in the suite's PostgreSQL run (``HUB_TEST_DATABASE_URL``) and is
skipped on SQLite."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import psycopg
import pytest

from bench import growth, hubs

SERVER = os.environ.get("HUB_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not SERVER.startswith(("postgresql", "postgres:")),
    reason="fills and serves PostgreSQL: runs when HUB_TEST_DATABASE_URL names one (the "
    "suite's PostgreSQL run)",
)


def test_the_growth_bench_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    figures = growth.main(
        [
            "--size", "2k", "--small", "500", "--projects", "40", "--subscriptions", "8",
            "--rounds", "1", "--seconds", "0.5", "--batch-seconds", "0.5", "--batch", "20",
            "--cli-rounds", "1", "--warmup", "0.2", "--clients", "2", "--workers", "1",
            "--threads", "2", "--webhooks", "2", "--postgres", SERVER,
        ]
    )  # fmt: skip
    for name, _, _ in (*growth.WRITES, *growth.READS):
        assert figures[name]["small"] > 0, name
        assert figures[name]["full"] > 0, name
    assert figures["verify"]["full"] > 0
    printed = capsys.readouterr().out
    assert "2k/500" in printed
    assert "Statements that scan a big table" in printed
    assert "Index Scan using uq_records_type on records" in printed  # the write's key lookup


def test_a_fill_keeps_the_audit_chain_and_the_log_whole(tmp_path: Path) -> None:
    city = growth.City(projects=4, per_project=12, today=date.today())
    with hubs.schema(SERVER, "growth_fill") as db:
        env = _env(db.url, tmp_path)
        growth.set_up(env)  # the departments the records name
        filler = growth.Filler(db.url, city, years=1, audit_per_record=2)
        first = filler.grow(2)
        second = filler.grow(4)
        assert (first.records, second.records) == (24, 24)
        with psycopg.connect(db.url) as connection:
            head = connection.execute("SELECT last_sequence FROM event_counter").fetchone()
            numbered = connection.execute(
                "SELECT count(*), min(sequence), max(sequence) FROM record_versions"
            ).fetchone()
            versions = connection.execute(
                "SELECT count(*) FROM records r WHERE version <> "
                "(SELECT max(version) FROM record_versions v WHERE v.record_id = r.id)"
            ).fetchone()
        assert head is not None
        assert numbered is not None
        assert versions is not None
        assert numbered == (first.versions + second.versions, 1, head[0])
        assert versions[0] == 0  # every record's version is its last
        said = hubs.quick_cli(env, "audit", "verify")
        assert f"intact: {first.audit + second.audit}" in said


def _env(url: str, instance: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": "growth-test-" + "s" * 40,
        "HUB_INSTANCE_PATH": str(instance),
    }
