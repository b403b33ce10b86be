"""The product-key codec against the format (shared/design/product-key.md, docs/product-key.md).

Good keys are made by hand here (json + base64 + Ed25519, never through the codec's own helpers) so
the tests prove the format, not just that the codec agrees with itself. Every refusal has a test.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import product_key as pk
from webapp.product_key import License, ProductKeyError

UTC = timezone.utc
DOCS = Path(__file__).resolve().parent.parent / "docs" / "product-key.md"

# The first test vector of RFC 8032 (section 7.1): a public seed, so a key nobody may trust.
TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
TEST_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
# The second RFC 8032 test vector: "another vendor".
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")

KEY = Ed25519PrivateKey.from_private_bytes(TEST_SEED)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
KID = "example-2026-11"
TRUSTED = {KID: KEY.public_key()}
INSTALL_ID = "f0d3d4e6bf28c50c4c73dc77de53a6b9"
OTHER_INSTALL_ID = "9a1b2c3d4e5f60718293a4b5c6d7e8f9"
LICENSE_ID = "8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55"

# The example of docs/product-key.md: these terms, signed by KEY under KID.
GOLDEN_KEY = (
    "eyJpbnN0YWxsSWQiOiJmMGQzZDRlNmJmMjhjNTBjNGM3M2RjNzdkZTUzYTZiOSIsImxpY2Vuc2UiOnsiZm9ybWF0Ij"
    "oxLCJpZCI6IjhkNGYxYzllLTNiOWEtNGE0MS05ZjBlLTJmN2IxYTZjMGQ1NSIsInNlcSI6MywidHlwZSI6InN1YnNj"
    "cmlwdGlvbiIsImNoYW5uZWwiOiJhbGliYWJhLW1hcmtldHBsYWNlIiwicmVmZXJlbmNlIjoiKioqKjdRMksiLCJwcm"
    "9kdWN0IjoiQXV0b01RIGZvciBLYWZrYSAoIEJZT0MgTW9udGhseSBTdWJzY3JpcHRpb24gTGljZW5zZSApIiwiYWt1"
    "Ijo0MCwiaXNzdWVkQXQiOiIyMDI2LTExLTI4VDEwOjAwOjAwWiIsIm5vdEJlZm9yZSI6IjIwMjYtMTEtMjhUMTA6MD"
    "A6MDBaIiwiZXhwaXJlc0F0IjoiMjAyNi0xMi0yOFQxMDowMDowMFoifSwic2lnbmF0dXJlIjp7ImFsZyI6IkVkMjU1"
    "MTkiLCJraWQiOiJleGFtcGxlLTIwMjYtMTEiLCJ2YWx1ZSI6IjZaamwzTUlBczlEVTRHN0tRYVJ2OUlhSVQwS2ZuVz"
    "FHY3h6blNLdlJaaDZWU3RkMmVuUzMvQXUvYStRY1E4bjBWWFNGVGdWeXFKSm8razFjMnBqVEJRPT0ifX0="
)
GOLDEN_SIGNATURE = (
    "6Zjl3MIAs9DU4G7KQaRv9IaIT0KfnW1GcxznSKvRZh6VStd2enS3/Au/a+QcQ8n0VXSFTgVyqJJo+k1c2pjTBQ=="
)

ISSUED = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 12, 28, 10, 0, 0, tzinfo=UTC)


def terms(**changes) -> dict:
    """The license object of the format's example, with changes (a value of ... removes a member)."""
    obj = {
        "format": 1,
        "id": LICENSE_ID,
        "seq": 3,
        "type": "subscription",
        "channel": "alibaba-marketplace",
        "reference": "****7Q2K",
        "product": "AutoMQ for Kafka ( BYOC Monthly Subscription License )",
        "aku": 40,
        "issuedAt": "2026-11-28T10:00:00Z",
        "notBefore": "2026-11-28T10:00:00Z",
        "expiresAt": "2026-12-28T10:00:00Z",
    }
    for name, value in changes.items():
        if value is ...:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def by_hand_signed(install_id, kid, license_obj) -> bytes:
    """The signed bytes, written out from the format's words (not the codec's signed_bytes)."""
    body = json.dumps(
        {"installId": install_id, "kid": kid, "license": license_obj},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return b"product-key/1\n" + body.encode("utf-8")


def b64(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def hand_made(
    license_obj=None,
    *,
    install_id=INSTALL_ID,
    kid=KID,
    key=KEY,
    signed_install_id=None,
    signed_license=None,
    signed_kid=None,
    signature=None,
    alg="Ed25519",
    extra_top=None,
    extra_sig=None,
    dumps=None,
) -> str:
    """A product key made by hand. The signed_* arguments sign something other than what is sent."""
    license_obj = terms() if license_obj is None else license_obj
    message = by_hand_signed(
        install_id if signed_install_id is None else signed_install_id,
        kid if signed_kid is None else signed_kid,
        license_obj if signed_license is None else signed_license,
    )
    sig_value = b64(key.sign(message)) if signature is None else signature
    sig_obj = {"alg": alg, "kid": kid, "value": sig_value}
    if alg is ...:
        del sig_obj["alg"]
    sig_obj.update(extra_sig or {})
    envelope = {"installId": install_id, "license": license_obj, "signature": sig_obj}
    envelope.update(extra_top or {})
    text = (dumps or (lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False)))(envelope)
    return b64(text)


def refused(code: str, text, trusted=TRUSTED) -> ProductKeyError:
    with pytest.raises(ProductKeyError) as info:
        pk.verify(text, trusted)
    assert info.value.code == code, info.value.message
    assert str(info.value) == info.value.message
    return info.value


def example_license() -> License:
    return License(
        id=LICENSE_ID,
        seq=3,
        type="subscription",
        channel="alibaba-marketplace",
        reference="****7Q2K",
        product="AutoMQ for Kafka ( BYOC Monthly Subscription License )",
        aku=40,
        issued_at=ISSUED,
        not_before=ISSUED,
        expires_at=EXPIRES,
    )


# ---------------------------------------------------------------------------------------------
# Good keys


def test_round_trip_sign_verify():
    text = pk.sign(INSTALL_ID, example_license(), KID, KEY)
    key = pk.verify(text, TRUSTED)
    assert key.install_id == INSTALL_ID
    assert key.license == example_license()
    assert key.kid == KID
    assert key.alg == "Ed25519"
    assert len(key.signature) == 64
    assert key.text == text
    assert key.license.issued_at.tzinfo is not None
    assert key.license.issued_at.utcoffset() == timedelta(0)


def test_key_starts_like_the_seed_example():
    text = pk.sign(INSTALL_ID, example_license(), KID, KEY)
    assert text.startswith("eyJpbnN0YWxsSWQiOi")
    body = base64.b64decode(text, validate=True).decode("utf-8")
    assert body.startswith('{"installId":"f0d3d4e6bf28c50c4c73dc77de53a6b9",')
    assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) and len(text) % 4 == 0


