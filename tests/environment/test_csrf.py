"""The environment's forms with CSRF protection on (the test config turns it off elsewhere)."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_forms_need_the_token_and_the_api_does_not(client, auth, api_token, keys, clock):
    from tests.conftest import PASSWORD

    auth._make_user("operator@example.com", "operator", PASSWORD)
    client.post("/login", data={"email": "operator@example.com", "password": PASSWORD,
                                "csrf_token": _token(client.get("/login").get_data(as_text=True))})
    page = client.get("/settings").get_data(as_text=True)
    token = _token(page)
    key = keys.make(seq=1)
    assert client.post("/settings/license", data={"product_key": key}).status_code == 400
    refresh = client.post("/settings/license", data={"product_key": key}, headers={"HX-Request": "true"})
    assert refresh.status_code == 204 and refresh.headers["HX-Refresh"] == "true"
    # htmx sends the token in a header (hx-headers on <body>); plain forms in a hidden field
    ok = client.post("/settings/license", data={"product_key": key},
                     headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ok.status_code == 200 and "license-changed" in ok.headers["HX-Trigger"]
    assert client.post("/instances", data={"name": "a", "aku": "1", "csrf_token": token}).status_code == 303
    # the JSON API uses bearer tokens only, so it needs no CSRF token
    response = client.post("/api/v1/instances", json={"name": "b", "aku": 1}, headers=api_token("operator"))
    assert response.status_code == 201


def test_blank_key_is_refused_but_not_recorded(client, auth, keys, clock, app):
    app.config["WTF_CSRF_ENABLED"] = False
    auth.login("operator")
    response = client.post("/settings/license/preview", data={"product_key": "  "}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "The product key is empty." in response.get_data(as_text=True)
    assert "No product key has been applied yet" in client.get("/settings").get_data(as_text=True)
