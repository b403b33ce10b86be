"""The vendor pages' words for recorded codes: a binding's state, a key's status, type and
channel, the marketplace's code status. English reads the code as it was (`bound`, `ACTIVATED`);
Chinese reads words (issue 13). Unknown codes read as themselves."""
from __future__ import annotations

from ..i18n import N_, gettext

WORDS = {
    # CodeBinding.state
    "pending": N_("pending"),
    "bound": N_("bound"),
    "replaced": N_("replaced"),
    # IssuedKey.status
    "active": N_("active"),
    "superseded": N_("superseded"),
    # WebhookDelivery.state (pending, above)
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    # MailMessage.state (pending and failed, above) and recipient
    "sent": N_("sent"),
    "dropped": N_("dropped"),
    "team": N_("team"),
    "buyer": N_("buyer"),
    "digest": N_("digest"),
    # key types and channels
    "subscription": N_("subscription"),
    "trial-extension": N_("trial-extension"),
    "alibaba-marketplace": N_("alibaba-marketplace"),
    "offline-contract": N_("offline-contract"),
    # the kinds of an audit event's subject
    "key": N_("key"),
    "code": N_("code"),
    "user": N_("user"),
    # the marketplace's status of a code
    "ACTIVATED": N_("ACTIVATED"),
    "INACTIVATED": N_("INACTIVATED"),
    "EXPIRED": N_("EXPIRED"),
    "DISCARD": N_("DISCARD"),
    "INVALID": N_("INVALID"),
}


def word(value) -> str:
    """`value` (a recorded code) in the request's language; itself when it has no words."""
    if value is None:
        return ""
    text = str(value)
    return gettext(WORDS[text]) if text in WORDS else text


def actor(name) -> str:
    """Who acted, as the audit log recorded it, in the request's language: the buyers' redemptions
    are recorded as `buyer (self-service)` and `buyer via <account>` (redeem.py); names stay."""
    if name is None:
        return ""
    text = str(name)
    if text == "buyer (self-service)":
        return gettext("buyer (self-service)")
    if text.startswith("buyer via "):
        return gettext("buyer via %(name)s", name=text[len("buyer via "):])
    if text == "system":
        return gettext("system")
    return text
