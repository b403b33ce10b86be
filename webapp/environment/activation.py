"""Applying a product key on the environment: verify (steps 1-3), check against the running
license (4-7), preview, apply, or refuse with a record; the activation history; the remembered
authorization code that "Check for renewal" redeems again.

Activations first update the state row, which serializes them on every database (a row lock on
PostgreSQL, the write lock on SQLite), and apply only a key newer than the running one; the same
key applied by two requests at once is applied by one and "already active" for the other.

Refusals are limited per actor and per environment (:mod:`.refusal_limits`), and identical
refusals in a row fold into one history row with a count (:func:`record_refusal`): the history
stays bounded under a flood of bad keys, and the audit log keeps the first of them in full and a
summary of the rest.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from .. import audit, clock, product_key
from ..authorization_code import mask
from ..i18n import gettext as _
from ..database import db
from ..datakey import DataKeyError, data_key
from . import license_rules as sm
from . import refusal_limits
from .license_record import current_license, forget, raise_high_water, state_row
from .models import STATE_ROW_ID, Activation, ActivationResult, ActivationSource, EnvironmentState

log = logging.getLogger(__name__)


def verify(text: str) -> product_key.ProductKey:
    """Steps 1-3 under the trusted vendor keys (ProductKeyError)."""
    from .. import trust

    try:
        return trust.verify(text)
    except trust.TrustConfigError as exc:
        log.error("environment: trusted public keys unreadable: %s", exc)
        headline = _("This environment cannot check product keys.")
        raise product_key.ProductKeyError(
            "signature_invalid",
            headline + " " + _("Its trusted vendor keys are misconfigured (%(error)s): ask the administrator "
                               "to fix LICENSE_PUBLIC_KEYS.", error=exc),
            headline=headline,
            details={"reason": "the trusted public keys are misconfigured"},
        ) from None


def _checked(text: str, *, actor: str | None, source: str) -> tuple[sm.LicenseState, product_key.ProductKey, bool]:
    """Steps 1-7 against the license as it stands now: (before, key, already active).

    A blank submission is refused without a record; any other refusal is recorded in the
    activation history and the audit log, then raised (ProductKeyError). While the actor or the
    environment has had too many refusals, nothing is checked or recorded: RefusalsLimited.
    """
    _refuse_blank(text)
    before = current_license(fresh=True)
    if _is_running_key(text):
        # The key that runs now, sent again (a script that applies its key on every start): it
        # cannot be a refusal, so it answers "already active" without the refusal limits, which
        # with Redis cost four round trips (docs/performance.md). Should it no longer verify (the
        # trusted keys changed), it takes the ordinary path below, limits first.
        try:
            key = verify(text)
            return before, key, sm.check_key(key, before)
        except product_key.ProductKeyError:
            pass
    refusal_limits.check(actor or audit.current_actor_name(), before.install_id)
    try:
        key = verify(text)
        already = sm.check_key(key, before)
    except product_key.ProductKeyError as exc:
        record_refusal(text, exc.code, exc.message, actor=actor, source=source, reason=exc.details.get("reason"))
        raise
    return before, key, already


_RUNNING_KEY = select(EnvironmentState.product_key).where(EnvironmentState.id == STATE_ROW_ID)


def _is_running_key(text: str) -> bool:
    """Whether `text` is the key that runs now, whitespace aside (as the codec reads it)."""
    running = db.read(_RUNNING_KEY).scalar()
    return running is not None and "".join(text.split()) == running


def inspect_key(text: str, *, actor: str | None = None) -> sm.Preview:
    """Verify a key and compare it with what runs now; a refusal is recorded and raised."""
    before, key, already = _checked(text, actor=actor, source=ActivationSource.PRODUCT_KEY)
    return sm.preview(key, before, already_active=already)


def _refuse_blank(text: object) -> None:
    """An empty submission is not a key: refused with the codec's words, not recorded."""
    if not isinstance(text, str) or not text.strip():
        product_key.decode(text if isinstance(text, str) else "")


@dataclass(frozen=True)
class Applied:
    before: sm.LicenseState
    state: sm.LicenseState
    already_active: bool
    key: product_key.ProductKey


