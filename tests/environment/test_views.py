"""The Settings and Instances pages: full pages for browsers, fragments for htmx, plain forms without JS."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import unescape

import pytest

HX = {"HX-Request": "true"}


@pytest.fixture
def operator(auth, clock):
    auth.login("operator")


def _text(response) -> str:
    return response.get_data(as_text=True)


def _events(response) -> set[str]:
    raw = response.headers.get("HX-Trigger")
    return set(json.loads(raw)) if raw else set()


# --- access and navigation ---------------------------------------------------------------------

def test_operators_land_on_settings_and_see_the_nav(client, operator):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings")
    html = _text(client.get("/settings"))
    assert 'href="/settings"' in html and 'href="/instances"' in html


def test_pages_need_the_operator_role(client, auth, clock):
    assert client.get("/settings").status_code == 302  # to the login page
    auth.login("issuer")
    assert client.get("/settings").status_code == 403
    assert client.get("/instances").status_code == 403
    assert client.post("/settings/license", data={"product_key": "x"}).status_code == 403


def test_admin_passes(client, auth, clock):
    auth.login("admin")
    assert client.get("/settings").status_code == 200


# --- the Settings page -------------------------------------------------------------------------

def test_settings_page_shows_install_id_license_and_help(app, client, operator, keys):
    html = _text(client.get("/settings"))
    install = keys.install_id()
    assert f'<code id="install-id">{install}</code>' in html
    assert 'data-copy-target="#install-id"' in html
    assert 'id="license-card"' in html
    assert "Trial" in html and "14 AKU" in html and "14 days left" in html
    assert "Update Product License" in html
    assert "Buyer Console → Purchased Services" in html
    assert "re-activate" in html
    assert "<html" in html and 'id="activation-history"' in html
    assert "style=" not in html  # the CSP forbids inline styles
    assert re.search(r'<meter class="capacity"[^>]*value="0"', html)


def test_update_button_opens_the_form_as_a_fragment_or_a_page(client, operator):
    fragment = client.get("/settings/license?panel=update", headers=HX)
    html = _text(fragment)
    assert fragment.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section class="card license-card" id="license-card"')
    assert '<label for="product-key">Product key</label>' in html and "<textarea" in html
    page = _text(client.get("/settings?panel=update"))
    assert "<html" in page and 'name="product_key"' in page  # without JavaScript: the page with the form open
    assert "Vary" in fragment.headers and "HX-Request" in fragment.headers["Vary"]


UPDATE_BUTTON = re.compile(
    r'<form method="get" action="/settings"[^>]*hx-get="/settings/license"[^>]*>\s*'
    r'<input type="hidden" name="panel" value="update">\s*'
    r'<button type="submit" class="primary" id="update-license"( autofocus)?>Update Product License</button>'
)


def test_update_product_license_is_a_button_in_a_get_form(client, operator):
    """A button (role button), not a link: it opens the form in place; without JavaScript its
    GET form loads /settings?panel=update."""
    html = _text(client.get("/settings"))
    found = UPDATE_BUTTON.search(html)
    assert found and not found.group(1)  # no autofocus on a plain page load
    assert not re.search(r"<a [^>]*>\s*Update Product License\s*</a>", html)
    # Cancel gives the focus back to the button; the open form focuses its field
    assert UPDATE_BUTTON.search(_text(client.get("/settings/license?focus=update", headers=HX))).group(1)
    for url in ("/settings?panel=update", "/settings/license?panel=update"):
        assert re.search(r'<textarea id="product-key"[^>]*autofocus', _text(client.get(url, headers=HX)))


def test_after_each_step_the_answer_takes_the_focus(client, operator, keys):
    key = keys.make(seq=1)
    html = _text(client.post("/settings/license/preview", data={"product_key": key}, headers=HX))
    assert '<h3 id="license-preview-title" tabindex="-1" autofocus>What this key grants</h3>' in html
    html = _text(client.post("/settings/license", data={"product_key": key}, headers=HX))
    assert re.search(r'<div class="ok-box" role="status" id="license-message" tabindex="-1" autofocus>Activated', html)
    assert UPDATE_BUTTON.search(html)


def test_preview_shows_before_and_after_and_keeps_the_key(client, operator, keys):
    key = keys.make(seq=1, aku=40, days=30)
    response = client.post("/settings/license/preview", data={"product_key": key}, headers=HX)
    html = _text(response)
    assert response.status_code == 200 and "<html" not in html
    assert "What this key grants" in html
    assert re.search(r'id="preview-aku">40 AKU', html) and "+26" in html
    assert f'<input type="hidden" name="product_key" value="{key}">' in html
    assert "Apply this license" in html and "downgrade" not in html.lower()


def test_preview_says_a_downgrade_plainly(app, client, operator, keys):
    client.post("/settings/license", data={"product_key": keys.make(seq=1, aku=40, days=60)})
    client.post("/instances", data={"name": "big", "aku": "30"})
    html = _text(client.post("/settings/license/preview", data={"product_key": keys.make(seq=2, aku=20, days=30)},
                             headers=HX))
    assert "This is a downgrade." in html and html.count("<li>This key") == 2
    assert "20 AKU instead of 40 AKU" in html and "expires earlier" in html
    assert "30 AKU are in use now, more than the 20 AKU this key grants" in html
    assert "Apply the downgrade" in html


def test_preview_of_the_running_key_says_already_active(client, operator, keys):
    key = keys.make(seq=1)
    client.post("/settings/license", data={"product_key": key})
    html = _text(client.post("/settings/license/preview", data={"product_key": key}, headers=HX))
    assert "already the running license" in html and "Apply this license" not in html


def test_confirm_updates_the_card_in_place_and_triggers_license_changed(client, operator, keys):
    key = keys.make(seq=1, aku=40, days=30)
    response = client.post("/settings/license", data={"product_key": key}, headers=HX)
    html = _text(response)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="license-card"' in html and "Active" in html and "40 AKU" in html
    assert 'id="license-seq">1<' in html and "Activated: 40 AKU until 2026-12-01 09:00 UTC" in html
    assert {"license-changed", "activation-recorded"} <= _events(response)
    badge = _text(client.get("/_license/badge", headers=HX))
    assert "badge-ok" in badge and "Active" in badge


def test_confirm_without_javascript_redirects_with_a_flash(client, operator, keys):
    response = client.post("/settings/license", data={"product_key": keys.make(seq=1)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings")
    html = _text(client.get("/settings"))
    assert "Activated: 40 AKU" in html and 'id="license-seq">1<' in html


def test_preview_without_javascript_is_the_whole_page(client, operator, keys):
    response = client.post("/settings/license/preview", data={"product_key": keys.make(seq=1)})
    html = _text(response)
    assert response.status_code == 200 and "<html" in html and "What this key grants" in html


@pytest.mark.parametrize("case, code, words", [
    ("garbage", "malformed_key", "<strong>This is not a product key.</strong> A product key is a long text"),
    ("stranger", "signature_invalid", "<strong>This key is signed with a vendor key that this environment does not "
                                      "know.</strong> That vendor key is named"),
    ("other-install", "wrong_install_id", "<strong>This key is for another environment.</strong> It was issued for "
                                          "install ID 0123456789abcdef0123456789abcdef"),
    ("expired", "key_expired", "<strong>This key has expired.</strong> It was valid until 2026-10-22 09:00 UTC: renew"),
    ("future", "not_yet_valid", "<strong>This key is not valid yet.</strong> It is valid from 2026-11-04 09:00 UTC"),
    ("skew", "clock_skew", "correct the environment's clock"),
])
def test_every_refusal_appears_inline_in_plain_words(client, operator, keys, clock, case, code, words):
    from datetime import timedelta

    text = {
        "garbage": lambda: "hello, this is not a key",
        "stranger": lambda: keys.make(stranger=True),
        "other-install": lambda: keys.make(install_id="0123456789abcdef0123456789abcdef"),
        "expired": lambda: keys.make(issued_at=clock.now - timedelta(days=40), days=30),
        "future": lambda: keys.make(not_before=clock.now + timedelta(days=3)),
        "skew": lambda: keys.make(issued_at=clock.now + timedelta(hours=1)),
    }[case]()
    for url in ("/settings/license/preview", "/settings/license"):
        response = client.post(url, data={"product_key": text}, headers=HX)
        html = _text(response)
        assert response.status_code == 422
        assert f'data-error-code="{code}"' in html and words in unescape(html)
        assert "<textarea" in html and "activation-recorded" in _events(response)
        assert "license-changed" not in _events(response)
    page = _text(client.get("/settings"))
    # both refusals are in the history, in words (the code is no text people read): the same
    # refusal twice in a row is one row that counts them
    assert page.count(f'<tr class="history-refused" data-error-code="{code}">') == 1
    assert "2 times, the last at" in page
    assert f"<code>{code}</code>" not in page
    assert 'id="license-seq">—' in page  # nothing changed


def _error_box(html: str) -> str:
    box = html[html.index('id="product-key-error"'):]
    return unescape(re.sub(r"<[^>]+>", "", box[box.index(">") + 1:box.index("</div>")])).strip()


@pytest.mark.parametrize("case", ["garbage", "damaged", "stranger", "altered", "other-install", "expired", "future",
                                  "skew", "older", "same-seq", "code"])
def test_an_error_box_reads_once(client, operator, keys, clock, case):
    """The headline is the message's first sentence: the box never says the same thing twice."""
    from datetime import timedelta

    from tests.environment.conftest import altered

    client.post("/settings/license", data={"product_key": keys.make(seq=3)})
    text = {
        "garbage": lambda: "hello, this is not a key",
        "damaged": lambda: keys.make(seq=4)[:300],
        "stranger": lambda: keys.make(seq=4, stranger=True),
        "altered": lambda: altered(keys.make(seq=4), aku=4000),
        "other-install": lambda: keys.make(seq=4, install_id="0123456789abcdef0123456789abcdef"),
        "expired": lambda: keys.make(seq=4, issued_at=clock.now - timedelta(days=40), days=30),
        "future": lambda: keys.make(seq=4, not_before=clock.now + timedelta(days=3)),
        "skew": lambda: keys.make(seq=4, issued_at=clock.now + timedelta(hours=1)),
        "older": lambda: keys.make(seq=2),
        "same-seq": lambda: keys.make(seq=3),
        "code": lambda: "DEMO-AKU20-READY-7K3Q",
    }[case]()
    html = _text(client.post("/settings/license/preview", data={"product_key": text}, headers=HX))
    box = _error_box(html)
    headline = re.search(r"<strong>([^<]+)</strong>", html[html.index('id="product-key-error"'):]).group(1)
    body = box[len(unescape(headline)):].strip()
    assert box.startswith(unescape(headline)) and body
    # the body does not start by repeating the headline, nor any four-word run of it
    words = re.findall(r"[\w'-]+", unescape(headline).lower())
    runs = {" ".join(words[i:i + 4]) for i in range(len(words) - 3)}
    assert not any(run in " ".join(re.findall(r"[\w'-]+", body.lower())) for run in runs), (headline, body)
    assert not re.search(r"base64|UTF-8|JSON|\bkid\b|_key|license\.[a-z]", box), box


