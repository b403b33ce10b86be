"""Renewals: `flask license reconcile [--issue]` and the Needs attention page."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from marketplace_adapter import errors as market_errors
from webapp.extensions import db
from webapp.models.audit import AuditEvent
from webapp.models.signing import IssuedKey
from webapp.models.vendor import CodeBinding
from webapp.vendor import reconcile as reconciling

from .conftest import INSTALL, OTHER_INSTALL, sim

READY = "DEMO-AKU20-READY-7K3Q"
READY40 = "DEMO-AKU40-READY-9M2X"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
SOON = "DEMO-AKU40-SOON-2F6W"
THIRD = "0" * 31 + "3"
FOURTH = "0" * 31 + "4"


@pytest.fixture
def app_config():
    return {}


@pytest.fixture
def bound(app):
    """Four environments, each holding the key of one demo code."""
    from webapp.vendor.issuing import issue_from_code

    with app.app_context():
        for code, install in ((READY, INSTALL), (READY40, OTHER_INSTALL), (ACTIVE, THIRD), (SOON, FOURTH)):
            issue_from_code(code, install, actor="setup")


def kinds(findings):
    return {f.binding.install_id: f.kind for f in findings}


def test_reconcile_finds_renewals_spec_changes_and_lost_codes(app, bound):
    s = sim(app)
    s.renew(READY, days=30)
    s.change_specification(READY40, "aku-20")
    s.discard(ACTIVE)
    s.expire(SOON)
    with app.app_context():
        report = reconciling.reconcile(concurrency=3)
        assert report.checked == 4 and report.unreadable == 0
        assert kinds(report.findings) == {INSTALL: "renewed", OTHER_INSTALL: "spec_changed", THIRD: "discarded",
                                          FOURTH: "expired"}
        renewed = next(f for f in report.findings if f.kind == "renewed")
        assert renewed.binding.market_expires_at > renewed.key.expires_at
        assert renewed.to_json()["code"] == "****7K3Q" and READY not in json.dumps(renewed.to_json())
        assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "reconcile_run")).after["checked"] == 4
        assert db.session.scalar(db.select(db.func.count()).select_from(IssuedKey)) == 4  # nothing issued


def test_reconcile_issue_issues_the_missing_keys(app, bound):
    sim(app).renew(READY, days=30)
    sim(app).change_specification(READY40, "aku-20")
    with app.app_context():
        report = reconciling.reconcile(issue=True)
        assert report.issued == 2
        seqs = {f.binding.install_id: f.issued.seq for f in report.findings if f.issued}
        assert seqs == {INSTALL: 2, OTHER_INSTALL: 2}
        assert reconciling.attention() == []  # nothing needs a key any more


def test_throttling_pauses_and_retries(app, bound, monkeypatch):
    client = app.extensions["license_vendor"].client
    real = client.describe_license
    calls = {"n": 0}

    def flaky(code):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise market_errors.Throttled("slow down", retry_after=0.05)
        return real(code)

    monkeypatch.setattr(client, "describe_license", flaky)
    with app.app_context():
        report = reconciling.reconcile(concurrency=2)
    assert report.unreadable == 0 and report.checked == 4 and calls["n"] == 6


def test_reads_are_bounded_and_a_throttle_holds_every_worker_back(app, bound, monkeypatch):
    """At most `concurrency` reads at once; after a Throttled with retry_after, no read starts
    before it has passed, in any worker."""
    import threading
    import time

    client = app.extensions["license_vendor"].client
    real = client.describe_license
    lock = threading.Lock()
    state = {"in_flight": 0, "most": 0, "starts": [], "throttled_at": None}

    def slow(code):
        with lock:
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
            state["starts"].append(time.monotonic())
            throttle = len(state["starts"]) == 1  # the very first read
        try:
            time.sleep(0.02)
            if throttle:
                with lock:
                    state["throttled_at"] = time.monotonic()
                raise market_errors.Throttled("slow down", retry_after=0.3)
            time.sleep(0.03)
            return real(code)
        finally:
            with lock:
                state["in_flight"] -= 1

    monkeypatch.setattr(client, "describe_license", slow)
    with app.app_context():
        report = reconciling.reconcile(concurrency=2)
    assert report.checked == 4 and report.unreadable == 0
    assert state["most"] == 2 and len(state["starts"]) == 5
    later = [t for t in state["starts"] if t > state["throttled_at"]]
    assert later and all(t >= state["throttled_at"] + 0.29 for t in later)


def test_a_throttle_longer_than_a_minute_is_capped(app, bound, monkeypatch):
    pauses = []
    monkeypatch.setattr(reconciling._Gate, "pause", lambda self, seconds: pauses.append(seconds))
    client = app.extensions["license_vendor"].client
    monkeypatch.setattr(client, "describe_license",
                        lambda code: (_ for _ in ()).throw(market_errors.Throttled("x", retry_after=3600)))
    with app.app_context():
        report = reconciling.reconcile(concurrency=1)
    assert report.unreadable == 4  # 4 rounds each, then said as unreadable
    assert pauses and set(pauses) == {reconciling.MAX_THROTTLE_PAUSE} and len(pauses) == 16


def test_issue_waits_out_throttling(app, bound, monkeypatch):
    """`--issue` issues one key after another; a throttled one is tried again after Retry-After."""
    from webapp.vendor import issuing

    sim(app).renew(READY, days=30)
    with app.app_context():
        reconciling.reconcile()
    real = issuing.describe
    throttled = {"n": 0}

    def describe(code):
        if throttled["n"] < 2:
            throttled["n"] += 1
            raise reconciling.IssueError("marketplace_throttled", "slow down", 429, retry_after=7)
        return real(code)

    slept = []
    monkeypatch.setattr(issuing, "describe", describe)
    monkeypatch.setattr(reconciling, "_sleep", slept.append)
    with app.app_context():
        report = reconciling.reconcile(issue=True)
    assert report.issued == 1 and slept == [7, 7]
    assert [f.issue_error for f in report.findings] == [None]

    sim(app).renew(READY, days=30)
    throttled["n"] = -10  # throttled more often than it tries: said, not hidden
    with app.app_context():
        report = reconciling.reconcile(issue=True)
    assert report.issued == 0 and report.findings[0].issue_error.code == "marketplace_throttled"
    assert len(slept) == 2 + reconciling.ISSUE_ROUNDS - 1


def test_unreadable_codes_are_reported(app, bound):
    sim(app).inject_fault("server_error", count=100)
    with app.app_context():
        report = reconciling.reconcile(concurrency=4)
        assert report.unreadable == 4 and set(kinds(report.findings).values()) == {"error"}
        assert "ServiceUnavailable" in report.findings[0].binding.check_error
    sim(app).clear_faults()


def test_cli_reconcile_prints_json_lines_and_progress(app, bound):
    sim(app).renew(READY, days=30)
    runner = app.test_cli_runner()  # click 8.2+: stdout and stderr apart
    result = runner.invoke(args=["license", "reconcile"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(i["installId"], i["status"]) for i in lines] == [(INSTALL, "renewed")]
    assert "Reading 4 code(s)" in result.stderr and "1 need a new key" in result.stderr

    result = runner.invoke(args=["license", "reconcile", "--issue", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["issued"] == 1 and document["items"][0]["issued"]["seq"] == 2
    assert document["items"][0]["issued"]["productKey"].startswith("eyJpbnN0YWxsSWQiOi")


def test_cli_reconcile_belongs_to_the_vendor(tmp_path):
    from tests.conftest import TestConfig
    from webapp import create_app

    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'e.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                  LICENSE_ROLE="environment")
    app = create_app(config)
    result = app.test_cli_runner().invoke(args=["license", "reconcile"])
    assert result.exit_code == 2


def test_attention_page_lists_and_issues_in_one_click(app, client, auth, bound):
    sim(app).renew(READY, days=30)
    sim(app).discard(ACTIVE)
    auth.login("issuer")
    page = client.get("/vendor/attention")
    assert page.status_code == 200 and "Not read yet" in page.get_data(as_text=True)
    html = client.post("/vendor/attention/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Read 4 code(s)" in html and "Renewed, no new key" in html and "Discarded" in html
    with app.app_context():
        binding_id = db.session.scalar(db.select(CodeBinding.id).where(CodeBinding.install_id == INSTALL))
    response = client.post(f"/vendor/attention/{binding_id}/issue", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Issued" in html and "key seq 2" in html
    assert "Renewed, no new key" not in html
    with app.app_context():
        event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "key_issued")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event.actor == "issuer@example.com" and event.after["change"] == "renewal"


def test_attention_ignores_codes_whose_environment_moved_on(app, bound):
    """A code replaced by another license is not "expired" news for its old environment."""
    from webapp.vendor.issuing import issue_from_code

    sim(app).expire(READY40)
    with app.app_context():
        issued = issue_from_code(READY, OTHER_INSTALL, actor="admin", transfer=True, reason="moved")
        assert issued.change == "new"
        reconciling.reconcile()
        found = kinds(reconciling.attention(include_ok=True))
        assert found[OTHER_INSTALL] == "ok"  # its READY40 key was superseded: not "expired" news
        assert INSTALL not in found  # READY is bound elsewhere now


def test_kind_of():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    class B:
        check_error = None
        market_status = "ACTIVATED"
        market_expires_at = now + timedelta(days=30)
        market_aku = 20

    class K:
        expires_at = now + timedelta(days=30)
        aku = 20

    b = B()
    assert reconciling.kind_of(b, K, now) == "ok"
    b.market_expires_at = now + timedelta(days=60)
    assert reconciling.kind_of(b, K, now) == "renewed"
    b.market_aku = 40
    assert reconciling.kind_of(b, K, now) == "renewed_and_spec_changed"
    b.market_expires_at = now + timedelta(days=30)
    assert reconciling.kind_of(b, K, now) == "spec_changed"
    b.market_aku = None
    assert reconciling.kind_of(b, K, now) == "unknown_specification"
    b.market_status = "DISCARD"
    assert reconciling.kind_of(b, K, now) == "discarded"
    b.market_status = "ACTIVATED"
    b.market_expires_at = now
    assert reconciling.kind_of(b, K, now) == "expired"
    b.check_error = "boom"
    assert reconciling.kind_of(b, K, now) == "error"
