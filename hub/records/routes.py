"""The records API: publish, patch, delete, read, list, history, batch, dossier, types.

Every record type gets paths of its own (``/records/permit``, ``/records/permit/{key}`` ...),
made from the registry at start, so that the OpenAPI document describes each type's bodies
and a generated client is typed; one set of views serves them all. ``batch`` is never a key:
``/records/{type}/batch`` is the batch endpoint, whatever the method.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import flask
from flask import Response, request, url_for
from flask_smorest import Blueprint
from werkzeug.routing import BaseConverter

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
from hub.records.typed import typed_schemas
from hub.records.types import describe_types
from hub.sharing.readers import reader
from schemas import RecordType, registry

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
MERGE_PATCH = "application/merge-patch+json"


class RecordKeyConverter(BaseConverter):
    """A record key in a URL: anything but a slash (the service checks the rest), and never
    ``batch``, which names the batch endpoint."""

    regex = r"(?!batch(?:/|$))[^/]+"


class UnknownTypeConverter(BaseConverter):
    """A path segment that names no registered record type."""

    regex = r"[^/]+"

    @classmethod
    def excluding(cls, names: list[str]) -> type[UnknownTypeConverter]:
        """The converter refusing ``names``."""
        known = "|".join(sorted(names, key=len, reverse=True))
        return type("UnknownType", (cls,), {"regex": rf"(?!(?:{known})(?:/|$))[^/]+"})


@blp.record_once
def _add_converters(state: Any) -> None:
    state.app.url_map.converters["record_key"] = RecordKeyConverter
    state.app.url_map.converters["unknown_type"] = UnknownTypeConverter.excluding(list(registry()))


def _preconditions() -> service.Preconditions:
    return service.Preconditions(
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
    )


def _record_response(outcome: service.Outcome) -> tuple[dict[str, Any], int, dict[str, str]]:
    record = outcome.record
    headers = {"ETag": f'"{record.version}"'}
    if outcome.status == "created":
        headers["Location"] = url_for(f"records.get_{record.type}", key=record.key)
    return envelope(record, reader(), city_today()), outcome.http_status, headers


@blp.route("/types", methods=["GET"])
@require_scope(None)
@blp.response(200, TypeListSchema)
def list_types() -> dict[str, Any]:
    """The record types: their fields, sharing classes and JSON Schema."""
    return {"items": describe_types()}


# --- what every type's paths do ---------------------------------------------------------


def list_records(record_type: RecordType, query: dict[str, Any]) -> dict[str, Any]:
    """A keyset page of ``record_type``'s records in change order, filtered."""
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


def get_record(record_type: RecordType, key: str) -> Any:
    """One record; ``If-None-Match`` with its current ETag gives 304."""
    record = service.require_record(db.session, record_type, key)
    etag = f'"{record.version}"'
    if request.if_none_match.contains_weak(str(record.version)):
        return Response(status=304, headers={"ETag": etag})
    return envelope(record, reader(), city_today()), 200, {"ETag": etag}


def put_record(record_type: RecordType, key: str) -> Any:
    """Create or replace a record with the body."""
    identity, body = current_identity(), json_body()
    outcome = service.publish(db.session, identity, record_type, key, body, _preconditions())
    return _record_response(outcome)


def patch_record(record_type: RecordType, key: str) -> Any:
    """Apply the body, a JSON merge patch, to the record."""
    identity, body = current_identity(), json_body()
    outcome = service.patch(db.session, identity, record_type, key, body, _preconditions())
    return _record_response(outcome)


def delete_record(record_type: RecordType, key: str) -> Any:
    """Tombstone the record."""
    identity = current_identity()
    outcome = service.tombstone(db.session, identity, record_type, key, _preconditions())
    return _record_response(outcome)


def record_history(record_type: RecordType, key: str, query: dict[str, Any]) -> dict[str, Any]:
    """A page of a record's versions, newest first."""
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


def batch_publish(record_type: RecordType, body: dict[str, Any]) -> dict[str, Any]:
    """Publish the batch's records, each on its own."""
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


# --- each type's documented paths -------------------------------------------------------