def test_older_key_refused_inline(client, operator, keys):
    client.post("/settings/license", data={"product_key": keys.make(seq=3)})
    html = _text(client.post("/settings/license/preview", data={"product_key": keys.make(seq=2)}, headers=HX))
    assert 'data-error-code="older_key"' in html and "older than the running license" in html


def test_history_fragment_lists_applied_and_refused(client, operator, keys):
    client.post("/settings/license", data={"product_key": "nope"})
    client.post("/settings/license", data={"product_key": keys.make(seq=1)})
    html = _text(client.get("/settings/history", headers=HX))
    assert "<html" not in html and 'hx-trigger="license-changed from:body, activation-recorded from:body"' in html
    assert html.count("badge-danger") == 1 and html.count("badge-ok") == 1
    assert "operator@example.com" in html and "Replaced the built-in trial (14 AKU until 2026-11-15 09:00 UTC)." in html


def _cells(html: str, label: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(rf'<td data-label="{label}"[^>]*>(.*?)</td>', html, re.S)]


def test_history_says_refusals_in_words_and_lists_what_could_be_read(app, client, operator, keys, vendor):
    from webapp.redeem_interface import RedeemError

    client.post("/settings/license", data={"product_key": keys.make(seq=3, aku=20)})
    client.post("/settings/license", data={"product_key": keys.make(seq=2, aku=40)})
    client.post("/settings/license", data={"product_key": "hello"})
    vendor.fail = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    client.post("/settings/redeem", data={"authorization_code": "OLD-CODE-9Z9Z"})
    vendor.fail = RedeemError("code_brand_new", "Something this version does not know.", 422)
    client.post("/settings/redeem", data={"authorization_code": "OLD-CODE-9Z9Z"})
    html = _text(client.get("/settings/history", headers=HX))
    results = [" ".join(c.split()) for c in _cells(html, "Result")]
    assert results == ["Refused refused by the vendor", "Refused authorization code expired",
                       "Refused not a valid product key", "Refused older than the running key", "Applied"]
    assert _cells(html, "How") == ["Authorization code", "Authorization code", "Product key", "Product key",
                                   "Product key"]
    keys_read = _cells(html, "Key")
    assert keys_read[0] == keys_read[1] == "authorization code ****9Z9Z"
    assert keys_read[2] == "not readable"
    assert keys_read[3] == "key sequence 2 · 40 AKU · until 2026-12-01 09:00 UTC · reference ****7Q2K"
    assert keys_read[4] == "key sequence 3 · 20 AKU · until 2026-12-01 09:00 UTC · reference ****7Q2K"
    details = _cells(html, "Details")
    assert details[3].startswith("This key is older than the running license. It has key sequence 2")
    assert details[4] == "Replaced the built-in trial (14 AKU until 2026-11-15 09:00 UTC)."
    assert "<code>" not in html and "older_key" not in html.replace('data-error-code="older_key"', "")


