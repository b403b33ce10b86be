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
