"""The vendor side in Chromium: staff verify and issue, renewal re-issue with its before and
after, buyer redemption, the keys page's active search. The marketplace is the in-process
simulator with its demo codes (no credentials configured)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import htmx_settled, login

pytestmark = pytest.mark.browser

READY = "DEMO-AKU20-READY-7K3Q"
INSTALL = "0123456789abcdef0123456789abcdef"


def simulator(live_server):
    return live_server.app.extensions["license_vendor"].simulator


def fill(page, code=READY, install=INSTALL):
    page.get_by_label("Authorization code").fill(code)
    page.get_by_label("Install ID").fill(install)


def verify(page, code=READY, install=INSTALL):
    fill(page, code, install)
    page.get_by_role("button", name="Verify").click()
    page.locator("#verification").wait_for()


def redeem(page, live_server, code=READY):
    """A buyer on the public redeem page (no login needed)."""
    page.goto(live_server.url + "/redeem")
    fill(page, code)
    page.get_by_role("button", name="Get product key").click()


def issue(page) -> str:
    """Press "Issue product key" after a verify; the key shown."""
    page.get_by_role("button", name="Issue product key").click()
    page.locator("#issued").wait_for()
    return page.locator("#product-key").input_value()


def resize(page, selector: str, dx: int = 40, dy: int = 60):
    """Drag the resize handle of a textarea, as a person does; the browser records the new size
    in the element's style attribute."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3 + dx, box["y"] + box["height"] - 3 + dy, steps=4)
    page.mouse.up()


def test_staff_verify_and_issue(page, live_server):
    login(page, live_server, role="issuer")
    assert page.url.endswith("/vendor/issue")  # the issuer's home
    verify(page)
    facts = page.locator("#market-facts")
    assert "INACTIVATED" in facts.inner_text() and "20 AKU" in facts.inner_text()
    assert "1234****0001" in facts.inner_text()
    assert page.locator("#change-kind").inner_text() == "New license"

    key = issue(page)
    assert key.startswith("eyJpbnN0YWxsSWQiOi")
    assert page.get_by_label("Authorization code").input_value() == READY  # values kept
    assert key in page.locator("#buyer-message").input_value()

    copy = page.get_by_role("button", name="Copy key")
    copy.click()
    page.get_by_role("button", name="Copied").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"product-key-{INSTALL}-seq1.txt"


def test_renewal_reissue_shows_before_and_after(page, live_server):
    login(page, live_server, role="issuer")
    verify(page)
    first = issue(page)

    # The buyer renews and upgrades on the marketplace (the demo codes page plays it).
    page.goto(live_server.url + "/vendor/demo-codes")
    page.get_by_role("button", name=f"Renew {READY} by 30 days").click()
    page.get_by_role("button", name=f"Change {READY} to aku-40").click()  # waits for the new row's buttons
    expect(page.locator("#demo-codes tr", has_text=READY)).to_contain_text("aku-40")

    page.goto(live_server.url + "/vendor/issue")
    verify(page)
    assert page.locator("#change-kind").inner_text() == "Renewal and specification change"
    compare = page.get_by_role("table", name="Before and after")
    aku_row = compare.get_by_role("row", name=re.compile(r"^AKU")).inner_text()
    assert re.search(r"20\s+40\s+\(\+20\)", aku_row), aku_row
    assert "(later)" in compare.get_by_role("row", name=re.compile(r"^Expires")).inner_text()

    second = issue(page)
    assert "Seq 2" in page.locator("#issued").inner_text()
    assert second != first
    assert "replaces the one issued earlier" in page.locator("#buyer-message").input_value()


def test_buyer_redeems_without_an_account(page, live_server):
    redeem(page, live_server, "DEMO-EXPIRED-5R1N")
    assert "Purchased Services" in page.content()
    page.locator("#redeem-error").wait_for()
    assert "expired" in page.locator("#redeem-error").inner_text()

    page.get_by_label("Authorization code").fill(READY)
    page.get_by_role("button", name="Get product key").click()
    page.locator("#redeemed").wait_for()
    assert page.locator("#product-key").input_value().startswith("eyJpbnN0YWxsSWQiOi")
    assert "20 AKU" in page.locator("#redeemed").inner_text()
    assert "Update Product License" in page.locator("#redeemed").inner_text()


