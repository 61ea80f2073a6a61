"""The major-project data exchange hub: a Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from hub import console
from hub.audit import chain
from hub.auth import refusals
from hub.core import calendar, encryption, errors, metrics, openapi, planner, ratelimit
from hub.core import http as hub_http
from hub.core.config import load_settings
from hub.core.db import SAFE_METHODS
from hub.core.extensions import api, db
from hub.events import notify
from hub.sharing import readers
from hub.subscriptions import metrics as subscription_metrics
from hub.supervision import rules as supervision_rules

API_SETTINGS = {
    "API_TITLE": "Major-project data exchange hub",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "accessKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access key (hubk_...), only for POST /auth/token.",
    },
}


class HubFlask(Flask):
    """Flask with strict JSON parsing, clear messages when it fails, and no cookie sessions."""

    json_provider_class = hub_http.HubJSONProvider
    request_class = hub_http.HubRequest
    session_interface = hub_http.NoCookieSessions()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hub: settings, extensions, blueprints, error handlers."""
    instance_path = os.environ.get("HUB_INSTANCE_PATH")
    app = HubFlask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        static_folder=None,
    )
    app.config.from_mapping(load_settings(Path(app.instance_path), config))
    app.config.from_mapping(API_SETTINGS)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    calendar.init_app(app)
    supervision_rules.init_app(app)
    db.init_app(app)
    encryption.init_app(app)
    notify.init_app(app)
    metrics.init_app(app)
    subscription_metrics.init_app(app)
    api.init_app(
        app,
        spec_kwargs={
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{"bearerAuth": []}],
            # limits read from the settings, body-wide rules, portable patterns, operationIds
            **openapi.spec_plugins(app.config),
        },
    )
    errors.init_app(app)
    hub_http.init_app(app)
    ratelimit.init_app(app)
    chain.init_app(app)
    planner.init_app(app)
    _register_blueprints(app)
    console.init_app(app)
    app.after_request(_finish_unit_of_work)
    return app


def _register_blueprints(app: Flask) -> None:
    from hub.admin.audit_routes import blp as audit_blp
    from hub.admin.routes import blp as admin_blp
    from hub.auth.routes import blp as auth_blp
    from hub.connector_runs.routes import blp as connectors_blp
    from hub.core.ops import bp as ops_bp
    from hub.events.routes import blp as events_blp
    from hub.records.routes import blp as records_blp
    from hub.sharing.routes import blp as grants_blp
    from hub.subscriptions.routes import blp as subscriptions_blp
    from hub.supervision.routes import blp as supervision_blp
    from hub.users.routes import blp as users_blp

    for blueprint in (
        auth_blp,
        records_blp,
        events_blp,
        subscriptions_blp,
        grants_blp,
        connectors_blp,
        admin_blp,
        users_blp,
        audit_blp,
        supervision_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(ops_bp)


def _finish_unit_of_work(response: Response) -> Response:
    """Commit the request's unit of work once (or roll it back, for an error response), then
    audit what the caller was refused or shown: services audited what they did themselves."""
    try:
        response = db.finish_request(response)
        refusals.record_refusal(response)
        disclosed = readers.record_disclosure(response)
    except SQLAlchemyError as exc:
        db.rollback()
        return errors.problem_for_database_error(exc)
    if disclosed or request.method not in SAFE_METHODS:
        chain.seal_if_due()
    return response
