"""Fixtures for the environment side: a controlled clock and product keys signed on demand.

The app runs in role `both` (tests/conftest.py), so the database holds a development signing
key that the environment trusts; `keys.make(...)` signs any terms with it (or with a stranger's
key), which lets the tests build every kind of refused key.
"""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from webapp import product_key

START = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)

# A "production" vendor key for tests in role `environment`: trust it with
# `app_config = {"LICENSE_ROLE": "environment", "LICENSE_PUBLIC_KEYS": VENDOR_PUBLIC_KEYS}`.
VENDOR_KID = "2026-11-a"
VENDOR_KEY = Ed25519PrivateKey.generate()
VENDOR_PUBLIC_KEYS = {VENDOR_KID: product_key.public_key_pem(VENDOR_KEY.public_key())}


class Clock:
    """A wall clock the test moves: `clock.now`, `clock.advance(days=3)`, `clock.set(dt)`."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now


@pytest.fixture
def clock(app) -> Clock:
    c = Clock()
    app.config["LICENSE_CLOCK"] = c
    return c


class Keys:
    def __init__(self, app, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self.stranger = Ed25519PrivateKey.generate()

    def install_id(self) -> str:
        from webapp.environment import license_record

        with self.app.app_context():
            return license_record.current_license().install_id

    def make(
        self,
        *,
        seq: int = 1,
        aku: int = 40,
        days: float = 30,
        install_id: str | None = None,
        issued_at: datetime | None = None,
        not_before: datetime | None = None,
        expires_at: datetime | None = None,
        type: str = "subscription",
        channel: str = "alibaba-marketplace",
        reference: str | None = "****7Q2K",
        product: str = "AutoMQ for Kafka ( BYOC Monthly Subscription License )",
        id: str | None = None,
        stranger: bool = False,
        vendor: bool = False,
        dev: bool = False,
    ) -> str:
        from webapp.vendor_side import signing_keys

        issued = issued_at or self.clock.now
        terms = product_key.License(
            id=id or str(uuid.uuid4()),
            seq=seq,
            type=type,
            channel=channel,
            reference=reference,
            product=product,
            aku=aku,
            issued_at=issued,
            not_before=not_before or issued,
            expires_at=expires_at or issued + timedelta(days=days),
        )
        with self.app.app_context():
            install = install_id or self.install_id()
            if stranger:
                return product_key.sign(install, terms, "2026-11-x", self.stranger)
            if dev:  # a development key (kid dev-...) that no one ships
                return product_key.sign(install, terms, "dev-0000", self.stranger)
            if vendor or not self.app.extensions["license_platform"].vendor:
                return product_key.sign(install, terms, VENDOR_KID, VENDOR_KEY)
            signer = signing_keys.active_key()
            return product_key.sign(install, terms, signer.kid, signing_keys.private_key(signer))


def altered(key: str, **license_changes) -> str:
    """The key with its terms changed after signing (as a buyer editing the base64 would)."""
    envelope = product_key.decode(key)
    envelope["license"].update(license_changes)
    return base64.b64encode(json.dumps(envelope).encode()).decode()


@pytest.fixture
def keys(app, clock) -> Keys:
    return Keys(app, clock)
