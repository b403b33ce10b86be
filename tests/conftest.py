"""Fixtures shared by every test module.

- `app`: a fresh app (role `both` unless a test's `app_config` says otherwise) on its own
  SQLite file, with the schema created and a signing key generated.
- `client`, `auth` (log in as a role), `make_user`, `api_token` (a bearer token of a role).
- Browser tests: see tests/browser/conftest.py (`live_server`, `page`).
"""
from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db

PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(tmp_path):
    """Override in a module (or parametrize) to change the app's configuration."""
    return {}


@pytest.fixture
def app(tmp_path, app_config):
    config = TestConfig().__dict__.copy()
    config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'test.db'}",
        LICENSE_INSTANCE_PATH=str(tmp_path / "instance"),
        LICENSE_ROLE="both",
        LICENSE_SKIP_SIGNING_KEY_CHECK=True,
    )
    config.update(app_config)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        _install_audit_triggers()
        if app.extensions["license_platform"].vendor:
            from webapp.vendor_side import signing_keys

            signing_keys.generate(dev=True)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _install_audit_triggers():
    """The migration's append-only triggers, for schemas made with create_all."""
    from sqlalchemy import text

    if db.engine.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            db.session.execute(text(
                f"CREATE TRIGGER IF NOT EXISTS license_audit_events_no_{verb.lower()} BEFORE {verb} ON license_audit_events "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            ))
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    def make(email: str = "staff@example.com", role: str = "issuer", password: str = PASSWORD):
        from webapp.auth import create_user

        with app.app_context():
            user = create_user(email, password, role)
            db.session.commit()
            return user.id

    return make


class AuthActions:
    def __init__(self, client, make_user):
        self._client = client
        self._make_user = make_user

    def login(self, role: str = "issuer", email: str | None = None, password: str = PASSWORD):
        email = email or f"{role}@example.com"
        try:
            self._make_user(email, role, password)
        except Exception:  # already made by an earlier login in this test
            pass
        return self._client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, make_user):
    return AuthActions(client, make_user)


@pytest.fixture
def api_token(app, make_user):
    """`api_token("operator")` -> headers with a bearer token of a new user of that role."""

    def make(role: str = "issuer") -> dict[str, str]:
        from webapp.auth import create_token, find_user

        email = f"api-{role}@example.com"
        with app.app_context():
            if find_user(email) is None:
                make_user(email, role)
            token = create_token(find_user(email))
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
