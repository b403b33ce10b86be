"""The example host console (examples/host_console, tests/host_console) in Chromium: a console user signs in on the console's own page,
opens the plugin's Settings in the console's layout, activates a product key through htmx (the
host's CSRF protection on, the token sent from the layout's meta tag), and creates clusters
within the licensed AKU."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.environment.conftest import Keys
from tests.host_console.conftest import EMAIL, PASSWORD, console_app

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path):
    """The example console (not the standalone app), the console's CSRF protection on."""
    yield from console_app(tmp_path, {"WTF_CSRF_ENABLED": True})


@pytest.fixture
def keys(app):
    return Keys(app, app.config["LICENSE_CLOCK"])


def sign_in(page, live_server):
    page.goto(live_server.url + "/license/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=/license/settings$"))
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/license/settings$"))


def create_cluster(page, name: str, aku: int):
    page.get_by_label("Cluster name").fill(name)
    page.get_by_label("Size (AKU)").fill(str(aku))
    page.get_by_role("button", name="Create cluster").click()


def test_activate_in_the_hosts_layout_and_create_clusters_within_the_license(page, live_server, keys):
    sign_in(page, live_server)
    # the plugin's Settings page in the console's layout
    expect(page.locator(".console-header")).to_contain_text(EMAIL)
    expect(page).to_have_title("Settings · Kafka Console")
    card = page.locator("#license-card")
    expect(card.locator("#license-status")).to_have_text("Trial")

    # the trial's 14 AKU refuse a 30 AKU cluster
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Clusters").click()
    create_cluster(page, "orders", 30)
    expect(page.locator("#cluster-error")).to_contain_text("only 14 of the 14 AKU licensed are free")

    # activate a 40 AKU key through the plugin's htmx preview and apply
    with page.expect_navigation():  # to the page's load: htmx ready before its buttons are pressed
        page.get_by_role("link", name="Manage the license").click()
    page.get_by_role("button", name="Update Product License").click()
    page.get_by_label("Product key").fill(keys.make(seq=1, aku=40, days=30))
    page.get_by_role("button", name="Check the key").click()
    expect(page.locator("#license-preview #preview-aku")).to_contain_text("40 AKU")
    page.get_by_role("button", name="Apply this license").click()
    expect(card.locator("#license-status")).to_have_text("Active")
    expect(card.locator("#license-aku")).to_have_text("40 AKU")
    assert page.url.endswith("/license/settings")  # applied in place, through htmx

    # now the cluster fits, and the next one is refused past the 40 AKU
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Clusters").click()
    create_cluster(page, "orders", 30)
    expect(page.locator("#cluster-rows")).to_contain_text("orders")
    expect(page.locator("#console-license")).to_contain_text("License: active · 30 of 40 AKU in use")
    create_cluster(page, "payments", 12)
    expect(page.locator("#cluster-error")).to_contain_text("only 10 of the 40 AKU licensed are free")
    expect(page.locator("#cluster-rows")).not_to_contain_text("payments")
