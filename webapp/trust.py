"""Which vendor public keys this deployment trusts, cached for the hot path.

An environment trusts the keys the seller ships with it (`LICENSE_PUBLIC_KEYS`, a JSON file
`{kid: PEM}`). In role `both` (the demo) it also trusts the signing keys in its own database.
Development keys (`kid` starting `dev-`) are trusted only in role `both` or with
`LICENSE_ALLOW_DEV_KEYS=1`. The set is loaded once per process and kept with what it was
loaded from: the role, whether development keys are trusted, the `LICENSE_PUBLIC_KEYS` setting
itself and, when it names a file, that file's identity, size and modification time (looked at at
most once a second). When any of these changes the set is loaded again, so a key removed from
the file stops being trusted without a restart; a key naming a `kid` the set does not hold also
reloads it (at most once every few seconds: a signing key new in the database, in role `both`).
Verifying costs no I/O otherwise.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, current_app

from . import product_key
from .config import Role

RELOAD_INTERVAL = 5.0
# How often the file `LICENSE_PUBLIC_KEYS` names is looked at (a stat) for a change.
STAT_INTERVAL = 1.0


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


def _file_stamp(source: str) -> tuple | None:
    """What says a keys file changed: its identity, size and modification time (None: unreadable)."""
    try:
        st = os.stat(source)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class TrustedKeys(Mapping):
    """A read-only `{kid: Ed25519PublicKey}`, loaded once and kept with what it depends on
    (:meth:`_source`); it reloads itself when that changes, and on an unknown `kid`."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")
        self._loaded_from: tuple | None = None
        self._stamp: tuple | None = None
        self._stamped_at = float("-inf")

    def _source(self) -> tuple:
        """The settings the set is made of (cheap: no I/O). A mapping given in the configuration
        is compared by value, so changing it in place is seen too."""
        c = self._app.config
        source = c["LICENSE_PUBLIC_KEYS"]
        if type(source) is not str and isinstance(source, Mapping):
            source = tuple(sorted((str(k), str(v)) for k, v in source.items()))
        return (c["LICENSE_ROLE"], allow_dev_keys(self._app), source)

    def _file_changed(self, source: tuple, now: float) -> bool:
        """Whether the keys file changed since the set was loaded (a stat at most once a second)."""
        path = source[2]
        if not path or not isinstance(path, str) or path.lstrip().startswith("{"):
            return False
        if now - self._stamped_at < STAT_INTERVAL:
            return False
        self._stamped_at = now
        return _file_stamp(path) != self._stamp

    def _load(self) -> None:
        source = self._source()
        path = source[2]
        stamp = _file_stamp(path) if isinstance(path, str) and path and not path.lstrip().startswith("{") else None
        pems = _read_configured(self._app)
        if self._app.config["LICENSE_ROLE"] == Role.BOTH:
            pems = {**_read_database(), **pems}
        if not allow_dev_keys(self._app):
            pems = {kid: pem for kid, pem in pems.items() if not product_key.is_dev_kid(kid)}
        self._keys = product_key.load_public_keys(pems)
        now = time.monotonic()
        self._loaded_at = now
        self._loaded_from = source
        self._stamp = stamp
        self._stamped_at = now

    def reload(self) -> None:
        with self._lock:
            self._load()

    def _ensure(self, kid: str | None = None) -> None:
        now = time.monotonic()
        if self._loaded_at == float("-inf") or self._source() != self._loaded_from:
            self.reload()
            return
        if self._file_changed(self._loaded_from, now):
            self.reload()
            return
        if kid is not None and kid not in self._keys and now - self._loaded_at > RELOAD_INTERVAL:
            self.reload()

    def get(self, kid: str, default=None):  # what product_key.verify calls: one _ensure
        self._ensure(kid)
        return self._keys.get(kid, default)

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

    def refuse_untrusted_dev_key(kid: str) -> None:
        if product_key.is_dev_kid(kid) and not allow_dev_keys(app):
            raise product_key.ProductKeyError(
                "signature_invalid",
                f"This key was signed with a development key ({kid}), which this environment does "
                "not trust. Ask the vendor for a key signed with their production key.",
            )

    # One decode of the text: the development-key refusal runs on the envelope's kid, before
    # the trusted key is looked up (as it ran before, on a decode of its own).
    return product_key.verify(text, trusted_keys(app), check_kid=refuse_untrusted_dev_key)
