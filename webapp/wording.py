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

# A refusal in a few words, after "Refused" or as an audit event's reason: the product-key
# refusals (product_key.ERROR_CODES), the environment's own and the vendor's refusals of an
# authorization code (the redemption interface's codes and the vendor API's).
REFUSAL_REASONS = {
    "malformed_key": "not a valid product key",
    "signature_invalid": "signature not accepted",
    "wrong_install_id": "for another environment",
    "clock_skew": "issued ahead of this environment's clock",
    "not_yet_valid": "not valid yet",
    "key_expired": "the key has expired",
    "older_key": "older than the running key",
    "code_invalid": "not an authorization code",
    "code_not_found": "authorization code not found",
    "code_expired": "authorization code expired",
    "code_discarded": "authorization code refunded or discarded",
    "code_other_seller": "authorization code of another seller",
    "code_wrong_product": "authorization code for another product",
    "unknown_specification": "specification not sold by the vendor",
    "code_bound_elsewhere": "authorization code used by another environment",
    "install_has_license": "another authorization code is active here",
    "invalid_install_id": "install ID not accepted",
    "issuing_in_progress": "another request was issuing a key for this code",
    "rate_limited": "too many attempts",
    "marketplace_throttled": "the marketplace was busy",
    "marketplace_unavailable": "the marketplace was unavailable",
    "marketplace_credentials": "the vendor could not reach the marketplace",
    "marketplace_error": "the marketplace refused the request",
    "signing_unavailable": "the vendor could not sign a key",
    "vendor_unreachable": "the vendor could not be reached",
    "redeem_not_configured": "online activation is not set up",
}

# How an activation was attempted (Activation.source, and the audit log's "source"), in words.
ACTIVATION_SOURCES = {
    "product_key": "Product key",
    "redeem": "Authorization code",
    "renewal_check": "Check for renewal",
}


# Waits and limits, written for people (a rate limit is no failure: its answer says how long to wait).


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


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
    return "about " + _plural(max(1, round(seconds / 3600)), "hour")


_PER = {"second": "a second", "minute": "a minute", "hour": "an hour", "day": "a day", "month": "a month",
        "year": "a year"}


def limit_phrase(amount: int, multiples: int, granularity: str) -> str:
    """A rate limit as people say it: "5 an hour", "50 a day", "100 every 2 hours"."""
    if multiples == 1 and granularity in _PER:
        return f"{amount} {_PER[granularity]}"
    return f"{amount} every {_plural(multiples, granularity)}"
