"""The audit log: what is recorded, the hash chain, ``hub audit verify``, the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError

from hub import create_app
from hub.audit import chain as audit_chain
from hub.audit import entries as audit_entries
from hub.audit.models import AuditEntry, AuditHead
from hub.core.config import ConfigError
from hub.core.extensions import db
from tests.conftest import Run
from tests.factories import PROJECT_CODE, parcel_data

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Seal after every audited request, so tests see the chain as it is."""
    return {**settings, "AUDIT_SEAL_INTERVAL": 0.0}


@pytest.fixture
def admin(make_department: Callable[..., str], headers: Headers) -> dict[str, str]:
    """Bearer headers of an administrator."""
    make_department("cityadmin", [])
    return headers("cityadmin", ["admin"])


def entries(app: Flask, **where: Any) -> list[AuditEntry]:
    """Audit entries in the order they were written, optionally filtered by column values."""
    with app.app_context(), db.unit_of_work(write=False) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(query))


def tamper(app: Flask, statement: Any) -> None:
    """Change the audit table behind the hub's back, as an intruder with database access."""
    with app.app_context(), db.unit_of_work() as session:
        session.execute(statement)


@pytest.fixture
def parcel(publish: Callable[..., Any], project: str) -> str:
    response = publish("land_parcel", "P-1", parcel_data())
    assert response.status_code == 201
    return "P-1"


# What is recorded


def test_a_write_is_recorded_with_who_what_when_where_and_outcome(app: Flask, parcel: str) -> None:
    [entry] = entries(app, action="record.put", target="land_parcel/P-1")
    assert entry.department_id == "land"
    assert entry.key_id is not None
    assert entry.actor == f"key:{entry.key_id}"
    assert entry.outcome == 201
    assert entry.remote_addr == "127.0.0.1"
    assert entry.details == {
        "method": "PUT",
        "path": "/api/v1/records/land_parcel/P-1",
        "version": "1",
    }
    assert abs(entry.at - datetime.now(UTC)) < timedelta(minutes=1)


def test_patch_delete_and_batch_are_recorded(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str
) -> None:
    land = headers("land")
    client.patch("/api/v1/records/land_parcel/P-1", json={"area_mu": 90}, headers=land)
    client.post(
        "/api/v1/records/land_parcel/batch",
        json={"records": [{"key": "P-2", "data": parcel_data()}, {"key": "P-3", "data": {}}]},
        headers=land,
    )
    client.delete("/api/v1/records/land_parcel/P-1", headers=land)
    actions = [(e.action, e.target, e.outcome) for e in entries(app, department_id="land")]
    assert actions[-3:] == [
        ("record.patch", "land_parcel/P-1", 200),
        ("record.batch", "land_parcel", 200),
        ("record.delete", "land_parcel/P-1", 200),
    ]
    [batch] = entries(app, action="record.batch")
    assert batch.details["results"] == [
        {"key": "P-2", "status": 201},
        {"key": "P-3", "status": 422},
    ]


def test_every_kind_of_record_write_is_recorded_exactly_once(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str
) -> None:
    # On PostgreSQL most of these entries go in with the write's own statement; the rest
    # (no change written) through the trail: either way once, and alike.
    land, path = headers("land"), "/api/v1/records/land_parcel/P-1"
    steps = [
        ("PUT", parcel_data(), 200),  # unchanged: no version, still audited
        ("PUT", parcel_data(area_mu=91), 200),
        ("PATCH", {"area_mu": 92}, 200),
        ("DELETE", None, 200),
        ("PUT", parcel_data(), 201),  # revived
    ]
    for method, body, status in steps:
        assert client.open(path, method=method, json=body, headers=land).status_code == status
    recorded = [
        (e.action, e.outcome, e.details.get("version"))
        for e in entries(app, target="land_parcel/P-1")
    ]
    assert recorded == [
        ("record.put", 201, "1"),
        ("record.put", 200, "1"),
        ("record.put", 200, "2"),
        ("record.patch", 200, "3"),
        ("record.delete", 200, "4"),
        ("record.put", 201, "5"),
    ]


@pytest.mark.parametrize(
    ("department", "body", "outcome"),
    [("land", {"area_mu": -1}, 422), ("finance", parcel_data(), 403)],
    ids=["invalid", "not-a-publisher"],
)
def test_a_refused_write_is_recorded_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    headers: Headers,
    project: str,
    department: str,
    body: dict[str, Any],
    outcome: int,
) -> None:
    response = client.put("/api/v1/records/land_parcel/P-9", json=body, headers=headers(department))
    assert response.status_code == outcome
    [entry] = entries(app, target="land_parcel/P-9")
    assert (entry.department_id, entry.outcome) == (department, outcome)
    assert entry.details["detail"] == response.json["detail"]
    assert client.get("/api/v1/records/land_parcel/P-9", headers=headers("land")).status_code == 404


