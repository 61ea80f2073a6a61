"""Sharing classes on every path data leaves by: the leak table (ARCHITECTURE.md, Invariants).

Every read path × every sharing class × every kind of reader: does the field's value appear
anywhere in the response, and does ``withheld`` name the field? ``land_parcel`` has one field of
each class: ``area_mu`` open, ``transfer_price`` conditional, ``rights_holder`` restricted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from hub.auth import service as auth
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.sharing.models import Grant
from tests.factories import OPERATOR, PROJECT_CODE, funding_data, parcel_data

API = "/api/v1"
SCOPES = ["grants", "records:read", "events:read"]
PURPOSE = "Reconcile land costs with the budget."

FIELDS = {"open": "area_mu", "conditional": "transfer_price", "restricted": "rights_holder"}
# The parcel is published twice, so history holds an old value of each field as well.
OLD_VALUES = {"area_mu": 86.4, "transfer_price": 1111.25, "rights_holder": "Old Holder Ltd"}
VALUES = {"area_mu": 91.7, "transfer_price": 4321.75, "rights_holder": "Secret Holder Co"}

ALL = frozenset(FIELDS)
OPEN_ONLY = frozenset({"open"})
# reader kind -> the sharing classes it sees
SEES: dict[str, frozenset[str]] = {
    "publisher": ALL,
    "grantee": frozenset({"open", "conditional"}),
    "grantee_naming_the_field": frozenset({"open", "conditional"}),
    "grantee_naming_other_fields": OPEN_ONLY,
    "grantee_of_another_type": OPEN_ONLY,
    "grantee_of_a_former_publisher": OPEN_ONLY,
    "applicant_still_pending": OPEN_ONLY,
    "applicant_refused": OPEN_ONLY,
    "holder_of_expired_grant": OPEN_ONLY,
    "holder_of_revoked_grant": OPEN_ONLY,
    "other_department": OPEN_ONLY,
}
PATHS = ("record", "list", "history", "dossier", "feed")


class Setup:
    """Grant states for a reader, reached through the API where the API can reach them."""

    def __init__(self, app: Flask, client: FlaskClient, headers: Callable[..., Any]) -> None:
        self.app, self.client, self.headers = app, client, headers

    def apply(self, department: str = "finance", **body: Any) -> int:
        body = {"type": "land_parcel", "purpose": PURPOSE, **body}
        response = self.client.post(
            f"{API}/grants", json=body, headers=self.headers(department, SCOPES)
        )
        assert response.status_code == 201, response.json
        grant_id: int = response.json["id"]
        return grant_id

    def decide(self, grant_id: int, action: str, owner: str = "land", **body: Any) -> None:
        if action == "approve":
            body.setdefault("expires_at", (utcnow() + timedelta(days=1)).isoformat())
        response = self.client.post(
            f"{API}/grants/{grant_id}/{action}", json=body, headers=self.headers(owner, SCOPES)
        )
        assert response.status_code == 200, response.json

    def revoke(self, grant_id: int, owner: str = "land") -> None:
        response = self.client.delete(
            f"{API}/grants/{grant_id}", headers=self.headers(owner, SCOPES)
        )
        assert response.status_code == 200, response.json

    def store_active_grant(self, fields: list[str]) -> None:
        """An active grant naming ``fields``, written directly: no type today has two
        conditional fields, so the API cannot make a grant that names another one."""
        now = utcnow()
        with self.app.app_context(), db.unit_of_work() as session:
            session.add(
                Grant(
                    applicant_id="finance",
                    owner_id="land",
                    record_type="land_parcel",
                    fields=fields,
                    purpose=PURPOSE,
                    status="approved",
                    requested_at=now,
                    requested_by="test",
                    respond_by=now + timedelta(days=15),
                    decided_at=now,
                    decided_by="test",
                    expires_at=now + timedelta(days=1),
                )
            )

    def stop_publishing(self, department: str) -> None:
        with self.app.app_context(), db.unit_of_work() as session:
            auth.update_department(session, OPERATOR, department, publishes=[])


def prepare_reader(
    kind: str, setup: Setup, make_department: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Put a reader of ``kind`` in place; return its department."""
    if kind == "publisher":
        return "land"
    if kind == "other_department":
        return "audit"
    if kind == "grantee":
        setup.decide(setup.apply(), "approve")
    elif kind == "grantee_naming_the_field":
        setup.decide(setup.apply(fields=["transfer_price"]), "approve")
    elif kind == "grantee_naming_other_fields":
        setup.store_active_grant(["survey_notes"])
    elif kind == "grantee_of_another_type":
        setup.decide(setup.apply(type="permit"), "approve", owner="approval")
    elif kind == "grantee_of_a_former_publisher":
        make_department("land2", ["land_parcel"])
        setup.decide(setup.apply(owner="land2"), "approve", owner="land2")
        setup.stop_publishing("land2")
    elif kind == "applicant_still_pending":
        setup.apply()
    elif kind == "applicant_refused":
        setup.decide(setup.apply(), "refuse", reason="Not while the tender is open.")
    elif kind == "holder_of_expired_grant":
        setup.decide(setup.apply(), "approve")
        # read two days on: the one-day grant has lapsed without anyone touching it
        later = utcnow() + timedelta(days=2)
        monkeypatch.setattr("hub.sharing.policy.utcnow", lambda: later)
    elif kind == "holder_of_revoked_grant":
        grant_id = setup.apply()
        setup.decide(grant_id, "approve")
        setup.revoke(grant_id)
    else:
        raise AssertionError(kind)
    return "finance"


