"""What the environment's pages say about refusals and the history (webapp/environment/wording.py), pure."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from webapp import product_key
from webapp.environment import wording
from webapp.redeem_interface import RedeemError


def test_a_refused_key_shows_its_headline_then_the_rest():
    try:
        product_key.decode("hello, this is not a key")
    except product_key.ProductKeyError as exc:
        error = exc
    headline, rest = wording.error_parts(error)
    assert headline == "This is not a product key."
    assert rest.startswith("A product key is a long text that starts with eyJpbnN0YWxsSWQiOi")
    assert f"{headline} {rest}" == error.message  # nothing lost, nothing said twice


def test_an_error_without_a_headline_is_shown_alone_or_under_the_boxs_own():
    error = product_key.ProductKeyError("signature_invalid", "This key was signed with a development key (dev-1).")
    assert wording.error_parts(error) == (None, "This key was signed with a development key (dev-1).")
    refused = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    assert wording.error_parts(refused) == (None, "This authorization code expired on 2026-10-01.")
    assert wording.error_parts(refused, "Check for renewal failed.") == (
        "Check for renewal failed.", "This authorization code expired on 2026-10-01.")


@pytest.mark.parametrize("code", product_key.ERROR_CODES)
def test_every_key_refusal_has_words_in_the_history(code):
    reason = wording.refusal_reason(code)
    assert reason and "_" not in reason and reason != wording.refusal_reason("no_such_code")


def test_refusal_reasons_are_words_never_codes():
    assert wording.refusal_reason("older_key") == "older than the running key"
    assert wording.refusal_reason("code_expired") == "authorization code expired"
    assert wording.refusal_reason("a_code_from_a_newer_vendor") == "refused by the vendor"
    assert wording.refusal_reason(None) == "refused by the vendor"
    assert all("_" not in words for words in wording.REFUSAL_REASONS.values())


def test_the_words_are_the_ones_the_vendor_shows_too():
    from webapp import wording as shared

    # One place (webapp/wording.py) for the words both sides show: the history here, the audit log there.
    assert wording.REFUSAL_REASONS is shared.REFUSAL_REASONS and wording.SOURCES is shared.ACTIVATION_SOURCES


def test_a_rate_limit_is_a_wait_with_a_calm_headline():
    waits = [RedeemError("rate_limited", "Too many redemption attempts ...", 429, retry_after=60),
             RedeemError("marketplace_throttled", "The marketplace is rate limiting requests.", 429),
             RedeemError("a_newer_vendors_limit", "Slow down.", 429)]
    for error in waits:
        assert wording.is_wait(error) and wording.renewal_check_headline(error) == "Too many checks just now."
    refused = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    assert not wording.is_wait(refused) and wording.renewal_check_headline(refused) == "Check for renewal failed."
    key = product_key.ProductKeyError("key_expired", "This key has expired.")
    assert not wording.is_wait(key) and wording.renewal_check_headline(key) == "Check for renewal failed."


def _row(**kw):
    return SimpleNamespace(**{"key_seq": None, "key_aku": None, "key_expires_at": None, "key_reference": None,
                              "source": "product_key", **kw})


def test_history_key_cell_has_no_stray_separator():
    assert wording.history_key(_row()) == []
    assert wording.history_key(_row(key_aku=40)) == ["40 AKU"]  # no sequence: nothing before it
    assert wording.history_key(_row(key_expires_at=datetime(2026, 12, 1, 9, tzinfo=timezone.utc))) == [
        "until 2026-12-01 09:00 UTC"]
    assert wording.history_key(_row(key_reference="C-2026-1")) == ["reference C-2026-1"]
    assert wording.history_key(_row(key_seq=4, key_aku=40, key_expires_at=datetime(2026, 12, 1, 9),
                                    key_reference="****7Q2K")) == [
        "key sequence 4", "40 AKU", "until 2026-12-01 09:00 UTC", "reference ****7Q2K"]  # SQLite's naive UTC too
    # a redemption refused before any key came back names the authorization code
    assert wording.history_key(_row(source="redeem", key_reference="****7Q2K")) == ["authorization code ****7Q2K"]
    assert wording.history_key(_row(source="renewal_check", key_reference="****7Q2K")) == [
        "authorization code ****7Q2K"]
    assert wording.history_key(_row(source="redeem", key_seq=2, key_reference="****7Q2K")) == [
        "key sequence 2", "reference ****7Q2K"]
