"""`LicensePlatform`: the Flask extension, and `create_app`, the standalone app factory.

    platform = LicensePlatform()
    platform.init_app(app, login_check=host_login_check, current_actor=host_actor)

State lives in `app.extensions["license_platform"]` (a `PlatformState`), never on the
extension object, so one extension object serves any number of apps.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, has_request_context, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from . import errors, instance_secrets, timefmt
from .extensions import csrf, db, limiter, login_manager, migrate

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
EXTENSION_KEY = "license_platform"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass
class NavItem:
    endpoint: str
    label: str
    roles: tuple[str, ...]


@dataclass
class PlatformState:
    """Per-app state of the extension: the role, the host's hooks, what the sides registered."""

    role: str
    demo: bool
    login_check: Callable[[], bool] | None = None
    current_actor: Callable[[], str] | None = None
    nav: list[NavItem] = field(default_factory=list)
    # Where the banners come from: `(side, callable)` pairs (`add_banner_provider`), each callable
    # returning a list of `Banner`s for the current request.
    banner_providers: list[tuple[str | None, Callable[[], list]]] = field(default_factory=list)
    # The side ("vendor", "environment") whose pages each blueprint serves. A side's banners show
    # on every page but the other side's; blueprints not named here (the core's, the accounts', a
    # host console's own) show every side's.
    page_sides: dict[str, str] = field(default_factory=dict)
    # Endpoints of the fragments every page shares and htmx fetches again (the banners, the
    # badge): they answer for the page that asked for them.
    shared_fragments: set[str] = field(default_factory=set)
    # A callable returning a `Badge` for the header, or None (`set_badge_provider`), and the side
    # whose badge it is: shown on every page but the other side's, as the banners.
    badge_provider: Callable[[], object] | None = None
    badge_side: str | None = None
    # Where `/` sends each role (the sides fill it in: operator -> Settings, issuer -> issuing).
    homes: dict[str, str] = field(default_factory=dict)
    # Objects the sides share in role "both" (e.g. the vendor's redemption interface).
    services: dict[str, object] = field(default_factory=dict)
    # Made by the `flask` command line to run a command, not to serve (`cli.running_a_command`):
    # the start-up notes and the signing-key check are left to the commands they concern.
    for_command: bool = False

    @property
    def vendor(self) -> bool:
        return self.role in ("vendor", "both")

    @property
    def environment(self) -> bool:
        return self.role in ("environment", "both")

    def add_nav(self, endpoint: str, label: str, *roles: str) -> None:
        self.nav.append(NavItem(endpoint, label, roles))

    def add_banner_provider(self, provider: Callable[[], list], *, side: str | None = None) -> None:
        """Banners of `side` show on every page but those of the other side (`page_sides`);
        `side=None`: on every page."""
        self.banner_providers.append((side, provider))

    def set_badge_provider(self, provider: Callable[[], object], *, side: str | None = None) -> None:
        """The header's badge comes from `provider`; a badge of `side` shows on every page but
        those of the other side (`page_sides`), as that side's banners do; `side=None`: on every page."""
        self.badge_provider = provider
        self.badge_side = side

    def page_side(self) -> str | None:
        """Which side's page the current request shows (None: a page of neither, or no request).

        A shared fragment fetched again by htmx answers for the page it sits on, which htmx
        names in the `HX-Current-URL` header; without htmx the fragment is part of the page.
        """
        if not has_request_context():
            return None
        if request.endpoint not in self.shared_fragments:
            return self.page_sides.get(request.blueprint or "")
        path = self.page_path()
        if path is None:
            return None
        root = request.script_root
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root):] or "/"
        try:
            endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(path, method="GET")
        except HTTPException:  # not a page of this app (a host's, or gone), or a redirect
            return None
        return self.page_sides.get(endpoint.rpartition(".")[0])

    def page_path(self) -> str | None:
        """The path (as `url_for` writes it) of the page the current request shows: its own, or
        for a shared fragment fetched again by htmx, the page's (`HX-Current-URL`); None when
        not known."""
        if not has_request_context():
            return None
        if request.endpoint not in self.shared_fragments:
            return request.script_root + request.path
        url = request.headers.get("HX-Current-URL")
        return urlsplit(url).path if url else None

    def banners(self) -> list:
        """The banners of the current page, from every provider whose side it may show."""
        page = self.page_side()
        found: list = []
        for side, provider in self.banner_providers:
            if side is None or page is None or side == page:
                found.extend(provider() or [])
        return found

    def badge(self):
        """The header's badge for the current page, or None (none registered, or the other side's page)."""
        if self.badge_provider is None:
            return None
        page = self.page_side()
        if self.badge_side is not None and page is not None and page != self.badge_side:
            return None
        return self.badge_provider()

    def host_lets_in(self) -> bool:
        """Whether the host console's `login_check` admits the current visitor.

        Asked once per request (the nav, badge and banners all need it); a response answered
        by the check (a redirect to the host's login) counts as no.
        """
        if self.login_check is None:
            return False
        if "license_host_lets_in" not in g:
            verdict = self.login_check()
            g.license_host_lets_in = bool(verdict) and not isinstance(verdict, Response)
        return g.license_host_lets_in

    def actor_name(self) -> str:
        if self.current_actor is not None:
            return str(self.current_actor())
        from .auth import actor_name

        return actor_name()


