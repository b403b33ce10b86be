"""`record()`: the one function every state change calls to write the audit log; and how the
log reads: `changes()` (an event's before and after, field by field) and `page_of_events()`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request

from . import product_key
from .extensions import db
from .models.audit import AuditEvent


def current_actor_name() -> str:
    """Who is acting: the logged-in user, the API token's user, or the host's actor."""
    from flask import current_app

    state = current_app.extensions.get("license_platform")
    if state is not None and has_request_context():
        return state.actor_name()
    return "system"


def record(
    action: str,
    *,
    actor: str | None = None,
    subject: str | None = None,
    install_id: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: str | None = None,
    commit: bool = False,
) -> AuditEvent:
    """Add an audit event to the current transaction (committed with the change it records).

    `commit=True` is for events that stand alone (a failed login, a refused activation),
    where there is no other change to commit with.
    """
    event = AuditEvent(
        actor=actor or current_actor_name(),
        action=action,
        subject=subject,
        install_id=install_id,
        before=before,
        after=after,
        detail=detail,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


# ------------------------------------------------------------------ reading the log

PAGE_SIZE = 50

# How the recorded fields read on the audit log page; others are spelled out from their names.
FIELD_LABELS = {
    "aku": "AKU", "aliUid": "Buyer account", "change": "Change", "channel": "Channel", "code": "Code",
    "count": "Count", "email": "E-mail", "error": "Error", "expiresAt": "Expires", "id": "Record id",
    "installId": "Install ID", "name": "Name", "orderIds": "Order ids", "prefix": "Token prefix",
    "product": "Product", "reference": "Reference", "role": "Role", "seq": "Seq", "source": "Source",
    "specification": "Specification", "type": "Type",
}
# Fields that identify rather than describe (the event's subject names the record): they go in
# the line below the table.
BOOKKEEPING = frozenset({"id", "channel", "type", "reference"})
# What people look for first; fields not named here follow in the order they were recorded.
FIELD_ORDER = ("change", "aku", "expiresAt", "seq", "installId", "name", "product", "specification",
               "code", "aliUid", "orderIds", "reference", "channel", "type", "error")


@dataclass(frozen=True)
class FieldChange:
    """One field of an event's before and after, as the audit log page shows it."""

    name: str
    label: str
    kind: str  # "time", "install_id", "id" (a long record id) or "text"
    before: Any = None
    after: Any = None
    in_before: bool = False
    in_after: bool = False

    @property
    def changed(self) -> bool:
        """Recorded on both sides with different values."""
        return self.in_before and self.in_after and self.before != self.after


@dataclass(frozen=True)
class Changes:
    rows: list[FieldChange]
    before: bool  # the event recorded a before
    after: bool  # ... and an after

    @property
    def shown(self) -> list[FieldChange]:
        """The rows of the table: what people look for, and with a before and an after, only the
        fields that are not the same on both sides."""
        return [r for r in self.rows if r.name not in BOOKKEEPING and not self._same(r)]

    @property
    def folded(self) -> list[FieldChange]:
        """The rest, named in one line under the table: record ids, channels and types, and
        the fields a before and an after recorded the same."""
        return [r for r in self.rows if r.name in BOOKKEEPING or self._same(r)]

    def _same(self, row: FieldChange) -> bool:
        return bool(self.before and self.after and row.in_before and row.in_after and row.before == row.after)


def _label(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:] if words else "Value"


def _kind(name: str, values: list) -> str:
    present = [v for v in values if v is not None]
    if present and all(product_key.is_install_id(v) for v in present):
        return "install_id"
    if name.endswith("At") or name.endswith("_at"):
        return "time"
    if name == "id" and all(isinstance(v, str) and len(v) > 16 for v in present):
        return "id"
    return "text"


def show_value(value: Any) -> str:
    """A recorded value as text for people: lists joined, objects as compact JSON, none as —."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def changes(before: Any, after: Any) -> Changes:
    """An event's before and after as one row per field that either side recorded (pure).

    Values that are not JSON objects (a bare string, a list) are one field, "Value".
    """
    sides = [side if side is None or isinstance(side, dict) else {"value": side} for side in (before, after)]
    b, a = (side or {} for side in sides)
    names = list(dict.fromkeys([*b, *a]))
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    names.sort(key=lambda n: (n == "id", rank.get(n, len(rank))))  # stable: recorded order otherwise
    rows = [
        FieldChange(name=n, label=_label(n), kind=_kind(n, [b.get(n), a.get(n)]), before=b.get(n), after=a.get(n),
                    in_before=n in b, in_after=n in a)
        for n in names
    ]
    return Changes(rows=rows, before=sides[0] is not None, after=sides[1] is not None)


@dataclass(frozen=True)
class EventPage:
    """One page of the log, newest first, with the cursors of its neighbours (None: no such page)."""

    events: list[AuditEvent]
    newer: int | None = None  # `after=` of the page of newer events
    older: int | None = None  # `before=` of the page of older events


def _any(stmt, condition) -> bool:
    return db.session.scalar(stmt.where(condition).with_only_columns(AuditEvent.id).limit(1)) is not None


def page_of_events(stmt, *, before: int | None = None, after: int | None = None, size: int = PAGE_SIZE) -> EventPage:
    """A page of at most `size` events of `stmt` (a filtered `select(AuditEvent)`), by id.

    No cursor: the newest events. `before`: the events older than that id. `after`: the events
    just newer than that id, or the newest page when fewer than a page of them are left, so
    every page is full. Each read is one indexed query of `size + 1` rows, plus one that asks
    whether the other direction has any event.
    """
    newest_first = AuditEvent.id.desc()
    if after is not None and before is None:
        newer_first = stmt.where(AuditEvent.id > after).order_by(AuditEvent.id.asc())
        rows = db.session.scalars(newer_first.limit(size + 1)).all()
        if len(rows) <= size:
            return page_of_events(stmt, size=size)
        events = list(reversed(rows[:size]))
        older = events[-1].id if _any(stmt, AuditEvent.id < events[-1].id) else None
        return EventPage(events, newer=events[0].id, older=older)
    query = stmt if before is None else stmt.where(AuditEvent.id < before)
    rows = db.session.scalars(query.order_by(newest_first).limit(size + 1)).all()
    events = list(rows[:size])
    older = events[-1].id if len(rows) > size else None
    newer = None
    if before is not None and events and _any(stmt, AuditEvent.id > events[0].id):
        newer = events[0].id
    return EventPage(events, newer=newer, older=older)
