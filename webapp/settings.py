"""Every setting the plugin reads, in one table: `SETTINGS`, one `Setting` a row.

A row says where the setting comes from and what it is worth when nobody sets it:

- `Config` (webapp/config.py) reads the process environment for each row with a `parse`
  (`integer`, `flag`, `text`, `database_url`); a row without one is set in the app's config
  only (by a host console or a test).
- `apply_defaults` (called first by `LicensePlatform.init_app`) gives each row its default with
  `app.config.setdefault`, so a host console that configures nothing still works and a value
  the host set is kept. A `Computed` default is worked out from the app being set up (the demo,
  the instance folder, whether the plugin has its own database); rows are applied in table
  order, so a computed default may use the rows above it. `blank_unset`: None or "" counts as
  not set (Flask ships some keys set to None). `app_wide`: a setting of the whole app (Flask's,
  an extension's), left to a host console (`init_app(login_check=...)`).
- Code reads `app.config["NAME"]`, never with a fallback of its own.

docs/configuration.md holds the table for people, generated from this one:
`python -m webapp.settings --write docs/configuration.md` (tests/test_settings.py checks it).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

DEFAULT_PRODUCT_NAME = "AutoMQ for Kafka ( BYOC Monthly Subscription License )"
DEFAULT_VENDOR_NAME = "AutoMQ HK Limited"
BODY_LIMIT = 256 * 1024

SIDES = ("both", "environment", "vendor")


# --------------------------------------------------------------------------------------------
# Reading a variable of the process environment ("" counts as unset, before these are called)


def text(value: str) -> str:
    return value


def locale(value: str) -> str:
    from .i18n import LOCALES, normalize

    found = normalize(value)
    if found is None:
        raise ValueError(f"must be one of {', '.join(LOCALES)}")
    return found


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("must be an integer") from None


FLAG_WORDS = ("1", "true", "yes", "on")


def flag(value: str) -> bool:
    return value.lower() in FLAG_WORDS


def database_url(url: str | None) -> str | None:
    """`postgres://` and `postgresql://` (as hosting platforms write them) use psycopg 3."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


PARSE_LABELS = {
    text: "text",
    integer: "integer",
    flag: "flag: " + ", ".join(f"`{w}`" for w in FLAG_WORDS) + " (any case) mean on",
    database_url: "URL; `postgres://` and `postgresql://` use psycopg 3",
    locale: "`en` or `zh_Hans_CN` (also `zh`, `zh-CN`, `en-US`)",
}


# --------------------------------------------------------------------------------------------
# The rows


class Context:
    """What a `Computed` default may look at: the app being set up, and what init_app knows."""

    def __init__(self, app, *, hosted: bool, own_database: bool, demo: bool) -> None:
        self.app = app
        self.config = app.config
        self.hosted = hosted
        self.own_database = own_database
        self.demo = demo
        self._secrets: dict[str, str] | None = None

    def demo_secret(self, name: str) -> str | None:
        """In the demo, the secret generated into the instance folder (`instance_secrets`)."""
        if not self.demo:
            return None
        if self._secrets is None:
            from . import instance_secrets

            self._secrets = instance_secrets.load_or_create(self.config["LICENSE_INSTANCE_PATH"])
        return self._secrets[name]


# A computed default answering SKIP leaves the key alone (not even set to None).
SKIP = object()


@dataclass(frozen=True)
class Computed:
    """A default worked out when the app is set up: `func(context)`; `doc` says it for people."""

    func: Callable[[Context], Any]
    doc: str


@dataclass(frozen=True)
class Setting:
    name: str  # the key of app.config
    default: Any  # a value, or a Computed
    parse: Callable[[str], Any] | None  # reads the environment variable; None: app config only
    doc: str
    side: str  # "both", "environment" or "vendor": the side that reads it
    env: str | None = None  # the environment variable, when it is not `name`
    default_doc: str | None = None  # the default for people, when the value does not say it well
    blank_unset: bool = False  # None or "" counts as not set
    app_wide: bool = False  # Flask's or an extension's, for the whole app: left to a host console

    @property
    def variable(self) -> str | None:
        """The environment variable `Config` reads, or None."""
        return (self.env or self.name) if self.parse is not None else None

    def default_for(self, context: Context) -> Any:
        if isinstance(self.default, Computed):
            return self.default.func(context)
        if isinstance(self.default, (dict, list, set)):
            return type(self.default)(self.default)  # each app its own copy
        return self.default


