"""Scale-out: two API processes and two dispatcher workers on one PostgreSQL, under a steady
publish load, with one worker killed (SIGKILL) mid-run. Every subscription gets every event its
filter selects, in order; repeats only where the killed worker had a delivery in flight (once
per subscription it held); the feed is contiguous. bench/scaleout.py runs the same at a larger
size and prints the figures.

Several hub processes need one database they can all reach: this runs in the suite's PostgreSQL
run (``HUB_TEST_DATABASE_URL``, as .ci/run does), on a schema of its own, and is skipped on
SQLite. The killed worker's leases run out after DISPATCHER_TURN_SECONDS + WEBHOOK_TIMEOUT +
DISPATCHER_LEASE_MARGIN_SECONDS, shortened here to 0.5 + 2 + 3 seconds.
"""

from __future__ import annotations

import os

import pytest

from bench import scaleout
from tests.receiver import Receiver, Reply

SERVER = os.environ.get("HUB_TEST_DATABASE_URL", "")
ON_POSTGRES = SERVER.startswith(("postgresql", "postgres:"))
pytestmark = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs several hub processes on one PostgreSQL: runs when HUB_TEST_DATABASE_URL "
    "names one (the suite's PostgreSQL run)",
)


class Endpoint:
    """The suite's receiver as bench/scaleout.py reads one; each answer takes ``delay``
    seconds, as a real endpoint's would, so that deliveries are in flight when the worker
    dies."""

    def __init__(self, receiver: Receiver, delay: float) -> None:
        self.receiver = receiver
        self.delay = delay

    def url(self, path: str) -> str:
        self.receiver.script(path, then=Reply(delay=self.delay))
        return self.receiver.url(path)

    def arrivals(self, path: str) -> list[tuple[int, float]]:
        return [(receipt.sequence, receipt.arrived) for receipt in self.receiver.receipts(path)]


def test_a_killed_worker_loses_nothing_and_reorders_nothing(receiver: Receiver) -> None:
    options = scaleout.Options(
        subscriptions=10,
        seconds=8,
        rate=16,
        publishers=2,
        kill_at=4,
        timeout=90,
        webhook_timeout=2,
        turn=0.5,
        concurrency=4,
        pool=3,
        lease_margin=3,
    )
    figures = scaleout.run(options, SERVER, Endpoint(receiver, delay=0.02))

    assert figures.publish_errors == []
    assert figures.published >= 60
    assert figures.feed_contiguous, "the feed has a gap or a repeat"
    assert figures.head == figures.published + len(scaleout.PROJECTS)
    assert figures.killed is not None
    assert figures.killed_held >= 1, "the killed worker held no lease: nothing was tested"
    assert figures.lost == 0, figures.problems
    assert figures.out_of_order == 0, figures.problems
    assert figures.duplicates_elsewhere == 0, figures.problems
    assert figures.most_duplicates <= 1, figures.problems
    assert figures.problems == {}
    assert figures.recovery_seconds is not None
    assert figures.caught_up_seconds is not None
