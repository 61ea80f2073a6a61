"""The console's subscriptions pages: an officer sees the department's subscriptions and how
far behind each is, the delivery attempts with their response codes, and pauses, resumes
and replays them, audited like the API with the person as actor."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.audit.entries import AuditFilter, list_entries
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.core.http import city_today
from hub.events import follow, notify
from hub.events import log as events_log
from hub.subscriptions.dispatcher import Dispatcher
from tests.console.conftest import Browser
from tests.factories import PROJECT_CODE, parcel_data
from tests.receiver import Receiver, Reply
from tests.webhooks.helpers import eventually, one_round

SUBSCRIPTIONS = "/api/v1/subscriptions"
SUBSCRIBER = ["subscriptions", "records:read"]
PAGE = "/console/subscriptions"
Headers = Callable[..., dict[str, str]]
Publish = Callable[..., Any]


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Webhooks to loopback allowed, retried at once."""
    return {
        **settings,
        "WEBHOOK_ALLOW_HTTP": True,
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"],
        "WEBHOOK_RETRY_SCHEDULE": [0.05, 0.05, 0.05],
        "WEBHOOK_RETRY_JITTER": 0,
        "WEBHOOK_TIMEOUT": 2.0,
    }


@pytest.fixture
def officer(signed_in: Callable[..., Browser]) -> Browser:
    """The land department's officer, signed in as ``officer-land``, reading English."""
    visitor = signed_in("land", "officer")
    visitor.get("/console/")
    assert visitor.post("/console/language", {"locale": "en"}).status_code == 302
    return visitor


