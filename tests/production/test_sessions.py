"""Sessions: Secure cookies and HSTS outside the demo (a switch for plain-HTTP development), and
logout or a password change ending the session on the server: a copied cookie stops working."""
from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db
from webapp.session_security import HSTS, cookie_settings

from ..conftest import PASSWORD
from ..host_console.conftest import EMAIL as CONSOLE_EMAIL, PASSWORD as CONSOLE_PASSWORD, console_app

STAFF_PAGE = "/vendor/issue"


def session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_outside_the_demo_the_session_cookie_is_secure_and_hsts_is_sent(client, auth):
    login = auth.login("issuer")
    cookie = session_cookie(login)
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    for response in (login, client.get("/login"), client.get("/api/v1/nothing"), client.get(STAFF_PAGE)):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("app_config", [{"LICENSE_INSECURE_HTTP": True}])
def test_plain_http_development_has_a_switch(app, client, auth):
    cookie = session_cookie(auth.login("issuer"))
    assert "Secure" not in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert app.config["REMEMBER_COOKIE_SECURE"] is False


def test_the_demo_is_plain_http(tmp_path):
    config = TestConfig().__dict__.copy()
    del config["SECRET_KEY"]  # no SECRET_KEY: the demo
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}",
                  LICENSE_INSTANCE_PATH=str(tmp_path), LICENSE_ROLE="environment")
    app = create_app(config)
    assert app.extensions["license_platform"].demo
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


def test_cookie_settings():
    assert cookie_settings(True)["SESSION_COOKIE_SECURE"] is True
    assert cookie_settings(False)["REMEMBER_COOKIE_SECURE"] is False
    assert cookie_settings(False)["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, client, auth):
    auth.login("issuer")
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get(STAFF_PAGE).status_code == 200  # the copy works while the session lives
    auth.logout()
    assert client.get(STAFF_PAGE).status_code == 302
    refused = thief.get(STAFF_PAGE)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    htmx = thief.get(STAFF_PAGE, headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/login")
    # the account itself is fine: logging in again makes a new session
    assert auth.login("issuer").status_code == 303 and client.get(STAFF_PAGE).status_code == 200
    assert thief.get(STAFF_PAGE).status_code == 302


def test_logout_ends_the_accounts_other_sessions_too(app, auth, make_user):
    make_user("twice@example.com", "issuer")
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        browser.post("/login", data={"email": "twice@example.com", "password": PASSWORD})
        assert browser.get(STAFF_PAGE).status_code == 200
    first.post("/logout")
    assert second.get(STAFF_PAGE).status_code == 302


def test_a_password_change_ends_every_session(app, client, make_user):
    make_user("changes@example.com", "issuer")
    client.post("/login", data={"email": "changes@example.com", "password": PASSWORD})
    assert client.get(STAFF_PAGE).status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "password", "changes@example.com", "--password-stdin"],
                                          input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert "its sessions have ended" in result.output
    assert client.get(STAFF_PAGE).status_code == 302
    assert client.post("/login", data={"email": "changes@example.com", "password": PASSWORD}).status_code == 422
    assert client.post("/login", data={"email": "changes@example.com",
                                       "password": "a brand new password"}).status_code == 303
    assert client.get(STAFF_PAGE).status_code == 200
    with app.app_context():
        from webapp.models.audit import AuditEvent

        actions = db.session.scalars(db.select(AuditEvent.action)).all()
    assert "password_changed" in actions


def test_a_too_short_new_password_is_refused_and_nothing_ends(app, client, make_user):
    make_user("short@example.com", "issuer")
    client.post("/login", data={"email": "short@example.com", "password": PASSWORD})
    result = app.test_cli_runner().invoke(args=["users", "password", "short@example.com", "--password-stdin"],
                                          input="short\n")
    assert result.exit_code == 2 and "at least 10 characters" in result.output
    assert client.get(STAFF_PAGE).status_code == 200
    unknown = app.test_cli_runner().invoke(args=["users", "password", "nobody@example.com", "--password-stdin"],
                                           input="long enough password\n")
    assert unknown.exit_code == 2 and "no user nobody@example.com" in unknown.output


def test_a_session_without_a_generation_is_refused(client, make_user):
    """As the sessions made before the upgrade that brought the generation: log in again."""
    user_id = make_user("old@example.com", "issuer")
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    assert client.get(STAFF_PAGE).status_code == 302


def test_in_a_host_console_the_cookies_stay_the_hosts_and_hsts_is_on_the_plugins_pages(tmp_path):
    app = next(console_app(tmp_path, {"WTF_CSRF_ENABLED": False}))
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the host's to choose
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    client.post("/login", data={"email": CONSOLE_EMAIL, "password": CONSOLE_PASSWORD})
    assert client.get("/license/settings").headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in client.get("/clusters").headers
