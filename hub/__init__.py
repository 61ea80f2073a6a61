"""The major-project data exchange hub: a Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from hub import errors, metrics, planner, ratelimit
from hub import http as hub_http
from hub.audit import trail as audit_trail
from hub.config import load_settings
from hub.events import notify
from hub.extensions import api, db

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
    db.init_app(app)
    notify.init_app(app)
    metrics.init_app(app)
    api.init_app(
        app,
        spec_kwargs={
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{"bearerAuth": []}],
        },
    )
    errors.init_app(app)
    hub_http.init_app(app)
    ratelimit.init_app(app)
    audit_trail.init_app(app)
    planner.init_app(app)
    _register_blueprints(app)
    app.after_request(_finish_unit_of_work)
    return app


def _register_blueprints(app: Flask) -> None:
    from hub.admin.routes import blp as admin_blp
    from hub.audit.routes import blp as audit_blp
    from hub.auth.routes import blp as auth_blp
    from hub.connectors.routes import blp as connectors_blp
    from hub.events.routes import blp as events_blp
    from hub.grants.routes import blp as grants_blp
    from hub.ops import bp as ops_bp
    from hub.records.routes import blp as records_blp
    from hub.subscriptions.routes import blp as subscriptions_blp

    for blueprint in (
        auth_blp,
        records_blp,
        events_blp,
        subscriptions_blp,
        grants_blp,
        connectors_blp,
        admin_blp,
        audit_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(ops_bp)


def _finish_unit_of_work(response: Response) -> Response:
    """Audit the request and commit its unit of work once, after a successful response."""
    pending = audit_trail.pending_entry(response)
    try:
        if pending is not None and pending.with_change:
            audit_trail.record_in(db.session, pending.entry)
        response = db.finish_request(response)
        if pending is not None and not pending.with_change:
            audit_trail.record_apart(pending)
    except SQLAlchemyError as exc:
        db.rollback()
        return errors.problem_for_database_error(exc)
    if pending is not None or audit_trail.change_written():
        audit_trail.seal_if_due()
    return response
