"""The environment side mounted in a host console: the host's login check and actor, the Python API."""
from __future__ import annotations

import pytest
from flask import Flask, g, redirect, request

from tests.environment.conftest import VENDOR_PUBLIC_KEYS, Clock, Keys
from webapp.config import TestConfig
from webapp.environment import (
    CapacityError,
    InsufficientAku,
    LicenseExpired,
    check_capacity,
    current_license,
    requires_capacity,
)
from webapp.license_platform import LicensePlatform
from webapp.database import db


class Host:
    verdict: object = True


@pytest.fixture
def host(tmp_path):
    """A host console's own Flask app with the environment side mounted in it."""
    host = Host()
    app = Flask("host_console")
    app.config.update(TestConfig().__dict__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}",
        LICENSE_INSTANCE_PATH=str(tmp_path / "instance"),
        LICENSE_ROLE="environment",
        LICENSE_PUBLIC_KEYS=VENDOR_PUBLIC_KEYS,
    )
    LicensePlatform().init_app(app, login_check=lambda: host.verdict, current_actor=lambda: "alice@host.example")

    @app.post("/api/v1/clusters")
    @requires_capacity(lambda: request.get_json()["aku"])
    def create_cluster():
        return {"created": True, "status": g.environment_license.status}

    @app.post("/clusters/<int:current>/grow")
    @requires_capacity(lambda current: (int(request.form["aku"]), current))
    def grow_cluster(current):
        return "grown"

    with app.app_context():
        db.create_all()
    host.app = app
    host.clock = Clock()
    app.config["LICENSE_CLOCK"] = host.clock
    host.keys = Keys(app, host.clock)
    yield host
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_pages_honour_the_hosts_login_check(host):
    client = host.app.test_client()
    assert client.get("/settings").status_code == 200  # no account of ours needed
    host.verdict = False
    assert client.get("/settings").status_code == 403
    host.verdict = redirect("/host/login")
    response = client.get("/instances")
    assert response.status_code == 302 and response.headers["Location"] == "/host/login"


def test_host_visitors_see_the_nav_badge_and_banners(host):
    html = host.app.test_client().get("/settings").get_data(as_text=True)
    assert 'aria-label="Main"' in html and ">Settings</a>" in html and ">Instances</a>" in html
    assert 'class="badge badge-info"' in html and ">Trial<" in html
    assert "Free trial" in html  # the trial banner
    host.verdict = False
    refused = host.app.test_client().get("/settings")
    assert refused.status_code == 403 and 'class="badge' not in refused.get_data(as_text=True)


def test_with_login_check_the_plugin_takes_no_login_logout_home_or_healthz(host):
    client = host.app.test_client()
    for path in ("/", "/login", "/healthz"):
        assert client.get(path).status_code == 404, path
    assert client.post("/logout").status_code == 404
    assert "accounts" not in host.app.blueprints and not hasattr(host.app, "login_manager")


def test_actions_are_recorded_under_the_hosts_actor(host):
    client = host.app.test_client()
    response = client.post("/settings/license", data={"product_key": host.keys.make(seq=1)})
    assert response.status_code == 303
    from webapp.environment import activation
    from webapp.models.audit import AuditEvent

    with host.app.app_context():
        assert activation.history()[0].actor == "alice@host.example"
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "license_activated"))
        assert event.actor == "alice@host.example"


def test_current_license_and_check_capacity(host):
    with host.app.test_request_context():
        lic = current_license()
        assert lic.status == "trial" and lic.aku == 14 and lic.days_left == 14
        assert check_capacity(14) is not None
        with pytest.raises(InsufficientAku) as caught:
            check_capacity(15)
        assert isinstance(caught.value, CapacityError) and caught.value.code == "insufficient_aku"
        check_capacity(14, growing_from=10)
    host.clock.advance(days=15)
    with host.app.test_request_context():
        with pytest.raises(LicenseExpired) as caught:
            check_capacity(1)
        assert caught.value.code == "license_expired" and "keep running" in caught.value.message
        check_capacity(2, growing_from=5)  # shrinking is always allowed


def test_requires_capacity_decorator(host):
    client = host.app.test_client()
    response = client.post("/api/v1/clusters", json={"aku": 4})
    assert response.status_code == 200 and response.get_json() == {"created": True, "status": "trial"}
    response = client.post("/api/v1/clusters", json={"aku": 40})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "insufficient_aku"
    response = client.post("/clusters/10/grow", data={"aku": "30"})
    assert response.status_code == 409 and "only 14 of the 14 AKU licensed are free" in response.get_data(as_text=True)
    assert client.post("/clusters/10/grow", data={"aku": "12"}).get_data(as_text=True) == "grown"
    asked_for_json = client.post("/clusters/10/grow", data={"aku": "30"}, headers={"Accept": "application/json"})
    assert asked_for_json.status_code == 409 and asked_for_json.get_json()["error"]["code"] == "insufficient_aku"
    host.clock.advance(days=20)
    response = client.post("/api/v1/clusters", json={"aku": 1})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "license_expired"


@pytest.fixture
def app_config():
    return {"LICENSE_ROLE": "vendor"}


def test_role_vendor_has_no_environment_side(app, client):
    assert client.get("/settings").status_code == 404
    result = app.test_cli_runner().invoke(args=["license", "status"])
    assert result.exit_code == 2 and "environment side" in result.stderr


def test_the_plugins_handlers_headers_and_csrf_stay_on_its_own_routes(host):
    """A host without a CSRFProtect of its own: the plugin checks CSRF on its pages only; its
    CSP and error pages are not the host's."""
    app = host.app
    app.config["WTF_CSRF_ENABLED"] = True

    @app.post("/host/form")
    def host_form():
        return "host form"

    client = app.test_client()
    assert client.post("/host/form").get_data(as_text=True) == "host form"  # no CSRF of ours there
    refused = client.post("/settings/license", data={"product_key": "x"})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'self'")
    host_404 = client.get("/no-such-host-page")
    assert host_404.status_code == 404 and "Content-Security-Policy" not in host_404.headers
    assert "There is nothing at this address" not in host_404.get_data(as_text=True)  # Flask's, not ours
    assert "Content-Security-Policy" not in client.post("/host/form").headers
    assert "Content-Security-Policy" in client.get("/settings").headers


def test_a_host_with_its_own_sqlalchemy_is_told_to_pass_it(tmp_path):
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("host_with_db")
    app.config.update(TestConfig().__dict__, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
                      LICENSE_INSTANCE_PATH=str(tmp_path / "instance"), LICENSE_ROLE="environment")
    SQLAlchemy(app)
    with pytest.raises(RuntimeError, match=r"init_app\(app, db=db\)"):
        LicensePlatform().init_app(app, login_check=lambda: True)


@pytest.mark.parametrize("role", ["vendor", "both"])
def test_the_vendor_side_is_not_mounted_in_a_host_console(tmp_path, role):
    """The staff pages check the plugin's own roles on its own accounts, which a host's users do
    not have: mounting the vendor side with `login_check` is refused at start, saying what to do."""
    app = Flask("host_vendor")
    app.config.update(TestConfig().__dict__, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
                      LICENSE_INSTANCE_PATH=str(tmp_path / "instance"), LICENSE_ROLE=role)
    with pytest.raises(RuntimeError, match=f"LICENSE_ROLE={role} cannot be mounted in a host console.*"
                                           "LICENSE_ROLE=environment"):
        LicensePlatform().init_app(app, login_check=lambda: True)
