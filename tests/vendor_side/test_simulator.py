"""Integration against the in-process Market API simulator (the demo's marketplace): the staff
pages, redemption (page, API, in-process service), admin transfer and replace, offline keys,
and the race of two workers on one code."""
from __future__ import annotations

import json
import threading

import pytest

from webapp.database import db
from webapp.models.audit import AuditEvent
from webapp.vendor_side.models import IssuedKey
from webapp.vendor_side.models import CodeBinding

from .conftest import INSTALL, OTHER_INSTALL, sim

READY = "DEMO-AKU20-READY-7K3Q"
READY40 = "DEMO-AKU40-READY-9M2X"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"


@pytest.fixture
def app_config():
    return {"LICENSE_PENDING_WAIT": 10.0}  # no credentials: the simulator, seeded with the demo codes


def text(response):
    return response.get_data(as_text=True)


def htmx(client, url, data):
    return client.post(url, data=data, headers={"HX-Request": "true"})


# ------------------------------------------------------------------ wiring


def test_demo_defaults_match_the_demo_codes(app):
    market = app.extensions["license_vendor"]
    assert market.simulated and market.product_code == "cmgj00demo01"
    assert {k: s.aku for k, s in market.specs.items()} == {"aku-20": 20, "aku-40": 40}
    assert app.extensions["license_platform"].homes["issuer"] == "vendor.issue_page"


def test_real_credentials_need_a_product_code_and_specs(tmp_path):
    from webapp.vendor_side.marketplace import MarketplaceConfigError

    from tests.conftest import TestConfig
    from webapp import create_app

    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                  LICENSE_ROLE="vendor", LICENSE_SKIP_SIGNING_KEY_CHECK=True,
                  ALIBABA_CLOUD_ACCESS_KEY_ID="id", ALIBABA_CLOUD_ACCESS_KEY_SECRET="secret")
    with pytest.raises(MarketplaceConfigError, match="MARKETPLACE_PRODUCT_CODE"):
        create_app(dict(config))
    with pytest.raises(MarketplaceConfigError, match="MARKETPLACE_SPECS"):
        create_app(dict(config, MARKETPLACE_PRODUCT_CODE="p"))
    with pytest.raises(MarketplaceConfigError, match="MARKETPLACE_ACTIVATE"):
        create_app(dict(config, MARKETPLACE_PRODUCT_CODE="p", MARKETPLACE_SPECS='{"a": 1}', MARKETPLACE_ACTIVATE="maybe"))


# ------------------------------------------------------------------ staff: verify, then issue


def test_staff_verify_shows_the_marketplace_and_what_we_know(app, client, auth):
    auth.login("issuer")
    page = client.get("/vendor/issue")
    assert page.status_code == 200
    assert 'for="code">Authorization code</label>' in text(page) and 'for="install_id">Install ID</label>' in text(page)
    response = htmx(client, "/vendor/issue/verify", {"code": READY, "install_id": INSTALL})
    html = text(response)
    assert response.status_code == 200
    assert "INACTIVATED" in html and "aku-20" in html and "20 AKU" in html
    assert "1234****0001" in html and "1234567890120001" not in html  # buyer account masked
    assert "New license" in html and "not bound yet" in html and "built-in trial" in html
    assert f'name="code" value="{READY}"' in html  # the typed values go on to "Issue"
    assert "Issue product key" in html
    assert sim(app).calls("ActivateLicense") == []  # verifying writes nothing
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(CodeBinding)) == 0


def test_staff_issue_shows_the_key_copy_download_and_message(app, client, auth):
    auth.login("issuer")
    response = htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL})
    html = text(response)
    assert response.status_code == 200
    assert "Product key issued" in html and 'id="product-key"' in html
    assert 'data-copy-target="#product-key"' in html and f'data-download="product-key-{INSTALL}-seq1.txt"' in html
    assert 'id="buyer-message"' in html and "Update Product License" in html
    assert "HX-Trigger" in response.headers
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey))
        assert key.product_key in html and key.issued_by == "issuer@example.com"


def test_plain_form_issue_redirects_to_the_key_page(app, client, auth):
    auth.login("issuer")
    response = client.post("/vendor/issue", data={"code": READY, "install_id": INSTALL})
    assert response.status_code == 303 and "/vendor/keys/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "Product key issued." in text(page) and "Timeline" in text(page) and "Key issued" in text(page)