def test_keys_active_search_and_timeline(page, live_server):
    login(page, live_server, role="admin")
    verify(page)
    issue(page)
    page.goto(live_server.url + "/vendor/keys")
    page.get_by_label("Search").press_sequentially("7K3Q")  # typed: keyup, 200 ms after the last key
    page.wait_for_url(re.compile(r"q=7K3Q"))
    results = page.locator("#key-results")
    expect(results.locator(f'[data-copy="{INSTALL}"]')).to_have_count(1)  # shown short, copied whole
    page.get_by_label("Search").fill("nothing-like-it")
    page.wait_for_url(re.compile(r"q=nothing-like-it"))
    page.get_by_text("No keys match").wait_for()
    page.get_by_label("Search").fill(INSTALL)  # pasted: the input event
    page.wait_for_url(re.compile(r"q=" + INSTALL))
    page.locator("#key-results").get_by_role("link", name="Timeline").click()
    page.locator("ol.timeline").wait_for()
    assert "Authorization code bound" in page.locator("ol.timeline").inner_text()
    assert page.url.endswith("q=" + INSTALL + "&status=")  # shown in place

    page.get_by_label("Search").fill(READY)  # a whole code: found, and not kept in the history
    page.wait_for_url(re.compile(r"q=\*\*\*\*7K3Q"))
    expect(page.locator(f'#key-results [data-copy="{INSTALL}"]')).to_have_count(1)


def test_keys_search_and_timeline_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, live_server, role="admin")
        redeem(page, live_server)
        page.goto(live_server.url + "/vendor/keys")
        page.get_by_label("Search").fill("7K3Q")
        page.get_by_role("button", name="Search").click()
        assert re.search(r"/vendor/keys\?q=7K3Q", page.url)
        page.get_by_role("link", name="Timeline").click()
        assert "#timeline" in page.url and "Key issued" in page.locator("#timeline").inner_text()
    finally:
        context.close()


# ------------------------------------------------------------------ no inline style after a swap
# htmx's settle step copies an old element's `style` attribute onto its new twin (same id) with
# setAttribute, which the CSP (style-src 'self') refuses: a console error. Browsers put style
# attributes on elements of their own accord (a textarea resized by hand, a screenshot hiding
# the caret), so the base layout must not let htmx settle `style` (`attributesToSettle`).
# The `page` fixture fails the test on any console error.


def test_a_screenshot_between_verify_and_issue_breaks_nothing(page, live_server):
    login(page, live_server, role="issuer")
    fill(page)
    page.screenshot()  # Chromium leaves style="" on the inputs it hid the caret of
    assert page.locator("#code[style]").count() == 1
    page.get_by_role("button", name="Verify").click()
    page.locator("#verification").wait_for()
    page.screenshot()
    assert issue(page).startswith("eyJpbnN0YWxsSWQiOi")


def test_a_resized_key_box_survives_redeeming_again(page, live_server):
    redeem(page, live_server)
    page.locator("#redeemed").wait_for()
    resize(page, "#product-key")
    assert page.locator("#product-key[style]").count() == 1
    with htmx_settled(page):  # the CSP would refuse htmx copying style="" at the settle step
        page.get_by_role("button", name="Get product key").click()  # the same code again: the stored key
    page.get_by_role("heading", name="Your product key (unchanged)").wait_for()


