"""The app skeleton: pages, errors as HTML or JSON, security headers."""


def test_login_page_has_the_fields(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="email"' in html and 'id="password"' in html
    assert ">Log in</button>" in html


def test_strict_csp_and_no_inline_script(client):
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html
    assert "htmx-2.0.11.min.js" in html


def test_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_api_404_is_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "There is nothing at this address."}}


def test_html_404_is_a_page(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_htmx_vendored_file_is_served(client):
    response = client.get("/_license/static/htmx-2.0.11.min.js")
    assert response.status_code == 200
    assert b"htmx" in response.data[:2000]


import pytest
from flask import Blueprint, request

from webapp.extensions import csrf, limiter


@pytest.fixture
def api_app(app):
    bp = Blueprint("probe_api", __name__, url_prefix="/api/v1/probe")
    csrf.exempt(bp)

    @bp.route("/echo", methods=["POST"])
    def echo():
        return {"size": len(request.get_data())}

    @bp.route("/limited")
    @limiter.limit("1 per minute")
    def limited():
        return {"ok": True}

    @bp.route("/boom")
    def boom():
        raise RuntimeError("boom")

    app.register_blueprint(bp)
    return app


def test_api_405_is_json_with_allow(api_app, client):
    response = client.get("/api/v1/probe/echo")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_api_413_is_json(api_app, client):
    response = client.post("/api/v1/probe/echo", data=b"x" * (300 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_api_429_is_json_with_retry_after(api_app, client):
    assert client.get("/api/v1/probe/limited").status_code == 200
    response = client.get("/api/v1/probe/limited")
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_api_500_is_json_and_logged(api_app, caplog):
    api_app.testing = False
    api_app.config["PROPAGATE_EXCEPTIONS"] = False
    from webapp import errors

    api_app.register_error_handler(Exception, errors.handle_unexpected)
    response = api_app.test_client().get("/api/v1/probe/boom")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)
    assert any("unhandled error" in r.message for r in caplog.records)


def test_html_pages_vary_on_hx_request(client):
    assert "HX-Request" in client.get("/login").headers["Vary"]


def test_database_url_forms(monkeypatch):
    from webapp.config import Config, database_url

    assert database_url("postgres://u:p@db:5432/lic") == "postgresql+psycopg://u:p@db:5432/lic"
    assert database_url("postgresql://db/lic") == "postgresql+psycopg://db/lic"
    assert database_url("postgresql+psycopg://db/lic") == "postgresql+psycopg://db/lic"
    assert database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    monkeypatch.setenv("DATABASE_URL", "postgres://db/lic")
    assert Config().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://db/lic"


def test_start_up_notes_and_warnings_go_through_logging(capsys):
    """The notes for whoever starts the app are records of the `webapp.startup` logger (a
    deployment can filter or reroute them), written to stderr as plain lines."""
    import logging

    from webapp import create_app

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("webapp.startup")
    logger.addHandler(handler)
    try:
        create_app({"TESTING": True, "LICENSE_ROLE": "both", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        create_app({"TESTING": True, "LICENSE_ROLE": "environment", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                    "SECRET_KEY": "s", "LICENSE_DATA_KEY": "d" * 32})
    finally:
        logger.removeHandler(handler)
    said = [(r.levelname, r.getMessage()) for r in records]
    assert ("INFO", "LICENSE_ROLE=both runs the vendor and environment sides in one process: "
                    "for the demo and development only.") in said
    assert any(level == "WARNING" and message.startswith("LICENSE_PUBLIC_KEYS is not set") for level, message in said)
    err = capsys.readouterr().err
    assert "note: LICENSE_ROLE=both runs" in err and "warning: LICENSE_PUBLIC_KEYS is not set" in err
