"""Explaining keys to support: the decoder (paste any key), a key's timeline, and what a new key
changed (`change_summary`, `issued_change`), in the same words on every page."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .. import clock, product_key
from . import signing_keys
from ..database import db
from .ledger import current_key
from ..models.audit import AuditEvent
from .models import CodeBinding, IssuedKey, SigningKey
from ..i18n import gettext as _, lazy_gettext
from .rules import Change
from ..timefmt import day_for_people, for_people


@dataclass
class Decoded:
    text: str
    envelope: dict | None = None
    error: product_key.ProductKeyError | None = None  # why it could not be decoded or verified
    signature_valid: bool | None = None  # None: not checked (the envelope is unreadable)
    kid: str | None = None
    kid_known: bool = False
    kid_active: bool = False
    verified: product_key.ProductKey | None = None
    record: IssuedKey | None = None
    record_matches: bool = False  # the stored key is this very text
    superseded_by: IssuedKey | None = None
    install_current: IssuedKey | None = None
    binding: CodeBinding | None = None

    @property
    def terms(self) -> dict | None:
        if self.verified is not None:
            return self.verified.license.to_json()
        lic = (self.envelope or {}).get("license")
        return lic if isinstance(lic, dict) else None

    @property
    def install_id(self) -> str | None:
        if self.verified is not None:
            return self.verified.install_id
        value = (self.envelope or {}).get("installId")
        return value if isinstance(value, str) else None


def decode_key(text: str) -> Decoded:
    """Everything support wants to know about a pasted key; never raises for bad input."""
    result = Decoded(text=(text or "").strip())
    try:
        result.envelope = product_key.decode(result.text)
    except product_key.ProductKeyError as exc:
        result.error = exc
        return result
    result.kid = result.envelope["signature"]["kid"]
    signer = db.session.scalar(db.select(SigningKey).where(SigningKey.kid == result.kid))
    result.kid_known = signer is not None
    result.kid_active = bool(signer and signer.active)
    try:
        result.verified = signing_keys.verify(result.text)
        result.signature_valid = True
    except product_key.ProductKeyError as exc:
        result.error = _for_staff(exc)
        result.signature_valid = exc.code != "signature_invalid"
    lic = result.envelope.get("license")
    key_id = lic.get("id") if isinstance(lic, dict) else None
    if isinstance(key_id, str):
        result.record = db.session.get(IssuedKey, key_id)
    if result.record is not None:
        result.record_matches = result.signature_valid is True and _same_key(result.record.product_key, result.text)
        if result.record.superseded_by:
            result.superseded_by = db.session.get(IssuedKey, result.record.superseded_by)
        if result.record.binding_id:
            result.binding = db.session.get(CodeBinding, result.record.binding_id)
        result.install_current = current_key(result.record.install_id)
    elif result.install_id:
        result.install_current = current_key(result.install_id.lower())
    return result


def _for_staff(exc: product_key.ProductKeyError) -> product_key.ProductKeyError:
    """The codec's refusal as the vendor's staff read it. A `kid` that none of our signing keys
    has is said from the vendor's side: the codec speaks to an environment ("a vendor key that
    this environment does not know ... update this environment's trusted vendor keys")."""
    if exc.code == "signature_invalid" and exc.details.get("unknownKid"):
        headline = _("None of our signing keys signed this key.")
        return product_key.ProductKeyError(
            "signature_invalid",
            headline + _(" It names the signing key \"%(kid)s\", which this vendor "
                         "does not hold: another deployment issued it, or it was altered.",
                         kid=str(exc.details.get('kid'))[:64]),
            field=exc.field, details={k: v for k, v in exc.details.items() if k != "reason"}, headline=headline,
        )
    return exc


def _moment(stamp) -> datetime | None:
    """An audit record's `YYYY-MM-DDThh:mm:ssZ` as a time (None when it is not one)."""
    try:
        return product_key.parse_time(stamp)
    except ValueError:
        return None


