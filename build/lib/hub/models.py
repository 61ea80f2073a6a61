"""Every model of the hub, imported in one place for Alembic and ``hub init``."""

from __future__ import annotations

from hub.auth.models import AccessKey, Department
from hub.events.models import EventCounter
from hub.records.models import IdempotentRequest, Record, RecordVersion

__all__ = [
    "AccessKey",
    "Department",
    "EventCounter",
    "IdempotentRequest",
    "Record",
    "RecordVersion",
]
