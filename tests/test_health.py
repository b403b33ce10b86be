"""Issue 10: `/healthz` (alive) and `/readyz` (ready: database, signing key, vendor keys), and
`readiness()` for a host console, which gets no route of the plugin's."""
from __future__ import annotations

import json
import socket

import pytest
from flask import Flask

from tests.environment.conftest import VENDOR_PUBLIC_KEYS
from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db
from webapp.health import readiness
from webapp.license_platform import LicensePlatform


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_app(tmp_path, *, create_schema=True, signing_key=True, **config):
    values = TestConfig().__dict__.copy()
    values.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                  LICENSE_ROLE="vendor", LICENSE_SKIP_SIGNING_KEY_CHECK=True)
    values.update(config)
    app = create_app(values)
    if create_schema:
        with app.app_context():
            db.create_all()
            if signing_key and app.extensions["license_platform"].vendor:
                from webapp.vendor_side import signing_keys

                signing_keys.generate(dev=True)
    return app


def readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_both_sides_ready(app, client):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ready"
    assert set(body["checks"]) == {"database", "signing_key", "vendor_keys"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["signing_key"]["message"].startswith("The active signing key dev-")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_vendor_without_an_active_signing_key_is_not_ready(tmp_path):
    status, body = readyz(make_app(tmp_path, signing_key=False))
    assert status == 503 and body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    check = body["checks"]["signing_key"]
    assert check["ok"] is False and "no active signing key" in check["message"] and "license keygen" in check["message"]
    assert "vendor_keys" not in body["checks"]


def test_a_signing_key_the_passphrase_does_not_open_is_not_ready(tmp_path):
    app = make_app(tmp_path)
    app.config["LICENSE_SIGNING_KEY_PASSPHRASE"] = "another passphrase"
    from webapp.vendor_side import signing_keys

    signing_keys._cache.clear()  # the right passphrase's decryption is cached per process
    status, body = readyz(app)
    assert status == 503
    assert "LICENSE_SIGNING_KEY_PASSPHRASE is not the one it was made with" in body["checks"]["signing_key"]["message"]


def test_an_environment_without_vendor_public_keys_is_not_ready_and_says_so(tmp_path):
    status, body = readyz(make_app(tmp_path, LICENSE_ROLE="environment"))
    assert status == 503
    check = body["checks"]["vendor_keys"]
    assert check["ok"] is False
    assert check["message"].startswith("LICENSE_PUBLIC_KEYS is not set: this environment trusts no vendor key")
    assert "license public-keys" in check["message"]
    assert "signing_key" not in body["checks"]


def test_an_environment_with_vendor_public_keys_is_ready(tmp_path):
    keys = tmp_path / "vendor-keys.json"
    keys.write_text(json.dumps(VENDOR_PUBLIC_KEYS))
    status, body = readyz(make_app(tmp_path, LICENSE_ROLE="environment", LICENSE_PUBLIC_KEYS=str(keys)))
    assert status == 200 and body["checks"]["vendor_keys"] == {"ok": True, "message": "1 vendor public key loaded."}


def test_unreadable_or_dev_only_vendor_keys_are_not_ready(tmp_path):
    missing = make_app(tmp_path, LICENSE_ROLE="environment", LICENSE_PUBLIC_KEYS=str(tmp_path / "nope.json"))
    status, body = readyz(missing)
    assert status == 503 and "cannot read" in body["checks"]["vendor_keys"]["message"]
    dev_only = make_app(tmp_path, LICENSE_ROLE="environment", LICENSE_PUBLIC_KEYS={"dev-1234": VENDOR_PUBLIC_KEYS["2026-11-a"]})
    status, body = readyz(dev_only)
    assert status == 503 and "No vendor public key is trusted" in body["checks"]["vendor_keys"]["message"]


def test_a_database_that_cannot_be_reached_is_not_ready_but_the_process_is_alive(tmp_path):
    app = make_app(tmp_path, create_schema=False,
                   SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x")
    status, body = readyz(app)
    assert status == 503
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["message"].startswith("The database cannot be reached: ")
    assert body["checks"]["signing_key"] == {"ok": False, "message": "Not checked: it needs the database."}
    assert app.test_client().get("/healthz").status_code == 200


def test_a_database_that_does_not_answer_in_time_is_not_ready(tmp_path):
    """A server that accepts the connection and never says a word (a black hole)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        app = make_app(tmp_path, create_schema=False, LICENSE_READINESS_TIMEOUT=0.5,
                       SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
        status, body = readyz(app)
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "message": "The database did not answer within 0.5 seconds."}


def test_a_missing_schema_is_not_ready(tmp_path):
    status, body = readyz(make_app(tmp_path, create_schema=False))
    assert status == 503 and body["checks"]["database"]["ok"] is True
    assert body["checks"]["signing_key"]["message"].startswith("The signing keys cannot be read: ")


def test_in_a_host_console_the_plugin_adds_no_route_and_offers_readiness(tmp_path):
    host = Flask("host")
    host.config.update(TestConfig().__dict__)
    host.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}", LICENSE_ROLE="environment",
                       LICENSE_INSTANCE_PATH=str(tmp_path), LICENSE_PUBLIC_KEYS=VENDOR_PUBLIC_KEYS)
    LicensePlatform().init_app(host, login_check=lambda: True)
    client = host.test_client()
    assert client.get("/readyz").status_code == 404 and client.get("/healthz").status_code == 404
    result = readiness(host)
    assert result.ready and set(result.checks) == {"database", "vendor_keys"}
    host.config["LICENSE_PUBLIC_KEYS"] = None
    assert not readiness(host).ready


def test_the_example_console_answers_its_readiness_with_the_plugins_checks(tmp_path):
    from tests.host_console.conftest import console_app

    for app in console_app(tmp_path, {"WTF_CSRF_ENABLED": False}):
        response = app.test_client().get("/readyz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ready", "license": {
            "database": {"ok": True, "message": "The database answers."},
            "vendor_keys": {"ok": True, "message": "1 vendor public key loaded."}}}


@pytest.mark.parametrize("role", ["vendor", "environment", "both"])
def test_healthz_checks_nothing(tmp_path, role):
    app = make_app(tmp_path, create_schema=False, LICENSE_ROLE=role,
                   SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
