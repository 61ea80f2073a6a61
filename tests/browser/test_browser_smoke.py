"""The browser toolchain works: the system's Chromium, driven by Playwright, over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, send_from_directory
from playwright.sync_api import ConsoleMessage, Page, expect

from connectors.simulators import ServedApp

pytestmark = pytest.mark.browser

PAGES = Path(__file__).resolve().parent / "pages"
CSP = "default-src 'none'; script-src 'self'"


@pytest.fixture
def smoke_site() -> Iterator[str]:
    """A static page and its script, served on loopback under a CSP without 'unsafe-inline'."""
    site = Flask(__name__, static_folder=None)

    @site.get("/")
    def index() -> Response:
        return send_from_directory(PAGES, "smoke.html")

    @site.get("/smoke.js")
    def script() -> Response:
        return send_from_directory(PAGES, "smoke.js")

    @site.get("/favicon.ico")
    def icon() -> tuple[str, int]:
        return "", 204

    @site.after_request
    def policy(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        return response

    with ServedApp(site) as served:
        yield served.url


def test_chromium_runs_the_page_script_and_takes_a_screenshot(
    page: Page, smoke_site: str, save_screenshot: Callable[..., Path]
) -> None:
    errors: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", note)
    page.goto(smoke_site)

    page.get_by_role("button", name="点击").click()

    expect(page.locator("#greeting")).to_have_text("你好，Mozilla/5.0")
    path = save_screenshot(page, "browser-smoke")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert errors == []