def test_banners_and_badge_follow_the_license(client, operator, keys, clock):
    client.get("/settings")
    banners = _text(client.get("/_license/banners", headers=HX))
    assert "banner-info" in banners and "Free trial: 14 days left." in banners
    client.post("/settings/license", data={"product_key": keys.make(seq=1, days=30)})
    assert "banner-" not in _text(client.get("/_license/banners", headers=HX))
    clock.advance(days=26)
    banners = _text(client.get("/_license/banners", headers=HX))
    assert "banner-warning" in banners and "expires in 4 days: renew on the marketplace, then re-activate" in banners
    assert "Expiring" in _text(client.get("/_license/badge", headers=HX))
    clock.advance(days=5)
    banners = _text(client.get("/_license/banners", headers=HX))
    assert "banner-danger" in banners and "running instances keep running" in banners
    assert "badge-danger" in _text(client.get("/_license/badge", headers=HX))


def test_a_fresh_trial_says_14_days_left_on_every_page_all_its_first_day(client, operator, keys, clock):
    from datetime import timedelta

    client.get("/settings")  # the trial starts at the first use
    clock.advance(hours=23, minutes=59)
    html = unescape(_text(client.get("/settings")))
    assert "Free trial: 14 days left." in html  # the banner
    assert re.search(r'id="license-days-left"[^>]*>14 days left</span>', html)  # the license card
    assert 'title="Trial: 14 days left, 14 AKU"' in html  # the header badge
    html = unescape(_text(client.post("/settings/license/preview", data={"product_key": keys.make(seq=1, days=30)},
                                      headers=HX)))
    assert "(14 days left)" in html and "(30 days left)" in html  # the preview: running now, and with this key
    clock.advance(days=13)  # under a day left
    html = unescape(_text(client.get("/settings")))
    assert "The trial expires in less than a day." in html and ">less than a day left</span>" in html
    assert 'title="Trial: less than a day left, 14 AKU"' in html
    clock.advance(minutes=1)
    html = unescape(_text(client.get("/settings")))
    assert 'title="Trial expired on 2026-11-15 09:00 UTC"' in html and 'id="license-days-left" class="down">expired<' in html


