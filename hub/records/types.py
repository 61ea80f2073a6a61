"""The registry as clients see it: each type's fields, sharing classes and JSON Schema."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec

from hub.core.openapi import HubMarshmallowPlugin
from schemas import registry


def _converter() -> Any:
    # A resolver that names nothing inlines nested schemas: one self-contained JSON Schema,
    # written as the OpenAPI document's (portable patterns).
    plugin = HubMarshmallowPlugin({}, schema_name_resolver=lambda schema: None)
    APISpec("record types", "1", "3.1.0", plugins=[plugin])
    converter = plugin.converter
    assert converter is not None, "APISpec initialises the plugin's converter"
    return converter


@cache
def describe_types() -> list[dict[str, Any]]:
    """Every record type, described for ``GET /types``."""
    converter = _converter()
    described = []
    for record_type in registry().values():
        json_schema = converter.schema2jsonschema(record_type.schema())
        json_schema["additionalProperties"] = False
        described.append(
            {
                "name": record_type.name,
                "description": record_type.description,
                "key_field": record_type.key_field,
                "version": record_type.version,
                "fields_": dict(record_type.sharing),
                "json_schema": json_schema,
            }
        )
    return described
