"""Configuration read from the environment (see docs/configuration.md).

`Config` is what a deployment runs with; `TestConfig` is what the test suite starts from.
Every key the extension reads has a default set with `setdefault` in `webapp.license_platform`,
so a host console that configures nothing still gets a working environment side.
"""
from __future__ import annotations

import os

DEFAULT_PRODUCT_NAME = "AutoMQ for Kafka ( BYOC Monthly Subscription License )"
DEFAULT_VENDOR_NAME = "AutoMQ HK Limited"

ROLES = ("vendor", "environment", "both")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from None


def _env_flag(name: str) -> bool:
    return (_env(name, "0") or "0").lower() in ("1", "true", "yes", "on")


def database_url(url: str | None) -> str | None:
    """`postgres://` and `postgresql://` (as hosting platforms write them) use psycopg 3."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Config:
    """Settings of a deployment, read once from the process environment."""

    def __init__(self) -> None:
        self.SECRET_KEY = _env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = database_url(_env("DATABASE_URL"))
        self.LICENSE_INSTANCE_PATH = _env("LICENSE_INSTANCE_PATH")
        self.LICENSE_ROLE = _env("LICENSE_ROLE")
        self.LICENSE_DATA_KEY = _env("LICENSE_DATA_KEY")
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
        self.TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

        self.ALIBABA_CLOUD_ACCESS_KEY_ID = _env("ALIBABA_CLOUD_ACCESS_KEY_ID")
        self.ALIBABA_CLOUD_ACCESS_KEY_SECRET = _env("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        self.ALIBABA_CLOUD_SECURITY_TOKEN = _env("ALIBABA_CLOUD_SECURITY_TOKEN")
        self.MARKETPLACE_ENDPOINT = _env("MARKETPLACE_ENDPOINT", "https://market.aliyuncs.com")
        self.MARKETPLACE_SIGNATURE_VERSION = _env("MARKETPLACE_SIGNATURE_VERSION", "v1")
        self.MARKETPLACE_PRODUCT_CODE = _env("MARKETPLACE_PRODUCT_CODE")
        self.MARKETPLACE_SPECS = _env("MARKETPLACE_SPECS")
        self.MARKETPLACE_TIMEZONE = _env("MARKETPLACE_TIMEZONE", "Asia/Shanghai")
        self.MARKETPLACE_ACTIVATE = _env("MARKETPLACE_ACTIVATE", "required")

        self.LICENSE_SIGNING_KEY_PASSPHRASE = _env("LICENSE_SIGNING_KEY_PASSPHRASE")
        self.LICENSE_REQUIRE_SIGNING_KEY = _env_flag("LICENSE_REQUIRE_SIGNING_KEY")
        self.LICENSE_PUBLIC_KEYS = _env("LICENSE_PUBLIC_KEYS")
        self.LICENSE_ALLOW_DEV_KEYS = _env_flag("LICENSE_ALLOW_DEV_KEYS")
        self.LICENSE_VENDOR_URL = _env("LICENSE_VENDOR_URL")
        self.LICENSE_EXPIRING_DAYS = _env_int("LICENSE_EXPIRING_DAYS", 7)
        self.LICENSE_TRIAL_DAYS = _env_int("LICENSE_TRIAL_DAYS", 14)
        self.LICENSE_TRIAL_AKU = _env_int("LICENSE_TRIAL_AKU", 14)
        self.LICENSE_PRODUCT_NAME = _env("LICENSE_PRODUCT_NAME", DEFAULT_PRODUCT_NAME)
        self.LICENSE_VENDOR_NAME = _env("LICENSE_VENDOR_NAME", DEFAULT_VENDOR_NAME)
        self.LICENSE_PURCHASE_URL = _env("LICENSE_PURCHASE_URL")
        self.LICENSE_SUPPORT_URL = _env("LICENSE_SUPPORT_URL")

        # Production (issue 10; docs/configuration.md, docs/production.md): seconds /readyz gives
        # the database's SELECT 1. gunicorn.conf.py reads WEB_CONCURRENCY and LICENSE_BIND itself.
        self.LICENSE_READINESS_TIMEOUT = _env_int("LICENSE_READINESS_TIMEOUT", 2)

    def as_dict(self) -> dict:
        """Only the settings that were given, so the extension's defaults fill the rest."""
        return {k: v for k, v in vars(self).items() if k.isupper() and v is not None}


class TestConfig(Config):
    """The test suite's base: no environment variables read, fixed secrets, CSRF off.

    Tests that check CSRF turn it back on (tests/test_csrf.py).
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:  # noqa: D401 - deliberately ignores os.environ
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key"
        self.LICENSE_DATA_KEY = "test-data-key-0123456789abcdef"
        self.LICENSE_SIGNING_KEY_PASSPHRASE = "test-passphrase"
        self.WTF_CSRF_ENABLED = False
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.RATELIMIT_ENABLED = True
        self.LICENSE_LOGIN_RATE_LIMIT = "1000 per minute"
        self.TRUSTED_PROXIES = 0
