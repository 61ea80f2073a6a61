"""The record-type registry: every module in this package with a ``RECORD_TYPE`` is a type.

Adding a record type means adding one module here; the hub discovers it at start.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from schemas.base import KEY_RULE, RecordType, is_valid_key, normalize_key

__all__ = ["KEY_RULE", "RecordType", "is_valid_key", "normalize_key", "registry"]


@cache
def registry() -> Mapping[str, RecordType]:
    """All record types by name, discovered from this package's modules."""
    types: dict[str, RecordType] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        record_type = getattr(module, "RECORD_TYPE", None)
        if isinstance(record_type, RecordType):
            if record_type.name in types:
                raise RuntimeError(f"record type {record_type.name!r} is defined twice")
            types[record_type.name] = record_type
    if "project" not in types:
        raise RuntimeError("the record-type registry needs a 'project' type")
    return MappingProxyType(types)
