"""Browser tests: the app on a real threaded server on loopback, driven by Playwright in
Debian's Chromium (Playwright cannot download its own browser here).

`scripts/ensure-chromium` (run by `make test`) installs Chromium when missing and root.
Without it these tests skip, except under CI=true, where they fail instead.
"""
from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


HTTP_STATUS_LINES = ("Failed to load resource", "Response Status Error Code")


@dataclass
class LiveServer:
    url: str
    app: object


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        message = f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package (make test does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh context. It depends on `live_server` so that the server is started
    before the page and stopped only after the page is closed: a test's last action may leave
    htmx's refreshes (badge, banners on `license-changed`) in flight, and a server stopped under
    them made htmx report send errors to the console, failing the test at teardown."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors other than HTTP statuses (a 422 form answer is expected; htmx reports a 5xx
    # it does not swap as "Response Status Error Code") count: CSP violations ("Refused to ...")
    # and script errors.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith(HTTP_STATUS_LINES) else None)
    yield page
    context.close()
    # A CSP violation or a script error in the page is a bug, whatever the test checked.
    assert not errors, f"browser errors: {errors}"


def login(page, live_server, role: str = "issuer", email: str | None = None,
          password: str = "correct horse battery"):
    """Create an account of `role` (if needed) and log in through the real login page."""
    from webapp.auth import create_user, find_user
    from webapp.database import db

    email = email or f"{role}@example.com"
    with live_server.app.app_context():
        if find_user(email) is None:
            create_user(email, password, role)
            db.session.commit()
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


@contextmanager
def htmx_settled(page):
    """On leaving the block, wait until an htmx swap started inside it has settled (the
    `htmx:afterSettle` event), so what the settle step does has happened: a condition, no timer."""
    page.evaluate("""() => {
      window.__htmxSettled = false;
      document.body.addEventListener("htmx:afterSettle", () => { window.__htmxSettled = true; }, {once: true});
    }""")
    yield
    page.wait_for_function("() => window.__htmxSettled === true")


@pytest.fixture(name="login")
def login_fixture():
    return login