def test_issuers_do_not_see_the_environment_badge(client, auth, clock):
    auth.login("issuer")
    assert "badge badge-" not in _text(client.get("/_license/badge"))
    assert "banner banner-" not in _text(client.get("/_license/banners"))


# --- online activation on the Settings page -----------------------------------------------------

@pytest.fixture
def vendor(app, keys):
    from tests.environment.test_api import FakeVendor

    fake = FakeVendor(keys)
    app.extensions["license_platform"].services["redeem"] = fake
    return fake


def test_redeem_form_applies_and_updates_the_card_out_of_band(client, operator, vendor):
    html = _text(client.get("/settings"))
    assert "Buyer Console → Purchased Services" in html and 'name="authorization_code"' in html
    response = client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"}, headers=HX)
    html = _text(response)
    assert response.status_code == 200 and 'id="redeem-card"' in html
    assert 'id="license-card" aria-labelledby="license-card-title" hx-swap-oob="true"' in html
    assert "license-changed" in _events(response)
    assert 'id="redeem-message" tabindex="-1" autofocus' in html
    assert UPDATE_BUTTON.search(html)  # the card that came out of band still has its button
    # said once, in the redeem card: the license card out of band has the new terms, not a second message
    assert html.count("Activated: 40 AKU until 2026-12-01 09:00 UTC") == 1 and 'id="license-message"' not in html
    card = _text(client.get("/settings/license", headers=HX))
    assert "Check for renewal" in card and "****7Q2K" in card


