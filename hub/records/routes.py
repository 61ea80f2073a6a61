"""The records API: publish, patch, delete, read, list, history, batch, dossier, types."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Response, request, url_for
from flask_smorest import Blueprint

from hub.auth.guard import audited, require_scope
from hub.auth.identity import current_identity
from hub.core.errors import HubError
from hub.core.extensions import db
from hub.core.http import city_today, json_body
from hub.core.wire import PageQuerySchema, decode_cursor, encode_cursor, page_limit
from hub.records import idempotency, service
from hub.records.schemas import (
    BatchInSchema,
    BatchOutSchema,
    DossierSchema,
    HistoryCursorSchema,
    HistoryPageSchema,
    ListCursorSchema,
    ListQuerySchema,
    RecordOutSchema,
    RecordPageSchema,
    TypeListSchema,
    envelope,
    version_envelope,
)
from hub.records.types import describe_types
from hub.sharing.readers import reader

blp = Blueprint(
    "records", __name__, url_prefix="/api/v1", description="Publish and read project records."
)

CONDITIONAL_HEADERS = [
    {"name": "If-Match", "in": "header", "schema": {"type": "string"}, "required": False},
    idempotency.PARAMETER,
]
WRITE_RESPONSES = {
    "412": {"description": "If-Match does not match the current version."},
    "422": {"description": "The record failed validation; `errors` names each field."},
}


def _preconditions() -> service.Preconditions:
    return service.Preconditions(
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
    )


def _record_response(outcome: service.Outcome) -> tuple[dict[str, Any], int, dict[str, str]]:
    record = outcome.record
    headers = {"ETag": f'"{record.version}"'}
    if outcome.status == "created":
        headers["Location"] = url_for("records.get_record", type_name=record.type, key=record.key)
    return envelope(record, reader(), city_today()), outcome.http_status, headers


@blp.route("/types", methods=["GET"])
@require_scope(None)
@blp.response(200, TypeListSchema)
def list_types() -> dict[str, Any]:
    """The record types: their fields, sharing classes and JSON Schema."""
    return {"items": describe_types()}


@blp.route("/records/<string:type_name>", methods=["GET"])
@audited(service.LIST, "{type_name}")
@require_scope("records:read")
@blp.arguments(ListQuerySchema, location="query", as_kwargs=True)
@blp.response(200, RecordPageSchema)
def list_records(type_name: str, **query: Any) -> dict[str, Any]:
    """Records of one type in change order, filtered, one keyset page at a time."""
    record_type = service.record_type_named(type_name)
    after = None
    if query.get("cursor"):
        position = decode_cursor(query["cursor"], ListCursorSchema())
        after = service.ListPosition(position["u"], position["i"])
    records, next_position = service.list_records(
        db.session,
        record_type,
        limit=page_limit(query),
        after=after,
        project_code=query.get("project_code"),
        updated_since=query.get("updated_since"),
        include_deleted=query["include_deleted"],
    )
    today, view = city_today(), reader()
    next_cursor = None
    if next_position is not None:
        next_cursor = encode_cursor(
            {"u": next_position.updated_at.isoformat(), "i": next_position.id}
        )
    return {"items": [envelope(r, view, today) for r in records], "next_cursor": next_cursor}


@blp.route("/records/<string:type_name>/<string:key>", methods=["GET"])
@audited(service.READ, "{type_name}/{key}")
@require_scope("records:read")
@blp.response(200, RecordOutSchema)
@blp.alt_response(304, description="Not modified since the version in If-None-Match.")
def get_record(type_name: str, key: str) -> Any:
    """One record; ``If-None-Match`` with its current ETag gives 304."""
    record_type = service.record_type_named(type_name)
    record = service.require_record(db.session, record_type, key)
    etag = f'"{record.version}"'
    if request.if_none_match.contains_weak(str(record.version)):
        return Response(status=304, headers={"ETag": etag})
    return envelope(record, reader(), city_today()), 200, {"ETag": etag}


@blp.route("/records/<string:type_name>/<string:key>", methods=["PUT"])
@audited(service.PUT, "{type_name}/{key}")
@require_scope("records:write")
@idempotency.idempotent
@blp.doc(parameters=CONDITIONAL_HEADERS, responses=WRITE_RESPONSES)
@blp.response(200, RecordOutSchema, description="Replaced (or unchanged).")
@blp.alt_response(201, schema=RecordOutSchema, description="Created.")
def put_record(type_name: str, key: str) -> Any:
    """Create or replace a record; the body is the record's data."""
    record_type = service.record_type_named(type_name)
    identity, body = current_identity(), json_body()
    outcome = service.publish(db.session, identity, record_type, key, body, _preconditions())
    return _record_response(outcome)


