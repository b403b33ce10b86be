"""Authorization codes at rest: encrypted with `LICENSE_DATA_KEY`, found by a keyed hash.

Two keys are derived from the configured data key with HKDF-SHA256: one for AES-256-GCM
(random nonce per value), one for the HMAC-SHA256 lookup hash. The hash lets a unique index
find a code without decrypting every row; without the data key it reveals nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DataKeyError(ValueError):
    """A stored value could not be decrypted with the configured data key."""


@dataclass(frozen=True)
class DataKey:
    encryption_key: bytes
    hash_key: bytes

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.encryption_key).encrypt(nonce, plaintext.encode("utf-8"), b"code/1")
        return "v1:" + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith("v1:"):
            raise DataKeyError("unknown encryption format")
        raw = base64.b64decode(stored[3:])
        try:
            return AESGCM(self.encryption_key).decrypt(raw[:12], raw[12:], b"code/1").decode("utf-8")
        except InvalidTag:
            raise DataKeyError("the value was encrypted with another LICENSE_DATA_KEY") from None

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self.hash_key, value.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode("utf-8")
    )


@lru_cache(maxsize=8)
def data_key(secret: str) -> DataKey:
    if not secret:
        raise DataKeyError("LICENSE_DATA_KEY is not set")
    return DataKey(_derive(secret, b"license-data/encrypt"), _derive(secret, b"license-data/hash"))
