"""Every model of the hub, imported in one place for Alembic and ``hub init``."""

from __future__ import annotations

from hub.audit.models import AuditEntry, AuditHead
from hub.auth.models import AccessKey, Department
from hub.connectors.models import Connector, ConnectorRun
from hub.events.models import EventCounter
from hub.grants.models import Grant
from hub.records.models import IdempotentRequest, Record, RecordVersion
from hub.subscriptions.models import Delivery, Subscription

__all__ = [
    "AccessKey",
    "AuditEntry",
    "AuditHead",
    "Connector",
    "ConnectorRun",
    "Delivery",
    "Department",
    "EventCounter",
    "Grant",
    "IdempotentRequest",
    "Record",
    "RecordVersion",
    "Subscription",
]