def test_redeem_refusal_inline(client, operator, vendor):
    from webapp.redeem_interface import RedeemError

    vendor.fail = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    response = client.post("/settings/redeem", data={"authorization_code": "OLD-CODE"}, headers=HX)
    assert response.status_code == 422
    html = _text(response)
    assert 'data-error-code="code_expired"' in html and "expired on 2026-10-01" in html


def _message(html: str) -> str:
    found = re.search(r'id="license-message"[^>]*>([^<]*)</div>', html)
    return unescape(found.group(1)) if found else ""


def test_renewal_check_button_says_what_changed(client, operator, vendor, clock):
    vendor.issue(aku=20, days=30)
    activated = _text(client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"}, headers=HX))
    assert "Activated: 20 AKU until 2026-12-01 09:00 UTC (key sequence 1)." in activated
    clock.advance(hours=2)
    html = _text(client.post("/settings/renewal-check", headers=HX))
    assert _message(html) == ("No renewal yet: key sequence 1 (20 AKU until 2026-12-01 09:00 UTC) is the newest key "
                              "the vendor has for authorization code ****7Q2K. Checked at 2026-11-01 11:00 UTC.")
    # a specification change only
    vendor.issue(aku=40, expires_at=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))
    response = client.post("/settings/renewal-check", headers=HX)
    assert _message(_text(response)) == "Updated to 40 AKU (was 20 AKU) until 2026-12-01 09:00 UTC, key sequence 2."
    assert "license-changed" in _events(response)
    # a renewal only
    vendor.issue(aku=40, days=90)
    assert _message(_text(client.post("/settings/renewal-check", headers=HX))) == (
        "Renewed until 2027-01-30 11:00 UTC (was 2026-12-01 09:00 UTC), 40 AKU, key sequence 3.")
    # both
    vendor.issue(aku=80, days=120)
    assert _message(_text(client.post("/settings/renewal-check", headers=HX))) == (
        "Renewed until 2027-03-01 11:00 UTC (was 2027-01-30 11:00 UTC) and updated to 80 AKU (was 40 AKU), "
        "key sequence 4.")
    # without JavaScript: the same words in the flash
    vendor.issue(aku=20, days=120)
    response = client.post("/settings/renewal-check")
    assert response.status_code == 303
    assert "Updated to 20 AKU (was 80 AKU) until 2027-03-01 11:00 UTC, key sequence 5." in _text(client.get("/settings"))


