"""CSRF on: every form and every htmx request needs the token; the API (bearer) does not."""
import re

import pytest

from .conftest import PASSWORD


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_login_form_without_token_is_refused(client, make_user):
    make_user("a@example.com", "issuer")
    response = client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
    assert response.status_code in (400, 422)
    assert client.get("/").status_code == 302  # not logged in


def test_login_form_with_token_works(client, make_user):
    make_user("a@example.com", "issuer")
    token = _token(client)
    response = client.post("/login", data={"email": "a@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def test_logout_without_token_is_refused_with_a_page(client, make_user):
    make_user("a@example.com", "issuer")
    client.post("/login", data={"email": "a@example.com", "password": PASSWORD, "csrf_token": _token(client)})
    response = client.post("/logout")
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_htmx_request_without_token_is_told_to_refresh(client):
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Refresh"] == "true"


def test_htmx_header_token_is_accepted(client, make_user):
    make_user("a@example.com", "issuer")
    token = _token(client)
    client.post("/login", data={"email": "a@example.com", "password": PASSWORD, "csrf_token": token})
    page = client.get("/login?x=1", follow_redirects=True).get_data(as_text=True)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": header_token})
    assert response.status_code == 303


def test_every_page_carries_the_htmx_csrf_header(client):
    html = client.get("/login").get_data(as_text=True)
    assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'>', html)


def test_api_is_not_subject_to_csrf(client):
    response = client.post("/api/v1/does-not-exist", json={})
    # Not a CSRF refusal: the API answers with its own 404 document.
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
