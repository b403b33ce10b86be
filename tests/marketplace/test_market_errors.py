"""The error table, masking and redaction; the backoff arithmetic."""

from __future__ import annotations

import random

import pytest

import marketplace_adapter
from marketplace_adapter import errors
from marketplace_adapter.retry import RetryPolicy, parse_retry_after

# Every code the reference documents, and the class it must raise.
DOCUMENTED = {
    "License.NotFound": errors.CodeNotFound,
    "License.Invalid": errors.CodeInvalid,
    "License.Expired": errors.CodeExpired,
    "License.Discard": errors.CodeDiscarded,
    "Auth.Match": errors.CodeNotForThisSeller,
    "Auth.ISV.Error": errors.CredentialsRejected,
    "Auth.ISV": errors.CredentialsRejected,
    "Auth.SubAccount.Error": errors.CredentialsRejected,
    "Auth.CallerType": errors.CredentialsRejected,
    "Auth.Authorized": errors.CredentialsRejected,
    "InvalidAccessKeyId.NotFound": errors.CredentialsRejected,
    "InvalidAccessKeyId.Inactive": errors.CredentialsRejected,
    "SignatureDoesNotMatch": errors.CredentialsRejected,
    "InvalidTimeStamp.Expired": errors.CredentialsRejected,
    "SignatureNonceUsed": errors.CredentialsRejected,
    "Throttling": errors.Throttled,
    "Throttling.User": errors.Throttled,
    "Service.Flow.Control": errors.Throttled,
    "InternalError": errors.MarketplaceUnavailable,
    "ServiceUnavailable": errors.MarketplaceUnavailable,
}


def test_public_imports():
    from marketplace_adapter import License, MarketplaceClient  # noqa: F401

    assert marketplace_adapter.errors is errors
    for name in ("MarketplaceError", "CodeNotFound", "CodeInvalid", "CodeExpired",
                 "CodeDiscarded", "CodeNotForThisSeller", "CredentialsRejected", "Throttled",
                 "MarketplaceUnavailable", "BadResponse", "mask_code"):
        assert hasattr(errors, name)


@pytest.mark.parametrize(("code", "cls"), sorted(DOCUMENTED.items()))
def test_every_documented_code_maps_to_its_class(code, cls):
    assert errors.ERROR_CODES[code].cls is cls
    assert errors.error_for_code(code, 400).cls is cls


def test_every_class_is_a_marketplace_error_with_advice():
    for kind in errors.ERROR_CODES.values():
        assert issubclass(kind.cls, errors.MarketplaceError)
        error = kind.cls("m", advice=kind.advice)
        assert error.advice and error.advice.strip().endswith(".")


@pytest.mark.parametrize(
    ("status", "cls"),
    [(500, errors.MarketplaceUnavailable), (502, errors.MarketplaceUnavailable),
     (429, errors.Throttled), (403, errors.CredentialsRejected), (401, errors.CredentialsRejected),
     (400, errors.MarketplaceError), (None, errors.MarketplaceError)],
)
def test_unknown_codes_fall_back_on_the_status(status, cls):
    assert errors.error_for_code("Something.New", status).cls is cls


def test_error_carries_the_marketplace_details():
    error = errors.CodeNotFound("DescribeLicense: not found", code="License.NotFound",
                                request_id="RID-1", http_status=400)
    assert (error.code, error.request_id, error.http_status) == ("License.NotFound", "RID-1", 400)
    assert str(error) == ("DescribeLicense: not found (code License.NotFound, HTTP 400, "
                          "request id RID-1)")
    assert "buyer console" in error.advice
    assert "RID-1" in repr(error)


def test_throttled_has_retry_after():
    assert errors.Throttled("slow down", retry_after=1.5).retry_after == 1.5
    assert errors.Throttled("slow down").retry_after is None


@pytest.mark.parametrize(
    ("code", "masked"),
    [("ABCDEFGH1234", "****1234"), ("ABCDE", "****BCDE"), ("ABCD", "****"), ("", "****"),
     (None, "****")],
)
def test_mask_code(code, masked):
    assert errors.mask_code(code) == masked
    assert marketplace_adapter.mask_code(code) == masked


def test_redact_plain_encoded_and_twice_encoded():
    code = "a b/c+SECRET中1234"
    once = "a%20b%2Fc%2BSECRET%E4%B8%AD1234"
    twice = "a%2520b%252Fc%252BSECRET%25E4%25B8%25AD1234"
    text = f"x {code} y {once} z {twice} and the key s3cr3t-value"
    cleaned = errors.redact(text, codes=[code], secrets=["s3cr3t-value", None])
    assert "SECRET" not in cleaned and "s3cr3t" not in cleaned
    assert cleaned == "x ****1234 y ****1234 z ****1234 and the key ****"


# ------------------------------------------------------------- backoff arithmetic


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(max_attempts=10, deadline=100, base_delay=0.25, max_delay=2.0)
    rng = random.Random(1)
    for retry in range(1, 9):
        ceiling = min(2.0, 0.25 * 2 ** (retry - 1))
        waits = {policy.backoff(retry, rng) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered


def test_retry_after_is_a_floor():
    policy = RetryPolicy(base_delay=0.25, max_delay=5.0)
    assert policy.delay(1, retry_after=3.0, rng=random.Random(1)) == 3.0
    assert policy.delay(1, retry_after=0.01, rng=random.Random(1)) >= 0.125


def test_allows_respects_attempts_and_deadline():
    policy = RetryPolicy(max_attempts=3, deadline=10)
    assert policy.allows(1, 0, 1)
    assert not policy.allows(3, 0, 1)
    assert not policy.allows(1, 9.5, 0.5)
    assert policy.allows(2, 9.0, 0.5)


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"deadline": 0}])
def test_policy_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**bad)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1500", 1.5), ("0", None), ("-3", None), ("", None), (None, None), ("soon", None),
     ("250.0", 0.25), ("nan", None)],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds
