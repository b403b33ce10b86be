"""No secret, no whole authorization code and no product key in any log line.

Real requests to the app on a real server on loopback (werkzeug's, whose access lines carry the
URL with its query string, as gunicorn's do), with every logger at DEBUG and SQLAlchemy's echo on
(its lines carry the statements' parameters): issue a key, apply it, redeem a code, fail a
login, search the keys with a whole code, call the API with a bearer token. Two handlers on the
root logger see the same records: a raw one, which proves the secrets did reach the log
machinery, and the app's own, which must not let any of them through.
"""
from __future__ import annotations

import io
import logging
import threading

import pytest
import requests
from werkzeug.serving import make_server

from webapp import product_key
from webapp.database import db

from ..conftest import PASSWORD

STAFF_CODE = "DEMO-AKU20-READY-7K3Q"
BUYER_CODE = "DEMO-AKU40-READY-9M2X"
BUYER_INSTALL = "fedcba9876543210fedcba9876543210"
WRONG_PASSWORD = "not-the-password-0451"


@pytest.fixture
def app_config():
    # A real server in plain HTTP: without the switch the session cookie is Secure, and a client
    # never sends it back over http.
    return {"LICENSE_LOG_FORMAT": "json", "LICENSE_INSECURE_HTTP": True}


@pytest.fixture
def server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


class RawLines(logging.Handler):
    """Each record as formatted when it arrives, before the app's handler redacts it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")


@pytest.fixture
def every_logger_at_debug():
    root = logging.getLogger()
    raw = RawLines()
    root.handlers.insert(0, raw)  # first: it sees each record before the app's handler does
    engine = logging.getLogger("sqlalchemy.engine")
    saved = root.level, engine.level
    root.setLevel(logging.DEBUG)
    engine.setLevel(logging.INFO)  # SQL echo: statements and their parameters
    yield raw
    root.removeHandler(raw)
    root.setLevel(saved[0])
    engine.setLevel(saved[1])


def test_no_secret_reaches_a_log_line(app, server, make_user, every_logger_at_debug, log_capture):
    from webapp.auth import create_token, find_user
    from webapp.environment import license_record
    from webapp.vendor_side.models import IssuedKey

    make_user("admin@example.com", "admin")
    with app.app_context():
        install_id = license_record.install_id()
        token = create_token(find_user("admin@example.com"))
        db.session.commit()
    capture = log_capture(app)
    raw = every_logger_at_debug
    http = requests.Session()
    http.trust_env = False  # loopback, never a proxy

    failed = http.post(f"{server}/login", data={"email": "admin@example.com", "password": WRONG_PASSWORD})
    assert failed.status_code == 422
    assert http.post(f"{server}/login", data={"email": "admin@example.com", "password": PASSWORD}).ok
    issued = http.post(f"{server}/vendor/issue", data={"code": STAFF_CODE, "install_id": install_id})
    assert issued.ok and "/vendor/keys/" in issued.url
    searched = http.get(f"{server}/vendor/keys", params={"q": STAFF_CODE})
    assert searched.status_code == 200 and "****7K3Q" in searched.text
    with app.app_context():
        staff_key = db.session.scalar(db.select(IssuedKey.product_key).where(IssuedKey.install_id == install_id))
    applied = http.post(f"{server}/settings/license", data={"product_key": staff_key})
    assert applied.ok
    redeemed = http.post(f"{server}/redeem", data={"code": BUYER_CODE, "install_id": BUYER_INSTALL})
    assert redeemed.ok and product_key.KEY_PREFIX in redeemed.text
    listed = http.get(f"{server}/api/v1/product-keys", params={"code": BUYER_CODE},
                      headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1
    http.post(f"{server}/logout")
    with app.app_context():
        keys = list(db.session.scalars(db.select(IssuedKey.product_key)))
    assert len(keys) == 2

    secrets = {"authorization code (staff)": STAFF_CODE, "authorization code (buyer)": BUYER_CODE,
               "password": PASSWORD, "wrong password": WRONG_PASSWORD, "API token": token,
               "token body": token[len("lic_"):], "product key prefix": product_key.KEY_PREFIX,
               **{f"product key {i}": key[:64] for i, key in enumerate(keys)},
               **{f"product key {i} (end)": key[-64:] for i, key in enumerate(keys)}}
    written = capture.text()
    # The leak paths are real: the raw records hold the codes (access lines' query strings) and
    # the keys (SQL parameters), so a redaction that missed them would fail this test.
    seen_raw = raw.stream.getvalue()
    assert STAFF_CODE in seen_raw and BUYER_CODE in seen_raw and product_key.KEY_PREFIX in seen_raw
    assert "GET /vendor/keys?q=" in seen_raw
    leaked = [name for name, value in secrets.items() if value in written]
    assert leaked == [], f"in the app's log lines: {leaked}"
    # ...and the lines are still useful: masked codes, the requests' routes, the failed login.
    assert "q=****7K3Q" in written and "/vendor/keys" in written
    lines = capture.json()
    assert any(line.get("route") == "/login" and line.get("status") == 422 for line in lines)
    assert any(line.get("route") == "/redeem" and line.get("status") == 200 for line in lines)
