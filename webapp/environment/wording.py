"""What the environment's pages say about refusals and the activation history.

Pure functions (no request, no database) that the templates call through the context processor
of :mod:`webapp.environment.views`, so tests call them directly:

- :func:`error_parts`: an error box's headline and the rest of its message, reading once;
- :func:`refusal_reason`: a refusal in a few words, for the history's "Refused: ..." (never the
  error code);
- :func:`history_key`: what could be read of a history row's key, as parts to join.
"""
from __future__ import annotations

from ..timefmt import for_people

# A refusal in a few words, after "Refused": the product-key refusals (product_key.ERROR_CODES),
# the environment's own and the vendor's refusals of an authorization code (interfaces.md).
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
    "rate_limited": "too many attempts",
    "marketplace_throttled": "the marketplace was busy",
    "marketplace_unavailable": "the marketplace was unavailable",
    "marketplace_credentials": "the vendor could not reach the marketplace",
    "vendor_unreachable": "the vendor could not be reached",
    "redeem_not_configured": "online activation is not set up",
}

# How an attempt was made (Activation.source), in words.
SOURCES = {
    "product_key": "Product key",
    "redeem": "Authorization code",
    "renewal_check": "Check for renewal",
}


def refusal_reason(code: str | None) -> str:
    """A refusal's error code in a few words ("older than the running key"); a code this
    version does not know (a newer vendor's) reads "refused by the vendor"."""
    return REFUSAL_REASONS.get(code or "", "refused by the vendor")


def error_parts(error, headline: str | None = None) -> tuple[str | None, str]:
    """An error box's headline (shown in bold) and the text after it, so that nothing reads twice.

    A product-key refusal starts its message with its own headline ("This key has expired. It
    was valid until ..."): that sentence is the headline and the rest follows. Any other error (a
    vendor's refusal of an authorization code, a refusal raised without a headline) keeps its
    whole message, after ``headline`` when the box has one of its own ("Check for renewal
    failed."), or alone.
    """
    message = error.message
    own = getattr(error, "headline", None)
    if own and message.startswith(own):
        return own, message[len(own):].lstrip()
    return headline, message


def history_key(row) -> list[str]:
    """What could be read of the key of an activation history row, as parts to join with " · ":
    "key sequence 4", "40 AKU", "until 2026-12-01 09:00 UTC", "reference ****7Q2K". An authorization
    code refused before any key came back reads "authorization code ****7Q2K". Empty when nothing
    could be read."""
    parts = []
    if row.key_seq is not None:
        parts.append(f"key sequence {row.key_seq}")
    if row.key_aku:
        parts.append(f"{row.key_aku} AKU")
    if row.key_expires_at:
        parts.append(f"until {for_people(row.key_expires_at)}")
    if row.key_reference:
        no_key = not parts and row.source in ("redeem", "renewal_check")
        parts.append(f"{'authorization code' if no_key else 'reference'} {row.key_reference}")
    return parts
