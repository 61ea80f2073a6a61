"""Settings in layers: defaults, a TOML config file, ``HUB_`` environment variables, overrides.

Every setting has a default here, except the secret, which never does. Unknown keys in any layer
and settings that contradict each other stop the app at start with a message naming them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import re
import secrets
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import limits
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.core.calendar import calendar_from_settings
from schemas.project import STAGES

ENV_PREFIX = "HUB_"
# HUB_ variables that are not settings: where the config file and instance folder are,
# the test suite's database, and the connectors' own settings.
ENV_RESERVED = frozenset({"HUB_CONFIG", "HUB_INSTANCE_PATH", "HUB_TEST_DATABASE_URL"})
ENV_RESERVED_PREFIXES = ("HUB_CONNECTOR_",)
SECRET_FILE = "secret_key"
SUPPORTED_DATABASES = ("sqlite", "postgresql")

DEFAULTS: dict[str, Any] = {
    # sqlite:///<instance>/hub.sqlite3 when empty
    "DATABASE_URL": "",
    "DATABASE_POOL_SIZE": 10,
    "DATABASE_ECHO": False,
    # seconds an SQLite writer waits for the write lock before giving up with 503
    "SQLITE_BUSY_TIMEOUT": 15.0,
    "SECRET_KEY": None,
    "TOKEN_TTL": 900,
    "TOKEN_ISSUER": "project-hub",
    "TOKEN_AUDIENCE": "project-hub-api",
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "BATCH_MAX_RECORDS": 500,
    "PAGE_SIZE_DEFAULT": 100,
    "PAGE_SIZE_MAX": 1000,
    "EVENTS_PAGE_SIZE_MAX": 1000,
    "IDEMPOTENCY_TTL": 24 * 3600,
    "EVENT_SOURCE": "urn:project-hub",
    "EVENT_TYPE_PREFIX": "cn.gov.projecthub",
    # the city's zone: computed fields such as a permit's ``overdue`` are judged by its date
    "TIMEZONE": "Asia/Shanghai",
    # working days are the national holiday calendar's (chinesecalendar) with these ISO dates
    # as extra days off and extra working days: local rest days, or next year's official
    # calendar before the package has it (hub/core/calendar.py)
    "WORKDAYS_EXTRA_HOLIDAYS": [],
    "WORKDAYS_EXTRA_WORKDAYS": [],
    # supervision's thresholds (DESIGN §6), read as hub.supervision.signals.Thresholds, whose
    # defaults these are (tests/supervision/test_settings.py holds them equal)
    # a pending permit is red past this multiple of its statutory working days
    "SUPERVISION_PERMIT_RED_FACTOR": 1.5,
    # a milestone is red more than this many days late
    "SUPERVISION_MILESTONE_RED_DAYS": 30,
    # investment behind the time share (序时进度): "points" behind (Yinchuan's rule) or
    # "ratio" of it (Wuhan's rule)
    "SUPERVISION_INVESTMENT_RULE": "points",
    "SUPERVISION_INVESTMENT_YELLOW_POINTS": 10.0,
    "SUPERVISION_INVESTMENT_RED_POINTS": 30.0,
    "SUPERVISION_INVESTMENT_YELLOW_RATIO": 0.8,
    "SUPERVISION_INVESTMENT_RED_RATIO": 0.6,
    # the time share at the report's month end ("report_period") or at the day asked ("as_of")
    "SUPERVISION_INVESTMENT_SHARE_BASIS": "report_period",
    # last month's progress report is due by this working day of the month
    "SUPERVISION_REPORT_DUE_WORKDAY": 5,
    # land must be ready this many days before the construction start
    "SUPERVISION_LAND_LOOKAHEAD_DAYS": 30,
    # funding allocated this year below this share of the year's planned investment is short
    "SUPERVISION_FUNDING_SHORT_RATIO": 0.8,
    # a project under way with no record changed for this many days has stalled
    "SUPERVISION_STALLED_DAYS": 30,
    # the stages of a project under way: those that report monthly and can stall
    "SUPERVISION_ACTIVE_STAGES": ["construction", "preliminary"],
    # seconds the secret (and tokens) of a rotated access key keep working
    "KEY_ROTATION_GRACE": 24 * 3600,
    # signing secrets retired by a rotation of SECRET_KEY: tokens they signed stay valid
    "PREVIOUS_SECRET_KEYS": [],
    # requests per key (``limits`` syntax, e.g. "1200/minute;50/second"); "" turns it off
    "RATE_LIMIT": "1200/minute",
    # token exchanges per client address, failed or not: slows down guessing
    "TOKEN_RATE_LIMIT": "60/minute",
    # memory:// counts per process; redis://host:6379 shares the counts between processes
    "RATE_LIMIT_STORAGE": "memory://",
    # days an owning department has to decide a grant request
    "GRANT_RESPONSE_DAYS": 15,
    # proxies in front of the hub whose X-Forwarded-For/-Proto to trust (0: none); the
    # client's address feeds the audit log and the token-exchange rate limit
    "TRUSTED_PROXIES": 0,
    # seconds between a process's sealing rounds of the audit chain
    "AUDIT_SEAL_INTERVAL": 1.0,
    # a secret (32+ characters) that keys the audit chain (HMAC-SHA256) from the next entry
    # sealed on: then rewriting the table is not enough to forge the chain. Keep it apart from
    # the database, and never remove it once set (sealing then stops, loudly).
    "AUDIT_CHAIN_KEY": None,
    # a bearer token /metrics asks for (a secret, 32+ characters); empty: /metrics is open
    "METRICS_TOKEN": None,
    # seconds between a process's looks for tables that have grown enough since PostgreSQL
    # last analysed them to need it again (hub/core/planner.py, run by hub/housekeeping.py);
    # 0 leaves it all to autovacuum
    "DATABASE_ANALYZE_INTERVAL": 5.0,
    # seconds a long-poll or dispatcher waits at most between looks at the change log when no
    # notification arrives (SQLite has none across processes)
    "EVENTS_POLL_INTERVAL": 1.0,
    # days of change log the feed serves after `hub events compact`; older cursors get 410
    "EVENTS_RETENTION_DAYS": 90,
    # days webhook delivery attempts stay in the attempt log (`hub events compact` drops older)
    "DELIVERY_LOG_RETENTION_DAYS": 30,
    "CONNECTOR_RUN_RETENTION_DAYS": 30,
    # run the webhook dispatcher inside `hub serve` (`hub worker` runs it on its own)
    "DISPATCHER_IN_SERVE": True,
    # webhook deliveries in flight at once, per dispatcher process
    "DISPATCHER_CONCURRENCY": 16,
    # seconds a dispatcher works one subscription before giving others a turn
    "DISPATCHER_TURN_SECONDS": 2.0,
    # seconds a dispatcher's lease outlasts a turn and its last delivery's timeout: how long
    # after a dispatcher dies (killed, not stopped) another takes over its subscriptions
    "DISPATCHER_LEASE_MARGIN_SECONDS": 30.0,
    # seconds an endpoint has to answer a delivery
    "WEBHOOK_TIMEOUT": 10.0,
    # seconds before each retry of a failed delivery; when they run out the subscription is
    # marked failing (it keeps its place)
    "WEBHOOK_RETRY_SCHEDULE": [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0],
    # each retry waits up to this fraction more or less than its scheduled time
    "WEBHOOK_RETRY_JITTER": 0.2,
    # accept http:// endpoints (https only otherwise)
    "WEBHOOK_ALLOW_HTTP": False,
    # networks (CIDR) endpoints may resolve to although not public, e.g. ["10.20.0.0/16"]
    "WEBHOOK_ALLOWED_NETWORKS": [],
    # seconds the previous signing secret keeps signing (beside the new) after a rotation
    "WEBHOOK_SECRET_GRACE": 24 * 3600,
    # where people reach the hub: links the hub hands out (invitations) start with it
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # argon2id cost of console passwords (RFC 9106's second recommendation by default)
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_KIB": 64 * 1024,
    # minutes of inactivity after which a console session ends
    "CONSOLE_IDLE_MINUTES": 30,
    # console cookies only over HTTPS: "auto" (yes unless the hub is reached on loopback),
    # "on" or "off"
    "CONSOLE_SECURE_COOKIES": "auto",
    # console sign-in attempts, failed or not: per username, and per client address
    "SIGN_IN_RATE_LIMIT": "10/minute;50/hour",
    "SIGN_IN_ADDRESS_RATE_LIMIT": "30/minute",
    # single sign-on with the city's OpenID Connect provider (off while OIDC_ISSUER is empty)
    "OIDC_ISSUER": "",
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": None,
    "OIDC_SCOPES": "openid profile",
    # the claims that name a person's username, department and console role
    "OIDC_USERNAME_CLAIM": "preferred_username",
    "OIDC_DEPARTMENT_CLAIM": "department",
    "OIDC_ROLE_CLAIM": "hub_role",
    "TESTING": False,
}


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings as networks; ValueError names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network such as 10.0.0.0/8") from exc
    return tuple(networks)


class ConfigError(RuntimeError):
    """The settings are unusable; the message says which and why."""


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, list):
            items = [item for item in raw.replace(",", " ").split() if item]
            if default and isinstance(default[0], float):
                return [float(item) for item in items]
            return items
    except ValueError as exc:
        raise ConfigError(
            f"{ENV_PREFIX}{name}={raw!r} is not a valid {type(default).__name__}"
        ) from exc
    return raw


def _check_keys(layer: str, keys: Mapping[str, Any]) -> None:
    unknown = sorted(set(keys) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown setting(s) in {layer}: {', '.join(unknown)}")


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    values = {name.upper(): value for name, value in raw.items()}
    _check_keys(f"config file {path}", values)
    return values


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable in ENV_RESERVED:
            continue
        name = variable.removeprefix(ENV_PREFIX)
        # the connectors' own variables, unless one is a hub setting of that name
        if variable.startswith(ENV_RESERVED_PREFIXES) and name not in DEFAULTS:
            continue
        if name not in DEFAULTS:
            raise ConfigError(f"unknown setting in the environment: {variable}")
        values[name] = _coerce(name, raw, DEFAULTS[name])
    return values


def _has_type_of(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, type(default))


def _validate(settings: dict[str, Any]) -> None:
    for name, default in DEFAULTS.items():
        value = settings[name]
        if default is not None and not _has_type_of(value, default):
            raise ConfigError(f"{name} must be a {type(default).__name__}, not {value!r}")
    for name in (
        "TOKEN_TTL",
        "MAX_CONTENT_LENGTH",
        "BATCH_MAX_RECORDS",
        "PAGE_SIZE_DEFAULT",
        "PAGE_SIZE_MAX",
        "EVENTS_PAGE_SIZE_MAX",
        "DATABASE_POOL_SIZE",
        "IDEMPOTENCY_TTL",
        "GRANT_RESPONSE_DAYS",
        "EVENTS_POLL_INTERVAL",
        "EVENTS_RETENTION_DAYS",
        "DELIVERY_LOG_RETENTION_DAYS",
        "CONNECTOR_RUN_RETENTION_DAYS",
        "DISPATCHER_CONCURRENCY",
        "DISPATCHER_TURN_SECONDS",
        "DISPATCHER_LEASE_MARGIN_SECONDS",
        "WEBHOOK_TIMEOUT",
        "PASSWORD_HASH_TIME_COST",
        "CONSOLE_IDLE_MINUTES",
    ):
        if settings[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    for name in (
        "SQLITE_BUSY_TIMEOUT",
        "KEY_ROTATION_GRACE",
        "AUDIT_SEAL_INTERVAL",
        "DATABASE_ANALYZE_INTERVAL",
        "TRUSTED_PROXIES",
        "WEBHOOK_SECRET_GRACE",
    ):
        if settings[name] < 0:
            raise ConfigError(f"{name} must not be negative")
    _validate_rate_limits(settings)
    _validate_webhooks(settings)
    _validate_console(settings)
    _validate_workdays(settings)
    _validate_supervision(settings)
    try:
        backend = make_url(settings["DATABASE_URL"]).get_backend_name()
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {exc}") from exc
    if backend not in SUPPORTED_DATABASES:
        raise ConfigError(
            f"DATABASE_URL names {backend!r}; the hub runs on {' or '.join(SUPPORTED_DATABASES)}"
        )
    if settings["PAGE_SIZE_DEFAULT"] > settings["PAGE_SIZE_MAX"]:
        raise ConfigError("PAGE_SIZE_DEFAULT must not exceed PAGE_SIZE_MAX")
    try:
        ZoneInfo(settings["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIMEZONE {settings['TIMEZONE']!r} is not a known time zone") from exc
    for name in ("AUDIT_CHAIN_KEY", "METRICS_TOKEN"):
        value = settings[name]
        if value not in (None, "") and (not isinstance(value, str) or len(value) < 32):
            raise ConfigError(f"{name} must be a string of 32 characters or more")
    secret = settings["SECRET_KEY"]
    if not secret:
        raise ConfigError(
            "no secret key: set HUB_SECRET_KEY (or SECRET_KEY in the config file); "
            "for the embedded SQLite database, `hub init` generates one"
        )
    if len(secret) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters")
    previous = settings["PREVIOUS_SECRET_KEYS"]
    if not all(isinstance(old, str) and len(old) >= 32 for old in previous):
        raise ConfigError("each of PREVIOUS_SECRET_KEYS must be a string of 32 characters or more")
    if secret in previous:
        raise ConfigError("PREVIOUS_SECRET_KEYS must not contain the current SECRET_KEY")


def _validate_webhooks(settings: Mapping[str, Any]) -> None:
    schedule = settings["WEBHOOK_RETRY_SCHEDULE"]
    if not schedule or not all(
        isinstance(delay, int | float) and not isinstance(delay, bool) and delay > 0
        for delay in schedule
    ):
        raise ConfigError("WEBHOOK_RETRY_SCHEDULE must be a non-empty list of positive seconds")
    if not 0 <= settings["WEBHOOK_RETRY_JITTER"] < 1:
        raise ConfigError("WEBHOOK_RETRY_JITTER must be at least 0 and less than 1")
    try:
        parse_networks(settings["WEBHOOK_ALLOWED_NETWORKS"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc


def _validate_console(settings: Mapping[str, Any]) -> None:
    if settings["CONSOLE_SECURE_COOKIES"] not in ("auto", "on", "off"):
        raise ConfigError("CONSOLE_SECURE_COOKIES must be auto, on or off")
    if settings["PASSWORD_HASH_MEMORY_KIB"] < 1024:
        raise ConfigError("PASSWORD_HASH_MEMORY_KIB must be at least 1024")
    url = urllib.parse.urlsplit(settings["PUBLIC_URL"])
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError("PUBLIC_URL must be an http(s) URL such as https://hub.example.gov.cn")
    if settings["OIDC_ISSUER"]:
        issuer = urllib.parse.urlsplit(settings["OIDC_ISSUER"])
        if issuer.scheme not in ("http", "https") or not issuer.netloc:
            raise ConfigError("OIDC_ISSUER must be the provider's issuer URL")
        if not settings["OIDC_CLIENT_ID"] or not settings["OIDC_CLIENT_SECRET"]:
            raise ConfigError("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too")


def _validate_workdays(settings: Mapping[str, Any]) -> None:
    try:
        calendar_from_settings(settings)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{exc}") from exc


def _validate_supervision(settings: Mapping[str, Any]) -> None:
    """Each threshold within its range, and the yellow ones no stricter than the red ones."""

    def name(setting: str) -> str:
        return f"{ENV_PREFIX}SUPERVISION_{setting}"

    def value(setting: str) -> Any:
        return settings[f"SUPERVISION_{setting}"]

    problems = []
    for setting, choices in (
        ("INVESTMENT_RULE", ("points", "ratio")),
        ("INVESTMENT_SHARE_BASIS", ("report_period", "as_of")),
    ):
        if value(setting) not in choices:
            problems.append(f"{name(setting)} must be {' or '.join(choices)}")
    for setting in (
        "MILESTONE_RED_DAYS",
        "LAND_LOOKAHEAD_DAYS",
        "STALLED_DAYS",
        "INVESTMENT_YELLOW_POINTS",
        "INVESTMENT_RED_POINTS",
        "INVESTMENT_YELLOW_RATIO",
        "INVESTMENT_RED_RATIO",
        "FUNDING_SHORT_RATIO",
    ):
        if value(setting) < 0:
            problems.append(f"{name(setting)} must not be negative")
    if value("PERMIT_RED_FACTOR") < 1:
        problems.append(f"{name('PERMIT_RED_FACTOR')} must be at least 1")
    if value("REPORT_DUE_WORKDAY") < 1:
        problems.append(f"{name('REPORT_DUE_WORKDAY')} must be at least 1")
    if value("INVESTMENT_YELLOW_POINTS") > value("INVESTMENT_RED_POINTS"):
        problems.append(
            f"{name('INVESTMENT_YELLOW_POINTS')} must not exceed {name('INVESTMENT_RED_POINTS')}"
        )
    if value("INVESTMENT_RED_RATIO") > value("INVESTMENT_YELLOW_RATIO"):
        problems.append(
            f"{name('INVESTMENT_RED_RATIO')} must not exceed {name('INVESTMENT_YELLOW_RATIO')}"
        )
    unknown = [stage for stage in value("ACTIVE_STAGES") if stage not in STAGES]
    if unknown:
        problems.append(
            f"{name('ACTIVE_STAGES')} names unknown stages {unknown}; they are: {', '.join(STAGES)}"
        )
    if problems:
        raise ConfigError("; ".join(problems))


def _validate_rate_limits(settings: Mapping[str, Any]) -> None:
    for name in (
        "RATE_LIMIT",
        "TOKEN_RATE_LIMIT",
        "SIGN_IN_RATE_LIMIT",
        "SIGN_IN_ADDRESS_RATE_LIMIT",
    ):
        if settings[name]:
            try:
                limits.parse_many(settings[name])
            except ValueError as exc:
                raise ConfigError(
                    f"{name} {settings[name]!r} is not a rate limit such as '1200/minute'"
                ) from exc
    try:
        storage_from_string(settings["RATE_LIMIT_STORAGE"])
    except (ConfigurationError, ValueError) as exc:
        raise ConfigError(f"RATE_LIMIT_STORAGE is unusable: {exc}") from exc


def merge_layers(
    instance_path: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge defaults, config file, environment and overrides, without validating."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    config_file = environ.get("HUB_CONFIG")
    if config_file:
        settings.update(_from_file(Path(config_file)))
    settings.update(_from_environ(environ))
    if overrides:
        _check_keys("the app's overrides", overrides)
        settings.update(overrides)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance_path / 'hub.sqlite3'}"
    if not settings["SECRET_KEY"] and uses_embedded_database(settings["DATABASE_URL"]):
        secret_file = instance_path / SECRET_FILE
        if secret_file.exists():
            settings["SECRET_KEY"] = secret_file.read_text().strip()
    return settings


def load_settings(
    instance_path: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge the layers into one validated dict of settings.

    A problem names each setting as the operator set it: ``HUB_SECRET_KEY`` for one from the
    environment, ``SECRET_KEY (in config.toml)`` for one from the config file.
    """
    settings = merge_layers(instance_path, overrides, environ)
    try:
        _validate(settings)
    except ConfigError as exc:
        named = _as_set(str(exc), environ if environ is not None else os.environ)
        raise ConfigError(named) from exc
    return settings


_SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def _as_set(message: str, environ: Mapping[str, str]) -> str:
    """``message`` with each setting it names named as the operator set it."""
    config_file = environ.get("HUB_CONFIG")
    from_file: set[str] = set()
    if config_file:
        with contextlib.suppress(ConfigError):
            from_file = set(_from_file(Path(config_file)))

    def named(match: re.Match[str]) -> str:
        name = match.group(0)
        if name not in DEFAULTS:
            return name
        if f"{ENV_PREFIX}{name}" in environ:
            return f"{ENV_PREFIX}{name}"
        if name in from_file:
            return f"{name} (in {Path(str(config_file)).name})"
        return name

    return _SETTING_NAME.sub(named, message)


def uses_embedded_database(database_url: str) -> bool:
    """Whether the database is the embedded SQLite one."""
    return database_url.startswith("sqlite")


def ensure_instance_secret(instance_path: Path) -> bool:
    """Generate a secret into the instance folder when the embedded database needs one.

    Only for the embedded SQLite default with no secret configured; returns whether one was
    made. A server database must be given its secret explicitly.
    """
    settings = merge_layers(instance_path)
    if settings["SECRET_KEY"] or not uses_embedded_database(settings["DATABASE_URL"]):
        return False
    instance_path.mkdir(parents=True, exist_ok=True)
    secret_file = instance_path / SECRET_FILE
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    return True
