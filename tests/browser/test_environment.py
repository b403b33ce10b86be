"""The environment's Settings and Instances pages in Chromium: htmx, the header badge and banners,
every refusal inline, and the same forms without JavaScript."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.environment.conftest import Clock, Keys, altered

from .conftest import CHROMIUM_ARGS, login  # noqa: F401  (CHROMIUM_ARGS documents the harness)


@pytest.fixture
def clock(app):
    c = Clock()
    app.config["LICENSE_CLOCK"] = c
    return c


@pytest.fixture
def keys(app, clock):
    return Keys(app, clock)


def open_settings(page, live_server):
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    expect(page.locator("#license-card")).to_be_visible()


def paste_key(page, key: str):
    page.get_by_role("button", name="Update Product License").click()
    page.get_by_label("Product key").fill(key)
    page.get_by_role("button", name="Check the key").click()


def test_read_and_copy_the_install_id(page, live_server, keys):
    open_settings(page, live_server)
    install_id = page.locator("#install-id").inner_text()
    assert re.fullmatch(r"[0-9a-f]{32}", install_id)
    assert install_id == keys.install_id()
    page.get_by_role("button", name="Copy the install ID").click()
    expect(page.get_by_role("button", name="Copy the install ID")).to_have_text("Copied")
    # operators land on Settings
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/settings$"))


def test_update_the_product_license_through_preview_and_confirm(page, live_server, keys):
    open_settings(page, live_server)
    card = page.locator("#license-card")
    expect(card.locator("#license-status")).to_have_text("Trial")
    expect(page.locator("#license-badge")).to_have_text("Trial")
    expect(page.locator("#banners")).to_contain_text("Free trial: 14 days left.")

    key = keys.make(seq=1, aku=40, days=30)
    paste_key(page, key)
    preview = page.locator("#license-preview")
    expect(preview).to_contain_text("What this key grants")
    expect(preview.locator("#preview-aku")).to_contain_text("40 AKU")
    assert page.locator('#license-preview input[name="product_key"]').input_value() == key
    page.get_by_role("button", name="Apply this license").click()

    expect(card.locator("#license-status")).to_have_text("Active")
    expect(card.locator("#license-aku")).to_have_text("40 AKU")
    expect(card.locator("#license-seq")).to_have_text("1")
    expect(card).to_contain_text("Activated: 40 AKU until 2026-12-01 09:00 UTC")
    # the header badge, the banners and the history follow through HX-Trigger: license-changed
    expect(page.locator("#license-badge")).to_have_text("Active")
    expect(page.locator("#banners")).not_to_contain_text("Free trial")
    expect(page.locator("#activation-history")).to_contain_text("Applied")
    assert page.url.endswith("/settings")  # updated in place, no navigation


def test_update_product_license_is_a_button_after_online_activation_and_keeps_the_focus(page, live_server, keys,
                                                                                       clock):
    clock.set(datetime.now(timezone.utc))  # the vendor side issues keys at the real time
    open_settings(page, live_server)
    page.get_by_label("Authorization code", exact=True).fill("DEMO-AKU20-READY-7K3Q")  # the demo simulator's code
    page.get_by_role("button", name="Activate online").click()
    expect(page.locator("#redeem-message")).to_contain_text("Activated: 20 AKU")
    expect(page.locator("#redeem-message")).to_be_focused()  # the answer replaces the button pressed
    expect(page.locator("#license-status")).to_have_text("Active")  # the card, out of band
    expect(page.locator("#license-badge")).to_have_text("Active")

    update = page.get_by_role("button", name="Update Product License")
    expect(update).to_be_visible()
    update.click()
    expect(page.get_by_label("Product key")).to_be_focused()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("button", name="Update Product License")).to_be_focused()

    page.get_by_role("button", name="Update Product License").press("Enter")  # the keyboard works too
    page.get_by_label("Product key").fill(keys.make(seq=5, aku=30, days=60))
    page.get_by_role("button", name="Check the key").click()
    expect(page.get_by_role("heading", name="What this key grants")).to_be_focused()
    page.get_by_role("button", name="Apply the downgrade").click()  # it ends before the code's term
    expect(page.locator("#license-message")).to_be_focused()
    expect(page.locator("#license-seq")).to_have_text("5")
    expect(page.locator("#activation-history .badge-ok")).to_have_count(2)  # the history followed
    page.wait_for_load_state("networkidle")


def test_a_phone_sees_settings_and_instances_without_sideways_scrolling(browser, live_server, keys):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        open_settings(page, live_server)
        page.get_by_role("button", name="Update Product License").click()
        page.get_by_label("Product key").fill("not a product key")
        page.get_by_role("button", name="Check the key").click()
        expect(page.locator("#product-key-error")).to_be_visible()
        page.get_by_label("Product key").fill(keys.make(seq=1, aku=20, reference="****7Q2K"))
        page.get_by_role("button", name="Check the key").click()
        page.get_by_role("button", name="Apply this license").click()
        expect(page.locator("#activation-history .badge-ok")).to_have_count(1)
        page.goto(live_server.url + "/settings")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # each history row shows its values beside the column's name
        expect(page.locator('#activation-history td[data-label="Result"]').first).to_be_visible()

        page.goto(live_server.url + "/instances")
        for name, aku in (("kafka-prod-eu-west-1", 6), ("analytics", 4)):
            page.get_by_label("Name").fill(name)
            page.get_by_label("Capacity (AKU)").fill(str(aku))
            page.get_by_role("button", name="Create instance").click()
            expect(page.locator("#instances-panel")).to_contain_text(f"Created {name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for control in (page.get_by_role("button", name="Delete analytics"), page.get_by_label("AKU for analytics")):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    finally:
        context.close()


def test_expiring_key_brings_the_banner_and_a_downgrade_is_said(page, live_server, keys):
    open_settings(page, live_server)
    paste_key(page, keys.make(seq=1, aku=40, days=5))
    # it ends before the trial would: the preview says so, and the button names it
    expect(page.locator("#preview-downgrade")).to_contain_text("expires earlier than the running license")
    page.get_by_role("button", name="Apply the downgrade").click()
    expect(page.locator("#license-badge")).to_have_text("Expiring")
    expect(page.locator("#banners .banner-warning")).to_contain_text(
        "The license expires in 5 days: renew on the marketplace, then re-activate.")

    paste_key(page, keys.make(seq=2, aku=10, days=30))
    expect(page.locator("#preview-downgrade")).to_contain_text("This is a downgrade.")
    expect(page.locator("#preview-downgrade")).to_contain_text("10 AKU instead of 40 AKU")
    page.get_by_role("button", name="Apply the downgrade").click()
    expect(page.locator("#license-aku")).to_have_text("10 AKU")
    expect(page.locator("#license-badge")).to_have_text("Active")
    expect(page.locator("#banners")).not_to_contain_text("expires in")


def test_each_kind_of_refusal_appears_inline(page, live_server, keys, clock):
    open_settings(page, live_server)
    page.get_by_role("button", name="Update Product License").click()
    cases = [  # what was pasted, the error's headline (in bold), and words of what follows
        ("not a product key", "This is not a product key.", "starts with eyJpbnN0YWxsSWQiOi"),
        ("DEMO-AKU20-READY-7K3Q", "This is not a product key.", "An authorization code from the marketplace"),
        (keys.make(seq=1)[:300], "This product key is incomplete or damaged.", "copy the whole key again"),
        (keys.make(stranger=True), "This key is signed with a vendor key that this environment does not know.",
         "ask the vendor for a key signed with a current key"),
        (altered(keys.make(seq=2), aku=400), "This key was altered or not issued by the vendor.",
         "Its signature does not match"),
        (keys.make(install_id="0123456789abcdef0123456789abcdef"), "This key is for another environment.",
         "It was issued for install ID 0123456789abcdef0123456789abcdef"),
        (keys.make(issued_at=clock.now - timedelta(days=40), days=30), "This key has expired.",
         "It was valid until 2026-10-22 09:00 UTC"),
        (keys.make(not_before=clock.now + timedelta(days=2)), "This key is not valid yet.",
         "It is valid from 2026-11-03 09:00 UTC"),
        (keys.make(issued_at=clock.now + timedelta(hours=2)),
         "This key was issued later than this environment's clock says it is now.", "correct the environment's clock"),
    ]
    history = page.locator("#activation-history")
    for count, (text, headline, words) in enumerate(cases, start=1):
        page.get_by_label("Product key").fill(text)
        page.get_by_role("button", name="Check the key").click()
        # the history follows each answer (activation-recorded): this one has arrived
        expect(history.locator(".badge-danger")).to_have_count(count)
        error = page.locator("#product-key-error")
        expect(error.locator("strong")).to_have_text(headline)
        expect(error).to_contain_text(words)
        assert error.inner_text().count(headline) == 1  # the headline is said once
        assert page.get_by_label("Product key").input_value() == text  # what was pasted is kept
    expect(page.locator("#license-status")).to_have_text("Trial")
    # the history says why in words, never in error codes
    expect(history.locator(".refusal-reason").first).to_have_text("issued ahead of this environment's clock")
    expect(history).to_contain_text("for another environment")
    expect(history).not_to_contain_text("malformed_key")
    expect(history).not_to_contain_text("wrong_install_id")

    # an older key, after a newer one runs
    page.get_by_label("Product key").fill(keys.make(seq=3))
    page.get_by_role("button", name="Check the key").click()
    page.get_by_role("button", name="Apply this license").click()
    expect(page.locator("#license-seq")).to_have_text("3")
    paste_key(page, keys.make(seq=2))
    expect(page.locator("#product-key-error")).to_contain_text("older than the running license")
    expect(page.locator("#activation-history .refusal-reason").first).to_have_text("older than the running key")


def test_instances_within_and_beyond_the_licensed_aku(page, live_server, clock):
    login(page, live_server, role="operator")
    page.goto(live_server.url + "/instances")
    page.get_by_label("Name").fill("kafka-1")
    page.get_by_label("Capacity (AKU)").fill("10")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#capacity-in-use")).to_have_text("10 AKU")
    expect(page.locator("#instances-message")).to_have_text("Created kafka-1 with 10 AKU.")
    expect(page.locator("#instances-message")).to_be_focused()  # the panel was swapped whole

    page.get_by_label("Name").fill("kafka-1")
    page.get_by_label("Capacity (AKU)").fill("1")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#create-error")).to_contain_text("already exists")
    expect(page.get_by_label("Name")).to_be_focused()  # the field to correct, described by the error

    page.get_by_label("Name").fill("kafka-2")
    page.get_by_label("Capacity (AKU)").fill("5")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#create-error")).to_contain_text("only 4 of the 14 AKU licensed are free")
    expect(page.locator("#create-error")).to_be_focused()
    assert page.get_by_label("Name").input_value() == "kafka-2"

    clock.advance(days=15)
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator("#create-error")).to_contain_text("Running instances keep running")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete kafka-1").click()
    expect(page.locator("#instances-panel")).to_contain_text("Deleted kafka-1.")


def test_the_same_forms_work_without_javascript(browser, live_server, keys):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, live_server, role="operator")
        page.goto(live_server.url + "/settings")
        page.get_by_role("button", name="Update Product License").click()
        page.get_by_label("Product key").fill("garbage")
        page.get_by_role("button", name="Check the key").click()
        expect(page.locator("#product-key-error")).to_contain_text("This is not a product key.")
        page.get_by_label("Product key").fill(keys.make(seq=1, aku=25))
        page.get_by_role("button", name="Check the key").click()
        page.get_by_role("button", name="Apply this license").click()
        expect(page.locator(".flash-success")).to_contain_text("Activated: 25 AKU")
        expect(page.locator("#license-status")).to_have_text("Active")
        expect(page.locator("#license-badge")).to_have_text("Active")
    finally:
        context.close()


def test_a_fresh_trial_says_14_days_left_all_its_first_day(page, live_server, keys, clock):
    keys.install_id()  # the trial starts now
    clock.advance(hours=23, minutes=30)
    open_settings(page, live_server)
    expect(page.locator("#banners")).to_contain_text("Free trial: 14 days left.")
    expect(page.locator("#license-days-left")).to_have_text("14 days left")
    expect(page.locator("#license-badge .badge")).to_have_attribute("title", "Trial: 14 days left, 14 AKU")
    paste_key(page, keys.make(seq=1, days=30))
    expect(page.locator("#license-preview")).to_contain_text("(14 days left)")
    expect(page.locator("#preview-expires")).to_contain_text("(30 days left)")

    clock.advance(days=13)  # thirty minutes left
    page.goto(live_server.url + "/settings")
    expect(page.locator("#banners")).to_contain_text("The trial expires in less than a day.")
    expect(page.locator("#license-days-left")).to_have_text("less than a day left")


DEMO_CODE = "DEMO-AKU20-READY-7K3Q"  # the demo simulator's code, not yet activated at the marketplace


def test_check_for_renewal_says_what_changed(page, live_server, clock):
    """Each answer of Check for renewal reads differently from the activation's and from the others,
    so waiting on its words waits for that answer."""
    clock.set(datetime.now(timezone.utc))  # the vendor side issues keys at the real time
    sim = live_server.app.extensions["license_vendor"].simulator
    open_settings(page, live_server)
    page.get_by_label("Authorization code", exact=True).fill(DEMO_CODE)
    page.get_by_role("button", name="Activate online").click()
    expect(page.locator("#redeem-message")).to_contain_text("Activated: 20 AKU until")
    expect(page.locator("#license-message")).to_have_count(0)  # said once, where the focus is
    first_expiry = page.locator("#license-expires").inner_text()

    check = page.get_by_role("button", name="Check for renewal")
    check.click()  # nothing new at the marketplace
    message = page.locator("#license-message")
    expect(message).to_contain_text("No renewal yet: key sequence 1 (20 AKU until")
    expect(message).not_to_contain_text("Activated")
    expect(message).to_be_focused()

    sim.change_specification(DEMO_CODE, "aku-40")  # a specification change only
    page.get_by_role("button", name="Check for renewal").click()
    expect(message).to_have_text(f"Updated to 40 AKU (was 20 AKU) until {first_expiry}, key sequence 2.")
    expect(page.locator("#license-aku")).to_have_text("40 AKU")

    sim.renew(DEMO_CODE, days=30)  # a renewal only
    page.get_by_role("button", name="Check for renewal").click()
    expect(message).to_contain_text(f"Renewed until ")
    expect(message).to_contain_text(f"(was {first_expiry}), 40 AKU, key sequence 3.")
    expect(page.locator("#license-seq")).to_have_text("3")
    expect(page.locator("#activation-history .badge-ok")).to_have_count(3)
