"""Every model of the hub, imported in one place for Alembic and ``hub init``."""

from __future__ import annotations

from hub.audit.models import AuditEntry, AuditHead
from hub.auth.models import AccessKey, Department
from hub.connector_runs.models import Connector, ConnectorRun
from hub.events.models import EventCounter
from hub.records.models import IdempotentRequest, Record, RecordVersion
from hub.sharing.models import Grant
from hub.subscriptions.models import Delivery, Subscription
from hub.users.models import User

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
    "User",
]