@dataclass(frozen=True)
class Banner:
    level: str  # info | warning | danger
    title: str
    text: str
    link_url: str | None = None
    link_text: str | None = None


@dataclass(frozen=True)
class Badge:
    level: str
    text: str
    title: str = ""


def _defaults(app: Flask) -> None:
    c = app.config
    c.setdefault("LICENSE_ROLE", "environment")
    c.setdefault("LICENSE_EXPIRING_DAYS", 7)
    c.setdefault("LICENSE_TRIAL_DAYS", 14)
    c.setdefault("LICENSE_TRIAL_AKU", 14)
    c.setdefault("LICENSE_PRODUCT_NAME", config_module.DEFAULT_PRODUCT_NAME)
    c.setdefault("LICENSE_VENDOR_NAME", config_module.DEFAULT_VENDOR_NAME)
    c.setdefault("LICENSE_PURCHASE_URL", None)
    c.setdefault("LICENSE_SUPPORT_URL", None)
    c.setdefault("LICENSE_PUBLIC_KEYS", None)
    c.setdefault("LICENSE_ALLOW_DEV_KEYS", False)
    c.setdefault("LICENSE_VENDOR_URL", None)
    c.setdefault("LICENSE_REQUIRE_SIGNING_KEY", False)
    c.setdefault("LICENSE_LOGIN_RATE_LIMIT", "10 per minute;100 per hour")
    c.setdefault("LICENSE_SECURITY_HEADERS", True)
    c.setdefault("MARKETPLACE_ENDPOINT", "https://market.aliyuncs.com")
    c.setdefault("MARKETPLACE_SIGNATURE_VERSION", "v1")
    c.setdefault("MARKETPLACE_TIMEZONE", "Asia/Shanghai")
    c.setdefault("MARKETPLACE_ACTIVATE", "required")
    c.setdefault("MARKETPLACE_PRODUCT_CODE", None)
    c.setdefault("MARKETPLACE_SPECS", None)
    c.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    c.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    c.setdefault("TRUSTED_PROXIES", 0)
    # Flask ships these keys set to None, so setdefault would not apply.
    if c.get("MAX_CONTENT_LENGTH") is None:
        c["MAX_CONTENT_LENGTH"] = 256 * 1024
    if c.get("SESSION_COOKIE_SAMESITE") is None:
        c["SESSION_COOKIE_SAMESITE"] = "Lax"
    c.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session, so long forms don't fail
    c.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})


class LicensePlatform:
    def __init__(self, app: Flask | None = None, **kwargs) -> None:
        if app is not None:
            self.init_app(app, **kwargs)

    def init_app(
        self,
        app: Flask,
        *,
        login_check: Callable[[], bool] | None = None,
        current_actor: Callable[[], str] | None = None,
    ) -> PlatformState:
        _defaults(app)
        role = app.config["LICENSE_ROLE"]
        if role not in config_module.ROLES:
            raise RuntimeError(f"LICENSE_ROLE must be one of {', '.join(config_module.ROLES)}, not {role!r}")

        instance_path = app.config.get("LICENSE_INSTANCE_PATH") or app.instance_path
        app.config["LICENSE_INSTANCE_PATH"] = instance_path
        demo = not app.config.get("SECRET_KEY")
        if demo:
            for key, value in instance_secrets.load_or_create(instance_path).items():
                if not app.config.get(key):
                    app.config[key] = value
        if not app.config.get("LICENSE_DATA_KEY"):
            raise RuntimeError(
                "LICENSE_DATA_KEY is not set: it encrypts stored authorization codes; "
                "set it to a long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if role in ("vendor", "both") and not app.config.get("LICENSE_SIGNING_KEY_PASSPHRASE"):
            raise RuntimeError(
                "LICENSE_SIGNING_KEY_PASSPHRASE is not set: it encrypts the signing keys at rest"
            )
        if not app.config.get("SQLALCHEMY_DATABASE_URI"):
            Path(instance_path).mkdir(parents=True, exist_ok=True)
            app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "license.db")
        _sqlite_engine_options(app)

        from . import cli

        state = PlatformState(role=role, demo=demo, login_check=login_check, current_actor=current_actor,
                              for_command=cli.running_a_command())
        app.extensions[EXTENSION_KEY] = state

        from . import models  # noqa: F401  (every table registered before Migrate sees them)

        db.init_app(app)
        migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
        csrf.init_app(app)
        login_manager.init_app(app)
        login_manager.login_view = "accounts.login"
        login_manager.login_message = "Please log in to see this page."
        login_manager.login_message_category = "info"
        app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"]
        limiter.init_app(app)
        if app.config.get("TRUSTED_PROXIES"):
            n = int(app.config["TRUSTED_PROXIES"])
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

        ui = Blueprint(
            "license_ui",
            __name__,
            template_folder=str(TEMPLATES_DIR),
            static_folder=str(PACKAGE_DIR / "static"),
            static_url_path="/_license/static",
        )
        app.register_blueprint(ui)
        errors.init_app(app)
        _security_headers(app)
        _template_context(app, state)
        timefmt.init_app(app)

        from . import accounts, core

        accounts.init_app(app, state)
        core.init_app(app, state)
        if state.environment:
            from . import environment

            environment.init_app(app, state)
        if state.vendor:
            from . import vendor

            vendor.init_app(app, state)
        cli.init_app(app)

        _start_up_checks(app, state)
        return state


