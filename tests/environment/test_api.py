"""The environment's JSON API: every answer and every error code of interfaces.md."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.environment.conftest import altered
from webapp.database import db
from webapp.models.audit import AuditEvent
from webapp.environment.models import Activation
from webapp.redeem_interface import RedeemError


@pytest.fixture
def op(api_token, clock):
    return api_token("operator")


def _events(app, action):
    with app.app_context():
        return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)).all()


def _history(app):
    with app.app_context():
        return db.session.scalars(db.select(Activation).order_by(Activation.id)).all()


# --- access ------------------------------------------------------------------------------------

def test_needs_a_bearer_token_of_an_operator(client, api_token, clock):
    assert client.get("/api/v1/environment").status_code == 401
    assert client.get("/api/v1/environment", headers=api_token("issuer")).status_code == 403
    assert client.get("/api/v1/environment", headers=api_token("admin")).status_code == 200
    response = client.post("/api/v1/instances", json={"name": "a", "aku": 1}, headers=api_token("issuer"))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


# --- GET /environment --------------------------------------------------------------------------

def test_environment_document_of_the_trial(client, op, clock):
    doc = client.get("/api/v1/environment", headers=op).get_json()
    assert len(doc["installId"]) == 32 and all(c in "0123456789abcdef" for c in doc["installId"])
    lic = doc["license"]
    assert {k: lic[k] for k in ("status", "type", "channel", "aku", "akuInUse", "seq", "reference", "daysLeft",
                                "activatedAt")} == {
        "status": "trial", "type": "trial", "channel": "built-in", "aku": 14, "akuInUse": 0, "seq": 0,
        "reference": None, "daysLeft": 14, "activatedAt": None}
    assert lic["notBefore"] == "2026-11-01T09:00:00Z" and lic["expiresAt"] == "2026-11-15T09:00:00Z"
    assert lic["product"] == "AutoMQ for Kafka ( BYOC Monthly Subscription License )"
    # the install ID never changes
    assert client.get("/api/v1/environment", headers=op).get_json()["installId"] == doc["installId"]


def test_days_left_are_whole_days_rounded_down(client, op, clock):
    def days_left():
        return client.get("/api/v1/environment", headers=op).get_json()["license"]["daysLeft"]

    assert days_left() == 14  # the trial starts now, at the first use
    clock.advance(hours=1)
    assert days_left() == 13  # 13 days 23 hours
    clock.advance(days=13, hours=22, minutes=59)
    lic = client.get("/api/v1/environment", headers=op).get_json()["license"]
    assert (lic["daysLeft"], lic["status"]) == (0, "expiring")  # one minute left: not expired yet


def test_status_precedence_expired_then_expiring_then_trial(client, op, keys, clock):
    """A trial-extension key reads as trial, but expiring and expired come first."""
    client.post("/api/v1/environment/license",
                json={"productKey": keys.make(seq=1, type="trial-extension", days=20)}, headers=op)

    def status():
        return client.get("/api/v1/environment", headers=op).get_json()["license"]["status"]

    assert status() == "trial"
    clock.advance(days=13)
    assert status() == "expiring"
    clock.advance(days=7)
    assert status() == "expired"


def test_status_follows_the_clock(client, op, clock):
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["status"] == "trial"
    clock.advance(days=8)
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["status"] == "expiring"
    clock.advance(days=6)
    lic = client.get("/api/v1/environment", headers=op).get_json()["license"]
    assert lic["status"] == "expired" and lic["daysLeft"] == 0


# --- POST /environment/license -----------------------------------------------------------------

def test_apply_a_key(app, client, op, keys, clock):
    key = keys.make(seq=1, aku=40, days=30)
    response = client.post("/api/v1/environment/license", json={"productKey": key}, headers=op)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["alreadyActive"] is False
    lic = doc["license"]
    assert (lic["status"], lic["type"], lic["channel"], lic["aku"], lic["seq"], lic["reference"], lic["daysLeft"]) == (
        "active", "subscription", "alibaba-marketplace", 40, 1, "****7Q2K", 30)
    assert lic["activatedAt"] == "2026-11-01T09:00:00Z"
    [row] = _history(app)
    assert (row.result, row.key_seq, row.actor) == ("applied", 1, "api-operator@example.com")
    [event] = _events(app, "license_activated")
    assert event.before["seq"] == 0 and event.after["seq"] == 1 and event.after["aku"] == 40


def test_same_key_again_is_already_active_and_not_recorded_again(app, client, op, keys):
    key = keys.make(seq=1)
    client.post("/api/v1/environment/license", json={"productKey": key}, headers=op)
    # people paste keys out of e-mails: line breaks do not matter
    wrapped = "\n".join(key[i:i + 60] for i in range(0, len(key), 60))
    response = client.post("/api/v1/environment/license", json={"productKey": wrapped}, headers=op)
    assert response.status_code == 200 and response.get_json()["alreadyActive"] is True
    assert len(_history(app)) == 1 and len(_events(app, "license_activated")) == 1


def test_renewal_and_downgrade_apply(client, op, keys, clock):
    client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=1, aku=40, days=30)}, headers=op)
    clock.advance(days=25)
    renewed = client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=2, aku=40, days=30)},
                          headers=op).get_json()["license"]
    assert renewed["seq"] == 2 and renewed["daysLeft"] == 30 and renewed["status"] == "active"
    assert renewed["activatedAt"] == "2026-11-26T09:00:00Z"  # the re-activation's time
    down = client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=3, aku=10, days=30)},
                       headers=op).get_json()["license"]
    assert down["aku"] == 10 and down["seq"] == 3


def _refused(client, op, key_text, code, status=422):
    response = client.post("/api/v1/environment/license", json={"productKey": key_text}, headers=op)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def test_every_refusal_has_its_code_and_changes_nothing(app, client, op, keys, clock):
    install = keys.install_id()
    error = _refused(client, op, "not a key at all", "malformed_key")
    assert error["message"].startswith("This is not a product key. A product key is a long text that starts with "
                                       "eyJpbnN0YWxsSWQiOi: copy the whole key")
    assert error["reason"] == "the decoded bytes are not UTF-8 text"  # precise, for scripts and support
    assert "UTF-8" not in error["message"]
    error = _refused(client, op, keys.make(stranger=True), "signature_invalid")
    assert "vendor key that this environment does not know" in error["message"] and error["reason"] == "unknown kid"
    error = _refused(client, op, altered(keys.make(seq=9), aku=4000), "signature_invalid")
    assert "altered" in error["message"]
    error = _refused(client, op, keys.make(install_id="0123456789abcdef0123456789abcdef"), "wrong_install_id")
    assert install in error["message"]
    _refused(client, op, keys.make(issued_at=clock.now + timedelta(minutes=10)), "clock_skew")
    _refused(client, op, keys.make(not_before=clock.now + timedelta(days=1)), "not_yet_valid")
    _refused(client, op, keys.make(issued_at=clock.now - timedelta(days=40), days=30), "key_expired")
    client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=5)}, headers=op)
    _refused(client, op, keys.make(seq=4), "older_key")
    _refused(client, op, keys.make(seq=5), "older_key")  # same seq, another id
    lic = client.get("/api/v1/environment", headers=op).get_json()["license"]
    assert lic["seq"] == 5
    history = _history(app)
    assert [r.error_code for r in history if r.result == "refused"] == [
        "malformed_key", "signature_invalid", "signature_invalid", "wrong_install_id", "clock_skew",
        "not_yet_valid", "key_expired", "older_key", "older_key"]
    assert history[-1].key_seq == 5 and history[-2].key_seq == 4  # decodable keys name their seq
    assert history[2].key_seq == 9 and history[2].actor == "api-operator@example.com"
    refusals = _events(app, "license_activation_refused")
    assert len(refusals) == 9
    # support reads the precise reason in the audit log; the history keeps the plain message
    assert refusals[0].detail.endswith("(reason: the decoded bytes are not UTF-8 text)")
    assert "UTF-8" not in history[0].error_message


def test_a_cut_short_key_is_said_so_in_plain_words(client, op, keys):
    error = _refused(client, op, keys.make(seq=1)[:200], "malformed_key")
    assert error["message"].startswith("This product key is incomplete or damaged. Part of it is missing or was changed")
    assert error["reason"] == "the decoded text is not JSON" and "field" not in error


def test_body_without_a_product_key(client, op):
    for body in ({}, {"productKey": 5}, ["x"]):
        response = client.post("/api/v1/environment/license", json=body, headers=op)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "malformed_key"


def test_big_body_is_413(app, client, op):
    response = client.post("/api/v1/environment/license", json={"productKey": "A" * 70_000}, headers=op)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    for url, body in (("/api/v1/environment/redeem", {"authorizationCode": "A" * 9000}),
                      ("/api/v1/instances", {"name": "a" * 9000, "aku": 1})):
        response = client.post(url, json=body, headers=op)
        assert (response.status_code, response.get_json()["error"]["code"]) == (413, "payload_too_large"), url
    assert _history(app) == []  # nothing recorded, nothing changed


def test_a_key_over_16_kib_is_malformed(client, op):
    _refused(client, op, "A" * 20_000, "malformed_key")


def test_clock_moved_back_does_not_revive_an_expired_license(client, op, keys, clock):
    client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=1, days=10)}, headers=op)
    clock.advance(days=11)
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["status"] == "expired"
    clock.advance(days=-9)  # someone moves the clock back
    lic = client.get("/api/v1/environment", headers=op).get_json()["license"]
    assert lic["status"] == "expired"
    response = client.post("/api/v1/instances", json={"name": "late", "aku": 1}, headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "license_expired"


# --- instances ---------------------------------------------------------------------------------

def test_instances_create_list_grow_delete(app, client, op):
    created = client.post("/api/v1/instances", json={"name": "kafka-1", "aku": 6}, headers=op)
    assert created.status_code == 201
    item = created.get_json()
    assert item["name"] == "kafka-1" and item["aku"] == 6 and item["createdAt"] == "2026-11-01T09:00:00Z"
    assert client.get("/api/v1/instances", headers=op).get_json() == {"items": [item]}
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["akuInUse"] == 6

    grown = client.patch(f"/api/v1/instances/{item['id']}", json={"aku": 14}, headers=op)
    assert grown.status_code == 200 and grown.get_json()["aku"] == 14
    too_big = client.patch(f"/api/v1/instances/{item['id']}", json={"aku": 15}, headers=op)
    assert too_big.status_code == 409 and too_big.get_json()["error"]["code"] == "insufficient_aku"

    assert client.delete(f"/api/v1/instances/{item['id']}", headers=op).status_code == 204
    assert client.get("/api/v1/instances", headers=op).get_json() == {"items": []}
    actions = [e.action for e in _events(app, "instance_created") + _events(app, "instance_grown")
               + _events(app, "instance_deleted")]
    assert actions == ["instance_created", "instance_grown", "instance_deleted"]


def test_instance_refusals(client, op, clock):
    client.post("/api/v1/instances", json={"name": "a", "aku": 10}, headers=op)
    cases = [
        ({"name": "a", "aku": 1}, 409, "instance_name_taken"),
        ({"name": "b", "aku": 5}, 409, "insufficient_aku"),
        ({"name": "B!", "aku": 1}, 422, "invalid_name"),
        ({"name": "", "aku": 1}, 422, "invalid_name"),
        ({"name": "c", "aku": 0}, 422, "invalid_aku"),
        ({"name": "c", "aku": True}, 422, "invalid_aku"),
        ({"name": "c", "aku": 1.5}, 422, "invalid_aku"),
        ({"name": "c"}, 422, "invalid_aku"),
    ]
    for body, status, code in cases:
        response = client.post("/api/v1/instances", json=body, headers=op)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    response = client.post("/api/v1/instances", data="nope", headers=op)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_input"
    error = client.post("/api/v1/instances", json={"name": "b", "aku": 5}, headers=op).get_json()["error"]
    assert "only 4 of the 14 AKU licensed are free" in error["message"]
    assert client.patch("/api/v1/instances/999", json={"aku": 1}, headers=op).status_code == 404
    assert client.delete("/api/v1/instances/nope", headers=op).status_code == 404


def test_after_expiry_running_instances_keep_running_and_may_shrink(client, op, clock):
    item = client.post("/api/v1/instances", json={"name": "a", "aku": 4}, headers=op).get_json()
    clock.advance(days=15)
    assert client.get("/api/v1/instances", headers=op).get_json()["items"][0]["name"] == "a"
    for call in (lambda: client.post("/api/v1/instances", json={"name": "b", "aku": 1}, headers=op),
                 lambda: client.patch(f"/api/v1/instances/{item['id']}", json={"aku": 5}, headers=op)):
        response = call()
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "license_expired"
    assert client.patch(f"/api/v1/instances/{item['id']}", json={"aku": 2}, headers=op).status_code == 200
    assert client.delete(f"/api/v1/instances/{item['id']}", headers=op).status_code == 204


# --- redeem and renewal-check (in-process vendor, as in role both) ------------------------------

class FakeVendor:
    def __init__(self, keys):
        self.keys = keys
        self.seq = 0
        self.current = None
        self.calls = []
        self.fail: RedeemError | None = None

    def issue(self, **terms):
        self.seq += 1
        self.current = self.keys.make(seq=self.seq, **terms)

    def __call__(self, code, install_id):
        self.calls.append((code, install_id))
        if self.fail:
            raise self.fail
        if self.current is None:
            self.issue()
        return {"productKey": self.current, "license": {}}


@pytest.fixture
def vendor(app, keys):
    fake = FakeVendor(keys)
    app.extensions["license_platform"].services["redeem"] = fake
    return fake


def test_redeem_applies_and_remembers_the_code_encrypted(app, client, op, vendor):
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": " ABCD-1234-7Q2K "}, headers=op)
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert doc["alreadyActive"] is False and doc["license"]["seq"] == 1
    assert doc["authorizationCode"] == "****7Q2K"
    assert vendor.calls == [("ABCD-1234-7Q2K", doc["installId"])]
    from webapp.environment.models import EnvironmentState

    with app.app_context():
        row = db.session.get(EnvironmentState, 1)
        assert "7Q2K" not in row.authorization_code_encrypted
    assert _history(app)[-1].source == "redeem"


def test_redeem_passes_the_vendors_errors_through(app, client, op, vendor):
    vendor.fail = RedeemError("code_bound_elsewhere", "This code activates another environment.", 409)
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "ABCD"}, headers=op)
    assert response.status_code == 409
    assert response.get_json()["error"] == {"code": "code_bound_elsewhere",
                                            "message": "This code activates another environment."}
    vendor.fail = RedeemError("rate_limited", "Too many.", 429, retry_after=30)
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "ABCD"}, headers=op)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert [r.error_code for r in _history(app)] == ["code_bound_elsewhere", "rate_limited"]
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "  "}, headers=op)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "code_invalid"


def test_renewal_check(client, op, vendor, clock):
    response = client.post("/api/v1/environment/renewal-check", headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "no_remembered_code"
    client.post("/api/v1/environment/redeem", json={"authorizationCode": "ABCD-7Q2K"}, headers=op)
    same = client.post("/api/v1/environment/renewal-check", headers=op).get_json()
    assert same["renewed"] is False and same["alreadyActive"] is True
    clock.advance(days=25)
    vendor.issue(days=60)
    renewed = client.post("/api/v1/environment/renewal-check", headers=op).get_json()
    assert renewed["renewed"] is True and renewed["license"]["seq"] == 2 and renewed["license"]["daysLeft"] == 60
    assert vendor.calls[-1][0] == "ABCD-7Q2K"


def test_an_expiry_seen_within_the_minute_survives_the_clock_moved_back(client, op, keys, clock):
    """The high-water mark moves at most once a minute, but the first read that sees the license
    expired records it at once: otherwise moving the clock back within that minute revives it."""
    client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=1, days=10)}, headers=op)
    clock.advance(days=10, seconds=-30)
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["status"] == "expiring"
    clock.advance(seconds=40)  # 10 s after expiry, 40 s after the last high-water write
    assert client.get("/api/v1/environment", headers=op).get_json()["license"]["status"] == "expired"
    clock.advance(days=-9)
    lic = client.get("/api/v1/environment", headers=op).get_json()["license"]
    assert (lic["status"], lic["daysLeft"]) == ("expired", 0)
    response = client.post("/api/v1/instances", json={"name": "late", "aku": 1}, headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "license_expired"


def test_a_pasted_key_of_another_reference_forgets_the_remembered_code(app, client, op, vendor, keys):
    client.post("/api/v1/environment/redeem", json={"authorizationCode": "ABCD-7Q2K"}, headers=op)
    renewal = client.post("/api/v1/environment/license", json={"productKey": keys.make(seq=2, reference="****7Q2K")},
                          headers=op).get_json()
    assert renewal["authorizationCode"] == "****7Q2K"  # the same code's renewal, pasted: still remembered
    contract = client.post("/api/v1/environment/license",
                           json={"productKey": keys.make(seq=3, channel="offline-contract", reference="C-2026-7")},
                           headers=op).get_json()
    assert contract["authorizationCode"] is None and contract["license"]["reference"] == "C-2026-7"
    response = client.post("/api/v1/environment/renewal-check", headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "no_remembered_code"
    [event] = [e for e in _events(app, "license_activated") if e.after["seq"] == 3]
    assert "authorization code ****7Q2K forgotten" in event.detail


def test_the_message_follows_accept_language_and_the_code_stays(client, op, keys, clock):
    """Issue 13: the JSON API keeps its machine codes; its human message is in the asked language."""
    def refused(key_text, language):
        response = client.post("/api/v1/environment/license", json={"productKey": key_text},
                               headers={**op, "Accept-Language": language})
        assert response.status_code == 422
        return response.get_json()["error"]

    error = refused("not a key at all", "zh-CN,zh;q=0.9")
    assert error["code"] == "malformed_key" and error["message"].startswith("这不是产品密钥。")
    error = refused("not a key at all", "en-US")
    assert error["code"] == "malformed_key" and error["message"].startswith("This is not a product key.")
    response = client.post("/api/v1/instances", json={"name": "big", "aku": 10_000},
                           headers={**op, "Accept-Language": "zh"})
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_aku" and "创建此实例需要 10000 AKU" in error["message"], error
