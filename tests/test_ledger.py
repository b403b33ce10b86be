"""Signing and recording keys: seq allocation under concurrency; data-key encryption."""
import threading
from datetime import datetime, timedelta, timezone

import pytest

from webapp import product_key
from webapp.authorization_code import mask
from webapp.datakey import DataKeyError, data_key
from webapp.database import db
from webapp.vendor_side.ledger import issue_key
from webapp.vendor_side.models import IssuedKey
from webapp.trust import trusted_keys

INSTALL_ID = "0123456789abcdef0123456789abcdef"


def _issue(app, n):
    with app.app_context():
        for _ in range(n):
            issue_key(install_id=INSTALL_ID, aku=5, expires_at=datetime.now(timezone.utc) + timedelta(days=3),
                      type="subscription", channel="offline-contract", reference="C", product="P", issued_by="t")
            db.session.commit()


def test_concurrent_issuers_never_share_a_seq(app):
    threads = [threading.Thread(target=_issue, args=(app, 8)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        rows = db.session.scalars(db.select(IssuedKey).where(IssuedKey.install_id == INSTALL_ID)).all()
        assert sorted(r.seq for r in rows) == list(range(1, 33))
        assert [r.seq for r in rows if r.status == "active"] == [32]


def test_issued_key_verifies_under_the_trusted_keys(app):
    _issue(app, 1)
    with app.app_context():
        row = db.session.scalar(db.select(IssuedKey))
        verified = product_key.verify(row.product_key, trusted_keys(app))
        assert verified.license.seq == 1 and verified.kid == row.kid and verified.install_id == INSTALL_ID


def test_data_key_round_trip_and_lookup_hash():
    key = data_key("k1")
    sealed = key.encrypt("ABCD-1234-SECRET")
    assert "SECRET" not in sealed and key.decrypt(sealed) == "ABCD-1234-SECRET"
    assert key.encrypt("x") != key.encrypt("x")  # fresh nonce each time
    assert key.lookup_hash("code") == key.lookup_hash(" code ") != data_key("k2").lookup_hash("code")
    with pytest.raises(DataKeyError, match="another LICENSE_DATA_KEY"):
        data_key("k2").decrypt(sealed)
    assert mask("ABCD-1234-7Q2K") == "****7Q2K" and mask("") == ""
