"""E-mail reminders and the daily digest (issue 14), sent by `flask license notify`.

What is written:

- to the seller's team (`LICENSE_NOTIFY_EMAIL`, in `LICENSE_NOTIFY_LOCALE`): a reminder for each
  `license.expiring` and `license.expired` event, and once a day (from `LICENSE_DIGEST_HOUR`,
  UTC) a digest of what needs attention, when there is something;
- to the buyer, when staff recorded the buyer's e-mail with their consent at issuing
  (`BuyerContact`, in the language chosen there): each `license.expiring` reminder, with how to
  renew on the marketplace and how to re-activate.

Each message is a row of the outbox (`MailMessage`), inserted once (unique `dedupe_key`, insert
or skip, as the events), so two runners never write the same reminder twice. It is written when
it is sent, in the recipient's language, to the address known then: a buyer whose address was
removed gets nothing, and a reminder whose key was replaced by a newer one is dropped.

Runners claim each due message with a conditional UPDATE, as the webhooks do, so one message is
handed to the SMTP server by one runner. A failure worth another try (timeout, refused
connection, 4xx) is tried again after `SCHEDULE` (37.6 hours in all); a permanent refusal (5xx,
a failed login) fails the message at once. The SMTP server accepting a message whose answer is
then lost is the one case sent twice (at least once, never silently lost).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from sqlalchemy import update

from .. import audit, clock, mailer, product_key
from ..database import db
from ..datakey import DataKeyError, data_key
from ..i18n import N_, Refusal, gettext, ngettext, normalize
from . import events, outbox
from .models import BuyerContact, DeliveryState, Event, IssuedKey, KeyStatus, MailMessage, MailState, WebhookDelivery

log = logging.getLogger(__name__)

#: Seconds to wait after the n-th failed attempt (index n - 1); past the end: failed.
SCHEDULE = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600, 10 * 3600)
LEASE = timedelta(minutes=5)
BATCH = 100
BUDGET = 40.0
TEAM, BUYER = "team", "buyer"
DIGEST = "digest"
#: The events that write to the team, and to the buyer.
TEAM_EVENTS = (events.LICENSE_EXPIRING, events.LICENSE_EXPIRED)
BUYER_EVENTS = (events.LICENSE_EXPIRING,)
DIGEST_LIMIT = 50  # items per section of the digest


class ContactRefused(Refusal):
    """A buyer's e-mail that cannot be recorded; `text()` is in the page's language."""


def next_delay(failed_attempts: int) -> int | None:
    return outbox.next_delay(SCHEDULE, failed_attempts)


def enabled() -> bool:
    return mailer.mail_enabled(current_app.config)


def team_addresses() -> list[str]:
    return mailer.parse_addresses(current_app.config["LICENSE_NOTIFY_EMAIL"])


def _data_key():
    return data_key(current_app.config["LICENSE_DATA_KEY"])


def _insert(values: dict) -> int | None:
    """A new outbox message unless its `dedupe_key` was recorded before (`outbox.insert_once`)."""
    values.setdefault("message_id", mailer.new_message_id(current_app.config["MAIL_DEFAULT_SENDER"] or "localhost"))
    values.setdefault("state", MailState.PENDING)
    values.setdefault("attempts", 0)
    return outbox.insert_once(MailMessage, values)


# ------------------------------------------------------------------ buyers' contacts


def read_contact(email: str | None, locale: str | None, consent: bool) -> tuple[str, str] | None:
    """A buyer's e-mail from the issuing form: None when left empty; else `(email, locale)`, or
    ContactRefused (not an address, or no consent ticked)."""
    email = (email or "").strip()
    if not email:
        return None
    if not mailer.valid_address(email):
        raise ContactRefused(N_("%(value)s is not an e-mail address."), value=email[:80])
    if not consent:
        raise ContactRefused(N_("Tick that the buyer agreed to receive reminders, or leave the e-mail empty."))
    return email, normalize(locale) or current_app.config["LICENSE_DEFAULT_LOCALE"]


def set_contact(install_id: str, email: str, locale: str, *, actor: str, now: datetime | None = None) -> BuyerContact:
    """Record (or replace) the environment's buyer e-mail, in the caller's transaction; audited
    with the masked address only."""
    now = now or clock.now()
    contact = db.session.scalar(db.select(BuyerContact).where(BuyerContact.install_id == install_id))
    before = {"email": contact.email_hint, "locale": contact.locale} if contact else None
    if contact is None:
        contact = BuyerContact(install_id=install_id)
        db.session.add(contact)
    contact.email_encrypted = _data_key().encrypt(email)
    contact.email_hint = mailer.mask_address(email)
    contact.locale = locale
    contact.consent_recorded_by = actor
    contact.consent_recorded_at = now
    db.session.flush()
    audit.record("buyer_contact_recorded", actor=actor, subject=f"install:{install_id}", before=before,
                 after={"email": contact.email_hint, "locale": locale, "consent": True})
    return contact


def remove_contact(install_id: str, *, actor: str) -> BuyerContact | None:
    """Forget the buyer's e-mail (committed); their pending reminders are dropped when due."""
    contact = contact_for(install_id)
    if contact is None:
        return None
    db.session.delete(contact)
    audit.record("buyer_contact_removed", actor=actor, subject=f"install:{install_id}",
                 before={"email": contact.email_hint})
    db.session.commit()
    return contact


