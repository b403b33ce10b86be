"""Vendor-side signing keys and the ledger of every product key issued."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class SigningKey(db.Model):
    """An Ed25519 signing key; the private half is stored encrypted (PKCS#8, passphrase)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        # At most one active key, so every replica signs with the same one.
        Index(
            "uq_signing_keys_one_active",
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_dev(self) -> bool:
        return self.kid.startswith("dev-")


class InstallSequence(db.Model):
    """The last `seq` issued for an install ID; bumped atomically when a key is signed."""

    __tablename__ = "install_sequences"

    install_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class IssuedKey(db.Model):
    """Every product key the vendor side has signed, whatever the channel."""

    __tablename__ = "issued_keys"
    __table_args__ = (UniqueConstraint("install_id", "seq", name="uq_issued_keys_install_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # license.id (UUID)
    install_id: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int]
    kid: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128))
    product: Mapped[str] = mapped_column(String(255))
    aku: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    product_key: Mapped[str] = mapped_column(Text)
    # active | superseded
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    superseded_by: Mapped[str | None] = mapped_column(String(36))
    issued_by: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text)
    # the marketplace binding it came from (vendor side), if any
    binding_id: Mapped[int | None] = mapped_column(index=True)
