"""The environment side: install ID, built-in trial, the Settings page, activation, instances.

For host consoles (see docs/environment.md)::

    from webapp.environment import (
        current_license, check_capacity, requires_capacity,
        CapacityError, InsufficientAku, LicenseExpired,
    )

The rules are in :mod:`webapp.environment.license_rules` (pure); the database work in
``license_record`` (the install ID and the running license, the hot path), ``activation``
(applying product keys, the history), ``online`` (redeeming an authorization code with the
vendor) and ``instances`` (capacity use); the pages in ``views``, the JSON API in ``json_api``.
"""
from __future__ import annotations

from ..i18n import lazy_gettext

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
    from ..models.accounts import AccountRole
    from . import json_api, license_record, notices, refusal_limits, views

    state.register_blueprint(app, views.bp)
    state.register_blueprint(app, json_api.bp)
    # The names its pages' context processor adds (env_...): none may hide a global of the host's.
    from ..template_names import claim_context_names

    claim_context_names(app, views.labels())
    app.after_request(license_record.flush_high_water)
    refusal_limits.init_app(app)

    state.add_nav("environment.settings", lazy_gettext("Settings"), AccountRole.OPERATOR)
    state.add_nav("environment.instances", lazy_gettext("Instances"), AccountRole.OPERATOR)
    state.homes[AccountRole.OPERATOR] = "environment.settings"
    state.homes.setdefault(AccountRole.ADMIN, "environment.settings")
    state.page_sides.update({views.bp.name: "environment"})
    state.add_banner_provider(notices.banners, side="environment")
    state.set_badge_provider(notices.badge, side="environment")