def test_golden_key_verifies_and_sign_reproduces_it():
    key = pk.verify(GOLDEN_KEY, TRUSTED)
    assert key.license.to_json() == terms()
    assert list(key.license.to_json()) == list(terms())
    assert base64.b64encode(key.signature).decode() == GOLDEN_SIGNATURE
    # Ed25519 is deterministic and sign() writes members in the documented order.
    assert pk.sign(INSTALL_ID, example_license(), KID, KEY) == GOLDEN_KEY
    assert pk.sign(INSTALL_ID, terms(), KID, KEY) == GOLDEN_KEY


def test_docs_example_is_the_golden_key():
    docs = DOCS.read_text(encoding="utf-8")
    key_block = re.search(r"<!-- example-product-key -->\s*```\n(.*?)\n```", docs, re.S)
    pem_block = re.search(r"<!-- example-public-key -->\s*```\n(.*?)\n```", docs, re.S)
    assert key_block and pem_block
    assert key_block.group(1).strip() == GOLDEN_KEY
    assert pem_block.group(1).strip() == pk.public_key_pem(KEY.public_key()).strip()
    assert GOLDEN_SIGNATURE in docs
    signed = by_hand_signed(INSTALL_ID, KID, terms())
    assert signed.decode("utf-8") in docs  # the signed bytes shown, prefix line included
    # The key in the docs verifies under the public key the docs print.
    trusted = pk.load_public_keys({KID: pem_block.group(1)})
    assert pk.verify(key_block.group(1), trusted).license.aku == 40


def test_test_key_is_the_rfc8032_vector():
    raw = KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw == TEST_PUBLIC


def test_hand_made_key_verifies():
    key = pk.verify(hand_made(), TRUSTED)
    assert key.install_id == INSTALL_ID
    assert key.license.seq == 3
    assert key.license.aku == 40
    assert key.license.reference == "****7Q2K"
    assert key.license.expires_at == EXPIRES
    assert key.license.not_before == ISSUED


def test_hand_made_key_in_any_json_layout_verifies():
    # The signature covers the parsed values, not the JSON text: order, spacing and escapes are free.
    lic = terms(product="Kafka für alle — 日本語")
    pretty = hand_made(lic, dumps=lambda o: json.dumps(o, indent=4, ensure_ascii=True))
    reordered = hand_made(
        lic, dumps=lambda o: json.dumps({k: o[k] for k in ("signature", "license", "installId")})
    )
    for text in (pretty, reordered):
        assert pk.verify(text, TRUSTED).license.product == "Kafka für alle — 日本語"


def test_hand_made_key_with_null_reference_and_offline_channel():
    lic = terms(reference=None, channel="offline-contract", type="trial-extension", seq=1)
    key = pk.verify(hand_made(lic), TRUSTED)
    assert key.license.reference is None
    assert key.license.channel == "offline-contract"
    assert key.license.type == "trial-extension"


def test_additive_members_are_tolerated_and_kept():
    lic = terms(maxInstances=7, features={"tiered": True, "zones": ["a", "b"]})
    text = hand_made(lic, extra_top={"comment": "hi"}, extra_sig={"note": "x"})
    key = pk.verify(text, TRUSTED)
    assert dict(key.license.extra) == {"maxInstances": 7, "features": {"tiered": True, "zones": ["a", "b"]}}
    assert key.license.to_json() == lic
    # Re-signing the terms signs the unknown members too.
    again = pk.verify(pk.sign(INSTALL_ID, key.license, KID, KEY), TRUSTED)
    assert again.license == key.license
    with pytest.raises(TypeError):
        key.license.extra["maxInstances"] = 8  # read-only


def test_unsigned_alg_is_informational():
    # alg is not signed: the algorithm comes from the trusted key that kid names.
    key = pk.verify(hand_made(alg="RS256"), TRUSTED)
    assert key.alg == "RS256"
    assert key.license.to_json() == terms()


def test_rotated_keys_verify_by_kid():
    trusted = {KID: KEY.public_key(), "2027-01-a": OTHER_KEY.public_key()}
    new = hand_made(kid="2027-01-a", key=OTHER_KEY)
    assert pk.verify(new, trusted).kid == "2027-01-a"
    assert pk.verify(GOLDEN_KEY, trusted).kid == KID


# ---------------------------------------------------------------------------------------------
# Lenient reading of the text


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: t.replace("+", "-").replace("/", "_"), id="url-safe"),
        pytest.param(lambda t: t.rstrip("="), id="no-padding"),
        pytest.param(lambda t: t.replace("+", "-").replace("/", "_").rstrip("="), id="url-safe-no-padding"),
        pytest.param(lambda t: "\n".join(t[i : i + 76] for i in range(0, len(t), 76)), id="mime-lines"),
        pytest.param(lambda t: "\r\n".join(t[i : i + 64] for i in range(0, len(t), 64)) + "\r\n", id="crlf"),
        pytest.param(lambda t: "  \t" + " ".join(t) + " \n", id="spaces-everywhere"),
        pytest.param(lambda t: t[:-1] + "\n" + t[-1:], id="newline-in-padding"),
        pytest.param(lambda t: "\u00a0" + t + "\u2003", id="unicode-spaces"),
        pytest.param(lambda t: t.encode("ascii"), id="bytes"),
    ],
)
def test_pasted_variants_read_as_the_same_key(variant):
    text = hand_made(terms(product="Ünïcødé ++//?? product>>>"))  # a product name that yields + and /
    assert "+" in text or "/" in text
    key = pk.verify(variant(text), TRUSTED)
    assert key.license.to_json() == terms(product="Ünïcødé ++//?? product>>>")
    assert key.text == text  # normalized: standard alphabet, padded, no whitespace


def test_size_limit_is_exactly_16_kib():
    assert pk.MAX_KEY_CHARS == 16384
    padded = GOLDEN_KEY + " " * (pk.MAX_KEY_CHARS - len(GOLDEN_KEY))
    assert len(padded) == pk.MAX_KEY_CHARS
    assert pk.verify(padded, TRUSTED).license.aku == 40
    error = refused("malformed_key", padded + " ")
    assert "16,384" in error.message and error.details["reason"] == "16385 characters, over the limit of 16384"


def test_size_limit_applies_before_decoding():
    # A huge paste is refused for its size, whatever it holds.
    error = refused("malformed_key", "!" * (pk.MAX_KEY_CHARS + 1))
    assert "characters long" in error.message
    error = refused("malformed_key", b"A" * 10_000_000)
    assert "16,384" in error.message


# ---------------------------------------------------------------------------------------------
# Step 1: malformed text and envelope


def enc(doc: str | bytes) -> str:
    return b64(doc)


