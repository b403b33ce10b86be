"""Sessions over HTTPS, and sessions that end on the server.

Outside the demo the standalone app's cookies are `Secure` (sent over HTTPS only), `HttpOnly`
and `SameSite=Lax`, and the plugin's answers carry HSTS (`Strict-Transport-Security`), so a
browser that has seen the site over HTTPS never talks to it in plain HTTP again. For plain-HTTP
development outside the demo, `LICENSE_INSECURE_HTTP=1` turns both off (the demo, `make run`,
is plain HTTP on loopback and never sets them). Mounted in a host console the cookies are the
host's to configure; HSTS goes on the plugin's own answers.

Logging out or changing one's password ends the session on the server, not only in the browser
that asked: the session holds the user's session generation (`User.get_id()`, "id:generation"),
the user loader (`auth`) refuses a session of an older generation, and `end_sessions` moves the
generation on. A session cookie copied before a logout is refused after it, and so is every
other session of that account (another browser, a stolen cookie).
"""
from __future__ import annotations

from flask import Flask, current_app

HSTS = "max-age=31536000; includeSubDomains"


def secure_transport(app: Flask, state) -> bool:
    """Whether this deployment is served over HTTPS: outside the demo, unless
    `LICENSE_INSECURE_HTTP` says it is plain-HTTP development."""
    return not state.demo and not app.config.get("LICENSE_INSECURE_HTTP")


def cookie_settings(secure: bool) -> dict:
    """The standalone app's session and remember-me cookie flags."""
    return {
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }


def add_hsts(response):
    if current_app.config.get("LICENSE_SECURITY_HEADERS", True):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask, state) -> None:
    from . import production

    secure = secure_transport(app, state)
    if not state.hosted:
        app.config.update(cookie_settings(secure))
    if secure:
        production.after_request(app, state, add_hsts)