def test_needs_attention_shows_the_new_key_in_place(page, live_server):
    """"Issue new key" on a row shows the key right there, with Copy, Download and the buyer
    message, as the Issue page does; a specification change is announced as one."""
    login(page, live_server, role="issuer")
    verify(page)
    first = issue(page)

    page.goto(live_server.url + "/vendor/attention")
    expect(page.locator("#last-read")).to_have_text("Last read: never.")
    expect(page.locator("#not-read")).to_contain_text("Re-read all codes now")

    page.goto(live_server.url + "/vendor/demo-codes")  # the buyer upgrades; the expiry stays
    page.get_by_role("button", name=f"Change {READY} to aku-40").click()
    expect(page.locator("#demo-message")).to_have_text(f"Specification of {READY} changed to aku-40 (40 AKU).")
    expect(page.locator("#demo-codes tr", has_text=READY)).to_contain_text("Activated, 40 AKU until")

    page.goto(live_server.url + "/vendor/attention")
    page.get_by_role("button", name="Re-read all codes now").click()
    row = page.locator("#needs-key tbody tr", has_text=INSTALL)
    expect(row).to_contain_text("Updated to 40 AKU (specification change)")
    expect(row).not_to_contain_text("Renewed")
    expect(page.locator("#last-read")).to_contain_text("by issuer@example.com")
    row.get_by_role("button", name="Issue new key").click()

    expect(page.locator("#issued-summary")).to_contain_text(
        f"Updated to 40 AKU (specification change). Seq 2 for install ID {INSTALL}: 40 AKU until")
    expect(page.locator("#issued")).to_be_in_viewport()
    expect(page.locator("#needs-key")).to_contain_text("None: every environment holds the key")
    key = page.locator("#product-key").input_value()
    assert key.startswith("eyJpbnN0YWxsSWQiOi") and key != first
    expect(page.locator("#buyer-message")).to_have_value(re.compile(re.escape(key)))
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"product-key-{INSTALL}-seq2.txt"


# ------------------------------------------------------------------ issue 8: the pages read at a glance


def record_events(live_server, n: int = 320) -> None:
    """`n` audit events of one environment, as growing instances writes them."""
    from webapp import audit
    from webapp.database import db

    with live_server.app.app_context():
        for i in range(n):
            audit.record("instance_grown", actor="operator@example.com", subject=f"instance:{i}", install_id=INSTALL,
                         before={"name": f"kafka-{i}", "aku": 4}, after={"name": f"kafka-{i}", "aku": 6})
        db.session.commit()


def event_rows(page):
    return page.locator("table.audit > tbody > tr")


def test_audit_log_pages_through_hundreds_of_events_with_htmx(page, live_server):
    record_events(live_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/audit")
    rows = event_rows(page)
    expect(rows).to_have_count(50)  # one page, however long the log
    newest = rows.first.get_attribute("id")
    changed = rows.filter(has_text="instance_grown").first.locator("table.changes tr.changed")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("AKU")

    page.get_by_role("link", name="Older events").click()  # htmx swaps the results, the URL follows
    expect(page).to_have_url(re.compile(r"/vendor/audit\?before=\d+$"))
    expect(rows.first).not_to_have_attribute("id", newest)
    expect(rows).to_have_count(50)
    assert page.get_by_role("heading", name="Audit log").count() == 1  # swapped in place, not a new page
    second = rows.first.get_attribute("id")
    page.get_by_role("link", name="Older events").click()
    expect(rows.first).not_to_have_attribute("id", second)
    page.get_by_role("link", name="Newer events").click()
    expect(rows.first).to_have_attribute("id", second)
    page.get_by_role("link", name="Newest events").click()
    expect(rows.first).to_have_attribute("id", newest)
    expect(page.get_by_role("link", name="Newer events")).to_have_count(0)

    short = INSTALL[:8] + "…" + INSTALL[-4:]
    cell = rows.filter(has_text="instance_grown").first.locator("td[data-label='Install ID']")
    expect(cell.locator("code")).to_have_text(short)
    copy = cell.get_by_role("button", name=f"Copy install ID {short}")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == INSTALL  # the whole install ID


def test_audit_log_pages_without_javascript(browser, live_server):
    record_events(live_server, 120)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, live_server, role="issuer")
        page.goto(live_server.url + "/vendor/audit?action=instance_grown")
        rows = event_rows(page)
        expect(rows).to_have_count(50)
        first = rows.first.get_attribute("id")
        page.get_by_role("link", name="Older events").click()
        expect(page).to_have_url(re.compile(r"action=instance_grown.*before=\d+|before=\d+.*action=instance_grown"))
        expect(rows).to_have_count(50)
        page.get_by_role("link", name="Older events").click()
        expect(rows).to_have_count(20)
        expect(page.get_by_role("link", name="Older events")).to_have_count(0)
        page.get_by_role("link", name="Newest events").click()
        expect(rows.first).to_have_attribute("id", first)
    finally:
        context.close()


