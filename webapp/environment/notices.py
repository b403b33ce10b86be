"""The header badge and the banners that the environment shows on every page.

A banner carries one link (the core layout renders ``link_url``): to buy or renew on the
marketplace when ``LICENSE_PURCHASE_URL`` is set, else to the vendor's support when
``LICENSE_SUPPORT_URL`` is set, else to the Settings page. When both URLs are set, the text ends
with a link to support as well; that text is built as ``Markup`` with every value escaped.
"""
from __future__ import annotations

from flask import current_app, url_for
from markupsafe import Markup

from ..license_platform import Badge, Banner
from . import license_rules as sm
from . import license_record
from .plugin import may_see_license


def badge() -> Badge | None:
    if not may_see_license():
        return None
    lic = license_record.current_license()
    status = lic.status
    kind = "Trial" if lic.terms.is_trial else "License"
    if status == sm.LicenseStatus.EXPIRED:
        title = f"{kind} expired on {sm.format_day(lic.terms.expires_at)}"
    else:
        title = f"{kind}: {lic.time_left} left, {lic.aku} AKU"
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
        what, buy = ("trial", "Buy a license") if t.is_trial else ("license", "Renew on the marketplace")
        next_step = lic.next_step
        if status == sm.LicenseStatus.EXPIRED:
            level, title = "danger", f"The {what} expired on {until}."
            text = "Creating or growing instances is refused; running instances keep running. " + next_step
        elif status == sm.LicenseStatus.EXPIRING:
            level = "warning"
            if t.is_trial:
                title = f"The trial expires in {lic.time_left}."
            else:  # the title says what to do; the text says where
                title = f"The license expires in {lic.time_left}: renew on the marketplace, then re-activate."
                next_step = "After renewing, apply the new product key: " + lic.where_to_apply
            text = f"On {until} creating and growing instances stops; running instances keep running. " + next_step
        else:
            level, title = "info", f"Free trial: {lic.time_left} left."
            text = f"{t.aku} AKU until {until}. " + next_step
        if purchase_url:
            link_url, link_text = purchase_url, buy
            if support_url:
                text = Markup('{} Questions? <a href="{}">Contact {}</a>.').format(text, support_url, vendor_name)
        elif support_url:
            link_url, link_text = support_url, f"Contact {vendor_name}"
        else:
            link_url, link_text = settings_url, "Go to Settings"
        out.append(Banner(level, title, text, link_url, link_text))
    if lic.over_capacity:
        out.append(Banner(
            "warning",
            f"{lic.aku_in_use} AKU in use, more than the {lic.aku} AKU licensed.",
            "Running instances keep running, but none can be created or grown until usage is at most "
            f"{lic.aku} AKU: shrink or delete instances, or activate a key with more capacity.",
            instances_url,
            "Go to Instances",
        ))
    if lic.clock_behind:
        out.append(Banner(
            "warning",
            "This environment's clock is behind.",
            "It reads earlier than a time the environment has already seen, so the license is judged by "
            "the later time. Correct the clock (NTP).",
        ))
    return out
