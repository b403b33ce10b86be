"""License platform for BYOC products sold on Alibaba Cloud Marketplace: a Flask plugin.

    from webapp import LicensePlatform, create_app, init_app

The names above are read from `webapp.license_platform` when first asked for, not when the package
is imported: gunicorn's master reads `gunicorn.conf.py`, which imports `webapp.config` and
`webapp.rate_limit_store` only, and so does not load the whole app (Flask, SQLAlchemy, both sides)
that it never serves with (issue 12: start-up and memory per role, docs/performance.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .license_platform import Badge, Banner, LicensePlatform, PlatformState, create_app, init_app, platform

__all__ = ["Badge", "Banner", "LicensePlatform", "PlatformState", "create_app", "init_app", "platform"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import license_platform

        value = getattr(license_platform, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
