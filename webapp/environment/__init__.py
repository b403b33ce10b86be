"""The environment side: install ID, built-in trial, the Settings page, activation, instances.

For host consoles (see docs/environment.md)::

    from webapp.environment import (
        current_license, check_capacity, requires_capacity,
        CapacityError, InsufficientAku, LicenseExpired,
    )

The rules are in :mod:`webapp.environment.license_rules` (pure), the database work in
:mod:`webapp.environment.store`, the pages in ``views``, the JSON API in ``json_api``.
"""
from __future__ import annotations

from .plugin import (
    CapacityError,
    InsufficientAku,
    LicenseExpired,
    LicenseState,
    check_capacity,
    current_license,
    requires_capacity,
)

__all__ = [
    "CapacityError",
    "InsufficientAku",
    "LicenseExpired",
    "LicenseState",
    "check_capacity",
    "current_license",
    "init_app",
    "requires_capacity",
]


def init_app(app, state) -> None:
    """Register the environment side's blueprints, nav items, home, banners and badge."""
    from . import json_api, notices, store, views

    state.register_blueprint(app, views.bp)
    state.register_blueprint(app, json_api.bp)
    app.after_request(store.flush_high_water)

    state.add_nav("environment.settings", "Settings", "operator")
    state.add_nav("environment.instances", "Instances", "operator")
    state.homes["operator"] = "environment.settings"
    state.homes.setdefault("admin", "environment.settings")
    state.page_sides.update({views.bp.name: "environment"})
    state.add_banner_provider(notices.banners, side="environment")
    state.set_badge_provider(notices.badge, side="environment")
