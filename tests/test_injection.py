"""Issue 11, injection: text that a person or the marketplace wrote (a contract reference, a
product name, a reason) is shown as text on every page, never as markup that htmx would turn
into a request.

The payload closes the buyer message's <textarea> and adds an element that htmx would POST
on load (with the viewer's CSRF header) to a staff action.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from webapp.database import db
from webapp.vendor_side.models import IssuedKey

PAYLOAD = '</textarea><p hx-post="/vendor/attention/check" hx-trigger="load">x</p><textarea>'
ESCAPED = "&lt;/textarea&gt;&lt;p hx-post="
OTHER_INSTALL = "fedcba9876543210fedcba9876543210"
HOSTILE_CODE = "DEMO-HOSTILE-NAME-8Q4R"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_inert(body: str, where: str) -> None:
    """No element of the payload made it into the markup."""
    assert "<p hx-post" not in body, f"{where}: the payload is markup"
    assert 'hx-trigger="load"' not in body, f"{where}: the payload is markup"


def _key_id(response) -> str:
    match = re.search(r"/vendor/keys/([0-9a-f-]{36})", response.headers.get("Location", ""))
    assert match, response.headers.get("Location")
    return match.group(1)


@pytest.fixture
def install(app) -> str:
    """This environment's own install ID (role both), so that its Settings page can apply the key."""
    from webapp.environment.license_record import install_id

    with app.app_context():
        return install_id()


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def test_every_template_of_the_plugin_is_autoescaped_whatever_its_extension(app):
    names = [p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert "license/vendor_side/_buyer_message.txt" in names
    autoescape = app.jinja_env.autoescape
    for name in names:
        assert autoescape(name) if callable(autoescape) else autoescape, name
    # A host's own templates keep Flask's rule (a host's .txt mail stays plain text).
    assert not autoescape("mail/welcome.txt")


def test_a_reference_typed_on_the_offline_form_stays_text_on_every_page(app, admin, install):
    response = admin.post("/vendor/offline", data={
        "install_id": install, "aku": "4", "days": "30", "contract": PAYLOAD[:128], "type": "subscription",
        "reason": PAYLOAD})
    assert response.status_code == 303, text(response)
    key_id = _key_id(response)
    with app.app_context():
        key = db.session.get(IssuedKey, key_id)
        assert key.reference == PAYLOAD[:128]  # stored as typed; escaped where it is shown
        product_key = key.product_key
    # The offline form's own answer (htmx) shows the delivery with the buyer's message.
    fragment = admin.post("/vendor/offline", headers={"HX-Request": "true"}, data={
        "install_id": OTHER_INSTALL, "aku": "4", "days": "30", "contract": PAYLOAD[:128],
        "type": "subscription", "reason": PAYLOAD})
    assert fragment.status_code == 200 and ESCAPED in text(fragment)
    assert_inert(text(fragment), "offline answer")
    _assert_shown_as_text(admin, key_id, product_key, install)


def test_a_reference_given_to_the_command_line_stays_text_on_every_page(app, admin, install):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["license", "issue", "--install-id", install, "--aku", "4", "--days", "30",
                                 "--contract", PAYLOAD[:128]])
    assert result.exit_code == 0, result.output
    product_key = result.stdout.strip().splitlines()[-1]
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey).where(IssuedKey.install_id == install))
        key_id = key.id
    _assert_shown_as_text(admin, key_id, product_key, install)


def test_a_product_name_from_the_marketplace_stays_text_on_every_page(app, admin, install):
    simulator = app.extensions["license_vendor"].simulator
    simulator.add_code({"code": HOSTILE_CODE, "specification": "aku-20", "expires_at": "+300d",
                        "ali_uid": 1234567890129999, "product_name": PAYLOAD})
    answer = admin.post("/vendor/issue", headers={"HX-Request": "true"},
                        data={"code": HOSTILE_CODE, "install_id": install})
    assert answer.status_code == 200 and 'id="issued"' in text(answer)
    assert ESCAPED in text(answer)
    assert_inert(text(answer), "issue answer")
    with app.app_context():
        key = db.session.scalar(db.select(IssuedKey).where(IssuedKey.install_id == install))
        assert key.product == PAYLOAD
        key_id, product_key = key.id, key.product_key
    _assert_shown_as_text(admin, key_id, product_key, install)
    # A buyer redeeming the same kind of code on the public page.
    simulator.add_code({"code": HOSTILE_CODE + "B", "specification": "aku-20", "expires_at": "+300d",
                        "ali_uid": 1234567890129998, "product_name": PAYLOAD})
    buyer = app.test_client()
    page = buyer.post("/redeem", data={"code": HOSTILE_CODE + "B", "install_id": OTHER_INSTALL})
    assert page.status_code == 200
    assert_inert(text(page), "/redeem answer")


def _assert_shown_as_text(admin, key_id: str, product_key: str, install: str) -> None:
    pages = {
        "key page": admin.get(f"/vendor/keys/{key_id}"),
        "key page fragment": admin.get(f"/vendor/keys/{key_id}", headers={"HX-Request": "true"}),
        "keys": admin.get("/vendor/keys", query_string={"q": install}),
        "keys fragment": admin.get("/vendor/keys", query_string={"q": install}, headers={"HX-Request": "true"}),
        "audit log": admin.get("/vendor/audit"),
        "needs attention": admin.get("/vendor/attention"),
        "decoder": admin.post("/vendor/decode", data={"product_key": product_key}),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        assert_inert(text(response), where)
    assert ESCAPED in text(pages["key page"])  # the buyer's message, inside its textarea
    # The environment that applies the key shows its product and reference as text too.
    applied = admin.post("/settings/license", data={"product_key": product_key})
    assert applied.status_code in (200, 303)
    for where in ("/settings", "/settings/history", "/settings/license", "/instances"):
        response = admin.get(where)
        assert response.status_code == 200, where
        assert_inert(text(response), where)
