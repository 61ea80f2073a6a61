"""Request rate limits: per access key on every authenticated call, per address on token
exchange, per user and per address on console sign-in.

The limits are parsed and the counter storage is built once, in ``init_app``; a check is then one
counter update in the storage (``memory://`` in the process, or a shared one such as redis).
"""

from __future__ import annotations

import logging
import math
import time
import urllib.parse
from dataclasses import dataclass

import limits
from flask import Flask, current_app
from limits.errors import StorageError
from limits.storage import MemoryStorage, StorageTypes, storage_from_string
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter

from hub.core.errors import TooManyRequests

EXTENSION = "hub.ratelimit"
# Namespaces of the counters, so a key id and an address can never share one.
KEY_SCOPE = "key"
ADDRESS_SCOPE = "token-address"
SIGN_IN_USER_SCOPE = "sign-in-user"
SIGN_IN_ADDRESS_SCOPE = "sign-in-address"
_SUBJECTS = {
    KEY_SCOPE: "this access key",
    ADDRESS_SCOPE: "token requests from this address",
    SIGN_IN_USER_SCOPE: "sign-ins as this user",
    SIGN_IN_ADDRESS_SCOPE: "sign-ins from this address",
}
# After a storage failure, requests go unlimited (without asking the storage) for this long, so
# an unreachable redis costs one timeout per process per interval, not one per request.
STORAGE_RETRY_SECONDS = 5.0
# Schemes whose client we give short timeouts; the URI's own query options still win.
REDIS_SCHEMES = frozenset({"redis", "rediss"})
REDIS_TIMEOUTS: dict[str, float | str | bool] = {
    "socket_connect_timeout": 1.0,
    "socket_timeout": 1.0,
}
# Seconds between sweeps of expired counters out of an in-process (memory://) storage.
SWEEP_SECONDS = 10.0
log = logging.getLogger(__name__)


class ProcessCounters(MemoryStorage):
    """limits' ``memory://`` storage without the sweeper thread it keeps restarting.

    The stock storage drops expired counters from a 10 ms timer thread that each hit starts anew
    once the last one has finished: in a busy process, a thread start every few requests, which
    cost ~350 µs per request on average (13% of a request, measured in process). Expired counters
    are ignored when read anyway, so the sweep only reclaims memory; here it runs inline, at most
    once every SWEEP_SECONDS.
    """

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.next_sweep = time.monotonic() + SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (overrides a private hook)
        """Sweep expired counters when due, in the calling thread."""
        now = time.monotonic()
        if now >= self.next_sweep:
            self.next_sweep = now + SWEEP_SECONDS
            getattr(self, "_MemoryStorage__expire_events")()  # noqa: B009 (a private name)


@dataclass
class _Limits:
    """One app's limiter: its storage, its strategy and its parsed limits."""

    strategy: RateLimiter
    per_key: tuple[limits.RateLimitItem, ...]
    per_address: tuple[limits.RateLimitItem, ...]
    sign_in_per_user: tuple[limits.RateLimitItem, ...]
    sign_in_per_address: tuple[limits.RateLimitItem, ...]
    # time.monotonic() before which the storage is not asked again after a failure
    storage_down_until: float = 0.0

    def check(self, items: tuple[limits.RateLimitItem, ...], scope: str, who: str) -> None:
        """Count one request of ``who`` against each limit; raise 429 past one of them."""
        if self.storage_down_until and time.monotonic() < self.storage_down_until:
            return
        try:
            for item in items:
                if not self.strategy.hit(item, scope, who):
                    reset_time = self.strategy.get_window_stats(item, scope, who).reset_time
                    raise _refusal(item, scope, reset_time)
        except StorageError as exc:
            # Fail open: the limits guard against runaway or guessing clients, while
            # authentication and scopes still guard every request. Refusing all traffic because
            # the counter store is down would turn its outage into an outage of the exchange.
            self.storage_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            log.warning(
                "rate limit storage unavailable; requests go unlimited for %.0f s: %s",
                STORAGE_RETRY_SECONDS,
                exc.storage_error,
            )


def _refusal(item: limits.RateLimitItem, scope: str, reset_time: float) -> TooManyRequests:
    retry_after = max(1, math.ceil(reset_time - time.time()))
    return TooManyRequests(
        f"Rate limit of {item} exceeded for {_SUBJECTS[scope]}; retry in {retry_after} s.",
        retry_after=retry_after,
    )


class RateLimits:
    """The extension: ``init_app`` binds an app; the checks use the current app's limits."""

    def init_app(self, app: Flask) -> None:
        """Build the storage and parse RATE_LIMIT and TOKEN_RATE_LIMIT (validated by config)."""
        uri = app.config["RATE_LIMIT_STORAGE"]
        scheme = urllib.parse.urlparse(uri).scheme
        if scheme == "memory":
            storage: StorageTypes = ProcessCounters(uri, wrap_exceptions=True)
        else:
            options = REDIS_TIMEOUTS if scheme in REDIS_SCHEMES else {}
            storage = storage_from_string(uri, wrap_exceptions=True, **options)
        # The sliding window counter keeps two counters per key whatever the limit's size, and
        # costs one round trip (one script on redis). The moving window is exact but keeps one
        # entry per request in the window: with generous limits (1200/minute, more in a
        # benchmark) each hit would grow and shift a long list. The counter's approximation
        # (the previous window's count is weighted) is fine for abuse limits.
        app.extensions[EXTENSION] = _Limits(
            strategy=SlidingWindowCounterRateLimiter(storage),
            per_key=_parsed(app.config["RATE_LIMIT"]),
            per_address=_parsed(app.config["TOKEN_RATE_LIMIT"]),
            sign_in_per_user=_parsed(app.config["SIGN_IN_RATE_LIMIT"]),
            sign_in_per_address=_parsed(app.config["SIGN_IN_ADDRESS_RATE_LIMIT"]),
        )

    def check_key(self, key_id: str) -> None:
        """Count a request of access key ``key_id``; raise 429 when it is over RATE_LIMIT."""
        state: _Limits = current_app.extensions[EXTENSION]
        if state.per_key:
            state.check(state.per_key, KEY_SCOPE, key_id)

    def check_address(self, address: str) -> None:
        """Count a token request from ``address``; raise 429 when it is over TOKEN_RATE_LIMIT."""
        state: _Limits = current_app.extensions[EXTENSION]
        if state.per_address:
            state.check(state.per_address, ADDRESS_SCOPE, address)

    def check_sign_in(self, username: str, address: str) -> None:
        """Count a console sign-in attempt as ``username`` from ``address``; raise 429 past
        SIGN_IN_RATE_LIMIT or SIGN_IN_ADDRESS_RATE_LIMIT."""
        state: _Limits = current_app.extensions[EXTENSION]
        if state.sign_in_per_address:
            state.check(state.sign_in_per_address, SIGN_IN_ADDRESS_SCOPE, address)
        if state.sign_in_per_user:
            state.check(state.sign_in_per_user, SIGN_IN_USER_SCOPE, username)


def _parsed(setting: str) -> tuple[limits.RateLimitItem, ...]:
    return tuple(limits.parse_many(setting)) if setting else ()


limiter = RateLimits()


def init_app(app: Flask) -> None:
    """Bind the rate limits to ``app``."""
    limiter.init_app(app)
