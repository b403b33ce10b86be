"""Events the vendor side pushes (issue 14): recorded once each, then delivered to the webhook
endpoints that want them (`webhooks`).

- `key.issued`: every key signed, whatever the channel (`ledger.issue_key`, in its transaction);
- `code.renewed`: the marketplace shows a renewal or specification change with no new key yet
  (what `reconcile.attention` finds; once per binding and new terms);
- `code.discarded`: the code was refunded or withdrawn (once per binding);
- `license.expiring`: the live key of an environment ends within one of `LICENSE_REMIND_DAYS`
  (once per key and threshold: the tightest threshold reached, so a key first seen 5 days before
  its end gets the 7-day reminder only);
- `license.expired`: the live key ended (once per key; keys that ended more than
  `EXPIRED_LOOKBACK` ago are left alone, so a first run does not announce years of history).

"Once" is the database's: `license_events.dedupe_key` is unique and rows are inserted with
INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL), so two servers running
`flask license notify` at the same moment record each reminder once, with no check-then-insert.

An event's data names the environment and its key, never a whole code, a product key or a
buyer's contact: install ID, seq, AKU, expiry, days left and the masked code.
"""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from flask import current_app

from .. import clock, product_key
from ..database import db
from ..i18n import lazy_gettext
from . import outbox
from .models import CodeBinding, Event, IssuedKey, KeyStatus, WebhookDelivery, WebhookEndpoint

KEY_ISSUED = "key.issued"
CODE_RENEWED = "code.renewed"
CODE_DISCARDED = "code.discarded"
LICENSE_EXPIRING = "license.expiring"
LICENSE_EXPIRED = "license.expired"
EVENT_TYPES = (KEY_ISSUED, CODE_RENEWED, CODE_DISCARDED, LICENSE_EXPIRING, LICENSE_EXPIRED)

#: Titles on the key's timeline and the pages (in the page's language).
EVENT_TITLES = {
    KEY_ISSUED: lazy_gettext("Event: key issued"),
    CODE_RENEWED: lazy_gettext("Event: code renewed, no new key yet"),
    CODE_DISCARDED: lazy_gettext("Event: code discarded"),
    LICENSE_EXPIRING: lazy_gettext("Reminder: license expiring"),
    LICENSE_EXPIRED: lazy_gettext("Event: license expired"),
}

EXPIRED_LOOKBACK = timedelta(days=7)


class RemindDaysError(ValueError):
    """A `LICENSE_REMIND_DAYS` part that is not a number of days; `str(exc)` is English (the CLI)."""

    def __init__(self, part: str) -> None:
        super().__init__(f"LICENSE_REMIND_DAYS: {part!r} is not a number of days (1 to 3650)")
        self.part = part


def remind_days(value: str | None = None) -> list[int]:
    """`LICENSE_REMIND_DAYS` ("30,7,1") as whole days, largest first. Raises ValueError."""
    if value is None:
        value = current_app.config["LICENSE_REMIND_DAYS"]
    days = set()
    for part in str(value or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) <= 3650:
            raise RemindDaysError(part)
        days.add(int(part))
    return sorted(days, reverse=True)


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until `expires_at`, rounded up (4 days 23 hours is 5); 0 once it has passed."""
    seconds = (expires_at - now).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def threshold_reached(expires_at: datetime, now: datetime, days: list[int]) -> int | None:
    """The tightest reminder threshold the key is within (None: none yet, or already expired)."""
    left = expires_at - now
    if left <= timedelta(0):
        return None
    reached = [d for d in days if left <= timedelta(days=d)]
    return min(reached) if reached else None


def key_data(key: IssuedKey, now: datetime, **extra) -> dict:
    """What an event says about a key: never the product key itself, never a whole code."""
    data = {
        "installId": key.install_id,
        "keyId": key.id,
        "seq": key.seq,
        "aku": key.aku,
        "type": key.type,
        "channel": key.channel,
        "expiresAt": product_key.format_time(key.expires_at),
        "daysLeft": days_left(key.expires_at, now),
        # a marketplace key's reference is the masked code (`mask`); an offline key's, its contract
        "code": key.reference if key.binding_id is not None else None,
    }
    data.update(extra)
    return data


def record(type: str, dedupe_key: str, data: dict, *, install_id: str | None = None, key_id: str | None = None,
           binding_id: int | None = None, now: datetime | None = None) -> int | None:
    """Record an event once, in the caller's transaction, with a delivery for every endpoint that
    wants it and the e-mails it writes (`mail`). Answers the new event's id, or None when `dedupe_key` was recorded before."""
    now = (now or clock.now()).replace(microsecond=0)
    event_id = outbox.insert_once(Event, {
        "type": type, "dedupe_key": dedupe_key[:160], "install_id": install_id, "key_id": key_id,
        "binding_id": binding_id, "occurred_at": now, "data": data,
    })
    if event_id is None:
        return None
    endpoints = db.session.scalars(db.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))).all()
    for endpoint in endpoints:
        if endpoint.wants(type):
            db.session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event_id, msg_id=new_msg_id(),
                                           next_attempt_at=now, created_at=now))
    db.session.flush()
    from . import mail  # the e-mails it writes (mail imports this module)

    mail.enqueue_for_event(event_id, type, install_id, now)
    return event_id


