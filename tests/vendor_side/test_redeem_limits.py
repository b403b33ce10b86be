"""Issue 8: renewal checks and redemption limits.

The per-code limit (5 an hour) stops guessing; the environment a code is bound to, asking for its
own newest key ("Check for renewal", or redeeming the same code again), never consumes it and is
never blocked by it. Its checks reuse the code's last marketplace read for a short while, so
pressing the button again and again does not call DescribeLicense each time. Waits are written
in words for people; `Retry-After` stays in seconds.
"""
from __future__ import annotations

import time as _time
from datetime import timedelta

import pytest

from webapp.database import db
from webapp.vendor_side.models import CodeBinding
from webapp.vendor_side.rules import limit_phrase, rate_limit_message, wait_phrase

from .conftest import INSTALL, OTHER_INSTALL, sim

READY = "DEMO-AKU20-READY-7K3Q"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
HX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    # The simulator, with the cache the real marketplace gets by default (the demo has none).
    return {"VENDOR_REDEEM_CODE_CACHE_SECONDS": 60}


class Clock:
    """`time` for the rate-limit storage and the redemption module: only `time()` moves."""

    def __init__(self):
        self.now = _time.time()
        self.sleep, self.monotonic = _time.sleep, _time.monotonic

    def time(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    import limits.storage.memory

    from webapp.vendor_side import redeem

    c = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", c)
    monkeypatch.setattr(redeem, "time", c)
    return c


def redeem(client, code=READY, install=INSTALL, address="10.0.0.1"):
    return client.post("/api/v1/redeem", json={"authorizationCode": code, "installId": install},
                       environ_base={"REMOTE_ADDR": address})


def describes(app) -> int:
    return len(sim(app).calls("DescribeLicense"))


def age_the_last_read(app, code=READY, seconds=61):
    """Make the binding's stored marketplace read `seconds` older (the cache is in real time)."""
    from webapp.vendor_side.bindings import find_binding

    with app.app_context():
        binding = find_binding(code)
        binding.checked_at = binding.checked_at - timedelta(seconds=seconds)
        db.session.commit()


# ------------------------------------------------------------------ the wording (pure)


@pytest.mark.parametrize("seconds, words", [
    (0, "1 second"), (0.2, "1 second"), (1, "1 second"), (30, "30 seconds"), (59, "59 seconds"),
    (59.5, "1 minute"), (60, "1 minute"), (61, "2 minutes"), (3485, "59 minutes"), (3540, "59 minutes"),
    (3541, "about 1 hour"), (3600, "about 1 hour"), (5399, "about 1 hour"), (5400, "about 2 hours"),
    (86_399, "about 24 hours"),
])
def test_waits_are_written_for_people(seconds, words):
    assert wait_phrase(seconds) == words


def test_limits_are_written_for_people():
    assert limit_phrase(5, 1, "hour") == "5 an hour"
    assert limit_phrase(10, 1, "minute") == "10 a minute"
    assert limit_phrase(50, 1, "day") == "50 a day"
    assert limit_phrase(100, 2, "hour") == "100 every 2 hours"


def test_the_rate_limit_message_says_how_long_and_never_sends_people_to_support():
    message = rate_limit_message("code", 3485, "5 an hour")
    assert message == ("Too many redemption attempts for this authorization code (at most 5 an hour). "
                       "Wait 59 minutes, then try again.")
    assert "seconds" not in message and "support" not in message.lower()
    assert rate_limit_message("client", 30) == "Too many redemption attempts from this address. Wait 30 seconds, then try again."


# ------------------------------------------------------------------ the owner is not guessing


def test_the_bound_environment_checks_20_times_and_is_never_limited_per_code(app, client, clock):
    assert redeem(client).status_code == 201
    statuses = []
    for _ in range(20):
        clock.advance(10)  # 6 a minute: within the owner's 10 a minute
        statuses.append(redeem(client).status_code)
    assert statuses == [200] * 20
    # The code's 5 an hour is untouched by the owner: the first redemption was one of them, so
    # four attempts by anyone else are still left, then the fifth is refused.
    others = [redeem(client, install=OTHER_INSTALL, address="10.0.0.2").status_code for _ in range(5)]
    assert others == [409] * 4 + [429]


def test_guessing_is_still_limited_per_code_and_the_owner_is_not_locked_out(app, client, clock):
    assert redeem(client).status_code == 201
    # Someone else tries the bound code with other install IDs, from another address.
    tries = [redeem(client, install=OTHER_INSTALL, address="10.0.0.2") for _ in range(5)]
    assert [t.status_code for t in tries] == [409] * 4 + [429]
    limited = tries[-1]
    message = limited.get_json()["error"]["message"]
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 3500 < int(limited.headers["Retry-After"]) <= 3600
    assert "Wait 59 minutes" in message or "Wait about 1 hour" in message
    assert "seconds" not in message and "support" not in message.lower()
    # The owner is still served at once.
    assert redeem(client).status_code == 200
    # Unknown codes: 5 an hour per code, whoever asks.
    unknown = [redeem(client, code="UNKNOWN-GUESS-0001", address=f"10.0.1.{i}").status_code for i in range(6)]
    assert unknown == [404] * 5 + [429]


def test_an_expired_or_discarded_code_does_not_lock_its_own_environment_out(app, client, clock):
    assert redeem(client).status_code == 201
    sim(app).discard(READY)
    age_the_last_read(app)
    answers = []
    for _ in range(8):
        clock.advance(10)
        answers.append(redeem(client))
    assert [a.status_code for a in answers] == [422] * 8
    assert {a.get_json()["error"]["code"] for a in answers} == {"code_discarded"}


def test_the_owner_counts_against_the_clients_minute_only(app, client, clock):
    assert redeem(client).status_code == 201
    statuses = [redeem(client).status_code for _ in range(10)]
    assert statuses == [200] * 9 + [429]  # 10 a minute from one address, the first redemption included
    limited = redeem(client)
    message = limited.get_json()["error"]["message"]
    assert "from this address (at most 10 a minute)" in message and "Wait 1 minute" in message
    assert "support" not in message.lower() and 0 < int(limited.headers["Retry-After"]) <= 60
    # Not the day: 60 more checks over six hours leave the address its 50 a day for new codes.
    for _ in range(60):
        clock.advance(6 * 60)
        assert redeem(client).status_code == 200
    fresh = [redeem(client, code=f"UNKNOWN-{i:04d}").status_code for i in range(9)]
    assert fresh == [404] * 9


def test_owner_limits_are_configurable(app, client, clock):
    app.config["VENDOR_REDEEM_OWNER_LIMITS"] = "3/minute"
    assert redeem(client).status_code == 201  # not yet the owner: the client's limits
    assert [redeem(client).status_code for _ in range(4)] == [200, 200, 200, 429]


# ------------------------------------------------------------------ the marketplace is asked at most once a minute


def test_renewal_checks_reuse_the_last_read_for_a_minute(app, client, clock):
    assert redeem(client).status_code == 201
    before = describes(app)
    for _ in range(20):
        clock.advance(10)
        assert redeem(client).status_code == 200
    assert describes(app) == before  # the read stored when the key was issued serves them all
    age_the_last_read(app)
    clock.advance(10)
    assert redeem(client).status_code == 200
    assert describes(app) == before + 1  # read again, and stored
    for _ in range(5):
        clock.advance(10)
        assert redeem(client).status_code == 200
    assert describes(app) == before + 1


def test_a_refused_read_is_reused_too(app, client, clock):
    assert redeem(client).status_code == 201
    sim(app).discard(READY)
    age_the_last_read(app)
    before = describes(app)
    for _ in range(5):
        clock.advance(10)
        assert redeem(client).get_json()["error"]["code"] == "code_discarded"
    assert describes(app) == before + 1
    with app.app_context():
        assert db.session.scalar(db.select(CodeBinding.market_status)) == "DISCARD"


def test_a_renewal_found_by_the_reconciler_is_issued_at_once(app, client, clock):
    from webapp.vendor_side.reconcile import reconcile

    first = redeem(client, code=ACTIVE).get_json()
    sim(app).renew(ACTIVE, days=30)
    with app.app_context():
        reconcile()  # reads fresh, stores "renewed" on the binding
    clock.advance(10)
    renewed = redeem(client, code=ACTIVE)
    assert renewed.status_code == 201  # the stored read differs from the key: read again and issue
    assert renewed.get_json()["license"]["seq"] == first["license"]["seq"] + 1


def test_staff_and_the_reconciler_always_read_fresh(app, client, clock, issuer_api):
    from webapp.vendor_side.reconcile import reconcile

    assert redeem(client).status_code == 201
    before = describes(app)
    staff = client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL},
                        headers=issuer_api)
    assert staff.status_code == 200 and staff.get_json()["change"] == "unchanged"
    assert describes(app) == before + 1
    with app.app_context():
        reconcile()
    assert describes(app) == before + 2


