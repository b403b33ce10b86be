"""Which vendor public keys this deployment trusts, cached for the hot path.

An environment trusts the keys the seller ships with it (`LICENSE_PUBLIC_KEYS`, a JSON file
`{kid: PEM}`). In role `both` (the demo) it also trusts the signing keys in its own database.
Development keys (`kid` starting `dev-`) are trusted only in role `both` or with
`LICENSE_ALLOW_DEV_KEYS=1`. The set is loaded once and reloaded only when a key names a
`kid` it does not hold (at most once every few seconds), so verifying costs no I/O.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, current_app

from . import product_key
from .config import Role

RELOAD_INTERVAL = 5.0


class TrustConfigError(RuntimeError):
    pass


def allow_dev_keys(app: Flask) -> bool:
    return app.config["LICENSE_ROLE"] == Role.BOTH or bool(app.config["LICENSE_ALLOW_DEV_KEYS"])


def untrusting_warning(app: Flask) -> str | None:
    """What an environment that trusts no vendor key says (no `LICENSE_PUBLIC_KEYS`): when it
    starts serving, and in the commands it concerns. None when there is nothing to say."""
    if app.config["LICENSE_ROLE"] != Role.ENVIRONMENT or app.config["LICENSE_PUBLIC_KEYS"]:
        return None
    from .cli import command_line

    return (
        "LICENSE_PUBLIC_KEYS is not set: this environment trusts no vendor key, so no "
        f"product key can be activated. Set it to the file `{command_line('license public-keys')}` "
        "prints on the vendor side."
    )


def _read_configured(app: Flask) -> dict[str, str]:
    source = app.config["LICENSE_PUBLIC_KEYS"]
    if not source:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    text = source if source.lstrip().startswith("{") else None
    if text is None:
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise TrustConfigError(f"LICENSE_PUBLIC_KEYS: cannot read {source}: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except ValueError:
        raise TrustConfigError("LICENSE_PUBLIC_KEYS must be a JSON object {kid: PEM}") from None
    if not isinstance(value, dict):
        raise TrustConfigError("LICENSE_PUBLIC_KEYS must be a JSON object {kid: PEM}")
    return value


def _read_database() -> dict[str, str]:
    from .vendor_side.signing_keys import public_keys

    return public_keys()


class TrustedKeys(Mapping):
    """A read-only `{kid: Ed25519PublicKey}` that reloads itself on an unknown `kid`."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")

    def _load(self) -> None:
        pems = _read_configured(self._app)
        if self._app.config["LICENSE_ROLE"] == Role.BOTH:
            pems = {**_read_database(), **pems}
        if not allow_dev_keys(self._app):
            pems = {kid: pem for kid, pem in pems.items() if not product_key.is_dev_kid(kid)}
        self._keys = product_key.load_public_keys(pems)
        self._loaded_at = time.monotonic()

    def reload(self) -> None:
        with self._lock:
            self._load()

    def _ensure(self, kid: str | None = None) -> None:
        stale = time.monotonic() - self._loaded_at > RELOAD_INTERVAL
        if self._loaded_at == float("-inf") or (kid is not None and kid not in self._keys and stale):
            self.reload()

    def __getitem__(self, kid: str) -> Ed25519PublicKey:
        self._ensure(kid)
        return self._keys[kid]

    def __iter__(self):
        self._ensure()
        return iter(dict(self._keys))

    def __len__(self) -> int:
        self._ensure()
        return len(self._keys)


def trusted_keys(app: Flask | None = None) -> TrustedKeys:
    app = app or current_app._get_current_object()
    store = app.extensions.get("license_trusted_keys")
    if store is None:
        store = app.extensions.setdefault("license_trusted_keys", TrustedKeys(app))
    return store


def verify(text: str, app: Flask | None = None) -> product_key.ProductKey:
    """Steps 1-3 of applying a key (envelope, signature, fields) under the trusted keys.

    A development key where development keys are not trusted is refused with a message
    that says so, rather than the generic "unknown signing key".
    """
    app = app or current_app._get_current_object()
    envelope = product_key.decode(text)
    kid = envelope["signature"]["kid"]
    if product_key.is_dev_kid(kid) and not allow_dev_keys(app):
        raise product_key.ProductKeyError(
            "signature_invalid",
            f"This key was signed with a development key ({kid}), which this environment does "
            "not trust. Ask the vendor for a key signed with their production key.",
        )
    return product_key.verify(text, trusted_keys(app))