ENVELOPE_REFUSALS = {
    "empty": "",
    "only-whitespace": " \n\t ",
    "not-base64": "this is not a key!",
    "non-ascii": "eyJpbnN0YWxsSWQiOi€€€",
    "padding-in-the-middle": "eyJp=bnN0",
    "three-padding": "eyJpbnN0YWxsSWQiOi===",
    "wrong-padding": "eyJpbnN0YWxsSWQ=",
    "length-mod-4-is-1": "eyJpb",
    "not-utf8": enc(b'{"installId":"\xff\xfe"}'),
    "not-json": enc("installId=f0d3"),
    "truncated-json": GOLDEN_KEY[:200],
    "json-array": enc("[1,2,3]"),
    "json-string": enc('"eyJ"'),
    "json-null": enc("null"),
    "trailing-garbage": enc(base64.b64decode(GOLDEN_KEY).decode() + "x"),
    "bom": enc("\ufeff" + base64.b64decode(GOLDEN_KEY).decode()),
    "duplicate-top-member": enc(
        '{"installId":"%s","installId":"%s","license":{},"signature":{"kid":"k","value":"v"}}'
        % (INSTALL_ID, OTHER_INSTALL_ID)
    ),
    "duplicate-license-member": enc(
        base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":40,"aku":4000,')
    ),
    "float": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":40.0,')),
    "exponent": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":4e1,')),
    "nan": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":NaN,')),
    "infinity": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":Infinity,')),
    "minus-infinity": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":-Infinity,')),
    "huge-integer": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":9007199254740992,')),
    "enormous-integer": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":' + "9" * 5000 + ",")),
    "lone-surrogate": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"****7Q2K"', '"\\ud800"')),
    "astral-member-name": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":40,"\U0001F600":1,')),
    "deep-nesting": enc(base64.b64decode(GOLDEN_KEY).decode().replace('"aku":40,', '"aku":40,"x":' + "[" * 20 + "]" * 20 + ",")),
    "recursion-bomb": enc("[" * 5000 + "]" * 5000),
    "no-installId": enc('{"license":{},"signature":{"kid":"k","value":"v"}}'),
    "installId-number": enc('{"installId":1,"license":{},"signature":{"kid":"k","value":"v"}}'),
    "installId-null": enc('{"installId":null,"license":{},"signature":{"kid":"k","value":"v"}}'),
    "no-license": enc('{"installId":"%s","signature":{"kid":"k","value":"v"}}' % INSTALL_ID),
    "license-array": enc('{"installId":"%s","license":[],"signature":{"kid":"k","value":"v"}}' % INSTALL_ID),
    "license-string": enc('{"installId":"%s","license":"x","signature":{"kid":"k","value":"v"}}' % INSTALL_ID),
    "no-signature": enc('{"installId":"%s","license":{}}' % INSTALL_ID),
    "signature-string": enc('{"installId":"%s","license":{},"signature":"v"}' % INSTALL_ID),
    "no-kid": enc('{"installId":"%s","license":{},"signature":{"value":"v"}}' % INSTALL_ID),
    "kid-number": enc('{"installId":"%s","license":{},"signature":{"kid":7,"value":"v"}}' % INSTALL_ID),
    "no-value": enc('{"installId":"%s","license":{},"signature":{"kid":"k"}}' % INSTALL_ID),
    "value-null": enc('{"installId":"%s","license":{},"signature":{"kid":"k","value":null}}' % INSTALL_ID),
}


@pytest.mark.parametrize("name", sorted(ENVELOPE_REFUSALS))
def test_step1_refusals_are_malformed_key(name):
    text = ENVELOPE_REFUSALS[name]
    with pytest.raises(ProductKeyError) as info:
        pk.decode(text)
    assert info.value.code == "malformed_key"
    assert info.value.message and str(info.value) == info.value.message
    # verify() refuses the same way, before it looks at any trusted key.
    assert refused("malformed_key", text, trusted={}).message == info.value.message


@pytest.mark.parametrize("value", [None, 42, ["eyJ"], {"productKey": "x"}])
def test_non_text_is_malformed_key(value):
    refused("malformed_key", value)


def test_envelope_refusals_name_the_member():
    with pytest.raises(ProductKeyError) as info:
        pk.decode(ENVELOPE_REFUSALS["no-kid"])
    assert info.value.field == "signature.kid"
    assert "kid" in info.value.details["reason"]
    with pytest.raises(ProductKeyError) as info:
        pk.decode(ENVELOPE_REFUSALS["duplicate-license-member"])
    assert '"aku" appears twice' in info.value.details["reason"]
    with pytest.raises(ProductKeyError) as info:
        pk.decode(ENVELOPE_REFUSALS["float"])
    assert "integers only" in info.value.details["reason"]


# Words of the codec's internals that a person pasting a key should never have to read.
JARGON = re.compile(r"base64|UTF-?8|JSON|U\+|surrogate|Unicode|\bkid\b|installId|license\.|signature\.|"
                    r"member|integer|nest|object|bytes|ASCII", re.I)


@pytest.mark.parametrize("name", sorted(ENVELOPE_REFUSALS))
def test_step1_messages_are_plain_and_keep_the_reason_in_details(name):
    with pytest.raises(ProductKeyError) as info:
        pk.decode(ENVELOPE_REFUSALS[name])
    error = info.value
    assert not JARGON.search(error.message), error.message
    assert error.details["reason"]  # the precise reason, for support and logs
    assert error.headline and error.message.startswith(error.headline + " ")
    if name in ("empty", "only-whitespace"):
        assert error.headline == "The product key is empty."
    elif ENVELOPE_REFUSALS[name].startswith(pk.KEY_PREFIX):  # starts like a key: cut short or changed
        assert error.headline == "This product key is incomplete or damaged."
        assert "copy the whole key again" in error.message
    else:
        assert error.headline == "This is not a product key."
        assert f"starts with {pk.KEY_PREFIX}" in error.message and "copy the whole key" in error.message


@pytest.mark.parametrize("text, reason", [
    ("hello, this is not a key", "not base64"),
    ("DEMO-AKU20-READY-7K3Q", "length"),               # an authorization code, pasted by mistake
    (GOLDEN_KEY[:300], "not JSON"),                     # cut short
    (GOLDEN_KEY[:-40] + "A" * 40, "not JSON"),          # its end damaged
    (b64('{"a": 1}'), "no installId"),                  # base64 JSON, but not a key
    (b64(b"\xff\xfe\x00"), "not UTF-8"),
    ("not a product key", "not UTF-8"),                 # base64 letters, by chance
    ("\n  " + GOLDEN_KEY[:76] + "\n" + GOLDEN_KEY[76:300] + "\n", "not JSON"),  # out of an e-mail, cut short
])
def test_not_a_key_or_a_damaged_key_in_plain_words(text, reason):
    error = refused("malformed_key", text)
    assert reason in error.details["reason"]
    assert not JARGON.search(error.message), error.message
    if text.strip().startswith(pk.KEY_PREFIX):
        assert error.message.startswith("This product key is incomplete or damaged. Part of it is missing")
    else:
        assert error.message.startswith(f"This is not a product key. A product key is a long text that starts with "
                                         f"{pk.KEY_PREFIX}: copy the whole key")
    # an authorization code gets a word of its own
    assert ("An authorization code from the marketplace does not work here" in error.message) == (
        text == "DEMO-AKU20-READY-7K3Q")


