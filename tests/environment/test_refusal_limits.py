"""Refused key applications are limited per actor and per environment, and a burst of the same
refusal is one activation history row with a count (issue 11, "Abuse": a 100 s fuzz wrote 7,870
refused activations and as many audit rows).

The limits: `LICENSE_REFUSAL_ACTOR_LIMITS`, `LICENSE_REFUSAL_ENVIRONMENT_LIMITS`
(webapp/environment/refusal_limits.py); the folding: `LICENSE_REFUSAL_FOLD_SECONDS`
(activation.record_refusal).
"""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from webapp.database import db
from webapp.environment import activation, refusal_limits, wording
from webapp.environment.models import Activation
from webapp.models.audit import AuditEvent

GARBAGE = "hello, this is not a key"
HX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    # Generous unless a test says otherwise: the folding tests send bursts of refusals.
    return {"LICENSE_REFUSAL_ACTOR_LIMITS": "1000/minute", "LICENSE_REFUSAL_ENVIRONMENT_LIMITS": "1000/minute"}


def _limits(app, actor: str = "", environment: str = "") -> None:
    """Set the limits of the running app (its counters start empty)."""
    app.config.update(LICENSE_REFUSAL_ACTOR_LIMITS=actor, LICENSE_REFUSAL_ENVIRONMENT_LIMITS=environment)
    refusal_limits.init_app(app)


def _history(app) -> list[Activation]:
    with app.app_context():
        return db.session.scalars(db.select(Activation).order_by(Activation.id)).all()


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).all()


def _apply(client, headers, text=GARBAGE):
    return client.post("/api/v1/environment/license", json={"productKey": text}, headers=headers)


# --- the limits ----------------------------------------------------------------------------------

