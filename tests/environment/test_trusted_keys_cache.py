"""The trusted vendor keys are loaded once per process, and a change to what they are loaded from
is still seen (issue 12): the keys file edited (a key removed), the setting changed."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from webapp import product_key, trust

INSTALL_ID = "f0d3d4e6bf28c50c4c73dc77de53a6b9"
OLD, NEW = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def _key(private: Ed25519PrivateKey, kid: str) -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    terms = product_key.License(
        id="8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55", seq=3, type="subscription",
        channel="alibaba-marketplace", reference="****7Q2K", product="Product", aku=40,
        issued_at=now, not_before=now, expires_at=now + timedelta(days=30))
    return product_key.sign(INSTALL_ID, terms, kid, private)


def _write(path, keys: dict) -> None:
    path.write_text(json.dumps({kid: product_key.public_key_pem(k.public_key()) for kid, k in keys.items()}))


@pytest.fixture
def keys_file(tmp_path):
    return tmp_path / "public-keys.json"


@pytest.fixture
def app_config(keys_file):
    _write(keys_file, {"2026-10-a": OLD, "2026-11-a": NEW})
    return {"LICENSE_ROLE": "environment", "LICENSE_PUBLIC_KEYS": str(keys_file)}


def test_the_keys_file_is_read_once_for_many_verifications(app, monkeypatch):
    reads = []
    real = trust._read_configured
    monkeypatch.setattr(trust, "_read_configured", lambda a: reads.append(1) or real(a))
    text = _key(NEW, "2026-11-a")
    with app.app_context():
        for _ in range(50):
            assert trust.verify(text).kid == "2026-11-a"
    assert len(reads) == 1


def test_a_key_removed_from_the_file_is_no_longer_trusted(app, keys_file, monkeypatch):
    monkeypatch.setattr(trust, "STAT_INTERVAL", 0.0)
    old_key = _key(OLD, "2026-10-a")
    with app.app_context():
        assert trust.verify(old_key).kid == "2026-10-a"
        _write(keys_file, {"2026-11-a": NEW})
        st = keys_file.stat()  # a new modification time even on a coarse clock
        os.utime(keys_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        with pytest.raises(product_key.ProductKeyError) as refused:
            trust.verify(old_key)
        assert refused.value.code == "signature_invalid" and refused.value.details["unknownKid"]
        assert trust.verify(_key(NEW, "2026-11-a")).kid == "2026-11-a"


def test_a_changed_setting_is_seen_at_once(app):
    with app.app_context():
        assert trust.verify(_key(OLD, "2026-10-a")).kid == "2026-10-a"
        app.config["LICENSE_PUBLIC_KEYS"] = {"2026-11-a": product_key.public_key_pem(NEW.public_key())}
        with pytest.raises(product_key.ProductKeyError):
            trust.verify(_key(OLD, "2026-10-a"))
        # changed in place, too
        app.config["LICENSE_PUBLIC_KEYS"]["2026-10-a"] = product_key.public_key_pem(OLD.public_key())
        assert trust.verify(_key(OLD, "2026-10-a")).kid == "2026-10-a"


def test_a_development_key_is_refused_by_its_own_words_before_the_lookup(app):
    with app.app_context():
        with pytest.raises(product_key.ProductKeyError) as refused:
            trust.verify(_key(NEW, "dev-1234"))
    assert refused.value.code == "signature_invalid" and "development key (dev-1234)" in refused.value.message