def test_decode_reads_only_the_envelope():
    # Terms of every wrong type pass step 1: they are not read before the signature is checked.
    obj = pk.decode(hand_made({"seq": "three", "aku": True}, install_id="NOT-HEX"))
    assert obj["license"] == {"seq": "three", "aku": True}
    assert obj["installId"] == "NOT-HEX"


# ---------------------------------------------------------------------------------------------
# Step 2: signature


def test_tampered_license_field_is_signature_invalid():
    body = json.loads(base64.b64decode(GOLDEN_KEY))
    body["license"]["aku"] = 400
    error = refused("signature_invalid", b64(json.dumps(body)))
    assert error.headline == "This key was altered or not issued by the vendor."
    assert error.message == error.headline + " Its signature does not match what it says. " + pk._PASTE_HINT
    assert error.details["reason"] == "the signature does not verify"


@pytest.mark.parametrize(
    "member, value",
    [("seq", 4), ("expiresAt", "2036-12-28T10:00:00Z"), ("product", "Something else"), ("reference", None)],
)
def test_every_tampered_term_is_signature_invalid(member, value):
    refused("signature_invalid", hand_made(terms(**{member: value}), signed_license=terms()))


def test_added_license_member_is_signature_invalid():
    refused("signature_invalid", hand_made(terms(unlimited=True), signed_license=terms()))


def test_tampered_install_id_is_signature_invalid():
    refused("signature_invalid", hand_made(install_id=OTHER_INSTALL_ID, signed_install_id=INSTALL_ID))
    body = json.loads(base64.b64decode(GOLDEN_KEY))
    body["installId"] = OTHER_INSTALL_ID
    refused("signature_invalid", b64(json.dumps(body)))


def test_kid_is_signed():
    # Re-labelling a signature with another trusted kid does not verify.
    trusted = {KID: KEY.public_key(), "2027-01-a": KEY.public_key()}
    refused("signature_invalid", hand_made(kid="2027-01-a", signed_kid=KID), trusted=trusted)


def test_signature_by_another_key_is_signature_invalid():
    error = refused("signature_invalid", hand_made(key=OTHER_KEY))
    assert error.field == "signature.value"


def test_unknown_kid_is_signature_invalid_and_says_so():
    error = refused("signature_invalid", hand_made(kid="2031-05-z"))
    assert '"2031-05-z"' in error.message
    assert error.headline == "This key is signed with a vendor key that this environment does not know."
    assert error.details["kid"] == "2031-05-z" and error.details["unknownKid"] is True
    assert error.details["reason"] == "unknown kid"
    # With no trusted keys at all, every key is of an unknown kid.
    assert refused("signature_invalid", GOLDEN_KEY, trusted={}).details["unknownKid"] is True


def test_unknown_kid_message_shows_a_long_kid_cut_short():
    error = refused("signature_invalid", hand_made(kid="k" * 500))
    assert "k" * 64 in error.message and "k" * 65 not in error.message


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b64(b"\x00" * 63), id="63-bytes"),
        pytest.param(b64(b"\x00" * 65), id="65-bytes"),
        pytest.param("", id="empty"),
        pytest.param(b64(KEY.sign(b"x"))[:-2], id="unpadded"),
        pytest.param(b64(KEY.sign(b"x")).replace("=", "") + "A=", id="not-64-bytes-form"),
        pytest.param("!" * 88, id="not-base64"),
        pytest.param(" " + b64(KEY.sign(b"x"))[1:], id="space"),
    ],
)
def test_signature_of_wrong_shape_is_signature_invalid(value):
    error = refused("signature_invalid", hand_made(signature=value))
    assert "64 bytes" in error.details["reason"]
    assert error.message.startswith("This key was altered or not issued by the vendor. Its signature is damaged.")


def test_signature_in_url_safe_alphabet_is_refused():
    good = b64(KEY.sign(by_hand_signed(INSTALL_ID, KID, terms())))
    assert pk.verify(hand_made(signature=good), TRUSTED)
    # the value inside the JSON is standard base64 only (the leniency is for the pasted outer text)
    urlsafe = good.replace("+", "-").replace("/", "_")
    if urlsafe != good:
        refused("signature_invalid", hand_made(signature=urlsafe))


def test_signature_is_checked_before_any_term_is_read():
    bad_terms = terms(seq="three", aku=True, issuedAt="yesterday")
    # With a signature that does not match, the answer is signature_invalid, not malformed_key...
    refused("signature_invalid", hand_made(bad_terms, signed_license=terms()))
    refused("signature_invalid", hand_made(install_id="NOT-HEX", signed_install_id=INSTALL_ID))
    refused("signature_invalid", hand_made(bad_terms, kid="unknown"))
    # ...and with a good one, the terms are read and refused by name.
    assert refused("malformed_key", hand_made(bad_terms)).field == "license.seq"


# ---------------------------------------------------------------------------------------------
# Step 3: presence and types of the terms (signed correctly, so only step 3 can refuse)


BAD_TERMS = [
    ("format", 2, "license.format"),
    ("format", "1", "license.format"),
    ("format", True, "license.format"),
    ("format", None, "license.format"),
    ("id", "not-a-uuid", "license.id"),
    ("id", "8D4F1C9E-3B9A-4A41-9F0E-2F7B1A6C0D55", "license.id"),
    ("id", "8d4f1c9e3b9a4a419f0e2f7b1a6c0d55", "license.id"),
    ("id", "{8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55}", "license.id"),
    ("id", 12345, "license.id"),
    ("seq", 0, "license.seq"),
    ("seq", -1, "license.seq"),
    ("seq", True, "license.seq"),
    ("seq", "3", "license.seq"),
    ("seq", None, "license.seq"),
    ("type", "trial", "license.type"),
    ("type", "Subscription", "license.type"),
    ("type", 1, "license.type"),
    ("channel", "built-in", "license.channel"),
    ("channel", None, "license.channel"),
    ("reference", 1234, "license.reference"),
    ("reference", ["****7Q2K"], "license.reference"),
    ("product", "", "license.product"),
    ("product", "   ", "license.product"),
    ("product", None, "license.product"),
    ("product", 5, "license.product"),
    ("aku", 0, "license.aku"),
    ("aku", -40, "license.aku"),
    ("aku", True, "license.aku"),
    ("aku", "40", "license.aku"),
    ("aku", None, "license.aku"),
    ("issuedAt", "2026-11-28 10:00:00Z", "license.issuedAt"),
    ("issuedAt", "2026-11-28T10:00:00+00:00", "license.issuedAt"),
    ("issuedAt", "2026-11-28T10:00:00.000Z", "license.issuedAt"),
    ("issuedAt", "2026-11-28T10:00:00z", "license.issuedAt"),
    ("issuedAt", "2026-11-28T10:00Z", "license.issuedAt"),
    ("issuedAt", 1795860000, "license.issuedAt"),
    ("notBefore", "2026-02-30T10:00:00Z", "license.notBefore"),
    ("notBefore", "2026-11-28T24:00:00Z", "license.notBefore"),
    ("notBefore", "２０２６-11-28T10:00:00Z", "license.notBefore"),
    ("notBefore", None, "license.notBefore"),
    ("expiresAt", "2026-12-28", "license.expiresAt"),
    ("expiresAt", "2026-11-28T10:00:00Z", "license.expiresAt"),  # equal to notBefore
    ("expiresAt", "2026-11-01T10:00:00Z", "license.expiresAt"),  # before notBefore
]