def _view(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    function.__name__ = name
    function.__qualname__ = name
    return function


def _route_type(record_type: RecordType) -> None:
    """Add ``record_type``'s paths, documented with its own schemas."""
    name, typed = record_type.name, typed_schemas(record_type)
    every = f"/records/{name}"
    one = f"{every}/<record_key:key>"
    target = f"{name}/{{key}}"
    tags = [name]

    def summary(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return blp.doc(summary=text.format(type=name), tags=tags)  # type: ignore[no-any-return]

    def answers(
        schema: type[Any], typed_schema: type[Any], description: str = "OK", status: int = 200
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Serialize through the general ``schema``; document the type's ``typed_schema``."""

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            typed_doc = {
                str(status): {
                    "description": description,
                    "content": {"application/json": {"schema": typed_schema}},
                }
            }
            return blp.response(status, schema, description=description)(  # type: ignore[no-any-return]
                blp.doc(responses=typed_doc)(view)
            )

        return decorator

    def conditional_write(
        method: str, action: str, doc: dict[str, Any], *, on_demand: bool = False
    ) -> Callable[[Callable[..., Any]], Any]:
        """Route a write of one record: audited as ``action``, needing ``records:write``,
        honouring Idempotency-Key and the conditional headers (documented with ``doc``); with
        ``on_demand``, its transaction on demand (``db.transaction_on_demand``)."""

        def decorator(view: Callable[..., Any]) -> Any:
            guarded = require_scope("records:write")(
                idempotency.idempotent(blp.doc(parameters=CONDITIONAL_HEADERS, **doc)(view))
            )
            if on_demand:
                guarded = db.transaction_on_demand(guarded)
            return blp.route(one, methods=[method])(audited(action, target)(guarded))

        return decorator

    blp.route(every, methods=["GET"])(
        audited(service.LIST, name)(
            require_scope("records:read")(
                blp.arguments(ListQuerySchema, location="query", as_kwargs=True)(
                    answers(RecordPageSchema, typed.page)(
                        summary("{type} records in change order, one keyset page at a time.")(
                            _view(f"list_{name}", lambda **query: list_records(record_type, query))
                        )
                    )
                )
            )
        )
    )
    blp.route(one, methods=["GET"])(
        audited(service.READ, target)(
            require_scope("records:read")(
                answers(RecordOutSchema, typed.record)(
                    blp.alt_response(304, description="Not modified since If-None-Match.")(
                        summary("One {type}; If-None-Match with its ETag gives 304.")(
                            _view(f"get_{name}", lambda key: get_record(record_type, key))
                        )
                    )
                )
            )
        )
    )
    # A publish's writes are one statement, or a retry in a transaction (service._publish).
    put_doc = {
        "responses": WRITE_RESPONSES,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": typed.data}},
        },
    }
    conditional_write("PUT", service.PUT, put_doc, on_demand=True)(
        answers(RecordOutSchema, typed.record, "Replaced (or unchanged).")(
            blp.alt_response(201, schema=typed.record, description="Created.")(
                summary("Create or replace a {type}; the body is its data.")(
                    _view(f"put_{name}", lambda key: put_record(record_type, key))
                )
            )
        )
    )
    patch_doc = {
        "responses": WRITE_RESPONSES,
        "requestBody": {
            "required": True,
            "content": {
                MERGE_PATCH: {"schema": typed.patch(partial=True)},
                "application/json": {"schema": typed.patch(partial=True)},
            },
        },
    }
    conditional_write("PATCH", service.PATCH, patch_doc)(
        answers(RecordOutSchema, typed.record)(
            summary("Change part of a {type} with a JSON merge patch.")(
                _view(f"patch_{name}", lambda key: patch_record(record_type, key))
            )
        )
    )
    conditional_write("DELETE", service.DELETE, {})(
        answers(RecordOutSchema, typed.record, "Tombstoned.")(
            summary("Tombstone a {type}: a new version marked deleted.")(
                _view(f"delete_{name}", lambda key: delete_record(record_type, key))
            )
        )
    )
    blp.route(f"{one}/history", methods=["GET"])(
        audited(service.HISTORY, target)(
            require_scope("records:read")(
                blp.arguments(PageQuerySchema, location="query", as_kwargs=True)(
                    answers(HistoryPageSchema, typed.history)(
                        summary("Every version of a {type}, newest first.")(
                            _view(
                                f"history_{name}",
                                lambda key, **query: record_history(record_type, key, query),
                            )
                        )
                    )
                )
            )
        )
    )
    blp.route(f"{every}/batch", methods=["POST"])(
        audited(service.BATCH, name)(
            require_scope("records:write")(
                idempotency.idempotent(
                    blp.doc(
                        parameters=[idempotency.PARAMETER],
                        # the items' data is checked by the type, item by item, as described
                        requestBody={"content": {"application/json": {"schema": typed.batch}}},
                    )(
                        blp.arguments(BatchInSchema)(
                            blp.response(200, BatchOutSchema)(
                                summary("Publish many {type} records; each item on its own.")(
                                    _view(
                                        f"batch_{name}",
                                        lambda body: batch_publish(record_type, body),
                                    )
                                )
                            )
                        )
                    )
                )
            )
        )
    )


for _record_type in registry().values():
    _route_type(_record_type)


@require_scope(None)
def _unknown_type(type_name: str, rest: str = "") -> Any:
    """A path under a record type the registry does not know: 404 saying where to look (to a
    caller with a valid token, as every records path)."""
    return service.record_type_named(type_name)  # raises NotFound: there is no such type


# Undocumented: an unknown type's paths say so, rather than a bare 404.
for _rule in ("/records/<unknown_type:type_name>", "/records/<unknown_type:type_name>/<path:rest>"):
    flask.Blueprint.add_url_rule(
        blp,
        _rule,
        "unknown_type" if "rest" not in _rule else "unknown_type_path",
        _unknown_type,
        methods=["GET", "PUT", "PATCH", "DELETE", "POST"],
    )


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
