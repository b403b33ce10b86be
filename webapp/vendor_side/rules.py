"""The rules of issuing from an authorization code, as pure functions (no Flask, no database).

- `check_license`: step 1's refusals (status, product code, specification, expiry) and the terms
  the key would carry.
- `classify`: new license, nothing changed, renewal, specification change.
- `from_marketplace_error`: the marketplace's failures as the API's error codes.

Every refusal is an `IssueError` (a `RedeemError`, so the redemption interface passes it on
as is) with the API's code, its HTTP status and a message that says what to do.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from marketplace_adapter import errors as market_errors
from marketplace_adapter.parsing import CodeStatus, LIVE_STATUSES

from .. import authorization_code, product_key
from ..i18n import N_, gettext as _, lazy_gettext
from ..redeem_interface import RedeemError
from ..timefmt import day_for_people
from ..wording import limit_phrase, wait_phrase  # noqa: F401 - the vendor's names for them
from .specs import Spec, find_spec, specification_of

WHERE_IS_THE_CODE = N_(
    "The buyer finds the authorization code in the Alibaba Cloud Marketplace buyer console, "
    "under Purchased Services."
)


class IssueError(RedeemError):
    """A refusal with the API's error code, HTTP status and a message for a person."""

    def __repr__(self) -> str:
        return f"IssueError({self.code!r}, {self.http_status})"


def normalize_install_id(value: str | None) -> str:
    install_id = (value or "").strip().lower()
    if not product_key.is_install_id(install_id):
        raise IssueError(
            "invalid_install_id",
            _("The install ID must be 32 hexadecimal digits. Copy it from the environment's "
              "Settings page (Install ID, with its copy button)."),
            422,
        )
    return install_id


def normalize_code(value: str | None) -> str:
    """The code by `authorization_code.normalize`'s rule, refused in the words of the issuing forms."""
    try:
        return authorization_code.normalize(value)
    except authorization_code.CodeInvalid as exc:
        if exc.reason == "blank":
            raise IssueError("code_invalid", _join(_("Enter the authorization code."), _(WHERE_IS_THE_CODE)),
                             422) from None
        raise IssueError(
            "code_invalid",
            _join(_("That is not an authorization code: it holds characters a code cannot have, or is too long. "
                    "Copy the code alone."), _(WHERE_IS_THE_CODE)),
            422,
        ) from None


def _join(*sentences: str) -> str:
    """Sentences one after another: a space between English ones, none between Chinese ones."""
    out = ""
    for sentence in sentences:
        if out and not out.endswith(("。", "：", "；", "）", "！", "？")):
            out += " "
        out += sentence
    return out


def code_fields(form: Mapping[str, str]) -> dict[str, str]:
    """The typed "code" and "install_id" of an issue or redeem form, kept for the next step."""
    return {name: (form.get(name) or "").strip() for name in ("code", "install_id")}


def field_errors(values: Mapping[str, str]) -> dict[str, str]:
    """The forms' "code" and "install_id" fields: what is wrong with each, by field name."""
    errors = {}
    for name, check in (("code", normalize_code), ("install_id", normalize_install_id)):
        try:
            check(values.get(name))
        except IssueError as exc:
            errors[name] = exc.message
    return errors


@dataclass(frozen=True)
class Terms:
    """What a key issued from a code would grant."""

    aku: int
    expires_at: datetime
    product: str
    spec: Spec

    def to_json(self) -> dict:
        return {"aku": self.aku, "expiresAt": iso(self.expires_at), "product": self.product,
                "specification": self.spec.key}


def iso(moment: datetime | None) -> str | None:
    """A time as the API and the keys write it (`YYYY-MM-DDThh:mm:ssZ`), or None."""
    return product_key.format_time(moment) if moment else None


