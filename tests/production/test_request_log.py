"""Request ids and log lines: `X-Request-ID` taken or made and answered; one line per request
with its route (never its query string), status and time; JSON lines with `LICENSE_LOG_FORMAT=json`;
a host console's logging and pages left alone."""
from __future__ import annotations

import io
import logging
import re

import pytest
import responses
from flask import Blueprint
from responses import matchers

from webapp import create_app, request_log
from webapp.config import TestConfig
from webapp.database import db
from webapp.redaction import RedactingFilter

from ..host_console.conftest import EMAIL as CONSOLE_EMAIL, PASSWORD as CONSOLE_PASSWORD, console_app

INSTALL = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def app_config():
    return {"LICENSE_LOG_FORMAT": "json"}


def _access_lines(capture) -> list[dict]:
    return [line for line in capture.json() if line["logger"] == "webapp.requests"]


def test_a_request_id_is_made_and_answered(client):
    first, second = client.get("/login"), client.get("/login")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize("given, kept", [
    ("req-42.a:b", True),
    ("Root=1-67891233-abcdef012345678912345678", True),
    ("x" * 128, True),
    ("x" * 129, False),
    ("two words", False),
    ('quote"d', False),
    ("line\\nbreak", False),
    ("", False),
])
def test_a_sane_request_id_is_kept_and_any_other_replaced(client, given, kept):
    answered = client.get("/login", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    assert (answered == given) is kept
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{32}", answered)


def test_request_id_from_is_pure():
    assert request_log.request_id_from("abc") == "abc"
    assert request_log.request_id_from("a\r\nb") != "a\r\nb"
    assert request_log.request_id_from(None)


def test_one_json_line_per_request_with_its_route_status_and_user(app, client, auth, log_capture):
    capture = log_capture(app)
    auth.login("issuer")
    response = client.get("/vendor/keys?q=WHOLE-CODE-SECRET-1234&status=active", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "probe-1"
    [line] = [entry for entry in _access_lines(capture) if entry.get("request_id") == "probe-1"]
    assert line["level"] == "INFO" and line["method"] == "GET"
    assert line["route"] == "/vendor/keys" and line["endpoint"] == "vendor.keys" and line["status"] == 200
    assert line["user"] == "issuer@example.com"
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["message"].startswith("GET /vendor/keys -> 200 in ")
    assert "WHOLE-CODE-SECRET" not in capture.text() and "status=active" not in capture.text()


def test_every_line_of_a_request_carries_its_request_id(app, client, log_capture):
    probe = Blueprint("log_probe", __name__)

    @probe.get("/_probe/log")
    def write_a_line():
        logging.getLogger("webapp.probe").warning("something worth a line")
        return "ok"

    app.register_blueprint(probe)
    capture = log_capture(app)
    response = client.get("/_probe/log", headers={"X-Request-ID": "probe-2"})
    assert response.status_code == 200
    lines = [entry for entry in capture.json() if entry.get("request_id") == "probe-2"]
    assert [entry["logger"] for entry in lines] == ["webapp.probe", "webapp.requests"]
    assert lines[0]["message"] == "something worth a line" and lines[0]["route"] == "/_probe/log"
    assert lines[0]["level"] == "WARNING"


def test_the_marketplace_request_id_is_on_the_lines_after_a_call(app, client, log_capture):
    capture = log_capture(app)
    redeemed = client.post("/api/v1/redeem", json={"authorizationCode": "DEMO-AKU20-READY-7K3Q",
                                                   "installId": INSTALL}, headers={"X-Request-ID": "probe-3"})
    assert redeemed.status_code == 201, redeemed.get_json()
    client.get("/login", headers={"X-Request-ID": "probe-4"})
    lines = {entry["request_id"]: entry for entry in _access_lines(capture)}
    assert lines["probe-3"]["market_request_id"]  # the simulator's RequestId of the last call
    assert "market_request_id" not in lines["probe-4"]  # a request that asked the marketplace nothing


def test_a_failed_marketplace_call_is_logged_with_its_request_id(app, client, log_capture):
    capture = log_capture(app)
    client.post("/api/v1/redeem", json={"authorizationCode": "NO-SUCH-CODE-77", "installId": INSTALL})
    client_lines = [entry for entry in capture.json() if entry["logger"] == "marketplace_adapter"]
    assert client_lines and all(entry.get("market_request_id") for entry in client_lines)
    assert all("NO-SUCH-CODE-77" not in entry["message"] for entry in capture.json())


def test_text_is_the_default_format(tmp_path, log_capture):
    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 't.db'}", LICENSE_ROLE="environment",
                  LICENSE_INSTANCE_PATH=str(tmp_path))
    app = create_app(config)
    capture = log_capture(app)
    app.test_client().get("/login", headers={"X-Request-ID": "probe-5"})
    [line] = [text for text in capture.lines() if "webapp.requests" in text]
    assert re.fullmatch(r"\S+ \S+ INFO webapp\.requests \[probe-5\] GET /login -> 200 in [\d.]+ ms", line)