def test_a_failed_renewal_check_has_a_headline_of_its_own(client, operator, vendor, keys):
    from webapp.redeem_interface import RedeemError

    client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"})
    vendor.fail = RedeemError("code_discarded", "This authorization code was refunded at the marketplace.", 422)
    html = _text(client.post("/settings/renewal-check", headers=HX))
    assert re.search(r'id="license-error"[^>]*><strong>Check for renewal failed.</strong> This authorization code '
                     r"was refunded at the marketplace.</div>", html)
    # a key the vendor sends that this environment refuses: the codec's own headline, once
    vendor.fail = None
    vendor.current = keys.make(seq=9, install_id="0123456789abcdef0123456789abcdef")
    html = unescape(_text(client.post("/settings/renewal-check", headers=HX)))
    assert re.search(r'id="license-error"[^>]*><strong>This key is for another environment.</strong> It was issued '
                     r"for install ID 0123456789abcdef0123456789abcdef", html)
    assert html.count("another environment") == 1


RATE_LIMITED = ("Too many redemption attempts for this authorization code (at most 10 a minute). "
                "Wait 1 minute, then try again.")


def test_a_rate_limited_renewal_check_is_a_wait_not_a_failure(client, operator, vendor):
    from webapp.redeem_interface import RedeemError

    client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"})
    vendor.fail = RedeemError("rate_limited", RATE_LIMITED, 429, retry_after=59.2)
    response = client.post("/settings/renewal-check", headers=HX)
    html = _text(response)
    # htmx swaps the answer (422, as every refusal of this card), and the vendor's wait comes along
    assert response.status_code == 422 and response.headers["Retry-After"] == "60"
    box = re.search(r'<div class="([^"]+)" role="alert" id="license-error" data-error-code="rate_limited"[^>]*>(.*?)</div>',
                    html, re.S)
    assert box and box.group(1) == "warn-box"  # a warning, not an error
    assert box.group(2) == f"<strong>Too many checks just now.</strong> {RATE_LIMITED}"
    assert "failed" not in html
    # the activation history says so too: a wait, not a refusal
    history = _text(client.get("/settings/history"))
    row = re.search(r'<tr class="history-[a-z]+" data-error-code="rate_limited">(.*?)</tr>', history, re.S).group(1)
    assert '<span class="badge badge-warning">Wait</span>' in row and "Refused" not in row
    # the marketplace's throttling behind the vendor is a wait too
    vendor.fail = RedeemError("marketplace_throttled", "The marketplace is rate limiting requests. Nothing was "
                              "changed; try again in 5 seconds.", 429, retry_after=5)
    response = client.post("/settings/renewal-check", headers=HX)
    assert response.headers["Retry-After"] == "5" and 'class="warn-box" role="alert" id="license-error"' in _text(response)
    assert "<strong>Too many checks just now.</strong>" in _text(response)
    # without JavaScript: the vendor's message, flashed as a warning
    vendor.fail = RedeemError("rate_limited", RATE_LIMITED, 429, retry_after=59)
    response = client.post("/settings/renewal-check")
    assert response.status_code == 303
    assert f'<div class="flash flash-warning" role="status">{RATE_LIMITED}</div>' in _text(client.get("/settings"))
    # a refusal that is no wait keeps its headline, its error box and no Retry-After
    vendor.fail = RedeemError("code_discarded", "This authorization code was refunded at the marketplace.", 422)
    response = client.post("/settings/renewal-check", headers=HX)
    assert "Retry-After" not in response.headers
    assert re.search(r'<div class="error-box" role="alert" id="license-error"[^>]*><strong>Check for renewal failed.</strong>',
                     _text(response))