@pytest.mark.parametrize("member, value, field", BAD_TERMS, ids=[f"{m}={v!r}" for m, v, _ in BAD_TERMS])
def test_bad_term_is_malformed_key_naming_the_field(member, value, field):
    error = refused("malformed_key", hand_made(terms(**{member: value})))
    assert error.field == field
    assert field in error.details["reason"]  # the precise reason, for support
    assert not JARGON.search(error.message), error.message
    if (member, value) == ("format", 2):
        assert error.message == ("This product key is of a newer format than this environment reads. "
                                 "Update this environment, or ask the vendor for a key of format 1.")
    else:
        assert error.headline == "This product key cannot be used."
        assert error.message.endswith(" is not valid: ask the vendor for a new key.")


@pytest.mark.parametrize("member", list(terms()))
def test_missing_term_is_malformed_key(member):
    error = refused("malformed_key", hand_made(terms(**{member: ...})))
    assert error.field == f"license.{member}"
    assert error.details["reason"] == f"license.{member} is missing"
    assert error.message.endswith(" is missing: ask the vendor for a new key.")
    assert not JARGON.search(error.message), error.message


def test_terms_are_named_in_words():
    error = refused("malformed_key", hand_made(terms(seq=0)))
    assert error.message == "This product key cannot be used. Its key sequence number is not valid: ask the vendor for a new key."
    error = refused("malformed_key", hand_made(install_id="abc"))
    assert error.message == "This product key cannot be used. Its install ID is not valid: ask the vendor for a new key."


@pytest.mark.parametrize(
    "install_id",
    ["F0D3D4E6BF28C50C4C73DC77DE53A6B9", "f0d3d4e6bf28c50c4c73dc77de53a6b", "f0d3d4e6bf28c50c4c73dc77de53a6b90",
     "g0d3d4e6bf28c50c4c73dc77de53a6b9", "f0d3d4e6-bf28-c50c-4c73-dc77de53a6b9", ""],
)
def test_bad_install_id_is_malformed_key(install_id):
    assert refused("malformed_key", hand_made(install_id=install_id)).field == "installId"


@pytest.mark.parametrize("alg", [..., 25519, None])
def test_bad_alg_is_malformed_key(alg):
    assert refused("malformed_key", hand_made(alg=alg)).field == "signature.alg"


# ---------------------------------------------------------------------------------------------
# Steps 4-7: applicability, with a controlled clock


@pytest.fixture(scope="module")
def golden():
    return pk.verify(GOLDEN_KEY, TRUSTED)


def apply(key, now=ISSUED + timedelta(days=1), install_id=INSTALL_ID, running_seq=0, running_id=None):
    return pk.check_applicable(
        key, install_id=install_id, now=now, running_seq=running_seq, running_id=running_id
    )


def applicability_error(code, key, **kwargs) -> ProductKeyError:
    with pytest.raises(ProductKeyError) as info:
        apply(key, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value


def signed(**changes):
    return pk.verify(hand_made(terms(**changes)), TRUSTED)


def test_applicable_over_the_built_in_trial(golden):
    assert apply(golden, running_seq=0, running_id=None) is False


def test_applicable_when_nothing_runs(golden):
    assert apply(golden, running_seq=None, running_id=None) is False


def test_applicable_over_an_older_key(golden):
    assert apply(golden, running_seq=2, running_id="00000000-0000-4000-8000-000000000002") is False


def test_same_id_is_already_active(golden):
    assert apply(golden, running_seq=3, running_id=LICENSE_ID) is True


def test_wrong_install_id(golden):
    error = applicability_error("wrong_install_id", golden, install_id=OTHER_INSTALL_ID)
    assert error.message == (
        f"This key is for another environment. It was issued for install ID {INSTALL_ID}, and this "
        f"environment's install ID is {OTHER_INSTALL_ID} (shown on the Settings page): ask the vendor for a key "
        "issued for it."
    )
    assert error.headline == "This key is for another environment."


def test_wrong_install_id_comes_before_the_clock(golden):
    applicability_error("wrong_install_id", golden, install_id=OTHER_INSTALL_ID, now=EXPIRES + timedelta(days=9))


def test_issued_exactly_5_minutes_ahead_is_accepted(golden):
    assert apply(golden, now=ISSUED - timedelta(minutes=5)) is False


def test_issued_more_than_5_minutes_ahead_is_clock_skew(golden):
    error = applicability_error("clock_skew", golden, now=ISSUED - timedelta(minutes=5, seconds=1))
    # people read the times as every page writes them; the exact ones are in the details
    assert "issued at 2026-11-28 10:00 UTC and the clock says 2026-11-28 09:54 UTC" in error.message
    assert error.details == {"issuedAt": "2026-11-28T10:00:00Z", "now": "2026-11-28T09:54:59Z"}
    assert "clock (NTP)" in error.message


def test_not_before_exactly_5_minutes_ahead_is_accepted():
    key = signed(notBefore="2026-12-01T00:00:00Z")
    assert apply(key, now=datetime(2026, 11, 30, 23, 55, tzinfo=UTC)) is False


def test_not_before_more_than_5_minutes_ahead_is_not_yet_valid():
    key = signed(notBefore="2026-12-01T00:00:00Z")
    error = applicability_error("not_yet_valid", key, now=datetime(2026, 11, 30, 23, 54, 59, tzinfo=UTC))
    assert error.message == ("This key is not valid yet. It is valid from 2026-12-01 00:00 UTC, and this "
                             "environment's clock says 2026-11-30 23:54 UTC: apply it again from 2026-12-01 00:00 UTC.")
    assert error.details["notBefore"] == "2026-12-01T00:00:00Z"


def test_clock_skew_is_checked_before_not_yet_valid():
    key = signed(issuedAt="2026-12-01T00:00:00Z", notBefore="2026-12-01T00:00:00Z")
    applicability_error("clock_skew", key, now=datetime(2026, 11, 30, tzinfo=UTC))


def test_a_second_before_expiry_is_accepted(golden):
    assert apply(golden, now=EXPIRES - timedelta(seconds=1)) is False
    assert apply(golden, now=EXPIRES - timedelta(microseconds=1)) is False


def test_expiring_now_is_key_expired(golden):
    error = applicability_error("key_expired", golden, now=EXPIRES)
    assert error.message == ("This key has expired. It was valid until 2026-12-28 10:00 UTC: renew, then ask the "
                             "vendor for a new key.")
    assert error.headline == "This key has expired." and error.details == {"expiresAt": "2026-12-28T10:00:00Z"}


def test_long_expired_is_key_expired_even_when_already_active(golden):
    applicability_error("key_expired", golden, now=EXPIRES + timedelta(days=400), running_seq=3, running_id=LICENSE_ID)


def test_lower_seq_is_older_key(golden):
    error = applicability_error("older_key", golden, running_seq=4, running_id="00000000-0000-4000-8000-000000000004")
    assert error.message == (
        "This key is older than the running license. It has key sequence 3 and the running license 4, and an "
        "older key can never replace a newer one: apply the newest key the vendor issued for this environment."
    )


def test_same_seq_with_another_id_is_older_key(golden):
    error = applicability_error("older_key", golden, running_seq=3, running_id="00000000-0000-4000-8000-000000000003")
    assert error.headline == "Another key with the same sequence number is already active."
    assert "Both have key sequence 3" in error.message


def test_other_time_zones_are_the_same_instant(golden):
    shanghai = timezone(timedelta(hours=8))
    assert apply(golden, now=(EXPIRES - timedelta(seconds=1)).astimezone(shanghai)) is False
    applicability_error("key_expired", golden, now=EXPIRES.astimezone(shanghai))


def test_naive_now_is_a_programming_error(golden):
    with pytest.raises(ValueError):
        apply(golden, now=datetime(2026, 12, 1))


# ---------------------------------------------------------------------------------------------
# Canonical JSON and signed bytes


def test_canonical_json_sorts_compacts_and_keeps_utf8():
    assert pk.canonical_json({"b": "é", "a": {"z": 1, "y": None}}) == '{"a":{"y":null,"z":1},"b":"é"}'.encode()
    assert pk.canonical_json({"p": "日本語 ✓"}) == b'{"p":"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93"}'
    assert pk.canonical_json({"c": "\n\t\"\\\x01\u2028"}) == b'{"c":"\\n\\t\\"\\\\\\u0001\xe2\x80\xa8"}'


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError):
        pk.canonical_json({"x": float("nan")})


