"""People's journeys through the console, in a real Chromium (issue 13, "How it is checked").

Each test serves the suite's app on a fresh database over loopback (``console``), makes the
people it needs, and walks the pages as a person would: through the forms, reading what the
page shows. The API is the witness where a journey has an effect outside the console (a key's
secret works, then is refused). Every page is watched (``watch``): a Content-Security-Policy
violation, an uncaught script error or a dialog fails the journey.

Pages are in Chinese unless a journey switches to English: assertions use the words of the
Chinese catalogue that exist today (登录, 已隐藏, 申请共享 ...), the data the test published, and
the pages' structure (form names, links), never words still waiting for their translation.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import itsdangerous.timed
import pytest
import requests
from flask import Flask
from playwright.sync_api import Locator, Page, Response, ViewportSize, expect

from hub.console import signin
from hub.core.http import city_today
from tests.browser.console_server import Console, PageWatch, fill_sign_in, sign_in
from tests.factories import PROJECT_CODE, parcel_data, project_data

pytestmark = pytest.mark.browser

Publish = Callable[..., Any]
Headers = Callable[..., dict[str, str]]
Screenshot = Callable[..., Path]
SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
PARCEL = "L-1"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 768, "height": 1024}
API_TIMEOUT = 10
# the page frame loads its scripts in <head>; a chart's options are inert JSON in the body
EXECUTABLE_SCRIPTS = "body script:not([type='application/json'])"


# ---------- what the journeys share ----------


@pytest.fixture
def make_admin(make_department: Callable[..., str], make_user: Callable[..., str]) -> str:
    """An administrator of the hub (department ``admin``): username ``wu``."""
    make_department("admin", [], name="Hub administration")
    return make_user("wu", "admin", "admin", display_name="Wu Admin")


@pytest.fixture
def parcel(publish: Publish, project: str) -> str:
    """The project, and a land parcel of it with a transfer price and a rights holder."""
    response = publish("land_parcel", PARCEL, parcel_data())
    assert response.status_code == 201, response.get_data(as_text=True)
    return PARCEL


def main_form(page: Page, action: str) -> Locator:
    """The form of the page's main part that posts to ``action`` (the header's language and
    sign-out forms are not it)."""
    return page.locator(f"main form[method=post][action$='{action}']")


def record_cell(page: Page, type_name: str, column: str) -> Locator:
    """On a project page, the cell of ``column`` in the first row of ``type_name``'s table."""
    table = page.locator(f"section[aria-labelledby='section-{type_name}'] table")
    headers = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    return table.locator("tbody tr").first.locator("th, td").nth(headers.index(column))


def text_of(page: Page) -> str:
    """Everything the page shows, title included."""
    return f"{page.title()}\n{page.locator('body').inner_text()}"


def api_token(console: Console, secret: str) -> requests.Response:
    """Exchange a key's secret for a token, over HTTP, as a department system would."""
    return requests.post(
        console.at("/api/v1/auth/token"),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=API_TIMEOUT,
    )


def city_day(app: Flask, days_from_today: int) -> date:
    """A day of the city's calendar, counted from today."""
    with app.app_context():
        return city_today() + timedelta(days=days_from_today)


def chinese_day(day: date) -> str:
    """A day as the Chinese pages write it."""
    return f"{day.year}年{day.month}月{day.day}日"


# ---------- 0. the watch itself ----------


