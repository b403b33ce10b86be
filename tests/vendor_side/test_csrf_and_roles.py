"""CSRF on the vendor's forms (on here; the rest of the suite runs with it off), the API's
exemption, and a deployment running only the vendor side."""
from __future__ import annotations

import re

import pytest

from .conftest import INSTALL

READY = "DEMO-AKU20-READY-7K3Q"


@pytest.fixture
def app_config(request):
    return dict(getattr(request, "param", {}), WTF_CSRF_ENABLED=True)


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_redeem_form_needs_the_token(app, client):
    page = client.get("/redeem").get_data(as_text=True)
    data = {"code": READY, "install_id": INSTALL}
    assert client.post("/redeem", data=data).status_code == 400
    assert client.post("/redeem", data=dict(data, csrf_token=token(page))).status_code == 200
    htmx = client.post("/redeem", data=data, headers={"HX-Request": "true", "X-CSRFToken": token(page)})
    assert htmx.status_code == 200 and "Your product key" in htmx.get_data(as_text=True)


def test_staff_forms_carry_the_token(app, client, make_user):
    from tests.conftest import PASSWORD

    make_user("i@example.com", "issuer")
    login_page = client.get("/login").get_data(as_text=True)
    login_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post("/login", data={"email": "i@example.com", "password": PASSWORD, "csrf_token": login_token})
    page = client.get("/vendor/issue").get_data(as_text=True)
    data = {"code": READY, "install_id": INSTALL}
    assert client.post("/vendor/issue/verify", data=data).status_code == 400
    html = client.post("/vendor/issue/verify", data=dict(data, csrf_token=token(page))).get_data(as_text=True)
    assert 'name="csrf_token"' in html.split('id="verification"')[1]  # the Issue form has its token


def test_the_api_needs_no_csrf_token(app, client, issuer_api):
    body = {"authorizationCode": READY, "installId": INSTALL}
    assert client.post("/api/v1/redeem", json=body).status_code == 201
    assert client.post("/api/v1/product-keys", json=body, headers=issuer_api).status_code == 200


@pytest.mark.parametrize("app_config", [{"LICENSE_ROLE": "vendor"}], indirect=True)
def test_a_vendor_only_deployment(app, client, auth, issuer_api):
    state = app.extensions["license_platform"]
    assert state.role == "vendor" and "redeem" in state.services
    body = {"authorizationCode": READY, "installId": INSTALL}
    assert client.post("/api/v1/product-keys", json=body, headers=issuer_api).status_code == 201
    assert client.get("/redeem").status_code == 200
    assert client.get("/api/v1/environment").status_code == 404


@pytest.mark.parametrize("app_config", [{"LICENSE_ROLE": "environment"}], indirect=True)
def test_an_environment_deployment_has_no_vendor_side(app, client):
    assert client.get("/redeem").status_code == 404
    assert client.post("/api/v1/redeem", json={}).status_code == 404
    assert "license_vendor" not in app.extensions
