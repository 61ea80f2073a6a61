"""When a failed delivery is tried again: ``WEBHOOK_RETRY_SCHEDULE`` with jitter, or later if
the endpoint's ``Retry-After`` asks; past the schedule's end the subscription is failing."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# the longest Retry-After honoured
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class RetrySchedule:
    """The waits before each retry of a failed delivery, and how much they may vary."""

    delays: tuple[float, ...]
    jitter: float

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetrySchedule:
        """The schedule the settings name."""
        delays = tuple(float(delay) for delay in settings["WEBHOOK_RETRY_SCHEDULE"])
        return cls(delays, float(settings["WEBHOOK_RETRY_JITTER"]))

    def exhausted(self, failures: int) -> bool:
        """Whether ``failures`` failed attempts in a row use up the schedule."""
        return failures > len(self.delays)

    def delay(self, failures: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after the ``failures``-th failed attempt in a row."""
        delay = self.delays[failures - 1] * (1 + random.uniform(-self.jitter, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return timedelta(seconds=delay)
