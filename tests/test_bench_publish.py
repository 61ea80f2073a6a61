"""bench/publish.py runs: the hub and the bare baseline served side by side and measured, at a
tiny size on SQLite (its figures are the bench's business, not the test's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_publish_bench_runs_at_a_tiny_size() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.publish", "--backends", "sqlite", "--rounds", "1"]
        + ["--seconds", "0.5", "--clients", "2", "--workers", "1", "--threads", "2"]
        + ["--batch", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "load average" in lines[0]
    measured = {line.split()[1] for line in lines if line.startswith("sqlite")}
    assert measured == {"single-record", "batch"}
    assert "load average" in lines[-2]


def test_the_publish_profile_runs_and_accounts_for_each_phase() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.batch_profile", "--backend", "sqlite"]
        + ["--batches", "2", "--batch", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr
    shares = {
        line[:32].strip(): line.split()[-1] for line in run.stdout.splitlines()[2:] if line.strip()
    }
    assert shares["whole request"] == "100%"
    for phase in ("validation (each item)", "service: publish_many", "commit"):
        assert phase in shares, run.stdout