def test_a_wrong_log_format_stops_the_start_naming_it(tmp_path):
    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 't.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                  LICENSE_LOG_FORMAT="xml")
    with pytest.raises(RuntimeError, match="LICENSE_LOG_FORMAT must be one of text, json"):
        create_app(config)


def test_the_standalone_app_puts_one_handler_on_the_root_logger(tmp_path):
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    config = TestConfig().__dict__.copy()
    config.update(TESTING=False, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 't.db'}",
                  LICENSE_INSTANCE_PATH=str(tmp_path), LICENSE_ROLE="environment", LICENSE_LOG_FORMAT="json")
    gunicorn_access = logging.getLogger("gunicorn.access")
    try:
        create_app(config)
        app = create_app(config)  # a second app of the process replaces the first's handler
        ours = [h for h in root.handlers if h.get_name() == request_log.HANDLER_NAME]
        assert len(ours) == 1 and isinstance(ours[0].formatter, request_log.JsonFormatter)
        assert root.level == logging.INFO
        assert sum(isinstance(f, RedactingFilter) for f in gunicorn_access.filters) == 1
        # gunicorn's access line (its own handler, URL with the query string) is redacted too
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        gunicorn_access.addHandler(handler)
        gunicorn_access.propagate = False
        gunicorn_access.info('"GET /keys?q=DEMO-AKU20-READY-7K3Q HTTP/1.1" 200')
        gunicorn_access.removeHandler(handler)
        assert "DEMO-AKU20-READY" not in stream.getvalue() and "q=****7K3Q" in stream.getvalue()
        assert app.config["SECRET_KEY"] and app.logger.handlers == []
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name in ("gunicorn.access", "gunicorn.error", "werkzeug"):
            logger = logging.getLogger(name)
            for f in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
                logger.removeFilter(f)
        gunicorn_access.propagate = True


def test_a_host_console_keeps_its_logging_and_its_pages_get_no_request_id(tmp_path, log_capture):
    root = logging.getLogger()
    handlers = list(root.handlers)
    app = next(console_app(tmp_path, {"WTF_CSRF_ENABLED": False}))
    assert root.handlers == handlers
    capture = log_capture(app)  # what a host may install: the plugin's handler, on its own root
    client = app.test_client()
    assert "X-Request-ID" not in client.get("/login").headers  # the host's page
    client.post("/login", data={"email": CONSOLE_EMAIL, "password": CONSOLE_PASSWORD})
    assert "X-Request-ID" not in client.get("/clusters").headers
    plugin = client.get("/license/settings", headers={"X-Request-ID": "host-probe"})
    assert plugin.status_code == 200 and plugin.headers["X-Request-ID"] == "host-probe"
    assert client.get("/license/no-such-page").headers["X-Request-ID"]
    requests_logged = [line for line in capture.lines() if " webapp.requests " in line]
    assert any("[host-probe] GET /license/settings -> 200 in " in line for line in requests_logged)
    assert not any("/clusters" in line or "GET /login" in line for line in requests_logged)  # the host's own


@responses.activate
def test_an_environment_passes_its_request_id_to_the_vendor(tmp_path):
    from webapp.auth import create_token, create_user

    from ..environment.conftest import VENDOR_PUBLIC_KEYS

    vendor = "https://vendor.example.com"
    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'env.db'}", LICENSE_INSTANCE_PATH=str(tmp_path),
                  LICENSE_ROLE="environment", LICENSE_PUBLIC_KEYS=VENDOR_PUBLIC_KEYS, LICENSE_VENDOR_URL=vendor)
    app = create_app(config)
    with app.app_context():
        db.create_all()
    responses.post(vendor + "/api/v1/redeem", status=422,
                   json={"error": {"code": "code_expired", "message": "The code expired."}},
                   match=[matchers.header_matcher({"X-Request-ID": "env-probe-1"})])
    with app.app_context():
        token = create_token(create_user("op@example.com", "operator password", "operator"))
        db.session.commit()
    answer = app.test_client().post("/api/v1/environment/redeem", json={"authorizationCode": "CODE-7Q2K-0001"},
                                    headers={"Authorization": f"Bearer {token}", "X-Request-ID": "env-probe-1"})
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "code_expired"
    assert len(responses.calls) == 1