def test_verify_of_a_renewal_shows_before_and_after(app, client, auth):
    auth.login("issuer")
    htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL})
    sim(app).renew(READY, days=30)
    sim(app).change_specification(READY, "aku-40")
    html = text(htmx(client, "/vendor/issue/verify", {"code": READY, "install_id": INSTALL}))
    assert "Renewal and specification change" in html
    assert "(+20)" in html and "(later)" in html and "this install ID" in html
    issued = text(htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL}))
    assert "Seq 2" in issued and "40 AKU" in issued


@pytest.mark.parametrize("data, field", [
    ({"code": "", "install_id": INSTALL}, "code"),
    ({"code": READY, "install_id": "123"}, "install_id"),
])
def test_bad_fields_are_said_next_to_the_field(app, client, auth, data, field):
    auth.login("issuer")
    response = htmx(client, "/vendor/issue/verify", data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in text(response)


def test_a_refused_code_is_explained_and_cannot_be_issued(app, client, auth):
    auth.login("issuer")
    html = text(htmx(client, "/vendor/issue/verify", {"code": "DEMO-DISCARD-3H7Z", "install_id": INSTALL}))
    assert 'id="refusal"' in html and 'data-error-code="code_discarded"' in html and "discarded" in html
    assert "Issue product key</button>" not in html


def test_staff_pages_need_a_staff_role(app, client, auth):
    assert client.get("/vendor/issue").status_code == 302
    auth.login("operator")
    for url in ("/vendor/issue", "/vendor/keys", "/vendor/audit", "/vendor/decode", "/vendor/attention",
                "/vendor/demo-codes"):
        assert client.get(url).status_code == 403, url


# ------------------------------------------------------------------ admin: transfer, replace, offline


def test_issuers_cannot_transfer_or_replace(app, client, auth):
    auth.login("issuer")
    response = htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL, "transfer": "1", "reason": "x"})
    assert response.status_code == 403


def test_admin_transfers_a_code_with_a_reason(app, client, auth):
    auth.login("admin")
    htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL})
    verify = text(htmx(client, "/vendor/issue/verify", {"code": READY, "install_id": OTHER_INSTALL}))
    assert "another install ID" in verify and "Transfer and issue" in verify
    refused = htmx(client, "/vendor/issue", {"code": READY, "install_id": OTHER_INSTALL, "transfer": "1", "reason": ""})
    assert refused.status_code == 422 and "Give a reason" in text(refused)
    done = htmx(client, "/vendor/issue", {"code": READY, "install_id": OTHER_INSTALL, "transfer": "1",
                                          "reason": "ticket 42: environment rebuilt"})
    assert done.status_code == 200 and "Product key issued" in text(done)
    with app.app_context():
        binding = db.session.scalar(db.select(CodeBinding))
        assert binding.install_id == OTHER_INSTALL
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "code_transferred"))
        assert event.before == {"installId": INSTALL} and event.after == {"installId": OTHER_INSTALL}
        assert event.detail == "ticket 42: environment rebuilt" and event.actor == "admin@example.com"


def test_admin_replaces_a_live_license(app, client, auth):
    auth.login("admin")
    htmx(client, "/vendor/issue", {"code": READY, "install_id": INSTALL})
    verify = text(htmx(client, "/vendor/issue/verify", {"code": READY40, "install_id": INSTALL}))
    assert "already has a live license" in verify and "Replace and issue" in verify
    done = htmx(client, "/vendor/issue", {"code": READY40, "install_id": INSTALL, "replace": "1", "reason": "upgrade deal"})
    assert "Product key issued" in text(done)
    with app.app_context():
        states = {b.code_last4: b.state for b in db.session.scalars(db.select(CodeBinding))}
        assert states == {"7K3Q": "replaced", "9M2X": "bound"}
        assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "license_replaced")).detail == "upgrade deal"


def test_admin_offline_and_trial_extension_keys(app, client, auth):
    auth.login("admin")
    assert client.get("/vendor/offline").status_code == 200
    bad = htmx(client, "/vendor/offline", {"install_id": INSTALL, "aku": "0", "days": "", "contract": "", "reason": ""})
    assert bad.status_code == 422 and 'id="aku-error"' in text(bad) and 'id="reason-error"' in text(bad)
    done = htmx(client, "/vendor/offline", {"install_id": INSTALL, "type": "trial-extension", "aku": "14", "days": "14",
                                            "contract": "TRIAL-7", "reason": "evaluation needs two more weeks"})
    assert done.status_code == 200 and "Product key issued" in text(done)
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey))
        assert (key.type, key.channel, key.reference, key.aku) == ("trial-extension", "offline-contract", "TRIAL-7", 14)
        assert key.reason == "evaluation needs two more weeks"


