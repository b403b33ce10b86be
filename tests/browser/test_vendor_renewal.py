"""From the Settings page to the vendor and back, in Chromium (role `both`): an operator activates
with an authorization code, the buyer renews and upgrades at the marketplace, "Check for renewal"
fetches and applies the new key in one click, and staff see the same story on the vendor's pages."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.browser

CODE = "DEMO-AKU20-ACTIVE-4T8P"  # already activated by its buyer at the marketplace


def test_activation_and_renewal_check_from_the_settings_page(page, live_server):
    sim = live_server.app.extensions["license_vendor"].simulator
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    install_id = re.search(r"[0-9a-f]{32}", page.locator("body").inner_text()).group(0)

    page.get_by_label("Authorization code", exact=True).fill(CODE)
    page.get_by_role("button", name="Activate online").click()
    expect(page.locator("#license-status")).to_have_text("Active")
    expect(page.locator("#license-aku")).to_have_text("20 AKU")
    expect(page.locator("#license-seq")).to_have_text("1")
    first_expiry = page.locator("#license-expires").inner_text()

    page.get_by_role("button", name="Check for renewal").click()  # nothing changed at the marketplace
    expect(page.locator("#license-message")).to_contain_text("No renewal yet")  # this check's answer
    expect(page.locator("#license-seq")).to_have_text("1")

    sim.renew(CODE, days=30)  # the buyer renews and upgrades
    sim.change_specification(CODE, "aku-40")
    page.get_by_role("button", name="Check for renewal").click()  # waits for the new card's button
    expect(page.locator("#license-message")).to_contain_text("Renewed until")
    expect(page.locator("#license-message")).to_contain_text("updated to 40 AKU (was 20 AKU)")
    expect(page.locator("#license-seq")).to_have_text("2")
    expect(page.locator("#license-aku")).to_have_text("40 AKU")
    assert page.locator("#license-expires").inner_text() > first_expiry
    expect(page.locator("#license-badge")).to_have_text("Active")

    # The vendor's staff see both keys: the new one active, the first superseded by it.
    page.context.clear_cookies()
    login(page, live_server, role="issuer")
    page.goto(live_server.url + f"/vendor/keys?q={install_id}")
    rows = page.locator("#key-results tbody tr[id^=key-]")
    expect(rows).to_have_count(2)
    assert re.search(r"\b2\b.*40.*Active", rows.nth(0).inner_text(), re.S)
    assert "Superseded" in rows.nth(1).inner_text()
    assert "****4T8P" in rows.nth(0).inner_text() and CODE not in page.content()
