"""The Flask extensions the plugin uses, created unbound and bound in `init_app` (the
database seam is `webapp.database`)."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def client_address() -> str:
    """The client's address; `TRUSTED_PROXIES` makes ProxyFix set it from X-Forwarded-For."""
    from flask import request

    return request.remote_addr or "unknown"


# `auto_check=False`: Flask-Limiter's own hook before every request of the app cost each route
# without a limit of its own (the environment's hot paths) about a tenth of a millisecond to find
# that none applies (docs/performance.md). `check_declared_limits` asks it only for the views
# that declare a limit with `@limiter.limit`.
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True, auto_check=False)
# The mark Flask-Limiter's decorator leaves on the view it wraps, a weak proxy of the Limiter
# (functools.wraps carries it through the decorators above it).
_LIMITED_VIEW_MARK = "__wrapper-limiter-instance"


def check_declared_limits() -> None:
    """`before_request` of the app the plugin's Limiter is on: the limits of a view decorated with
    `@limiter.limit` (429 when one is reached); one dictionary look-up for every other view."""
    from flask import current_app, request

    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is not None and getattr(view, _LIMITED_VIEW_MARK, None) == limiter:
        limiter.check()
