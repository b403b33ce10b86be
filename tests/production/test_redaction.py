"""`redaction.redact`: what a log line may never carry, recognised by shape, place or value."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from webapp import product_key
from webapp.redaction import RedactingFilter, mask_code, redact

CODE = "AUTH-CODE-0001-7Q2K"
INSTALL = "0123456789abcdef0123456789abcdef"


def a_product_key() -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    terms = product_key.License(id=str(uuid.uuid4()), seq=1, type="subscription", channel="offline-contract",
                                reference="C-1", product="P", aku=20, issued_at=now, not_before=now,
                                expires_at=now + timedelta(days=30))
    return product_key.sign(INSTALL, terms, "kid-1", Ed25519PrivateKey.generate())


def test_a_product_key_is_hidden_whole_wherever_it_is():
    key = a_product_key()
    # SQLAlchemy's echo cuts long values in the middle: both ends must go
    echoed = f"('{key[:150]} ... ({len(key) - 300} characters truncated) ... {key[-150:]}', 20)"
    for line in (f"applied {key}", echoed, f'{{"productKey": "{key}"}}'):
        out = redact(line)
        assert key[:40] not in out and key[-40:] not in out
        assert "[product key]" in out or "[redacted]" in out
        assert product_key.KEY_PREFIX not in out


@pytest.mark.parametrize("line, hidden, kept", [
    ('"GET /keys?q=AUTH-CODE-0001-7Q2K HTTP/1.1" 200', CODE, "q=****7Q2K"),
    ("GET /api/v1/product-keys?installId=x&code=AUTH-CODE-0001-7Q2K&limit=5", CODE, "code=****7Q2K&limit=5"),
    ("POST /?Action=DescribeLicense&LicenseCode=AUTH-CODE-0001-7Q2K&Signature=abc%2Bdef", CODE, "LicenseCode=****7Q2K"),
    ('{"authorizationCode": "AUTH-CODE-0001-7Q2K", "installId": "x"}', CODE, '"authorizationCode": "****7Q2K"'),
    ("{'authorization_code': 'AUTH-CODE-0001-7Q2K'}", CODE, "'authorization_code': '****7Q2K'"),
])
def test_codes_in_urls_and_bodies_keep_only_their_last_four(line, hidden, kept):
    out = redact(line)
    assert hidden not in out and kept in out


@pytest.mark.parametrize("line, secret", [
    ("email=a%40b.c&password=hunter2-hunter2&next=/", "hunter2-hunter2"),
    ('{"email": "a@b.c", "password": "hunter2 with spaces"}', "hunter2 with spaces"),
    ("{'password': 'it\\'s-a-secret'}", "it\\'s-a-secret"),
    ("Authorization: Bearer lic_abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz"),
    ("token lic_AbCdEfGhIjKlMnOpQrStUv leaked", "AbCdEfGhIjKlMnOpQrStUv"),
    ("authorization: bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9"),
    ("connect postgresql+psycopg://license:s3cr3t-pw@db:5432/license failed", "s3cr3t-pw"),
    ("?Signature=ZmFrZSBzaWduYXR1cmU%3D&SecurityToken=sts-token-value", "ZmFrZSBzaWduYXR1cmU"),
    ("?Signature=ZmFrZSBzaWduYXR1cmU%3D&SecurityToken=sts-token-value", "sts-token-value"),
])
def test_passwords_tokens_and_signatures_are_hidden_whole(line, secret):
    out = redact(line)
    assert secret not in out and "[redacted]" in out


def test_a_private_key_is_hidden_whole():
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    out = redact(f"loaded {pem} ok")
    assert "PRIVATE KEY" not in out and pem.splitlines()[1] not in out and out.endswith(" ok")


def test_known_values_are_hidden_wherever_they_appear():
    out = redact("a code QWERTY-1234-ZZZZ typed, the secret k3y-of-the-app used",
                 secrets=["k3y-of-the-app"], codes=["QWERTY-1234-ZZZZ"])
    assert out == "a code ****ZZZZ typed, the secret [redacted] used"


def test_what_is_not_a_secret_stays_readable():
    line = ('redeem refused: {"error": {"code": "code_expired", "message": "The code expired."}} '
            "status_code=422 route=/api/v1/redeem install " + INSTALL)
    assert redact(line) == line
    # short known values would mask ordinary words: they are left alone
    assert redact("abc abc", secrets=["abc"]) == "abc abc"


def test_mask_code_shows_the_last_four_of_long_values_only():
    assert mask_code(CODE) == "****7Q2K"
    assert mask_code("SHORT") == "****"


def test_redacting_twice_changes_nothing_more():
    line = ('"GET /keys?q=AUTH-CODE-0001-7Q2K HTTP/1.1" password=hunter2-hunter2 '
            '{"authorizationCode": "AUTH-CODE-0001-7Q2K"} Bearer lic_abcdefghijklmnopqrstuvwxyz')
    once = redact(line, codes=[CODE])
    assert redact(once, codes=[CODE]) == once and "q=****7Q2K" in once


def test_the_filter_redacts_message_arguments_and_exceptions():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("tests.redaction")
    handler = Keep()
    handler.addFilter(RedactingFilter(secrets=["app-secret-value"], known=lambda: ([], [CODE])))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("code %s and %s", CODE, "app-secret-value")
        try:
            raise ValueError(f"bad password=hunter2-hunter2 for {CODE}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert records[0].getMessage() == "code ****7Q2K and [redacted]"
    formatted = logging.Formatter().format(records[1])
    assert "hunter2" not in formatted and CODE not in formatted and "ValueError" in formatted