def _readable(stamp) -> str:
    """An audit record's `YYYY-MM-DDThh:mm:ssZ` as the pages write times: `YYYY-MM-DD hh:mm UTC`."""
    moment = _moment(stamp)
    return for_people(moment) if moment is not None else str(stamp)


def _same_key(stored: str, pasted: str) -> bool:
    try:
        return product_key.decode(stored) == product_key.decode(pasted)
    except product_key.ProductKeyError:
        return False


# ------------------------------------------------------------------ what a new key changed


def change_summary(change: str | None, aku: int | None, expires_at: datetime | None) -> str | None:
    """What a key changed for its environment, as a sentence without its full stop, from
    `rules.classify`'s kind and the new key's AKU and expiry: a renewal says until when, a
    specification change says the new AKU, both say both. None for other kinds (offline keys)."""
    until = day_for_people(expires_at)
    words = {
        Change.NEW: lambda: _("New license"),
        Change.UNCHANGED: lambda: _("Nothing changed"),
        Change.RENEWAL: lambda: _("Renewed until %(until)s", until=until),
        Change.SPEC_CHANGE: lambda: _("Updated to %(aku)s AKU (specification change)", aku=aku),
        Change.RENEWAL_AND_SPEC_CHANGE: lambda: _("Renewed until %(until)s and updated to %(aku)s AKU",
                                                  until=until, aku=aku),
        Change.CHANGE: lambda: _("Terms changed: %(aku)s AKU until %(until)s", aku=aku, until=until),
    }.get(change or "")
    return words() if words else None


@dataclass(frozen=True)
class IssuedChange:
    """A key just issued (an `issuing.Issued`) against the install ID's key before it, for people:
    `before` and `after` are `{"aku", "expiresAt", "product"}`, the expiry a time (the key's datetime,
    the ISO text of the audit record before), which the `compare` macro writes through `when`
    (`before` is None for the first key); `summary` is None for a stored key."""

    summary: str | None
    before: dict | None
    after: dict


def issued_change(issued) -> IssuedChange:
    key = issued.key
    previous = issued.previous
    before = None
    if previous:
        before = {"aku": previous.get("aku"), "expiresAt": previous.get("expiresAt"),
                  "product": previous.get("product")}
    return IssuedChange(
        summary=change_summary(issued.change, key.aku, key.expires_at) if issued.created else None,
        before=before,
        after={"aku": key.aku, "expiresAt": key.expires_at, "product": key.product},
    )


# ------------------------------------------------------------------ a key's timeline


@dataclass
class TimelineEntry:
    at: datetime
    title: str
    text: str = ""
    actor: str | None = None
    level: str = "info"  # info | ok | warning | danger | muted
    link_key: str | None = None
    future: bool = False


@dataclass
class Timeline:
    key: IssuedKey
    binding: CodeBinding | None
    entries: list[TimelineEntry] = field(default_factory=list)


ACTION_TITLES = {
    "key_issued": lazy_gettext("Key issued"),
    "code_bound": lazy_gettext("Authorization code bound"),
    "code_activated": lazy_gettext("Activated at the marketplace"),
    "code_activation_failed": lazy_gettext("Marketplace activation failed"),
    "code_transferred": lazy_gettext("Authorization code transferred"),
    "license_replaced": lazy_gettext("License replaced"),
    "redeem_refused": lazy_gettext("Redemption refused"),
}


EVENT_LEVELS = {"key.issued": "info", "code.renewed": "warning", "code.discarded": "danger",
                "license.expiring": "warning", "license.expired": "danger"}


