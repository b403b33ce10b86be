"""The header badge and the banners that the environment shows on every page.

A banner carries one link (the core layout renders ``link_url``): to buy or renew on the
marketplace when ``LICENSE_PURCHASE_URL`` is set, else to the vendor's support when
``LICENSE_SUPPORT_URL`` is set, else to the Settings page. When both URLs are set, the text ends
with a link to support as well; that text is built as ``Markup`` with every value escaped.
"""
from __future__ import annotations

from flask import current_app, url_for
from markupsafe import Markup

from ..i18n import gettext as _
from ..license_platform import Badge, Banner
from . import license_rules as sm
from . import license_record
from .plugin import may_see_license


def badge() -> Badge | None:
    if not may_see_license():
        return None
    lic = license_record.current_license()
    status = lic.status
    day = sm.format_day(lic.terms.expires_at)
    if status == sm.LicenseStatus.EXPIRED:
        title = (_("Trial expired on %(day)s", day=day) if lic.terms.is_trial
                 else _("License expired on %(day)s", day=day))
    elif lic.terms.is_trial:
        title = _("Trial: %(time)s left, %(aku)s AKU", time=lic.time_left, aku=lic.aku)
    else:
        title = _("License: %(time)s left, %(aku)s AKU", time=lic.time_left, aku=lic.aku)
    return Badge(lic.status_level, lic.status_label, title)


def banners() -> list[Banner]:
    if not may_see_license():
        return []
    config = current_app.config
    return license_banners(
        license_record.current_license(),
        purchase_url=config["LICENSE_PURCHASE_URL"],
        support_url=config["LICENSE_SUPPORT_URL"],
        vendor_name=config["LICENSE_VENDOR_NAME"],
        settings_url=url_for("environment.settings"),
        instances_url=url_for("environment.instances"),
    )


def license_banners(
    lic: sm.LicenseState,
    *,
    purchase_url: str | None,
    settings_url: str,
    instances_url: str,
    support_url: str | None = None,
    vendor_name: str = "the vendor",
) -> list[Banner]:
    """The banners for a license state (pure, for tests)."""
    out: list[Banner] = []
    t = lic.terms
    status = lic.status
    if status != sm.LicenseStatus.ACTIVE:
        until = sm.format_day(t.expires_at)
        buy = _("Buy a license") if t.is_trial else _("Renew on the marketplace")
        next_step = lic.next_step
        if status == sm.LicenseStatus.EXPIRED:
            level = "danger"
            title = (_("The trial expired on %(day)s.", day=until) if t.is_trial
                     else _("The license expired on %(day)s.", day=until))
            text = _("Creating or growing instances is refused; running instances keep running.") + " " + next_step
        elif status == sm.LicenseStatus.EXPIRING:
            level = "warning"
            if t.is_trial:
                title = _("The trial expires in %(time)s.", time=lic.time_left)
            else:  # the title says what to do; the text says where
                title = _("The license expires in %(time)s: renew on the marketplace, then re-activate.",
                          time=lic.time_left)
                next_step = _("After renewing, apply the new product key: %(where)s", where=lic.where_to_apply)
            text = _("On %(day)s creating and growing instances stops; running instances keep running.",
                     day=until) + " " + next_step
        else:
            level, title = "info", _("Free trial: %(time)s left.", time=lic.time_left)
            text = _("%(aku)s AKU until %(day)s.", aku=t.aku, day=until) + " " + next_step
        if purchase_url:
            link_url, link_text = purchase_url, buy
            if support_url:
                text = Markup("{} {}").format(text, Markup(_("Questions? %(link)s.", link=Markup('<a href="{}">{}</a>').format(
                    support_url, _("Contact %(vendor)s", vendor=vendor_name)))))
        elif support_url:
            link_url, link_text = support_url, _("Contact %(vendor)s", vendor=vendor_name)
        else:
            link_url, link_text = settings_url, _("Go to Settings")
        out.append(Banner(level, title, text, link_url, link_text))
    if lic.over_capacity:
        out.append(Banner(
            "warning",
            _("%(in_use)s AKU in use, more than the %(aku)s AKU licensed.", in_use=lic.aku_in_use, aku=lic.aku),
            _("Running instances keep running, but none can be created or grown until usage is at most %(aku)s AKU: "
              "shrink or delete instances, or activate a key with more capacity.", aku=lic.aku),
            instances_url,
            _("Go to Instances"),
        ))
    if lic.clock_behind:
        out.append(Banner(
            "warning",
            _("This environment's clock is behind."),
            _("It reads earlier than a time the environment has already seen, so the license is judged by "
              "the later time. Correct the clock (NTP)."),
        ))
    return out
