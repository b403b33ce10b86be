"""The example host console (examples/host_console) with the plugin mounted at /license, on its
own SQLite file: the console's tables made by the console, the plugin's by `upgrade_schema`
(`flask license db upgrade`), a console user, a controlled clock and a trusted vendor key."""
from __future__ import annotations

import pytest

from examples.host_console import create_app
from examples.host_console.models import ConsoleUser, db
from tests.environment.conftest import VENDOR_PUBLIC_KEYS, Clock, Keys
from werkzeug.security import generate_password_hash

EMAIL = "ops@console.example"
PASSWORD = "console password 1"


@pytest.fixture
def console_config():
    """Override to change the console's configuration (CSRF is off unless a test turns it on)."""
    return {"WTF_CSRF_ENABLED": False}


@pytest.fixture
def app(tmp_path, console_config):
    yield from console_app(tmp_path, console_config)


def console_app(tmp_path, console_config):
    """The console app, its schema made and a user in it (also for tests/browser/test_host_console.py)."""
    from webapp.license_platform import upgrade_schema

    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "console-test-secret",
        "LICENSE_DATA_KEY": "console-test-data-key-0123456789",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'console.db'}",
        "LICENSE_PUBLIC_KEYS": VENDOR_PUBLIC_KEYS,
        "RATELIMIT_STORAGE_URI": "memory://",
        **console_config,
    }, instance_path=str(tmp_path / "instance"))
    app.config["LICENSE_CLOCK"] = Clock()
    with app.app_context():
        db.create_all()  # the console's own tables
        upgrade_schema()  # the plugin's, beside them
        db.session.add(ConsoleUser(email=EMAIL, password_hash=generate_password_hash(PASSWORD)))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def keys(app):
    return Keys(app, app.config["LICENSE_CLOCK"])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def signed_in(client):
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 303
    return client
