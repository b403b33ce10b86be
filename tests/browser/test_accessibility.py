"""Accessibility audit in Chromium: axe-core (bundled by axe-playwright-python, nothing fetched
at test time) on every page of both sides, a few states after an htmx swap and a phone-wide
viewport. Any violation of WCAG 2.0/2.1 A and AA or of axe's best practices fails, whatever its
impact; the failure lists each rule, its impact and help and the offending elements.

axe is injected with Playwright's `page.evaluate`, which runs through the DevTools protocol and is
not subject to the page's Content-Security-Policy: the pages keep their strict CSP here (no
`bypass_csp`), and the `page` fixture still fails a test on any console error, a CSP violation
included.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.browser

READY = "DEMO-AKU20-READY-7K3Q"
INSTALL = "0123456789abcdef0123456789abcdef"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
AXE = Axe()


def report(violations: list[dict]) -> str:
    lines = [f"{len(violations)} accessibility violation(s):"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"]:
            summary = " ".join(line.strip() for line in (node.get("failureSummary") or "").splitlines())
            lines.append(f"    at {', '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def audit(page) -> None:
    """Run axe on the page as it is now; fail on any violation."""
    page.wait_for_load_state("networkidle")
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    assert not violations, f"{page.url}\n{report(violations)}"


@pytest.fixture
def seeded(live_server):
    """Something on every page: a key issued for READY (keys, key page, audit log, demo codes),
    an instance of the environment. Returns the key's id."""
    from webapp.environment import instances, license_record
    from webapp.database import db
    from webapp.vendor_side.issuing import issue_from_code

    with live_server.app.app_context():
        issued = issue_from_code(READY, INSTALL, actor="setup")
        instances.create_instance("kafka-1", 4, actor="setup")
        db.session.commit()
        return issued.key.id


# (test id, role logged in or None, path); "{key}" is the seeded key's id.
PAGES = [
    ("login", None, "/login"),
    ("redeem", None, "/redeem"),
    ("not-found", "admin", "/no-such-page"),
    ("forbidden", "operator", "/vendor/keys"),
    ("settings-trial", "operator", "/settings"),
    ("settings-update", "operator", "/settings?panel=update"),
    ("instances", "operator", "/instances"),
    ("vendor-issue", "issuer", "/vendor/issue"),
    ("vendor-keys", "issuer", "/vendor/keys"),
    ("vendor-key", "issuer", "/vendor/keys/{key}"),
    ("vendor-decode", "issuer", "/vendor/decode"),
    ("vendor-audit", "issuer", "/vendor/audit"),
    ("vendor-attention", "issuer", "/vendor/attention"),
    ("vendor-offline", "admin", "/vendor/offline"),
    ("vendor-demo-codes", "admin", "/vendor/demo-codes"),
    ("vendor-webhooks", "admin", "/vendor/webhooks"),
    ("vendor-webhook-deliveries", "admin", "/vendor/webhooks/deliveries"),
]


