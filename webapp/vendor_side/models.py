"""The vendor side's tables: its signing keys, the ledger of every product key issued, and
the authorization codes bound to install IDs.

`license_code_bindings`: which authorization code is bound to which install ID, one row per authorization code ever submitted successfully (or being submitted right now),
unique on the code's keyed hash (`webapp.datakey`): the code itself is stored only encrypted.
The row is also the lock of the issuing steps: a worker that is between "take the binding"
and "sign the key" holds `claim_token`; a claim older than two minutes belonged to a worker
that crashed, and may be taken over.

The `market_*` columns are the last answer of DescribeLicense for the code (written when a
key is issued and by the renewal reconciler), so lists and searches never call the
marketplace.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import db
from .. import clock
from ..models.types import UTCDateTime


class SigningKey(db.Model):
    """An Ed25519 signing key; the private half is stored encrypted (PKCS#8, passphrase)."""

    __tablename__ = "license_signing_keys"
    __table_args__ = (
        # At most one active key, so every replica signs with the same one.
        Index(
            "uq_license_signing_keys_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_key_pem: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_dev(self) -> bool:
        return self.kid.startswith("dev-")


class InstallSequence(db.Model):
    """The last `seq` issued for an install ID; bumped atomically when a key is signed."""

    __tablename__ = "license_install_sequences"

    install_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class KeyStatus(StrEnum):
    """`IssuedKey.status`: the install ID's current key, or one a later key replaced."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"


class IssuedKey(db.Model):
    """Every product key the vendor side has signed, whatever the channel."""

    __tablename__ = "license_issued_keys"
    __table_args__ = (
        UniqueConstraint("install_id", "seq", name="uq_license_issued_keys_install_seq"),
        # The Keys list's order (newest first, `search.search_keys`) read from the index, and its
        # cursors' positions found in it: no sort of the whole table for the first page.
        Index("ix_license_issued_keys_issued_at_seq_id", "issued_at", "seq", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # license.id (UUID)
    install_id: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int]
    kid: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128), index=True)  # the search box finds it
    product: Mapped[str] = mapped_column(String(255))
    aku: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    product_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE, index=True)  # KeyStatus
    superseded_by: Mapped[str | None] = mapped_column(String(36))
    issued_by: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text)
    # the marketplace binding it came from (vendor side), if any
    binding_id: Mapped[int | None] = mapped_column(index=True)


class BindingState(StrEnum):
    """`CodeBinding.state`."""

    PENDING = "pending"  # being issued for the first time (no key yet)
    BOUND = "bound"  # has issued a key for `install_id`
    REPLACED = "replaced"  # an admin replaced this code's license with another code's


BINDING_STATES = tuple(BindingState)


class CodeBinding(db.Model):
    __tablename__ = "license_code_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_encrypted: Mapped[str] = mapped_column(Text)
    code_last4: Mapped[str] = mapped_column(String(8), index=True)
    install_id: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), default=BindingState.PENDING, index=True)  # BindingState
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # What the marketplace said last (DescribeLicense).
    ali_uid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    product_code: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    specification: Mapped[str | None] = mapped_column(String(128))
    order_ids: Mapped[Any | None] = mapped_column(JSON)
    market_status: Mapped[str | None] = mapped_column(String(16))
    market_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    market_aku: Mapped[int | None]
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_error: Mapped[str | None] = mapped_column(String(255))

    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # our ActivateLicense
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def masked_code(self) -> str:
        return "****" + self.code_last4

    def __repr__(self) -> str:  # never the code
        return f"<CodeBinding {self.id} {self.masked_code} {self.install_id} {self.state}>"


# ---------------------------------------------------------------------------------------------
# Events and webhooks (issue 14; `webapp.vendor_side.notify`)


class Event(db.Model):
    """Something the platform tells its endpoints about: `key.issued`, `code.renewed`,
    `code.discarded`, `license.expiring`, `license.expired`. Recorded once: `dedupe_key` is
    unique (`license.expiring:<key id>:<days>` ...), and rows are inserted with ON CONFLICT DO
    NOTHING, so two runners of `flask license notify` never record the same reminder twice."""

    __tablename__ = "license_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    install_id: Mapped[str | None] = mapped_column(String(32), index=True)
    key_id: Mapped[str | None] = mapped_column(String(36), index=True)
    binding_id: Mapped[int | None] = mapped_column(index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    data: Mapped[Any] = mapped_column(JSON)


class WebhookEndpoint(db.Model):
    """A receiver of events. `secret_encrypted`: the `whsec_...` signing secret, encrypted with
    LICENSE_DATA_KEY (shown once, when the endpoint is added). `events`: the event types it
    receives, or None for all of them."""

    __tablename__ = "license_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    events: Mapped[Any | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_by: Mapped[str] = mapped_column(String(254))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def wants(self, event_type: str) -> bool:
        return self.active and (not self.events or event_type in self.events)


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at` (a runner's claim pushes it a lease ahead)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt of the backoff schedule failed


class WebhookDelivery(db.Model):
    """One event for one endpoint; `msg_id` is the `webhook-id` header of every attempt."""

    __tablename__ = "license_webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id", name="uq_license_webhook_deliveries_endpoint_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(index=True)
    event_id: Mapped[int] = mapped_column(index=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING, index=True)  # DeliveryState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(db.Model):
    """One HTTP attempt of a delivery and what the receiver answered (the start of its body)."""

    __tablename__ = "license_webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    ok: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int | None]
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int | None]
    actor: Mapped[str | None] = mapped_column(String(254))  # who pressed Redeliver; None: the runner


# ---------------------------------------------------------------------------------------------
# E-mail (issue 14; `webapp.vendor_side.mail`)


class BuyerContact(db.Model):
    """The buyer's e-mail for an environment's expiry reminders: recorded by staff at issuing,
    with the buyer's consent (never read from the marketplace). `email_encrypted`: with
    LICENSE_DATA_KEY, like the codes. `locale`: the language the buyer's reminders are written in."""

    __tablename__ = "license_buyer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    install_id: Mapped[str] = mapped_column(String(32), unique=True)
    email_encrypted: Mapped[str] = mapped_column(Text)
    email_hint: Mapped[str] = mapped_column(String(64))  # `b***@example.com`, for the pages
    locale: Mapped[str] = mapped_column(String(16))
    consent_recorded_by: Mapped[str] = mapped_column(String(254))
    consent_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class MailState(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at` (a runner's claim pushes it a lease ahead)
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # refused for good, or every attempt of the schedule failed
    DROPPED = "dropped"  # nobody to send it to any more (the address was removed)


class MailMessage(db.Model):
    """One e-mail to send: a reminder for an event, or a day's digest. Recorded once
    (`dedupe_key` unique, insert-or-skip, as the events); written when it is sent, in its
    recipient's language, to the address known then (`recipient`: `team`, LICENSE_NOTIFY_EMAIL,
    or `buyer`, the environment's BuyerContact), so no address is stored twice."""

    __tablename__ = "license_mail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # an event type, or "digest"
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    recipient: Mapped[str] = mapped_column(String(16))  # "team" or "buyer"
    event_id: Mapped[int | None] = mapped_column(index=True)
    install_id: Mapped[str | None] = mapped_column(String(32), index=True)
    data: Mapped[Any | None] = mapped_column(JSON)  # the digest's findings
    message_id: Mapped[str] = mapped_column(String(128), unique=True)  # the Message-ID header
    state: Mapped[str] = mapped_column(String(16), default=MailState.PENDING, index=True)  # MailState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
