"""A real environment deployment (role `environment`): trust, online redemption over HTTP, the CLI."""
from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from tests.environment.conftest import VENDOR_PUBLIC_KEYS

VENDOR = "https://vendor.example.com"


@pytest.fixture
def app_config():
    return {"LICENSE_ROLE": "environment", "LICENSE_PUBLIC_KEYS": VENDOR_PUBLIC_KEYS, "LICENSE_VENDOR_URL": VENDOR}


@pytest.fixture
def op(api_token, clock):
    return api_token("operator")


def test_trusts_the_shipped_vendor_keys_and_refuses_dev_keys(app, client, op, keys):
    response = client.post("/api/v1/environment/license", json={"productKey": keys.make(vendor=True)}, headers=op)
    assert response.status_code == 200
    # a key signed by a development key (kid dev-...) is refused outside role both
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from webapp import product_key

    lic = product_key.decode(keys.make(vendor=True, seq=2))["license"]
    dev_key = product_key.sign(keys.install_id(), lic, "dev-1234", Ed25519PrivateKey.generate())
    response = client.post("/api/v1/environment/license", json={"productKey": dev_key}, headers=op)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "signature_invalid" and "development key" in error["message"]


def test_the_settings_page_says_why_a_development_key_is_refused(client, auth, keys, clock):
    auth.login("operator")
    response = client.post("/settings/license/preview", data={"product_key": keys.make(dev=True)},
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-error-code="signature_invalid"' in html
    # the message brings no headline of its own: it is shown alone, once
    assert ('role="alert" data-error-code="signature_invalid" hx-disable>This key was signed with a development key (dev-0000), '
            "which this environment does not trust.") in html


@responses.activate
def test_redeem_over_http(client, op, keys):
    install = keys.install_id()
    responses.post(
        VENDOR + "/api/v1/redeem",
        json={"productKey": keys.make(vendor=True, seq=1, aku=20), "license": {}},
        match=[matchers.json_params_matcher({"authorizationCode": "CODE-7Q2K", "installId": install})],
    )
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "CODE-7Q2K"}, headers=op)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["license"]["aku"] == 20


@responses.activate
def test_redeem_vendor_errors_over_http(client, op):
    responses.post(VENDOR + "/api/v1/redeem", status=404,
                   json={"error": {"code": "code_not_found", "message": "No such authorization code."}})
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "NOPE"}, headers=op)
    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "code_not_found", "message": "No such authorization code."}

    responses.replace(responses.POST, VENDOR + "/api/v1/redeem", body=requests.ConnectionError("down"))
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "NOPE"}, headers=op)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "vendor_unreachable"

    responses.replace(responses.POST, VENDOR + "/api/v1/redeem", status=502, body="<html>bad gateway</html>")
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "NOPE"}, headers=op)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "vendor_unreachable"


@responses.activate
def test_a_crafted_vendor_answer_is_unexpected_not_a_crash(client, op):
    """Issue 11: a Retry-After of "²" (passes str.isdigit(), fails int()) and a body nested past
    what Python parses are answers the environment reads as such, not 500s."""
    responses.post(VENDOR + "/api/v1/redeem", status=429, headers={"Retry-After": "²"},
                   json={"error": {"code": "rate_limited", "message": "Too many attempts."}})
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "CODE-7Q2K"}, headers=op)
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" not in response.headers
    responses.replace(responses.POST, VENDOR + "/api/v1/redeem", status=200, body="[" * 100_000,
                      content_type="application/json")
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "CODE-7Q2K"}, headers=op)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "vendor_unreachable"


def test_redeem_not_configured(app, client, op):
    app.config["LICENSE_VENDOR_URL"] = None
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "CODE"}, headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "redeem_not_configured"
    app.config["LICENSE_VENDOR_URL"] = "http://vendor.example.com"  # plain http off loopback
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "CODE"}, headers=op)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "redeem_not_configured"


def test_cli_status_prints_the_environment_document(app, clock):
    result = app.test_cli_runner().invoke(args=["license", "status"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # machine output only on stdout
    assert doc["license"]["status"] == "trial" and len(doc["installId"]) == 32
    assert "Install ID" in result.stderr
    again = json.loads(app.test_cli_runner().invoke(args=["license", "status"]).stdout)
    assert again["installId"] == doc["installId"]
    clock.advance(hours=3)  # the trial's first day: 14 days left for people, daysLeft 13 for scripts
    result = app.test_cli_runner().invoke(args=["license", "status"])
    assert json.loads(result.stdout)["license"]["daysLeft"] == 13
    assert "until 2026-11-15 09:00 UTC (14 days left)." in result.stderr
    clock.advance(days=14)
    assert "(expired)." in app.test_cli_runner().invoke(args=["license", "status"]).stderr


def test_an_environment_carries_none_of_the_vendor_sides_code(tmp_path):
    """Role `environment` loads no module of the vendor side beyond its table declarations (one
    migration chain makes every table): not its signing, issuing or commands. A vendor command
    still answers that it belongs to the vendor side (exit 2), not "no such command"."""
    import subprocess
    import sys

    script = """
import json, sys
from webapp import create_app
app = create_app({"TESTING": True, "LICENSE_ROLE": "environment", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                  "SECRET_KEY": "s", "LICENSE_DATA_KEY": "d" * 32, "LICENSE_PUBLIC_KEYS": {}})
from webapp.database import db
with app.app_context():
    db.create_all()
client = app.test_client()
assert client.get("/login").status_code == 200
assert client.get("/api/v1/environment").status_code == 401
runner = app.test_cli_runner()
status = runner.invoke(args=["license", "status"])
keygen = runner.invoke(args=["license", "keygen", "--kid", "x"])
issue = runner.invoke(args=["license", "issue", "--install-id", "0" * 32])
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("webapp.vendor_side")),
                  "status": status.exit_code, "keygen": [keygen.exit_code, keygen.output],
                  "issue": issue.exit_code}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["modules"] == ["webapp.vendor_side", "webapp.vendor_side.models"]
    assert seen["status"] == 0
    assert seen["keygen"][0] == 2 and "belongs to the vendor side" in seen["keygen"][1]
    assert seen["issue"] == 2
