"""The environment side's tables: its identity and license, the activation history, instances.

- `license_environment_state`: exactly one row (primary key fixed at 1, so two workers starting at the
  same moment cannot make two install IDs). It holds the install ID, the first start (the trial
  counts from it), the clock high-water mark, the applied product key with its parsed terms,
  and the remembered authorization code (encrypted with `LICENSE_DATA_KEY`). Reading the
  license is one primary-key read of this row.
- `license_environment_activations`: every applied and every refused key (who, when, why).
  Identical refusals in a row (same actor, how, error code and key) within
  `LICENSE_REFUSAL_FOLD_SECONDS` of the row's first are one row: `count` and `last_seen_at`.
- `license_environment_instances`: the instances that use capacity (name unique, AKU).
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import db
from .. import clock
from ..models.types import UTCDateTime

STATE_ROW_ID = 1


class ActivationSource(StrEnum):
    """How an activation was attempted (`Activation.source`)."""

    PRODUCT_KEY = "product_key"  # pasted
    REDEEM = "redeem"  # an authorization code, redeemed with the vendor
    RENEWAL_CHECK = "renewal_check"  # the remembered code, redeemed again


class ActivationResult(StrEnum):
    """`Activation.result`."""

    APPLIED = "applied"
    REFUSED = "refused"


class EnvironmentState(db.Model):
    __tablename__ = "license_environment_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    install_id: Mapped[str] = mapped_column(String(32), unique=True)
    first_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The latest time this environment has seen (clock rollback protection).
    high_water_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped by every change of capacity use (instance create, grow, delete) and activation,
    # so those writes serialize on this row and two of them cannot both pass a capacity check.
    revision: Mapped[int] = mapped_column(default=0)

    # The applied product key (all null while the built-in trial runs).
    product_key: Mapped[str | None] = mapped_column(Text)
    license_id: Mapped[str | None] = mapped_column(String(36))
    license_seq: Mapped[int | None]
    license_type: Mapped[str | None] = mapped_column(String(32))
    license_channel: Mapped[str | None] = mapped_column(String(32))
    license_reference: Mapped[str | None] = mapped_column(String(128))
    license_product: Mapped[str | None] = mapped_column(String(255))
    license_aku: Mapped[int | None]
    license_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    license_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    license_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    license_kid: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_by: Mapped[str | None] = mapped_column(String(254))

    # The authorization code of the last online activation, for "Check for renewal".
    authorization_code_encrypted: Mapped[str | None] = mapped_column(Text)
    authorization_code_masked: Mapped[str | None] = mapped_column(String(16))


class Activation(db.Model):
    """One attempt to apply a product key: applied or refused; a refused row may stand for
    `count` identical refusals in a row, the first at `at` and the last at `last_seen_at`
    (`activation.record_refusal`)."""

    __tablename__ = "license_environment_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(32), default=ActivationSource.PRODUCT_KEY)  # ActivationSource
    result: Mapped[str] = mapped_column(String(16))  # ActivationResult
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # What could be read from the key, when it could be decoded at all.
    key_id: Mapped[str | None] = mapped_column(String(36))
    key_seq: Mapped[int | None]
    key_aku: Mapped[int | None]
    key_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    key_reference: Mapped[str | None] = mapped_column(String(128))
    # The license before (for an applied key: what it replaced).
    previous_seq: Mapped[int | None]
    previous_aku: Mapped[int | None]
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Identical refusals folded into this row: how many (1 for every applied row), the last one's
    # time, and what identifies "the same key" (the SHA-256 of the text sent, or of the masked
    # authorization code a redemption was refused for).
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    key_fingerprint: Mapped[str | None] = mapped_column(String(64))


class Instance(db.Model):
    """An instance that uses licensed capacity."""

    __tablename__ = "license_environment_instances"
    __table_args__ = (CheckConstraint("aku > 0", name="aku_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    aku: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_by: Mapped[str | None] = mapped_column(String(254))

