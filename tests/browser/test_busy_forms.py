"""While a form's htmx request runs its buttons are disabled, so a second press cannot be queued on
a form the answer is about to replace (and silently lost, as a second "Check for renewal" once
was). Playwright's routing looks at the page while the request is held at the network, before
the server answers: no timing involved."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.browser

IN_FLIGHT = """() => ({
  disabled: document.getElementById("update-license").disabled,
  busy: document.querySelectorAll("form[aria-busy=true]").length,
})"""


def watch_update_form(page, live_server, answer):
    """Open Settings; every request for the update form records the page's state, then `answer`s."""
    seen = []

    def held(route):
        seen.append(page.evaluate(IN_FLIGHT))
        answer(route)

    login(page, live_server, role="operator")
    page.goto(live_server.url + "/settings")
    page.route("**/settings/license?panel=update", held)
    page.get_by_role("button", name="Update Product License").click()
    return seen


def test_buttons_are_disabled_while_the_request_runs_and_the_new_form_takes_over(page, live_server):
    seen = watch_update_form(page, live_server, lambda route: route.continue_())
    expect(page.get_by_label("Product key")).to_be_visible()
    assert seen == [{"disabled": True, "busy": 1}]
    expect(page.get_by_role("button", name="Check the key")).to_be_enabled()
    expect(page.locator("[aria-busy], [data-busy]")).to_have_count(0)


def test_a_failed_request_gives_the_buttons_back(page, live_server):
    # A 503 is not swapped: the form stays, its button works again, and the toast says so.
    seen = watch_update_form(page, live_server, lambda route: route.fulfill(status=503, body="down"))
    expect(page.locator("#htmx-problem")).to_contain_text("Nothing was changed")
    assert seen == [{"disabled": True, "busy": 1}]
    expect(page.get_by_role("button", name="Update Product License")).to_be_enabled()
    expect(page.locator("[aria-busy], [data-busy]")).to_have_count(0)
