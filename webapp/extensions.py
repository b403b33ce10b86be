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


limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)
