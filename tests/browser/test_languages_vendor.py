"""Issue 13, the vendor side: staff sign in, issue a key from an authorization code against the
simulator, search the keys, open a key's page, issue an offline key, and a buyer redeems a code,
then (issue 14) a webhook endpoint, a code made to end soon, the reminders recorded on Needs
attention and the webhook deliveries, in Chinese and in English at 1280 px and 390 px. In Chinese
no English is left on the pages but names, codes and units (`english_left`, as the environment's
walk reads the pages); the English walk still reads as before. Screenshots of every step go to test-artifacts/languages/vendor-*/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import login
from .test_languages import ALLOWED as ENVIRONMENT_ALLOWED, ARTIFACTS, TEXTS

# The titles that name what a word stands for (the audit log's recorded codes: `new`, `offline`,
# `key:<id>`) are codes for support, not words: a title that is one code alone is let be.
TITLES = "() => Array.from(document.querySelectorAll('[title]'), el => el.getAttribute('title').trim())"
CODE_ALONE = re.compile(r"^(?:[a-z][a-z0-9_.-]*|(?:key|code|user):[\w-]+)$")

pytestmark = pytest.mark.browser

CODE = "DEMO-AKU20-READY-7K3Q"
BUYER_CODE = "DEMO-AKU40-READY-9M2X"
INSTALL = "0123456789abcdef0123456789abcdef"
BUYER_INSTALL = "fedcba9876543210fedcba9876543210"

# Besides the environment walk's names and codes: the staff account, the authorization codes
# (masked or whole), the buyer's masked account, the specifications, the signing key's kid, the
# offline contract's reference and the staff's reason, written by the test.
ALLOWED = ENVIRONMENT_ALLOWED + (
    "admin@example.com", "admin", CODE, BUYER_CODE, "aku-20", "aku-40", "cmgj00demo01", "CONTRACT-2026-7",
    "ticket 77", "AKU", "ID", "CSV", "kid", "API", "License.Invalid", "Auth.Match", "AliUid", "aliUid", "enterprise-unlimited",
    # issue 14: "Webhook" stays Latin (docs/glossary.md), the standard's name, the URL and the settings' names
    "Standard Webhooks", "Webhook", "POST", "URL", "http://", "https://", "127.0.0.1:9/hooks",
    "https://hooks.example.com/license", "license notify",
    "LICENSE_WEBHOOK_ALLOW_PRIVATE", "LICENSE_REMIND_DAYS",
    # issue 14's e-mail: the settings' names and the document that explains them
    "MAIL_SERVER", "MAIL_DEFAULT_SENDER", "docs/vendor.md")
PATTERNS = (
    r"\b[0-9a-f]{32}\b",  # an install ID
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",  # a record id
    r"\b[0-9a-f]{8}…[0-9a-f]{4}\b",  # an install ID shortened
    r"\*{4}[0-9A-Z]{4}\b", r"\b[0-9A-Z]{4}\*+[0-9A-Z]{4}\b",  # a masked code or buyer account
    r"\b\d{4}\*{4}\d{4}\b",
    r"\bdev-[\w-]+\b", r"\b[\w-]*\d{8}[\w-]*\b",  # a signing key's kid
    r"\beyJ[\w-]+",  # a product key
    r"\bREQ-[\w-]+\b",
    r"\b(?:key|code|user):",  # the audit log's subjects (key:…, code:…)
    r"\bDEMO-[A-Z0-9-]+",  # the simulator's codes
    r"\b[a-z]+(?:_[a-z0-9]+)+\b",  # an error code (code_expired)
    r"\b(?:key|code|license)\.[a-z]+\b",  # an event's type (license.expiring)
)


def english_left(page) -> list[str]:
    """The texts of the page that still hold an English word once names and codes are taken out."""
    left = []
    codes = {title for title in page.evaluate(TITLES) if CODE_ALONE.match(title)}
    for text in page.evaluate(TEXTS):
        if text in codes:
            continue
        rest = text
        for pattern in PATTERNS:
            rest = re.sub(pattern, " ", rest)
        for name in sorted(ALLOWED, key=len, reverse=True):
            rest = rest.replace(name, " ")
        if re.search(r"[A-Za-z]{2,}", rest):
            left.append(text)
    return left


WORDS = {
    "zh_Hans_CN": dict(lang="zh-Hans", switch="中文", code="授权码", install="安装 ID", verify="验证",
                       new="新许可证", issue="签发产品密钥", issued="产品密钥已签发", keys_search="搜索",
                       details="详情", key_title="序号 1", timeline="签发密钥", redeem="获取产品密钥",
                       redeemed="您的产品密钥", offline_title="线下合同密钥和试用延期密钥", aku="AKU",
                       days="有效期（天）", contract="合同编号或参考号", reason="原因", offline_issued="产品密钥已签发。",
                       refused="此授权码已于", decode="解析", signature="签名有效", audit="签发密钥",
                       reread="立即重新读取所有授权码", last_read="上次读取", renew="续费 +30 天", renewed="已将",
                       endpoint_url="端点 URL", add_endpoint="添加端点", soon="5 天后到期", soon_done="现于",
                       record="立即记录到期提醒", recorded="已记录", expiring="即将到期", deliveries="Webhook 投递记录",
                       next="下次"),
    "en": dict(lang="en", switch=None, code="Authorization code", install="Install ID", verify="Verify",
               new="New license", issue="Issue product key", issued="Product key issued", keys_search="Search",
               details="Details", key_title="Key seq 1", timeline="Key issued", redeem="Get product key",
               redeemed="Your product key", offline_title="Offline-contract and trial-extension keys", aku="AKU",
               days="Valid for (days)", contract="Contract number or reference", reason="Reason",
               offline_issued="Product key issued.", refused="This authorization code expired", decode="Decode",
               signature="Signature valid", audit="Key issued", reread="Re-read all codes now", last_read="Last read",
               renew="Renew +30 days", renewed="Renewed", endpoint_url="Endpoint URL", add_endpoint="Add endpoint",
               soon="Ends in 5 days", soon_done="now ends on", record="Record due reminders now",
               recorded="Recorded", expiring="Expiring", deliveries="Webhook deliveries", next="next"),
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_the_vendor_side_in_each_language(browser, live_server, locale, width):
    w = WORDS[locale]
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US",
                                  is_mobile=width < 500, has_touch=width < 500)
    page = context.new_page()
    page.set_default_timeout(10_000)
    shots = ARTIFACTS / f"vendor-{locale}-{width}"
    shots.mkdir(parents=True, exist_ok=True)
    chinese = locale != "en"

    def step(name: str):
        """Each page of the walk: nothing English left in Chinese, a screenshot."""
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        expect(page.locator("html")).to_have_attribute("lang", w["lang"])
        if chinese:
            left = english_left(page)
            assert left == [], (name, left)
            # Chinese sentences are joined without spaces: none after a full-width stop or colon.
            spaced = [t for t in page.evaluate(TEXTS) + [page.inner_text("body")] if re.search(r"[。：；，] +[\u4e00-\u9fff]", t)]
            assert spaced == [], (name, spaced)

    try:
        login(page, live_server, role="admin")  # the browser asks for English
        if chinese:  # the header's switch, remembered for the rest of the walk
            page.get_by_role("button", name=w["switch"]).click()
        page.goto(live_server.url + "/vendor/issue")
        step("1-issue")

        # Issue from an authorization code, against the simulator.
        page.get_by_label(w["code"]).fill(CODE)
        page.get_by_label(w["install"], exact=True).fill(INSTALL)
        page.get_by_role("button", name=w["verify"], exact=True).click()
        expect(page.locator("#change-kind")).to_have_text(w["new"])
        step("2-verified")
        page.get_by_role("button", name=w["issue"]).click()
        expect(page.locator("#issued-title")).to_have_text(w["issued"])
        product_key = page.locator("#product-key").input_value()
        assert product_key.startswith("eyJ")
        if chinese:  # the buyer's message is written in the page's language
            message = page.locator("#buyer-message").input_value()
            assert "您好" in message and "更新产品许可证" in message, message
        step("3-issued")

        # A refused code: the refusal in the page's language, its code beside it.
        page.get_by_label(w["code"]).fill("DEMO-EXPIRED-5R1N")
        page.get_by_role("button", name=w["verify"], exact=True).click()
        expect(page.locator("#refusal")).to_contain_text(w["refused"])
        expect(page.locator("#refusal")).to_have_attribute("data-error-code", "code_expired")
        step("4-refused")

        # Keys: the search finds the key by its install ID.
        page.goto(live_server.url + "/vendor/keys")
        page.get_by_label(w["keys_search"], exact=True).fill(INSTALL)
        page.get_by_role("button", name=w["keys_search"], exact=True).click()
        expect(page.locator("#key-results tbody tr").first).to_contain_text("20")
        step("5-keys")

        # The key's page and its timeline.
        page.locator("#key-results").get_by_role("link", name=w["details"]).first.click()
        expect(page.locator("h1")).to_contain_text(w["key_title"])
        expect(page.locator("#timeline")).to_contain_text(w["timeline"])
        step("6-key")

        # An offline key (admin).
        page.goto(live_server.url + "/vendor/offline")
        expect(page.locator("h1")).to_have_text(w["offline_title"])
        page.get_by_label(w["install"], exact=True).fill(BUYER_INSTALL)
        page.get_by_label(w["aku"], exact=True).fill("12")
        page.get_by_label(w["days"]).fill("90")
        page.get_by_label(w["contract"]).fill("CONTRACT-2026-7")
        page.get_by_label(w["reason"], exact=True).fill("ticket 77")
        page.get_by_role("button", name=w["issue"]).click()
        expect(page.locator("#issued-title")).to_have_text(w["issued"])
        step("7-offline")

        # A buyer redeems a code on the public page.
        page.goto(live_server.url + "/redeem")
        page.get_by_label(w["code"]).fill(BUYER_CODE)
        page.get_by_label(w["install"], exact=True).fill("abcdefabcdefabcdefabcdefabcdef12")
        page.get_by_role("button", name=w["redeem"]).click()
        expect(page.locator("#redeemed-title")).to_have_text(w["redeemed"])
        step("8-redeemed")

        # The staff's other pages: the decoder, the audit log, needs attention, the demo codes.
        page.goto(live_server.url + "/vendor/decode")
        page.locator("#product_key").fill(product_key)
        page.get_by_role("button", name=w["decode"]).click()
        expect(page.locator("#signature-result")).to_contain_text(w["signature"])
        step("9-decoded")
        page.goto(live_server.url + "/vendor/audit")
        expect(page.locator("#audit-results")).to_contain_text(w["audit"])
        step("10-audit")
        page.goto(live_server.url + "/vendor/attention")
        page.get_by_role("button", name=w["reread"]).click()
        expect(page.locator("#last-read")).to_contain_text(w["last_read"])
        step("11-attention")
        page.goto(live_server.url + "/vendor/demo-codes")
        page.locator("button[value=renew]").first.click()
        expect(page.locator("#demo-message")).to_contain_text(w["renewed"])
        step("12-demo-codes")

        # Issue 14: a webhook endpoint, its secret shown once.
        live_server.app.config["LICENSE_WEBHOOK_ALLOW_PRIVATE"] = True
        page.goto(live_server.url + "/vendor/webhooks")
        page.get_by_label(w["endpoint_url"]).fill("http://127.0.0.1:9/hooks")  # never called here
        page.get_by_label("license.expiring").check()
        page.get_by_role("button", name=w["add_endpoint"]).click()
        expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
        step("13-webhooks")

        # A code made to end in 5 days; then the reminders due now (every live key: a wide threshold).
        page.goto(live_server.url + "/vendor/demo-codes")
        expect(page.locator("button[value=soon]").first).to_have_text(w["soon"])
        page.locator("button[value=soon]").first.click()
        expect(page.locator("#demo-message")).to_contain_text(w["soon_done"])
        step("14-demo-soon")
        live_server.app.config["LICENSE_REMIND_DAYS"] = "3650"
        page.goto(live_server.url + "/vendor/attention")
        page.get_by_role("button", name=w["record"]).click()
        expect(page.locator("#attention")).to_contain_text(w["recorded"])
        expect(page.locator("#reminders tbody tr").first).to_contain_text(w["expiring"])
        step("15-reminders")

        # The deliveries the reminders made, not yet sent (`license notify` sends them).
        page.goto(live_server.url + "/vendor/webhooks/deliveries")
        expect(page.locator("h1")).to_have_text(w["deliveries"])
        expect(page.locator("#deliveries tbody tr").first).to_contain_text(w["next"])
        step("16-deliveries")

        # The E-mail page, e-mail off (no MAIL_SERVER here): it says so, in the page's language.
        page.goto(live_server.url + "/vendor/mail")
        expect(page.locator("#mail-off")).to_contain_text("MAIL_SERVER")
        step("17-mail")
    finally:
        context.close()