def renderings(path: str, body: Any) -> list[tuple[dict[str, Any], list[str]]]:
    """Each rendering of the parcel in a response: its data and its withheld list."""
    if path == "record":
        return [(body["data"], body["withheld"])]
    if path in ("list", "history"):
        return [(item["data"], item["withheld"]) for item in body["items"]]
    if path == "dossier":
        return [(item["data"], item["withheld"]) for item in body["records"]["land_parcel"]]
    return [
        (e["data"]["record"], e["data"]["withheld"])
        for e in body["events"]
        if e["data"]["type"] == "land_parcel"
    ]


URLS = {
    "record": f"{API}/records/land_parcel/L-1",
    "list": f"{API}/records/land_parcel",
    "history": f"{API}/records/land_parcel/L-1/history",
    "dossier": f"{API}/projects/{PROJECT_CODE}/dossier",
    "feed": f"{API}/events?limit=1000",
}
EXPECTED_RENDERINGS = {"record": 1, "list": 1, "history": 2, "dossier": 1, "feed": 2}


@pytest.fixture
def setup(app, client, headers, project, publish) -> Setup:
    """A parcel published in two versions, and the helpers that put readers in place."""
    for values in (OLD_VALUES, VALUES):
        response = publish("land_parcel", "L-1", parcel_data(**values))
        assert response.status_code in (200, 201), response.json
    return Setup(app, client, headers)


@pytest.mark.parametrize("kind", list(SEES))
@pytest.mark.parametrize("sharing", list(FIELDS))
@pytest.mark.parametrize("path", PATHS)
def test_leak_table(client, headers, setup, make_department, monkeypatch, path, sharing, kind):
    department = prepare_reader(kind, setup, make_department, monkeypatch)
    field = FIELDS[sharing]
    visible = sharing in SEES[kind]

    response = client.get(URLS[path], headers=headers(department, SCOPES))

    assert response.status_code == 200, response.json
    text = response.get_data(as_text=True)
    seen = renderings(path, response.json)
    assert len(seen) == EXPECTED_RENDERINGS[path]
    for data, withheld in seen:
        assert (field in data) is visible, (data, withheld)
        assert (field in withheld) is not visible, (data, withheld)
    if visible:
        assert json.dumps(VALUES[field]) in text
    else:
        for value in (OLD_VALUES[field], VALUES[field]):
            assert json.dumps(value) not in text


# --- how the reader's grants are read ------------------------------------------------------


@pytest.fixture
def grant_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements that read the grants table, collected while a test runs."""
    seen: list[str] = []

    def collect(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM grants" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", collect)
    yield seen
    event.remove(engine, "before_cursor_execute", collect)


def test_a_reader_s_grants_are_read_once_per_request(client, headers, setup, grant_queries):
    setup.decide(setup.apply(), "approve")
    for n in range(5):
        setup.client.put(
            f"{API}/records/land_parcel/L-{n + 2}",
            json=parcel_data(),
            headers=headers("land"),
        )
    grant_queries.clear()

    listing = client.get(f"{API}/records/land_parcel", headers=headers("finance", SCOPES))

    assert len(listing.json["items"]) == 6
    assert all("transfer_price" in item["data"] for item in listing.json["items"])
    assert len(grant_queries) == 1


def test_grants_are_not_read_when_they_cannot_matter(client, headers, setup, grant_queries):
    setup.client.put(f"{API}/records/funding/F-1", json=funding_data(), headers=headers("finance"))
    grant_queries.clear()

    as_publisher = client.get(f"{API}/records/land_parcel/L-1", headers=headers("land", SCOPES))
    # funding has no conditional fields: nothing a grant could open
    as_reader = client.get(f"{API}/records/funding/F-1", headers=headers("land", SCOPES))

    assert as_publisher.status_code == as_reader.status_code == 200
    assert as_reader.json["withheld"] == ["bank_account"]
    assert grant_queries == []


def test_a_grant_takes_effect_on_the_next_request(client, headers, setup):
    url = f"{API}/records/land_parcel/L-1"
    before = client.get(url, headers=headers("finance", SCOPES)).json
    grant_id = setup.apply()
    setup.decide(grant_id, "approve")
    during = client.get(url, headers=headers("finance", SCOPES)).json
    setup.revoke(grant_id)
    after = client.get(url, headers=headers("finance", SCOPES)).json

    assert "transfer_price" in before["withheld"]
    assert during["data"]["transfer_price"] == VALUES["transfer_price"]
    assert "transfer_price" in after["withheld"]
