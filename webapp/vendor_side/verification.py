"""Verifying an authorization code before issuing (the staff page's "Verify"): what the
marketplace says (DescribeLicense, step 1's refusals) and what stands in the way here (the code
bound to another environment, a live license from elsewhere: the one-license rule).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from marketplace_adapter import errors as market_errors
from marketplace_adapter.parsing import LIVE_STATUSES

from .. import clock
from ..i18n import gettext as _
from ..timefmt import day_for_people
from ..authorization_code import mask
from ..database import db
from ..product_key import Channel, KeyType
from .bindings import decrypt_code, find_binding, latest_key_for_binding
from .ledger import current_key
from .marketplace import market
from .models import BindingState, CodeBinding, IssuedKey
from .rules import (
    IssueError,
    _join,
    Terms,
    check_license,
    classify,
    from_marketplace_error,
    normalize_code,
    normalize_install_id,
)

CHANNEL = Channel.ALIBABA_MARKETPLACE


def describe(code: str):
    """DescribeLicense, with the marketplace's failures as `IssueError`s."""
    try:
        return market().client.describe_license(code)
    except market_errors.MarketplaceError as exc:
        raise from_marketplace_error(exc) from None


def check(lic, now: datetime) -> Terms:
    mk = market()
    return check_license(
        lic, product_code=mk.product_code, specs=mk.specs,
        default_product=current_app.config["LICENSE_PRODUCT_NAME"], now=now,
    )


def license_is_live(key: IssuedKey | None, now: datetime, *, recheck: bool = True) -> bool:
    """Whether the install's current key still stands for a live license (the one-license rule).

    A trial extension never blocks a purchase. A marketplace key is live while its code is: the
    code is read again (unless `recheck` is off); when the marketplace cannot be asked, the last
    known answer counts.
    """
    if key is None or key.type == KeyType.TRIAL_EXTENSION or key.expires_at <= now:
        return False
    if key.channel != CHANNEL or key.binding_id is None:
        return True
    binding = db.session.get(CodeBinding, key.binding_id)
    if binding is None:
        return True
    if recheck:
        try:
            lic = market().client.describe_license(decrypt_code(binding))
            return lic.is_live(now)
        except (market_errors.CodeExpired, market_errors.CodeDiscarded, market_errors.CodeNotFound,
                market_errors.CodeInvalid):
            return False
        except market_errors.MarketplaceError:
            pass
    if binding.market_status not in LIVE_STATUSES:
        return False
    return binding.market_expires_at is None or binding.market_expires_at > now


def bound_elsewhere(binding: CodeBinding, *, staff: bool) -> IssueError:
    if staff:
        message = _(
            "This authorization code is bound to another environment (install ID %(install_id)s). "
            "One code licenses one environment: an admin can transfer it to this install ID.",
            install_id=binding.install_id,
        )
    else:
        message = _(
            "This authorization code is already bound to another environment. One code licenses one "
            "environment; to move it to this one, contact support."
        )
    return IssueError("code_bound_elsewhere", message, 409)


def has_license(current: IssuedKey, *, staff: bool) -> IssueError:
    until = day_for_people(current.expires_at)
    reference = current.reference or _("an offline contract")
    message = _(
        "This environment already has a live license (%(aku)s AKU, %(reference)s, until %(until)s). "
        "An environment runs one license at a time, and AKU from two codes do not add up.",
        aku=current.aku, reference=reference, until=until,
    )
    message = _join(message, _("An admin can replace it with this code.") if staff
                    else _("To replace it with this code, contact support."))
    return IssueError("install_has_license", message, 409)


@dataclass
class Verification:
    """What the marketplace says about a code, and what we know about it and the install ID."""

    code_masked: str
    install_id: str
    market: object | None = None  # marketplace_adapter.License
    refusal: IssueError | None = None
    terms: Terms | None = None
    binding: CodeBinding | None = None
    current: IssuedKey | None = None  # the install ID's active key
    code_key: IssuedKey | None = None  # the latest key issued from this code
    current_live: bool = False
    change: str | None = None
    blockers: list[IssueError] = field(default_factory=list)

    @property
    def can_issue(self) -> bool:
        return self.refusal is None and not self.blockers

    def blocker(self, code: str) -> IssueError | None:
        return next((b for b in self.blockers if b.code == code), None)


def verify_code(code: str, install_id: str, *, now: datetime | None = None, staff: bool = True) -> Verification:
    """Read-only: DescribeLicense and our records, for the staff page's "Verify"."""
    code = normalize_code(code)
    install_id = normalize_install_id(install_id)
    now = now or clock.now_seconds()
    result = Verification(code_masked=mask(code), install_id=install_id)
    try:
        result.market = describe(code)
        result.terms = check(result.market, now)
    except IssueError as exc:
        result.refusal = exc
    result.binding = find_binding(code)
    result.current = current_key(install_id)
    if result.binding is not None:
        result.code_key = latest_key_for_binding(result.binding.id)
    if result.terms is not None:
        binding_id = result.binding.id if result.binding is not None else None
        result.change = classify(result.current, result.terms, binding_id)
    binding = result.binding
    if binding is not None and binding.state != BindingState.PENDING and binding.install_id != install_id:
        result.blockers.append(bound_elsewhere(binding, staff=staff))
    if result.current is not None and (binding is None or result.current.binding_id != binding.id):
        result.current_live = license_is_live(result.current, now)
        if result.current_live:
            result.blockers.append(has_license(result.current, staff=staff))
    return result