def test_past_the_actors_limit_applying_answers_429_and_records_nothing(app, client, api_token, clock):
    _limits(app, actor="5/minute", environment="100/minute")
    op = api_token("operator")
    for _ in range(5):
        assert _apply(client, op).status_code == 422
    for _ in range(20):  # the fuzz goes on: every one held back, none recorded
        response = _apply(client, op)
        assert response.status_code == 429
        error = response.get_json()["error"]
        assert error["code"] == "rate_limited"
        assert error["message"].startswith("Too many refused keys just now. Refused product keys and "
                                           "authorization codes are limited to 5 a minute from one person.")
        assert "Wait " in error["message"] and "then try again" in error["message"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    rows = _history(app)
    assert len(rows) == 1 and rows[0].count == 5  # five refusals, one row
    assert len(_audit(app, "license_activation_refused")) == 1
    held = _audit(app, "license_activation_rate_limited")
    assert len(held) == 1  # once for the window, not once per attempt
    assert held[0].after["scope"] == "actor" and held[0].after["limit"] == "5 a minute"


def test_the_environments_limit_holds_everyone_together(app, client, api_token, clock):
    _limits(app, actor="3/minute", environment="5/minute")
    first, second = api_token("operator"), api_token("admin")
    for _ in range(3):
        assert _apply(client, first).status_code == 422
    assert _apply(client, first).status_code == 429  # the first is held back ...
    assert _apply(client, second).status_code == 422  # ... not the second, until the environment's limit
    assert _apply(client, second).status_code == 422
    response = _apply(client, second)
    assert response.status_code == 429
    assert "in this environment, for everyone together" in response.get_json()["error"]["message"]
    assert sum(row.count for row in _history(app)) == 5


def test_applied_keys_and_already_active_never_count(app, client, api_token, keys, clock):
    _limits(app, actor="2/minute", environment="2/minute")
    op = api_token("operator")
    key = keys.make(seq=1)
    assert _apply(client, op, key).status_code == 200
    for _ in range(5):
        response = _apply(client, op, key)
        assert response.status_code == 200 and response.get_json()["alreadyActive"] is True
    assert _apply(client, op, keys.make(seq=2)).status_code == 200
    assert _apply(client, op).status_code == 422
    assert _apply(client, op).status_code == 422
    assert _apply(client, op).status_code == 429
    # while held back, even a good key waits: nothing is checked
    assert _apply(client, op, keys.make(seq=3)).status_code == 429
    with app.app_context():
        from webapp.environment import license_record

        assert license_record.current_license(fresh=True).terms.seq == 2


def test_the_running_key_sent_again_is_already_active_even_while_held_back(app, client, api_token, keys, clock):
    """A script that applies its key on every start is never told to wait: the running key, even
    with line breaks, answers "already active" without asking the limits (docs/performance.md).
    Any other key still waits, good or not, and nothing of it is checked or recorded."""
    _limits(app, actor="2/minute", environment="2/minute")
    op = api_token("operator")
    key = keys.make(seq=1)
    assert _apply(client, op, key).status_code == 200
    assert _apply(client, op).status_code == 422
    assert _apply(client, op).status_code == 422
    assert _apply(client, op).status_code == 429  # held back
    wrapped = "\n".join(key[i:i + 76] for i in range(0, len(key), 76))
    for text in (key, wrapped):
        response = _apply(client, op, text)
        assert response.status_code == 200 and response.get_json()["alreadyActive"] is True
    assert _apply(client, op, keys.make(seq=2)).status_code == 429  # a newer key waits
    assert sum(row.count for row in _history(app)) == 3  # the first key, two refusals
    with app.app_context():
        from webapp.environment import license_record

        assert license_record.current_license(fresh=True).terms.seq == 1


def test_the_running_key_no_longer_trusted_takes_the_ordinary_path(app, client, api_token, keys, clock):
    """Should the running key no longer verify (its vendor key was removed from the trusted keys),
    sending it again is checked as any key: refused and recorded, and held back when limited."""
    from webapp import trust

    from .conftest import VENDOR_PUBLIC_KEYS

    op = api_token("operator")
    app.config["LICENSE_PUBLIC_KEYS"] = VENDOR_PUBLIC_KEYS
    with app.app_context():
        trust.trusted_keys(app).reload()
    key = keys.make(seq=1, vendor=True)
    assert _apply(client, op, key).status_code == 200
    app.config["LICENSE_PUBLIC_KEYS"] = {}
    with app.app_context():
        trust.trusted_keys(app).reload()  # as a restart with the vendor key removed
    response = _apply(client, op, key)
    assert response.status_code == 422, response.get_json()
    assert _history(app)[-1].result == "refused"


def test_the_settings_page_says_it_is_a_wait(app, client, auth, clock):
    """Without JavaScript: 429, the page with the message; with htmx: the card's 422 (htmx swaps
    no 429), shown as a warning. Both with Retry-After."""
    _limits(app, actor="1/minute", environment="")
    auth.login("operator")
    assert client.post("/settings/license/preview", data={"product_key": GARBAGE}).status_code == 422
    plain = client.post("/settings/license", data={"product_key": GARBAGE})
    html = plain.get_data(as_text=True)
    assert plain.status_code == 429 and "<html" in html and int(plain.headers["Retry-After"]) >= 1
    assert 'class="warn-box" id="product-key-error" role="alert" data-error-code="rate_limited"' in html
    assert "<strong>Too many refused keys just now.</strong> Refused product keys and authorization codes are " \
           "limited to 1 a minute from one person." in html
    fragment = client.post("/settings/license/preview", data={"product_key": GARBAGE}, headers=HX)
    assert fragment.status_code == 422 and int(fragment.headers["Retry-After"]) >= 1
    assert 'data-error-code="rate_limited"' in fragment.get_data(as_text=True)
    assert "activation-recorded" not in (fragment.headers.get("HX-Trigger") or "")
    assert [row.count for row in _history(app)] == [1]


def test_redemptions_count_and_wait_before_the_vendor_is_asked(app, client, api_token, clock):
    _limits(app, actor="2/minute", environment="")
    op = api_token("operator")
    for _ in range(2):
        response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "NOPE-NOPE-NOPE-NOPE"},
                               headers=op)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "code_not_found"
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "NOPE-NOPE-NOPE-NOPE"},
                           headers=op)
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert len(_audit(app, "redeem_refused")) == 2  # the vendor was not asked a third time
    assert client.post("/api/v1/environment/renewal-check", headers=op).status_code == 409  # no remembered code