def test_token_exchanges_are_recorded_and_failed_ones_name_the_key_tried(
    app: Flask, client: FlaskClient, make_department: Callable[..., str], make_key: Any
) -> None:
    make_department("land", ["land_parcel"])
    secret = make_key("land")
    key_id = secret.split("_")[1]
    response = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    wrong = secret[:-4] + "AAAA"
    response = client.post("/api/v1/auth/token", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    recorded = [(e.action, e.actor, e.outcome) for e in entries(app, action="token.exchange")]
    assert recorded == [
        ("token.exchange", f"key:{key_id}", 200),
        ("token.exchange", f"key:{key_id}", 401),
    ]
    assert all(wrong not in str(e.details) and secret not in str(e.details) for e in entries(app))


def test_requests_without_credentials_are_not_recorded(app: Flask, client: FlaskClient) -> None:
    # Nobody to attribute them to, and a flood of them must not turn into database writes.
    client.put("/api/v1/records/land_parcel/P-1", json=parcel_data())
    client.put(
        "/api/v1/records/land_parcel/P-1",
        json=parcel_data(),
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert entries(app) == []


READS_OF_PARCEL = {
    "record": "/api/v1/records/land_parcel/P-1",
    "list": "/api/v1/records/land_parcel",
    "history": "/api/v1/records/land_parcel/P-1/history",
    "dossier": f"/api/v1/projects/{PROJECT_CODE}/dossier",
    "feed": "/api/v1/events?types=land_parcel",
}


@pytest.mark.parametrize("path", READS_OF_PARCEL.values(), ids=READS_OF_PARCEL.keys())
def test_a_read_that_returned_protected_fields_is_recorded(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str, path: str
) -> None:
    land = headers("land")
    before = len(entries(app))
    response = client.get(path, headers=land)
    assert response.status_code == 200
    assert "Metro Group" in response.get_data(as_text=True)  # the restricted rights_holder
    [entry] = entries(app)[before:]
    assert entry.action in {
        "record.read",
        "record.list",
        "record.history",
        "project.dossier",
        "events.read",
    }
    assert entry.department_id == "land"
    assert entry.outcome == 200
    assert entry.details["records"] == ["land_parcel/P-1"]
    assert entry.details["fields"] == ["rights_holder", "transfer_price"]


@pytest.mark.parametrize("path", READS_OF_PARCEL.values(), ids=READS_OF_PARCEL.keys())
def test_a_read_of_open_fields_only_is_not_recorded(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str, path: str
) -> None:
    finance = headers("finance")
    before = len(entries(app))
    response = client.get(path, headers=finance)
    assert response.status_code == 200
    assert "Metro Group" not in response.get_data(as_text=True)
    assert entries(app)[before:] == []


def test_a_read_that_cannot_be_recorded_is_refused(
    app: Flask,
    client: FlaskClient,
    headers: Headers,
    parcel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    land = headers("land")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk full"))

    monkeypatch.setattr(audit_entries, "record", broken)
    response = client.get("/api/v1/records/land_parcel/P-1", headers=land)
    assert response.status_code == 503
    assert "Metro Group" not in response.get_data(as_text=True)


# The chain


def test_sealing_chains_every_entry_in_order(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str
) -> None:
    for n in range(5):
        client.put(
            f"/api/v1/records/land_parcel/Q-{n}", json=parcel_data(), headers=headers("land")
        )
    chain = entries(app)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    previous = audit_chain.GENESIS_HASH
    for entry in chain:
        assert entry.seq is not None
        assert entry.prev_hash == previous
        assert entry.hash == audit_chain.entry_hash(entry, entry.seq, previous)
        previous = entry.hash


def test_entries_wait_for_the_next_round_between_rounds(
    app: Flask, client: FlaskClient, headers: Headers, project: str, hub_cli: Callable[..., Run]
) -> None:
    app.config["AUDIT_SEAL_INTERVAL"] = 3600.0
    client.put("/api/v1/records/land_parcel/Q-1", json=parcel_data(), headers=headers("land"))
    assert entries(app)[-1].seq is None
    unsealed = sum(1 for e in entries(app) if e.seq is None)
    run = hub_cli("audit", "verify")
    assert run.exit_code == 0
    assert f"{unsealed} not sealed yet" in run.stdout
    assert hub_cli("audit", "seal").exit_code == 0
    assert entries(app)[-1].seq == len(entries(app))


def test_verify_passes_on_an_untouched_chain(
    app: Flask, client: FlaskClient, headers: Headers, parcel: str, hub_cli: Callable[..., Run]
) -> None:
    run = hub_cli("audit", "verify")
    count = len(entries(app))
    assert run.exit_code == 0, run.stderr
    assert f"Audit chain intact: {count} entries" in run.stdout


@pytest.fixture
def chain(app: Flask, client: FlaskClient, headers: Headers, project: str) -> list[AuditEntry]:
    """A sealed chain of a dozen entries."""
    for n in range(10):
        client.put(
            f"/api/v1/records/land_parcel/Q-{n}", json=parcel_data(), headers=headers("land")
        )
    sealed = entries(app)
    assert len(sealed) >= 12
    assert all(e.seq is not None for e in sealed)
    return sealed


def test_verify_names_an_altered_entry(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    victim = chain[5]
    tamper(
        app,
        update(AuditEntry).where(AuditEntry.id == victim.id).values(department_id="finance"),
    )
    run = hub_cli("audit", "verify")
    assert run.exit_code == 1
    assert f"BROKEN at entry {victim.seq} (row id {victim.id})" in run.stderr
    assert "content does not match" in run.stderr


def test_verify_names_an_altered_outcome_even_with_its_hash_recomputed(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    # The intruder recomputes the altered row's own hash; the next entry's link then breaks.
    victim = chain[5]
    assert victim.seq is not None
    assert victim.prev_hash is not None
    victim.outcome = 403
    forged_hash = audit_chain.entry_hash(victim, victim.seq, victim.prev_hash)
    tamper(
        app,
        update(AuditEntry).where(AuditEntry.id == victim.id).values(outcome=403, hash=forged_hash),
    )
    run = hub_cli("audit", "verify")
    assert run.exit_code == 1
    assert f"BROKEN at entry {chain[6].seq}" in run.stderr
    assert "does not link" in run.stderr


def test_verify_names_a_removed_entry(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    tamper(app, delete(AuditEntry).where(AuditEntry.id == chain[4].id))
    run = hub_cli("audit", "verify")
    assert run.exit_code == 1
    assert f"BROKEN at entry {chain[5].seq}" in run.stderr
    assert f"entries {chain[4].seq}..{chain[4].seq} are missing" in run.stderr


def test_verify_notices_the_newest_entry_removed(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    tamper(app, delete(AuditEntry).where(AuditEntry.id == chain[-1].id))
    run = hub_cli("audit", "verify")
    assert run.exit_code == 1
    assert f"BROKEN at entry {chain[-1].seq}" in run.stderr
    assert "the head names" in run.stderr


def test_verify_names_an_inserted_entry(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    # Make room after entry 3 and insert a well-formed entry that links to it.
    after = chain[2]
    assert after.seq is not None
    assert after.hash is not None
    tamper(
        app,
        update(AuditEntry).where(AuditEntry.seq > after.seq).values(seq=AuditEntry.seq + 1000),
    )
    tamper(
        app,
        update(AuditEntry)
        .where(AuditEntry.seq > after.seq + 1000)
        .values(seq=AuditEntry.seq - 999),
    )
    forged = AuditEntry(
        id=10_000,
        at=after.at,
        department_id="land",
        key_id=after.key_id,
        actor=after.actor,
        action="record.delete",
        target="land_parcel/Q-0",
        remote_addr="127.0.0.1",
        outcome=200,
        details={},
    )
    seq = after.seq + 1
    forged.seq, forged.prev_hash = seq, after.hash
    forged.hash = audit_chain.entry_hash(forged, seq, after.hash)
    with app.app_context(), db.unit_of_work() as session:
        session.add(forged)
    run = hub_cli("audit", "verify")
    assert run.exit_code == 1
    assert f"BROKEN at entry {seq + 1} (row id {chain[3].id})" in run.stderr


# The API


def test_admins_list_the_log_newest_first_with_filters(
    client: FlaskClient, headers: Headers, admin: dict[str, str], parcel: str
) -> None:
    client.get("/api/v1/records/land_parcel/P-1", headers=headers("land"))
    page = client.get("/api/v1/admin/audit", headers=admin).json
    assert [e["action"] for e in page["items"]][:2] == [
        "record.read",
        "record.put",
    ]
    by_target = client.get(
        "/api/v1/admin/audit?target=land_parcel/P-1&action=record.put", headers=admin
    ).json["items"]
    assert [(e["target"], e["outcome"], e["department"]) for e in by_target] == [
        ("land_parcel/P-1", 201, "land")
    ]
    assert by_target[0]["seq"] is not None
    assert len(by_target[0]["hash"]) == 64
    by_department = client.get("/api/v1/admin/audit?department=ndrc", headers=admin).json["items"]
    assert {e["target"] for e in by_department} == {f"project/{PROJECT_CODE}"}


def test_the_log_filters_by_time(client: FlaskClient, admin: dict[str, str], parcel: str) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        client.get("/api/v1/admin/audit", query_string={"since": future}, headers=admin).json[
            "items"
        ]
        == []
    )
    assert (
        client.get("/api/v1/admin/audit", query_string={"until": past}, headers=admin).json["items"]
        == []
    )
    assert client.get("/api/v1/admin/audit", query_string={"since": past}, headers=admin).json[
        "items"
    ]


def test_the_log_pages_with_a_cursor(
    client: FlaskClient, admin: dict[str, str], chain: list[AuditEntry]
) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/admin/audit", query_string=query, headers=admin).json
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) >= len(chain)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        ({"target": "x" * 301}, "target"),
    ],
)
def test_bad_log_queries_name_the_field(
    client: FlaskClient, admin: dict[str, str], query: dict[str, Any], field: str
) -> None:
    response = client.get("/api/v1/admin/audit", query_string=query, headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in str(response.json["errors"])


def test_only_administrators_read_the_log(client: FlaskClient, headers: Headers) -> None:
    assert client.get("/api/v1/admin/audit").status_code == 401
    response = client.get("/api/v1/admin/audit", headers=headers("land"))
    assert response.status_code == 403


def test_admin_actions_over_http_are_recorded_under_the_cli_names(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/admin/departments",
        json={"id": "water", "name": "Water Bureau", "publishes": []},
        headers=admin,
    )
    assert created.status_code == 201
    key = client.post(
        "/api/v1/admin/keys",
        json={"department": "water", "scopes": ["records:read"]},
        headers=admin,
    ).json
    rotated = client.post(f"/api/v1/admin/keys/{key['id']}/rotate", json={}, headers=admin).json
    client.delete(f"/api/v1/admin/keys/{key['id']}", headers=admin)
    recorded = [(e.action, e.target, e.outcome) for e in entries(app, department_id="cityadmin")]
    assert recorded == [
        ("department.create", "department/water", 201),
        ("key.create", f"key/{key['id']}", 201),
        ("key.rotate", f"key/{key['id']}", 200),
        ("key.revoke", f"key/{key['id']}", 200),
    ]
    logged = str([(e.details, e.target) for e in entries(app)])
    assert key["secret"] not in logged
    assert rotated["secret"] not in logged


def test_a_write_refused_for_want_of_a_scope_is_attributed(
    app: Flask, client: FlaskClient, headers: Headers, project: str
) -> None:
    reader_only = headers("land", ["records:read"])
    response = client.put(
        "/api/v1/records/land_parcel/P-5", json=parcel_data(), headers=reader_only
    )
    assert response.status_code == 403
    [entry] = entries(app, target="land_parcel/P-5")
    assert (entry.department_id, entry.outcome) == ("land", 403)


@pytest.mark.parametrize(("proxies", "recorded"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_the_client_address_comes_from_trusted_proxies_only(
    settings: dict[str, Any],
    make_department: Callable[..., str],
    make_key: Callable[..., str],
    proxies: int,
    recorded: str,
) -> None:
    proxied = create_app({**settings, "TRUSTED_PROXIES": proxies})
    try:
        make_department("land", ["land_parcel"])
        secret = make_key("land")
        response = proxied.test_client().post(
            "/api/v1/auth/token",
            headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": "203.0.113.7"},
        )
        assert response.status_code == 200
        [entry] = entries(proxied, action="token.exchange")
        assert entry.remote_addr == recorded
    finally:
        db.dispose(proxied)


def test_verify_checks_an_anchored_head(
    app: Flask, chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    first = hub_cli("audit", "verify")
    assert first.exit_code == 0, first.stderr
    anchor = f"{chain[4].seq}:{chain[4].hash}"
    assert hub_cli("audit", "verify", "--expect-head", anchor).exit_code == 0
    # someone rewrites the chain from entry 5 on, recomputing every hash: it still links up,
    # but the anchor kept outside the database no longer matches
    with app.app_context(), db.unit_of_work() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        prev_hash = rows[3].hash
        for row in rows[4:]:
            assert row.seq is not None
            assert prev_hash is not None
            row.target = row.target + "!"
            row.prev_hash = prev_hash
            row.hash = prev_hash = audit_chain.entry_hash(row, row.seq, prev_hash)
        session.execute(update(AuditHead).values(last_seq=rows[-1].seq, last_hash=rows[-1].hash))
    assert hub_cli("audit", "verify").exit_code == 0, "a rewritten chain verifies alone"
    anchored = hub_cli("audit", "verify", "--expect-head", anchor)
    assert anchored.exit_code == 1
    assert "anchored" in anchored.stderr


def test_an_anchor_beyond_the_chain_is_reported(
    chain: list[AuditEntry], hub_cli: Callable[..., Run]
) -> None:
    beyond = f"{len(chain) + 50}:{'0' * 64}"
    run = hub_cli("audit", "verify", "--expect-head", beyond)
    assert run.exit_code == 1
    assert "before the anchored entry" in run.stderr


@pytest.mark.parametrize("anchor", ["12", "x:abc", "3:" + "g" * 64, "0:" + "0" * 64])
def test_a_malformed_anchor_is_refused(hub_cli: Callable[..., Run], anchor: str) -> None:
    run = hub_cli("audit", "verify", "--expect-head", anchor)
    assert run.exit_code == 2
    assert "SEQ:HASH" in run.stderr


CHAIN_KEY = "an-audit-chain-key-kept-apart-" + "k" * 16


def keyed_app(settings: dict[str, Any], key: str | None = CHAIN_KEY) -> Flask:
    """The hub with AUDIT_CHAIN_KEY (or without it) on the test's database."""
    return create_app({**settings, "AUDIT_CHAIN_KEY": key})


def test_a_keyed_chain_cannot_be_recomputed_without_the_key(
    app: Flask,
    settings: dict[str, Any],
    headers: Headers,
    project: str,
    hub_cli: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyed = keyed_app(settings)
    try:
        monkeypatch.setattr("hub.cli._create_app", lambda: keyed)
        keyed_client = keyed.test_client()
        for n in range(3):
            keyed_client.put(
                f"/api/v1/records/land_parcel/K-{n}", json=parcel_data(), headers=headers("land")
            )
        run = hub_cli("audit", "verify")
        assert run.exit_code == 0, run.stderr
        assert "keyed (HMAC) from entry" in run.stdout
        # an intruder rewrites an entry and recomputes the hashes from there, as for an
        # unkeyed chain: without the key the hashes are wrong
        with keyed.app_context(), db.unit_of_work() as session:
            rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
            prev_hash = rows[-3].hash
            for row in rows[-2:]:
                assert row.seq is not None
                assert prev_hash is not None
                row.outcome = 200
                row.prev_hash = prev_hash
                row.hash = prev_hash = audit_chain.entry_hash(row, row.seq, prev_hash)
            session.execute(
                update(AuditHead).values(last_seq=rows[-1].seq, last_hash=rows[-1].hash)
            )
        broken = hub_cli("audit", "verify")
        assert broken.exit_code == 1
        assert "does not match its hash" in broken.stderr
        # and the marker cannot simply be dropped from where the verifier reads it without
        # the key's holder noticing: a keyed chain verified without the key says so
        monkeypatch.setattr("hub.cli._create_app", lambda: app)
        without = hub_cli("audit", "verify")
        assert without.exit_code == 1
        assert "set AUDIT_CHAIN_KEY" in without.stderr
    finally:
        db.dispose(keyed)


def test_a_keyed_chain_is_not_sealed_on_without_its_key(
    app: Flask, settings: dict[str, Any], headers: Headers, project: str
) -> None:
    keyed = keyed_app(settings)
    try:
        keyed.test_client().put(
            "/api/v1/records/land_parcel/K-1", json=parcel_data(), headers=headers("land")
        )
    finally:
        db.dispose(keyed)
    response = app.test_client().put(
        "/api/v1/records/land_parcel/K-2", json=parcel_data(), headers=headers("land")
    )
    assert response.status_code == 201  # the write itself goes on
    [entry] = entries(app, target="land_parcel/K-2")
    assert entry.seq is None  # left for a process that holds the key


@pytest.mark.parametrize("key", ["short", 42])
def test_a_weak_chain_key_stops_the_hub_at_start(settings: dict[str, Any], key: Any) -> None:
    with pytest.raises(ConfigError, match="AUDIT_CHAIN_KEY"):
        create_app({**settings, "AUDIT_CHAIN_KEY": key})