def _demo_secret(name: str) -> Computed:
    return Computed(lambda ctx: ctx.demo_secret(name),
                    "in the demo (no `SECRET_KEY`), generated into the instance folder; else unset")


def _own_sqlite(ctx: Context):
    if not ctx.own_database:
        return SKIP  # the host's Flask-SQLAlchemy has its own
    folder = ctx.config["LICENSE_INSTANCE_PATH"]
    Path(folder).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + os.path.join(folder, "license.db")


def _simulator_state(ctx: Context):
    if not ctx.demo:
        return None
    from .vendor_side.demo_market import STATE_FILE

    return os.path.join(ctx.config["LICENSE_INSTANCE_PATH"], STATE_FILE)


def _simulated(ctx: Context) -> bool:
    """The vendor side asks the in-process simulator: no marketplace credentials (marketplace.build)."""
    return not (ctx.config["ALIBABA_CLOUD_ACCESS_KEY_ID"] or ctx.config["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])


SETTINGS: tuple[Setting, ...] = (
    # ---- both sides
    Setting("LICENSE_INSTANCE_PATH", Computed(lambda ctx: ctx.app.instance_path, "Flask's `instance/`"), text,
            "the instance folder: the demo's secrets, the default SQLite file", "both", blank_unset=True),
    Setting("SECRET_KEY", _demo_secret("SECRET_KEY"), text,
            "Flask's; unset runs the demo, which generates its secrets into the instance folder", "both",
            blank_unset=True),
    Setting("LICENSE_DATA_KEY", _demo_secret("LICENSE_DATA_KEY"), text,
            "encrypts stored authorization codes and keys their lookup hash; required outside the demo "
            "(the app refuses to start without it, naming it)", "both", blank_unset=True),
    Setting("SQLALCHEMY_DATABASE_URI",
            Computed(_own_sqlite, "SQLite `license.db` in the instance folder (made if missing); in a host "
                                  "console's database (`init_app(db=...)`) the host's"),
            database_url, "the plugin's database (SQLAlchemy URL)", "both", env="DATABASE_URL", blank_unset=True),
    Setting("LICENSE_ROLE", "environment", text,
            "`vendor`, `environment` or `both` (the demo); `wsgi.py` makes `both` the default of the standalone app",
            "both"),
    Setting("RATELIMIT_STORAGE_URI", "memory://", text,
            "Flask-Limiter's storage: `memory://`, or `redis://...` when more than one worker serves", "both"),
    Setting("RATELIMIT_HEADERS_ENABLED", True, None, "Flask-Limiter: rate-limited answers carry its headers", "both"),
    Setting("TRUSTED_PROXIES", 0, integer,
            "how many proxies in front set X-Forwarded-For, -Proto and -Host (standalone app only)", "both"),
    Setting("LICENSE_PRODUCT_NAME", DEFAULT_PRODUCT_NAME, text,
            "the product's name on pages, and in keys without the marketplace's", "both"),
    Setting("LICENSE_VENDOR_NAME", DEFAULT_VENDOR_NAME, text, "the seller's name on pages", "both"),
    Setting("LICENSE_DEFAULT_LOCALE", "en", locale,
            "the pages' language when the visitor chose none and their browser asks for neither", "both"),
    Setting("LICENSE_BASE_TEMPLATE", "license/base.html", None,
            "a host's layout that the plugin's pages extend: they fill `{% block content %}` and add their "
            "assets to `{% block head %}`", "both", default_doc="the plugin's own layout (`license/base.html`)",
            blank_unset=True),
    Setting("LICENSE_LOGIN_RATE_LIMIT", "10 per minute;100 per hour", None,
            "limit of the standalone app's login form, per client address", "both"),
    Setting("LICENSE_SECURITY_HEADERS", True, None,
            "the plugin's Content-Security-Policy and other security headers on its answers", "both"),
    Setting("LICENSE_MAX_CONTENT_LENGTH", BODY_LIMIT, None,
            "largest request body on the plugin's routes in a host console (bytes)", "both",
            default_doc=f"`{BODY_LIMIT}` (256 KiB)"),
    # Flask's and its extensions' own settings, chosen by the standalone app (a host chooses its own)
    Setting("MAX_CONTENT_LENGTH", BODY_LIMIT, None, "largest request body (bytes)", "both",
            default_doc=f"`{BODY_LIMIT}` (256 KiB)", blank_unset=True, app_wide=True),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", None, "the session cookie's SameSite", "both", blank_unset=True,
            app_wide=True),
    Setting("WTF_CSRF_TIME_LIMIT", None, None, "how long a CSRF token is valid: unset, for the session, "
            "so long forms don't fail", "both", default_doc="unset", app_wide=True),
    Setting("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True}, None,
            "engine options; with SQLite the plugin adds a 30 s `timeout` to wait for the write lock",
            "both", app_wide=True),
    # ---- a production run (docs/configuration.md: logs, metrics, HTTPS and sessions)
    Setting("LICENSE_LOG_FORMAT", "text", text,
            "`text` (default) or `json`: one JSON object a line (the standalone app's logs; anything else "
            "stops the start, naming it)", "both"),
    Setting("LICENSE_LOG_LEVEL", "INFO", text, "the standalone app's log level (`DEBUG`, `INFO`, `WARNING`, `ERROR`)",
            "both"),
    Setting("LICENSE_METRICS", False, flag,
            "on: serve `/metrics` in Prometheus's text format; for the internal network only", "both"),
    Setting("LICENSE_METRICS_TOKEN", None, text, "when set, `/metrics` asks `Authorization: Bearer <token>`", "both"),
    Setting("LICENSE_INSECURE_HTTP", False, flag,
            "on: plain-HTTP development outside the demo (no `Secure` cookie flag, no HSTS); never in production",
            "both"),
    Setting("LICENSE_READINESS_TIMEOUT", 2, integer,
            "seconds `/readyz` gives the database's `SELECT 1` before it answers 503", "both"),
    # ---- the environment side
    Setting("LICENSE_EXPIRING_DAYS", 7, integer, "days before expiry that count as \"expiring\"", "environment"),
    Setting("LICENSE_TRIAL_DAYS", 14, integer, "length of the built-in trial, in days", "environment"),
    Setting("LICENSE_TRIAL_AKU", 14, integer, "capacity of the built-in trial, in AKU", "environment"),
    Setting("LICENSE_PUBLIC_KEYS", None, text,
            "the vendor public keys this environment trusts: a path to a JSON file `{kid: PEM}` (what "
            "`license public-keys` prints), or that JSON itself; in app config also a dict", "environment"),
    Setting("LICENSE_ALLOW_DEV_KEYS", False, flag, "on: accept `dev-` keys outside role `both`", "environment"),
    Setting("LICENSE_VENDOR_URL", None, text,
            "the vendor's base URL (https, or http on loopback) for online redemption", "environment"),
    Setting("LICENSE_PURCHASE_URL", None, text,
            "where the trial and expiry banners send people to buy or renew", "environment"),
    Setting("LICENSE_SUPPORT_URL", None, text, "where pages send people to get help", "environment"),
    Setting("LICENSE_REFUSAL_ACTOR_LIMITS", "10/minute;60/hour", text,
            "refused key applications (pasted keys, redemptions) one person may make: past it, applying "
            "answers `rate_limited` (429) until the window frees up; empty: no limit (docs/security.md)",
            "environment"),
    Setting("LICENSE_REFUSAL_ENVIRONMENT_LIMITS", "30/minute;300/hour", text,
            "refused key applications of everyone in this environment together, likewise", "environment"),
    Setting("LICENSE_REFUSAL_FOLD_SECONDS", 3600, integer,
            "identical refusals in a row (same person, how, error and key) within this many seconds of the "
            "first are one activation history row with a count", "environment"),
    Setting("LICENSE_CLOCK", None, None,
            "for tests: a callable answering an aware datetime, replacing the wall clock on both sides "
            "(`webapp/clock.py`)", "both", default_doc="unset (the system clock)"),
    # ---- the vendor side
    Setting("LICENSE_SIGNING_KEY_PASSPHRASE", _demo_secret("LICENSE_SIGNING_KEY_PASSPHRASE"), text,
            "encrypts the signing keys stored in the database; required outside the demo", "vendor",
            blank_unset=True),
    Setting("LICENSE_REQUIRE_SIGNING_KEY", False, flag,
            "on: refuse to serve, or to run a command that signs (`license issue`, `license reconcile "
            "--issue`), without an active signing key; off: these generate a `dev-` key, with a warning", "vendor"),
    Setting("LICENSE_SKIP_SIGNING_KEY_CHECK", False, None,
            "for tests: no signing-key check (nor `dev-` key) when the vendor side starts", "vendor"),
    Setting("ALIBABA_CLOUD_ACCESS_KEY_ID", None, text,
            "marketplace credentials; none set means the in-process simulator (the demo)", "vendor"),
    Setting("ALIBABA_CLOUD_ACCESS_KEY_SECRET", None, text, "marketplace credentials, with the key ID", "vendor"),
    Setting("ALIBABA_CLOUD_SECURITY_TOKEN", None, text, "an STS token, with the credentials", "vendor"),
    Setting("MARKETPLACE_ENDPOINT", "https://market.aliyuncs.com", text,
            "the Market API: scheme and host[:port], no path", "vendor"),
    Setting("MARKETPLACE_SIGNATURE_VERSION", "v1", text, "`v1` or `v3`", "vendor"),
    Setting("MARKETPLACE_PRODUCT_CODE", None, text,
            "the product that authorization codes must belong to (`code_wrong_product`); required with "
            "credentials", "vendor", default_doc="unset; the simulator's `cmgj00demo01` without credentials"),
    Setting("MARKETPLACE_SPECS", None, text,
            "JSON object (a value starting with `{`) or a path to a JSON file: specification (the "
            "`package_version` value, else the `ProductSkuId`) to `{\"aku\": N, \"name\": \"...\"}`; "
            "required with credentials", "vendor", default_doc="unset; the simulator's without credentials"),
    Setting("MARKETPLACE_TIMEZONE", "Asia/Shanghai", text, "zone of marketplace times written without an offset",
            "vendor"),
    Setting("MARKETPLACE_ACTIVATE", "required", text,
            "`required`: ActivateLicense must succeed; `best-effort`: a failure is audited and the key "
            "issued anyway; `off`: never called", "vendor", blank_unset=True),
    Setting("MARKETPLACE_TIMEOUT", 10.0, None, "seconds per attempt of one Market API call", "vendor"),
    Setting("MARKETPLACE_MAX_ATTEMPTS", 3, None, "attempts of one Market API call", "vendor"),
    Setting("MARKETPLACE_DEADLINE", 30.0, None, "total seconds one Market API call may take, retries included",
            "vendor"),
    Setting("MARKETPLACE_SIMULATOR_CODES", None, None,
            "a codes file for the in-process simulator instead of its demo codes", "vendor"),
    Setting("MARKETPLACE_SIMULATOR_STATE",
            Computed(_simulator_state, "in the demo, `demo-marketplace.json` in the instance folder; else unset"),
            None, "the file through which the processes of the demo share the simulator's codes", "vendor"),
    Setting("MARKETPLACE_RECONCILE_CONCURRENCY", 4, None, "codes the reconciler reads at the same time", "vendor"),
    Setting("LICENSE_PENDING_WAIT", 5.0, None,
            "seconds to wait for another worker issuing on the same code before answering "
            "`issuing_in_progress`", "vendor"),
    Setting("VENDOR_REDEEM_CLIENT_LIMITS", "10/minute;50/day", None,
            "self-service redemption: limits per client address (docs/vendor.md, \"Buyers\")", "vendor"),
    Setting("VENDOR_REDEEM_CODE_LIMITS", "5/hour", None,
            "self-service redemption: limits per authorization code (its keyed hash)", "vendor"),
    Setting("VENDOR_REDEEM_OWNER_LIMITS", "10/minute", None,
            "self-service redemption: limits of the install ID a code is bound to, in its client's scope", "vendor"),
    Setting("VENDOR_REDEEM_CODE_CACHE_SECONDS",
            Computed(lambda ctx: 0 if _simulated(ctx) else 60, "`60`; `0` with the in-process simulator"),
            None, "how long the bound environment's renewal checks reuse the code's last marketplace read; "
                  "`0` or None: no reuse", "vendor"),
    Setting("LICENSE_REMIND_DAYS", "30,7,1", text,
            "`license notify`: days before an environment's live key ends at which a `license.expiring` "
            "event is sent (comma-separated; each once per key)", "vendor"),
    Setting("LICENSE_WEBHOOK_ALLOW_PRIVATE", Computed(lambda ctx: ctx.demo, "on in the demo; else off"), flag,
            "webhook endpoints may be loopback or private addresses (tests, receivers on an internal network); "
            "off, they are refused so that the vendor side cannot be made to call its own network "
            "(docs/vendor.md, \"Webhooks and reminders\")", "vendor"),
    Setting("LICENSE_WEBHOOK_TIMEOUT", 10.0, None, "seconds one webhook attempt may take (connect, then read)",
            "vendor"),
    # E-mail, with Flask-Mail's names (a host that has Flask-Mail shares its settings)
    Setting("MAIL_SERVER", None, text, "the SMTP server that sends e-mail (reminders, the daily digest); unset: "
            "no e-mail is written or sent", "vendor", blank_unset=True),
    Setting("MAIL_PORT", 25, integer, "the SMTP server's port (587 with `MAIL_USE_TLS`, 465 with `MAIL_USE_SSL`)",
            "vendor"),
    Setting("MAIL_USE_TLS", False, flag, "STARTTLS after connecting; the server's certificate is verified", "vendor"),
    Setting("MAIL_USE_SSL", False, flag, "TLS from the first byte (port 465); the server's certificate is verified",
            "vendor"),
    Setting("MAIL_USERNAME", None, text, "SMTP login; unset: no login", "vendor", blank_unset=True),
    Setting("MAIL_PASSWORD", None, text, "SMTP password (redacted from logs)", "vendor", blank_unset=True),
    Setting("MAIL_DEFAULT_SENDER", None, text,
            "the From address (`Licenses <licenses@example.com>`); required with `MAIL_SERVER`", "vendor",
            blank_unset=True),
    Setting("LICENSE_MAIL_TIMEOUT", 10.0, None, "seconds the SMTP server may take to connect or answer", "vendor"),
    Setting("LICENSE_NOTIFY_EMAIL", None, text,
            "the seller's team's addresses (comma-separated): expiry reminders and the daily digest of what "
            "needs attention; unset: none", "vendor", blank_unset=True),
    Setting("LICENSE_NOTIFY_LOCALE", Computed(lambda ctx: ctx.config["LICENSE_DEFAULT_LOCALE"],
                                              "`LICENSE_DEFAULT_LOCALE`"), locale,
            "the language of the e-mails to the seller's team", "vendor"),
    Setting("LICENSE_DIGEST_HOUR", 1, integer,
            "the hour (UTC, 0 to 23) from which `license notify` sends the day's digest (1: 09:00 in Beijing); "
            "a day with nothing to report sends none; `24`: no digest", "vendor"),
    Setting("LICENSE_EXTERNAL_URL", None, text,
            "the vendor side's own public base URL (`https://licenses.example.com`), for links in e-mails; unset: "
            "e-mails name the install ID instead of linking", "vendor", blank_unset=True),
    Setting("LICENSE_RENEW_URL", None, text,
            "where buyers' reminders send them to renew (the product's page on the marketplace); unset: they "
            "are told to renew in their Alibaba Cloud console's marketplace orders", "vendor", blank_unset=True),
)

BY_NAME: dict[str, Setting] = {row.name: row for row in SETTINGS}


# --------------------------------------------------------------------------------------------
# Using the table


def read_environment(row: Setting | str, environ=None) -> Any:
    """The row's value from the process environment, parsed; None when unset (or empty).

    A value the row cannot read stops the program with a message naming the variable."""
    if isinstance(row, str):
        row = BY_NAME[row]
    if row.parse is None:
        return None
    environ = os.environ if environ is None else environ
    raw = environ.get(row.variable)
    if raw in (None, ""):
        return None
    try:
        return row.parse(raw)
    except ValueError as exc:
        raise SystemExit(f"{row.variable} {exc}, got {raw!r}") from None


def apply_defaults(app, *, hosted: bool, own_database: bool, demo: bool) -> None:
    """`app.config.setdefault` of every row, in table order (see the module's docstring)."""
    context = Context(app, hosted=hosted, own_database=own_database, demo=demo)
    config = app.config
    for row in SETTINGS:
        if row.app_wide and hosted:
            continue
        if row.blank_unset and config.get(row.name) in (None, ""):
            config.pop(row.name, None)
        if row.name in config:
            continue
        value = row.default_for(context)
        if value is not SKIP:
            config[row.name] = value


# --------------------------------------------------------------------------------------------
# The table for people (docs/configuration.md)

TABLE_START = "<!-- settings: generated from webapp/settings.py by `python -m webapp.settings --write docs/configuration.md` -->"
TABLE_END = "<!-- end of settings -->"
SIDE_TITLES = {"both": "Both sides", "environment": "The environment side", "vendor": "The vendor side"}


def _show_default(row: Setting) -> str:
    if row.default_doc is not None:
        return row.default_doc
    value = row.default
    if isinstance(value, Computed):
        return value.doc
    if value is None:
        return "unset"
    if isinstance(value, bool) and row.parse is flag:
        return "off"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _show_source(row: Setting) -> str:
    if row.parse is None:
        return "no: app config only"
    if row.variable != row.name:
        return f"`{row.variable}`: {PARSE_LABELS[row.parse]}"
    return PARSE_LABELS[row.parse]


def markdown() -> str:
    """The tables of docs/configuration.md, one per side, in table order."""
    out = [TABLE_START]
    for side in SIDES:
        out += ["", f"### {SIDE_TITLES[side]}", "",
                "| setting | environment variable | default | meaning |", "|---|---|---|---|"]
        for row in SETTINGS:
            if row.side == side:
                meaning = row.doc + (" (Flask's or an extension's setting: the standalone app's choice; "
                                     "a host console keeps its own)" if row.app_wide else "")
                meaning = meaning.replace("|", "\\|")
                out.append(f"| `{row.name}` | {_show_source(row)} | {_show_default(row)} | {meaning} |")
    out += ["", TABLE_END]
    return "\n".join(out)


# The settings that bound what one client, account or environment may do, for docs/security.md
# ("Limits"), in the order the table there lists them.
LIMITS = (
    "LICENSE_LOGIN_RATE_LIMIT", "LICENSE_REFUSAL_ACTOR_LIMITS", "LICENSE_REFUSAL_ENVIRONMENT_LIMITS",
    "LICENSE_REFUSAL_FOLD_SECONDS", "VENDOR_REDEEM_CLIENT_LIMITS", "VENDOR_REDEEM_CODE_LIMITS",
    "VENDOR_REDEEM_OWNER_LIMITS", "VENDOR_REDEEM_CODE_CACHE_SECONDS", "MAX_CONTENT_LENGTH",
    "LICENSE_MAX_CONTENT_LENGTH",
)
LIMITS_START = "<!-- limits: generated from webapp/settings.py by `python -m webapp.settings --write docs/security.md` -->"
LIMITS_END = "<!-- end of limits -->"


def limits_markdown() -> str:
    """The table of limits of docs/security.md: each limit's setting, default and meaning."""
    out = [LIMITS_START, "", "| setting | side | default | what it limits |", "|---|---|---|---|"]
    for name in LIMITS:
        row = BY_NAME[name]
        out.append(f"| `{row.name}` | {row.side} | {_show_default(row)} | {row.doc.replace('|', chr(92) + '|')} |")
    out += ["", LIMITS_END]
    return "\n".join(out)


GENERATED = ((TABLE_START, TABLE_END, markdown), (LIMITS_START, LIMITS_END, limits_markdown))


def write_docs(path: str | os.PathLike) -> bool:
    """Put the generated tables between the markers `path` holds (the settings of
    docs/configuration.md, the limits of docs/security.md); True when it changed."""
    path = Path(path)
    current = path.read_text(encoding="utf-8")
    updated = current
    for start, end, produce in GENERATED:
        if start not in updated:
            continue
        head, _, rest = updated.partition(start)
        _, _, tail = rest.partition(end)
        updated = head + produce() + tail
    if updated != current:
        path.write_text(updated, encoding="utf-8")
    return updated != current


if __name__ == "__main__":  # python -m webapp.settings [--write docs/configuration.md | docs/security.md]
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        print("updated" if write_docs(sys.argv[2]) else "unchanged", sys.argv[2], file=sys.stderr)
    else:
        print(markdown())
