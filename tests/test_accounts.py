"""Accounts: login, roles, API tokens, the login rate limit."""
import pytest
from flask import Blueprint

from webapp.auth import (
    AccountError,
    api_roles_required,
    create_token,
    create_user,
    find_user,
    revoke_tokens,
    roles_required,
    token_sha256,
    user_for_token,
)
from webapp.database import db
from webapp.models.accounts import ApiToken
from webapp.models.audit import AuditEvent

from .conftest import PASSWORD


@pytest.fixture
def guarded(app):
    """Routes guarded by each role, for page and API checks."""
    bp = Blueprint("guarded", __name__)

    @bp.route("/guarded/issuer")
    @roles_required("issuer")
    def issuer_page():
        return "issuer page"

    @bp.route("/guarded/operator")
    @roles_required("operator")
    def operator_page():
        return "operator page"

    @bp.route("/api/v1/guarded/issuer")
    @api_roles_required("issuer")
    def issuer_api():
        return {"ok": True}

    app.register_blueprint(bp)
    return app


def test_login_logs_in_and_audits(app, client, make_user):
    make_user("a@example.com", "issuer")
    response = client.post("/login", data={"email": "A@Example.com ", "password": PASSWORD})
    assert response.status_code == 303
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "login")).all()
        assert [e.actor for e in events] == ["a@example.com"]


def test_wrong_password_is_refused_and_audited(app, client, make_user):
    make_user("a@example.com", "issuer")
    response = client.post("/login", data={"email": "a@example.com", "password": "wrong password"})
    assert response.status_code == 422
    assert "do not match" in response.get_data(as_text=True)
    with app.app_context():
        failed = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
        assert [e.actor for e in failed] == ["a@example.com"]


def test_unknown_email_gets_the_same_answer(client):
    response = client.post("/login", data={"email": "nobody@example.com", "password": "whatever12"})
    assert response.status_code == 422
    assert "do not match" in response.get_data(as_text=True)


def test_login_redirect_stays_on_site(client, make_user):
    make_user("a@example.com", "issuer")
    response = client.post("/login?next=https://evil.example/x", data={"email": "a@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login?next=/guarded", data={"email": "a@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/guarded"


def test_pages_require_login_then_role(guarded, client, auth):
    response = client.get("/guarded/issuer")
    assert response.status_code == 302 and "/login?next=/guarded/issuer" in response.headers["Location"]
    auth.login("operator")
    assert client.get("/guarded/issuer").status_code == 403
    assert client.get("/guarded/operator").get_data(as_text=True) == "operator page"


def test_admin_passes_every_role(guarded, client, auth):
    auth.login("admin")
    assert client.get("/guarded/issuer").status_code == 200
    assert client.get("/guarded/operator").status_code == 200


def test_logout_needs_post(client, auth):
    auth.login("issuer")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 303
    assert client.get("/").status_code == 302


def test_api_needs_a_bearer_token(guarded, client, api_token):
    response = client.get("/api/v1/guarded/issuer")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/guarded/issuer", headers={"Authorization": "Bearer lic_nope"}).status_code == 401
    assert client.get("/api/v1/guarded/issuer", headers=api_token("operator")).status_code == 403
    assert client.get("/api/v1/guarded/issuer", headers=api_token("issuer")).get_json() == {"ok": True}


def test_api_ignores_the_session_cookie(guarded, client, auth):
    auth.login("issuer")
    assert client.get("/api/v1/guarded/issuer").status_code == 401


def test_tokens_are_stored_hashed_and_revocable(app):
    with app.app_context():
        user = create_user("t@example.com", PASSWORD, "issuer")
        token = create_token(user)
        db.session.commit()
        row = db.session.scalar(db.select(ApiToken))
        assert row.token_sha256 == token_sha256(token) and token not in (row.token_sha256, row.prefix)
        assert user_for_token(token).email == "t@example.com"
        assert revoke_tokens(user) == 1
        db.session.commit()
        assert user_for_token(token) is None


def test_inactive_users_cannot_log_in_or_use_tokens(app, client, make_user):
    make_user("gone@example.com", "issuer")
    with app.app_context():
        user = find_user("gone@example.com")
        token = create_token(user)
        user.is_active_account = False
        db.session.commit()
        assert user_for_token(token) is None
    assert client.post("/login", data={"email": "gone@example.com", "password": PASSWORD}).status_code == 422


@pytest.mark.parametrize(
    "email, password, role, message",
    [
        ("not-an-email", PASSWORD, "issuer", "not an e-mail"),
        ("x@example.com", "short", "issuer", "at least"),
        ("x@example.com", PASSWORD, "root", "role must be"),
    ],
)
def test_create_user_refuses_bad_input(app, email, password, role, message):
    with app.app_context(), pytest.raises(AccountError, match=message):
        create_user(email, password, role)


def test_duplicate_user_is_refused(app, make_user):
    make_user("dup@example.com", "issuer")
    with app.app_context(), pytest.raises(AccountError, match="already exists"):
        create_user("DUP@example.com", PASSWORD, "admin")


@pytest.fixture
def app_config():
    return {"LICENSE_LOGIN_RATE_LIMIT": "3 per minute"}


def test_login_is_rate_limited(client):
    for _ in range(3):
        assert client.post("/login", data={"email": "x@example.com", "password": "whatever12"}).status_code == 422
    response = client.post("/login", data={"email": "x@example.com", "password": "whatever12"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/login").status_code == 200  # only attempts are limited


def test_htmx_request_after_the_session_ended_redirects_the_whole_page(guarded, client):
    response = client.get("/guarded/issuer", headers={"HX-Request": "true",
                                                      "HX-Current-URL": "http://localhost/guarded/issuer?q=1"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/guarded/issuer?q%3D1"