def test_a_rate_limited_activation_with_a_code_is_a_wait(client, operator, vendor):
    from webapp.redeem_interface import RedeemError

    vendor.fail = RedeemError("rate_limited", RATE_LIMITED, 429, retry_after=60)
    response = client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"}, headers=HX)
    assert response.status_code == 422 and response.headers["Retry-After"] == "60"
    assert re.search(r'<div class="warn-box" id="authorization-code-error" role="alert" data-error-code="rate_limited" hx-disable>'
                     + re.escape(RATE_LIMITED) + "</div>", _text(response))
    vendor.fail = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    response = client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"}, headers=HX)
    assert "Retry-After" not in response.headers and 'class="error-box" id="authorization-code-error"' in _text(response)


def test_a_pasted_newer_key_says_renewed_or_updated(client, operator, keys, clock):
    client.post("/settings/license", data={"product_key": keys.make(seq=1, aku=20, days=30)})
    html = _text(client.post("/settings/license", data={"product_key": keys.make(seq=2, aku=40, days=30)}, headers=HX))
    assert _message(html) == "Updated to 40 AKU (was 20 AKU) until 2026-12-01 09:00 UTC, key sequence 2."
    html = _text(client.post("/settings/license", data={"product_key": keys.make(seq=3, aku=40, days=60)}, headers=HX))
    assert _message(html) == "Renewed until 2026-12-31 09:00 UTC (was 2026-12-01 09:00 UTC), 40 AKU, key sequence 3."


# --- Instances ---------------------------------------------------------------------------------

def test_instances_page_and_create(client, operator):
    html = _text(client.get("/instances"))
    assert "<html" in html and "No instances yet." in html and "14 AKU" in html
    response = client.post("/instances", data={"name": "kafka-1", "aku": "6"}, headers=HX)
    html = _text(response)
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="instances-panel">')
    assert "kafka-1" in html and 'id="capacity-in-use">6 AKU' in html and "license-changed" in _events(response)


def test_instance_refusals_inline(client, operator, clock):
    client.post("/instances", data={"name": "a", "aku": "10"})
    cases = [
        ({"name": "b", "aku": "5"}, 409, "insufficient_aku", "only 4 of the 14 AKU licensed are free"),
        ({"name": "a", "aku": "1"}, 409, "instance_name_taken", "An instance named a already exists"),
        ({"name": "Bad Name", "aku": "1"}, 422, "invalid_name", "lowercase letters"),
        ({"name": "c", "aku": "many"}, 422, "invalid_aku", "whole number of AKU"),
    ]
    for data, status, code, words in cases:
        response = client.post("/instances", data=data, headers=HX)
        html = _text(response)
        assert response.status_code == status, data
        assert f'data-error-code="{code}"' in html and words in html
        assert f'value="{data["name"]}"' in html  # what was typed is kept
    clock.advance(days=15)
    html = _text(client.post("/instances", data={"name": "late", "aku": "1"}, headers=HX))
    assert 'data-error-code="license_expired"' in html and "Running instances keep running" in html


def test_resize_and_delete(app, client, operator):
    client.post("/instances", data={"name": "a", "aku": "4"})
    from webapp.database import db
    from webapp.environment.models import Instance

    with app.app_context():
        ident = db.session.scalar(db.select(Instance.id))
    response = client.post(f"/instances/{ident}/resize", data={"aku": "20"}, headers=HX)
    assert response.status_code == 409 and 'data-error-code="insufficient_aku"' in _text(response)
    response = client.post(f"/instances/{ident}/resize", data={"aku": "8"}, headers=HX)
    assert response.status_code == 200 and "a now has 8 AKU." in _text(response)
    response = client.post(f"/instances/{ident}/delete")
    assert response.status_code == 303
    assert "Deleted a." in _text(client.get("/instances"))
    response = client.post(f"/instances/{ident}/delete", headers=HX)
    assert response.status_code == 409 and "There is no instance" in _text(response)


