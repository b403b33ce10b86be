"""`record()`: the one function every state change calls to write the audit log; and how the
log reads: `action_label()` (an action in words), `changes()` (an event's before and after,
field by field, codes in words where there are words) and `page_of_events()`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import has_request_context, request

from . import product_key, wording
from .database import db
from .i18n import gettext as _, lazy_gettext
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

# Every action the app records (`record(...)` across webapp/), in words for the audit log page;
# the code stays beside it, small, for support (and in the CSV export and the filter's URL).
ACTION_LABELS = {
    # accounts and keys (the core)
    "login": lazy_gettext("Logged in"),
    "login_failed": lazy_gettext("Login failed"),
    "logout": lazy_gettext("Logged out"),
    "user_created": lazy_gettext("Account created"),
    "password_changed": lazy_gettext("Password changed (its sessions ended)"),
    "token_created": lazy_gettext("API token created"),
    "tokens_revoked": lazy_gettext("API tokens revoked"),
    "signing_key_generated": lazy_gettext("Signing key generated"),
    "key_issued": lazy_gettext("Key issued"),
    # the vendor side
    "code_bound": lazy_gettext("Authorization code bound"),
    "code_activated": lazy_gettext("Authorization code activated"),
    "code_activation_failed": lazy_gettext("Authorization code activation failed"),
    "code_transferred": lazy_gettext("Authorization code transferred"),
    "license_replaced": lazy_gettext("License replaced"),
    "redeem_refused": lazy_gettext("Redemption refused"),
    "reconcile_run": lazy_gettext("Marketplace codes re-read"),
    "demo_marketplace_changed": lazy_gettext("Demo marketplace changed"),
    "webhook_endpoint_added": lazy_gettext("Webhook endpoint added"),
    "webhook_endpoint_removed": lazy_gettext("Webhook endpoint removed"),
    "webhook_redelivered": lazy_gettext("Webhook redelivered"),
    "buyer_contact_recorded": lazy_gettext("Buyer e-mail recorded for reminders"),
    "buyer_contact_removed": lazy_gettext("Buyer e-mail removed"),
    "mail_sent_again": lazy_gettext("E-mail sent again"),
    # the environment side
    "license_activated": lazy_gettext("License activated"),
    "license_activation_refused": lazy_gettext("Activation refused"),
    "license_activation_refusals_repeated": lazy_gettext("Activation refused again"),
    "license_activation_rate_limited": lazy_gettext("Activation attempts held back"),
    "instance_created": lazy_gettext("Instance created"),
    "instance_grown": lazy_gettext("Instance grown"),
    "instance_shrunk": lazy_gettext("Instance shrunk"),
    "instance_deleted": lazy_gettext("Instance deleted"),
}


def action_label(action: str | None) -> str:
    """An action in words ("Key issued"); one this version does not know (a newer version's, a
    host's) reads as its code spelled out: "cluster_paused" is "Cluster paused"."""
    return str(ACTION_LABELS.get(action or "") or _label(action or ""))


# How the recorded fields read on the audit log page; others are spelled out from their names.
FIELD_LABELS = {
    "aku": lazy_gettext("AKU"), "aliUid": lazy_gettext("Buyer account"), "change": lazy_gettext("Change"), "channel": lazy_gettext("Channel"), "code": lazy_gettext("Code"),
    "count": lazy_gettext("Count"), "email": lazy_gettext("E-mail"), "error": lazy_gettext("Reason"), "expiresAt": lazy_gettext("Expires"), "id": lazy_gettext("Record id"),
    "installId": lazy_gettext("Install ID"), "name": lazy_gettext("Name"), "orderIds": lazy_gettext("Order ids"), "prefix": lazy_gettext("Token prefix"),
    "product": lazy_gettext("Product"), "reference": lazy_gettext("Reference"), "role": lazy_gettext("Role"), "seq": lazy_gettext("Seq"), "source": lazy_gettext("Source"),
    "specification": lazy_gettext("Specification"), "type": lazy_gettext("Type"), "firstAt": lazy_gettext("First"), "lastAt": lazy_gettext("Last"),
    "retryAfter": lazy_gettext("Wait (seconds)"),
}
# Fields that identify rather than describe (the event's subject names the record): they go in
# the line below the table.
BOOKKEEPING = frozenset({"id", "channel", "type", "reference"})
# What people look for first; fields not named here follow in the order they were recorded.
FIELD_ORDER = ("change", "aku", "expiresAt", "seq", "installId", "name", "product", "specification",
               "code", "aliUid", "orderIds", "reference", "channel", "type", "error")
# Recorded codes in words, by field: how an activation was attempted. A page adds its own
# (the vendor's audit log: what a key changed) through `changes(words=...)`.
VALUE_WORDS: dict[str, Mapping[str, str]] = {"source": wording.ACTIVATION_SOURCES}
# The field that holds a refusal's error code: `error` (a refused redemption), and `code` where
# an action records its error code under that name. Shown as the reason in words
# (`wording.REFUSAL_REASONS`), with the code beside it.
ERROR_FIELDS = {"license_activation_refused": "code", "license_activation_refusals_repeated": "code"}


@dataclass(frozen=True)
class FieldChange:
    """One field of an event's before and after, as the audit log page shows it."""

    name: str
    label: str
    kind: str  # "time", "install_id", "id" (a long record id), "error" (an error code) or "text"
    before: Any = None
    after: Any = None
    in_before: bool = False
    in_after: bool = False
    words: Mapping[str, str] | None = field(default=None, compare=False, hash=False)  # code -> words

    @property
    def changed(self) -> bool:
        """Recorded on both sides with different values."""
        return self.in_before and self.in_after and self.before != self.after

    def words_for(self, value: Any) -> str | None:
        """A recorded code in words ("Check for renewal", "Authorization code expired"), or None
        when this field has no words for it."""
        if not self.words or not isinstance(value, str):
            return None
        found = self.words.get(value)
        found = str(found) if found else None
        return found[:1].upper() + found[1:] if found else None


@dataclass(frozen=True)
class Changes:
    rows: list[FieldChange]
    before: bool  # the event recorded a before
    after: bool  # ... and an after

    @property
    def shown(self) -> list[FieldChange]:
        """The rows of the table: what people look for, and with a before and an after, only the
        fields that are not the same on both sides."""
        return [r for r in self.rows if r.name not in BOOKKEEPING and not self._same(r) and not self._empty(r)]

    @property
    def folded(self) -> list[FieldChange]:
        """The rest, named in one line under the table: record ids, channels and types, and
        the fields a before and an after recorded the same."""
        return [r for r in self.rows if (r.name in BOOKKEEPING or self._same(r)) and not self._empty(r)]

    def _same(self, row: FieldChange) -> bool:
        return bool(self.before and self.after and row.in_before and row.in_after and row.before == row.after)

    def _empty(self, row: FieldChange) -> bool:
        """A field that an event of one side (no before, or no after) recorded as nothing: it
        says nothing ("Seq —" of a refused text that was no key), so it is not shown."""
        return not (self.before and self.after) and row.before is None and row.after is None


def _label(name: str) -> str:
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:] if words else _("Value")


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
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def changes(before: Any, after: Any, action: str | None = None,
            words: Mapping[str, Mapping[str, str]] | None = None) -> Changes:
    """An event's before and after as one row per field that either side recorded (pure).

    Values that are not JSON objects (a bare string, a list) are one field, "Value". `action`
    says which field holds a refusal's error code (`ERROR_FIELDS`; `error` for any action): its
    row is of kind "error", labelled "Reason", with words from `wording.REFUSAL_REASONS`.
    `words` adds words for other fields' codes to `VALUE_WORDS` (field -> code -> words).
    """
    sides = [side if side is None or isinstance(side, dict) else {"value": side} for side in (before, after)]
    b, a = (side or {} for side in sides)
    names = list(dict.fromkeys([*b, *a]))
    error_field = ERROR_FIELDS.get(action or "", "error")
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    rank.update({error_field: -1, "error": -1})  # a refusal's reason first
    names.sort(key=lambda n: (n == "id", rank.get(n, len(rank))))  # stable: recorded order otherwise
    known = {**VALUE_WORDS, **(words or {})}
    rows = []
    for n in names:
        is_error = n in (error_field, "error")
        rows.append(FieldChange(
            name=n, label=str(FIELD_LABELS["error"]) if is_error else _label(n),
            kind="error" if is_error else _kind(n, [b.get(n), a.get(n)]),
            before=b.get(n), after=a.get(n), in_before=n in b, in_after=n in a,
            words=wording.REFUSAL_REASONS if is_error else known.get(n),
        ))
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