def _start_up_checks(app: Flask, state: PlatformState) -> None:
    """What the app says, and makes, as it starts to serve (`flask run`, gunicorn, a host).

    A command of the `flask` command line (`state.for_command`) says only what it means to say:
    the note on role `both` is for whoever starts the server; the warning of an environment
    that trusts no vendor key comes from the commands it concerns (`license status`,
    `license verify`); and the vendor's signing-key check (a `dev-` key made with a warning, or a
    refusal with `LICENSE_REQUIRE_SIGNING_KEY=1`) runs in the commands that sign (`license
    issue`, `license reconcile --issue`), so that `license keygen` on a fresh database makes the
    production key and nothing else.
    """
    if state.for_command:
        return
    if state.role == "both":
        print(
            "note: LICENSE_ROLE=both runs the vendor and environment sides in one process: "
            "for the demo and development only.",
            file=sys.stderr,
        )
    from .trust import untrusting_warning

    warning = untrusting_warning(app)
    if warning:
        print(warning, file=sys.stderr)
    if state.vendor and not app.config.get("LICENSE_SKIP_SIGNING_KEY_CHECK"):
        from .signing_keys import ensure_active_key

        ensure_active_key(app)


def _sqlite_engine_options(app: Flask) -> None:
    """SQLite: wait for the write lock instead of failing at once under concurrent writers."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", 30)
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _security_headers(app: Flask) -> None:
    @app.after_request
    def add_headers(response):
        if not app.config.get("LICENSE_SECURITY_HEADERS"):
            return response
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _template_context(app: Flask, state: PlatformState) -> None:
    @app.context_processor
    def inject():
        from flask_login import current_user

        def signed_in() -> bool:
            return current_user.is_authenticated or state.host_lets_in()

        def visible_nav():
            if current_user.is_authenticated:
                return [item for item in state.nav if current_user.has_role(*item.roles)]
            if state.host_lets_in():  # the host's operators see the environment's pages
                return [item for item in state.nav if "operator" in item.roles]
            return []

        def banners():
            return state.banners()

        def badge():
            return state.badge()

        return {
            "license_state": state,
            "license_nav": visible_nav,
            "license_signed_in": signed_in,
            "license_banners": banners,
            "license_page_path": state.page_path,
            "license_badge": badge,
            "product_name": app.config["LICENSE_PRODUCT_NAME"],
            "vendor_name": app.config["LICENSE_VENDOR_NAME"],
        }


platform = LicensePlatform()


def init_app(app: Flask, **kwargs) -> PlatformState:
    return platform.init_app(app, **kwargs)


def create_app(test_config: dict | None = None, *, role: str | None = None) -> Flask:
    """The standalone app: both sides unless `LICENSE_ROLE` says otherwise."""
    app = Flask("webapp", instance_path=os.environ.get("LICENSE_INSTANCE_PATH") or None,
                instance_relative_config=True)
    if test_config is None:
        app.config.update(config_module.Config().as_dict())
    else:
        app.config.update(test_config)
    if role:
        app.config.setdefault("LICENSE_ROLE", role)
    init_app(app)
    if app.extensions[EXTENSION_KEY].demo and not app.testing:
        from .demo import prepare_demo

        prepare_demo(app)
    return app