def apply_key(
    text: str,
    *,
    actor: str | None = None,
    source: str = ActivationSource.PRODUCT_KEY,
    authorization_code: str | None = None,
) -> Applied:
    """Steps 1-7, then apply: the running license changes only if every check passes.

    The same key again is "already active" and is not recorded again. Every refusal is
    recorded in the activation history and the audit log, then raised (ProductKeyError).
    """
    actor = actor or audit.current_actor_name()
    before, key, already = _checked(text, actor=actor, source=source)
    if already:
        if not authorization_code:
            return Applied(before, before, True, key)  # nothing changed: no second read
        _remember_code(authorization_code)
        db.session.commit()
        forget()
        return Applied(before, current_license(fresh=True), True, key)

    lic = key.license
    now = before.now
    # A remembered authorization code that is not this key's (a pasted key of an offline contract
    # or another code) no longer describes the running license: "Check for renewal" would fetch
    # that other code's key over this one, so it is forgotten.
    forget_code = authorization_code is None and before.authorization_code not in (None, lic.reference)
    forgotten = {"authorization_code_encrypted": None, "authorization_code_masked": None} if forget_code else {}
    done = db.session.execute(
        update(EnvironmentState)
        .where(
            EnvironmentState.id == STATE_ROW_ID,
            or_(EnvironmentState.license_seq.is_(None), EnvironmentState.license_seq < lic.seq),
        )
        .values(
            product_key=key.text,
            license_id=lic.id,
            license_seq=lic.seq,
            license_type=lic.type,
            license_channel=lic.channel,
            license_reference=lic.reference,
            license_product=lic.product,
            license_aku=lic.aku,
            license_issued_at=lic.issued_at,
            license_not_before=lic.not_before,
            license_expires_at=lic.expires_at,
            license_kid=key.kid,
            activated_at=now,
            activated_by=actor,
            high_water_at=raise_high_water(now),
            revision=EnvironmentState.revision + 1,
            **forgotten,
        )
    ).rowcount
    if done != 1:  # another key was applied between the check and this write
        db.session.rollback()
        running = current_license(fresh=True)
        if running.terms.id == lic.id and running.terms.seq == lic.seq:
            # This very key, applied by a request at the same moment: already active, no refusal.
            if authorization_code:
                _remember_code(authorization_code)
                db.session.commit()
                forget()
                running = current_license(fresh=True)
            return Applied(running, running, True, key)
        headline = "A newer key was applied at the same moment."
        exc = product_key.ProductKeyError(
            "older_key",
            f"{headline} This one cannot replace it: apply the newest key the vendor issued for this environment.",
            headline=headline,
        )
        record_refusal(text, exc.code, exc.message, actor=actor, source=source)
        raise exc
    if authorization_code:
        _remember_code(authorization_code)
    b = before.terms
    _close_folded_refusals(_latest_activation(), before.install_id)
    db.session.add(
        Activation(
            at=now,
            actor=actor,
            source=source,
            result=ActivationResult.APPLIED,
            key_id=lic.id,
            key_seq=lic.seq,
            key_aku=lic.aku,
            key_expires_at=lic.expires_at,
            key_reference=lic.reference,
            previous_seq=b.seq,
            previous_aku=b.aku,
            previous_expires_at=b.expires_at,
        )
    )
    audit.record(
        "license_activated",
        actor=actor,
        subject=f"license:{lic.id}",
        install_id=before.install_id,
        before=_terms_summary(b),
        after=_terms_summary(sm.terms_from_key(lic)),
        detail=f"source: {source}; kid: {key.kid}"
        + (f"; authorization code {before.authorization_code} forgotten" if forget_code else ""),
    )
    db.session.commit()
    forget()
    return Applied(before, current_license(fresh=True), False, key)


def _terms_summary(t: sm.Terms) -> dict:
    return {
        "seq": t.seq,
        "id": t.id,
        "type": t.type,
        "channel": t.channel,
        "reference": t.reference,
        "aku": t.aku,
        "expiresAt": product_key.format_time(t.expires_at),
    }


def fingerprint(text: str | None, reference: str | None = None) -> str | None:
    """What makes two refusals "the same key": the SHA-256 of the text sent, whitespace left out
    (as the codec reads it), or for a redemption refused before any key came back, of the masked
    authorization code. None when there is neither."""
    if text and text.strip():
        seen = "key " + "".join(text.split())
    elif reference:
        seen = "code " + reference
    else:
        return None
    return hashlib.sha256(seen.encode("utf-8", "surrogatepass")).hexdigest()


def folds_into(latest: Activation | None, *, actor: str, source: str, code: str, key_fingerprint: str | None,
               now: datetime, window: timedelta) -> bool:
    """Whether a refusal is one more of the history's latest row (pure): that row is a refusal by
    the same actor, made the same way, for the same reason, of the same key, and its first
    refusal is less than `window` before `now`. Anything else in between (an applied key, another
    refusal) starts a new row."""
    if latest is None or latest.result != ActivationResult.REFUSED or window <= timedelta(0):
        return False
    return (
        latest.actor == actor
        and latest.source == source
        and latest.error_code == code
        and latest.key_fingerprint == key_fingerprint
        and timedelta(0) <= now - latest.at < window
    )


def _latest_activation() -> Activation | None:
    """The history's latest row as the database has it now (another request may have counted on it)."""
    return db.session.scalar(select(Activation).order_by(Activation.id.desc()).limit(1)
                             .execution_options(populate_existing=True))


def _serialize_history() -> None:
    """Take the state row's lock (a row lock on PostgreSQL, the write lock on SQLite) before
    reading the latest history row, so that two refusals at once never both fold into it or both
    close it."""
    db.session.execute(
        update(EnvironmentState)
        .where(EnvironmentState.id == STATE_ROW_ID)
        .values(revision=EnvironmentState.revision)
    )


