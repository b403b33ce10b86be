"""The simulator in-process: the real client (signing, retries, parsing) through the WSGI
transport adapter, on a fake clock. Gateway checks, both dead-code styles, activation rules, the
Python and HTTP control interfaces, injected faults, thread safety, the codes file."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import requests

from marketplace_adapter import License, errors, signing
from marketplace_adapter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_PRODUCT_CODE,
    DEMO_SPECS,
    INPROCESS_ENDPOINT,
    OTHER_SELLER,
    Simulator,
    demo_codes,
    inprocess_client,
    inprocess_session,
    load_codes_file,
)

from .conftest import NOW

READY = "DEMO-AKU20-READY-7K3Q"
READY_40 = "DEMO-AKU40-READY-9M2X"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
SOON = "DEMO-AKU40-SOON-2F6W"
EXPIRED = "DEMO-EXPIRED-5R1N"
EXPIRED_ERR = "DEMO-EXPIRED-ERR-8C4J"
DISCARDED = "DEMO-DISCARD-3H7Z"
OTHER = "DEMO-OTHERSELLER-6B9D"
WRONG_PRODUCT = "DEMO-WRONGPRODUCT-1V5S"
UNKNOWN_SPEC = "DEMO-UNKNOWNSPEC-4L2G"
INVALID = "DEMO-INVALID-7P3E"


# ------------------------------------------------------------- demo codes, both signatures

DESCRIBE_OUTCOMES = {
    READY: ("INACTIVATED", "aku-20", True),
    READY_40: ("INACTIVATED", "aku-40", True),
    ACTIVE: ("ACTIVATED", "aku-20", True),
    SOON: ("INACTIVATED", "aku-40", True),
    EXPIRED: ("EXPIRED", "aku-20", False),
    DISCARDED: ("DISCARD", "aku-20", False),
    WRONG_PRODUCT: ("INACTIVATED", "aku-20", True),
    UNKNOWN_SPEC: ("INACTIVATED", "enterprise-unlimited", True),
}
DESCRIBE_ERRORS = {
    EXPIRED_ERR: errors.CodeExpired,
    OTHER: errors.CodeNotForThisSeller,
    INVALID: errors.CodeInvalid,
    "NO-SUCH-CODE-0000": errors.CodeNotFound,
}


def test_demo_codes_cover_every_state():
    codes = demo_codes(NOW)
    assert {code["code"] for code in codes} == set(DESCRIBE_OUTCOMES) | (set(DESCRIBE_ERRORS) - {
        "NO-SUCH-CODE-0000"})
    assert {code["status"] for code in codes} == {"ACTIVATED", "INACTIVATED", "EXPIRED", "DISCARD",
                                                  "INVALID"}
    assert {code["specification"] for code in codes} >= set(DEMO_SPECS)
    assert any(code.get("seller") == OTHER_SELLER for code in codes)
    assert all(code["note"] for code in codes)
    assert demo_codes(NOW) == codes  # deterministic
    assert {code["product_code"] for code in demo_codes(NOW, product_code="cmgj00mine")} >= {
        "cmgj00mine"}
    json.dumps(codes)  # a codes file as is


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_every_demo_code_through_the_real_client(sim_client, version):
    client = sim_client(signature_version=version)
    for code, (status, specification, live) in DESCRIBE_OUTCOMES.items():
        lic = client.describe_license(code)
        assert isinstance(lic, License)
        assert (lic.code, lic.status, lic.specification) == (code, status, specification)
        assert lic.is_live(NOW) is live, code
    for code, cls in DESCRIBE_ERRORS.items():
        with pytest.raises(cls) as caught:
            client.describe_license(code)
        assert caught.value.request_id and caught.value.http_status == 400


def test_describe_answers_every_field(sim_client):
    lic = sim_client().describe_license(ACTIVE)
    assert lic.product_code == DEMO_PRODUCT_CODE
    assert lic.sku_id == f"{DEMO_PRODUCT_CODE}-prepay"
    assert lic.product_name and lic.supplier_name and lic.instance_id.isdigit()
    assert lic.created_at == NOW - timedelta(days=30)
    assert lic.activated_at == NOW - timedelta(days=20)
    assert lic.expires_at == NOW + timedelta(days=180)
    assert lic.ali_uid == 1234567890120003
    assert lic.order_ids == ["2567890120003"]
    assert lic.attributes["orderBizId"] == "2567890120003"


def test_ali_uid_from_the_attribute_only(sim_client):
    lic = sim_client().describe_license(READY_40)
    assert lic.ali_uid == 1234567890120002
    assert lic.attributes["aliUid"] == "1234567890120002"


def test_expiring_soon_then_expired_by_time(sim_client, fake_time):
    client = sim_client()
    assert client.describe_license(SOON).is_live(NOW)
    fake_time.advance(timedelta(days=3, seconds=1).total_seconds())
    lic = client.describe_license(SOON)
    assert lic.status == "EXPIRED" and not lic.is_live(fake_time.utcnow())


def test_iso_time_format(market_sim, sim_client):
    market_sim.set_options(time_format="iso")
    lic = sim_client().describe_license(ACTIVE)
    assert lic.expires_at == (NOW + timedelta(days=180)).replace(second=0)


def test_plain_times_follow_the_market_time_zone(market_sim, sim_client):
    # The simulator writes Shanghai time; a client reading it as UTC would be 8 hours off.
    lic = sim_client(market_tz="UTC").describe_license(ACTIVE)
    assert lic.expires_at == NOW + timedelta(days=180, hours=8)


# ------------------------------------------------------------- dead codes: both styles


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_dead_codes_as_errors_when_asked(market_sim, sim_client, version):
    market_sim.set_options(dead_code_style="error")
    client = sim_client(signature_version=version)
    with pytest.raises(errors.CodeExpired):
        client.describe_license(EXPIRED)
    with pytest.raises(errors.CodeDiscarded):
        client.describe_license(DISCARDED)


def test_per_code_dead_style_overrides_the_option(market_sim, sim_client):
    market_sim.add_code({"code": "DEAD-AS-STATUS-0001", "status": "DISCARD", "dead_as": "status"})
    market_sim.set_options(dead_code_style="error")
    assert sim_client().describe_license("DEAD-AS-STATUS-0001").status == "DISCARD"


# ------------------------------------------------------------- activation


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_activation_records_the_identification(market_sim, sim_client, fake_time, version):
    client = sim_client(signature_version=version)
    assert client.activate_license(READY, 1234567890120001) is True
    stored = market_sim.get_code(READY)
    assert stored["status"] == "ACTIVATED"
    assert stored["identification"] == "1234567890120001"
    lic = client.describe_license(READY)
    assert lic.status == "ACTIVATED" and lic.activated_at == NOW
    # Again for the same buyer: success. For another: License.Invalid.
    assert client.activate_license(READY, "1234567890120001") is True
    with pytest.raises(errors.CodeInvalid):
        client.activate_license(READY, "999")


def test_activation_errors(market_sim, sim_client):
    client = sim_client()
    for code, cls in [(EXPIRED, errors.CodeExpired), (EXPIRED_ERR, errors.CodeExpired),
                      (DISCARDED, errors.CodeDiscarded), (OTHER, errors.CodeNotForThisSeller),
                      (INVALID, errors.CodeInvalid), ("NOPE-0000", errors.CodeNotFound)]:
        with pytest.raises(cls):
            client.activate_license(code, "1")


def test_success_as_string(market_sim, sim_client):
    market_sim.set_options(success_as_string=True)
    assert sim_client().activate_license(READY, "1") is True


def test_sts_tokens(market_sim, sim_client):
    assert sim_client(security_token="any-token").describe_license(READY)
    market_sim.set_options(reject_sts_activation=True)
    with pytest.raises(errors.CredentialsRejected) as caught:
        sim_client(security_token="any-token").activate_license(READY, "1")
    assert caught.value.code == "Auth.CallerType"
    assert sim_client().activate_license(READY, "1") is True


def test_only_accepted_security_tokens(fake_time):
    sim = Simulator(demo_codes(NOW), clock=fake_time.utcnow, accepted_security_tokens={"good"})
    client = inprocess_client(sim, security_token="good", utcnow=fake_time.utcnow)
    assert client.describe_license(READY)
    for version in ("v1", "v3"):
        bad = inprocess_client(sim, security_token="stale", utcnow=fake_time.utcnow,
                               signature_version=version)
        with pytest.raises(errors.CredentialsRejected) as caught:
            bad.describe_license(READY)
        assert caught.value.code == "InvalidSecurityToken.Expired"


# ------------------------------------------------------------- gateway checks


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_unknown_and_inactive_access_keys(market_sim, sim_client, version):
    with pytest.raises(errors.CredentialsRejected) as caught:
        sim_client(access_key_id="nobody", signature_version=version).describe_license(READY)
    assert (caught.value.code, caught.value.http_status) == ("InvalidAccessKeyId.NotFound", 404)
    market_sim.add_access_key("disabled-key", "s", active=False)
    with pytest.raises(errors.CredentialsRejected) as caught:
        sim_client(access_key_id="disabled-key", access_key_secret="s",
                   signature_version=version).describe_license(READY)
    assert caught.value.code == "InvalidAccessKeyId.Inactive"


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_wrong_secret_is_a_signature_mismatch_and_the_code_stays_masked(sim_client, version):
    with pytest.raises(errors.CredentialsRejected) as caught:
        sim_client(access_key_secret="wrong", signature_version=version).describe_license(READY)
    error = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert "string to sign" in error.message
    assert "7K3Q" in error.message or version == "v3"  # V3 quotes only a hash
    assert "DEMO-AKU20" not in str(error) and "wrong" not in str(error)


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_timestamp_window(market_sim, fake_time, version):
    def client_skewed(seconds):
        return inprocess_client(market_sim, signature_version=version,
                                utcnow=lambda: NOW + timedelta(seconds=seconds))

    assert client_skewed(14 * 60).describe_license(READY)
    assert client_skewed(-14 * 60).describe_license(READY)
    for skew in (16 * 60, -16 * 60):
        with pytest.raises(errors.CredentialsRejected) as caught:
            client_skewed(skew).describe_license(READY)
        assert caught.value.code == "InvalidTimeStamp.Expired"
        assert "clock" in caught.value.advice


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_nonce_reuse_is_refused(market_sim, sim_client, version):
    client = sim_client(signature_version=version, nonce_factory=lambda: "same-nonce")
    assert client.describe_license(READY)
    with pytest.raises(errors.CredentialsRejected) as caught:
        client.describe_license(READY)
    assert caught.value.code == "SignatureNonceUsed"
    # Another access key may use the same nonce.
    market_sim.add_access_key("second", "secret2")
    assert sim_client(access_key_id="second", access_key_secret="secret2",
                      signature_version=version, nonce_factory=lambda: "same-nonce"
                      ).describe_license(READY)


def _raw_session(sim):
    return inprocess_session(sim)


def _signed_v1(params: dict, secret: str = DEMO_ACCESS_KEY_SECRET, method: str = "POST",
               nonce: str = "n-1") -> dict:
    full = signing.v1_common_params(DEMO_ACCESS_KEY_ID, "DescribeLicense", nonce=nonce,
                                    timestamp=signing.format_timestamp(NOW))
    full.update(params)
    full["Signature"] = signing.sign_v1(method, full, secret)
    return full


def test_tampered_query_fails_the_signature(market_sim):
    params = _signed_v1({"LicenseCode": READY})
    params["LicenseCode"] = READY_40
    answer = _raw_session(market_sim).post(INPROCESS_ENDPOINT + "/", params=params)
    assert answer.status_code == 400 and answer.json()["Code"] == "SignatureDoesNotMatch"


def test_get_is_accepted_when_signed_as_get(market_sim):
    session = _raw_session(market_sim)
    answer = session.get(INPROCESS_ENDPOINT + "/", params=_signed_v1({"LicenseCode": READY},
                                                                      method="GET"))
    assert answer.status_code == 200 and answer.json()["License"]["LicenseStatus"] == "INACTIVATED"
    answer = session.get(INPROCESS_ENDPOINT + "/",
                         params=_signed_v1({"LicenseCode": READY}, method="POST", nonce="n-2"))
    assert answer.json()["Code"] == "SignatureDoesNotMatch"


def test_xml_without_format_json(market_sim):
    params = _signed_v1({"LicenseCode": READY})
    params.pop("Format")
    params["Signature"] = signing.sign_v1("POST", params, DEMO_ACCESS_KEY_SECRET)
    answer = _raw_session(market_sim).post(INPROCESS_ENDPOINT + "/", params=params)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert b"<LicenseStatus>INACTIVATED</LicenseStatus>" in answer.content


def test_missing_signature_and_missing_parameters(market_sim):
    session = _raw_session(market_sim)
    answer = session.post(INPROCESS_ENDPOINT + "/", params={"Action": "DescribeLicense",
                                                            "Format": "JSON"})
    assert answer.json()["Code"] == "IncompleteSignature"
    params = _signed_v1({"LicenseCode": READY})
    params.pop("SignatureNonce")
    assert session.post(INPROCESS_ENDPOINT + "/", params=params).json()["Code"] == \
        "MissingSignatureNonce"


def test_unknown_action_and_wrong_version(market_sim):
    session = _raw_session(market_sim)
    params = _signed_v1({"LicenseCode": READY, "Action": "DeleteEverything"})
    assert session.post(INPROCESS_ENDPOINT + "/", params=params).json()["Code"] == \
        "InvalidAction.NotFound"
    params = _signed_v1({"LicenseCode": READY, "Version": "2099-01-01"}, nonce="n-3")
    assert session.post(INPROCESS_ENDPOINT + "/", params=params).json()["Code"] == "InvalidVersion"


def _v3_headers(sim_host: str, extra: dict | None = None) -> dict:
    headers = {
        "host": sim_host, "x-acs-action": "DescribeLicense", "x-acs-version": "2015-11-01",
        "x-acs-date": signing.format_timestamp(NOW), "x-acs-signature-nonce": "v3-nonce",
        "x-acs-content-sha256": signing.EMPTY_SHA256,
    }
    headers.update(extra or {})
    return headers


def test_v3_every_acs_header_must_be_signed(market_sim):
    session = _raw_session(market_sim)
    signed = _v3_headers("market.simulator")
    auth = signing.authorization_v3("POST", "/", {"LicenseCode": READY}, signed,
                                    DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    headers = {**signed, "Authorization": auth, "x-acs-extra": "unsigned", "Accept": "application/json"}
    answer = session.post(INPROCESS_ENDPOINT + "/", params={"LicenseCode": READY}, headers=headers)
    assert answer.status_code == 400 and answer.json()["Code"] == "IncompleteSignature"
    headers.pop("x-acs-extra")
    answer = session.post(INPROCESS_ENDPOINT + "/", params={"LicenseCode": READY}, headers=headers)
    assert answer.status_code == 200, answer.text


def test_v3_body_hash_must_match(market_sim):
    signed = _v3_headers("market.simulator")
    auth = signing.authorization_v3("POST", "/", {"LicenseCode": READY}, signed,
                                    DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    answer = _raw_session(market_sim).post(
        INPROCESS_ENDPOINT + "/", params={"LicenseCode": READY}, data=b"smuggled",
        headers={**signed, "Authorization": auth, "Accept": "application/json"})
    assert answer.json()["Code"] == "SignatureDoesNotMatch"


def test_v3_host_is_part_of_the_signature(market_sim):
    signed = _v3_headers("other.host")
    auth = signing.authorization_v3("POST", "/", {"LicenseCode": READY}, signed,
                                    DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
    headers = {**signed, "Authorization": auth, "Accept": "application/json"}
    headers["host"] = "market.simulator"
    answer = _raw_session(market_sim).post(INPROCESS_ENDPOINT + "/", params={"LicenseCode": READY},
                                           headers=headers)
    assert answer.json()["Code"] == "SignatureDoesNotMatch"


# ------------------------------------------------------------- Python control interface


def test_renew_moves_expiry_and_adds_an_order(market_sim, sim_client):
    client = sim_client()
    before = client.describe_license(ACTIVE)
    market_sim.renew(ACTIVE, days=30, order_id="2999")
    after = client.describe_license(ACTIVE)
    assert after.code == before.code
    assert after.expires_at == before.expires_at + timedelta(days=30)
    assert after.order_ids == before.order_ids + ["2999"]
    market_sim.renew(ACTIVE, expires_at="2030-01-01T00:00:00Z")
    again = client.describe_license(ACTIVE)
    assert again.expires_at.isoformat() == "2030-01-01T00:00:00+00:00"
    assert len(again.order_ids) == 3 and len(set(again.order_ids)) == 3


def test_renew_revives_an_expired_code(market_sim, sim_client):
    market_sim.renew(EXPIRED, days=30)
    lic = sim_client().describe_license(EXPIRED)
    assert lic.status == "ACTIVATED" and lic.expires_at == NOW + timedelta(days=30)
    with pytest.raises(ValueError):
        market_sim.renew(DISCARDED)


def test_change_specification(market_sim, sim_client):
    market_sim.change_specification(READY, "aku-40", sku_id=f"{DEMO_PRODUCT_CODE}-aku40")
    lic = sim_client().describe_license(READY)
    assert lic.specification == "aku-40" and lic.sku_id == f"{DEMO_PRODUCT_CODE}-aku40"
    assert len(lic.order_ids) == 2


def test_discard_and_expire(market_sim, sim_client):
    client = sim_client()
    market_sim.discard(READY)
    assert client.describe_license(READY).status == "DISCARD"
    market_sim.expire(ACTIVE)
    lic = client.describe_license(ACTIVE)
    assert lic.status == "EXPIRED" and lic.expires_at == NOW


def test_add_code_and_unknown_codes(market_sim, sim_client):
    stored = market_sim.add_code({"code": "NEW-CODE-1111", "package_version": "aku-40",
                                  "expires_at": "+10d", "ali_uid": "42", "order_ids": "1,2"})
    assert stored["specification"] == "aku-40" and stored["order_ids"] == ["1", "2"]
    lic = sim_client().describe_license("NEW-CODE-1111")
    assert lic.expires_at == NOW + timedelta(days=10) and lic.ali_uid == 42
    assert lic.order_ids == ["1", "2"]
    with pytest.raises(KeyError):
        market_sim.renew("NOT-THERE")
    with pytest.raises(ValueError):
        market_sim.add_code({"code": "X", "status": "WHATEVER"})
    with pytest.raises(ValueError):
        market_sim.add_code({"code": "X", "colour": "blue"})
    assert len(market_sim.list_codes()) == len(demo_codes(NOW)) + 1


def test_calls_are_recorded_with_masked_codes(market_sim, sim_client):
    sim_client().describe_license(READY)
    seen = market_sim.calls("DescribeLicense")
    assert seen[-1]["code"] == "****7K3Q" and seen[-1]["status"] == 200
    assert READY not in json.dumps(list(market_sim.requests_seen))


# ------------------------------------------------------------- faults


def test_throttle_fault_with_retry_after(market_sim, sim_client, fake_time):
    market_sim.inject_fault("throttle", 2, retry_after_ms=1500)
    assert sim_client().describe_license(READY)
    assert fake_time.sleeps == [1.5, 1.5]
    assert [c["error_code"] for c in market_sim.calls()] == ["Throttling.User"] * 2 + [None]


def test_server_error_fault_exhausts_attempts(market_sim, sim_client):
    market_sim.inject_fault("server_error", 3)
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        sim_client().describe_license(READY)
    assert caught.value.code == "ServiceUnavailable" and caught.value.http_status == 503
    assert market_sim.faults() == []
    assert sim_client().describe_license(READY)


def test_internal_error_fault(market_sim, sim_client):
    market_sim.inject_fault("server_error", status=500)
    assert sim_client().describe_license(READY)
    assert market_sim.calls()[0]["error_code"] == "InternalError"


def test_not_json_fault(market_sim, sim_client):
    market_sim.inject_fault("not_json")
    with pytest.raises(errors.BadResponse):
        sim_client().describe_license(READY)


def test_faults_can_target_one_action(market_sim, sim_client):
    market_sim.inject_fault("not_json", actions=["ActivateLicense"])
    client = sim_client()
    assert client.describe_license(READY)
    with pytest.raises(errors.BadResponse):
        client.activate_license(READY, "1")


def test_slow_fault_under_the_timeout_just_waits(market_sim, sim_client, fake_time):
    market_sim.inject_fault("slow", delay=2.0)
    assert sim_client(timeout=5.0).describe_license(READY)
    assert fake_time.sleeps == [2.0]


def test_slow_activation_is_resolved_by_reading_the_code(market_sim, sim_client):
    market_sim.inject_fault("slow", delay=30, actions="ActivateLicense")
    assert sim_client(timeout=5.0).activate_license(READY, "1234567890120001") is True
    assert market_sim.get_code(READY)["status"] == "ACTIVATED"
    assert [c["action"] for c in market_sim.calls()] == ["ActivateLicense", "DescribeLicense"]


def test_slow_describe_times_out_and_is_retried(market_sim, sim_client):
    market_sim.inject_fault("slow", 1, delay=30)
    assert sim_client(timeout=5.0).describe_license(READY)
    assert len(market_sim.calls()) == 2


def test_drop_fault_is_retried_and_a_dropped_activation_is_found_by_reading(market_sim,
                                                                            sim_client):
    market_sim.inject_fault("drop")
    assert sim_client().describe_license(READY).status == "INACTIVATED"
    market_sim.inject_fault("drop", actions="ActivateLicense")
    assert sim_client().activate_license(READY, "1234567890120001") is True
    assert market_sim.get_code(READY)["status"] == "ACTIVATED"  # processed, answer dropped
    assert [(c["action"], c["fault"]) for c in market_sim.calls()] == [
        ("DescribeLicense", "drop"), ("DescribeLicense", None),
        ("ActivateLicense", "drop"), ("DescribeLicense", None)]


def test_drop_fault_raises_what_requests_raises_over_a_socket(market_sim):
    from urllib3.exceptions import ProtocolError

    session = inprocess_session(market_sim)
    added = session.post(INPROCESS_ENDPOINT + "/_control/faults", json={"kind": "drop"})
    assert added.json()["faults"][0]["kind"] == "drop"
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.post(INPROCESS_ENDPOINT + "/", params=_signed_v1({"LicenseCode": READY}))
    assert isinstance(caught.value.args[0], ProtocolError)
    assert "Connection aborted" in str(caught.value)


@pytest.mark.parametrize("bad", [{"kind": "meteor"}, {"kind": "slow"}, {"kind": "throttle", "count": 0}])
def test_bad_faults_are_refused(market_sim, bad):
    kind = bad.pop("kind")
    with pytest.raises(ValueError):
        market_sim.inject_fault(kind, **bad)


# ------------------------------------------------------------- HTTP control interface


def test_http_control_interface(market_sim, sim_client):
    session = inprocess_session(market_sim)
    base = INPROCESS_ENDPOINT + "/_control"
    help_page = session.get(base).json()
    assert "endpoints" in help_page and "drop" in help_page["fault_kinds"]
    codes = session.get(base + "/codes").json()["codes"]
    assert len(codes) == len(demo_codes(NOW))

    added = session.post(base + "/codes", json={"codes": [{"code": "HTTP-ADDED-0001",
                                                           "expires_at": "+5d"}]}).json()
    assert added["codes"][0]["code"] == "HTTP-ADDED-0001"
    assert session.post(base + "/codes", json={"code": "HTTP-ADDED-0002"}).status_code == 200
    assert session.get(base + "/codes/HTTP-ADDED-0002").json()["status"] == "INACTIVATED"

    renewed = session.post(base + f"/codes/{ACTIVE}/renew", json={"days": 10, "order_id": "77"})
    assert renewed.json()["order_ids"][-1] == "77"
    spec = session.post(base + f"/codes/{READY}/specification", json={"specification": "aku-40"})
    assert spec.json()["specification"] == "aku-40"
    assert session.post(base + f"/codes/{SOON}/discard").json()["status"] == "DISCARD"
    assert session.post(base + f"/codes/{READY_40}/expire").json()["status"] == "EXPIRED"

    client = sim_client()
    assert client.describe_license(READY).specification == "aku-40"
    assert client.describe_license(SOON).status == "DISCARD"
    assert client.describe_license(READY_40).status == "EXPIRED"

    faults = session.post(base + "/faults", json={"kind": "throttle", "count": 1,
                                                  "retry_after_ms": 100}).json()["faults"]
    assert faults[0]["kind"] == "throttle"
    assert session.delete(base + "/faults").json() == {"faults": []}
    session.post(base + "/faults", json={"kind": "not_json"})
    with pytest.raises(errors.BadResponse):
        client.describe_license(READY)

    assert session.post(base + "/options", json={"dead_code_style": "error"}).json()[
        "dead_code_style"] == "error"
    with pytest.raises(errors.CodeDiscarded):
        client.describe_license(SOON)

    requests_seen = session.get(base + "/requests").json()["requests"]
    assert requests_seen and all(r["code"].startswith("****") for r in requests_seen)
    assert session.delete(base + "/requests").json() == {"requests": []}


# What each fault injected over the HTTP control interface looks like on the wire.
WIRE_FAULTS = {
    "throttle": ({"kind": "throttle", "retry_after_ms": 250},
                 (400, "Throttling.User", {"x-acs-retry-after": "250"})),
    "throttle as 429": ({"kind": "throttle", "status": 429, "code": "Throttling"},
                        (429, "Throttling", {})),
    "server_error": ({"kind": "server_error"}, (503, "ServiceUnavailable", {})),
    "server_error 500": ({"kind": "server_error", "status": 500}, (500, "InternalError", {})),
    "not_json": ({"kind": "not_json"}, (200, None, {"Content-Type": "text/html"})),
    "slow": ({"kind": "slow", "delay": 5}, requests.exceptions.ReadTimeout),
    "drop": ({"kind": "drop"}, requests.exceptions.ConnectionError),
}


@pytest.mark.parametrize(("fault", "expected"), WIRE_FAULTS.values(), ids=list(WIRE_FAULTS))
def test_faults_injected_over_http_on_the_wire(market_sim, fake_time, fault, expected):
    session = inprocess_session(market_sim)
    assert session.post(INPROCESS_ENDPOINT + "/_control/faults", json=fault).status_code == 200

    def call(nonce: str = "n-1"):
        return session.post(INPROCESS_ENDPOINT + "/",
                            params=_signed_v1({"LicenseCode": READY}, nonce=nonce), timeout=1.0)

    if isinstance(expected, type):
        with pytest.raises(expected):
            call()
    else:
        status, code, headers = expected
        answer = call()
        assert answer.status_code == status
        if code:
            assert answer.json()["Code"] == code and answer.json()["RequestId"]
        for name, value in headers.items():
            assert answer.headers[name] == value
    assert market_sim.faults() == []  # used up
    # The next one is served (a fresh nonce: slow and drop did process the first).
    assert call("n-2").json()["License"]["LicenseStatus"] == "INACTIVATED"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [("GET", "/codes/NOPE-1234", None, 404), ("POST", "/codes/NOPE-1234/renew", {}, 404),
     ("DELETE", "/codes", None, 405), ("GET", "/nowhere", None, 404),
     ("POST", f"/codes/{READY}/specification", {}, 400), ("POST", "/faults", {"kind": "x"}, 400),
     ("POST", "/faults", {"kind": "throttle", "colour": 1}, 400),
     ("POST", "/options", {"time_format": "roman"}, 400), ("POST", f"/codes/{READY}/fly", {}, 404),
     ("POST", f"/codes/{DISCARDED}/renew", {}, 400)],
)
def test_http_control_errors(market_sim, method, path, body, status):
    session = inprocess_session(market_sim)
    answer = session.request(method, INPROCESS_ENDPOINT + "/_control" + path, json=body)
    assert answer.status_code == status
    assert "error" in answer.json()


def test_http_control_bad_json(market_sim):
    answer = inprocess_session(market_sim).post(INPROCESS_ENDPOINT + "/_control/codes",
                                                data=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


# ------------------------------------------------------------- threads


def test_concurrent_activations_have_one_winner(market_sim, fake_time):
    outcomes: list[object] = []
    lock = threading.Lock()

    def activate(identification: str) -> None:
        client = inprocess_client(market_sim, utcnow=fake_time.utcnow, max_attempts=1)
        try:
            result: object = client.activate_license(READY, identification)
        except errors.MarketplaceError as exc:
            result = type(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=activate, args=(str(n),)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 1
    assert outcomes.count(errors.CodeInvalid) == 15


def test_concurrent_control_and_reads(market_sim, fake_time):
    failures: list[BaseException] = []

    def reader() -> None:
        client = inprocess_client(market_sim, utcnow=fake_time.utcnow)
        try:
            for _ in range(20):
                client.describe_license(ACTIVE)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    def renewer() -> None:
        for n in range(20):
            market_sim.renew(ACTIVE, days=1, order_id=f"r{n}")

    threads = [threading.Thread(target=reader) for _ in range(4)] + [threading.Thread(target=renewer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(market_sim.get_code(ACTIVE)["order_ids"]) == 21


# ------------------------------------------------------------- codes file


def test_codes_file_formats(tmp_path, fake_time):
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"code": "FILE-CODE-0001", "status": "ACTIVATED",
                                    "expires_at": "2030-01-01 00:00:00",
                                    "activated_at": "-2d", "other_seller": True}]))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"codes": [{"code": "FILE-CODE-0002", "order_id": "55"}]}))
    assert load_codes_file(listing)[0]["code"] == "FILE-CODE-0001"
    sim = Simulator.from_file(str(listing), clock=fake_time.utcnow)
    stored = sim.get_code("FILE-CODE-0001")
    assert stored["seller"] == OTHER_SELLER
    assert stored["expires_at"] == "2029-12-31T16:00:00Z"  # naive: in the market zone
    assert stored["activated_at"] == "2023-12-30T12:00:00Z"
    sim2 = Simulator.from_file(str(wrapped), clock=fake_time.utcnow)
    assert sim2.get_code("FILE-CODE-0002")["order_ids"] == ["55"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"codes": "nope"}))
    with pytest.raises(ValueError):
        load_codes_file(bad)


def test_stored_codes_round_trip_through_a_file(market_sim, tmp_path, fake_time):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(market_sim.list_codes()))
    again = Simulator.from_file(str(path), clock=fake_time.utcnow)
    assert again.list_codes() == market_sim.list_codes()


def test_wsgi_adapter_with_a_plain_session_mount(market_sim):
    # The adapter is a requests transport: mounted anywhere, it serves that prefix only.
    session = requests.Session()
    from marketplace_adapter.simulator import WSGIAdapter

    session.mount("http://sim.test/", WSGIAdapter(market_sim))
    assert session.get("http://sim.test/_control/codes").status_code == 200