def test_signed_bytes_are_exactly_the_format():
    expected = (
        b'product-key/1\n{"installId":"f0d3d4e6bf28c50c4c73dc77de53a6b9","kid":"example-2026-11",'
        b'"license":{"aku":40,"channel":"alibaba-marketplace","expiresAt":"2026-12-28T10:00:00Z",'
        b'"format":1,"id":"8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55","issuedAt":"2026-11-28T10:00:00Z",'
        b'"notBefore":"2026-11-28T10:00:00Z","product":"AutoMQ for Kafka ( BYOC Monthly Subscription '
        b'License )","reference":"****7Q2K","seq":3,"type":"subscription"}}'
    )
    assert pk.signed_bytes(INSTALL_ID, KID, terms()) == expected
    KEY.public_key().verify(base64.b64decode(GOLDEN_SIGNATURE), expected)


def test_non_ascii_product_is_signed_as_utf8():
    product = "AutoMQ 卡夫卡 ( BYOC 月度订阅 ) — édition"
    text = pk.sign(INSTALL_ID, terms(product=product), KID, KEY)
    body = base64.b64decode(text)
    assert product.encode("utf-8") in body  # the key itself holds UTF-8, not \u escapes
    key = pk.verify(text, TRUSTED)
    assert key.license.product == product
    message = pk.signed_bytes(INSTALL_ID, KID, terms(product=product))
    assert product.encode("utf-8") in message and b"\\u" not in message
    KEY.public_key().verify(key.signature, by_hand_signed(INSTALL_ID, KID, terms(product=product)))
    # A key written with \u escapes carries the same terms, and so the same signature.
    escaped = hand_made(terms(product=product), dumps=lambda o: json.dumps(o, ensure_ascii=True))
    assert pk.verify(escaped, TRUSTED).license.product == product


# ---------------------------------------------------------------------------------------------
# sign(): never makes a key that would be refused


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"install_id": "F0D3D4E6BF28C50C4C73DC77DE53A6B9"}, "install_id"),
        ({"install_id": "abc"}, "install_id"),
        ({"kid": ""}, "kid"),
        ({"kid": " padded "}, "kid"),
        ({"license": terms(aku=0)}, "license.aku"),
        ({"license": terms(seq=True)}, "license.seq"),
        ({"license": terms(expiresAt=...)}, "license.expiresAt"),
        ({"license": terms(ratio=0.5)}, "integers only"),
        ({"license": terms(big=2**60)}, "too large"),
        ({"license": terms(x="\ud800")}, "Unicode"),
    ],
)
def test_sign_refuses_what_an_environment_would_refuse(kwargs, match):
    args = {"install_id": INSTALL_ID, "license": terms(), "kid": KID, "private_key": KEY, **kwargs}
    with pytest.raises(ValueError, match=match):
        pk.sign(**args)


def test_sign_needs_an_ed25519_private_key():
    with pytest.raises(TypeError):
        pk.sign(INSTALL_ID, terms(), KID, KEY.public_key())
    with pytest.raises(TypeError):
        pk.sign(INSTALL_ID, terms(), KID, ec.generate_private_key(ec.SECP256R1()))


def test_sign_refuses_a_key_over_the_size_limit():
    with pytest.raises(ValueError, match="16384"):
        pk.sign(INSTALL_ID, terms(notes="x" * 13_000), KID, KEY)


# ---------------------------------------------------------------------------------------------
# The License and ProductKey values


def test_license_is_frozen_hashable_and_validated():
    lic = example_license()
    assert hash(lic) == hash(example_license())
    with pytest.raises(dataclasses.FrozenInstanceError):
        lic.aku = 400  # type: ignore[misc]
    with pytest.raises(ValueError, match="license.seq"):
        dataclasses.replace(lic, seq=0)
    with pytest.raises(ValueError, match="license.aku"):
        dataclasses.replace(lic, aku=True)
    with pytest.raises(ValueError, match="time zone"):
        dataclasses.replace(lic, issued_at=datetime(2026, 11, 28, 10))
    with pytest.raises(ValueError, match="known member"):
        dataclasses.replace(lic, extra={"aku": 5})


def test_license_times_are_utc_whole_seconds():
    shanghai = timezone(timedelta(hours=8))
    lic = dataclasses.replace(
        example_license(), issued_at=datetime(2026, 11, 28, 18, 0, 0, 999_999, tzinfo=shanghai)
    )
    assert lic.issued_at == ISSUED and lic.issued_at.tzinfo == UTC
    assert lic.to_json()["issuedAt"] == "2026-11-28T10:00:00Z"