def _close_folded_refusals(latest: Activation | None, install_id: str) -> None:
    """A new history row closes the latest one: when it folded repeats, the audit log gets their
    summary (`license_activation_refusals_repeated`: how many in all, the first and the last)."""
    if latest is None or latest.result != ActivationResult.REFUSED or (latest.count or 1) < 2:
        return
    first, last = latest.at, latest.last_seen_at or latest.at
    audit.record(
        "license_activation_refusals_repeated",
        actor=latest.actor,
        subject=f"license:{latest.key_id}" if latest.key_id else None,
        install_id=install_id,
        after={"code": latest.error_code, "count": latest.count, "source": latest.source, "seq": latest.key_seq,
               "firstAt": product_key.format_time(first), "lastAt": product_key.format_time(last)},
        detail=f"The same refusal {latest.count} times in all from {product_key.format_time(first)} to "
               f"{product_key.format_time(last)}; the first is recorded on its own "
               f"(activation history row {latest.id}).",
    )


def record_refusal(
    text: str | None,
    code: str,
    message: str,
    *,
    actor: str | None = None,
    source: str = ActivationSource.PRODUCT_KEY,
    reference: str | None = None,
    reason: str | None = None,
) -> None:
    """A refused key (or redemption) in the activation history and the audit log, counted against
    the refusal limits. ``reason``, the codec's precise technical reason, goes to the audit log
    only (for support): the history keeps the message people read.

    The same refusal again (same actor, source, error code and key; :func:`folds_into`) within
    ``LICENSE_REFUSAL_FOLD_SECONDS`` of the latest row's first adds one to that row's ``count``
    and moves its ``last_seen_at``, with no audit event of its own; the next row to be written
    closes it with a summary in the audit log (:func:`_close_folded_refusals`).
    """
    actor = actor or audit.current_actor_name()
    db.session.rollback()
    seen: dict = {}
    if text:
        try:
            seen = sm.describe_key(product_key.decode(text))
        except product_key.ProductKeyError:
            seen = {}
    row = state_row()
    install_id = row.install_id
    _serialize_history()
    now = sm.effective_now(clock.now(), row.high_water_at)
    key_fingerprint = fingerprint(text, reference)
    latest = _latest_activation()
    window = timedelta(seconds=current_app.config["LICENSE_REFUSAL_FOLD_SECONDS"] or 0)
    if folds_into(latest, actor=actor, source=source, code=code, key_fingerprint=key_fingerprint,
                  now=now, window=window):
        db.session.execute(
            update(Activation)
            .where(Activation.id == latest.id)
            .values(count=Activation.count + 1, last_seen_at=now)
        )
        db.session.commit()
        refusal_limits.count(actor, install_id)
        return
    _close_folded_refusals(latest, install_id)
    db.session.add(
        Activation(
            at=now,
            last_seen_at=now,
            count=1,
            actor=actor,
            source=source,
            result=ActivationResult.REFUSED,
            error_code=code,
            error_message=message,
            key_id=seen.get("id"),
            key_seq=seen.get("seq"),
            key_aku=seen.get("aku"),
            key_expires_at=seen.get("expires_at"),
            key_reference=reference or seen.get("reference"),
            key_fingerprint=key_fingerprint,
        )
    )
    audit.record(
        "license_activation_refused",
        actor=actor,
        subject=f"license:{seen['id']}" if "id" in seen else None,
        install_id=install_id,
        after={"code": code, "seq": seen.get("seq"), "source": source},
        detail=message + (f" (reason: {reason})" if reason else ""),
    )
    db.session.commit()
    refusal_limits.count(actor, install_id)


_HISTORY = (select(*Activation.__table__.columns)
            .order_by(Activation.at.desc(), Activation.id.desc()).limit(bindparam("limit")))


def history(limit: int = 50) -> list[SimpleNamespace]:
    """The latest `limit` attempts, newest first: rows with the attributes of an `Activation`, read
    as plain columns (the Settings page reads them on every view; ORM objects cost more to load
    than the query)."""
    return [SimpleNamespace(**row._mapping) for row in db.read(_HISTORY, {"limit": limit})]


# --------------------------------------------------------------------------------------------
# The remembered authorization code


def _remember_code(code: str) -> None:
    key = data_key(current_app.config["LICENSE_DATA_KEY"])
    db.session.execute(
        update(EnvironmentState)
        .where(EnvironmentState.id == STATE_ROW_ID)
        .values(authorization_code_encrypted=key.encrypt(code), authorization_code_masked=mask(code))
    )


def remembered_code() -> str | None:
    row = state_row()
    if not row.authorization_code_encrypted:
        return None
    try:
        return data_key(current_app.config["LICENSE_DATA_KEY"]).decrypt(row.authorization_code_encrypted)
    except DataKeyError:
        log.warning("environment: the remembered authorization code was encrypted with another data key")
        return None
