"""The issuing steps against every marketplace answer (mocked with `responses`), through
`POST /api/v1/product-keys`: refusals, activation modes, nothing changed, renewals, the
one-license rule, bindings, claims, failures that must leave nothing behind."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from webapp import product_key
from webapp.datakey import data_key
from webapp.database import db
from webapp.vendor_side.ledger import issue_key
from webapp.models.audit import AuditEvent
from webapp.vendor_side.models import InstallSequence, IssuedKey
from webapp.vendor_side.models import CodeBinding
from webapp.vendor_side.signing_keys import public_keys

from .conftest import CODE, INSTALL, OTHER_INSTALL, UID, future, iso

URL = "/api/v1/product-keys"


def post(client, headers, code=CODE, install=INSTALL):
    return client.post(URL, json={"authorizationCode": code, "installId": install}, headers=headers)


def rows(app, model):
    with app.app_context():
        items = db.session.scalars(db.select(model)).all()
        db.session.expunge_all()
        return items


def actions(app):
    return [e.action for e in rows(app, AuditEvent)]


def nothing_left(app):
    assert rows(app, CodeBinding) == []
    assert rows(app, IssuedKey) == []
    assert rows(app, InstallSequence) == [] or all(s.last_seq == 0 for s in rows(app, InstallSequence))


# ------------------------------------------------------------------ the happy path


def test_new_code_is_described_activated_bound_and_signed(app, client, market, issuer_api):
    expires = future(30)
    market.describe(expires=expires)
    market.activate()
    response = post(client, issuer_api)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["change"] == "new"
    lic = body["license"]
    assert (lic["seq"], lic["aku"], lic["reference"], lic["product"]) == (1, 20, "****7Q2K", "Pro 20")
    assert (lic["type"], lic["channel"], lic["expiresAt"]) == ("subscription", "alibaba-marketplace", iso(expires))
    activate = market.calls("ActivateLicense")[0].request.url
    assert f"Identification={UID}" in activate

    with app.app_context():
        verified = product_key.verify(body["productKey"], product_key.load_public_keys(public_keys()))
        assert verified.install_id == INSTALL and verified.license.to_json() == lic
        binding = db.session.scalar(db.select(CodeBinding))
        assert binding.state == "bound" and binding.install_id == INSTALL
        assert binding.claim_token is None and binding.activated_at is not None
        assert CODE not in binding.code_encrypted
        keys = data_key(app.config["LICENSE_DATA_KEY"])
        assert keys.decrypt(binding.code_encrypted) == CODE
        assert binding.code_hash == keys.lookup_hash(CODE) and binding.code_last4 == "7Q2K"
        assert (binding.market_status, binding.market_aku, binding.ali_uid) == ("ACTIVATED", 20, UID)
        assert binding.order_ids == ["211111111111"]
        key = db.session.get(IssuedKey, lic["id"])
        assert key.binding_id == binding.id and key.issued_by == "api-issuer@example.com"
    assert actions(app)[-3:] == ["code_activated", "code_bound", "key_issued"]


def test_an_activated_code_is_not_activated_again(app, client, market, issuer_api):
    market.describe(status="ACTIVATED")
    assert post(client, issuer_api).status_code == 201
    assert market.calls("ActivateLicense") == []


def test_nothing_changed_answers_the_stored_key_without_writing(app, client, market, issuer_api):
    market.describe(status="ACTIVATED", expires=future(30))
    first = post(client, issuer_api)
    events = len(actions(app))
    again = post(client, issuer_api)
    assert again.status_code == 200
    assert again.get_json()["productKey"] == first.get_json()["productKey"]
    assert again.get_json()["change"] == "unchanged"
    assert len(rows(app, IssuedKey)) == 1 and rows(app, InstallSequence)[0].last_seq == 1
    assert len(actions(app)) == events
    assert market.calls("ActivateLicense") == []


@pytest.mark.parametrize("later, spec, change, aku", [
    (True, "pro-20", "renewal", 20),
    (False, "pro-40", "spec_change", 40),
    (True, "pro-40", "renewal_and_spec_change", 40),
])
def test_renewal_or_spec_change_gives_the_next_seq_and_supersedes(app, client, market, issuer_api, later, spec, change, aku):
    expires = future(30)
    market.describe(status="ACTIVATED", expires=expires)
    first = post(client, issuer_api).get_json()
    market.rsps.reset()
    market.describe(status="ACTIVATED", expires=expires + timedelta(days=30) if later else expires, spec=spec,
                    orders="211111111111,222222222222")
    response = post(client, issuer_api)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["change"], body["license"]["seq"], body["license"]["aku"]) == (change, 2, aku)
    with app.app_context():
        old = db.session.get(IssuedKey, first["license"]["id"])
        assert old.status == "superseded" and old.superseded_by == body["license"]["id"]
        event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "key_issued")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event.before["seq"] == 1 and event.after["seq"] == 2 and event.after["change"] == change
        assert db.session.scalar(db.select(CodeBinding)).order_ids == ["211111111111", "222222222222"]


# ------------------------------------------------------------------ step 1's refusals


@pytest.mark.parametrize("values, code, status", [
    ({"status": "EXPIRED"}, "code_expired", 422),
    ({"status": "DISCARD"}, "code_discarded", 422),
    ({"product_code": "cmgj9999"}, "code_wrong_product", 422),
    ({"spec": "enterprise"}, "unknown_specification", 422),
    ({"expires": datetime.now(timezone.utc) - timedelta(hours=1)}, "code_expired", 422),
])
def test_refused_codes_leave_nothing(app, client, market, issuer_api, values, code, status):
    market.describe(**values)
    response = post(client, issuer_api)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert market.calls("ActivateLicense") == []
    nothing_left(app)


@pytest.mark.parametrize("error_code, http, code, status", [
    ("License.NotFound", 400, "code_not_found", 404),
    ("License.Invalid", 400, "code_invalid", 422),
    ("License.Expired", 400, "code_expired", 422),
    ("License.Discard", 400, "code_discarded", 422),
    ("Auth.Match", 400, "code_other_seller", 422),
    ("SignatureDoesNotMatch", 400, "marketplace_credentials", 502),
    ("InvalidAccessKeyId.NotFound", 404, "marketplace_credentials", 502),
    ("Auth.ISV.Error", 400, "marketplace_credentials", 502),
    ("ServiceUnavailable", 503, "marketplace_unavailable", 503),
    ("InternalError", 500, "marketplace_unavailable", 503),
])
def test_marketplace_errors_on_describe(app, client, market, issuer_api, error_code, http, code, status):
    market.error("DescribeLicense", error_code, status=http)
    response = post(client, issuer_api)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    nothing_left(app)


def test_throttling_answers_429_with_retry_after(app, client, market, issuer_api):
    market.error("DescribeLicense", "Throttling.User", headers={"x-acs-retry-after": "2500"})
    response = post(client, issuer_api)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "marketplace_throttled"
    assert response.headers["Retry-After"] == "3"
    nothing_left(app)


def test_an_answer_that_is_not_json_is_unavailable(app, client, market, issuer_api):
    import responses

    market.rsps.add(responses.POST, "https://market.test/", body="<html>proxy error</html>", status=200)
    response = post(client, issuer_api)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "marketplace_unavailable"


# ------------------------------------------------------------------ step 3: activation


@pytest.mark.parametrize("failure, code, status", [
    (("ServiceUnavailable", 503), "marketplace_unavailable", 503),
    (("Auth.CallerType", 400), "marketplace_credentials", 502),
    (("Throttling", 400), "marketplace_throttled", 429),
    (None, "marketplace_error", 502),  # Success: false
])
def test_required_activation_failure_removes_the_pending_row(app, client, market, issuer_api, failure, code, status):
    market.describe()
    if failure is None:
        market.activate(success=False)
    else:
        market.error("ActivateLicense", failure[0], status=failure[1])
    response = post(client, issuer_api)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert "did not activate" in response.get_json()["error"]["message"]
    nothing_left(app)


def test_best_effort_activation_issues_anyway_and_audits_the_failure(app, client, market, issuer_api):
    app.extensions["license_vendor"].activate = "best-effort"
    market.describe()
    market.error("ActivateLicense", "Auth.CallerType")
    response = post(client, issuer_api)
    assert response.status_code == 201
    assert "code_activation_failed" in actions(app)
    assert rows(app, CodeBinding)[0].market_status == "INACTIVATED"


def test_activation_off_never_calls_activate(app, client, market, issuer_api):
    app.extensions["license_vendor"].activate = "off"
    market.describe()
    assert post(client, issuer_api).status_code == 201
    assert market.calls("ActivateLicense") == []


def test_already_activated_for_this_buyer_is_success(app, client, market, issuer_api):
    import responses

    market.rsps.registry = responses.registries.OrderedRegistry()
    market.describe()
    market.error("ActivateLicense", "License.Invalid")
    market.describe(status="ACTIVATED")
    response = post(client, issuer_api)
    assert response.status_code == 201
    assert "code_activated" in actions(app)


def test_activation_refused_when_the_code_stays_inactive(app, client, market, issuer_api):
    import responses

    market.rsps.registry = responses.registries.OrderedRegistry()
    market.describe()
    market.error("ActivateLicense", "License.Invalid")
    market.describe()
    response = post(client, issuer_api)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "code_invalid"
    nothing_left(app)


def test_signing_failure_removes_the_pending_row(app, client, market, issuer_api, monkeypatch):
    from webapp.vendor_side import signing_keys

    market.describe(status="ACTIVATED")
    monkeypatch.setattr(signing_keys, "active_key", lambda: None)
    response = post(client, issuer_api)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "signing_unavailable"
    nothing_left(app)


# ------------------------------------------------------------------ one code, one environment


def test_a_code_bound_elsewhere_is_refused(app, client, market, issuer_api):
    market.describe(status="ACTIVATED")
    assert post(client, issuer_api).status_code == 201
    response = post(client, issuer_api, install=OTHER_INSTALL)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "code_bound_elsewhere"
    assert len(rows(app, IssuedKey)) == 1


def test_one_license_per_environment(app, client, market, issuer_api):
    market.describe(status="ACTIVATED")
    assert post(client, issuer_api).status_code == 201
    market.describe("SECOND-CODE-9ZZZ", status="ACTIVATED", spec="pro-40")
    response = post(client, issuer_api, code="SECOND-CODE-9ZZZ")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "install_has_license"
    assert [b.code_last4 for b in rows(app, CodeBinding)] == ["7Q2K"]  # the second code's pending row is gone
    assert len(rows(app, IssuedKey)) == 1


@pytest.mark.parametrize("first", [{"status": "EXPIRED"}, {"status": "DISCARD"}, "error"])
def test_a_new_code_takes_over_when_the_current_one_is_dead(app, client, market, issuer_api, first):
    market.describe(status="ACTIVATED")
    assert post(client, issuer_api).status_code == 201
    market.rsps.reset()
    market.describe("SECOND-CODE-9ZZZ", status="ACTIVATED", spec="pro-40")
    if first == "error":
        market.error("DescribeLicense", "License.Expired", code=CODE)
    else:
        market.describe(CODE, **first)
    response = post(client, issuer_api, code="SECOND-CODE-9ZZZ")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["license"]["seq"] == 2 and response.get_json()["change"] == "new"


def test_a_live_offline_contract_blocks_but_a_trial_extension_does_not(app, client, market, issuer_api):
    market.describe(status="ACTIVATED")
    with app.app_context():
        issue_key(install_id=INSTALL, aku=5, expires_at=future(10), type="trial-extension", channel="offline-contract",
                  reference="TRIAL-1", product="P", issued_by="t")
        db.session.commit()
    assert post(client, issuer_api).status_code == 201

    with app.app_context():
        issue_key(install_id=OTHER_INSTALL, aku=5, expires_at=future(10), type="subscription",
                  channel="offline-contract", reference="C-1", product="P", issued_by="t")
        db.session.commit()
    market.describe("THIRD-CODE-0003", status="ACTIVATED")
    response = post(client, issuer_api, code="THIRD-CODE-0003", install=OTHER_INSTALL)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "install_has_license"


# ------------------------------------------------------------------ claims


def _pending_row(app, install, minutes_ago, code=CODE):
    with app.app_context():
        keys = data_key(app.config["LICENSE_DATA_KEY"])
        row = CodeBinding(code_hash=keys.lookup_hash(code), code_encrypted=keys.encrypt(code), code_last4=code[-4:],
                          install_id=install, state="pending", claim_token="crashed-worker",
                          claimed_at=datetime.now(timezone.utc) - timedelta(minutes=minutes_ago))
        db.session.add(row)
        db.session.commit()


def test_a_stale_pending_row_is_taken_over(app, client, market, issuer_api):
    _pending_row(app, OTHER_INSTALL, minutes_ago=3)
    market.describe()
    market.activate()
    response = post(client, issuer_api)
    assert response.status_code == 201
    (binding,) = rows(app, CodeBinding)
    assert (binding.install_id, binding.state, binding.claim_token) == (INSTALL, "bound", None)


def test_a_code_the_stopped_worker_left_activated_is_recorded_activated_by_the_one_taking_over(
        app, client, market, issuer_api):
    """The worker died waiting for ActivateLicense's answer (tests/production/ kills one): the
    code reads ACTIVATED, is not activated again, and the audit log holds the activation."""
    _pending_row(app, INSTALL, minutes_ago=3)
    market.describe(status="ACTIVATED")
    response = post(client, issuer_api)
    assert response.status_code == 201
    assert market.calls("ActivateLicense") == []
    assert actions(app)[-3:] == ["code_activated", "code_bound", "key_issued"]
    (binding,) = rows(app, CodeBinding)
    assert binding.activated_at is not None and binding.state == "bound"
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "code_activated"))
        assert "an earlier attempt stopped mid-way" in event.detail


def test_an_activated_code_issued_for_the_first_time_records_no_activation_of_ours(app, client, market, issuer_api):
    market.describe(status="ACTIVATED")
    assert post(client, issuer_api).status_code == 201
    assert "code_activated" not in actions(app)


def test_a_fresh_pending_row_of_another_worker_is_waited_for_then_refused(app, client, market, issuer_api):
    _pending_row(app, OTHER_INSTALL, minutes_ago=0)
    market.describe()
    response = post(client, issuer_api)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "issuing_in_progress"
    (binding,) = rows(app, CodeBinding)
    assert binding.claim_token == "crashed-worker"  # untouched
    assert market.calls("ActivateLicense") == []


# ------------------------------------------------------------------ the API's edges


def test_api_needs_an_issuer_token(app, client, make_user, api_token):
    body = {"authorizationCode": CODE, "installId": INSTALL}
    assert client.post(URL, json=body).status_code == 401
    assert client.post(URL, json=body, headers=api_token("operator")).status_code == 403
    assert client.get(URL, headers=api_token("operator")).status_code == 403


@pytest.mark.parametrize("body, code", [
    ({"authorizationCode": CODE, "installId": "nope"}, "invalid_install_id"),
    ({"authorizationCode": "", "installId": INSTALL}, "code_invalid"),
    ({"authorizationCode": 5, "installId": INSTALL}, "code_invalid"),
])
def test_bad_input_is_422_before_any_marketplace_call(app, client, issuer_api, body, code):
    response = client.post(URL, json=body, headers=issuer_api)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == code


def test_a_body_that_is_not_a_json_object_is_400(app, client, issuer_api):
    response = client.post(URL, data="code=1", headers=issuer_api)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"
    response = client.post(URL, json=[1], headers=issuer_api)
    assert response.status_code == 400


def test_no_authorization_code_in_the_logs(app, client, market, issuer_api, caplog):
    caplog.set_level(logging.DEBUG)
    market.describe()
    market.activate()
    assert post(client, issuer_api).status_code == 201
    market.error("DescribeLicense", "SignatureDoesNotMatch")
    post(client, issuer_api)
    assert CODE not in caplog.text and "testsecret" not in caplog.text
    with app.app_context():
        for event in db.session.scalars(db.select(AuditEvent)):
            assert CODE not in repr((event.before, event.after, event.detail, event.subject))


# ------------------------------------------------------------------ interfaces.md's errors, both endpoints

CODE2 = "AUTH-CODE-0002-9X4M"


def _bound_to_install(market, client, headers):
    market.describe()
    market.activate()
    assert post(client, headers).status_code == 201
    market.describe(status="ACTIVATED")


def _bound_elsewhere(market, client, headers):
    _bound_to_install(market, client, headers)
    return {"installId": OTHER_INSTALL}


def _has_license(market, client, headers):
    _bound_to_install(market, client, headers)
    market.describe(CODE2)  # "is the current code still live?" reads CODE again: registered above
    return {"authorizationCode": CODE2}


INTERFACE_ERRORS = [
    # (what the marketplace answers / what came before, the request's changes, code, status)
    (None, {"installId": "not-an-install-id"}, "invalid_install_id", 422),
    (None, {"authorizationCode": "   "}, "code_invalid", 422),
    (lambda m, c, h: m.error("DescribeLicense", "License.Invalid"), {}, "code_invalid", 422),
    (lambda m, c, h: m.describe(status="EXPIRED"), {}, "code_expired", 422),
    (lambda m, c, h: m.describe(status="DISCARD"), {}, "code_discarded", 422),
    (lambda m, c, h: m.error("DescribeLicense", "Auth.Match"), {}, "code_other_seller", 422),
    (lambda m, c, h: m.describe(product_code="cmgj9999"), {}, "code_wrong_product", 422),
    (lambda m, c, h: m.describe(spec="enterprise"), {}, "unknown_specification", 422),
    (lambda m, c, h: m.error("DescribeLicense", "License.NotFound"), {}, "code_not_found", 404),
    (_bound_elsewhere, {}, "code_bound_elsewhere", 409),
    (_has_license, {}, "install_has_license", 409),
    (lambda m, c, h: m.error("DescribeLicense", "Throttling.User", headers={"x-acs-retry-after": "4000"}), {},
     "marketplace_throttled", 429),
    (lambda m, c, h: m.error("DescribeLicense", "ServiceUnavailable", status=503), {}, "marketplace_unavailable", 503),
    (lambda m, c, h: m.error("DescribeLicense", "InvalidAccessKeyId.NotFound", status=404), {},
     "marketplace_credentials", 502),
]


@pytest.mark.parametrize("url", [URL, "/api/v1/redeem"])
@pytest.mark.parametrize("setup, changes, code, status", INTERFACE_ERRORS,
                         ids=[f"{e[2]}-{i}" for i, e in enumerate(INTERFACE_ERRORS)])
def test_every_error_of_interfaces_md_on_both_endpoints(app, client, market, issuer_api, url, setup, changes,
                                                        code, status):
    extra = setup(market, client, issuer_api) if setup else None
    extra = extra if isinstance(extra, dict) else {}  # a lambda answers what `responses` registered
    body = {"authorizationCode": CODE, "installId": INSTALL, **changes, **extra}
    response = client.post(url, json=body, headers=issuer_api if url == URL else {})
    assert (response.status_code, response.mimetype) == (status, "application/json")
    error = response.get_json()["error"]
    assert set(response.get_json()) == {"error"} and error["code"] == code and error["message"]
    if status == 429:
        assert response.headers["Retry-After"] == "4"
    text = response.get_data(as_text=True)
    assert CODE not in text and CODE2 not in text and str(UID) not in text
    if url != URL:  # buyers are never told where else a code is bound
        assert OTHER_INSTALL not in text or body["installId"] == OTHER_INSTALL
        assert INSTALL not in text or body["installId"] == INSTALL


def test_the_api_message_follows_accept_language_and_the_code_stays(app, client, market, issuer_api):
    """Issue 13: the vendor API keeps its machine codes; its human message is in the asked language."""
    market.describe(status="DISCARD")
    market.describe(status="DISCARD")
    answer = client.post(URL, json={"authorizationCode": CODE, "installId": INSTALL},
                         headers={**issuer_api, "Accept-Language": "zh-CN,zh;q=0.9"})
    error = answer.get_json()["error"]
    assert error["code"] == "code_discarded" and error["message"].startswith("此授权码已被云市场作废"), error
    answer = client.post(URL, json={"authorizationCode": CODE, "installId": INSTALL},
                         headers={**issuer_api, "Accept-Language": "en-US"})
    error = answer.get_json()["error"]
    assert error["code"] == "code_discarded" and error["message"].startswith("This authorization code was discarded")
    # A refusal of the input itself, before the marketplace is asked.
    answer = client.post(URL, json={"authorizationCode": CODE, "installId": "not-hex"},
                         headers={**issuer_api, "Accept-Language": "zh"})
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_install_id" and "安装 ID 必须是 32 位十六进制字符" in error["message"], error