def test_no_limit_when_rate_limits_are_off(app, client, api_token, clock):
    _limits(app, actor="1/minute", environment="1/minute")
    app.config["RATELIMIT_ENABLED"] = False
    op = api_token("operator")
    assert [_apply(client, op).status_code for _ in range(3)] == [422, 422, 422]


def test_limits_that_are_no_limits_stop_the_app(app):
    app.config["LICENSE_REFUSAL_ACTOR_LIMITS"] = "ten a minute"
    with pytest.raises(RuntimeError, match="LICENSE_REFUSAL_ACTOR_LIMITS must be limits such as"):
        refusal_limits.init_app(app)


# --- folding identical refusals ------------------------------------------------------------------

def test_a_burst_of_one_refusal_is_one_row_with_its_count(app, client, api_token, keys, clock):
    op = api_token("operator")
    for _ in range(60):
        assert _apply(client, op).status_code == 422
        clock.advance(seconds=1)
    rows = _history(app)
    assert len(rows) == 1
    burst = rows[0]
    assert (burst.count, burst.error_code, burst.actor) == (60, "malformed_key", "api-operator@example.com")
    assert burst.last_seen_at - burst.at == timedelta(seconds=59)
    assert len(_audit(app, "license_activation_refused")) == 1  # the first, in full
    assert _audit(app, "license_activation_refusals_repeated") == []  # the row is still open

    # a different refusal gets its own row, and closes the burst with its summary in the audit log
    expired = keys.make(seq=1, issued_at=clock.now - timedelta(days=40), days=30)
    assert _apply(client, op, expired).get_json()["error"]["code"] == "key_expired"
    rows = _history(app)
    assert [(r.error_code, r.count) for r in rows] == [("malformed_key", 60), ("key_expired", 1)]
    summary = _audit(app, "license_activation_refusals_repeated")
    assert len(summary) == 1
    assert summary[0].after["count"] == 60 and summary[0].after["code"] == "malformed_key"
    assert summary[0].after["firstAt"] == "2026-11-01T09:00:00Z"
    assert summary[0].after["lastAt"] == "2026-11-01T09:00:59Z"
    assert len(_audit(app, "license_activation_refused")) == 2

    # the garbage again is no longer "in a row": a row of its own
    assert _apply(client, op).status_code == 422
    assert [r.count for r in _history(app)] == [60, 1, 1]


def test_another_actor_another_key_or_a_later_hour_start_a_new_row(app, client, api_token, clock):
    first, second = api_token("operator"), api_token("admin")
    _apply(client, first)
    _apply(client, first)
    _apply(client, second)  # another actor
    _apply(client, second, GARBAGE + " (another text)")  # another key
    _apply(client, second, GARBAGE + " (another text)")
    clock.advance(seconds=app.config["LICENSE_REFUSAL_FOLD_SECONDS"])  # the row's window is over
    _apply(client, second, GARBAGE + " (another text)")
    assert [(r.actor, r.count) for r in _history(app)] == [
        ("api-operator@example.com", 2), ("api-admin@example.com", 1), ("api-admin@example.com", 2),
        ("api-admin@example.com", 1)]


