"""bench/soak.py runs: a soak of about twenty seconds, its samples taken and printed (its
figures are the bench's business, not the test's). It needs several hub processes on one
PostgreSQL, so it runs in the suite's PostgreSQL run (``HUB_TEST_DATABASE_URL``) and is skipped
on SQLite."""

from __future__ import annotations

import os

import pytest

from bench import soak

SERVER = os.environ.get("HUB_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not SERVER.startswith(("postgresql", "postgres:")),
    reason="needs hub processes on PostgreSQL: runs when HUB_TEST_DATABASE_URL names one "
    "(the suite's PostgreSQL run)",
)


def test_the_soak_runs_for_twenty_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    figures = soak.main(
        [
            "--minutes", str(20 / 60), "--warmup", "6", "--sample-every", "5",
            "--rate", "4", "--reads", "4", "--batch", "10", "--batch-every", "4",
            "--pollers", "2", "--webhooks", "2", "--workers", "1", "--threads", "2",
            "--postgres", SERVER,
        ]
    )  # fmt: skip
    assert figures["errors"] == {}
    assert figures["done"]["puts"] > 20
    assert figures["done"]["reads"] > 20
    assert figures["done"]["polls"] > 0
    assert figures["deliveries"] > 0
    assert set(figures["processes"]) >= {"serve (arbiter)", "serve worker 1", "hub worker"}
    assert len(figures["connections"]) >= 3  # after warm-up, in between, at the end
    printed = capsys.readouterr().out
    assert "RSS at the end within 10% of warmed-up:" in printed
    assert "database connections:" in printed
