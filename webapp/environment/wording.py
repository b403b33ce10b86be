"""What the environment's pages say about refusals and the activation history.

Pure functions (no request, no database) that the templates call through the context processor
of :mod:`webapp.environment.views`, so tests call them directly:

- :func:`error_parts`: an error box's headline and the rest of its message, reading once;
- :func:`is_wait`, :func:`renewal_check_headline`: a rate limit is a wait, shown calmly;
- :func:`refusal_reason`: a refusal in a few words, for the history's "Refused: ..." (never the
  error code);
- :func:`history_key`: what could be read of a history row's key, as parts to join;
- :func:`repeats`: how often a folded refusal was seen; :func:`history_json`: a history row for
  the JSON API, in words too.
"""
from __future__ import annotations

from .. import product_key
from .. import wording as shared
from ..i18n import gettext as _
from ..timefmt import for_people
from .models import ActivationSource

# The words both sides show for the same codes (webapp/wording.py): a refusal in a few words,
# after "Refused"; how an attempt was made (Activation.source).
REFUSAL_REASONS = shared.REFUSAL_REASONS
SOURCES = shared.ACTIVATION_SOURCES


# A refused Check for renewal, as the license card's headline; a wait (a rate limit of the
# vendor's, or of the marketplace behind it) is no failure and reads calmly, as a warning.
RENEWAL_CHECK_FAILED = shared.N_("Check for renewal failed.")
RENEWAL_CHECK_WAIT = shared.N_("Too many checks just now.")
WAIT_CODES = frozenset({"rate_limited", "marketplace_throttled"})


def is_wait(error) -> bool:
    """Whether a refusal only asks to wait and try again (a rate limit: 429, or its codes)."""
    return getattr(error, "code", None) in WAIT_CODES or getattr(error, "http_status", None) == 429


def renewal_check_headline(error) -> str:
    """The headline over the vendor's message after a Check for renewal that did not go through."""
    return _(RENEWAL_CHECK_WAIT if is_wait(error) else RENEWAL_CHECK_FAILED)


def refusal_reason(code: str | None) -> str:
    """A refusal's error code in a few words ("older than the running key"); a code this
    version does not know (a newer vendor's) reads "refused by the vendor"."""
    return _(REFUSAL_REASONS.get(code or "", shared.N_("refused by the vendor")))


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
        parts.append(_("key sequence %(seq)s", seq=row.key_seq))
    if row.key_aku:
        parts.append(f"{row.key_aku} AKU")
    if row.key_expires_at:
        parts.append(_("until %(when)s", when=for_people(row.key_expires_at)))
    if row.key_reference:
        no_key = not parts and row.source in (ActivationSource.REDEEM, ActivationSource.RENEWAL_CHECK)
        parts.append(_("authorization code %(code)s", code=row.key_reference) if no_key
                     else _("reference %(code)s", code=row.key_reference))
    return parts


def repeats(row) -> str | None:
    """How often a history row's refusal was seen, when more than once: "12 times, the last at
    2026-11-01 09:05 UTC" (identical refusals in a row are one row: `activation.record_refusal`)."""
    count = row.count or 1
    if count < 2:
        return None
    return _("%(count)s times, the last at %(when)s", count=count, when=for_people(row.last_seen_at or row.at))


def history_result(row) -> str:
    """The result in words: "Applied", "Refused: older than the running key", or for a rate
    limit of the vendor's "Wait: too many attempts"."""
    if row.result == "applied":
        return _("Applied")
    if row.error_code in WAIT_CODES:
        return _("Wait: %(reason)s", reason=refusal_reason(row.error_code))
    return _("Refused: %(reason)s", reason=refusal_reason(row.error_code))


def history_sentence(row) -> str:
    """A history row as one sentence or two, as the Settings page's table reads it:
    "Refused: older than the running key, 12 times, the last at …. Product key by
    ops@example.com at …: key sequence 1 · 40 AKU · until …"."""
    said = history_result(row)
    times = repeats(row)
    if times:
        said = _("%(result)s, %(times)s", result=said, times=times)
    key = " · ".join(history_key(row))
    how = _(SOURCES.get(row.source, row.source))
    if key:
        return _("%(result)s. %(how)s by %(actor)s at %(when)s: %(key)s.", result=said, how=how, actor=row.actor,
                 when=for_people(row.at), key=key)
    return _("%(result)s. %(how)s by %(actor)s at %(when)s.", result=said, how=how, actor=row.actor,
             when=for_people(row.at))


def history_json(row) -> dict:
    """A history row for `GET /api/v1/environment/activations`: the recorded facts, and the same
    words as the page (`how`, `reason`, `key`, `summary`)."""
    def iso(moment):
        return product_key.format_time(moment) if moment else None

    refused = row.result != "applied"
    return {
        "id": row.id,
        "at": iso(row.at),
        "lastAt": iso(row.last_seen_at or row.at),
        "count": row.count or 1,
        "actor": row.actor,
        "source": row.source,
        "how": _(SOURCES.get(row.source, row.source)),
        "result": row.result,
        "errorCode": row.error_code,
        "reason": refusal_reason(row.error_code) if refused else None,
        "message": row.error_message,
        "key": " · ".join(history_key(row)) or None,
        "keyId": row.key_id,
        "keySeq": row.key_seq,
        "keyAku": row.key_aku,
        "keyExpiresAt": iso(row.key_expires_at),
        "keyReference": row.key_reference,
        "previousSeq": row.previous_seq,
        "previousAku": row.previous_aku,
        "previousExpiresAt": iso(row.previous_expires_at),
        "summary": history_sentence(row),
    }