def test_offline_keys_are_for_admins_only(app, client, auth):
    auth.login("issuer")
    assert client.get("/vendor/offline").status_code == 403


# ------------------------------------------------------------------ buyers


def test_buyer_redeems_on_the_public_page(app, client):
    page = client.get("/redeem")
    assert page.status_code == 200 and "Purchased Services" in text(page)
    response = htmx(client, "/redeem", {"code": READY, "install_id": INSTALL})
    html = text(response)
    assert response.status_code == 200 and "Your product key" in html and "Update Product License" in html
    again = htmx(client, "/redeem", {"code": READY, "install_id": OTHER_INSTALL})
    assert again.status_code == 422 and "contact support" in text(again)
    assert OTHER_INSTALL not in text(again).split("redeem-error")[1] and INSTALL not in text(again)


def test_buyer_api_answers_only_the_key_and_its_terms(app, client):
    response = client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": INSTALL})
    assert response.status_code == 201
    assert set(response.get_json()) == {"productKey", "license"}
    again = client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": INSTALL})
    assert again.status_code == 200 and again.get_json() == response.get_json()
    other = client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": OTHER_INSTALL})
    assert other.status_code == 409 and INSTALL not in other.get_json()["error"]["message"]
    second = client.post("/api/v1/redeem", json={"authorizationCode": READY40, "installId": INSTALL})
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "install_has_license"
    assert "contact support" in second.get_json()["error"]["message"]
    with app.app_context():
        assert db.session.scalar(db.select(IssuedKey)).issued_by == "buyer (self-service)"
        refused = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "redeem_refused")).all()
        assert [e.after["error"] for e in refused] == ["code_bound_elsewhere", "install_has_license"]


def test_redemption_renews_with_the_same_code(app, client):
    first = client.post("/api/v1/redeem", json={"authorizationCode": ACTIVE, "installId": INSTALL}).get_json()
    sim(app).renew(ACTIVE, days=30)
    renewed = client.post("/api/v1/redeem", json={"authorizationCode": ACTIVE, "installId": INSTALL})
    assert renewed.status_code == 201
    assert renewed.get_json()["license"]["seq"] == first["license"]["seq"] + 1
    assert renewed.get_json()["license"]["expiresAt"] > first["license"]["expiresAt"]


def test_the_redeem_service_is_registered_for_the_environment_side(app):
    from webapp.redeem_interface import RedeemError

    redeem = app.extensions["license_platform"].services["redeem"]
    with app.test_request_context("/settings"):
        answer = redeem(READY, INSTALL)
        assert set(answer) == {"productKey", "license"} and answer["license"]["aku"] == 20
        with pytest.raises(RedeemError) as caught:
            redeem("DEMO-EXPIRED-5R1N", INSTALL)
    assert (caught.value.code, caught.value.http_status) == ("code_expired", 422)