def contact_for(install_id: str | None) -> BuyerContact | None:
    if not install_id:
        return None
    return db.session.scalar(db.select(BuyerContact).where(BuyerContact.install_id == install_id))


# ------------------------------------------------------------------ writing the outbox


def enqueue_for_event(event_id: int, type: str, install_id: str | None, now: datetime) -> int:
    """The reminders an event writes (called by `events.record`, in its transaction); how many."""
    if not enabled():
        return 0
    made = 0
    if type in TEAM_EVENTS and team_addresses():
        made += _insert({"kind": type, "dedupe_key": f"event:{event_id}:{TEAM}", "recipient": TEAM,
                         "event_id": event_id, "install_id": install_id, "next_attempt_at": now,
                         "created_at": now}) is not None
    if type in BUYER_EVENTS and contact_for(install_id) is not None:
        made += _insert({"kind": type, "dedupe_key": f"event:{event_id}:{BUYER}", "recipient": BUYER,
                         "event_id": event_id, "install_id": install_id, "next_attempt_at": now,
                         "created_at": now}) is not None
    return made


def _item(key: IssuedKey, now: datetime, **extra) -> dict:
    data = events.key_data(key, now)
    item = {k: data[k] for k in ("installId", "keyId", "seq", "aku", "expiresAt", "daysLeft", "code")}
    item.update(extra)
    return item


def digest_findings(now: datetime, findings=None) -> dict:
    """What needs attention now, as the digest says it (JSON, kept with the message): codes
    renewed with no new key, codes lost (expired, discarded), live keys ending within the largest
    reminder threshold, and the webhooks and e-mails that failed in the last day. `findings`:
    `reconcile.attention(now)`, when the caller read it already."""
    from .reconcile import LOST, attention

    renewals, lost = [], []
    for finding in attention(now) if findings is None else findings:
        if finding.needs_key:
            renewals.append(_item(finding.key, now, kind=str(finding.kind)))
        elif finding.kind in LOST:
            lost.append(_item(finding.key, now, kind=str(finding.kind)))
    try:
        horizon = max(events.remind_days() or [7])
    except ValueError:
        horizon = 7
    ending = [_item(key, now) for key in db.session.scalars(
        db.select(IssuedKey).where(IssuedKey.status == KeyStatus.ACTIVE, IssuedKey.expires_at > now,
                                   IssuedKey.expires_at <= now + timedelta(days=horizon))
        .order_by(IssuedKey.expires_at).limit(DIGEST_LIMIT + 1))]
    since = now - timedelta(days=1)
    failed_webhooks = db.session.scalar(db.select(db.func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.state == DeliveryState.FAILED, WebhookDelivery.finished_at >= since)) or 0
    failed_mail = db.session.scalar(db.select(db.func.count()).select_from(MailMessage).where(
        MailMessage.state == MailState.FAILED, MailMessage.finished_at >= since)) or 0
    return {"at": product_key.format_time(now), "days": horizon,
            "renewals": renewals[:DIGEST_LIMIT], "renewalsMore": max(0, len(renewals) - DIGEST_LIMIT),
            "lost": lost[:DIGEST_LIMIT], "lostMore": max(0, len(lost) - DIGEST_LIMIT),
            "ending": ending[:DIGEST_LIMIT], "endingMore": max(0, len(ending) - DIGEST_LIMIT),
            "failedWebhooks": failed_webhooks, "failedMail": failed_mail}


