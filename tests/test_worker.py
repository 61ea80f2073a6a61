"""``hub worker``: the dispatcher alone in a process of its own, beside the web processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import parcel_data
from tests.receiver import Receiver

WORKER = [sys.executable, "-c", "import sys; from hub.cli import main; sys.exit(main())", "worker"]


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Webhooks to a loopback receiver."""
    return {**settings, "WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"]}


def test_a_worker_process_delivers_and_stops_cleanly_on_sigterm(
    client: FlaskClient,
    headers: Any,
    project: str,
    publish: Any,
    receiver: Receiver,
    settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    created = client.post(
        "/api/v1/subscriptions",
        json={"types": ["land_parcel"], "endpoint_url": receiver.url("worker")},
        headers=headers("audit", ["subscriptions"]),
    )
    assert created.status_code == 201
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": settings["DATABASE_URL"],
        "HUB_SECRET_KEY": settings["SECRET_KEY"],
        "HUB_INSTANCE_PATH": str(tmp_path / "worker"),
        "HUB_WEBHOOK_ALLOW_HTTP": "true",
        "HUB_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HUB_EVENTS_POLL_INTERVAL": "0.2",
    }
    worker = subprocess.Popen(
        [*WORKER, "--name", "test-worker"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        publish("land_parcel", "P-1", parcel_data())
        [delivery] = receiver.wait_for("worker", 1, timeout=20)
        assert delivery.event["subject"] == "land_parcel/P-1"
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert "Dispatcher test-worker running" in stderr
    shown = client.get(
        f"/api/v1/subscriptions/{created.json['id']}", headers=headers("audit", ["subscriptions"])
    )
    assert shown.json["cursor"] == delivery.event["sequence"]
