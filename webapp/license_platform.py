"""`LicensePlatform`: the Flask extension, and `create_app`, the standalone app factory.

    platform = LicensePlatform()
    platform.init_app(app, login_check=host_login_check, current_actor=host_actor)

In a host console (the host's own Flask-SQLAlchemy, its own login; README.md, "Embedding")::

    LicensePlatform().init_app(app, db=db, url_prefix="/license",
                               login_check=lambda: current_user.is_authenticated,
                               current_actor=lambda: current_user.email)

`db`: the plugin's tables live in the host's database, queried through the host's session
(without it the plugin keeps its own, `database.own_db`). `url_prefix`: every route of the
plugin under it. With `login_check` the plugin takes no `/`, login, logout or `/healthz`, and
its error handlers, security headers, CSRF check, input check (`inputs.refuse_control_characters`)
and template context apply to its own blueprints only (`_hook_own_blueprints`).

State lives in `app.extensions["license_platform"]` (a `PlatformState`), never on the
extension object, so one extension object serves any number of apps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, has_request_context, redirect, request, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, default_exceptions
from werkzeug.wrappers import Response
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .config import Role
from . import errors, i18n, inputs, settings, startup_log, template_names, timefmt
from .database import Base, own_db
from .extensions import check_declared_limits, csrf, limiter, login_manager, migrate
from .models.accounts import AccountRole

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
EXTENSION_KEY = "license_platform"
# Alembic's version table of the plugin's tables in a host's database (`flask license db
# upgrade`), so that the host's own Alembic history never sees them.
HOST_VERSION_TABLE = "license_alembic_version"

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

    role: Role
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
    # The Flask-SQLAlchemy instance whose session and engine the plugin uses (`extensions.db`):
    # the host's (`init_app(db=...)`) or the plugin's own.
    db: object = None
    # Where every route of the plugin lives ("" or e.g. "/license"), and the names of the
    # blueprints it registered (`register_blueprint`), its handlers and hooks scoped to them.
    url_prefix: str = ""
    blueprints: list[str] = field(default_factory=list)

    @property
    def hosted(self) -> bool:
        """Mounted in a host console that guards the pages itself (`login_check` given)."""
        return self.login_check is not None

    @property
    def own_database(self) -> bool:
        return self.db is own_db

    @property
    def api_prefix(self) -> str:
        return self.url_prefix + "/api/v1"

    @property
    def version_table(self) -> str:
        """Alembic's version table of the plugin's tables: the standalone app's `alembic_version`
        (`flask db upgrade` and `flask license db upgrade` agree), its own in a host's database."""
        return "alembic_version" if self.own_database else HOST_VERSION_TABLE

    def register_blueprint(self, app: Flask, bp: Blueprint) -> None:
        """Register one of the plugin's blueprints under `url_prefix`."""
        prefix = self.url_prefix + (bp.url_prefix or "")
        app.register_blueprint(bp, url_prefix=prefix or None)
        self.blueprints.append(bp.name)

    def home_url(self) -> str:
        """Where the header's brand and the 404 page send people: `/` standalone, the
        environment's Settings (or the first page of the nav) in a host console."""
        if "core.index" in current_app.view_functions:
            return url_for("core.index")
        for endpoint in (self.homes.get(AccountRole.OPERATOR), *(item.endpoint for item in self.nav)):
            if endpoint:
                return url_for(endpoint)
        return request.script_root + "/"

    @property
    def vendor(self) -> bool:
        return self.role.vendor

    @property
    def environment(self) -> bool:
        return self.role.environment

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
        """Who acts: a bearer token's account on the plugin's `/api/v1` (which no host session
        reaches), else the host's `current_actor`, else the signed-in account."""
        from .auth import actor_name

        if self.current_actor is not None and g.get("api_user") is None:
            return str(self.current_actor())
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
        db=None,
        url_prefix: str = "",
        locale_selector: Callable[[], str | None] | None = None,
    ) -> PlatformState:
        """Mount the plugin on `app`.

        `login_check`, `current_actor`: a host console's guard of the environment's pages and the
        name its actions are recorded under. `db`: a host's Flask-SQLAlchemy instance, whose
        database holds the plugin's tables (`flask license db upgrade`); without it the plugin
        keeps its own. `url_prefix`: every page, fragment, static file and `/api/v1` route of the
        plugin under it (e.g. "/license"). `locale_selector`: a host console's choice of language
        (`en` or `zh_Hans_CN`) for each request, when the host has no Flask-Babel of its own (with one,
        the host's selector decides); without it the plugin's own (the header's switch, then
        `Accept-Language`, then LICENSE_DEFAULT_LOCALE).
        """
        url_prefix = (url_prefix or "").rstrip("/")
        if url_prefix and not url_prefix.startswith("/"):
            raise ValueError(f"url_prefix must start with '/', not {url_prefix!r}")
        # The demo: no SECRET_KEY (its secrets are then generated into the instance folder).
        demo = not app.config.get("SECRET_KEY")
        settings.apply_defaults(app, hosted=login_check is not None, own_database=db is None, demo=demo)
        role = app.config["LICENSE_ROLE"]
        if role not in config_module.ROLES:
            raise RuntimeError(f"LICENSE_ROLE must be one of {', '.join(config_module.ROLES)}, not {role!r}")
        role = Role(role)
        if login_check is not None and role.vendor:
            # The staff pages check the plugin's own roles (issuer, admin) on the plugin's own
            # accounts; a host's users hold neither.
            raise RuntimeError(
                f"LICENSE_ROLE={role} cannot be mounted in a host console (login_check given): the "
                "vendor side runs as its own app, with its staff accounts and roles (README, 'Running "
                "the vendor side'). Mount the plugin in a host console with LICENSE_ROLE=environment."
            )

        if not app.config["LICENSE_DATA_KEY"]:
            raise RuntimeError(
                "LICENSE_DATA_KEY is not set: it encrypts stored authorization codes; "
                "set it to a long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if role.vendor and not app.config["LICENSE_SIGNING_KEY_PASSPHRASE"]:
            raise RuntimeError(
                "LICENSE_SIGNING_KEY_PASSPHRASE is not set: it encrypts the signing keys at rest"
            )
        if db is None:
            _sqlite_engine_options(app)

        from . import cli

        state = PlatformState(role=role, demo=demo, login_check=login_check, current_actor=current_actor,
                              for_command=cli.running_a_command(), db=db if db is not None else own_db, url_prefix=url_prefix)
        app.extensions[EXTENSION_KEY] = state

        from .models import register_all

        register_all()  # every table registered before Migrate sees them

        if state.own_database:
            if "sqlalchemy" in app.extensions:
                raise RuntimeError(
                    "this app has its own Flask-SQLAlchemy: pass it to the plugin, "
                    "LicensePlatform().init_app(app, db=db), so that the plugin's tables live in its database"
                )
            own_db.init_app(app)
            migrate.init_app(app, own_db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
        else:
            _keep_out_of_host_migrations(app)
        # The forms' `csrf_token()` is Flask-WTF's, whose token the plugin's CSRF check (or the
        # host's CSRFProtect) reads: a host's `csrf_token` global of another kind is refused.
        from flask_wtf.csrf import generate_csrf

        template_names.add_global(app, "csrf_token", generate_csrf)
        if not state.hosted:
            csrf.init_app(app)
            login_manager.init_app(app)
            login_manager.login_view = "accounts.login"
            login_manager.login_message = i18n.N_("Please log in to see this page.")
            login_manager.localize_callback = i18n.gettext
            login_manager.login_message_category = "info"
        # The plugin's limits (the login, the vendor's redemption) are declared on its own
        # Limiter, which acts only on the routes it limits. The environment side limits nothing
        # of its own: mounted in a host console it adds no Limiter, and the host's (with its
        # default limits) is the one that applies to the plugin's routes.
        if not state.hosted or state.vendor:
            limiter.init_app(app)
            app.before_request(check_declared_limits)
        if app.config["TRUSTED_PROXIES"] and not state.hosted:
            n = int(app.config["TRUSTED_PROXIES"])
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

        ui = Blueprint(
            "license_ui",
            __name__,
            template_folder=str(TEMPLATES_DIR),
            static_folder=str(PACKAGE_DIR / "static"),
            static_url_path="/_license/static",
        )
        state.register_blueprint(app, ui)
        # Its templates are all under templates/license/: no host template may be found first.
        template_names.refuse_shadowed_templates(app, TEMPLATES_DIR)
        template_names.autoescape_own_templates(app)
        template_names.claim_context_names(app, CONTEXT_NAMES)
        if not state.hosted:
            errors.init_app(app)
            app.before_request(inputs.refuse_control_characters)
            app.after_request(_add_security_headers)
            app.context_processor(_template_context(state))
        i18n.init_app(app, locale_selector)
        timefmt.init_app(app)

        from . import accounts, core

        if not state.hosted:
            accounts.init_app(app, state)
        core.init_app(app, state)
        if state.environment:
            from . import environment

            environment.init_app(app, state)
        if state.vendor:
            from . import vendor_side

            vendor_side.init_app(app, state)
        from . import production

        production.init_app(app, state)  # request ids and lines, metrics, secure sessions
        if state.hosted:
            _hook_own_blueprints(app, state)
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
    Serving with several workers (`WEB_CONCURRENCY`) and per-process rate limits (`memory://`)
    outside the demo is refused (`rate_limit_store`).
    """
    if state.for_command:
        return
    if (not state.hosted or state.vendor) and not app.testing:
        from . import rate_limit_store

        rate_limit_store.check(rate_limit_store.workers_from_environment(),
                               app.config.get("RATELIMIT_STORAGE_URI"), demo=state.demo)
    if state.role == Role.BOTH:
        startup_log.note(
            "LICENSE_ROLE=both runs the vendor and environment sides in one process: "
            "for the demo and development only."
        )
    from .trust import untrusting_warning

    warning = untrusting_warning(app)
    if warning:
        startup_log.warning(warning)
    if state.vendor and not app.config["LICENSE_SKIP_SIGNING_KEY_CHECK"]:
        from .vendor_side.signing_keys import ensure_active_key

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


def _add_security_headers(response):
    """The plugin's security headers: on every answer of the standalone app, on the plugin's
    own answers in a host console (which keeps its own headers on its pages)."""
    if not current_app.config["LICENSE_SECURITY_HEADERS"]:
        return response
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# What `_template_context` puts in the context of the plugin's templates (and of a host's layout
# on the plugin's pages): names of the plugin's own, which a host's globals may not have.
CONTEXT_NAMES = (
    "license_state", "license_nav", "license_signed_in", "license_banners", "license_page_path",
    "license_badge", "license_home_url", "license_layout", "license_product_name", "license_vendor_name",
    "license_html_lang", "license_locale", "license_locales",
)


def _template_context(state: PlatformState) -> Callable[[], dict]:
    def inject():
        def signed_in() -> bool:
            if state.hosted:
                return state.host_lets_in()
            from flask_login import current_user

            return current_user.is_authenticated

        def visible_nav():
            if state.hosted:  # the host's operators see the environment's pages
                return [item for item in state.nav if AccountRole.OPERATOR in item.roles] if state.host_lets_in() else []
            from flask_login import current_user

            if current_user.is_authenticated:
                return [item for item in state.nav if current_user.has_role(*item.roles)]
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
            "license_home_url": state.home_url,
            "license_layout": current_app.config["LICENSE_BASE_TEMPLATE"],
            "license_product_name": current_app.config["LICENSE_PRODUCT_NAME"],
            "license_vendor_name": current_app.config["LICENSE_VENDOR_NAME"],
            "license_html_lang": i18n.html_lang,
            "license_locale": i18n.current_locale,
            "license_locales": i18n.LOCALE_NAMES,
        }

    return inject


def _hook_own_blueprints(app: Flask, state: PlatformState) -> None:
    """In a host console: the plugin's error handlers, security headers, CSRF check and template
    context on its own blueprints only, so the host's pages, 404s and headers stay the host's.

    The blueprints are module-level objects shared by every app, so the handlers are registered
    on this app, keyed by blueprint name: the tables Flask fills from a blueprint's own
    `register_error_handler`, `after_request`, `before_request` and `context_processor`.
    """
    host_csrf = app.extensions.get("csrf")
    if host_csrf is None:
        # No CSRFProtect in the host: the plugin's own check, on its own pages only.
        for key, default in (("WTF_CSRF_ENABLED", True), ("WTF_CSRF_FIELD_NAME", "csrf_token"),
                             ("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"]),
                             ("WTF_CSRF_SSL_STRICT", True)):
            app.config.setdefault(key, default)
        app.config["WTF_CSRF_METHODS"] = set(app.config.get("WTF_CSRF_METHODS", ["POST", "PUT", "PATCH", "DELETE"]))

    def check_csrf():
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()

    def limit_body():
        """The plugin's body limit on its own routes (the host's MAX_CONTENT_LENGTH is the host's)."""
        request.max_content_length = current_app.config["LICENSE_MAX_CONTENT_LENGTH"]

    inject = _template_context(state)
    handlers = errors.handlers(app)
    if state.url_prefix:
        _own_not_found(app, state)
    for name in state.blueprints:
        api = app.blueprints[name].url_prefix == state.api_prefix
        for exception, handler in handlers:
            app.error_handler_spec[name][None][exception] = handler
            if exception is HTTPException:
                # Also under each status code: Flask asks code handlers (a host's 404 page)
                # before any handler of a class, so the plugin's own must be there too.
                for code, http_exception in default_exceptions.items():
                    app.error_handler_spec[name][code][http_exception] = handler
        app.after_request_funcs[name].append(_add_security_headers)
        app.before_request_funcs[name].append(limit_body)
        app.before_request_funcs[name].append(inputs.refuse_control_characters)
        app.template_context_processors[name].append(inject)
        if api and host_csrf is not None:
            host_csrf.exempt(app.blueprints[name])  # bearer tokens, never the session cookie
        elif not api and host_csrf is None:
            app.before_request_funcs[name].append(check_csrf)


def _own_not_found(app: Flask, state: PlatformState) -> None:
    """Unknown addresses under the plugin's prefix answer the plugin's 404 (JSON under its
    `/api/v1`), and a known one asked with another method its 405; `prefix/` goes home."""
    endpoint = "license_ui.not_found"
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    def not_found(rest: str = ""):
        if not rest:
            return redirect(state.home_url())
        adapter = app.url_map.bind_to_environ(request.environ)
        allowed = set()
        for method in methods:
            try:
                found, _ = adapter.match(request.path, method=method)
            except HTTPException:
                continue
            if found != endpoint:
                allowed.add(method)
        if allowed:
            raise MethodNotAllowed(valid_methods=sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
        raise NotFound()

    app.add_url_rule(state.url_prefix + "/", endpoint, not_found, methods=methods)
    app.add_url_rule(state.url_prefix + "/<path:rest>", endpoint, not_found, methods=methods)


def upgrade_schema(revision: str = "head") -> None:
    """Create or migrate the plugin's tables in the current app's plugin database (a host's
    `db`, or its own) to `revision`: `flask license db upgrade`. In a host's database the
    version table is `license_alembic_version`; the standalone app's is Alembic's own, so that
    `flask db upgrade` and this agree."""
    from alembic import command
    from alembic.config import Config

    state = current_app.extensions[EXTENSION_KEY]
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["license_platform"] = {"engine": state.db.engine, "version_table": state.version_table}
    command.upgrade(config, revision)


def _keep_out_of_host_migrations(app: Flask) -> None:
    """The plugin's tables in a host's database are migrated by the plugin (`flask license db
    upgrade`, its own version table): a host's Flask-Migrate, set up before the plugin, leaves
    them out of its autogenerate (`include_name`), so it never creates or drops them."""
    host_migrate = app.extensions.get("migrate")
    if host_migrate is None:
        return
    args = host_migrate.configure_args
    if not getattr(args.get("include_name"), "license_excludes", False):
        args["include_name"] = exclude_license_tables(args.get("include_name"))


def exclude_license_tables(include_name: Callable | None = None) -> Callable:
    """An Alembic `include_name` hook that leaves out the plugin's tables and version table
    (for a host that configures Alembic itself: `context.configure(include_name=...)`)."""
    from .models import register_all

    register_all()
    own = set(Base.metadata.tables) | {HOST_VERSION_TABLE}

    def include(name, type_, parent_names):
        if type_ == "table" and name in own:
            return False
        if type_ in ("index", "unique_constraint", "foreign_key_constraint", "column") and \
                parent_names.get("table_name") in own:
            return False
        return include_name(name, type_, parent_names) if include_name else True

    include.license_excludes = True
    return include


platform = LicensePlatform()


def init_app(app: Flask, **kwargs) -> PlatformState:
    return platform.init_app(app, **kwargs)


def create_app(test_config: dict | None = None, *, role: str | None = None) -> Flask:
    """The standalone app: both sides unless `LICENSE_ROLE` says otherwise."""
    app = Flask("webapp", instance_path=settings.read_environment("LICENSE_INSTANCE_PATH"),
                instance_relative_config=True)
    if test_config is None:
        app.config.update(config_module.Config().as_dict())
    else:
        app.config.update(test_config)
    if role:
        app.config.setdefault("LICENSE_ROLE", role)
    state = init_app(app)
    if not app.testing and not state.for_command:
        from .request_log import configure_logging

        configure_logging(app)  # the standalone app's logs; a host's logging stays the host's
    if state.demo and not app.testing:
        from .demo import prepare_demo

        prepare_demo(app)
    return app
