"""The hub served over HTTP on loopback for the browser, and what a journey through the
console needs: signing in through the form, and a watch on what a page must never do.

The app is the suite's ``app`` (one fresh database per test), served by werkzeug in a thread
of the test's own process: a test can publish through the Flask test client, drive Chromium
against the served URL, and monkeypatch what the server's code reads (its clock, say).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from connectors.simulators import ServedApp

# the password of every user the browser tests make (tests.console.conftest.PASSWORD)
PASSWORD = "correct horse battery staple"
# a policy violation shows in the page's console, where the watch below reads it
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
"""
CSP_MARKERS = ("CSP violation", "Content Security Policy")


@dataclass(frozen=True)
class Console:
    """The served hub: ``url`` is its origin, e.g. ``http://127.0.0.1:40123``."""

    url: str

    def at(self, path: str) -> str:
        """The absolute URL of ``path`` (``/console/projects``)."""
        return f"{self.url}{path}"


@contextmanager
def serve_console(app: Flask) -> Iterator[Console]:
    """Serve ``app`` on a free loopback port until the block ends."""
    with ServedApp(app) as served:
        yield Console(served.url)


@dataclass
class PageWatch:
    """What a page did that it never should: breach its Content-Security-Policy, throw an
    uncaught error, or open a dialog (``alert(1)`` of a stored script). Dialogs are dismissed
    at once, so that a journey goes on and its assertions say what happened."""

    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> PageWatch:
        """Watch ``page`` from its next navigation on."""
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        return self

    def _console(self, message: ConsoleMessage) -> None:
        # "Failed to load resource: ... 403" is the browser noting an error page it was
        # shown on purpose; only policy breaches count here
        if message.type == "error" and any(marker in message.text for marker in CSP_MARKERS):
            self.violations.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        """Fail on any policy breach, uncaught error or dialog seen so far."""
        assert self.violations == [], f"CSP violations: {self.violations}"
        assert self.errors == [], f"page errors: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"


def sign_in(page: Page, console: Console, username: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in form, and land on the console's home page."""
    page.goto(console.at("/console/sign-in"))
    fill_sign_in(page, username, password)
    expect(page).to_have_url(console.at("/console/"))


def fill_sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in form of the page shown."""
    form = page.locator("main form[action$='/console/sign-in']")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
