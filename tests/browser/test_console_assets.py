"""console.js and the vendored ECharts, in Chromium, under the console's CSP (no 'unsafe-inline').

The page is a fixed HTML file using the same markup as the console's macros, served with the
real files of hub/console/static, so the script is tested apart from the views.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, send_from_directory
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from connectors.simulators import ServedApp

pytestmark = pytest.mark.browser

PAGES = Path(__file__).resolve().parent / "pages"
STATIC = Path(__file__).resolve().parents[2] / "hub" / "console" / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture
def assets_site() -> Iterator[str]:
    """The test page and hub/console/static, served on loopback under the console's CSP."""
    site = Flask(__name__, static_folder=str(STATIC), static_url_path="/console/static")

    @site.get("/")
    def index() -> Response:
        return send_from_directory(PAGES, "console_assets.html")

    @site.post("/revoked")
    def revoked() -> str:
        return "revoked"

    @site.after_request
    def policy(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        return response

    with ServedApp(site) as served:
        yield served.url


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Errors the page logs, CSP violations included."""
    errors: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(REPORT_VIOLATIONS)
    return errors


def test_chart_is_drawn_as_svg_and_its_tooltip_respects_the_csp(
    page: Page,
    assets_site: str,
    console_errors: list[str],
    save_screenshot: Callable[..., Path],
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(assets_site)

    chart = page.locator("#status-chart")
    expect(chart).to_have_attribute("data-chart-state", "drawn")
    expect(chart.locator("svg")).to_have_count(1)
    expect(chart).to_have_attribute("aria-label", "各区项目状态分布")
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.6)
    expect(chart.get_by_text("上城区").first).to_be_visible()

    save_screenshot(page, "console-assets-chart")
    assert console_errors == []


def test_copy_button_copies_the_secret_and_says_so(
    new_context: Callable[..., Any], assets_site: str
) -> None:
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(assets_site)

    button = page.get_by_role("button", name="复制")
    button.click()

    expect(button).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == (
        "hubk_3f9a2c7e1b4d8f6a0e5c9b2d7f1a4e8c"
    )


def test_confirmation_refused_keeps_the_form_unsent(page: Page, assets_site: str) -> None:
    asked: list[str] = []

    def refuse(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.goto(assets_site)

    page.get_by_role("button", name="撤销").click()

    assert asked == ["确定撤销吗？"]
    expect(page).to_have_url(assets_site + "/")


def test_confirmation_accepted_sends_the_form(page: Page, assets_site: str) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(assets_site)

    page.get_by_role("button", name="撤销").click()

    expect(page).to_have_url(assets_site + "/revoked")


def test_without_javascript_the_copy_button_hides_and_the_chart_explains(
    new_context: Callable[..., Any], assets_site: str
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(assets_site)

    expect(page.get_by_role("button", name="复制")).to_be_hidden()
    expect(page.locator("#new-secret")).to_be_visible()
    expect(page.locator(".chart__fallback")).to_be_visible()