def test_over_capacity_banner_after_a_downgrade(client, operator, keys):
    client.post("/settings/license", data={"product_key": keys.make(seq=1, aku=40)})
    client.post("/instances", data={"name": "a", "aku": "30"})
    client.post("/settings/license", data={"product_key": keys.make(seq=2, aku=20)})
    banners = _text(client.get("/_license/banners", headers=HX))
    assert "30 AKU in use, more than the 20 AKU licensed." in banners
    html = _text(client.post("/instances", data={"name": "b", "aku": "1"}, headers=HX))
    assert 'data-error-code="insufficient_aku"' in html


def test_banners_on_every_page_link_to_the_marketplace_and_support(app, client, operator, keys, clock):
    app.config.update(LICENSE_PURCHASE_URL="https://market.example/automq", LICENSE_SUPPORT_URL="https://help.example/")
    client.post("/settings/license", data={"product_key": keys.make(seq=1, days=10)})
    clock.advance(days=6)
    for url in ("/settings", "/instances", "/_license/banners"):
        html = _text(client.get(url))
        banner = html[html.index('class="banner banner-warning"'):]
        banner = banner[:banner.index("</div>")]
        assert "The license expires in 4 days: renew on the marketplace, then re-activate." in banner, url
        assert '<a href="https://help.example/">Contact AutoMQ HK Limited</a>' in banner
        assert '<a href="https://market.example/automq">Renew on the marketplace</a>' in banner


def test_after_the_trial_the_pages_say_to_buy_and_none_of_the_capacity_is_usable(client, operator, keys, clock):
    client.post("/instances", data={"name": "a", "aku": "4"})
    clock.advance(days=15)
    html = unescape(_text(client.get("/instances")))
    assert '<span id="capacity-free">none usable</span> (expired)' in html and "10 AKU</span> free" not in html
    assert "The trial expired on 2026-11-15 09:00 UTC" in html and "Renew on the marketplace" not in html
    assert "Buy a license on the marketplace, then activate it: Settings, Update Product License." in html
    html = unescape(_text(client.post("/instances", data={"name": "b", "aku": "1"}, headers=HX)))
    assert "The trial expired on 2026-11-15 09:00 UTC, so you cannot create an instance." in html
    card = _text(client.get("/settings/license", headers=HX))
    assert "no key needed" not in card and 'id="license-next-step"' in card
    # after a paid license expires: renew, then re-activate
    client.post("/settings/license", data={"product_key": keys.make(seq=1, days=10)})
    clock.advance(days=11)
    html = unescape(_text(client.get("/instances")))
    assert "The license expired on" in html and "Renew on the marketplace, then re-activate this environment" in html


def test_history_shows_the_latest_fifty_and_says_there_are_more(app, client, operator):
    from webapp.environment import activation

    with app.app_context():
        for i in range(51):
            activation.record_refusal(f"not a key {i}", "malformed_key", f"refusal {i}", actor="script")
    html = _text(client.get("/settings/history", headers=HX))
    assert html.count('class="history-refused"') == 50
    assert re.search(r"refusal 50\s*</td>", html) and not re.search(r"refusal 0\s*</td>", html)  # newest first
    assert 'id="history-more"' in html and "The latest 50 attempts are shown" in html


def test_a_banner_does_not_link_to_the_page_it_is_on(client, operator):
    """The trial banner's "Go to Settings" (no marketplace or support URL configured) shows
    everywhere but on Settings itself, its htmx refresh included; "Go to Instances" likewise."""
    link = '<a href="/settings">Go to Settings</a>'
    settings = _text(client.get("/settings"))
    assert "Free trial: 14 days left." in settings and link not in settings
    assert link in _text(client.get("/instances"))
    refresh = "/_license/banners"
    on_settings = {**HX, "HX-Current-URL": "http://localhost/settings"}
    on_instances = {**HX, "HX-Current-URL": "http://localhost/instances?x=1"}
    assert "Free trial" in _text(client.get(refresh, headers=on_settings))
    assert link not in _text(client.get(refresh, headers=on_settings))
    assert link in _text(client.get(refresh, headers=on_instances))
    assert link in _text(client.get(refresh))  # the page unknown: the link stays
