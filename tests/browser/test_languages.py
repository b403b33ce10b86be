"""Issue 13: the environment's first round (trial, Update Product License, preview, apply, a
refused key, instances) walked in Chinese finds no English left on the pages except names, codes
and the product name; the same walk in English still passes. Screenshots of every step at 1280 px
and 390 px go to test-artifacts/languages/ (to be looked at; `git status` ignores them)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.environment.conftest import Clock, Keys

from .conftest import login

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "languages"

# Everything a Chinese page may still show in Latin letters: names (the product's, the vendor's,
# the account's, the instances', the other language's in the switch), codes (install ID, key
# sequence, the key's prefix) and units (AKU, UTC), and the role code beside the account.
ALLOWED = ("AutoMQ for Kafka ( BYOC Monthly Subscription License )", "AutoMQ HK Limited", "operator@example.com",
           "operator", "English", "AKU", "UTC", "ID", "NTP", "kafka-prod", "eyJpbnN0YWxsSWQiOi")

# The text nodes of the page, and the attributes people read (title, aria-label, placeholder),
# outside <script>, <style> and the key pasted in the <textarea>.
TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && parent.closest("script, style, textarea, code")) continue;
    if (node.nodeValue.trim()) out.push(node.nodeValue.trim());
  }
  for (const el of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
    for (const name of ["title", "aria-label", "placeholder"]) {
      const value = el.getAttribute(name);
      if (value && value.trim()) out.push(value.trim());
    }
  }
  out.push(document.title);
  return out;
}"""


def english_left(page) -> list[str]:
    """The texts of the page that still hold an English word once the allowed names are taken out."""
    left = []
    for text in page.evaluate(TEXTS):
        rest = text
        for name in ALLOWED:
            rest = rest.replace(name, " ")
        rest = re.sub(r"\b[0-9a-f]{32}\b", " ", rest)  # an install ID
        if re.search(r"[A-Za-z]{2,}", rest):
            left.append(text)
    return left


WORDS = {
    "zh_Hans_CN": dict(lang="zh-Hans", switch="中文", trial="试用", banner="免费试用：剩余 14 天。",
                       update="更新产品许可证", key="产品密钥", check="检查密钥", refused="这不是产品密钥。",
                       grants="此密钥授予的内容", apply="应用此许可证", active="生效中", activated="已激活：40 AKU",
                       applied="已应用", name="名称", capacity="容量（AKU）", create="创建实例",
                       created="已创建 kafka-prod，6 AKU。", too_big="创建此实例需要 50 AKU"),
    "en": dict(lang="en", switch=None, trial="Trial", banner="Free trial: 14 days left.",
               update="Update Product License", key="Product key", check="Check the key", refused="This is not a product key.",
               grants="What this key grants", apply="Apply this license", active="Active", activated="Activated: 40 AKU",
               applied="Applied", name="Name", capacity="Capacity (AKU)", create="Create instance",
               created="Created kafka-prod with 6 AKU.", too_big="Creating this instance needs 50 AKU"),
}


@pytest.fixture
def keys(app):
    clock = Clock()
    app.config["LICENSE_CLOCK"] = clock
    return Keys(app, clock)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_the_first_round_in_each_language(browser, live_server, keys, locale, width):
    w = WORDS[locale]
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US",
                                  is_mobile=width < 500, has_touch=width < 500)
    page = context.new_page()
    page.set_default_timeout(10_000)
    shots = ARTIFACTS / f"{locale}-{width}"
    shots.mkdir(parents=True, exist_ok=True)
    chinese = locale != "en"

    def step(name: str):
        """Each page of the walk: nothing English left in Chinese, no sideways scrolling, a screenshot."""
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        if chinese:
            assert english_left(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name

    try:
        login(page, live_server, role="operator")  # the browser asks for English
        page.goto(live_server.url + "/settings")
        if chinese:  # the header's switch, which fits on a phone and is remembered
            switch = page.get_by_role("button", name=w["switch"])
            box = switch.bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, box
            switch.click()
        expect(page.locator("html")).to_have_attribute("lang", w["lang"])
        expect(page.locator("#license-badge")).to_have_text(w["trial"])
        expect(page.locator("#banners")).to_contain_text(w["banner"])
        step("1-trial")

        page.get_by_role("button", name=w["update"]).click()
        page.get_by_label(w["key"]).fill("not a product key")
        page.get_by_role("button", name=w["check"]).click()
        expect(page.locator("#product-key-error")).to_contain_text(w["refused"])
        step("2-refused-key")

        page.get_by_label(w["key"]).fill(keys.make(seq=1, aku=40, days=30))
        page.get_by_role("button", name=w["check"]).click()
        expect(page.locator("#license-preview")).to_contain_text(w["grants"])
        step("3-preview")

        page.get_by_role("button", name=w["apply"]).click()
        expect(page.locator("#license-status")).to_have_text(w["active"])
        expect(page.locator("#license-card")).to_contain_text(w["activated"])
        expect(page.locator("#license-badge")).to_have_text(w["active"])
        expect(page.locator("#activation-history .badge-ok")).to_have_text(w["applied"])
        step("4-applied")

        page.goto(live_server.url + "/instances")
        expect(page.locator("html")).to_have_attribute("lang", w["lang"])
        page.get_by_label(w["name"], exact=True).fill("kafka-prod")
        page.get_by_label(w["capacity"]).fill("6")
        page.get_by_role("button", name=w["create"]).click()
        expect(page.locator("#instances-panel")).to_contain_text(w["created"])
        page.get_by_label(w["name"], exact=True).fill("kafka-prod-2")
        page.get_by_label(w["capacity"]).fill("50")
        page.get_by_role("button", name=w["create"]).click()
        expect(page.locator("#create-error")).to_contain_text(w["too_big"])
        step("5-instances")
    finally:
        context.close()
