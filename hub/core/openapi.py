"""The OpenAPI document says what the server enforces, in words a client generator reads.

The document is generated from the wire schemas (flask-smorest, apispec). What apispec cannot
see by itself is declared next to the rule it describes, and turned into JSON Schema here:

- a limit that is a setting (``PAGE_SIZE_MAX``...): field metadata made by
  :func:`from_settings`, read from the app's settings when the document is built;
- a rule on the body as a whole (at least one field): a schema class decorated with
  :func:`schema_keywords`;
- a value that is one of several shapes (a batch item publishes or deletes): field metadata
  made by :func:`one_of`, each shape a schema of its own, so generators write a union;
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
from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter

from hub.core.errors import PROBLEM_JSON, ProblemSchema

SETTINGS_METADATA = "openapi_from_settings"
ONE_OF_METADATA = "openapi_one_of"
SCHEMA_KEYWORDS = "__openapi_keywords__"
# A setting's name, or a function of the settings giving the keyword's value.
SettingValue = str | Callable[[Mapping[str, Any]], Any]
SchemaT = TypeVar("SchemaT", bound=type[ma.Schema])


def from_settings(**keywords: SettingValue) -> dict[str, Any]:
    """Field metadata declaring JSON Schema keywords whose values come from the settings:
    ``metadata=from_settings(maximum="PAGE_SIZE_MAX")``."""
    return {SETTINGS_METADATA: keywords}


def one_of(*schemas: type[ma.Schema]) -> dict[str, Any]:
    """Field metadata declaring that the value is one of ``schemas`` (exactly one matches)."""
    return {ONE_OF_METADATA: schemas}


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


class HubConverter(OpenAPIConverter):
    """apispec's converter, with the keywords declared above."""

    settings: Mapping[str, Any] = {}

    def init_attribute_functions(self) -> None:
        super().init_attribute_functions()  # type: ignore[no-untyped-call]
        self.attribute_functions.extend(
            [self._settings_keywords, self._one_of, self._portable_pattern]
        )

    def _settings_keywords(self, field: ma.fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
        declared: Mapping[str, SettingValue] = field.metadata.get(SETTINGS_METADATA, {})
        return {
            keyword: value(self.settings) if callable(value) else self.settings[value]
            for keyword, value in declared.items()
        }

    def _one_of(self, field: ma.fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
        schemas = field.metadata.get(ONE_OF_METADATA, ())
        return {"oneOf": [self.reference(schema) for schema in schemas]} if schemas else {}

    def reference(self, schema: type[ma.Schema]) -> dict[str, Any]:
        """``schema`` as a reference to its component (added to the document if need be)."""
        reference: dict[str, Any] = self.resolve_nested_schema(schema)  # type: ignore[no-untyped-call]
        return reference

    def _portable_pattern(
        self,
        field: ma.fields.Field[Any],
        ret: dict[str, Any],
        **kwargs: Any,
    ) -> dict[str, Any]:
        return {"pattern": portable_pattern(ret["pattern"])} if "pattern" in ret else {}

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        json_schema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        json_schema.update(getattr(schema, SCHEMA_KEYWORDS, {}))
        return json_schema


class HubMarshmallowPlugin(MarshmallowPlugin):
    """The marshmallow plugin of one app's document, which knows that app's settings."""

    Converter = HubConverter

    def __init__(self, settings: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        assert isinstance(self.converter, HubConverter)
        self.converter.settings = self.settings


class OperationIds(BasePlugin):
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


class ProblemResponses(BasePlugin):
    """Every error response is problem+json (``hub.core.errors``): says so of the error
    statuses an operation documents with a description only."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        self.spec = spec

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        for operation in (operations or {}).values():
            for status, response in operation.get("responses", {}).items():
                # (a response given by a component's name is a string)
                described_only = isinstance(response, dict) and not response.keys() & {
                    "content",
                    "$ref",
                }
                if described_only and str(status).isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": self._problem()}}

    def _problem(self) -> dict[str, Any]:
        marshmallow = next(p for p in self.spec.plugins if isinstance(p, HubMarshmallowPlugin))
        assert isinstance(marshmallow.converter, HubConverter)
        return marshmallow.converter.reference(ProblemSchema)


def spec_plugins(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``spec_kwargs`` of flask-smorest's ``Api.init_app`` that make one app's document."""
    return {
        "marshmallow_plugin": HubMarshmallowPlugin(settings),
        "extra_plugins": [OperationIds(), ProblemResponses()],
    }
