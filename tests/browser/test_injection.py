"""Issue 11 in Chromium: markup stored in a key's reference never becomes a request that htmx
sends with the viewer's CSRF header, and the regions that show such text are `hx-disable`d,
so that even markup that got in there would stay inert."""
from __future__ import annotations

import pytest

from .conftest import login

pytestmark = pytest.mark.browser

# What a hostile contract reference holds: it closes the buyer message's <textarea> and asks
# htmx to POST a staff action ("Re-read all codes now") as soon as the page loads.
PAYLOAD = '</textarea><p hx-post="/vendor/attention/check" hx-trigger="load">x</p><textarea>'


def _offline_key(app, reference: str) -> str:
    from webapp.environment.license_record import install_id
    from webapp.vendor_side import offline

    with app.app_context():
        order = offline.read_order({"install_id": install_id(), "aku": "4", "days": "30",
                                    "contract": reference, "reason": "a hostile reference"})
        return offline.issue_offline(order, actor="admin@example.com").key.id


def _requests(page) -> list[str]:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    return sent


def _after_every_request_so_far(page) -> None:
    """A barrier: the page's requests are reported in the order it sends them, so once a
    request sent now is seen, every request the page sent before it has been seen too."""
    with page.expect_request("**/healthz?barrier"):
        page.evaluate("() => fetch('/healthz?barrier')")


def test_a_stored_reference_does_not_make_the_key_page_send_a_request(page, live_server):
    key_id = _offline_key(live_server.app, PAYLOAD[:128])
    login(page, live_server, role="issuer")
    sent = _requests(page)
    page.goto(f"{live_server.url}/vendor/keys/{key_id}")
    # htmx has read its configuration and processed the page (DOMContentLoaded has run).
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")
    assert page.evaluate("() => [htmx.config.allowEval, htmx.config.allowScriptTags, htmx.config.selfRequestsOnly,"
                         " htmx.config.historyCacheSize]") == [False, False, True, 0]
    _after_every_request_so_far(page)
    assert not [url for url in sent if "/vendor/attention/check" in url], sent
    # The reference reads as text, whole, in the buyer's message.
    assert PAYLOAD[:128] in page.locator("#buyer-message").input_value()
    with live_server.app.app_context():
        from webapp.database import db
        from webapp.models.audit import AuditEvent

        assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "reconcile_run")) is None


def test_markup_inside_a_region_of_stored_text_stays_inert(page, live_server):
    """The delivery region is `hx-disable`d: markup added there is not processed by htmx,
    while the same markup elsewhere on the page is (so the check can fail)."""
    key_id = _offline_key(live_server.app, "contract 42")
    login(page, live_server, role="issuer")
    sent = _requests(page)
    page.goto(f"{live_server.url}/vendor/keys/{key_id}")
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")
    with page.expect_request("**/healthz?outside"):
        page.evaluate("""() => {
          const region = document.querySelector('#buyer-message').closest('[hx-disable]');
          region.insertAdjacentHTML('beforeend', '<p hx-get="/healthz?inside" hx-trigger="load">x</p>');
          htmx.process(region);
          const outside = document.createElement('div');
          outside.innerHTML = '<p hx-get="/healthz?outside" hx-trigger="load" hx-swap="none">y</p>';
          document.querySelector('main').appendChild(outside);
          htmx.process(outside);
        }""")
    assert not [url for url in sent if "healthz?inside" in url], sent
