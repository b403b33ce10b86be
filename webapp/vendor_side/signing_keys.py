"""The vendor's Ed25519 signing keys, stored encrypted in the database, one active.

Every replica reads the active key from the database, so all of them sign with the same
`kid`; rotation (`flask license keygen`) makes a new key active and keeps the old public
halves, so environments that trust both keep accepting keys signed by either.
"""
from __future__ import annotations

import secrets
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import inspect, update
from sqlalchemy.exc import IntegrityError

from ..cli import command_line
from .. import clock, startup_log
from ..database import db
from .models import SigningKey


class SigningKeyMissing(RuntimeError):
    """No active signing key, and `LICENSE_REQUIRE_SIGNING_KEY=1` forbids making one."""


_cache: dict[tuple[str, str], Ed25519PrivateKey] = {}
_cache_lock = threading.Lock()


def _passphrase() -> bytes:
    value = current_app.config["LICENSE_SIGNING_KEY_PASSPHRASE"]
    if not value:
        raise SigningKeyMissing(
            "LICENSE_SIGNING_KEY_PASSPHRASE is not set: it encrypts the signing keys at rest"
        )
    return value.encode("utf-8")


def new_kid(dev: bool = False) -> str:
    if dev:
        return "dev-" + secrets.token_hex(4)
    return clock.now().strftime("%Y-%m-") + secrets.token_hex(2)


def generate(kid: str | None = None, *, dev: bool = False) -> SigningKey:
    """Create a key, make it the only active one, and commit."""
    kid = kid or new_kid(dev)
    private = Ed25519PrivateKey.generate()
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase()),
    ).decode("ascii")
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    now = clock.now()
    db.session.execute(
        update(SigningKey).where(SigningKey.active.is_(True)).values(active=False, retired_at=now)
    )
    key = SigningKey(kid=kid, private_key_encrypted=encrypted, public_key_pem=public, active=True)
    db.session.add(key)
    db.session.commit()
    return key


def active_key() -> SigningKey | None:
    return db.session.scalar(db.select(SigningKey).where(SigningKey.active.is_(True)))


def private_key(key: SigningKey) -> Ed25519PrivateKey:
    """The decrypted private key, cached per process (decryption is deliberately slow)."""
    cache_key = (key.kid, key.private_key_encrypted)
    with _cache_lock:
        found = _cache.get(cache_key)
    if found is None:
        found = serialization.load_pem_private_key(
            key.private_key_encrypted.encode("ascii"), password=_passphrase()
        )
        with _cache_lock:
            _cache[cache_key] = found
    return found


def public_keys() -> dict[str, str]:
    """`{kid: PEM}` of every signing key, the active one included: what environments trust."""
    keys = db.session.scalars(db.select(SigningKey).order_by(SigningKey.created_at)).all()
    return {k.kid: k.public_key_pem for k in keys}


_public_cache: dict[tuple[str, str], object] = {}


def _loaded_public_keys(pems: dict[str, str]) -> dict:
    """`{kid: Ed25519PublicKey}`, each PEM parsed once per process: cached on the kid and the PEM
    themselves, so a key that changes or goes in the database is read as it now is."""
    from .. import product_key

    keys = {}
    with _cache_lock:
        for kid, pem in pems.items():
            found = _public_cache.get((kid, pem))
            if found is None:
                found = _public_cache[(kid, pem)] = product_key.load_public_keys({kid: pem})[kid]
            keys[kid] = found
    return keys


def verify(text: str):
    """Verify a product key under every signing key this vendor holds (development ones
    included): how the vendor's own tools check a key, whoever it was issued for. The keys are
    read from the database each time (a rotation is seen), their PEM parsed once per process."""
    from .. import product_key

    return product_key.verify(text, _loaded_public_keys(public_keys()))


def ensure_active_key(app) -> None:
    """With no active key, make a `dev-` one and warn, or refuse (`LICENSE_REQUIRE_SIGNING_KEY`).

    Run when the vendor side starts serving, and by the commands that sign
    (`cli.need_signing_key`); never by `license keygen`, which makes the production key itself.
    Skipped while the schema does not exist yet (as before `flask db upgrade`).
    """
    with app.app_context():
        if not inspect(db.engine).has_table(SigningKey.__tablename__):
            return
        if active_key() is not None:
            return
        if app.config["LICENSE_REQUIRE_SIGNING_KEY"]:
            raise SigningKeyMissing(
                "LICENSE_REQUIRE_SIGNING_KEY=1 and there is no active signing key: "
                f"run `{command_line('license keygen')}` first"
            )
        try:
            key = generate(dev=True)
        except IntegrityError:  # another worker made one at the same moment
            db.session.rollback()
            return
        startup_log.warning(
            f"no signing key configured; generated development key {key.kid!r}. "
            "Environments outside role 'both' refuse dev- keys. "
            f"Run `{command_line('license keygen')}` for a production key."
        )
