"""Who may reach each route, declared once, beside the route: the policy that
tests/test_access.py checks every route of the URL map against.

A view declares its access with the decorator that guards it, which records an `Access` on the
view function (`access_of`):

- `auth.roles_required(*roles)`: a page of the plugin's own accounts (`PAGE`): not signed in, a
  redirect to the login page; signed in without one of `roles`, 403; `admin` holds every role;
- `auth.api_roles_required(*roles)`: `/api/v1` (`API`): a bearer token of a user holding one of
  `roles` (401 without a valid token, 403 with another role; the session cookie never counts);
- `environment.plugin.operator_page`: the environment's pages (`OPERATOR_PAGE`): as a `PAGE` of
  role operator, or in a host console the host's `login_check`.

The routes anyone may reach are listed here, in `PUBLIC`, with the reason, and nowhere else. A
route that is in neither place is undeclared, and the URL-map walk fails on it: a new route is
covered the day it is added, and whoever adds it says who may use it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

PAGE = "page"
API = "api"
OPERATOR_PAGE = "operator page"
PUBLIC_ROUTE = "public"

ATTRIBUTE = "license_access"


@dataclass(frozen=True)
class Access:
    """A route's declared access: how it is guarded (`guard`) and the roles it lets in."""

    guard: str  # PAGE, API, OPERATOR_PAGE or PUBLIC_ROUTE
    roles: tuple[str, ...] = ()
    why: str = ""  # for a public route: what it is and why anyone may reach it


# Every route that answers anyone, by endpoint, and why. Keep each one's answer free of what
# only a role may see (the badge and banners check who asks; tests/environment/test_views.py).
PUBLIC = {
    "static": "the standalone app's static files (Flask's own route to webapp/static)",
    "license_ui.static": "the plugin's CSS, JavaScript and vendored htmx",
    "license_ui.not_found": "in a host console, any other address under the plugin's prefix: its 404 "
                            "(405 for a known address and another method), or home for the prefix itself",
    "core.index": "sends each person where their work is; anyone not signed in to the login page",
    "core.healthz": "liveness for a load balancer: {\"status\": \"ok\"} and nothing else",
    "core.readyz": "readiness for a load balancer: which checks pass (database, signing or trusted keys), "
                   "in words, never a secret",
    "core.set_locale": "the header's language switch: remembers English or Chinese in a cookie and goes back "
                       "to the page (a same-site path); it reads and changes nothing else",
    "core.badge": "the header badge again (htmx); empty unless the visitor may see the license",
    "core.banners": "the banners again (htmx); empty unless the visitor may see the license",
    "accounts.login": "the login form (rate limited per client address, LICENSE_LOGIN_RATE_LIMIT)",
    "accounts.logout": "ends the visitor's session, if there is one",
    "redeem.redeem_page": "buyers turn an authorization code into a product key, without an account "
                          "(rate limited per client address and per code, VENDOR_REDEEM_*_LIMITS)",
    "vendor_api.redeem_code": "the same for buyers' scripts (POST /api/v1/redeem, the same limits)",
    "license_metrics.metrics": "Prometheus metrics with LICENSE_METRICS=1, for the internal network only; "
                               "with LICENSE_METRICS_TOKEN only for that bearer token (no account's)",
}


def declare(view, access: Access):
    """Record `access` on a view function (the guards call it; a view guarded some other way may too)."""
    setattr(view, ATTRIBUTE, access)
    return view


def access_of(app: Flask, endpoint: str) -> Access | None:
    """The declared access of an endpoint of `app`, or None when it has none."""
    view = app.view_functions.get(endpoint)
    declared = getattr(view, ATTRIBUTE, None)
    if declared is not None:
        return declared
    if endpoint in PUBLIC:
        return Access(PUBLIC_ROUTE, (), PUBLIC[endpoint])
    return None