def test_product_key_to_json_is_the_envelope(golden):
    assert golden.to_json() == json.loads(base64.b64decode(GOLDEN_KEY))
    assert not golden.is_dev


def test_product_key_error_carries_code_and_message():
    error = ProductKeyError("older_key", "This key is older.", field="license.seq")
    assert (error.code, error.message, str(error), error.field) == ("older_key", "This key is older.", "This key is older.", "license.seq")
    with pytest.raises(ValueError):
        ProductKeyError("no_such_code", "x")
    assert error.headline is None
    error = ProductKeyError("older_key", "This key is older. Apply the newest.", headline="This key is older.")
    assert error.headline == "This key is older."
    with pytest.raises(ValueError):  # the headline is the start of the message
        ProductKeyError("older_key", "This key is older.", headline="Another headline.")


def test_times_in_messages_are_written_as_the_pages_write_them():
    from webapp.timefmt import for_people

    for moment in (datetime(2026, 12, 28, 10, 0, 59, tzinfo=UTC), datetime(2027, 1, 1, 7, 30, tzinfo=timezone(timedelta(hours=8)))):
        assert pk.time_for_people(moment) == for_people(moment)
    assert set(pk.ERROR_CODES) == {
        "malformed_key", "signature_invalid", "wrong_install_id", "clock_skew",
        "not_yet_valid", "key_expired", "older_key",
    }


# ---------------------------------------------------------------------------------------------
# Times


def test_time_round_trip():
    assert pk.format_time(ISSUED) == "2026-11-28T10:00:00Z"
    assert pk.parse_time("2026-11-28T10:00:00Z") == ISSUED
    assert pk.parse_time("2026-11-28T10:00:00Z").tzinfo == UTC
    assert pk.format_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
    assert pk.format_time(datetime(2026, 11, 28, 18, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=8)))) == "2026-11-28T10:00:00Z"


@pytest.mark.parametrize(
    "text",
    ["2026-11-28T10:00:00", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:00.5Z", "2026-11-28t10:00:00Z",
     "2026-13-01T00:00:00Z", "2026-11-28T10:00:60Z", "0000-01-01T00:00:00Z", " 2026-11-28T10:00:00Z",
     "2026-11-28T10:00:00Z\n", "２０２６-11-28T10:00:00Z", "", None, 1795860000],
)
def test_parse_time_is_strict(text):
    with pytest.raises(ValueError):
        pk.parse_time(text)


def test_format_time_refuses_naive():
    with pytest.raises(ValueError):
        pk.format_time(datetime(2026, 11, 28, 10))


# ---------------------------------------------------------------------------------------------
# Trust


def test_public_keys_round_trip_through_pem():
    pem = pk.public_key_pem(KEY.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    keys = pk.load_public_keys({KID: pem, "other": pk.public_key_pem(OTHER_KEY.public_key()).encode()})
    assert pk.verify(GOLDEN_KEY, keys).kid == KID
    assert set(keys) == {KID, "other"}


def test_load_public_keys_refuses_other_key_types():
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ValueError, match=r"'legacy' is an RSA key.*Ed25519 only"):
        pk.load_public_keys({"legacy": rsa_pem})
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ValueError, match="ECDSA"):
        pk.load_public_keys({"ec": ec_pem})


@pytest.mark.parametrize(
    "mapping",
    [
        {"k": "not a pem"},
        {"k": 5},
        {"": pk.public_key_pem(KEY.public_key())},
        {"k": KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()},
        ["k"],
    ],
)
def test_load_public_keys_refuses_garbage(mapping):
    with pytest.raises(ValueError):
        pk.load_public_keys(mapping)


def test_public_key_pem_needs_a_public_key():
    with pytest.raises(TypeError):
        pk.public_key_pem(KEY)


def test_dev_kids():
    assert pk.is_dev_kid("dev-2026-11-28-ab12")
    assert not pk.is_dev_kid("2026-11-a")
    assert not pk.is_dev_kid("DEV-x")
    assert not pk.is_dev_kid("my-dev-key")
    assert not pk.is_dev_kid(None)
    assert pk.verify(hand_made(kid="dev-1"), {"dev-1": KEY.public_key()}).is_dev


# ---------------------------------------------------------------------------------------------
# Properties


PROPERTY = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
GOLDEN_TERMS = (INSTALL_ID, pk.verify(GOLDEN_KEY, TRUSTED).license, KID)


@PROPERTY
@given(
    position=st.integers(min_value=0, max_value=len(GOLDEN_KEY) - 1),
    char=st.one_of(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n"),
        st.characters(),
    ),
)
def test_any_single_character_mutation_is_refused_or_the_same_terms(position, char):
    mutated = GOLDEN_KEY[:position] + char + GOLDEN_KEY[position + 1 :]
    try:
        key = pk.verify(mutated, TRUSTED)
    except ProductKeyError as error:
        assert error.code in {"malformed_key", "signature_invalid"}
        return
    assert (key.install_id, key.license, key.kid) == GOLDEN_TERMS


@PROPERTY
@given(st.one_of(st.text(), st.binary().map(b64), st.binary()))
def test_arbitrary_input_is_refused_cleanly(text):
    with pytest.raises(ProductKeyError) as info:
        pk.verify(text, TRUSTED)
    assert info.value.code in {"malformed_key", "signature_invalid"}


# Member names stay within U+FFFF (beyond it Python's and RFC 8785's member order differ: refused).
member_names = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(member_names, inner, max_size=3),
    max_leaves=8,
)


@PROPERTY
@given(
    seq=st.integers(1, 2**53 - 1),
    aku=st.integers(1, 2**53 - 1),
    product=st.text(min_size=1).filter(str.strip),
    reference=st.none() | st.text(),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    days=st.integers(1, 3650),
    extra=st.dictionaries(member_names.filter(lambda n: n not in terms()), json_values, max_size=3),
)
def test_any_valid_terms_round_trip(seq, aku, product, reference, start, days, extra):
    lic = License(
        id=LICENSE_ID, seq=seq, type="subscription", channel="offline-contract", reference=reference,
        product=product, aku=aku, issued_at=start, not_before=start,
        expires_at=start + timedelta(days=days), extra=extra,
    )
    text = pk.sign(INSTALL_ID, lic, KID, KEY)
    assert text.startswith("eyJpbnN0YWxsSWQiOi")
    key = pk.verify(text, TRUSTED)
    assert key.license == lic
    # What the codec signed is what the format says, computed independently.
    KEY.public_key().verify(key.signature, by_hand_signed(INSTALL_ID, KID, lic.to_json()))


# ---------------------------------------------------------------------------------------------
# Another language: the Node.js verifier printed in docs/product-key.md


