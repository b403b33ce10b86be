"""The pure parts: MARKETPLACE_SPECS, step 1's refusals, change classification, error mapping."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from marketplace_adapter import errors as me
from webapp.vendor_side.rules import (
    IssueError,
    check_license,
    classify,
    from_marketplace_error,
    normalize_code,
    normalize_install_id,
)
from webapp.vendor_side.specs import Spec, SpecsError, find_spec, parse_specs

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
SPECS = {"pro-20": Spec("pro-20", 20, "Pro 20"), "cmgj0001-prepay": Spec("cmgj0001-prepay", 40, None)}


@dataclass
class Lic:
    status: str = "INACTIVATED"
    product_code: str = "cmgj0001"
    specification: str | None = "pro-20"
    sku_id: str | None = "cmgj0001-prepay"
    expires_at: datetime | None = NOW + timedelta(days=30)
    product_name: str | None = "Market name"
    order_ids: list = field(default_factory=list)


def check(lic, specs=SPECS):
    return check_license(lic, product_code="cmgj0001", specs=specs, default_product="Configured", now=NOW)


# ---- MARKETPLACE_SPECS


def test_specs_from_json_text_file_and_mapping(tmp_path):
    text = '{"pro-20": {"aku": 20, "name": "Pro 20"}, "lite": 5}'
    assert parse_specs(text) == {"pro-20": Spec("pro-20", 20, "Pro 20"), "lite": Spec("lite", 5, None)}
    path = tmp_path / "specs.json"
    path.write_text(text)
    assert parse_specs(str(path)) == parse_specs(text)
    assert parse_specs({"x": {"aku": 1}}) == {"x": Spec("x", 1, None)}
    assert parse_specs(None) == {} and parse_specs("  ") == {}


@pytest.mark.parametrize("bad, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"a": {"aku": 0}}', "positive integer"),
    ('{"a": {"aku": true}}', "positive integer"),
    ('{"a": {"aku": 2.5}}', "positive integer"),
    ('{"a": {"aku": 2, "name": ""}}', "name must be non-empty"),
    ('{"a": "twenty"}', "must be"),
    ("/nonexistent/specs.json", "cannot read the file"),
])
def test_bad_specs_name_what_to_fix(bad, words):
    with pytest.raises(SpecsError, match=words):
        parse_specs(bad)


def test_spec_found_by_package_version_then_sku():
    assert find_spec(SPECS, Lic()).key == "pro-20"
    assert find_spec(SPECS, Lic(specification=None)).key == "cmgj0001-prepay"
    assert find_spec(SPECS, Lic(specification="other", sku_id="other-sku")) is None


# ---- step 1's refusals


@pytest.mark.parametrize("lic, code", [
    (Lic(status="EXPIRED"), "code_expired"),
    (Lic(status="DISCARD"), "code_discarded"),
    (Lic(status="SOMETHING"), "code_invalid"),
    (Lic(product_code="cmgj9999"), "code_wrong_product"),
    (Lic(specification="enterprise", sku_id="x"), "unknown_specification"),
    (Lic(expires_at=None), "code_invalid"),
    (Lic(expires_at=NOW), "code_expired"),
    (Lic(expires_at=NOW - timedelta(seconds=1)), "code_expired"),
])
def test_refusals(lic, code):
    with pytest.raises(IssueError) as caught:
        check(lic)
    assert caught.value.code == code and caught.value.http_status == 422
    assert caught.value.message.endswith(".")


def test_status_is_checked_before_product():
    with pytest.raises(IssueError) as caught:
        check(Lic(status="DISCARD", product_code="other"))
    assert caught.value.code == "code_discarded"


@pytest.mark.parametrize("status", ["ACTIVATED", "INACTIVATED"])
def test_live_codes_give_terms(status):
    terms = check(Lic(status=status, expires_at=NOW + timedelta(days=3, microseconds=5)))
    assert (terms.aku, terms.product, terms.spec.key) == (20, "Pro 20", "pro-20")
    assert terms.expires_at == NOW + timedelta(days=3)


def test_product_name_falls_back_to_market_then_configured():
    assert check(Lic(specification=None)).product == "Market name"
    assert check(Lic(specification=None, product_name=None)).product == "Configured"


def test_input_normalization():
    assert normalize_install_id("  0123456789ABCDEF0123456789abcdef ") == "0123456789abcdef0123456789abcdef"
    for bad in ("", "xyz", "0123456789abcdef0123456789abcde", "g" * 32):
        with pytest.raises(IssueError) as caught:
            normalize_install_id(bad)
        assert caught.value.code == "invalid_install_id" and "Settings page" in caught.value.message
    assert normalize_code("  ABC-1 ") == "ABC-1"
    # A code wrapped by a mail or pasted with a space reads as the code (authorization_code's rule).
    assert normalize_code("ABC-\n1") == normalize_code("ABC- 1") == "ABC-1"
    for bad in ("", "   ", "x" * 300, "bell\x07", "nul\x00"):
        with pytest.raises(IssueError) as caught:
            normalize_code(bad)
        assert caught.value.code == "code_invalid" and "Purchased Services" in caught.value.message


def test_both_sides_read_an_authorization_code_by_one_rule():
    """The vendor's forms and the environment's Settings page accept and refuse the same codes;
    each says it in its own words."""
    from webapp import authorization_code
    from webapp.environment.online import normalize_code as environment_reads
    from webapp.redeem_interface import RedeemError

    samples = ["ABC-1", " ABC-1\n", "A B C", "x" * 256, "x" * 257, "", " ", "bell\x07", "\u4e2d\u6587-1", 7, None]
    for sample in samples:
        outcomes = []
        for read in (normalize_code, environment_reads):
            try:
                outcomes.append(read(sample))
            except RedeemError as exc:  # IssueError is a RedeemError
                outcomes.append(exc.code)
        assert outcomes[0] == outcomes[1], sample
        try:
            assert outcomes[0] == authorization_code.normalize(sample)
        except authorization_code.CodeInvalid:
            assert outcomes[0] == "code_invalid"
    assert authorization_code.mask(" abcdef1234 ") == "****1234" and authorization_code.mask(None) == ""


# ---- classification


@dataclass
class Key:
    aku: int = 20
    expires_at: datetime = NOW + timedelta(days=30)
    product: str = "Pro 20"
    binding_id: int | None = 7


def terms(aku=20, days=30, product="Pro 20"):
    return check(Lic(expires_at=NOW + timedelta(days=days), specification="pro-20")).__class__(
        aku=aku, expires_at=NOW + timedelta(days=days), product=product, spec=SPECS["pro-20"])


@pytest.mark.parametrize("current, new, binding_id, expected", [
    (None, terms(), 7, "new"),
    (Key(binding_id=3), terms(), 7, "new"),
    (Key(), terms(), None, "new"),
    (Key(), terms(), 7, "unchanged"),
    (Key(), terms(days=60), 7, "renewal"),
    (Key(), terms(aku=40), 7, "spec_change"),
    (Key(), terms(aku=40, days=60), 7, "renewal_and_spec_change"),
    (Key(), terms(days=10), 7, "change"),
    (Key(), terms(product="Renamed"), 7, "change"),
])
def test_classify(current, new, binding_id, expected):
    assert classify(current, new, binding_id) == expected


# ---- marketplace errors


@pytest.mark.parametrize("exc, code, status", [
    (me.CodeNotFound("x"), "code_not_found", 404),
    (me.CodeInvalid("x"), "code_invalid", 422),
    (me.CodeExpired("x"), "code_expired", 422),
    (me.CodeDiscarded("x"), "code_discarded", 422),
    (me.CodeNotForThisSeller("x"), "code_other_seller", 422),
    (me.CredentialsRejected("x", request_id="R1"), "marketplace_credentials", 502),
    (me.Throttled("x", retry_after=2.2), "marketplace_throttled", 429),
    (me.MarketplaceUnavailable("x"), "marketplace_unavailable", 503),
    (me.BadResponse("x"), "marketplace_unavailable", 503),
    (me.MarketplaceError("x"), "marketplace_error", 502),
])
def test_marketplace_errors_map_to_api_codes(exc, code, status):
    mapped = from_marketplace_error(exc)
    assert (mapped.code, mapped.http_status) == (code, status)
    assert "Nothing was changed" in mapped.message or status in (404, 422)


def test_throttling_carries_retry_after():
    assert from_marketplace_error(me.Throttled("x", retry_after=2.2)).retry_after == 3
    assert from_marketplace_error(me.Throttled("x")).retry_after == 5


def test_credentials_message_has_the_request_id():
    assert "R1" in from_marketplace_error(me.CredentialsRejected("x", request_id="R1")).message


def test_issue_error_is_a_redeem_error():
    from webapp.redeem_interface import RedeemError

    assert issubclass(IssueError, RedeemError)
    json.dumps({"code": IssueError("a", "b", 409).code})
