"""What the hot paths' shortcuts keep correct (issue 12; the figures are in docs/performance.md,
never asserted here): the accounts read as plain rows, the limiter asked only by the views that
declare a limit, the catalogue kept for the request, the request line past the redaction."""
from __future__ import annotations

import io
import logging

import pytest
from flask_babel import force_locale, refresh

from webapp import i18n, request_log
from webapp.auth import Account, create_token, find_user, revoke_tokens
from webapp.database import db
from webapp.extensions import limiter


def test_a_revoked_token_is_refused_by_the_next_request(app, client, make_user):
    make_user("ops@example.com", "operator")
    with app.app_context():
        token = create_token(find_user("ops@example.com"))
        db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/environment", headers=bearer).status_code == 200
    with app.app_context():
        revoke_tokens(find_user("ops@example.com"))
        db.session.commit()
    assert client.get("/api/v1/environment", headers=bearer).status_code == 401


def test_a_deactivated_accounts_token_is_refused(app, client, make_user):
    make_user("ops@example.com", "operator")
    with app.app_context():
        token = create_token(find_user("ops@example.com"))
        find_user("ops@example.com").is_active_account = False
        db.session.commit()
    assert client.get("/api/v1/environment", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_signed_in_account_is_a_plain_row_that_says_who_and_which_role(app, auth, client):
    auth.login("operator")
    with client:
        assert client.get("/settings").status_code == 200
        from flask_login import current_user

        user = current_user._get_current_object()
        assert isinstance(user, Account) and user.role == "operator" and user.is_authenticated
        assert user.get_id() == f"{user.id}:{user.session_version}"  # as User.get_id()
    # Logging out still ends the session on the server (it loads the User row to do so).
    cookie = client.get_cookie("session").value
    assert client.post("/logout").status_code == 303
    client.set_cookie("session", cookie)
    assert client.get("/settings").status_code == 302


def test_routes_without_a_limit_never_ask_the_limiter(app, client, api_token, monkeypatch):
    asked = []
    monkeypatch.setattr(limiter, "check", lambda: asked.append(True))
    assert client.get("/api/v1/environment", headers=api_token("operator")).status_code == 200
    assert client.get("/login").status_code == 200
    assert asked == [True]  # /login declares a limit (on POST): it asks; the API read does not


def test_the_catalogue_kept_for_the_request_follows_force_locale_and_refresh(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        chinese = i18n.gettext("Settings")
        assert chinese != "Settings"
        with force_locale("en"):
            assert i18n.gettext("Settings") == "Settings"
        assert i18n.gettext("Settings") == chinese
        refresh()
        assert i18n.gettext("Settings") == chinese


@pytest.fixture
def captured(app):
    stream = io.StringIO()
    handler = request_log.make_handler(app, stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_request_line_passes_the_redaction_by_and_other_lines_do_not(app, client, api_token, captured):
    bearer = api_token("operator")
    token = bearer["Authorization"].split()[1]

    @app.get("/probe/log")
    def probe():
        logging.getLogger("webapp.probe").info("the caller sent %s", token)
        return "ok"

    client.get("/probe/log", headers=bearer)
    text = captured.getvalue()
    assert "GET /probe/log -> 200" in text
    assert token not in text and "the caller sent" in text