@pytest.fixture(scope="module")
def node_verifier(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the docs' Node.js verifier is not exercised")
    docs = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- node-verifier -->\s*```js\n(.*?)\n```", docs, re.S)
    assert block, "docs/product-key.md lost its Node.js verifier"
    folder = tmp_path_factory.mktemp("node")
    (folder / "verify.mjs").write_text(block.group(1), encoding="utf-8")
    (folder / "run.mjs").write_text(
        'import { verifyProductKey } from "./verify.mjs";\n'
        "const [key, pems] = [process.argv[2], JSON.parse(process.argv[3])];\n"
        "try { console.log(JSON.stringify(verifyProductKey(key, pems))); }\n"
        'catch (e) { console.log(JSON.stringify({ refused: e.message })); }\n',
        encoding="utf-8",
    )

    def run(text: str, trusted: dict[str, str]) -> dict:
        out = subprocess.run(
            [node, str(folder / "run.mjs"), text, json.dumps(trusted)],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return json.loads(out.stdout)

    return run


def test_node_verifier_accepts_our_keys(node_verifier):
    pems = {KID: pk.public_key_pem(KEY.public_key())}
    assert node_verifier(GOLDEN_KEY, pems) == {"installId": INSTALL_ID, "kid": KID, "license": terms()}
    tricky = terms(
        product="AutoMQ 卡夫卡 \U0001F680 \u2028 \x01 \x7f \"q\" \\ </script>",
        reference=None,
        aku=2**53 - 1,
        extras={"b": [1, True, None, "x"], "a": -5, "é": {"Z": 2, "z": "\uffff"}},
    )
    text = pk.sign(INSTALL_ID, tricky, KID, KEY)
    assert node_verifier(text, pems) == {"installId": INSTALL_ID, "kid": KID, "license": tricky}


def test_node_verifier_refuses_what_we_refuse(node_verifier):
    pems = {KID: pk.public_key_pem(KEY.public_key())}
    tampered = hand_made(terms(aku=400), signed_license=terms())
    assert node_verifier(tampered, pems) == {"refused": "signature_invalid"}
    assert "unknown kid" in node_verifier(hand_made(kid="2031-05-z"), pems)["refused"]


# ---------------------------------------------------------------------------------------------
# docs/product-key.md, "What people read": every message quoted there is the codec's own


def _real_refusals() -> list[ProductKeyError]:
    """One refusal of every kind the codec makes (each headline, each way a message goes on), with
    the reasons the page quotes."""
    found = []

    def catch(call, *args, **kwargs):
        with pytest.raises(ProductKeyError) as info:
            call(*args, **kwargs)
        found.append(info.value)

    for text in ("A" * 20000, " \n ", ["k"], "not a key!", b64("[1]"), "DEMO-AKU20-READY-7K3Q",
                 b64(b'{"installId":"\xff"}'), b64('{"installId":"x","license":{}}'),
                 b64('{"installId":"x","license":{"aku":1,"aku":2}}'),
                 hand_made(kid="another-vendor-key"), hand_made(signature="abc"),
                 hand_made(signed_license=terms(aku=4000)), hand_made(terms(seq=0)), hand_made(terms(seq=...)),
                 hand_made(terms(notBefore="2026-12-28T10:00:00Z")), hand_made(terms(format=2))):
        catch(pk.verify, text, TRUSTED)
    golden = pk.verify(GOLDEN_KEY, TRUSTED)
    later = pk.verify(hand_made(terms(notBefore="2026-12-01T00:00:00Z")), TRUSTED)
    day = ISSUED + timedelta(days=1)
    for key, now, install_id, running_seq, running_id in (
        (golden, day, OTHER_INSTALL_ID, 0, None),
        (golden, ISSUED - timedelta(hours=1), INSTALL_ID, 0, None),
        (later, day, INSTALL_ID, 0, None),
        (golden, EXPIRES, INSTALL_ID, 0, None),
        (golden, day, INSTALL_ID, 4, "another-id"),
        (golden, day, INSTALL_ID, 3, "another-id"),
    ):
        catch(pk.check_applicable, key, install_id=install_id, now=now, running_seq=running_seq,
              running_id=running_id)
    return found


def _documented_messages() -> list[tuple[str, str, str, list[str]]]:
    """(error code, headline, the rest with … for the key's values, reasons) of each row."""
    docs = DOCS.read_text(encoding="utf-8")
    section = docs[docs.index("### What people read"):]
    table = section[section.index("\n| error code |") + 1:].split("\n\n")[0].splitlines()[2:]
    rows = []
    for line in table:
        code, _when, headline, rest, reasons = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append((code.strip("`"), headline, rest, re.findall(r"`([^`]+)`", reasons)))
    return rows


def _pattern(quoted: str) -> re.Pattern:
    return re.compile(".+?".join(re.escape(part) for part in quoted.split("…")))


def test_docs_quote_every_refusal_as_the_codec_writes_it():
    real = _real_refusals()
    documented = _documented_messages()
    assert len(documented) >= 15
    for code, headline, rest, reasons in documented:
        same = [e for e in real if e.code == code and e.headline == headline]
        assert same, f"the codec has no {code} with the headline {headline!r}"
        assert any(_pattern(rest).fullmatch(e.message[len(headline) + 1:]) for e in same), (
            f"{code}: no message goes on as documented: {rest!r}; the codec's: "
            f"{[e.message[len(headline) + 1:] for e in same]}")
        for reason in reasons:
            assert any(_pattern(reason).fullmatch(str(e.details.get("reason"))) for e in same), (
                f"{code}: {reason!r} is not a reason the codec gives; it gives "
                f"{sorted({str(e.details.get('reason')) for e in same})}")
    for e in real:
        assert e.headline and e.message.startswith(e.headline + " ")
        assert any(code == e.code and headline == e.headline and _pattern(rest).fullmatch(e.message[len(headline) + 1:])
                   for code, headline, rest, _ in documented), f"docs/product-key.md misses {e.code}: {e.message!r}"
        if e.code in ("malformed_key", "signature_invalid"):
            assert e.details.get("reason"), e.message


def test_docs_name_every_headline_in_the_codec():
    """A headline written into the codec later is in the page's table too."""
    import ast

    source = Path(pk.__file__).read_text(encoding="utf-8")
    headlines = set()

    def unmarked(arg):  # N_("...") marks a headline for the catalogue (issue 13)
        if isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "N_" and arg.args:
            return arg.args[0]
        return arg

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_error" and len(node.args) >= 2:
            arg = unmarked(node.args[1])
            if isinstance(arg, ast.Constant):
                headlines.add(arg.value)
            elif isinstance(arg, ast.Name) and isinstance(getattr(pk, arg.id, None), str):
                headlines.add(getattr(pk, arg.id))
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["headline"] \
                and isinstance(unmarked(node.value), ast.Constant):
            headlines.add(unmarked(node.value).value)
    assert len(headlines) >= 12
    assert headlines == {headline for _, headline, _, _ in _documented_messages()}