def test_an_applied_key_closes_a_burst_and_the_page_and_api_say_it_in_words(app, client, auth, api_token, keys,
                                                                             clock):
    op = api_token("operator")
    for _ in range(7):
        _apply(client, op, keys.make(seq=1, stranger=True))  # each a new key (new id), all signature_invalid
    for _ in range(4):
        _apply(client, op)
        clock.advance(minutes=1)
    assert _apply(client, op, keys.make(seq=1)).status_code == 200
    rows = _history(app)
    assert [(r.result, r.error_code, r.count) for r in rows] == (
        [("refused", "signature_invalid", 1)] * 7 + [("refused", "malformed_key", 4), ("applied", None, 1)])
    assert [e.after["count"] for e in _audit(app, "license_activation_refusals_repeated")] == [4]

    items = client.get("/api/v1/environment/activations", headers=op).get_json()["items"]
    assert [i["result"] for i in items[:2]] == ["applied", "refused"]
    burst = items[1]
    assert (burst["count"], burst["errorCode"], burst["reason"]) == (4, "malformed_key", "not a valid product key")
    assert (burst["at"], burst["lastAt"]) == ("2026-11-01T09:00:00Z", "2026-11-01T09:03:00Z")
    assert burst["summary"] == ("Refused: not a valid product key, 4 times, the last at 2026-11-01 09:03 UTC. "
                                "Product key by api-operator@example.com at 2026-11-01 09:00 UTC.")
    assert items[0]["summary"].startswith("Applied. Product key by api-operator@example.com at ")
    assert items[0]["key"].startswith("key sequence 1 · 40 AKU · until ")

    auth.login("operator")
    page = client.get("/settings/history").get_data(as_text=True)
    assert page.count('class="history-refused"') == 8
    assert '<span class="refusal-repeats small">4 times, the last at 2026-11-01 09:03 UTC</span>' in page


# --- the pure parts --------------------------------------------------------------------------------

def _row(**fields):
    base = dict(result="refused", actor="a", source="product_key", error_code="malformed_key",
                key_fingerprint="f", at=START, last_seen_at=START, count=1)
    base.update(fields)
    return SimpleNamespace(**base)


from tests.environment.conftest import START  # noqa: E402 - beside its only use


@pytest.mark.parametrize("latest, folds", [
    (None, False),
    (_row(), True),
    (_row(result="applied", error_code=None), False),
    (_row(actor="b"), False),
    (_row(source="redeem"), False),
    (_row(error_code="key_expired"), False),
    (_row(key_fingerprint="g"), False),
    (_row(at=START - timedelta(hours=1)), False),  # the row's window is over
    (_row(at=START - timedelta(minutes=59)), True),
    (_row(at=START + timedelta(minutes=1)), False),  # a row from the future (a clock moved back)
])
def test_folds_into(latest, folds):
    assert activation.folds_into(latest, actor="a", source="product_key", code="malformed_key", key_fingerprint="f",
                                 now=START, window=timedelta(hours=1)) is folds


def test_the_same_key_is_the_same_whatever_its_line_breaks():
    key = "eyJpbnN0YWxsSWQiOi" + "A" * 100
    assert activation.fingerprint(key) == activation.fingerprint(key[:50] + "\n  " + key[50:])
    assert activation.fingerprint(key) != activation.fingerprint(key + "B")
    assert activation.fingerprint(None, "****7Q2K") != activation.fingerprint(None, "****7Q2L")
    assert activation.fingerprint("\ud800 lone surrogate") is not None  # JSON may carry one
    assert activation.fingerprint("  ") is None and activation.fingerprint(None) is None


def test_repeats_in_words():
    assert wording.repeats(_row()) is None
    assert wording.repeats(_row(count=3, last_seen_at=START + timedelta(minutes=2))) == (
        "3 times, the last at 2026-11-01 09:02 UTC")


def test_the_message_of_each_scope():
    actor = refusal_limits.message("actor", 42, "10 a minute", "AutoMQ HK Limited")
    assert actor == ("Too many refused keys just now. Refused product keys and authorization codes are limited "
                     "to 10 a minute from one person. Wait 42 seconds, then try again with the whole of the newest "
                     "key AutoMQ HK Limited issued for this install ID, or the authorization code as the "
                     "marketplace's Buyer Console shows it.")
    assert "in this environment, for everyone together" in refusal_limits.message("environment", 3000, "300 an hour",
                                                                                   "V")