def test_redemption_is_rate_limited_per_client_and_per_code(app, client):
    body = {"authorizationCode": "DEMO-EXPIRED-5R1N", "installId": INSTALL}
    statuses = [client.post("/api/v1/redeem", json=body).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]  # 5 an hour per code
    limited = client.post("/api/v1/redeem", json=body)
    assert limited.get_json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0
    other = {"authorizationCode": "DEMO-DISCARD-3H7Z", "installId": INSTALL}
    statuses = [client.post("/api/v1/redeem", json=other).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]  # 10 a minute per client: 7 + 3
    assert client.post("/api/v1/redeem", json=other, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 422


class Clock:
    """`time` for the rate-limit storage and the redemption module: only `time()` moves."""

    def __init__(self):
        import time

        self.now = time.time()
        self.sleep, self.monotonic = time.sleep, time.monotonic

    def time(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_redemption_limits_are_overview_mds_as_moving_windows(app, client, monkeypatch):
    """10 a minute and 50 a day per client, 5 an hour per code; 429 rate_limited + Retry-After."""
    import limits.storage.memory

    from webapp.vendor_side import redeem

    assert (app.config["VENDOR_REDEEM_CLIENT_LIMITS"], app.config["VENDOR_REDEEM_CODE_LIMITS"]) == \
        ("10/minute;50/day", "5/hour")
    clock = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(redeem, "time", clock)
    codes = iter(f"UNKNOWN-{i:04d}" for i in range(100))

    def attempt(code=None, address="10.0.0.1"):
        return client.post("/api/v1/redeem", json={"authorizationCode": code or next(codes), "installId": INSTALL},
                           environ_base={"REMOTE_ADDR": address})

    for minute in range(5):
        assert [attempt().status_code for _ in range(10)] == [404] * 10, minute  # code_not_found
        clock.advance(30)
        limited = attempt()  # the 11th within a minute
        assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
        assert 25 <= int(limited.headers["Retry-After"]) <= 31  # a moving window: when the first frees
        clock.advance(31)
    day = attempt()  # the 51st of the day
    assert day.status_code == 429 and "(at most 50 a day). Wait about 24 hours" in day.get_json()["error"]["message"]
    assert int(day.headers["Retry-After"]) > 23 * 3600
    clock.advance(24 * 3600)
    assert attempt().status_code == 404

    clock.advance(24 * 3600)  # a moving window: never 10 more right after the turn of a minute
    assert [attempt().status_code for _ in range(5)] == [404] * 5
    clock.advance(50)
    assert [attempt().status_code for _ in range(5)] == [404] * 5
    clock.advance(11)  # the first five are a minute old, the last five are not
    assert [attempt().status_code for _ in range(6)] == [404] * 5 + [429]

    code = "UNKNOWN-SAME"
    assert [attempt(code, "10.0.0.2").status_code for _ in range(5)] == [404] * 5
    other_client = attempt(code, "10.0.0.3")  # per code, whoever asks
    message = other_client.get_json()["error"]["message"]
    assert other_client.status_code == 429 and "for this authorization code (at most 5 an hour)" in message
    assert "Wait 60 minutes" in message or "Wait about 1 hour" in message  # never "3600 seconds"
    assert "support" not in message
    assert 3500 < int(other_client.headers["Retry-After"]) <= 3600
    clock.advance(3601)
    assert attempt(code, "10.0.0.3").status_code == 404


def test_the_redemption_answer_holds_no_buyer_data(app, client):
    response = client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": INSTALL})
    body = response.get_json()
    assert set(body) == {"productKey", "license"}
    assert set(body["license"]) == {"format", "id", "seq", "type", "channel", "reference", "product", "aku",
                                    "issuedAt", "notBefore", "expiresAt"}
    from webapp import product_key

    text = json.dumps([body["license"], product_key.decode(body["productKey"])])
    for secret in (READY, "1234567890120001", "1234****", "2567890120001", "bu***@example.com"):
        assert secret not in text  # the code itself, the buyer's AliUid (even masked), order id, e-mail
    assert body["license"]["reference"] == "****7K3Q"


def test_the_redeem_page_is_rate_limited_too(app, client):
    app.config["VENDOR_REDEEM_CLIENT_LIMITS"] = "2/minute"
    for _ in range(2):
        htmx(client, "/redeem", {"code": "NOPE-0000", "install_id": INSTALL})
    limited = htmx(client, "/redeem", {"code": "NOPE-0000", "install_id": INSTALL})
    assert limited.status_code == 422 and "Too many" in text(limited) and "Retry-After" in limited.headers


# ------------------------------------------------------------------ the race


@pytest.mark.parametrize("installs", [(INSTALL, INSTALL), (INSTALL, OTHER_INSTALL)])
def test_two_workers_racing_on_one_code_cannot_both_win(app, installs):
    from webapp.vendor_side.issuing import issue_from_code
    from webapp.vendor_side.rules import IssueError

    barrier = threading.Barrier(2)
    results: list = [None, None]

    def worker(i):
        with app.app_context():
            barrier.wait()
            try:
                issued = issue_from_code(READY, installs[i], actor=f"worker-{i}")
                results[i] = ("created" if issued.created else "stored", issued.key.id)
            except IssueError as exc:
                results[i] = ("refused", exc.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    outcomes = sorted(r[0] for r in results)
    with app.app_context():
        keys = db.session.scalars(db.select(IssuedKey)).all()
        bindings = db.session.scalars(db.select(CodeBinding)).all()
    assert len(keys) == 1 and len(bindings) == 1 and bindings[0].state == "bound"
    assert outcomes.count("created") == 1
    if installs[0] == installs[1]:
        assert outcomes == ["created", "stored"] and results[0][1] == results[1][1]
    else:
        assert outcomes == ["created", "refused"]
        assert [r[1] for r in results if r[0] == "refused"] == ["code_bound_elsewhere"]
    assert len(sim(app).calls("ActivateLicense")) == 1
