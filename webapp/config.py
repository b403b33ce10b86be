"""Configuration read from the environment (see docs/configuration.md).

`Config` is what a deployment runs with; `TestConfig` is what the test suite starts from.
Which variables are read, and how, is the table of `webapp.settings`; the defaults of every
setting are applied from the same table by `webapp.license_platform` (`settings.apply_defaults`),
so a host console that configures nothing still gets a working environment side.
"""
from __future__ import annotations

from enum import StrEnum

from . import settings
from .settings import database_url  # noqa: F401 - where tests and scripts found it


class Role(StrEnum):
    """`LICENSE_ROLE`: which sides this deployment runs (`both`: the demo, development)."""

    VENDOR = "vendor"
    ENVIRONMENT = "environment"
    BOTH = "both"

    @property
    def vendor(self) -> bool:
        return self in (Role.VENDOR, Role.BOTH)

    @property
    def environment(self) -> bool:
        return self in (Role.ENVIRONMENT, Role.BOTH)


ROLES = tuple(Role)


class Config:
    """Settings of a deployment, read once from the process environment: one attribute for each
    row of `settings.SETTINGS` read from a variable (None when the variable is unset or empty).

    A value a row cannot read (a bad integer) stops the program with a message naming the variable.
    """

    def __init__(self) -> None:
        for row in settings.SETTINGS:
            if row.parse is not None:
                setattr(self, row.name, settings.read_environment(row))

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
