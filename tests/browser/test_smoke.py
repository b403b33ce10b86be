"""Smoke: a person logs in through the real login page in Chromium."""
from .conftest import login


def test_login_and_logout(page, live_server):
    login(page, live_server, role="admin")
    assert "admin@example.com" in page.locator(".who").inner_text()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert page.get_by_role("button", name="Log in").is_visible()


def test_wrong_password_is_said_plainly(page, live_server):
    login(page, live_server, role="operator")
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill("operator@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("That e-mail and password do not match")
