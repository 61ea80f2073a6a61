"""Writing audit entries, sealing them into the hash chain, and checking the chain.

An entry is inserted unsealed in the unit of work of the action it records, so the record of
an action commits exactly when the action does. Sealing rounds then chain committed entries in
the order they are sealed: each entry's hash covers its content and the previous entry's hash,
so altering, removing or inserting a sealed row breaks the chain at that row.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry
from hub.db import utcnow

_INSERT_ENTRY = insert(AuditEntry)


def cli_actor() -> str:
    """Who runs a CLI command: the operating-system user and host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid, e.g. in a bare container
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def record(
    session: Session,
    *,
    action: str,
    target: str,
    outcome: int,
    actor: str,
    department_id: str | None = None,
    key_id: str | None = None,
    remote_addr: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add an unsealed entry to the audit log in ``session``'s unit of work.

    ``outcome`` is an HTTP status code: what the action came to (2xx done, 4xx refused).
    """
    session.connection().execute(
        _INSERT_ENTRY,
        {
            "at": utcnow(),
            "department_id": department_id,
            "key_id": key_id,
            "actor": actor[:200],
            "action": action[:64],
            "target": target[:300],
            "remote_addr": remote_addr,
            "outcome": outcome,
            "details": dict(details or {}),
        },
    )