def digest_is_empty(findings: dict) -> bool:
    return not (findings["renewals"] or findings["lost"] or findings["ending"] or findings["failedWebhooks"]
                or findings["failedMail"])


def enqueue_digest(now: datetime, findings=None) -> bool:
    """The day's digest, once a day from LICENSE_DIGEST_HOUR (UTC), when something needs attention."""
    if not enabled() or not team_addresses() or now.hour < int(current_app.config["LICENSE_DIGEST_HOUR"]):
        return False
    dedupe = f"{DIGEST}:{now.date().isoformat()}"
    if db.session.scalar(db.select(MailMessage.id).where(MailMessage.dedupe_key == dedupe)) is not None:
        return False  # sent today (the insert below would skip it too; this saves the queries)
    digest = digest_findings(now, findings)
    if digest_is_empty(digest):
        return False
    made = _insert({"kind": DIGEST, "dedupe_key": dedupe, "recipient": TEAM, "data": digest,
                    "next_attempt_at": now, "created_at": now}) is not None
    db.session.commit()
    return made


# ------------------------------------------------------------------ writing a message


class Dropped(Exception):
    """Nobody to send it to any more, or nothing left to say (English: kept with the message)."""


def _render(name: str, locale: str, **context) -> tuple[str, str, str]:
    """`(subject, text, html)`: `context["subject_fn"]()` and `license/mail/<name>.txt` and `.html`,
    in `locale`, links made from LICENSE_EXTERNAL_URL (none when it is unset)."""
    app = current_app._get_current_object()
    base = current_app.config["LICENSE_EXTERNAL_URL"] or "http://localhost/"
    with app.test_request_context("/", base_url=base), force_locale(locale):
        context.update(linked=bool(current_app.config["LICENSE_EXTERNAL_URL"]), mail_locale=locale,
                       vendor_name=current_app.config["LICENSE_VENDOR_NAME"])
        context["link"] = (lambda endpoint, **values: url_for(endpoint, _external=True, **values)) \
            if context["linked"] else (lambda endpoint, **values: None)
        subject = context.pop("subject_fn")()
        text = render_template(f"license/mail/{name}.txt", subject=subject, **context)
        html = render_template(f"license/mail/{name}.html", subject=subject, **context)
    return subject, text, html


