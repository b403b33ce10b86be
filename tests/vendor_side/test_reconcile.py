"""Renewals: `flask license reconcile [--issue]` and the Needs attention page."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from marketplace_adapter import errors as market_errors
from webapp.database import db
from webapp.models.audit import AuditEvent
from webapp.vendor_side.models import IssuedKey
from webapp.vendor_side.models import CodeBinding
from webapp.vendor_side import reconcile as reconciling

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
    from webapp.vendor_side.issuing import issue_from_code

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
    from webapp.vendor_side import issuing

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


def binding_of(app, install_id: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(CodeBinding.id).where(CodeBinding.install_id == install_id))


def row(html: str, binding_id: int) -> str:
    """The Needs attention table row of one binding."""
    start = html.index(f'<tr id="attention-{binding_id}">')
    return html[start:html.index("</tr>", start)]


def day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def test_attention_page_lists_and_issues_in_one_click(app, client, auth, bound):
    sim(app).renew(READY, days=30)
    sim(app).discard(ACTIVE)
    auth.login("issuer")
    page = client.get("/vendor/attention")
    assert page.status_code == 200 and "Last read: never." in page.get_data(as_text=True)
    html = client.post("/vendor/attention/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    renewed_until = day(datetime.fromisoformat(sim(app).get_code(READY)["expires_at"].replace("Z", "+00:00")))
    assert "Read 4 codes from the marketplace." in html and f"Renewed until {renewed_until}" in html and "Discarded" in html
    binding_id = binding_of(app, INSTALL)
    response = client.post(f"/vendor/attention/{binding_id}/issue", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "key-issued" in response.headers["HX-Trigger"]
    assert f'id="attention-{binding_id}"' not in html  # nothing left to do for it
    with app.app_context():
        event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "key_issued")
                                   .order_by(AuditEvent.id.desc())).first()
        assert event.actor == "issuer@example.com" and event.after["change"] == "renewal"
        key = db.session.get(IssuedKey, event.after["id"])
        assert key.seq == 2


def test_issue_new_key_shows_the_key_in_place_with_its_delivery(app, client, auth, bound):
    """The Issue page's delivery (key, Copy, Download, the buyer message), not a link to follow."""
    sim(app).renew(READY, days=30)
    auth.login("issuer")
    client.post("/vendor/attention/check")
    binding_id = binding_of(app, INSTALL)
    # The swap scrolls the new key into view.
    assert 'hx-target="#attention" hx-swap="outerHTML show:#issued:top"' in row(
        client.get("/vendor/attention").get_data(as_text=True), binding_id)
    response = client.post(f"/vendor/attention/{binding_id}/issue", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey).where(IssuedKey.install_id == INSTALL, IssuedKey.seq == 2))
    assert '<div id="attention">' in html and "<html" not in html  # the page's fragment
    assert 'id="issued"' in html and "Product key issued" in html
    assert f'<textarea id="product-key" class="keybox" readonly rows="5">{key.product_key}</textarea>' in html
    assert 'data-copy-target="#product-key"' in html
    assert f'data-download="product-key-{INSTALL}-seq2.txt"' in html
    message = html[html.index('<textarea id="buyer-message"'):]
    assert key.product_key in message and "replaces the one issued earlier" in message
    summary = html[html.index('id="issued-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert f"Renewed until {day(key.expires_at)}." in summary and "Seq 2 for install ID" in summary
    assert 'aria-label="Before and after"' in html

    # Without JavaScript: the key's own page, which has the same delivery.
    sim(app).renew(READY, days=30)
    client.post("/vendor/attention/check")
    response = client.post(f"/vendor/attention/{binding_id}/issue")
    assert response.status_code == 303 and "/vendor/keys/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Issued key seq 3 for " + INSTALL + ": Renewed until" in page and 'id="buyer-message"' in page


def test_attention_before_any_read_says_so(app, client, auth, bound):
    """Nothing read yet is not "every environment holds its key": the page says what to press."""
    auth.login("issuer")
    html = client.get("/vendor/attention").get_data(as_text=True)
    assert "Last read: never." in html
    assert "None: every environment holds the key" not in html
    assert "have not been read from the marketplace yet" in html and "Re-read all codes now" in html
    assert "None known: the codes have not been read yet." in html

    html = client.post("/vendor/attention/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Last read: never." not in html and "have not been read" not in html
    assert 'Last read: <time datetime="' in html and "by issuer@example.com." in html
    assert "None: every environment holds the key for its code's current terms." in html


def test_each_change_is_announced_as_what_it_is(app, client, auth, bound):
    """A specification change with the same expiry is "Updated to N AKU", never "Renewed"; a
    renewal says until when; both say both: on the badge, the issued key, the key's timeline."""
    auth.login("issuer")
    for code, action in ((READY, "renew"), (READY40, "spec:aku-20"), (SOON, "renew"), (SOON, "spec:aku-20")):
        assert client.post("/vendor/demo-codes/action", data={"code": code, "action": action}).status_code == 303
    html = client.post("/vendor/attention/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    expiry = {code: day(datetime.fromisoformat(sim(app).get_code(code)["expires_at"].replace("Z", "+00:00")))
              for code in (READY, READY40, SOON)}

    renewed = row(html, binding_of(app, INSTALL))
    assert f"Renewed until {expiry[READY]}</span>" in renewed and "20 <span class=\"muted small\">(same)</span>" in renewed
    changed = row(html, binding_of(app, OTHER_INSTALL))
    assert "Updated to 20 AKU (specification change)</span>" in changed and "Renewed" not in changed
    assert f"{expiry[READY40]} <span class=\"muted small\">(same)</span>" in changed and "40 → <strong>20</strong>" in changed
    both = row(html, binding_of(app, FOURTH))
    assert f"Renewed until {expiry[SOON]} and updated to 20 AKU</span>" in both

    response = client.post(f"/vendor/attention/{binding_of(app, OTHER_INSTALL)}/issue", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    summary = html[html.index('id="issued-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert "Updated to 20 AKU (specification change)." in summary and "Renewed" not in summary
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey).where(IssuedKey.install_id == OTHER_INSTALL, IssuedKey.seq == 2))
    timeline = client.get(f"/vendor/keys/{key.id}").get_data(as_text=True)
    assert "Updated to 20 AKU (specification change)" in timeline and "spec change" not in timeline

    response = client.post(f"/vendor/attention/{binding_of(app, FOURTH)}/issue", headers={"HX-Request": "true"})
    assert f"Renewed until {expiry[SOON]} and updated to 20 AKU." in response.get_data(as_text=True)


def test_a_refused_issue_has_a_headline_that_does_not_repeat_its_message(app, client, auth, bound):
    sim(app).renew(READY, days=30)
    auth.login("issuer")
    client.post("/vendor/attention/check")
    sim(app).discard(READY)  # refunded between the read and the click
    binding_id = binding_of(app, INSTALL)
    response = client.post(f"/vendor/attention/{binding_id}/issue", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="issued"' not in html
    box = html[html.index('id="attention-error"'):]
    box = box[:box.index("</div>")]
    headline = box[box.index("<strong>") + 8:box.index("</strong>")]
    assert headline == f"No new key was issued for <code>{INSTALL}</code>."
    assert "discarded by the marketplace" in box and "discarded" not in headline
    assert box.count("No new key") == 1

    response = client.post(f"/vendor/attention/{binding_id}/issue")  # without JavaScript
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"No new key was issued for {INSTALL}. This authorization code was discarded" in page


def test_attention_ignores_codes_whose_environment_moved_on(app, bound):
    """A code replaced by another license is not "expired" news for its old environment."""
    from webapp.vendor_side.issuing import issue_from_code

    sim(app).expire(READY40)
    with app.app_context():
        issued = issue_from_code(READY, OTHER_INSTALL, actor="admin", transfer=True, reason="moved")
        assert issued.change == "new"
        reconciling.reconcile()
        found = kinds(reconciling.attention(include_ok=True))
        assert found[OTHER_INSTALL] == "ok"  # its READY40 key was superseded: not "expired" news
        assert INSTALL not in found  # READY is bound elsewhere now


def test_change_summary():
    from webapp.vendor_side.explain import change_summary

    until = datetime(2027, 1, 30, 2, 43, tzinfo=timezone.utc)
    assert change_summary("renewal", 20, until) == "Renewed until 2027-01-30"
    assert change_summary("spec_change", 40, until) == "Updated to 40 AKU (specification change)"
    assert change_summary("renewal_and_spec_change", 40, until) == "Renewed until 2027-01-30 and updated to 40 AKU"
    assert change_summary("change", 20, until) == "Terms changed: 20 AKU until 2027-01-30"
    assert change_summary("new", 20, until) == "New license"
    assert change_summary("offline", 20, until) is None
    for kind, change in reconciling.KIND_CHANGES.items():
        assert kind in reconciling.NEEDS_KEY and change in ("renewal", "spec_change", "renewal_and_spec_change", "change")


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