@pytest.fixture
def subscribe(client: FlaskClient, headers: Headers) -> Callable[..., dict[str, Any]]:
    """Create a subscription through the API as a department (land unless told)."""

    def create(department: str = "land", **body: Any) -> dict[str, Any]:
        response = client.post(
            SUBSCRIPTIONS,
            json={"types": ["land_parcel"], **body},
            headers=headers(department, SUBSCRIBER),
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        created: dict[str, Any] = response.json
        return created

    return create


@pytest.fixture
def shown(client: FlaskClient, headers: Headers) -> Callable[..., dict[str, Any]]:
    """A subscription as the API shows it to land."""

    def get(subscription_id: int) -> dict[str, Any]:
        response = client.get(
            f"{SUBSCRIPTIONS}/{subscription_id}", headers=headers("land", SUBSCRIBER)
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        found: dict[str, Any] = response.json
        return found

    return get


@pytest.fixture
def driven(app: Flask) -> Iterator[Dispatcher]:
    """A dispatcher that is not started: the test runs its rounds."""
    dispatcher = Dispatcher(app, name="console-test")
    yield dispatcher
    dispatcher.stop()
    notify.notifier(app).close()


def number_events(app: Flask) -> None:
    """Give committed changes their sequence numbers, as a dispatcher or the feed would."""
    with app.app_context():
        follow.catch_up()


def text_of(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def row_of(page: str, subscription_id: int) -> str:
    """The list's table row of one subscription."""
    link = f'href="/console/subscriptions/{subscription_id}"'
    for row in re.findall(r"<tr.*?</tr>", page, re.S):
        if link in row:
            return str(row)
    raise AssertionError(f"no row for subscription {subscription_id}")


def cells(row: str) -> list[str]:
    """The text of each cell of a table row, tags and extra spaces removed."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in found]


def audited(app: Flask, action: str) -> list[Any]:
    with app.app_context():
        entries, _ = list_entries(db.session, AuditFilter(action=action), 10)
        return entries


def test_the_list_shows_each_subscription_with_its_lag_behind_the_log(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
) -> None:
    created = subscribe(filter={"project_code": PROJECT_CODE})
    for key in ("L-1", "L-2", "L-3"):
        assert publish("land_parcel", key, parcel_data()).status_code == 201
    number_events(app)

    page = officer.get(PAGE)

    assert page.status_code == 200
    name, types, filter_, status, cursor, lag, endpoint = cells(
        row_of(text_of(page), created["id"])
    )
    assert (name, types, filter_) == (
        f"No. {created['id']} Pull",
        "land_parcel",
        f"project_code = {PROJECT_CODE}",
    )
    assert status == "Active"
    assert (int(cursor), int(lag)) == (created["cursor"], 3)
    assert "pulls" in endpoint


def test_a_webhook_shows_its_endpoint_without_the_query_string_and_never_its_secret(
    officer: Browser, subscribe: Callable[..., dict[str, Any]]
) -> None:
    created = subscribe(endpoint_url="http://127.0.0.1:9/hooks/land?token=hush-hush-123")

    listing = text_of(officer.get(PAGE))
    detail = text_of(officer.get(f"{PAGE}/{created['id']}"))

    for body in (listing, detail):
        assert "http://127.0.0.1:9/hooks/land" in body
        assert "hush-hush-123" not in body
        assert created["secret"] not in body
        assert "whsec_" not in body
    assert "Webhook" in cells(row_of(listing, created["id"]))[0]


def test_another_departments_subscription_is_not_found(
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    client: FlaskClient,
    headers: Headers,
) -> None:
    theirs = subscribe("finance")

    assert f'href="{PAGE}/{theirs["id"]}"' not in text_of(officer.get(PAGE))
    assert officer.get(f"{PAGE}/{theirs['id']}").status_code == 404
    assert officer.get(f"{PAGE}/{theirs['id']}/pause").status_code == 404
    officer.get(PAGE)
    assert officer.post(f"{PAGE}/{theirs['id']}/pause").status_code == 404
    assert officer.post(f"{PAGE}/{theirs['id']}/replay", {"after": "0"}).status_code == 404
    still = client.get(f"{SUBSCRIPTIONS}/{theirs['id']}", headers=headers("finance", SUBSCRIBER))
    assert still.json["status"] == "active"


@pytest.mark.parametrize("role", ["viewer", "admin", "office"])
def test_a_role_without_the_subscriptions_scope_gets_403(
    signed_in: Callable[..., Browser], subscribe: Callable[..., dict[str, Any]], role: str
) -> None:
    created = subscribe()
    visitor = signed_in("land", role)

    assert visitor.get(PAGE).status_code == 403
    assert visitor.get(f"{PAGE}/{created['id']}").status_code == 403
    visitor.get("/console/")
    assert visitor.post(f"{PAGE}/{created['id']}/pause").status_code == 403
    assert f'href="{PAGE}"' not in text_of(visitor.get("/console/"))


def test_pausing_asks_for_confirmation_then_pauses_through_the_service(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
) -> None:
    created = subscribe()
    detail = text_of(officer.get(f"{PAGE}/{created['id']}"))
    assert f'href="{PAGE}/{created["id"]}/pause"' in detail

    confirmation = officer.get(f"{PAGE}/{created['id']}/pause")
    assert confirmation.status_code == 200
    assert shown(created["id"])["status"] == "active"  # opening the page changes nothing

    done = officer.post(f"{PAGE}/{created['id']}/pause")

    assert done.status_code == 302
    assert done.headers["Location"] == f"{PAGE}/{created['id']}"
    assert shown(created["id"])["status"] == "paused"
    after = text_of(officer.get(f"{PAGE}/{created['id']}"))
    assert "is paused" in after
    assert "Paused by the subscriber." in after
    (entry,) = audited(app, "subscription.pause")
    assert (entry.actor, entry.target, entry.outcome) == (
        "user:officer-land",
        f"subscription/{created['id']}",
        200,
    )


def test_resume_makes_a_paused_subscription_active_again(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
) -> None:
    created = subscribe()
    officer.get(f"{PAGE}/{created['id']}/pause")
    officer.post(f"{PAGE}/{created['id']}/pause")
    detail = text_of(officer.get(f"{PAGE}/{created['id']}"))
    assert f'action="{PAGE}/{created["id"]}/resume"' in detail

    done = officer.post(f"{PAGE}/{created['id']}/resume")

    assert done.status_code == 302
    assert shown(created["id"])["status"] == "active"
    (entry,) = audited(app, "subscription.resume")
    assert entry.actor == "user:officer-land"


def test_replay_after_0_moves_the_cursor_back_to_the_start(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
) -> None:
    publish("land_parcel", "L-1", parcel_data())
    created = subscribe()
    assert created["cursor"] == 2
    form = officer.get(f"{PAGE}/{created['id']}/replay")
    assert form.status_code == 200

    done = officer.post(f"{PAGE}/{created['id']}/replay", {"after": "0"})

    assert done.status_code == 302, text_of(done)
    now = shown(created["id"])
    assert (now["cursor"], now["lag"], now["status"]) == (0, 2, "active")
    (entry,) = audited(app, "subscription.replay")
    assert (entry.actor, entry.details["after"]) == ("user:officer-land", 0)


def test_replay_since_a_day_starts_after_the_last_event_before_it(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
) -> None:
    publish("land_parcel", "L-1", parcel_data())
    created = subscribe()
    officer.get(f"{PAGE}/{created['id']}/replay")

    with app.app_context():
        today = city_today()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert officer.post(f"{PAGE}/{created['id']}/replay", {"since": tomorrow}).status_code == 302
    assert shown(created["id"])["cursor"] == 2
    since_today = {"since": today.isoformat()}
    assert officer.post(f"{PAGE}/{created['id']}/replay", since_today).status_code == 302
    assert shown(created["id"])["cursor"] == 0


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"after": "-1"}, "after", "0 or more"),
        ({"after": "two"}, "after", "whole number"),
        ({"after": "99"}, "after", "The log ends at event 2: enter 2 or less."),
        ({"after": "1", "since": "2026-03-01"}, "since", "not both"),
        ({}, "after", "Enter the sequence number"),
        ({"since": "yesterday"}, "since", "such as 2026-03-01"),
    ],
)
def test_a_replay_that_cannot_be_done_keeps_what_was_typed_and_names_the_field(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    publish("land_parcel", "L-1", parcel_data())
    created = subscribe()
    officer.get(f"{PAGE}/{created['id']}/replay")

    refused = officer.post(f"{PAGE}/{created['id']}/replay", form)

    assert refused.status_code == 422
    body = text_of(refused)
    error = re.search(rf'id="field-{field}-error">.*?</span>(.*?)</span>', body, re.S)
    assert error, body
    assert message in html.unescape(error.group(1))
    for typed in form.values():
        assert f'value="{typed}"' in body
    assert shown(created["id"])["cursor"] == 2
    assert "error-summary" in body
    (entry,) = audited(app, "subscription.replay")
    assert entry.outcome == 422
    assert entry.target == f"subscription/{created['id']}"


def test_a_replay_from_before_the_retained_log_is_refused(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    shown: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
) -> None:
    publish("land_parcel", "L-1", parcel_data())
    created = subscribe()
    with app.app_context(), db.unit_of_work() as session:
        assert events_log.compact(session, utcnow() + timedelta(seconds=1)) == 2
    officer.get(f"{PAGE}/{created['id']}/replay")

    refused = officer.post(f"{PAGE}/{created['id']}/replay", {"after": "1"})

    assert refused.status_code == 422
    assert "The log keeps only the events after 2" in text_of(refused)
    assert shown(created["id"])["cursor"] == 2


def test_the_delivery_attempts_show_outcomes_and_response_codes(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
    receiver: Receiver,
    driven: Dispatcher,
) -> None:
    receiver.script("land", Reply(500, body="<script>alert(1)</script>"))
    created = subscribe(endpoint_url=receiver.url("land"))
    publish("land_parcel", "L-1", parcel_data())

    one_round(app, driven)
    eventually(
        lambda: one_round(app, driven) and len(receiver.receipts("land")) == 2,
        "the retry is delivered",
    )

    page = text_of(officer.get(f"{PAGE}/{created['id']}"))
    rows = [cells(row) for row in re.findall(r"<tr>.*?</tr>", page, re.S)]
    attempts = [row[1:6] for row in rows if len(row) == 7 and row[0] != "Time"]
    sequence = str(created["cursor"] + 1)
    assert [a[:4] for a in attempts] == [
        [sequence, "2", "Delivered", "200"],
        [sequence, "1", "Failed, will retry", "500"],
    ]
    assert "<script>alert(1)</script>" not in page
    assert "HTTP 500: &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_pull_subscription_has_no_delivery_attempts_to_show(
    officer: Browser, subscribe: Callable[..., dict[str, Any]]
) -> None:
    created = subscribe()
    page = text_of(officer.get(f"{PAGE}/{created['id']}"))
    assert "pulls the events" in page


def test_a_stored_script_in_a_filter_is_shown_inert(
    officer: Browser, subscribe: Callable[..., dict[str, Any]]
) -> None:
    created = subscribe(filter={"project_code": "<img src=x onerror=a()>"})
    for path in (PAGE, f"{PAGE}/{created['id']}", f"{PAGE}/{created['id']}/pause"):
        body = text_of(officer.get(path))
        assert "<img src=x" not in body
        assert "&lt;img src=x onerror=a()&gt;" in body


def test_failing_subscriptions_are_called_out_above_the_list(
    app: Flask,
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    project: str,
    publish: Publish,
    receiver: Receiver,
    driven: Dispatcher,
) -> None:
    receiver.script("down", then=Reply(503, body="maintenance"))
    failing = subscribe(endpoint_url=receiver.url("down"))
    healthy = subscribe()
    publish("land_parcel", "L-1", parcel_data())

    eventually(
        lambda: one_round(app, driven) and len(receiver.receipts("down")) == 4,
        "the retries run out",
    )

    page = text_of(officer.get(PAGE))
    assert "1 subscription is failing" in page
    assert 'class="row--failing"' in row_of(page, failing["id"])
    assert "row--failing" not in row_of(page, healthy["id"])
    assert "4 attempts failed" in cells(row_of(page, failing["id"]))[3]


def test_the_list_pages_with_the_api_cursor(
    officer: Browser,
    subscribe: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hub.console.views.subscriptions.PAGE_SIZE", 2)
    made = [subscribe()["id"] for _ in range(3)]

    first = text_of(officer.get(PAGE))
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following, first
    second = text_of(officer.get(html.unescape(following.group(1))))

    def listed(page: str) -> list[int]:
        found = re.findall(r'<th scope="row"><a href="/console/subscriptions/(\d+)"', page)
        return [int(i) for i in found]

    assert listed(first) == made[:0:-1]
    assert listed(second) == made[:1]
    assert 'rel="next"' not in second
