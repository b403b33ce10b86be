"""The example host console with the plugin mounted as README.md's "Embedding" section says:
the host's pages, 404s, headers, login and database stay the host's; the plugin's pages live
under /license, in the host's layout, for the host's users; its tables sit next to the host's."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from examples.host_console.models import KafkaCluster, db
from examples.host_console.views import CONSOLE_CSP
from webapp.license_platform import CSP

from .conftest import EMAIL


def test_the_hosts_pages_404s_and_headers_stay_the_hosts(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and b'id="console-not-found"' in response.data
    assert response.headers["Content-Security-Policy"] == CONSOLE_CSP
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    login = client.get("/login")
    assert login.status_code == 200 and b"Sign in to the console" in login.data
    assert login.headers["Content-Security-Policy"] == CONSOLE_CSP
    assert client.get("/healthz").get_json() == {"console": "ok"}
    assert client.get("/").headers["Location"] == "/clusters"
    # nothing of the plugin outside its prefix
    for path in ("/settings", "/instances", "/api/v1/environment", "/_license/badge", "/logout"):
        assert client.get(path).status_code in (404, 405), path


def test_the_plugins_pages_ask_the_hosts_login(client):
    response = client.get("/license/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/license/settings"


def test_settings_renders_in_the_hosts_layout_under_the_prefix(signed_in):
    response = signed_in.get("/license/settings")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="console-header"' in html and "<title>Settings · Kafka Console</title>" in html
    assert EMAIL in html  # the host's own header, with its user
    assert 'id="license-card"' in html and 'id="install-id"' in html
    # the plugin's assets in the layout's head, under the prefix
    assert 'href="/license/_license/static/app.css"' in html
    assert 'src="/license/_license/static/htmx-2.0.11.min.js"' in html
    assert '<meta name="csrf-token"' in html
    assert signed_in.get("/license/_license/static/app.css").status_code == 200
    # the plugin's own headers on its own pages
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert signed_in.get("/license/_license/badge").status_code == 200
    assert signed_in.get("/license/").headers["Location"] == "/license/settings"


def test_the_plugins_errors_answer_under_its_prefix(signed_in):
    response = signed_in.get("/license/no-such-page")
    assert response.status_code == 404 and b"Page not found" in response.data
    assert b'class="console-header"' in response.data  # in the host's layout
    assert response.headers["Content-Security-Policy"] == CSP
    assert signed_in.delete("/license/settings").status_code == 405
    api = signed_in.get("/license/api/v1/no-such-call")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    unauthorized = signed_in.get("/license/api/v1/environment")  # bearer tokens only, never the session
    assert unauthorized.status_code == 401 and unauthorized.get_json()["error"]["code"] == "unauthorized"


def test_the_plugins_api_under_the_prefix_with_a_bearer_token(app, client):
    from webapp.auth import create_token, create_user

    with app.app_context():
        token = create_token(create_user("robot@console.example", "robot password 1", "operator"))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.get("/license/api/v1/environment", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["license"]["status"] == "trial"
    too_big = client.post("/license/api/v1/environment/license", data=b"x" * (300 * 1024),
                          content_type="application/json", headers=headers)
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "payload_too_large"


def test_the_api_acts_as_its_tokens_account_not_as_the_hosts_user(app, client, keys):
    """An API call carries no session of the host's: what it does is recorded under the plugin
    account of its bearer token (the walk of test_host_access.py found a 500: the host's
    `current_actor` asked for the e-mail of an anonymous console user)."""
    from webapp.auth import create_token, create_user
    from webapp.environment.models import Activation

    with app.app_context():
        token = create_token(create_user("robot@console.example", "robot password 1", "operator"))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post("/license/api/v1/environment/license", json={"productKey": "no key"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "malformed_key"
    applied = client.post("/license/api/v1/environment/license", json={"productKey": keys.make(seq=1)},
                          headers=headers)
    assert applied.status_code == 200
    redeem = client.post("/license/api/v1/environment/redeem", json={"authorizationCode": ""}, headers=headers)
    assert redeem.status_code == 422
    with app.app_context():
        assert [row.actor for row in db.session.scalars(db.select(Activation))] == ["robot@console.example"] * 2


def test_the_hosts_app_wide_settings_stay_the_hosts(app):
    assert app.config["MAX_CONTENT_LENGTH"] is None and app.config["SESSION_COOKIE_SAMESITE"] is None


def test_creating_a_cluster_is_gated_by_the_license(signed_in, keys, app):
    assert signed_in.post("/clusters", data={"name": "orders", "aku": "10"}).status_code == 303
    refused = signed_in.post("/clusters", data={"name": "payments", "aku": "6"})
    assert refused.status_code == 409
    assert "only 4 of the 14 AKU licensed are free" in refused.get_data(as_text=True)
    activated = signed_in.post("/license/settings/license", data={"product_key": keys.make(seq=1, aku=40)})
    assert activated.status_code == 303
    assert signed_in.post("/clusters", data={"name": "payments", "aku": "6"}).status_code == 303
    page = signed_in.get("/clusters").get_data(as_text=True)
    assert "License: active · 16 of 40 AKU in use" in page
    with app.app_context():
        assert [c.name for c in db.session.scalars(db.select(KafkaCluster))] == ["orders", "payments"]
        from webapp.environment import activation

        assert activation.history()[0].actor == EMAIL  # recorded under the host's user
    app.config["LICENSE_CLOCK"].advance(days=31)
    expired = signed_in.post("/clusters", data={"name": "late", "aku": "1"})
    assert expired.status_code == 409 and "keep running" in expired.get_data(as_text=True)


def test_the_plugins_tables_sit_next_to_the_hosts_out_of_its_alembic_history(app):
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"console_users", "kafka_clusters"} <= tables  # the host's
        assert {"license_environment_state", "license_environment_instances", "license_audit_events", "license_alembic_version"} <= tables
        assert "alembic_version" not in tables  # the host's own history is the host's
        include_name = app.extensions["migrate"].configure_args["include_name"]
        with db.engine.connect() as connection:
            # the host's autogenerate: nothing to add or drop, the plugin's tables left out
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            assert compare_metadata(context, db.metadata) == []
            # (without the filter it would drop them)
            unfiltered = compare_metadata(MigrationContext.configure(connection), db.metadata)
            assert ("remove_table", "license_environment_state") in {(d[0], d[1].name) for d in unfiltered if d[0] == "remove_table"}


def test_flask_license_db_upgrade_migrates_the_plugins_tables(app):
    result = app.test_cli_runner().invoke(args=["license", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from sqlalchemy import text

        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM license_alembic_version")).scalar() == 1


@pytest.mark.parametrize("console_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_hosts_csrf_protects_the_plugins_forms(signed_in_with_csrf):
    client, token = signed_in_with_csrf
    assert client.post("/license/settings/license", data={"product_key": "x"}).status_code == 400
    answered = client.post("/license/settings/license", data={"product_key": "x", "csrf_token": token})
    assert answered.status_code != 400
    htmx = client.post("/license/settings/license", data={"product_key": "x"},
                       headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert htmx.status_code != 400


@pytest.fixture
def signed_in_with_csrf(client):
    import re

    from .conftest import PASSWORD

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}).status_code == 303
    return client, token


@pytest.mark.parametrize("console_config", [{"WTF_CSRF_ENABLED": False, "CONSOLE_RATE_LIMIT": "3 per minute"}])
def test_the_hosts_limiter_limits_the_plugins_routes_and_the_plugin_adds_none(app, client):
    from webapp.extensions import limiter

    assert limiter not in app.extensions["limiter"] and len(app.extensions["limiter"]) == 1
    answers = [client.get("/license/api/v1/environment") for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[-1].get_json()["error"]["code"] == "rate_limited" and answers[-1].headers["Retry-After"]


def test_the_plugins_input_rules_apply_to_its_routes_only(signed_in, app):
    """Issue 11: the plugin refuses control characters on its own routes (400, its JSON under its
    API); the host's routes read what they are sent as the host decides; the example's cluster
    form reads AKU by the plugin's rule for whole numbers."""
    response = signed_in.get("/license/instances", query_string={"x": "a\x00"})
    assert response.status_code == 400 and "control character" in response.get_data(as_text=True)
    response = signed_in.get("/clusters", query_string={"x": "a\x00"})
    assert response.status_code == 200
    for aku in ("²", "１", "1" * 5000):
        response = signed_in.post("/clusters", data={"name": "kafka-1", "aku": aku})
        assert response.status_code == 422 and "AKU must be a whole number" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(db.select(KafkaCluster)).all() == []
