"""The header badge and the banners that the environment shows on every page."""
from __future__ import annotations

from flask import current_app, url_for

from ..extension import Badge, Banner
from . import state as sm
from . import store
from .plugin import may_see_license

BADGE_LEVELS = {"trial": "info", "active": "ok", "expiring": "warning", "expired": "danger"}


def _days(n: int) -> str:
    if n <= 0:
        return "less than a day"
    return "1 day" if n == 1 else f"{n} days"


def badge() -> Badge | None:
    if not may_see_license():
        return None
    lic = store.current_license()
    status = lic.status
    if status == "expired":
        title = f"License expired on {lic.terms.expires_at:%Y-%m-%d}"
    else:
        kind = "Trial" if lic.terms.is_trial else "License"
        title = f"{kind}: {_days(lic.days_left)} left, {lic.aku} AKU"
    return Badge(BADGE_LEVELS[status], sm.STATUS_LABELS[status], title)


def banners() -> list[Banner]:
    if not may_see_license():
        return []
    return license_banners(
        store.current_license(),
        purchase_url=current_app.config.get("LICENSE_PURCHASE_URL"),
        settings_url=url_for("environment.settings"),
        instances_url=url_for("environment.instances"),
    )


def license_banners(
    lic: sm.LicenseState, *, purchase_url: str | None, settings_url: str, instances_url: str
) -> list[Banner]:
    """The banners for a license state (pure, for tests)."""
    out: list[Banner] = []
    t = lic.terms
    status = lic.status
    if status == "expired":
        what = "trial" if t.is_trial else "license"
        next_step = (
            "Buy a license on the marketplace, then activate it on the Settings page."
            if t.is_trial
            else "Renew on the marketplace, then re-activate with the new product key on the Settings page."
        )
        out.append(Banner(
            "danger",
            f"The {what} expired on {t.expires_at:%Y-%m-%d %H:%M} UTC.",
            "Creating or growing instances is refused; running instances keep running. " + next_step,
            purchase_url or settings_url,
            ("Buy a license" if t.is_trial else "Renew on the marketplace") if purchase_url else "Go to Settings",
        ))
    elif status == "expiring":
        if t.is_trial:
            title = f"The trial expires in {_days(lic.days_left)}."
            text = (
                f"On {t.expires_at:%Y-%m-%d %H:%M} UTC creating and growing instances stops. "
                "Buy a license on the marketplace, then activate it on the Settings page."
            )
        else:
            title = f"The license expires in {_days(lic.days_left)}: renew on the marketplace, then re-activate."
            text = (
                f"It ends on {t.expires_at:%Y-%m-%d %H:%M} UTC. After renewing, get the new product key "
                "and apply it under Settings, Update Product License"
                + (" (or use Check for renewal)." if lic.authorization_code else ".")
            )
        out.append(Banner(
            "warning", title, text, purchase_url or settings_url,
            ("Buy a license" if t.is_trial else "Renew on the marketplace") if purchase_url else "Go to Settings",
        ))
    elif status == "trial":
        out.append(Banner(
            "info",
            f"Free trial: {_days(lic.days_left)} left.",
            f"{t.aku} AKU until {t.expires_at:%Y-%m-%d %H:%M} UTC. Buy a license on the marketplace, "
            "then activate it on the Settings page.",
            purchase_url or settings_url,
            "Buy a license" if purchase_url else "Go to Settings",
        ))
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