def test_the_watch_sees_a_blocked_inline_script_and_a_dialog(
    page: Page, console: Console, watch: PageWatch
) -> None:
    page.goto(console.at("/console/sign-in"))
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.ranInline = true";
          document.body.append(script);
        }"""
    )
    expect(page.locator("main h1")).to_have_text("登录")
    assert page.evaluate("window.ranInline === undefined")
    page.evaluate("() => window.alert('caught')")

    assert any("script-src" in violation for violation in watch.violations), watch.violations
    assert watch.dialogs == ["alert: caught"]
    with pytest.raises(AssertionError):
        watch.assert_clean()


# ---------- 1. keys: the secret shown once, revoked, refused ----------


def test_admin_creates_a_department_and_a_key_sees_the_secret_once_then_revokes_it(
    page: Page,
    console: Console,
    make_admin: str,
    watch: PageWatch,
    save_screenshot: Screenshot,
) -> None:
    page.set_viewport_size(DESKTOP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    sign_in(page, console, make_admin)
    expect(page.locator("h1")).to_have_text("首页")
    save_screenshot(page, "journey-1-admin-home")

    page.goto(console.at("/console/departments"))
    form = main_form(page, "/console/departments")
    form.locator("input[name=id]").fill("transport")
    form.locator("input[name=name]").fill("市交通运输局")
    form.locator("input[name=publishes][value=progress_report]").check()
    save_screenshot(page, "journey-1-departments")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(console.at("/console/departments/transport"))
    expect(page.locator(".notice--success")).to_contain_text("transport")
    save_screenshot(page, "journey-1-department")

    page.goto(console.at("/console/keys"))
    form = main_form(page, "/console/keys")
    form.locator("select[name=department]").select_option("transport")
    form.locator("input[name=scopes][value='records:read']").check()
    form.locator("input[name=scopes][value='records:write']").check()
    form.locator("input[name=name]").fill("transport connector")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(console.at("/console/keys/")) + r"[^/]+$"))
    key_url = page.url

    secret = page.locator("#key-secret").inner_text().strip()
    assert len(secret) >= 32, secret
    copy = page.locator("button[data-copy-target=key-secret]")
    expect(copy).to_be_visible()
    expect(copy).to_have_text("复制")
    copy.click()
    expect(copy).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    save_screenshot(page, "journey-1-key-secret-once")

    page.reload()
    expect(page.locator("#key-secret")).to_have_count(0)
    assert secret not in page.content()
    page.goto(console.at("/console/keys"))
    expect(page.locator("main")).to_contain_text("transport connector")
    assert secret not in page.content()
    save_screenshot(page, "journey-1-keys")

    exchanged = api_token(console, secret)
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed = requests.get(
        console.at("/api/v1/records/project"), headers=bearer, timeout=API_TIMEOUT
    )
    assert listed.status_code == 200, listed.text

    page.goto(key_url)
    page.locator(f"main a[href$='{key_url.removeprefix(console.url)}/revoke']").click()
    expect(page).to_have_url(f"{key_url}/revoke")
    save_screenshot(page, "journey-1-key-revoke-confirmation")
    main_form(page, "/revoke").locator("button[type=submit]").click()
    expect(page).to_have_url(key_url)
    expect(page.locator(".notice--success")).to_be_visible()
    expect(page.locator("main .summary-list .tag").first).to_have_text("已撤销")

    refused = api_token(console, secret)
    assert refused.status_code == 401, refused.text
    with_old_token = requests.get(
        console.at("/api/v1/records/project"), headers=bearer, timeout=API_TIMEOUT
    )
    assert with_old_token.status_code == 401, with_old_token.text
    watch.assert_clean()


# ---------- 2. a grant approved with an expiry, and the field shown ----------


def test_land_officer_approves_a_finance_request_and_the_applicant_then_sees_the_field(
    page: Page,
    new_context: Callable[..., Any],
    app: Flask,
    console: Console,
    parcel: str,
    make_user: Callable[..., str],
    watch: PageWatch,
    save_screenshot: Screenshot,
) -> None:
    make_user("fang", "finance", "officer")
    make_user("lin", "land", "officer")
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, "fang")

    page.goto(console.at("/console/projects"))
    page.locator(f"main a[href$='/console/projects/{PROJECT_CODE}']").click()
    expect(page).to_have_url(console.at(f"/console/projects/{PROJECT_CODE}"))
    price = record_cell(page, "land_parcel", "transfer_price")
    expect(price).to_contain_text("已隐藏")
    expect(record_cell(page, "land_parcel", "rights_holder")).to_contain_text("已隐藏")
    request_link = price.get_by_role("link", name="申请共享")
    save_screenshot(page, "journey-2-project-withheld")

    request_link.click()
    expect(page).to_have_url(re.compile(r"/console/grants/new\?.*fields=transfer_price"))
    form = main_form(page, "/console/grants/new")
    expect(form.locator("input[name=type]")).to_have_value("land_parcel")
    expect(form.locator("input[name=fields][value=transfer_price]")).to_be_checked()
    for other in form.locator("input[name=fields]:not([value=transfer_price])").all():
        expect(other).not_to_be_checked()
    form.locator("textarea[name=purpose]").fill("核对土地出让金拨付")
    save_screenshot(page, "journey-2-grant-request-form")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/grants/\d+$"))
    grant_path = page.url.removeprefix(console.url)
    expect(page.locator("h1 .tag")).to_have_text("待审批")

    officer = new_context().new_page()
    officer.set_viewport_size(DESKTOP)
    land = PageWatch().attach(officer)
    sign_in(officer, console, "lin")
    officer.goto(console.at("/console/grants"))
    waiting = officer.locator("main table").first.locator("tbody tr", has_text="transfer_price")
    expect(waiting.locator(".countdown")).to_be_visible()
    save_screenshot(officer, "journey-2-grants-inbox")
    waiting.locator(f"a[href$='{grant_path}']").click()
    expect(officer).to_have_url(console.at(grant_path))
    expect(officer.locator("main")).to_contain_text("核对土地出让金拨付")
    last_day = city_day(app, 30)
    approve = main_form(officer, f"{grant_path}/approve")
    approve.locator("input[name=expires_at]").fill(last_day.isoformat())
    approve.locator("button[type=submit]").click()
    expect(officer).to_have_url(console.at(grant_path))
    expect(officer.locator(".notice--success")).to_be_visible()
    expect(officer.locator("h1 .tag")).to_have_text("已批准")
    expect(officer.locator("main .summary-list")).to_contain_text(chinese_day(last_day))
    save_screenshot(officer, "journey-2-grant-approved")

    page.goto(console.at(f"/console/projects/{PROJECT_CODE}"))
    price = record_cell(page, "land_parcel", "transfer_price")
    expect(price).to_have_text(re.compile(r"^\s*1,200\.5\d*\s*$"))
    expect(price.locator(".withheld")).to_have_count(0)
    expect(record_cell(page, "land_parcel", "rights_holder")).to_contain_text("已隐藏")
    save_screenshot(page, "journey-2-project-granted")
    watch.assert_clean()
    land.assert_clean()


# ---------- 3. another department's officer: no admin pages, no restricted values ----------

ADMIN_PAGES = ("/console/departments", "/console/keys", "/console/users", "/console/audit")


def test_officer_of_another_department_gets_403_on_admin_pages_and_never_sees_restricted_values(
    page: Page,
    console: Console,
    publish: Publish,
    parcel: str,
    make_user: Callable[..., str],
    watch: PageWatch,
    save_screenshot: Screenshot,
) -> None:
    changed = parcel_data(rights_holder="Metro Group Holdings", area_mu=90.5)
    assert publish("land_parcel", PARCEL, changed).status_code == 200
    make_user("fang", "finance", "officer")
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, "fang")

    menu = page.locator("nav.site-nav")
    expect(menu).to_be_visible()
    for path in ADMIN_PAGES:
        expect(menu.locator(f"a[href='{path}']")).to_have_count(0)
        response = page.goto(console.at(path))
        assert response is not None
        assert response.status == 403, path
        assert_secure_headers(response)
        expect(page.locator("main h1")).to_have_text("您无权访问此页面")
        expect(page.locator("main")).to_contain_text("403")
    save_screenshot(page, "journey-3-forbidden")

    page.goto(console.at("/console/projects"))
    assert "Metro Group" not in text_of(page)
    page.goto(console.at(f"/console/projects/{PROJECT_CODE}"))
    holder = record_cell(page, "land_parcel", "rights_holder")
    expect(holder).to_contain_text("已隐藏")
    expect(holder.get_by_role("link")).to_have_count(0)  # restricted: never granted
    expect(record_cell(page, "land_parcel", "area_mu")).to_contain_text("90.5")
    assert "Metro Group" not in text_of(page)

    page.locator("section[aria-labelledby='section-land_parcel'] a.record-history-link").click()
    expect(page).to_have_url(console.at(f"/console/records/land_parcel/{PARCEL}/history"))
    expect(page.locator("article.version")).to_have_count(2)
    assert "Metro Group" not in text_of(page)
    expect(page.locator(".changed-name", has_text="area_mu")).to_have_count(1)
    expect(page.locator(".changed-name", has_text="rights_holder")).to_have_count(0)
    save_screenshot(page, "journey-3-history")

    page.goto(console.at("/console/grants/new?type=land_parcel&fields=rights_holder"))
    expect(page.locator("main input[name=fields][value=rights_holder]")).to_have_count(0)
    watch.assert_clean()


# ---------- 4. a form without its CSRF token ----------


@pytest.mark.parametrize("token", ["removed", "forged"])
def test_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    token: str,
    page: Page,
    console: Console,
    make_admin: str,
    watch: PageWatch,
) -> None:
    sign_in(page, console, make_admin)
    page.goto(console.at("/console/departments"))
    form = main_form(page, "/console/departments")
    form.locator("input[name=id]").fill("rogue")
    form.locator("input[name=name]").fill("Rogue bureau")
    if token == "removed":
        form.evaluate("form => form.querySelector('input[name=csrf_token]').remove()")
    else:
        form.locator("input[name=csrf_token]").evaluate("input => { input.value = 'forged' }")
    expect(form.locator("input[name=csrf_token]")).to_have_count(0 if token == "removed" else 1)

    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.status == 400
    assert_secure_headers(posted.value)
    expect(page.locator("main")).to_contain_text("400")
    expect(page.locator("main form")).to_have_count(0)

    page.goto(console.at("/console/departments"))
    expect(page.locator("main table")).not_to_contain_text("rogue")
    response = page.goto(console.at("/console/departments/rogue"))
    assert response is not None
    assert response.status == 404
    watch.assert_clean()


# ---------- 5. an idle session ----------


class Clock:
    """``time`` for the modules that tell a session's age: the real clock, moved on by
    ``ahead`` seconds."""

    def __init__(self, real: Callable[[], float]) -> None:
        self.real = real
        self.ahead = 0.0

    def time(self) -> float:
        return self.real() + self.ahead


class TestIdleSession:
    """A session idle past CONSOLE_IDLE_MINUTES (here one minute) is over.

    Time passes for the served console only: ``clock`` moves the two clocks that tell a
    session's age, when the user was last seen (``hub.console.signin``) and how old the signed
    session cookie is (itsdangerous, which Flask's sessions sign with). Both move together, as
    after a real idle hour, so the cookie's own expiry is part of the journey."""

    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Sessions end after one idle minute."""
        return {**settings, "CONSOLE_IDLE_MINUTES": 1}

    @pytest.fixture
    def clock(self, monkeypatch: pytest.MonkeyPatch) -> Clock:
        """The served console's clock of sessions (the server is a thread of this process,
        so the patch reaches it)."""
        clock = Clock(time.time)
        monkeypatch.setattr(signin, "time", clock)
        monkeypatch.setattr(itsdangerous.timed, "time", clock)
        return clock

    def test_session_past_the_idle_limit_is_sent_to_sign_in_told_why_and_back_afterwards(
        self,
        page: Page,
        console: Console,
        make_user: Callable[..., str],
        clock: Clock,
        watch: PageWatch,
    ) -> None:
        make_user("lin", "land", "officer")
        sign_in(page, console, "lin")

        clock.ahead = 50  # active within the minute: still signed in, and seen again
        page.goto(console.at("/console/projects"))
        expect(page).to_have_url(console.at("/console/projects"))
        clock.ahead = 100  # 50 s after the last request: still within the minute
        page.goto(console.at("/console/grants"))
        expect(page).to_have_url(console.at("/console/grants"))

        clock.ahead = 100 + 61
        page.goto(console.at("/console/projects?q=2503"))
        expect(page).to_have_url(re.compile(r"/console/sign-in\?next=.*projects"))
        expect(page.locator("main form[action$='/console/sign-in']")).to_be_visible()
        expect(page.locator("nav.site-nav")).to_have_count(0)
        told_why = page.locator(".flash-messages").count()

        fill_sign_in(page, "lin")
        expect(page).to_have_url(console.at("/console/projects?q=2503"))
        watch.assert_clean()
        # hub.console.signin.load_user says "Your session ended after a time without
        # activity"; the person must be told, not just find the sign-in page
        assert told_why == 1, "the sign-in page does not say that the session ended"

    def test_form_sent_past_the_idle_limit_is_sent_to_sign_in_and_changes_nothing(
        self,
        page: Page,
        console: Console,
        parcel: str,
        make_user: Callable[..., str],
        clock: Clock,
        watch: PageWatch,
    ) -> None:
        make_user("fang", "finance", "officer")
        sign_in(page, console, "fang")
        page.goto(console.at("/console/grants/new?type=land_parcel&fields=transfer_price"))
        form = main_form(page, "/console/grants/new")
        form.locator("textarea[name=purpose]").fill("核对土地出让金拨付")

        clock.ahead = 61
        with page.expect_response(lambda response: response.request.method == "POST") as sent:
            form.locator("button[type=submit]").click()
        assert sent.value.status in (302, 303), (
            f"a form sent past the idle limit answered {sent.value.status}, "
            "not a redirect to sign-in"
        )
        expect(page).to_have_url(re.compile(r"/console/sign-in"))

        fill_sign_in(page, "fang")
        page.goto(console.at("/console/grants?box=outbox"))
        expect(page.locator("main table")).to_have_count(0)
        watch.assert_clean()

    def test_sign_in_page_left_open_past_the_idle_limit_still_signs_the_person_in(
        self,
        page: Page,
        console: Console,
        make_user: Callable[..., str],
        clock: Clock,
        watch: PageWatch,
    ) -> None:
        make_user("lin", "land", "officer")
        page.goto(console.at("/console/sign-in"))

        clock.ahead = 61
        with page.expect_response(lambda response: response.request.method == "POST") as sent:
            fill_sign_in(page, "lin")
        assert sent.value.status != 400, (
            "a sign-in page left open past the idle limit refuses the sign-in (400 page)"
        )
        if page.url != console.at("/console/"):  # or asked again, with a fresh form
            fill_sign_in(page, "lin")
        expect(page).to_have_url(console.at("/console/"))
        watch.assert_clean()


# ---------- 6. the English switch ----------


def test_pages_are_chinese_by_default_and_the_english_switch_works_both_ways(
    page: Page, console: Console, make_user: Callable[..., str], watch: PageWatch
) -> None:
    make_user("lin", "land", "officer")
    html = page.locator("html")
    switch = page.locator("form.language-switch")

    page.goto(console.at("/console/"))
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_have_text("登录")

    switch.locator("button[value=en]").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Sign in")
    expect(page.locator("main form label[for=field-username]")).to_have_text("Username")

    fill_sign_in(page, "lin")  # the choice survives signing in
    expect(page).to_have_url(console.at("/console/"))
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Home")
    expect(page.locator("header")).to_contain_text("Sign out")

    page.goto(console.at("/console/projects"))
    switch.locator("button[value=zh_Hans_CN]").click()
    expect(page).to_have_url(console.at("/console/projects"))  # back where it was
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("header")).to_contain_text("退出")
    expect(switch.locator("button[value=zh_Hans_CN]")).to_have_attribute("aria-current", "true")
    watch.assert_clean()


# ---------- 7. security headers, cookie flags, and no CSP violation ----------


def assert_secure_headers(response: Response) -> None:
    headers = response.all_headers()
    policy = headers.get("content-security-policy", "")
    assert policy, f"no CSP on {response.url}"
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    for sources in directives.values():
        assert "'unsafe-inline'" not in sources, policy
        assert "'unsafe-eval'" not in sources, policy
    assert directives.get("frame-ancestors") == ["'none'"], policy
    assert directives.get("script-src") == ["'self'"], policy
    assert directives.get("default-src") == ["'none'"], policy
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin")
    assert headers.get("x-content-type-options") == "nosniff"


def test_every_console_response_carries_the_security_headers_and_the_cookie_its_flags(
    page: Page,
    console: Console,
    parcel: str,
    make_admin: str,
    watch: PageWatch,
) -> None:
    seen: list[Response] = []
    page.on("response", lambda response: seen.append(response))

    page.goto(console.at("/console/sign-in"))
    with page.expect_response(
        lambda response: response.request.method == "POST" and "/sign-in" in response.url
    ) as signed_in:
        fill_sign_in(page, make_admin)
    cookie_header = signed_in.value.header_value("set-cookie") or ""
    assert "hub_console=" in cookie_header
    flags = {flag.strip().split("=")[0].lower(): flag.strip() for flag in cookie_header.split(";")}
    assert "httponly" in flags
    assert flags.get("samesite") == "SameSite=Lax"
    assert flags.get("path") == "Path=/console"
    # plain HTTP on loopback is a developer's hub: CONSOLE_SECURE_COOKIES "auto" leaves Secure off
    assert "secure" not in flags
    (cookie,) = [cookie for cookie in page.context.cookies() if cookie["name"] == "hub_console"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/console"

    for path in (
        "/console/",
        "/console/projects",
        f"/console/projects/{PROJECT_CODE}",
        f"/console/records/land_parcel/{PARCEL}/history",
        "/console/grants",
        "/console/departments",
        "/console/keys",
        "/console/users",
        "/console/audit",
        "/console/connectors",
        "/console/no-such-page",
        "/console/projects/2599-330102-04-01-0000AA",
    ):
        page.goto(console.at(path))
        expect(page.locator("main h1")).to_be_visible()

    console_responses = [r for r in seen if r.url.startswith(console.at("/console/"))]
    assert len(console_responses) > 12
    assert any("/console/static/" in response.url for response in console_responses)
    for response in console_responses:
        assert_secure_headers(response)
    documents = [r for r in console_responses if r.request.resource_type == "document"]
    for response in documents:
        assert response.all_headers().get("cache-control") == "no-store", response.url

    api = requests.get(console.at("/api/v1/types"), timeout=API_TIMEOUT)
    assert "set-cookie" not in {name.lower() for name in api.headers}
    watch.assert_clean()


# ---------- 8. a stored script renders inert ----------


@pytest.fixture
def poisoned(publish: Publish, parcel: str) -> str:
    """The project renamed and described with script payloads (a second version), in its
    milestones and task force too."""
    data = project_data(
        name=SCRIPT,
        description=IMAGE,
        responsible_leader={"name": SCRIPT, "title": IMAGE},
        milestones=[{"name": IMAGE, "planned_date": "2026-06-30", "status": "pending"}],
        task_force=[{"name": SCRIPT, "department": "land", "role": "lead"}],
    )
    response = publish("project", PROJECT_CODE, data)
    assert response.status_code == 200, response.get_data(as_text=True)
    return PROJECT_CODE


def assert_inert(page: Page, where: Locator | None = None) -> None:
    """The payloads are shown as text, and made no element."""
    shown = where or page.locator("main")
    expect(shown).to_contain_text(SCRIPT)
    expect(page.locator("img[src=x]")).to_have_count(0)
    expect(page.locator("img[onerror]")).to_have_count(0)
    assert page.locator(EXECUTABLE_SCRIPTS).count() == 0


def test_script_payloads_stored_in_a_record_render_inert_wherever_they_are_shown(
    page: Page,
    new_context: Callable[..., Any],
    client: Any,
    headers: Headers,
    console: Console,
    poisoned: str,
    make_user: Callable[..., str],
    watch: PageWatch,
    save_screenshot: Screenshot,
) -> None:
    make_user("fang", "finance", "officer")
    make_user("lin", "land", "officer")
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, "fang")

    page.goto(console.at("/console/projects"))
    assert_inert(page)
    page.goto(console.at(f"/console/projects?q={SCRIPT}"))  # reflected, not stored
    expect(page.locator("main input[name=q]")).to_have_value(SCRIPT)
    assert page.locator(EXECUTABLE_SCRIPTS).count() == 0

    page.goto(console.at(f"/console/projects/{poisoned}"))
    assert page.title().startswith(SCRIPT)
    assert_inert(page)
    expect(page.locator("main h1")).to_have_text(SCRIPT)
    expect(page.locator("main .project-description")).to_have_text(IMAGE)
    expect(page.locator("main .timeline")).to_contain_text(IMAGE)
    save_screenshot(page, "journey-8-project-payloads")

    page.locator("main a[href$='/console/records/project/" + poisoned + "/history']").first.click()
    expect(page).to_have_url(re.compile(r"/console/records/project/.+/history$"))
    assert_inert(page, page.locator("article.version").first)
    expect(page.locator("article.version").first).to_contain_text(IMAGE)
    expect(page.locator("article.version").first.locator(".changed-name")).to_contain_text(["name"])

    applied = client.post(
        "/api/v1/grants",
        json={"type": "land_parcel", "fields": ["transfer_price"], "purpose": SCRIPT + IMAGE},
        headers=headers("finance", ["grants", "records:read"]),
    )
    assert applied.status_code == 201, applied.get_data(as_text=True)
    officer = new_context().new_page()
    land = PageWatch().attach(officer)
    sign_in(officer, console, "lin")
    officer.goto(console.at("/console/grants"))
    expect(officer.locator("main table").first).to_contain_text(SCRIPT)
    officer.goto(console.at(f"/console/grants/{applied.json['id']}"))
    assert_inert(officer)
    expect(officer.locator("main")).to_contain_text(IMAGE)

    watch.assert_clean()
    land.assert_clean()


# ---------- 9. screenshots of the main pages ----------


@pytest.fixture
def city(
    app: Flask,
    client: Any,
    publish: Publish,
    headers: Headers,
    parcel: str,
    make_admin: str,
    make_user: Callable[..., str],
) -> None:
    """A small city: the project with milestones and a task force, a second project, parcels,
    a pending request from finance, a land subscription, connector runs, people."""
    today = city_day(app, 0)
    published = publish(
        "project",
        PROJECT_CODE,
        project_data(
            name="城市轨道交通3号线一期工程",
            description="线路全长 22.6 公里，设车站 18 座。",
            milestones=[
                {
                    "name": "可行性研究批复",
                    "planned_date": "2025-03-31",
                    "actual_date": "2025-04-20",
                    "status": "done",
                },
                {
                    "name": "主体结构封顶",
                    "planned_date": (today - timedelta(days=12)).isoformat(),
                    "status": "pending",
                },
                {"name": "全线通车", "planned_date": "2029-12-31", "status": "pending"},
            ],
            task_force=[
                {"name": "王立", "department": "ndrc", "role": "lead"},
                {"name": "林芳", "department": "land", "role": "member"},
            ],
        ),
    )
    assert published.status_code == 200, published.get_data(as_text=True)
    other = publish(
        "project",
        "2504-330106-03-02-2M8X4D",
        project_data(name="西溪湿地生态保护提升工程", category="culture_tourism", stage="reserve"),
    )
    assert other.status_code == 201, other.get_data(as_text=True)
    second = publish("land_parcel", "L-2", parcel_data(supply_status="acquiring", area_mu=12.75))
    assert second.status_code == 201, second.get_data(as_text=True)

    applied = client.post(
        "/api/v1/grants",
        json={
            "type": "land_parcel",
            "fields": ["transfer_price"],
            "purpose": "核对土地出让金拨付进度，编制年度资金计划。",
        },
        headers=headers("finance", ["grants", "records:read"]),
    )
    assert applied.status_code == 201, applied.get_data(as_text=True)
    subscribed = client.post(
        "/api/v1/subscriptions",
        json={"types": ["project"]},
        headers=headers("land", ["subscriptions", "records:read"]),
    )
    assert subscribed.status_code == 201, subscribed.get_data(as_text=True)
    started = datetime.now(UTC).replace(microsecond=0)
    for hours, status in ((3, "succeeded"), (2, "succeeded"), (1, "failed")):
        run = {
            "run_id": str(uuid.uuid4()),
            "status": status,
            "started_at": (started - timedelta(hours=hours)).isoformat(),
            "finished_at": (started - timedelta(hours=hours, minutes=-4)).isoformat(),
            "read": 120,
            "published": 30,
            "unchanged": 85,
            **({"error": "Upstream answered 503."} if status == "failed" else {}),
        }
        reported = client.post(
            "/api/v1/connectors/land-parcels/runs",
            json=run,
            headers=headers("land", ["records:write"]),
        )
        assert reported.status_code == 201, reported.get_data(as_text=True)
    make_user("lin", "land", "officer", display_name="林芳")
    make_user("chen", "ndrc", "viewer", display_name="陈华")


@pytest.fixture
def shoot(save_screenshot: Screenshot) -> Callable[[Page, str, str], None]:
    """Open a page and save its screenshot as ``console-<name>-<width>x<height>``."""

    def take(page: Page, path: str, name: str) -> None:
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 200, path
        expect(page.locator("main h1")).to_be_visible()
        size = page.viewport_size or DESKTOP
        save_screenshot(page, f"console-{name}-{size['width']}x{size['height']}")

    return take


def test_screenshots_of_the_main_pages(
    page: Page,
    new_context: Callable[..., Any],
    console: Console,
    city: None,
    make_admin: str,
    watch: PageWatch,
    shoot: Callable[[Page, str, str], None],
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, console, make_admin)
    for path, name in (
        ("/console/", "home"),
        ("/console/projects", "projects"),
        (f"/console/projects/{PROJECT_CODE}", "project"),
        (f"/console/records/land_parcel/{PARCEL}/history", "history"),
        ("/console/departments", "departments"),
        ("/console/keys", "keys"),
        ("/console/users", "users"),
        ("/console/audit", "audit"),
        ("/console/connectors", "connectors"),
    ):
        shoot(page, console.at(path), name)

    officer = new_context(viewport=DESKTOP).new_page()
    land = PageWatch().attach(officer)
    sign_in(officer, console, "lin")
    shoot(officer, console.at("/console/grants"), "grants-inbox")
    shoot(officer, console.at("/console/subscriptions"), "subscriptions")
    shoot(officer, console.at(f"/console/projects/{PROJECT_CODE}"), "project-officer")

    tablet = new_context(viewport=TABLET).new_page()
    tablet_watch = PageWatch().attach(tablet)
    sign_in(tablet, console, "lin")
    shoot(tablet, console.at(f"/console/projects/{PROJECT_CODE}"), "project")
    shoot(tablet, console.at("/console/grants"), "grants-inbox")

    watch.assert_clean()
    land.assert_clean()
    tablet_watch.assert_clean()