def check_license(
    lic,
    *,
    product_code: str,
    specs: Mapping[str, Spec],
    default_product: str,
    now: datetime,
) -> Terms:
    """Step 1's refusals, in order; the terms of the key otherwise."""
    status = (lic.status or "").upper()
    if status == CodeStatus.EXPIRED:
        raise code_expired(lic.expires_at)
    if status == CodeStatus.DISCARD:
        raise code_discarded()
    if status not in LIVE_STATUSES:
        raise IssueError(
            "code_invalid",
            _("The marketplace reports this code as %(status)s, which cannot be "
              "licensed. Check the order in the buyer console, or contact support.", status=status or _("unknown")),
            422,
        )
    if lic.product_code != product_code:
        raise IssueError(
            "code_wrong_product",
            _("This authorization code is for another product (%(product)s), "
              "not this one. Check that the code comes from this product's order.",
              product=lic.product_code or _("unknown")),
            422,
        )
    spec = find_spec(specs, lic)
    if spec is None:
        raise IssueError(
            "unknown_specification",
            _("The code's specification (%(specification)s) has no AKU configured "
              "here. Contact support: the vendor must add it to MARKETPLACE_SPECS.",
              specification=specification_of(lic) or _("none")),
            422,
        )
    if lic.expires_at is None:
        raise IssueError(
            "code_invalid",
            _("The marketplace gives no expiry date for this code, so no key can be issued. "
              "Contact support."),
            422,
        )
    if lic.expires_at <= now:
        raise code_expired(lic.expires_at)
    product = spec.name or getattr(lic, "product_name", None) or default_product
    return Terms(aku=spec.aku, expires_at=lic.expires_at.replace(microsecond=0), product=product, spec=spec)


def _expired_message(expires_at: datetime | None) -> str:
    if expires_at:
        return _("This authorization code expired on %(day)s. Renew the subscription on the marketplace "
                 "(buyer console, Purchased Services), then redeem the same code again.",
                 day=day_for_people(expires_at))
    return _("This authorization code expired. Renew the subscription on the marketplace "
             "(buyer console, Purchased Services), then redeem the same code again.")


def code_expired(expires_at: datetime | None = None) -> IssueError:
    return IssueError("code_expired", _expired_message(expires_at), 422)


def code_discarded() -> IssueError:
    return IssueError(
        "code_discarded",
        _("This authorization code was discarded by the marketplace (the order was refunded or "
          "cancelled). A new purchase gives a new code."),
        422,
    )


# ------------------------------------------------------------------------------------------
# Waits, written for people (the words are shared: webapp/wording.py)


def rate_limit_message(scope: str, seconds: float, limit: str | None = None) -> str:
    """The message of a `rate_limited` answer of self-service redemption.

    `scope`: "client" (the caller's address) or "code" (the authorization code); `limit` as
    `limit_phrase` writes it. A rate limit is no failure, so it never sends people to support;
    the wait is in words (`wait_phrase`), while `Retry-After` carries the seconds.
    """
    wait = wait_phrase(seconds)
    if scope == "client":
        if limit:
            return _("Too many redemption attempts from this address (at most %(limit)s). "
                     "Wait %(wait)s, then try again.", limit=limit, wait=wait)
        return _("Too many redemption attempts from this address. Wait %(wait)s, then try again.", wait=wait)
    if limit:
        return _("Too many redemption attempts for this authorization code (at most %(limit)s). "
                 "Wait %(wait)s, then try again.", limit=limit, wait=wait)
    return _("Too many redemption attempts for this authorization code. Wait %(wait)s, then try again.",
             wait=wait)


class Change(StrEnum):
    """What a new key means for the environment, compared with its current key (`classify`;
    an issue's `change`, in its answer and audit event)."""

    NEW = "new"
    UNCHANGED = "unchanged"
    RENEWAL = "renewal"
    SPEC_CHANGE = "spec_change"
    RENEWAL_AND_SPEC_CHANGE = "renewal_and_spec_change"
    CHANGE = "change"
    OFFLINE = "offline"  # an offline-contract key (the audit event's only; `classify` never says it)