def new_msg_id() -> str:
    return "msg_" + uuid.uuid4().hex


# ------------------------------------------------------------------ the events


def key_issued(key: IssuedKey, now: datetime | None = None) -> int | None:
    now = now or clock.now()
    return record(KEY_ISSUED, f"{KEY_ISSUED}:{key.id}", key_data(key, now), install_id=key.install_id,
                  key_id=key.id, binding_id=key.binding_id, now=now)


def record_findings(findings, now: datetime | None = None) -> dict[str, int]:
    """`code.renewed` and `code.discarded` for what `reconcile.attention` found; counts recorded."""
    from .reconcile import FindingKind

    now = now or clock.now()
    counts = {CODE_RENEWED: 0, CODE_DISCARDED: 0}
    for finding in findings:
        binding: CodeBinding = finding.binding
        key: IssuedKey = finding.key
        if finding.needs_key:
            after = {"aku": binding.market_aku,
                     "expiresAt": product_key.format_time(binding.market_expires_at) if binding.market_expires_at else None}
            dedupe = f"{CODE_RENEWED}:{binding.id}:{after['expiresAt']}:{after['aku']}"
            made = record(CODE_RENEWED, dedupe, key_data(key, now, change=str(finding.kind), marketplace=after),
                          install_id=key.install_id, key_id=key.id, binding_id=binding.id, now=now)
        elif finding.kind == FindingKind.DISCARDED:
            made = record(CODE_DISCARDED, f"{CODE_DISCARDED}:{binding.id}", key_data(key, now),
                          install_id=key.install_id, key_id=key.id, binding_id=binding.id, now=now)
        else:
            continue
        if made is not None:
            counts[CODE_RENEWED if finding.needs_key else CODE_DISCARDED] += 1
    return counts


def scan_expiry(now: datetime | None = None, days: list[int] | None = None) -> dict[str, int]:
    """`license.expiring` and `license.expired` for the environments' live keys; counts recorded."""
    now = (now or clock.now()).replace(microsecond=0)
    days = remind_days() if days is None else days
    horizon = now + timedelta(days=max(days) if days else 0)
    keys = db.session.scalars(
        db.select(IssuedKey)
        .where(IssuedKey.status == KeyStatus.ACTIVE, IssuedKey.expires_at <= horizon,
               IssuedKey.expires_at > now - EXPIRED_LOOKBACK)
        .order_by(IssuedKey.expires_at)
    ).all()
    counts = {LICENSE_EXPIRING: 0, LICENSE_EXPIRED: 0}
    for key in keys:
        if key.expires_at <= now:
            made = record(LICENSE_EXPIRED, f"{LICENSE_EXPIRED}:{key.id}", key_data(key, now),
                          install_id=key.install_id, key_id=key.id, binding_id=key.binding_id, now=now)
            counts[LICENSE_EXPIRED] += made is not None
            continue
        threshold = threshold_reached(key.expires_at, now, days)
        if threshold is None:
            continue
        made = record(LICENSE_EXPIRING, f"{LICENSE_EXPIRING}:{key.id}:{threshold}",
                      key_data(key, now, remindDays=threshold),
                      install_id=key.install_id, key_id=key.id, binding_id=key.binding_id, now=now)
        counts[LICENSE_EXPIRING] += made is not None
    return counts


def events_of_key(key: IssuedKey) -> list[Event]:
    """The events about a key, for its timeline."""
    return list(db.session.scalars(db.select(Event).where(Event.key_id == key.id).order_by(Event.occurred_at, Event.id)))


def recent(types: tuple[str, ...], limit: int = 50) -> list[Event]:
    return list(db.session.scalars(db.select(Event).where(Event.type.in_(types))
                                   .order_by(Event.id.desc()).limit(limit)))