def compose(message: MailMessage) -> tuple[list[str], str, str, str, str]:
    """`(to, subject, text, html, language)` of an outbox message, or Dropped."""
    config = current_app.config
    if message.recipient == TEAM:
        to, locale = team_addresses(), normalize(config["LICENSE_NOTIFY_LOCALE"]) or "en"
        if not to:
            raise Dropped("LICENSE_NOTIFY_EMAIL is not set")
    else:
        contact = contact_for(message.install_id)
        if contact is None:
            raise Dropped("the buyer's e-mail was removed")
        try:
            to = [_data_key().decrypt(contact.email_encrypted)]
        except DataKeyError:
            raise Dropped("the buyer's e-mail cannot be read (was LICENSE_DATA_KEY changed?)") from None
        locale = contact.locale
    if message.kind == DIGEST:
        data = message.data or {}
        count = len(data.get("renewals", [])) + len(data.get("lost", [])) + len(data.get("ending", []))
        subject, text, html = _render(
            "digest", locale, data=data, product=config["LICENSE_PRODUCT_NAME"],
            subject_fn=lambda: ngettext("[Licenses] %(num)s item needs attention", "[Licenses] %(num)s items need attention",
                                        count) if count else gettext("[Licenses] Deliveries failed"))
        return to, subject, text, html, locale
    event = db.session.get(Event, message.event_id) if message.event_id else None
    if event is None:
        raise Dropped("its event is gone")
    key = db.session.get(IssuedKey, event.key_id) if event.key_id else None
    if key is not None and key.status != KeyStatus.ACTIVE and event.type == events.LICENSE_EXPIRING:
        raise Dropped("a newer key was issued since")
    data = event.data or {}
    product = key.product if key is not None else config["LICENSE_PRODUCT_NAME"]
    context = {"data": data, "key": key, "product": product, "event": event,
               "expires_at": product_key.parse_time(data["expiresAt"]) if data.get("expiresAt") else None}
    days = int(data.get("daysLeft") or 0)
    install_id = data.get("installId") or message.install_id
    if message.recipient == BUYER:
        context["renew_url"] = config["LICENSE_RENEW_URL"]
        subject_fn = lambda: ngettext("Your %(product)s license ends in %(num)s day",  # noqa: E731
                                      "Your %(product)s license ends in %(num)s days", days, product=product)
        name = "buyer_expiring"
    elif event.type == events.LICENSE_EXPIRED:
        subject_fn = lambda: gettext("[Licenses] %(install_id)s: the license has expired",  # noqa: E731
                                     install_id=install_id)
        name = "team_expired"
    else:
        subject_fn = lambda: ngettext("[Licenses] %(install_id)s: the license ends in %(num)s day",  # noqa: E731
                                      "[Licenses] %(install_id)s: the license ends in %(num)s days", days,
                                      install_id=install_id)
        name = "team_expiring"
    subject, text, html = _render(name, locale, subject_fn=subject_fn, **context)
    return to, subject, text, html, locale


# ------------------------------------------------------------------ sending


def claim(message: MailMessage, now: datetime, *, force: bool = False) -> str | None:
    """Take one attempt of a message (`outbox.claim`): only one runner's claim matches."""
    return outbox.claim(MailMessage, message, now, lease=LEASE, force=force)


def _finish(message_id: int, token: str, values: dict) -> None:
    db.session.execute(update(MailMessage).where(MailMessage.id == message_id, MailMessage.claim_token == token)
                       .values(claim_token=None, **values).execution_options(synchronize_session=False))
    db.session.commit()


def _failed(message: MailMessage, token: str, retry: bool, why: str) -> str:
    """Record a failed attempt: due again after the schedule's next delay, or failed."""
    attempts = message.attempts + 1
    delay = next_delay(attempts) if retry else None
    values = {"attempts": attempts, "last_error": why[:255]}
    if delay is None:
        values.update(state=MailState.FAILED, finished_at=clock.now(), next_attempt_at=None)
    else:
        values.update(state=MailState.PENDING, next_attempt_at=clock.now() + timedelta(seconds=delay))
    _finish(message.id, token, values)
    return values["state"]


def attempt(connection: mailer.Connection, message_id: int, token: str) -> str:
    """Send one claimed message; its state after: sent, pending (retrying), failed or dropped."""
    message = db.session.get(MailMessage, message_id, populate_existing=True)
    if message is None or message.claim_token != token:
        return "skipped"
    now = clock.now()
    try:
        to, subject, text, html, locale = compose(message)
        built = mailer.build_message(sender=connection.settings.sender, to=to, subject=subject, text=text, html=html,
                                     message_id=message.message_id, date=now,
                                     language="zh-Hans" if locale.startswith("zh") else "en",
                                     headers={"Auto-Submitted": "auto-generated"})
    except Dropped as exc:
        _finish(message.id, token, {"state": MailState.DROPPED, "finished_at": now, "next_attempt_at": None,
                                    "last_error": str(exc)[:255]})
        return MailState.DROPPED
    except Exception as exc:  # noqa: BLE001 - a message that cannot be written must not stop the others
        log.exception("e-mail %s could not be written", message.id)
        return _failed(message, token, True, f"could not be written ({type(exc).__name__})")
    try:
        connection.send(built)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with the message
        return _failed(message, token, *mailer.classify(exc))
    _finish(message.id, token, {"state": MailState.SENT, "attempts": message.attempts + 1, "finished_at": clock.now(),
                                "next_attempt_at": None, "last_error": None})
    return MailState.SENT


