"""Writing audit entries: who did what to which thing, and what it came to.

The service that changes something records its entry itself, in the unit of work that makes
the change, so the entry commits exactly when the change does (:func:`record`). What a caller
was refused, and reads that disclosed protected fields, are recorded in a unit of work of
their own (:func:`record_apart`): the request's own is rolled back, or wrote nothing.

``outcome`` is an HTTP status code, whatever the channel: 2xx done (201 when it created
something), 4xx refused. The same action over HTTP, in the console or from the CLI makes the
same entry but for the actor and, over HTTP, the request's method and path.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry
from hub.core.db import utcnow
from hub.core.extensions import db
from hub.core.pagination import newest_first

_INSERT_ENTRY = insert(AuditEntry)
# The columns an entry is written with; the chain's own (seq, hashes) come at sealing.
ENTRY_COLUMNS = (
    "at",
    "department_id",
    "key_id",
    "actor",
    "action",
    "target",
    "remote_addr",
    "outcome",
    "details",
)


@dataclass(frozen=True)
class Actor:
    """Who acts: a key, a console user, an operator at the CLI, or the dispatcher.

    ``request`` is what an action over HTTP adds to every entry: its method and path.
    """

    name: str
    department_id: str | None = None
    key_id: str | None = None
    remote_addr: str | None = None
    request: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def cli(cls) -> Actor:
        """The operator running a CLI command: the operating-system user and host."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for the uid, e.g. in a bare container
            user = "unknown"
        return cls(f"cli:{user}@{socket.gethostname()}")

    def over(self, method: str, path: str, remote_addr: str | None) -> Actor:
        """This actor acting through an HTTP request."""
        return replace(self, remote_addr=remote_addr, request={"method": method, "path": path})


@dataclass(frozen=True)
class Entry:
    """An entry about to be written: everything but what the action came to."""

    actor: Actor
    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def values(self, outcome: int, **details: Any) -> dict[str, Any]:
        """The entry's column values once it came to ``outcome``, with more ``details``."""
        actor = self.actor
        return {
            "at": utcnow(),
            "department_id": actor.department_id,
            "key_id": actor.key_id,
            "actor": actor.name[:200],
            "action": self.action[:64],
            "target": _storable(self.target)[:300],
            "remote_addr": actor.remote_addr[:64] if actor.remote_addr else None,
            "outcome": outcome,
            "details": _storable({**actor.request, **self.details, **details}),
        }


def record(session: Session, entry: Entry, outcome: int, **details: Any) -> None:
    """Write ``entry`` in ``session``'s unit of work: it commits or vanishes with the change."""
    session.connection().execute(_INSERT_ENTRY, entry.values(outcome, **details))


def record_apart(entry: Entry, outcome: int, **details: Any) -> None:
    """Write ``entry`` in a unit of work of its own, beside the current one."""
    with db.separate_unit_of_work() as session:
        record(session, entry, outcome, **details)


def _storable(value: Any) -> Any:
    """``value`` with text every database stores: NUL and lone surrogates escaped.

    Details quote what clients sent (keys, error messages naming values), and PostgreSQL's
    JSON refuses NUL; an entry must never fail for what it quotes.
    """
    kind = type(value)
    if kind in _PLAIN:  # most of what details hold (a batch names each item's status)
        return value
    if isinstance(value, str):
        if "\x00" in value or not value.isprintable():
            value = value.replace("\x00", "\\u0000")
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, Mapping):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


# values stored as they are
_PLAIN = frozenset({int, bool, float, type(None)})


@dataclass(frozen=True)
class AuditFilter:
    """What to narrow the audit log to; None means any."""

    department_id: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(
    session: Session, where: AuditFilter, limit: int, before_id: int | None = None
) -> tuple[list[AuditEntry], int | None]:
    """Entries matching ``where``, newest first, and the id to continue before (or None)."""
    query = select(AuditEntry)
    if where.department_id is not None:
        query = query.where(AuditEntry.department_id == where.department_id)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.target is not None:
        query = query.where(AuditEntry.target == where.target)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    return newest_first(session, query, AuditEntry.id, limit, before_id)