@pytest.mark.parametrize(("role", "path"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_page_has_no_violation(page, live_server, seeded, role, path):
    if role:
        login(page, live_server, role=role)
    page.goto(live_server.url + path.format(key=seeded))
    audit(page)


@pytest.mark.parametrize(("role", "path"), [("operator", "/settings"), ("admin", "/vendor/keys")],
                         ids=["settings", "vendor-keys"])
def test_phone_width_has_no_violation(page, live_server, seeded, role, path):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, role=role)
    page.goto(live_server.url + path)
    audit(page)


# ------------------------------------------------------------------ states after an htmx swap


def test_refused_key_on_settings(page, live_server):
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    page.get_by_role("button", name="Update Product License").click()
    page.get_by_label("Product key").fill("not-a-product-key")
    page.get_by_role("button", name="Check the key").click()
    expect(page.locator("#product-key-error")).to_be_visible()
    audit(page)


def test_key_preview_on_settings(page, live_server):
    from webapp.environment import instances, license_record
    from webapp.vendor_side.issuing import issue_from_code

    with live_server.app.app_context():
        key = issue_from_code(READY, license_record.install_id(), actor="setup").key.product_key
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    page.get_by_role("button", name="Update Product License").click()
    page.get_by_label("Product key").fill(key)
    page.get_by_role("button", name="Check the key").click()
    expect(page.locator("#license-preview")).to_be_visible()
    audit(page)


def test_instance_created(page, live_server):
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/instances")
    page.get_by_label("Name").fill("kafka-2")
    page.get_by_label("Capacity (AKU)").fill("2")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#instances-message")).to_be_visible()
    audit(page)


def test_key_verified_and_issued(page, live_server):
    login(page, live_server, role="issuer")
    page.get_by_label("Authorization code").fill(READY)
    page.get_by_label("Install ID").fill(INSTALL)
    page.get_by_role("button", name="Verify").click()
    page.locator("#verification").wait_for()
    audit(page)
    page.get_by_role("button", name="Issue product key").click()
    page.locator("#issued").wait_for()
    audit(page)


def test_renewal_found_on_needs_attention(page, live_server, seeded):
    live_server.app.extensions["license_vendor"].simulator.renew(READY, days=30)
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/attention")
    page.get_by_role("button", name="Re-read all codes now").click()
    expect(page.locator("#needs-key tbody tr")).to_have_count(1)
    audit(page)


def test_timeline_opened_on_keys(page, live_server, seeded):
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/keys")
    page.locator("#key-results").get_by_role("link", name="Timeline").click()
    page.locator("ol.timeline").wait_for()
    audit(page)


def test_key_decoded(page, live_server, seeded):
    from webapp.database import db
    from webapp.vendor_side.models import IssuedKey

    with live_server.app.app_context():
        key = db.session.get(IssuedKey, seeded).product_key
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/decode")
    page.get_by_label("Product key").fill(key)
    page.get_by_role("button", name="Decode").click()
    expect(page.locator(f"#decoded [data-copy='{INSTALL}']")).to_be_visible()  # shown short, copied whole
    audit(page)


def test_buyer_redeemed(page, live_server):
    page.goto(live_server.url + "/redeem")
    page.get_by_label("Authorization code").fill(READY)
    page.get_by_label("Install ID").fill(INSTALL)
    page.get_by_role("button", name="Get product key").click()
    page.locator("#redeemed").wait_for()
    audit(page)


def test_problem_toast(page, live_server):
    """The toast app.js shows when htmx gets no answer (here the event alone: a real network
    failure would also log a console error, which the `page` fixture counts)."""
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    page.evaluate("document.body.dispatchEvent(new CustomEvent('htmx:sendError', {bubbles: true}))")
    expect(page.locator("main #htmx-problem")).to_be_visible()
    audit(page)


def test_skip_link_moves_the_focus_to_the_main_content(page, live_server):
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/keys")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_webhook_added_and_redelivered(page, live_server, seeded):
    """Issue 14: the secret shown once after an htmx add; a failed delivery with its attempt, and
    Redeliver's answer swapped in place."""
    from webapp.vendor_side import webhooks

    live_server.app.config["LICENSE_WEBHOOK_ALLOW_PRIVATE"] = True
    login(page, live_server, role="admin")
    page.goto(live_server.url + "/vendor/webhooks")
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")  # nothing listens: refused
    page.get_by_label("license.expiring").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    audit(page)
    with live_server.app.app_context():
        from webapp.database import db
        from webapp.vendor_side import events

        events.scan_expiry(days=[3650])  # the seeded key's reminder, whenever it ends
        db.session.commit()
        webhooks.deliver_due()
    page.goto(live_server.url + "/vendor/webhooks/deliveries")
    expect(page.locator(".attempts li")).to_have_count(1)
    page.get_by_role("button", name="Redeliver").click()
    expect(page.locator("#redeliver-result")).to_contain_text("Redelivery failed")
    expect(page.locator(".attempts li")).to_have_count(2)
    audit(page)
