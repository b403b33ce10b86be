"""Words that both sides show for the same recorded codes.

The vendor and the environment never import each other, yet both show the same error codes
(the product key's refusals, the redemption interface's) and activation sources, from the
activation history and the audit log. Their words live here, in one place:

- :data:`REFUSAL_REASONS`: a refusal in a few words ("authorization code expired"), never the code;
- :data:`ACTIVATION_SOURCES`: how an activation was attempted (``Activation.source``);
- :func:`wait_phrase`, :func:`limit_phrase`: a rate limit's wait and its limit, as people say them
  (the vendor's redemption limits, the environment's limits on refused keys).

Pure data and pure functions; :mod:`webapp.environment.wording` and :mod:`webapp.audit` build on it.
"""
from __future__ import annotations

import math

from .i18n import gettext as _


def N_(message: str) -> str:
    """Marks words for the catalogue (pybabel extract); `_` translates them where they are shown."""
    return message


# A refusal in a few words, after "Refused" or as an audit event's reason: the product-key
# refusals (product_key.ERROR_CODES), the environment's own and the vendor's refusals of an
# authorization code (the redemption interface's codes and the vendor API's).
REFUSAL_REASONS = {
    "malformed_key": N_("not a valid product key"),
    "signature_invalid": N_("signature not accepted"),
    "wrong_install_id": N_("for another environment"),
    "clock_skew": N_("issued ahead of this environment's clock"),
    "not_yet_valid": N_("not valid yet"),
    "key_expired": N_("the key has expired"),
    "older_key": N_("older than the running key"),
    "code_invalid": N_("not an authorization code"),
    "code_not_found": N_("authorization code not found"),
    "code_expired": N_("authorization code expired"),
    "code_discarded": N_("authorization code refunded or discarded"),
    "code_other_seller": N_("authorization code of another seller"),
    "code_wrong_product": N_("authorization code for another product"),
    "unknown_specification": N_("specification not sold by the vendor"),
    "code_bound_elsewhere": N_("authorization code used by another environment"),
    "install_has_license": N_("another authorization code is active here"),
    "invalid_install_id": N_("install ID not accepted"),
    "issuing_in_progress": N_("another request was issuing a key for this code"),
    "rate_limited": N_("too many attempts"),
    "marketplace_throttled": N_("the marketplace was busy"),
    "marketplace_unavailable": N_("the marketplace was unavailable"),
    "marketplace_credentials": N_("the vendor could not reach the marketplace"),
    "marketplace_error": N_("the marketplace refused the request"),
    "signing_unavailable": N_("the vendor could not sign a key"),
    "vendor_unreachable": N_("the vendor could not be reached"),
    "redeem_not_configured": N_("online activation is not set up"),
}

# How an activation was attempted (Activation.source, and the audit log's "source"), in words.
ACTIVATION_SOURCES = {
    "product_key": N_("Product key"),
    "redeem": N_("Authorization code"),
    "renewal_check": N_("Check for renewal"),
}


# Waits and limits, written for people (a rate limit is no failure: its answer says how long to wait).


_UNITS = {  # one, many
    "second": (N_("%(n)s second"), N_("%(n)s seconds")),
    "minute": (N_("%(n)s minute"), N_("%(n)s minutes")),
    "hour": (N_("%(n)s hour"), N_("%(n)s hours")),
    "day": (N_("%(n)s day"), N_("%(n)s days")),
    "month": (N_("%(n)s month"), N_("%(n)s months")),
    "year": (N_("%(n)s year"), N_("%(n)s years")),
}


def _plural(n: int, unit: str) -> str:
    one, many = _UNITS.get(unit, (f"%(n)s {unit}", f"%(n)s {unit}s"))
    return _(one if n == 1 else many, n=n)


def wait_phrase(seconds: float) -> str:
    """A wait as people say it: "30 seconds" (under a minute), "58 minutes" (under an hour),
    "about 1 hour", "about 23 hours". Never shorter than the wait: seconds and minutes are
    rounded up, hours (said with "about") to the nearest."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return _plural(seconds, "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    return _("about %(hours)s", hours=_plural(max(1, round(seconds / 3600)), "hour"))


_PER = {"second": N_("%(n)s a second"), "minute": N_("%(n)s a minute"), "hour": N_("%(n)s an hour"),
        "day": N_("%(n)s a day"), "month": N_("%(n)s a month"), "year": N_("%(n)s a year")}


def limit_phrase(amount: int, multiples: int, granularity: str) -> str:
    """A rate limit as people say it: "5 an hour", "50 a day", "100 every 2 hours"."""
    if multiples == 1 and granularity in _PER:
        return _(_PER[granularity], n=amount)
    return _("%(n)s every %(period)s", n=amount, period=_plural(multiples, granularity))
