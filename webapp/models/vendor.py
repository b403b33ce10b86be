"""Vendor-side tables: which authorization code is bound to which install ID.

One row per authorization code ever submitted successfully (or being submitted right now),
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
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

#: pending: being issued for the first time (no key yet); bound: has issued a key for
#: `install_id`; replaced: an admin replaced this code's license with another code's.
BINDING_STATES = ("pending", "bound", "replaced")


class CodeBinding(db.Model):
    __tablename__ = "code_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_encrypted: Mapped[str] = mapped_column(Text)
    code_last4: Mapped[str] = mapped_column(String(8), index=True)
    install_id: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def masked_code(self) -> str:
        return "****" + self.code_last4

    def __repr__(self) -> str:  # never the code
        return f"<CodeBinding {self.id} {self.masked_code} {self.install_id} {self.state}>"