@blp.route("/records/<string:type_name>/<string:key>", methods=["PATCH"])
@audited(service.PATCH, "{type_name}/{key}")
@require_scope("records:write")
@idempotency.idempotent
@blp.doc(parameters=CONDITIONAL_HEADERS, responses=WRITE_RESPONSES)
@blp.response(200, RecordOutSchema)
def patch_record(type_name: str, key: str) -> Any:
    """Change part of a record with a JSON merge patch (RFC 7396)."""
    record_type = service.record_type_named(type_name)
    identity, body = current_identity(), json_body()
    outcome = service.patch(db.session, identity, record_type, key, body, _preconditions())
    return _record_response(outcome)


@blp.route("/records/<string:type_name>/<string:key>", methods=["DELETE"])
@audited(service.DELETE, "{type_name}/{key}")
@require_scope("records:write")
@idempotency.idempotent
@blp.doc(parameters=CONDITIONAL_HEADERS)
@blp.response(200, RecordOutSchema, description="Tombstoned; history is kept.")
def delete_record(type_name: str, key: str) -> Any:
    """Tombstone a record: a new version marked deleted; the history stays."""
    record_type = service.record_type_named(type_name)
    outcome = service.tombstone(db.session, current_identity(), record_type, key, _preconditions())
    return _record_response(outcome)


@blp.route("/records/<string:type_name>/<string:key>/history", methods=["GET"])
@audited(service.HISTORY, "{type_name}/{key}")
@require_scope("records:read")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, HistoryPageSchema)
def record_history(type_name: str, key: str, **query: Any) -> dict[str, Any]:
    """Every version of a record, newest first, with who wrote it and when."""
    record_type = service.record_type_named(type_name)
    record = service.require_record(db.session, record_type, key)
    before = None
    if query.get("cursor"):
        before = decode_cursor(query["cursor"], HistoryCursorSchema())["v"]
    versions, next_before = service.history(
        db.session, record, limit=page_limit(query), before_version=before
    )
    today, view = city_today(), reader()
    return {
        "items": [version_envelope(record, v, view, today) for v in versions],
        "next_cursor": encode_cursor({"v": next_before}) if next_before is not None else None,
    }


@blp.route("/records/<string:type_name>/batch", methods=["POST"])
@audited(service.BATCH, "{type_name}")
@require_scope("records:write")
@idempotency.idempotent
@blp.doc(parameters=[idempotency.PARAMETER])
@blp.arguments(BatchInSchema)
@blp.response(200, BatchOutSchema)
def batch_publish(body: dict[str, Any], type_name: str) -> dict[str, Any]:
    """Publish many records of one type; each item succeeds or fails on its own."""
    record_type = service.record_type_named(type_name)
    items = [
        service.BatchItem(item["key"], item.get("data"), item["deleted"], item.get("if_match"))
        for item in body["records"]
    ]
    outcomes = service.publish_many(db.session, current_identity(), record_type, items)
    return {"results": [_batch_result(i, o) for i, o in zip(items, outcomes, strict=True)]}


def _batch_result(item: service.BatchItem, outcome: service.Outcome | HubError) -> dict[str, Any]:
    if isinstance(outcome, HubError):
        result = {"key": item.key, "status": outcome.status, "detail": outcome.detail}
        if outcome.errors:
            result["errors"] = outcome.errors
        return result
    deleted = item.deleted and outcome.status == "updated"
    return {
        "key": item.key,
        "status": outcome.http_status,
        "outcome": "deleted" if deleted else outcome.status,
        "version": outcome.record.version,
    }


@blp.route("/projects/<string:project_code>/dossier", methods=["GET"])
@audited(service.DOSSIER, "project/{project_code}")
@require_scope("records:read")
@blp.response(200, DossierSchema)
def project_dossier(project_code: str) -> dict[str, Any]:
    """A project and every live record linked to it, in one response."""
    project, linked = service.dossier(db.session, project_code)
    today, view = city_today(), reader()
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in linked:
        by_type[record.type].append(envelope(record, view, today))
    return {"project": envelope(project, view, today), "records": dict(by_type)}