CHANGE_LABELS = {
    Change.NEW: lazy_gettext("New license"),
    Change.UNCHANGED: lazy_gettext("Nothing changed"),
    Change.RENEWAL: lazy_gettext("Renewal"),
    Change.SPEC_CHANGE: lazy_gettext("Specification change"),
    Change.RENEWAL_AND_SPEC_CHANGE: lazy_gettext("Renewal and specification change"),
    Change.CHANGE: lazy_gettext("Changed terms"),
}


def classify(current, terms: Terms, binding_id: int | None) -> Change:
    """`current` is the install ID's active key (or None); `binding_id` the code's binding.

    A key from another code (or none) makes this a new license. From the same code: nothing
    changed when AKU, expiry and product are the same; otherwise a renewal (later expiry), a
    specification change (other AKU), both, or another change (an earlier expiry, a new name).
    """
    if current is None or binding_id is None or current.binding_id != binding_id:
        return Change.NEW
    same_aku = current.aku == terms.aku
    same_expiry = current.expires_at.replace(microsecond=0) == terms.expires_at
    if same_aku and same_expiry and current.product == terms.product:
        return Change.UNCHANGED
    later = terms.expires_at > current.expires_at.replace(microsecond=0)
    if later and not same_aku:
        return Change.RENEWAL_AND_SPEC_CHANGE
    if later:
        return Change.RENEWAL
    if not same_aku and same_expiry:
        return Change.SPEC_CHANGE
    return Change.CHANGE


def from_marketplace_error(exc: market_errors.MarketplaceError) -> IssueError:
    """The API's error for a marketplace failure. Nothing was changed when this is raised."""
    ref = (_(" (marketplace request id %(id)s)", id=exc.request_id) if getattr(exc, "request_id", None) else "")
    if isinstance(exc, market_errors.CodeNotFound):
        return IssueError(
            "code_not_found",
            _join(_("The marketplace does not know this authorization code. Check it was copied whole."),
                  _(WHERE_IS_THE_CODE)),
            404,
        )
    if isinstance(exc, market_errors.CodeExpired):
        return code_expired()
    if isinstance(exc, market_errors.CodeDiscarded):
        return code_discarded()
    if isinstance(exc, market_errors.CodeNotForThisSeller):
        return IssueError(
            "code_other_seller",
            _("This authorization code belongs to another seller's product. Check that the code is "
              "for this product."),
            422,
        )
    if isinstance(exc, market_errors.CodeInvalid):
        return IssueError(
            "code_invalid",
            _("The marketplace says this authorization code is not valid (it may be activated for "
              "another account). Check the order in the buyer console, or contact support."),
            422,
        )
    if isinstance(exc, market_errors.Throttled):
        wait = exc.retry_after if exc.retry_after else 5.0
        return IssueError(
            "marketplace_throttled",
            _("The marketplace is rate limiting requests. Nothing was changed; try again in %(wait)s.",
              wait=wait_phrase(wait)),
            429,
            retry_after=max(1, math.ceil(wait)),
        )
    if isinstance(exc, market_errors.CredentialsRejected):
        return IssueError(
            "marketplace_credentials",
            _("The marketplace rejected the vendor's credentials, so the code could not be checked. "
              "Nothing was changed. Vendor staff: %(advice)s%(ref)s", advice=exc.advice, ref=ref),
            502,
        )
    if isinstance(exc, (market_errors.MarketplaceUnavailable, market_errors.BadResponse)):
        return IssueError(
            "marketplace_unavailable",
            _("The marketplace could not be reached or answered something unexpected. Nothing was "
              "changed; try again in a few minutes%(ref)s.", ref=ref),
            503,
        )
    return IssueError(
        "marketplace_error",
        _("The marketplace refused the request%(ref)s. Nothing was changed; try again later, or "
          "contact support.", ref=ref),
        502,
    )
