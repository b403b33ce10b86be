"""The home route and the fragments every page shares (header badge, banners).

The blueprint is made for each app: in a host console (`login_check` given) it has the
fragments only, the host keeping `/`, `/healthz` and `/readyz` (it can call
`webapp.health.readiness(app)`; the routes are `webapp.health`'s).
"""
from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from . import health, i18n, inputs


def index():
    """Send each person where their work is: operators to Settings, staff to issuing."""
    state = current_app.extensions["license_platform"]
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    endpoint = state.homes.get(current_user.role)
    if endpoint:
        return redirect(url_for(endpoint))
    return render_template("license/core/home.html")


def banners():
    """The banners again (htmx, on `license-changed`), for the page named by `HX-Current-URL`."""
    response = make_response(render_template("license/core/_banners.html"))
    response.vary.add("HX-Current-URL")
    return response


def badge():
    """The header badge again (htmx, on `license-changed`), for the page named by `HX-Current-URL`."""
    response = make_response(render_template("license/core/_badge.html"))
    response.vary.add("HX-Current-URL")
    return response


def set_locale():
    """The header's language switch: remember the choice (a cookie) and go back to the page."""
    chosen = i18n.normalize(request.form.get("locale"))
    back = inputs.same_site_path(request.form.get("next")) or current_app.extensions["license_platform"].home_url()
    response = redirect(back, code=303)
    if chosen is not None:
        response.set_cookie(i18n.COOKIE, chosen, max_age=i18n.COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def init_app(app, state) -> None:
    bp = Blueprint("core", __name__)
    if not state.hosted:
        bp.add_url_rule("/", view_func=index)
        bp.add_url_rule("/healthz", view_func=health.healthz)
        bp.add_url_rule("/readyz", view_func=health.readyz)
    bp.add_url_rule("/_license/banners", view_func=banners)
    bp.add_url_rule("/_license/badge", view_func=badge)
    bp.add_url_rule("/_license/locale", view_func=set_locale, methods=["POST"])
    state.register_blueprint(app, bp)
    state.shared_fragments.update({"core.banners", "core.badge"})
