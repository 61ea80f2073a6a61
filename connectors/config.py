"""Connector settings: one TOML file per connector, checked strictly at start.

Secrets are never in the file: it names the environment variables that hold them
(``key_env`` for the hub access key, ``client_secret_env`` for a source system's secret).
``HUB_CONNECTOR_HUB_URL`` and ``HUB_CONNECTOR_STATE_DIR`` override the file, for one host
running several connectors.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from connectors.mapping import KINDS, RecordMapping, build_mapping

NAME = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Use a-z, 0-9, _ and -.")
DEFAULT_CONFIG_DIR = Path("config/connectors")
SYSTEMS = ("land", "finance", "permitting")


class ConfigError(Exception):
    """A connector's settings are missing, unknown or contradictory."""


class FieldRuleSchema(ma.Schema):
    """One hub field: the native field it comes from and how to read it."""

    from_ = fields.String(required=True, data_key="from")
    as_ = fields.String(data_key="as", validate=validate.OneOf(KINDS))
    scale = fields.Decimal()
    enum = fields.Dict(keys=fields.String(), values=fields.String())


class NativeField(fields.Field):  # type: ignore[type-arg]
    """A field rule written as just the native field's name, or as a table."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return {"from": value}
        if not isinstance(value, dict):
            raise ma.ValidationError("Give the native field's name or a table with `from`.")
        loaded = FieldRuleSchema().load(value)
        rule = {"from": loaded["from_"], "as": loaded.get("as_", "text")}
        rule.update({k: loaded[k] for k in ("scale", "enum") if k in loaded})
        return rule


class DeletedWhenSchema(ma.Schema):
    """Rows the source marks as gone: a field and the values that mean so."""

    field = fields.String(required=True)
    equals = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))


class MappingSchema(ma.Schema):
    """Native rows → hub records."""

    key = fields.String(required=True)
    deleted_when = fields.Nested(DeletedWhenSchema)
    fields_ = fields.Dict(
        keys=fields.String(), values=NativeField(), required=True, data_key="fields"
    )


class HubSchema(ma.Schema):
    """Where the hub is and which environment variable holds the access key."""

    url = fields.URL(require_tld=False, required=True, schemes={"http", "https"})
    key_env = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]*$"))


class ConnectorSchema(ma.Schema):
    """A connector's TOML file."""

    name = fields.String(required=True, validate=NAME)
    system = fields.String(required=True, validate=validate.OneOf(SYSTEMS))
    record_type = fields.String(required=True)
    interval = fields.Float(load_default=60.0, validate=validate.Range(min=0.1))
    batch_size = fields.Integer(load_default=500, validate=validate.Range(1, 500))
    state_dir = fields.String(load_default="instance/connectors")
    hub = fields.Nested(HubSchema, required=True)
    source = fields.Dict(required=True)
    mapping = fields.Nested(MappingSchema, required=True)
    outbound = fields.Dict()


@dataclass(frozen=True)
class ConnectorConfig:
    """A connector's checked settings."""

    name: str
    system: str
    record_type: str
    interval: float
    batch_size: int
    state_dir: Path
    hub_url: str
    access_key: str
    source: Mapping[str, Any]
    mapping: RecordMapping
    outbound: Mapping[str, Any] | None


def parse(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ConnectorConfig:
    """Check a connector's settings and resolve its secrets from the environment."""
    environ = os.environ if environ is None else environ
    try:
        loaded = ConnectorSchema().load(raw)
    except ma.ValidationError as error:
        raise ConfigError(f"invalid connector settings: {error.messages}") from None
    key_env = loaded["hub"]["key_env"]
    access_key = environ.get(key_env, "")
    if not access_key:
        raise ConfigError(f"set {key_env} to the connector's hub access key (hubk_...)")
    mapping = loaded["mapping"]
    return ConnectorConfig(
        name=loaded["name"],
        system=loaded["system"],
        record_type=loaded["record_type"],
        interval=loaded["interval"],
        batch_size=loaded["batch_size"],
        state_dir=Path(environ.get("HUB_CONNECTOR_STATE_DIR") or loaded["state_dir"]),
        hub_url=environ.get("HUB_CONNECTOR_HUB_URL") or loaded["hub"]["url"],
        access_key=access_key,
        source=loaded["source"],
        mapping=build_mapping(
            {
                "key": mapping["key"],
                "fields": mapping["fields_"],
                "deleted_when": mapping.get("deleted_when"),
            }
        ),
        outbound=loaded.get("outbound"),
    )


def load(name: str, config_dir: Path | None = None) -> ConnectorConfig:
    """The settings of the connector ``name`` from ``<config_dir>/<name>.toml``."""
    directory = config_dir or Path(os.environ.get("HUB_CONNECTOR_CONFIG_DIR", DEFAULT_CONFIG_DIR))
    path = directory / f"{name}.toml"
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"no settings for connector {name!r}: {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse(raw)


def require_secret(environ_name: str, environ: Mapping[str, str] | None = None) -> str:
    """A secret from the environment; ConfigError naming the variable when it is unset."""
    value = (os.environ if environ is None else environ).get(environ_name, "")
    if not value:
        raise ConfigError(f"set {environ_name}: the connector needs it and it has no default")
    return value


def load_section(schema: ma.Schema, section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A system-specific section checked by that system's schema, with errors naming it."""
    try:
        loaded: dict[str, Any] = schema.load(section)
    except ma.ValidationError as error:
        raise ConfigError(f"invalid [{where}] settings: {error.messages}") from None
    return loaded
