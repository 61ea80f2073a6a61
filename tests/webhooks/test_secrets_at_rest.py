"""Webhook signing secrets are stored encrypted under SECRET_KEY, and stay usable across a
rotation of SECRET_KEY; secrets stored in the clear by older hubs are encrypted by `hub init`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select, update

import hub
from hub import create_app
from hub.cli import main
from hub.core.extensions import db
from hub.subscriptions import service
from hub.subscriptions.models import Subscription
from tests.conftest import TEST_SECRET
from tests.receiver import Receiver
from tests.webhooks.helpers import SubscriptionApi

NEW_SECRET_KEY = "the-rotated-secret-key-" + "y" * 32


def stored_secret(app: Flask, subscription_id: int) -> str | None:
    with app.app_context():
        return db.session.scalar(
            select(Subscription.secret).where(Subscription.id == subscription_id)
        )


def secrets_in_use(app: Flask, subscription_id: int) -> list[str]:
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription is not None
        return service.signing_secrets(subscription, datetime.now(UTC))


def test_a_signing_secret_is_not_stored_in_the_clear(
    app: Flask, api: SubscriptionApi, receiver: Receiver
) -> None:
    created = api.subscribe(receiver.url("a"))
    stored = stored_secret(app, created["id"])
    assert stored is not None
    assert created["secret"] not in stored
    assert not stored.startswith("whsec_")
    assert secrets_in_use(app, created["id"]) == [created["secret"]]


def test_secrets_survive_a_rotation_of_the_secret_key_and_init_reencrypts_them(
    app: Flask,
    api: SubscriptionApi,
    receiver: Receiver,
    settings: dict[str, Any],
    monkeypatch: Any,
) -> None:
    created = api.subscribe(receiver.url("a"))
    before = stored_secret(app, created["id"])
    rotated = create_app(
        {**settings, "SECRET_KEY": NEW_SECRET_KEY, "PREVIOUS_SECRET_KEYS": [TEST_SECRET]}
    )
    try:
        assert secrets_in_use(rotated, created["id"]) == [created["secret"]]
        _init_with(rotated, monkeypatch)
        after = stored_secret(rotated, created["id"])
        assert after != before
        # now readable under the new key alone
        alone = create_app({**settings, "SECRET_KEY": NEW_SECRET_KEY})
        try:
            assert secrets_in_use(alone, created["id"]) == [created["secret"]]
        finally:
            db.dispose(alone)
    finally:
        db.dispose(rotated)


def test_a_secret_stored_in_the_clear_still_signs_and_init_encrypts_it(
    app: Flask, api: SubscriptionApi, receiver: Receiver, monkeypatch: Any
) -> None:
    created = api.subscribe(receiver.url("a"))
    with app.app_context(), db.unit_of_work() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == created["id"])
            .values(secret=created["secret"])
        )
    assert secrets_in_use(app, created["id"]) == [created["secret"]]
    _init_with(app, monkeypatch)
    stored = stored_secret(app, created["id"])
    assert stored is not None
    assert not stored.startswith("whsec_")
    assert secrets_in_use(app, created["id"]) == [created["secret"]]


def _init_with(app: Flask, monkeypatch: Any) -> None:
    """Run `hub init` against ``app``'s database."""
    monkeypatch.setattr(hub, "create_app", lambda *args, **kwargs: app)
    monkeypatch.setattr("hub.cli.ensure_instance_secret", lambda path: False)
    main(["init"])  # standalone_mode=False: returns instead of exiting when all goes well