def test_audit_log_fits_a_phone(page, live_server):
    record_events(live_server, 5)
    redeem(page, live_server)  # a key_issued event: the widest before and after
    page.locator("#redeemed").wait_for()
    page.set_viewport_size({"width": 390, "height": 800})
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/audit")
    expect(event_rows(page).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    assert page.locator("#audit-results").evaluate("e => e.scrollWidth <= e.clientWidth")
    expect(page.locator("table.audit > thead")).not_to_be_in_viewport()


def test_the_trial_banner_and_badge_stay_on_the_environments_pages(page, live_server):
    login(page, live_server, role="admin")  # admins see both sides
    banner = page.locator("#banners .banner")
    badge = page.locator("#license-badge .badge")
    for path in ("/vendor/keys", "/redeem"):
        page.goto(live_server.url + path)
        expect(page.locator("#banners")).to_be_attached()
        expect(page.locator("#license-badge")).to_be_attached()
        expect(banner).to_have_count(0)
        expect(badge).to_have_count(0)
        page.evaluate("document.querySelector('#license-badge').dataset.before = 'swap'")
        with page.expect_response(lambda r: "/_license/banners" in r.url) as answer, \
                page.expect_response(lambda r: "/_license/badge" in r.url) as badge_answer:
            page.evaluate("htmx.trigger(document.body, 'license-changed')")  # what an activation sends
        assert answer.value.ok and "Free trial" not in answer.value.text()
        assert badge_answer.value.ok and "Trial" not in badge_answer.value.text()
        expect(page.locator("#license-badge[data-before]")).to_have_count(0)  # swapped...
        expect(page.locator("#license-badge")).to_be_attached()  # ...and still there for the next time
        expect(banner).to_have_count(0)
        expect(badge).to_have_count(0)
    page.goto(live_server.url + "/settings")
    expect(banner).to_contain_text("Free trial")
    expect(badge).to_have_text("Trial")
    with page.expect_response(lambda r: "/_license/banners" in r.url) as answer, \
            page.expect_response(lambda r: "/_license/badge" in r.url) as badge_answer:
        page.evaluate("htmx.trigger(document.body, 'license-changed')")
    assert "Free trial" in answer.value.text() and ">Trial</span>" in badge_answer.value.text()
    expect(banner).to_contain_text("Free trial")
    expect(badge).to_have_text("Trial")


def test_keys_table_buttons_keep_their_padding(page, live_server):
    from datetime import datetime, timedelta, timezone

    from webapp.database import db
    from webapp.vendor_side.ledger import issue_key

    with live_server.app.app_context():
        for i in range(4):
            issue_key(install_id=f"{i:x}" * 32, aku=20, expires_at=datetime.now(timezone.utc) + timedelta(days=30),
                      type="subscription", channel="alibaba-marketplace", reference=f"****{i}K3Q", product="P",
                      issued_by="t")
        db.session.commit()
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/keys")
    card = page.locator("#key-results")
    buttons = card.get_by_role("link", name="Timeline")
    expect(buttons).to_have_count(4)
    box = card.bounding_box()
    inner_right = box["x"] + box["width"] - float(card.evaluate("e => getComputedStyle(e).paddingRight")[:-2])
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth")  # the table fits its card
    for i in range(4):
        button = buttons.nth(i)
        assert button.evaluate("e => getComputedStyle(e).paddingLeft") != "0px"
        b = button.bounding_box()
        assert b["x"] + b["width"] <= inner_right + 0.5  # inside the card's padding, not on its border
        link = card.get_by_role("link", name="Details").nth(i).bounding_box()
        assert abs(link["y"] + link["height"] / 2 - (b["y"] + b["height"] / 2)) < 4  # on one line with Details


def test_redeem_is_laid_out_like_the_issue_page(page, live_server):
    page.goto(live_server.url + "/redeem")
    redeem_card = page.locator("#redeem-panel > section.card").first.bounding_box()
    expect(page.get_by_role("heading", level=1)).to_have_text("Redeem authorization code")
    login(page, live_server, role="issuer")
    page.goto(live_server.url + "/vendor/issue")
    issue_card = page.locator("#issue-panel > section.card").first.bounding_box()
    assert (redeem_card["x"], redeem_card["width"]) == (issue_card["x"], issue_card["width"])
