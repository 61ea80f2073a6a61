"""What a reader may see of a record, by the sharing class of each field and the reader's grants.

``open`` fields reach every reader. ``restricted`` fields reach only the departments that may
publish the type. ``conditional`` fields reach those departments and the holders of an active
grant from one of them: approved, not yet expired, not revoked, from a department that still may
publish the type. A grant that names fields opens only those; one that names none opens all the
type's conditional fields.

Every path data leaves by (reads, lists, history, dossier, feed, webhooks) goes through
:meth:`ReaderView.visible`, so a leak cannot hide in one of them; and since that is where
disclosure is decided, it is also where it is noted: a view remembers which records' protected
(conditional or restricted) fields it showed, for the audit log (:meth:`ReaderView.disclosure`).
Expiry needs no job: a reader's grants are read with the current time, once per view, and only
when a record type with conditional fields is first shown to a department that does not
publish it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.models import Department
from hub.core.db import utcnow
from hub.sharing.models import Grant
from schemas import RecordType, registry

# The conditional fields each record type's grants open to a reader, by type name.
GrantedFields = Mapping[str, frozenset[str]]
# A disclosure entry names at most this many of the records it disclosed.
MAX_DISCLOSED_LISTED = 1000


@dataclass(eq=False)
class ReaderView:
    """One reader's rights to see fields, for one unit of work.

    ``load_grants`` is called at most once, the first time the reader's grants matter.
    """

    department_id: str
    publishes: frozenset[str]
    load_grants: Callable[[], GrantedFields] = field(repr=False)
    _granted: GrantedFields | None = field(default=None, init=False, repr=False)
    _withheld: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False)
    # protected fields shown, by "type/key"
    _disclosed: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)

    def withheld_fields(self, record_type: RecordType) -> list[str]:
        """Fields of ``record_type`` this reader may not see, sorted."""
        withheld = self._withheld.get(record_type.name)
        if withheld is None:
            withheld = self._withheld[record_type.name] = self._withheld_of(record_type)
        return list(withheld)

    def visible(
        self, record_type: RecordType, key: str, data: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """The part of record ``key``'s ``data`` this reader may see, and the names of the
        withheld fields; the protected fields it shows are noted as disclosed."""
        withheld = self.withheld_fields(record_type)
        if not withheld:
            shown = dict(data)
        else:
            hidden = set(withheld)
            shown = {name: value for name, value in data.items() if name not in hidden}
        self.note_disclosure(record_type, key, shown)
        return shown, withheld

    def visible_names(self, record_type: RecordType, names: Iterable[str]) -> list[str]:
        """Those of ``names`` (a change's changed fields, say) this reader may see: that a
        withheld field changed, and when, is itself not for this reader."""
        withheld = self.withheld_fields(record_type)
        if not withheld:
            return list(names)
        hidden = set(withheld)
        return [name for name in names if name not in hidden]

    def note_disclosure(self, record_type: RecordType, key: str, shown: Mapping[str, Any]) -> None:
        """Note the protected fields of record ``key`` that ``shown`` (what went out) holds."""
        protected = record_type.protected_fields & shown.keys()
        if protected:
            self._disclosed.setdefault(f"{record_type.name}/{key}", set()).update(protected)

    def disclosure(self) -> dict[str, Any] | None:
        """What this view disclosed, as audit details (records and fields), or None."""
        if not self._disclosed:
            return None
        records = sorted(self._disclosed)
        details: dict[str, Any] = {
            "fields": sorted(set().union(*self._disclosed.values())),
            "records": records[:MAX_DISCLOSED_LISTED],
        }
        if len(records) > MAX_DISCLOSED_LISTED:
            details["records_not_listed"] = len(records) - MAX_DISCLOSED_LISTED
        return details

    def take_disclosure(self) -> dict[str, Any] | None:
        """:meth:`disclosure`, and forget it (what one delivery disclosed, say)."""
        details = self.disclosure()
        self._disclosed.clear()
        return details

    def _withheld_of(self, record_type: RecordType) -> tuple[str, ...]:
        if record_type.name in self.publishes:
            return ()
        conditional = record_type.fields_of_class("conditional")
        if conditional:
            conditional = conditional - self._grants().get(record_type.name, frozenset())
        return tuple(sorted(record_type.fields_of_class("restricted") | conditional))

    def _grants(self) -> GrantedFields:
        if self._granted is None:
            self._granted = self.load_grants()
        return self._granted


def granted_fields(session: Session, department_id: str, now: datetime) -> GrantedFields:
    """The conditional fields, by type, that ``department_id``'s active grants open at ``now``.

    One query on ``ix_grants_applicant``; the owner's publishing rights come in the same
    query, so a grant from a department that no longer publishes the type opens nothing.
    """
    rows = session.execute(
        select(Grant.record_type, Grant.fields, Department.publishes)
        .join(Department, Department.id == Grant.owner_id)
        .where(
            Grant.applicant_id == department_id,
            Grant.status == "approved",
            Grant.expires_at > now,
        )
    )
    types = registry()
    opened: dict[str, frozenset[str]] = {}
    for type_name, named, owner_publishes in rows:
        record_type = types.get(type_name)
        if record_type is None or type_name not in owner_publishes:
            continue
        conditional = record_type.fields_of_class("conditional")
        fields = conditional & frozenset(named) if named else conditional
        opened[type_name] = opened.get(type_name, frozenset()) | fields
    return opened


def reader_view(
    session: Session | Callable[[], Session], department_id: str, publishes: frozenset[str]
) -> ReaderView:
    """The sharing rights of a department that may publish ``publishes``; grants read lazily,
    in ``session`` (or in the one ``session()`` returns when they are first needed)."""

    def load() -> GrantedFields:
        current = session() if callable(session) else session
        return granted_fields(current, department_id, utcnow())

    return ReaderView(department_id=department_id, publishes=publishes, load_grants=load)