def test_the_cache_is_off_with_the_demo_simulator_and_60_seconds_otherwise(tmp_path):
    from tests.conftest import TestConfig
    from webapp import create_app

    from .conftest import MARKET_CONFIG

    def configured(**extra):
        config = TestConfig().__dict__.copy()
        config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                      LICENSE_ROLE="vendor", LICENSE_SKIP_SIGNING_KEY_CHECK=True, **extra)
        return create_app(config).config

    assert configured()["VENDOR_REDEEM_CODE_CACHE_SECONDS"] == 0
    real = configured(**MARKET_CONFIG)
    assert real["VENDOR_REDEEM_CODE_CACHE_SECONDS"] == 60
    assert (real["VENDOR_REDEEM_OWNER_LIMITS"], real["VENDOR_REDEEM_CODE_LIMITS"]) == ("10/minute", "5/hour")


# ------------------------------------------------------------------ the environment's Settings page (role both)


def test_check_for_renewal_on_the_settings_page_20_times(app, client, auth, clock):
    auth.login("operator")
    applied = client.post("/settings/redeem", data={"authorization_code": READY}, headers=HX)
    assert applied.status_code == 200, applied.get_data(as_text=True)
    before = describes(app)
    for _ in range(20):
        clock.advance(10)
        response = client.post("/settings/renewal-check", headers=HX)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "No renewal yet" in html, html
    assert describes(app) == before
    # Someone guessing with the environment's code from elsewhere changes nothing for it.
    others = [redeem(client, install=OTHER_INSTALL, address="10.9.9.9").status_code for _ in range(5)]
    assert others[-1] == 429
    clock.advance(10)
    assert "No renewal yet" in client.post("/settings/renewal-check", headers=HX).get_data(as_text=True)


def test_a_rate_limited_check_reads_well_on_the_settings_page(app, client, auth, clock):
    app.config["VENDOR_REDEEM_OWNER_LIMITS"] = "2/minute"
    auth.login("operator")
    client.post("/settings/redeem", data={"authorization_code": READY}, headers=HX)
    for _ in range(2):
        client.post("/settings/renewal-check", headers=HX)
    clock.advance(15)
    response = client.post("/settings/renewal-check", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-error-code="rate_limited"' in html
    assert "at most 2 a minute). Wait 45 seconds, then try again." in html
    assert "support" not in html.split('id="license-error"')[1].split("</div>")[0].lower()
