"""Browser tests: pytest-playwright driving the system's Chromium, headless, on loopback only.

Playwright cannot download its own browser here (no network but the package registries), so the
tests use the distribution's Chromium (`apt-get install chromium`), found by
``chromium_executable``. Without one the tests skip on a developer's machine and fail in CI
(``CI`` set), where a missing browser must not pass unnoticed.

Screenshots go to ``<basetemp>/screenshots/`` (pytest keeps the last three base temporary
folders; the newest is ``/tmp/pytest-of-$USER/pytest-current``), one folder for all xdist workers.

The console's journeys (``test_console_journeys``) use the suite's ``app`` on a fresh database,
served on loopback by ``console`` (see ``console_server``), with people made by ``make_user``
and passwords hashed at the cheapest argon2 cost, so that signing in stays fast.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page

from hub.core.extensions import db
from hub.users import service as users
from tests.browser.console_server import PASSWORD, Console, PageWatch, serve_console
from tests.factories import OPERATOR

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DEBIAN_CHROMIUM = "/usr/bin/chromium"
# The machine's network is closed: without the background-networking switches Chromium keeps
# trying to reach update, sync and safe-browsing services and floods the log with refusals.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI and containers; the pages are our own
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """The browser to drive: ``HUB_CHROMIUM``, else the Debian package's, else one on PATH."""
    configured = os.environ.get("HUB_CHROMIUM")
    if configured:
        return shutil.which(configured) or configured
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The path of the system's Chromium; skips without one, or fails when ``CI`` is set."""
    found = find_chromium()
    if found and os.access(found, os.X_OK):
        return found
    if os.environ.get("HUB_CHROMIUM"):
        message = f"HUB_CHROMIUM={os.environ['HUB_CHROMIUM']!r} is not an executable browser"
    else:
        message = (
            f"no Chromium to drive (looked for {DEBIAN_CHROMIUM} and "
            f"{', '.join(CHROMIUM_NAMES)} on PATH): install it with `apt-get install chromium` "
            "or point HUB_CHROMIUM at one"
        )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium_executable: str
) -> dict[str, Any]:
    """pytest-playwright's launch options (``--headed``, ``--slowmo``) on the system's Chromium."""
    args = list(CHROMIUM_ARGS)
    if browser_type_launch_args.get("headless", True):
        args.insert(0, "--headless=new")
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable,
        "args": [*browser_type_launch_args.get("args", []), *args],
    }


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<basetemp>/screenshots``, shared by the xdist workers (each has its own basetemp below)."""
    basetemp = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        basetemp = basetemp.parent
    path = basetemp / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {path}")
    return path


@pytest.fixture
def save_screenshot(
    screenshot_dir: Path, record_property: Callable[[str, object], None]
) -> Callable[..., Path]:
    """Save a PNG of ``page`` as ``<screenshot_dir>/<name>.png`` and note it on the report."""

    def save(page: Page, name: str, *, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        record_property("screenshot", str(path))
        return path

    return save


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Cheap password hashes (the suite's settings otherwise)."""
    return {**settings, "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024}


@pytest.fixture
def make_user(app: Flask, departments: dict[str, list[str]]) -> Callable[..., str]:
    """Create a console user (the standard departments exist): ``make_user("lin", "land",
    "officer")``; returns the username. Its password is ``console_server.PASSWORD``."""

    def make(username: str, department: str, role: str, **options: Any) -> str:
        with app.app_context(), db.unit_of_work() as session:
            users.add_user(
                session,
                OPERATOR,
                username,
                department,
                role,
                app.config,
                password=options.pop("password", PASSWORD),
                **options,
            )
        return username

    return make


@pytest.fixture
def console(app: Flask) -> Iterator[Console]:
    """The test's hub served over HTTP on loopback, for the browser."""
    with serve_console(app) as served:
        yield served


@pytest.fixture
def watch(page: Page) -> PageWatch:
    """A watch on ``page``: CSP violations, uncaught errors and dialogs (see PageWatch)."""
    return PageWatch().attach(page)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the screenshots the tests saved (without xdist; under it, see the module docstring)."""
    paths = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "screenshot" and getattr(report, "when", None) == "call"
    ]
    if paths:
        terminalreporter.write_sep("-", "screenshots")
        for path in paths:
            terminalreporter.write_line(path)
