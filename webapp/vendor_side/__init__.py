"""The vendor side: staff issue product keys, buyers redeem codes, renewals are caught (issue 5).

- `marketplace`: the `MarketplaceClient` built from the configuration (the simulator in-process
  when there are no credentials); `specs`: `MARKETPLACE_SPECS`.
- `rules` (pure) and `issuing`: the issuing steps of overview.md; `redeem`: self-service, rate
  limited, and the `state.services["redeem"]` callable of the redemption interface.
- `search`, `explain`, `reconcile`: finding, decoding and renewing keys.
- `views` (staff pages), `public` (the buyers' redeem page), `api` (`/api/v1`), `cli`.
"""
from __future__ import annotations

from ..i18n import lazy_gettext


def init_app(app, state) -> None:
    """Register the vendor side's blueprints, nav items, homes and the redemption service."""
    from ..models.accounts import AccountRole
    from . import api, marketplace, public, redeem, views

    # The vendor side's settings and their defaults are rows of `webapp.settings`.
    market = marketplace.init_app(app)

    state.register_blueprint(app, views.bp)
    state.register_blueprint(app, public.bp)
    state.register_blueprint(app, api.bp)
    # The staff pages and the buyers' /redeem carry no banner or badge of the environment side (role both).
    state.page_sides.update({views.bp.name: "vendor", public.bp.name: "vendor"})

    state.add_nav("vendor.issue_page", lazy_gettext("Issue product key"), AccountRole.ISSUER)
    state.add_nav("vendor.keys", lazy_gettext("Keys"), AccountRole.ISSUER)
    state.add_nav("vendor.attention", lazy_gettext("Needs attention"), AccountRole.ISSUER)
    state.add_nav("vendor.decode", lazy_gettext("Key decoder"), AccountRole.ISSUER)
    state.add_nav("vendor.audit_log", lazy_gettext("Audit log"), AccountRole.ISSUER)
    state.add_nav("vendor.offline", lazy_gettext("Offline keys"), AccountRole.ADMIN)
    state.add_nav("vendor.webhooks", lazy_gettext("Webhooks"), AccountRole.ADMIN)
    state.add_nav("vendor.mail_outbox", lazy_gettext("E-mail"), AccountRole.ADMIN)
    if market.simulated:
        state.add_nav("vendor.demo_codes", lazy_gettext("Demo codes"), AccountRole.ISSUER)
    state.homes[AccountRole.ISSUER] = "vendor.issue_page"
    state.homes[AccountRole.ADMIN] = "vendor.issue_page"
    state.services["redeem"] = redeem.service

    # The vendor pages' Jinja globals, app-wide (refused over a host's of the same name).
    from ..template_names import add_global
    from .bindings import mask_uid
    from .explain import issued_change
    from .words import actor, word

    add_global(app, "vendor_mask_uid", mask_uid)
    add_global(app, "vendor_issued_change", issued_change)
    add_global(app, "vendor_word", word)
    add_global(app, "vendor_actor", actor)