def deliver_due(now: datetime | None = None, limit: int = BATCH, budget: float = BUDGET) -> dict[str, int]:
    """Every due message (at most `limit`, none started after `budget` seconds), over one SMTP
    connection: counts of sent, retrying, failed, dropped, skipped and left."""
    counts = {"sent": 0, "retrying": 0, "failed": 0, "dropped": 0, "skipped": 0, "left": 0}
    if not enabled():
        return counts
    now = now or clock.now()
    started = time.monotonic()
    due = db.session.scalars(
        db.select(MailMessage).where(MailMessage.state == MailState.PENDING, MailMessage.next_attempt_at <= now)
        .order_by(MailMessage.next_attempt_at, MailMessage.id).limit(limit)).all()
    if not due:
        return counts
    settings = mailer.SmtpSettings.from_config(current_app.config)
    with mailer.Connection(settings) as connection:
        for index, message in enumerate(due):
            if time.monotonic() - started > budget:
                counts["left"] = len(due) - index
                break
            token = claim(message, now)
            if token is None:
                counts["skipped"] += 1
                continue
            state = attempt(connection, message.id, token)
            counts["retrying" if state == MailState.PENDING else str(state)] += 1
    return counts


def send_again(message_id: int, *, actor: str) -> MailMessage | None:
    """Send again (admin): one attempt now, whatever the message's state. None: another runner
    holds it right now, or e-mail is off."""
    message = db.session.get(MailMessage, message_id)
    if message is None or not enabled():
        return None
    token = claim(message, clock.now(), force=True)
    if token is None:
        return None
    with mailer.Connection(mailer.SmtpSettings.from_config(current_app.config)) as connection:
        attempt(connection, message_id, token)
    message = db.session.get(MailMessage, message_id, populate_existing=True)
    audit.record("mail_sent_again", actor=actor, subject=f"mail:{message_id}",
                 after={"kind": message.kind, "recipient": message.recipient, "state": str(message.state)}, commit=True)
    return message


def send_test(address: str, now: datetime | None = None) -> MailMessage:
    """`flask license mail-test ADDRESS`: one message now, to check the SMTP settings. The
    address is the team's for the length of the test only: it is not kept."""
    now = now or clock.now()
    settings = mailer.SmtpSettings.from_config(current_app.config)
    message_id = mailer.new_message_id(settings.sender)
    locale = normalize(current_app.config["LICENSE_NOTIFY_LOCALE"]) or "en"
    subject, text, html = _render("test", locale, subject_fn=lambda: gettext("[Licenses] Test message"))
    built = mailer.build_message(sender=settings.sender, to=[address], subject=subject, text=text, html=html,
                                 message_id=message_id, date=now, headers={"Auto-Submitted": "auto-generated"})
    with mailer.Connection(settings) as connection:
        connection.send(built)
    return built


def run(now: datetime, findings=None) -> dict:
    """`license notify`'s e-mail: the day's digest when due (from `findings`, what
    `reconcile.attention(now)` answered the caller), then every due message."""
    if not enabled():
        return {"enabled": False}
    digest = enqueue_digest(now, findings)
    counts = deliver_due(now)
    return {"enabled": True, "digest": digest, **counts}


def latest(limit: int = 100, state: str | None = None) -> list[MailMessage]:
    stmt = db.select(MailMessage).order_by(MailMessage.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(MailMessage.state == state)
    return list(db.session.scalars(stmt))


def states_of_events(event_ids) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if event_ids:
        for event_id, state in db.session.execute(db.select(MailMessage.event_id, MailMessage.state)
                                                  .where(MailMessage.event_id.in_(list(event_ids)))):
            found.setdefault(event_id, []).append(state)
    return found
