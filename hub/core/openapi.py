"""The OpenAPI document says what the server enforces, in words a client generator reads.

The document is generated from the wire schemas (flask-smorest, apispec). What apispec cannot
see by itself is declared next to the rule it describes, and turned into JSON Schema here:

- a limit that is a setting (``PAGE_SIZE_MAX``...): field metadata made by
  :func:`from_settings`, read from the app's settings when the document is built;
- a rule on the body as a whole (at least one field; exactly one of two): a schema class
  decorated with :func:`schema_keywords`;
- a pattern: the validator's own regular expression (or ``metadata={"pattern": ...}``), written
  in the dialect JSON Schema uses (ECMA 262), so ``\\Z`` becomes ``$``.

Every operation gets a stable ``operationId``, its view's name, so generated clients have
methods such as ``put_land_parcel`` and ``read_feed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import marshmallow as ma
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter

SETTINGS_METADATA = "openapi_from_settings"
SCHEMA_KEYWORDS = "__openapi_keywords__"
# A setting's name, or a function of the settings giving the keyword's value.
SettingValue = str | Callable[[Mapping[str, Any]], Any]
SchemaT = TypeVar("SchemaT", bound=type[ma.Schema])


def from_settings(**keywords: SettingValue) -> dict[str, Any]:
    """Field metadata declaring JSON Schema keywords whose values come from the settings:
    ``metadata=from_settings(maximum="PAGE_SIZE_MAX")``."""
    return {SETTINGS_METADATA: keywords}


def schema_keywords(**keywords: Any) -> Callable[[SchemaT], SchemaT]:
    """Declare JSON Schema keywords of a whole body, as the schema's validators enforce them:
    ``@schema_keywords(minProperties=1)`` above a schema that refuses an empty object."""

    def decorate(schema: SchemaT) -> SchemaT:
        setattr(schema, SCHEMA_KEYWORDS, keywords)
        return schema

    return decorate


def portable_pattern(pattern: str) -> str:
    """A Python regular expression in the ECMA 262 dialect JSON Schema uses: ``\\Z`` is
    ``$`` (which in Python would also match before a final newline), groups are unnamed."""
    if pattern.endswith(r"\Z"):
        pattern = pattern[:-2] + "$"
    return re.sub(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>", "(", pattern)


class HubConverter(OpenAPIConverter):  # type: ignore[misc]
    """apispec's converter, with the keywords declared above."""

    settings: Mapping[str, Any] = {}

    def init_attribute_functions(self) -> None:
        super().init_attribute_functions()
        self.attribute_functions.extend([self._settings_keywords, self._portable_pattern])

    def _settings_keywords(self, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:  # type: ignore[type-arg]
        declared: Mapping[str, SettingValue] = field.metadata.get(SETTINGS_METADATA, {})
        return {
            keyword: value(self.settings) if callable(value) else self.settings[value]
            for keyword, value in declared.items()
        }

    def _portable_pattern(
        self,
        field: ma.fields.Field,  # type: ignore[type-arg]
        ret: dict[str, Any],
        **kwargs: Any,
    ) -> dict[str, Any]:
        return {"pattern": portable_pattern(ret["pattern"])} if "pattern" in ret else {}

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        json_schema: dict[str, Any] = super().schema2jsonschema(schema)
        json_schema.update(getattr(schema, SCHEMA_KEYWORDS, {}))
        return json_schema


class HubMarshmallowPlugin(MarshmallowPlugin):  # type: ignore[misc]
    """The marshmallow plugin of one app's document, which knows that app's settings."""

    Converter = HubConverter

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.settings = settings

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        self.converter.settings = self.settings


class OperationIds(BasePlugin):  # type: ignore[misc]
    """Names each operation after its view (``put_land_parcel``, ``read_feed``). A one-word
    view name says too little outside its blueprint, so the blueprint's name comes first
    (``grants_approve``, ``supervision_board``), as it does when two blueprints have views of
    the same name."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: set[str] = set()

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        blueprint, _, view = rule.endpoint.rpartition(".")
        for method, operation in operations.items():
            if "operationId" in operation:
                continue
            name = view if len(operations) == 1 else f"{view}_{method}"
            if "_" not in name or name in self.taken:
                name = f"{blueprint}_{name}"
            if name in self.taken:
                raise ValueError(f"Two operations would be named {name!r}: name one of them.")
            self.taken.add(name)
            operation["operationId"] = name


def spec_plugins(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``spec_kwargs`` of flask-smorest's ``Api.init_app`` that make one app's document."""
    return {"marshmallow_plugin": HubMarshmallowPlugin(settings), "extra_plugins": [OperationIds()]}