def _event_entries(key: IssuedKey) -> list[TimelineEntry]:
    """The key's events (issue 14) and what became of their webhooks."""
    from .events import EVENT_TITLES, events_of_key
    from .models import DeliveryState, WebhookDelivery

    entries = []
    for event in events_of_key(key):
        data = event.data if isinstance(event.data, dict) else {}
        text = event.type
        if event.type == "license.expiring":
            text = _("%(event)s, %(days)s day(s) left", event=text, days=data.get('daysLeft'))
        states = db.session.scalars(db.select(WebhookDelivery.state).where(WebhookDelivery.event_id == event.id)).all()
        if states:
            done = sum(1 for s in states if s == DeliveryState.SUCCEEDED)
            failed = sum(1 for s in states if s == DeliveryState.FAILED)
            if failed:
                text += " · " + _("webhooks: %(done)s of %(total)s delivered, %(failed)s failed", done=done,
                                  total=len(states), failed=failed)
            else:
                text += " · " + _("webhooks: %(done)s of %(total)s delivered", done=done, total=len(states))
        entries.append(TimelineEntry(at=event.occurred_at, title=str(EVENT_TITLES.get(event.type, event.type)),
                                     text=text, level=EVENT_LEVELS.get(event.type, "info")))
    return entries


def timeline(key: IssuedKey, now: datetime | None = None) -> Timeline:
    """The key's life: its code's binding and activation, its issue, what superseded it, expiry."""
    now = now or clock.now()
    binding = db.session.get(CodeBinding, key.binding_id) if key.binding_id else None
    subjects = [f"key:{key.id}"]
    if binding is not None:
        subjects.append(f"code:{binding.id}")
    events = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.subject.in_(subjects)).order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    result = Timeline(key=key, binding=binding)
    issued_seen = False
    for event in events:
        if event.subject.startswith("code:") and event.install_id and event.install_id != key.install_id \
                and event.action != "code_transferred":
            continue
        after = event.after if isinstance(event.after, dict) else {}
        text = ""
        level = "info"
        if event.action == "key_issued":
            if event.subject != f"key:{key.id}":
                continue
            issued_seen = True
            text = _("seq %(seq)s, %(aku)s AKU until %(until)s", seq=after.get('seq'), aku=after.get('aku'),
                     until=_readable(after.get('expiresAt')))
            summary = change_summary(after.get("change"), after.get("aku"), _moment(after.get("expiresAt")))
            if summary:
                text = _("%(terms)s. %(summary)s", terms=text, summary=summary)
            level = "ok"
        elif event.action == "code_transferred":
            text = _("from %(old)s to %(new)s", old=(event.before or {}).get('installId'), new=after.get('installId'))
            level = "warning"
        elif event.action == "license_replaced":
            if event.subject == f"key:{key.id}":
                text = _("this key's license was replaced by code %(code)s", code=str(after.get("code")))
            level = "warning"
        elif event.action == "code_activation_failed":
            text = str(after.get("error") or "")
            level = "danger"
        elif event.action == "code_bound":
            text = _("%(code)s to install ID %(install_id)s", code=after.get('code'), install_id=event.install_id)
        if event.detail:
            text = (text + " · " if text else "") + _("reason: %(reason)s", reason=event.detail)
        result.entries.append(TimelineEntry(at=event.at, title=str(ACTION_TITLES.get(event.action, event.action)),
                                            text=text, actor=event.actor, level=level))
    if not issued_seen:
        result.entries.append(TimelineEntry(at=key.issued_at, title=_("Key issued"), actor=key.issued_by,
                                            text=_("seq %(seq)s, %(aku)s AKU", seq=key.seq, aku=key.aku), level="ok"))
    result.entries += _event_entries(key)
    if key.superseded_by:
        newer = db.session.get(IssuedKey, key.superseded_by)
        if newer is not None:
            result.entries.append(TimelineEntry(
                at=newer.issued_at, title=_("Superseded"), actor=newer.issued_by, level="muted",
                text=_("by seq %(seq)s (%(aku)s AKU until %(until)s)", seq=newer.seq, aku=newer.aku,
                       until=day_for_people(newer.expires_at)), link_key=newer.id))
    result.entries.append(TimelineEntry(
        at=key.expires_at, title=_("Expires") if key.expires_at > now else _("Expired"),
        level="muted" if key.expires_at > now else "danger", future=key.expires_at > now))
    result.entries.sort(key=lambda e: e.at)
    return result
