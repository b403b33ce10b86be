"""The Settings and Instances pages: full pages for browsers, fragments for htmx, plain forms without JS."""
from __future__ import annotations

import json
import re
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
    ("garbage", "malformed_key", "This is not a valid product key."),
    ("stranger", "signature_invalid", "which this environment does not know"),
    ("other-install", "wrong_install_id", "This key is for environment 0123456789abcdef0123456789abcdef"),
    ("expired", "key_expired", "renew and ask for a new key"),
    ("future", "not_yet_valid", "This key is not valid yet."),
    ("skew", "clock_skew", "Correct the environment's clock"),
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
    assert page.count(f"<code>{code}</code>") == 2  # both refusals are in the history
    assert 'id="license-seq">—' in page  # nothing changed


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
    assert "operator@example.com" in html and "replaced the built-in trial" in html


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
    assert 'id="license-message"' in html and "autofocus" not in html.split('id="license-message"')[1][:40]
    card = _text(client.get("/settings/license", headers=HX))
    assert "Check for renewal" in card and "****7Q2K" in card


def test_redeem_refusal_inline(client, operator, vendor):
    from webapp.redemption import RedeemError

    vendor.fail = RedeemError("code_expired", "This authorization code expired on 2026-10-01.", 422)
    response = client.post("/settings/redeem", data={"authorization_code": "OLD-CODE"}, headers=HX)
    assert response.status_code == 422
    html = _text(response)
    assert 'data-error-code="code_expired"' in html and "expired on 2026-10-01" in html


def test_renewal_check_button(client, operator, vendor, clock):
    client.post("/settings/redeem", data={"authorization_code": "ABCD-7Q2K"})
    html = _text(client.post("/settings/renewal-check", headers=HX))
    assert "No renewal yet" in html
    clock.advance(days=20)
    vendor.issue(days=90)
    response = client.post("/settings/renewal-check", headers=HX)
    assert "Renewed." in _text(response) and "license-changed" in _events(response)


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
    from webapp.extensions import db
    from webapp.models.environment import Instance

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
    from webapp.environment import store

    with app.app_context():
        for i in range(51):
            store.record_refusal(f"not a key {i}", "malformed_key", f"refusal {i}", actor="script")
    html = _text(client.get("/settings/history", headers=HX))
    assert html.count('class="history-refused"') == 50
    assert re.search(r"refusal 50\s*</td>", html) and not re.search(r"refusal 0\s*</td>", html)  # newest first
    assert 'id="history-more"' in html and "The latest 50 attempts are shown" in html
