"""What a reader may see of a record, by the sharing class of each field.

``open`` fields reach every reader; ``conditional`` and ``restricted`` fields reach only the
departments that may publish the type. Every path data leaves by (reads, lists, history,
dossier, feed) goes through :meth:`ReaderView.visible`, so a leak cannot hide in one of them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.auth.identity import Identity
from schemas import RecordType


@dataclass(frozen=True)
class ReaderView:
    """One reader's rights to see fields, computed once per unit of work."""

    department_id: str
    publishes: frozenset[str]

    def withheld_fields(self, record_type: RecordType) -> list[str]:
        """Fields of ``record_type`` this reader may not see, sorted."""
        if record_type.name in self.publishes:
            return []
        return list(_protected_fields(record_type))

    def visible(
        self, record_type: RecordType, data: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """The part of ``data`` this reader may see, and the names of the withheld fields."""
        withheld = self.withheld_fields(record_type)
        if not withheld:
            return dict(data), []
        hidden = set(withheld)
        return {name: value for name, value in data.items() if name not in hidden}, withheld


@functools.cache
def _protected_fields(record_type: RecordType) -> tuple[str, ...]:
    """The fields of ``record_type`` that only its publishers see, sorted."""
    protected = record_type.fields_of_class("conditional") | record_type.fields_of_class(
        "restricted"
    )
    return tuple(sorted(protected))


def reader_view(identity: Identity) -> ReaderView:
    """The sharing rights of ``identity``."""
    return ReaderView(department_id=identity.department_id, publishes=identity.publishes)
