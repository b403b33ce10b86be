"""Issue 14 in Chromium: staff record a buyer's e-mail for expiry reminders while issuing (only
with the consent box ticked), see it masked on the key's page and remove it; the admins' E-mail
page lists what `license notify` wrote."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import htmx_settled, login
from .test_vendor import INSTALL, verify

pytestmark = pytest.mark.browser


def test_buyer_email_recorded_at_issuing_with_consent_then_removed(page, live_server):
    login(page, live_server, role="admin")
    page.goto(live_server.url + "/vendor/issue")
    verify(page)
    page.get_by_text("Expiry reminders to the buyer (optional)").click()
    page.get_by_label("Buyer's e-mail").fill("ops.lead@buyer.example")
    page.get_by_label("Language of the reminders").select_option("zh_Hans_CN")
    with htmx_settled(page):
        page.get_by_role("button", name="Issue product key").click()
    # no consent: refused in place, nothing issued, what was typed kept
    expect(page.locator("#buyer_email-error")).to_contain_text("agreed")
    expect(page.get_by_label("Buyer's e-mail")).to_have_value("ops.lead@buyer.example")
    expect(page.locator("#issued")).to_have_count(0)
    page.get_by_label("The buyer agreed to receive these reminders").check()
    page.get_by_role("button", name="Issue product key").click()
    page.locator("#issued").wait_for()

    with live_server.app.app_context():
        from webapp.database import db
        from webapp.vendor_side.models import IssuedKey

        key_id = db.session.scalar(db.select(IssuedKey.id).where(IssuedKey.install_id == INSTALL))
    page.goto(f"{live_server.url}/vendor/keys/{key_id}")
    contact = page.locator("#buyer-contact")
    expect(contact).to_contain_text("o***@buyer.example")
    expect(contact).to_contain_text("中文")
    expect(page.locator("body")).not_to_contain_text("ops.lead@buyer.example")
    page.once("dialog", lambda dialog: dialog.accept())
    with htmx_settled(page):
        contact.get_by_role("button", name="Remove the buyer's e-mail").click()
    expect(page.locator("#buyer-contact")).to_contain_text("no more reminders")
    expect(page.locator("#buyer-contact")).not_to_contain_text("o***@buyer.example")


def test_the_email_page_says_when_email_is_off(page, live_server):
    login(page, live_server, role="admin")
    page.goto(live_server.url + "/vendor/mail")
    expect(page.get_by_role("heading", name="E-mail")).to_be_visible()
    expect(page.locator("#mail-off")).to_contain_text("MAIL_SERVER")
    expect(page.get_by_role("link", name="E-mail")).to_be_visible()  # in the admin's navigation
