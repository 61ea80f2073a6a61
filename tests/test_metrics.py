"""/metrics: events appended, deliveries by outcome, delivery latency, subscription lag."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from hub.subscriptions.dispatcher import Dispatcher
from tests.factories import parcel_data
from tests.receiver import Receiver


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Webhooks to a loopback receiver."""
    return {**settings, "WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"]}


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_need_no_token_and_start_at_zero(client: FlaskClient) -> None:
    assert samples(client)[("hub_events_appended_total", ())] == 0


def test_metrics_count_events_deliveries_latency_and_lag(
    app: Flask,
    client: FlaskClient,
    headers: Any,
    project: str,
    publish: Any,
    receiver: Receiver,
) -> None:
    auth = headers("audit", ["subscriptions"])
    webhook = client.post(
        "/api/v1/subscriptions",
        json={"types": ["land_parcel"], "endpoint_url": receiver.url("metrics")},
        headers=auth,
    ).json
    pulled = client.post("/api/v1/subscriptions", json={"types": ["land_parcel"]}, headers=auth)
    publish("land_parcel", "P-1", parcel_data())
    publish("land_parcel", "P-2", parcel_data())
    with app.app_context():
        dispatcher = Dispatcher(app)
        try:
            dispatcher.run_once()
            receiver.wait_for("metrics", 2)
            assert dispatcher.wait_idle(10)
        finally:
            dispatcher.stop()

    found = samples(client)
    assert found[("hub_events_appended_total", ())] == 3
    assert found[("hub_deliveries_total", (("outcome", "delivered"),))] == 2
    assert found[("hub_delivery_latency_seconds_count", ())] == 2
    assert found[("hub_delivery_duration_seconds_count", ())] == 2

    def lag(subscription: dict[str, Any], kind: str) -> float:
        labels = (
            ("department", "audit"),
            ("kind", kind),
            ("status", "active"),
            ("subscription", str(subscription["id"])),
        )
        return found[("hub_subscription_lag_events", labels)]

    assert lag(webhook, "webhook") == 0
    assert lag(pulled.json, "pull") == 2


METRICS_TOKEN = "a-scraper-token-for-prometheus-" + "m" * 8


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        (f"Basic {METRICS_TOKEN}", 401),
        (f"Bearer {METRICS_TOKEN}", 200),
    ],
)
def test_metrics_can_require_a_bearer_token(
    settings: dict[str, Any], authorization: str | None, status: int
) -> None:
    from hub import create_app
    from hub.core.extensions import db

    guarded = create_app({**settings, "METRICS_TOKEN": METRICS_TOKEN})
    try:
        headers = {"Authorization": authorization} if authorization else {}
        response = guarded.test_client().get("/metrics", headers=headers)
        assert response.status_code == status
        if status == 401:
            assert response.mimetype == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert "hub_events_appended_total" in response.get_data(as_text=True)
    finally:
        db.dispose(guarded)
