"""bench/supervision.py runs: a tiny city filled, served and measured (its figures are the
bench's business, not the test's). It needs the PostgreSQL server the bench uses."""

from __future__ import annotations

import psycopg
import pytest

from bench import publish, supervision


def _postgres_reachable() -> bool:
    try:
        psycopg.connect(publish.POSTGRES, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.skipif(not _postgres_reachable(), reason=f"no PostgreSQL at {publish.POSTGRES}")
def test_the_supervision_bench_runs_at_a_tiny_size(capsys):
    figures = supervision.main(
        ["--projects", "12", "--records", "240", "--rounds", "1", "--page", "5", "--explain"]
    )
    assert set(figures) == {"list", "board", "board_past", "board/list", "past/today"}
    assert all(value > 0 for value in figures.values())
    printed = capsys.readouterr().out
    assert "board/list" in printed
    assert "-- linked" in printed  # the plans of the board's statements
    assert "Execution Time" in printed
