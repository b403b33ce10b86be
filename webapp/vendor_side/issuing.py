"""Issuing a product key from an authorization code: the steps of overview.md.

The marketplace cannot be called inside a database transaction (it is slow, and ActivateLicense
cannot be undone), so issuing runs in steps, each safe to fail:

1. DescribeLicense, no lock held; the refusals of `rules.check_license`.
2. Take the binding: insert a `pending` row unique on the code's keyed hash and commit (or, for
   a code already bound to this install ID, put a claim on its row). A code bound to another
   install ID is refused (`code_bound_elsewhere`) unless an admin transfers it; a claim older than
   two minutes belonged to a crashed worker and is taken over. Someone else's fresh claim is
   waited for a few seconds, then answered `issuing_in_progress`.
3. ActivateLicense with the buyer's AliUid when the code is INACTIVATED (`MARKETPLACE_ACTIVATE`).
4. One transaction: `ledger.issue_key` (next seq, sign, store, supersede), binding `bound`,
   the audit records.

Any failure removes the pending row (or lifts the claim), so nothing half-made remains. When
nothing changed (same install ID, AKU, expiry and product as the current key from this code),
the stored key is answered again: no claim, no marketplace write, no new seq.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from marketplace_adapter import errors as market_errors
from marketplace_adapter.parsing import LIVE_STATUSES, CodeStatus

from .. import audit, clock, metrics
from ..i18n import gettext as _
from ..cli import command_line
from ..authorization_code import mask
from ..database import db
from ..product_key import KeyType
from .bindings import code_hash, encrypt_code, find_binding, is_owner, mask_uid
from .ledger import current_key, issue_key, key_terms
from .models import BindingState, CodeBinding, IssuedKey
from .signing_keys import SigningKeyMissing
from .verification import CHANNEL, bound_elsewhere, check, describe, has_license, license_is_live
from .marketplace import ActivateMode, market
from .rules import (
    Change,
    IssueError,
    Terms,
    classify,
    code_discarded,
    code_expired,
    from_marketplace_error,
    normalize_code,
    normalize_install_id,
)

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=2)


@dataclass
class Issued:
    key: IssuedKey
    created: bool  # False: the stored key, nothing changed
    change: str
    previous: dict | None = None  # the install's key before, as `key_terms`


def _from_last_read(binding: CodeBinding, install_id: str, now: datetime, max_age: float) -> Issued | None:
    """The answer the code's last marketplace read gives, when it is younger than `max_age` seconds
    and the code is bound to `install_id`: the stored key when that read said nothing changed, the
    refusal when it said expired or discarded. None: read the marketplace again (anything else,
    a claim in progress, an unreadable code, or a read that differs from the current key)."""
    checked = binding.checked_at
    if max_age <= 0 or checked is None or binding.check_error or binding.claim_token is not None:
        return None
    age = (now - checked).total_seconds()
    if age < 0 or age >= max_age:
        return None
    if binding.market_status == CodeStatus.DISCARD:
        raise code_discarded()
    if binding.market_status == CodeStatus.EXPIRED or (binding.market_expires_at is not None and binding.market_expires_at <= now):
        raise code_expired(binding.market_expires_at)
    if binding.market_status not in LIVE_STATUSES or binding.product_code != market().product_code:
        return None
    current = current_key(install_id)
    if (current is None or current.binding_id != binding.id or current.aku != binding.market_aku
            or current.expires_at.replace(microsecond=0) != binding.market_expires_at):
        return None
    return Issued(key=current, created=False, change=Change.UNCHANGED, previous=key_terms(current))


def _record_read(binding_id: int, install_id: str, values: dict, now: datetime) -> None:
    """Store a marketplace read on a bound code's row (as the reconciler does), so the next renewal
    check within `VENDOR_REDEEM_CODE_CACHE_SECONDS` needs none. Only while the code is bound here,
    nobody holds its claim and no newer read is stored: an issuing worker writes its own."""
    db.session.execute(
        update(CodeBinding)
        .where(CodeBinding.id == binding_id, CodeBinding.state == BindingState.BOUND, CodeBinding.install_id == install_id,
               CodeBinding.claim_token.is_(None), or_(CodeBinding.checked_at.is_(None), CodeBinding.checked_at <= now))
        .values(checked_at=now, check_error=None, **values)
        .execution_options(synchronize_session=False)  # the commit expires the session's objects
    )
    db.session.commit()


def _read_values(lic, terms: Terms | None) -> dict:
    values = {"market_status": lic.status,
              "market_expires_at": lic.expires_at.replace(microsecond=0) if lic.expires_at else None}
    if terms is not None:
        values.update(market_aku=terms.aku, product_code=lic.product_code,
                      specification=lic.specification or lic.sku_id, order_ids=list(lic.order_ids or []))
    return values


@dataclass
class _Claim:
    binding_id: int
    token: str
    created: bool  # the row is a pending one of ours: removed on failure
    took_over: bool = False  # from a stale claim: the worker that held it stopped mid-way


def _pending_wait() -> float:
    return float(current_app.config["LICENSE_PENDING_WAIT"])


def _snapshot(binding: CodeBinding, lic, terms: Terms | None, now: datetime, status: str | None = None) -> None:
    binding.ali_uid = lic.ali_uid
    binding.product_code = lic.product_code
    binding.instance_id = lic.instance_id
    binding.specification = lic.specification or lic.sku_id
    binding.order_ids = list(lic.order_ids or [])
    binding.market_status = status or lic.status
    binding.market_expires_at = lic.expires_at.replace(microsecond=0) if lic.expires_at else None
    if terms is not None:
        binding.market_aku = terms.aku
    binding.checked_at = now
    binding.check_error = None


def _claim(code: str, install_id: str, lic, *, transfer: bool, staff: bool, now: datetime) -> _Claim:
    """Step 2: the binding row, committed, held by our claim token."""
    token = str(uuid.uuid4())
    hashed = code_hash(code)
    deadline = time.monotonic() + _pending_wait()
    while True:
        db.session.rollback()  # see what other workers committed meanwhile
        row = db.session.scalar(db.select(CodeBinding).where(CodeBinding.code_hash == hashed))
        if row is None:
            row = CodeBinding(
                code_hash=hashed, code_encrypted=encrypt_code(code), code_last4=code[-4:],
                install_id=install_id, state=BindingState.PENDING, claim_token=token, claimed_at=clock.now(),
            )
            _snapshot(row, lic, None, now)
            db.session.add(row)
            try:
                db.session.commit()
                return _Claim(row.id, token, created=True)
            except IntegrityError:  # another worker inserted it first: look again
                db.session.rollback()
                continue
        if row.state != BindingState.PENDING and row.install_id != install_id and not transfer:
            raise bound_elsewhere(row, staff=staff)
        free = row.claim_token is None
        stale = not free and (row.claimed_at is None or row.claimed_at < clock.now() - STALE_CLAIM)
        if free or stale:
            values = {"claim_token": token, "claimed_at": clock.now()}
            if row.state == BindingState.PENDING:
                values["install_id"] = install_id
            held = CodeBinding.claim_token.is_(None) if free else CodeBinding.claim_token == row.claim_token
            result = db.session.execute(update(CodeBinding).where(CodeBinding.id == row.id, held).values(**values))
            db.session.commit()
            if result.rowcount == 1:
                if stale:
                    log.warning("took over a stale claim on binding %s (a worker crashed?)", row.id)
                return _Claim(row.id, token, created=row.state == BindingState.PENDING, took_over=stale)
            continue
        if time.monotonic() >= deadline:
            raise IssueError(
                "issuing_in_progress",
                _("Another request is issuing a key for this authorization code right now. "
                  "Try again in a minute."),
                409,
                retry_after=10,
            )
        time.sleep(0.05)


def _release(claim: _Claim) -> None:
    """After a failure: remove our pending row, or lift our claim on a bound one."""
    db.session.rollback()
    if claim.created:
        db.session.execute(delete(CodeBinding).where(
            CodeBinding.id == claim.binding_id, CodeBinding.claim_token == claim.token,
            CodeBinding.state == BindingState.PENDING))
    else:
        db.session.execute(update(CodeBinding).where(
            CodeBinding.id == claim.binding_id, CodeBinding.claim_token == claim.token,
        ).values(claim_token=None, claimed_at=None))
    db.session.commit()


def _activate(code: str, lic, binding_id: int, install_id: str, actor: str, now: datetime,
              *, took_over: bool = False) -> str:
    """Step 3. Returns the code's marketplace status afterwards.

    `took_over`: the claim was taken over from a worker that stopped mid-way. A code it left
    activated (it died waiting for ActivateLicense's answer) is recorded activated now, so that
    the audit log holds the activation whoever made it.
    """
    mk = market()
    if lic.status != CodeStatus.INACTIVATED or mk.activate == ActivateMode.OFF:
        if took_over and lic.status == CodeStatus.ACTIVATED:
            _record_found_activated(code, lic, binding_id, install_id, actor, now)
        return lic.status
    failure: IssueError | None = None
    try:
        ok = mk.client.activate_license(code, lic.ali_uid)
        if not ok:
            failure = IssueError(
                "marketplace_error",
                _("The marketplace did not confirm the activation of this code. Nothing was issued; "
                  "try again, or contact support."), 502)
    except market_errors.CodeInvalid as exc:
        # "Already activated" (by a request of ours that raced or timed out) is success.
        try:
            ok = mk.client.describe_license(code).status == CodeStatus.ACTIVATED
        except market_errors.MarketplaceError:
            ok = False
        if not ok:
            failure = from_marketplace_error(exc)
    except market_errors.MarketplaceError as exc:
        ok = False
        failure = from_marketplace_error(exc)
    if failure is None:
        binding = db.session.get(CodeBinding, binding_id)
        binding.activated_at = now
        audit.record("code_activated", actor=actor, subject=f"code:{binding_id}", install_id=install_id,
                     after={"code": mask(code), "aliUid": mask_uid(lic.ali_uid)}, commit=True)
        return CodeStatus.ACTIVATED
    if mk.activate == ActivateMode.REQUIRED:
        raise IssueError(failure.code, _("The marketplace did not activate the code: %(reason)s",
                                         reason=failure.message),
                         failure.http_status, retry_after=failure.retry_after)
    audit.record("code_activation_failed", actor=actor, subject=f"code:{binding_id}", install_id=install_id,
                 after={"code": mask(code), "error": failure.code},
                 detail="MARKETPLACE_ACTIVATE=best-effort: issuing anyway", commit=True)
    return lic.status


def _record_found_activated(code: str, lic, binding_id: int, install_id: str, actor: str, now: datetime) -> None:
    binding = db.session.get(CodeBinding, binding_id)
    if binding.activated_at is not None:
        return
    binding.activated_at = now
    audit.record("code_activated", actor=actor, subject=f"code:{binding_id}", install_id=install_id,
                 after={"code": mask(code), "aliUid": mask_uid(lic.ali_uid)},
                 detail="Found activated at the marketplace after an earlier attempt stopped mid-way "
                        "(a worker killed or restarted before recording it).", commit=True)


def issue_from_code(
    code: str,
    install_id: str,
    *,
    actor: str,
    transfer: bool = False,
    replace: bool = False,
    reason: str | None = None,
    staff: bool = True,
    now: datetime | None = None,
    max_age: float = 0,
) -> Issued:
    """The issuing steps. Raises `IssueError`; on success answers the key (new or stored).

    `transfer` (admin) moves a code bound to another install ID here; `replace` (admin) lets this
    code take over from another live license of the install ID. Buyers get neither.
    `max_age` (seconds; self-service renewal checks): for a code bound to `install_id`, a
    marketplace read stored on its binding that recently may stand in for DescribeLicense when
    it said nothing changed, expired or discarded. Staff and the reconciler always read fresh (0).
    """
    code = normalize_code(code)
    install_id = normalize_install_id(install_id)
    if (transfer or replace) and not (reason or "").strip():
        raise IssueError("reason_required", _("Give a reason: transfers and replacements are audited."), 422)
    now = now or clock.now_seconds()
    binding = find_binding(code)
    owner = is_owner(binding, install_id)
    if owner and max_age > 0:
        cached = _from_last_read(binding, install_id, now, max_age)
        if cached is not None:
            return cached

    # Step 1: no lock held.
    lic = None
    try:
        lic = describe(code)
        terms = check(lic, now)
    except IssueError as exc:
        if owner and exc.code in ("code_expired", "code_discarded"):
            values = (_read_values(lic, None) if lic is not None
                      else {"market_status": CodeStatus.EXPIRED if exc.code == "code_expired" else CodeStatus.DISCARD})
            _record_read(binding.id, install_id, values, now)
        raise

    # Nothing changed: the stored key. No claim and no marketplace write; the read is stored.
    current = current_key(install_id)
    if owner and classify(current, terms, binding.id) == Change.UNCHANGED:
        _record_read(binding.id, install_id, _read_values(lic, terms), now)
        return Issued(key=current, created=False, change=Change.UNCHANGED, previous=key_terms(current))

    # Step 2.
    claim = _claim(code, install_id, lic, transfer=transfer, staff=staff, now=now)
    try:
        binding = db.session.get(CodeBinding, claim.binding_id)
        current = current_key(install_id)
        change = classify(current, terms, binding.id)
        if change == Change.UNCHANGED and binding.state == BindingState.BOUND and binding.install_id == install_id:
            _release(claim)  # someone issued the same key while we waited
            return Issued(key=current, created=False, change=Change.UNCHANGED, previous=key_terms(current))
        replacing = None
        if current is not None and current.binding_id != binding.id and license_is_live(current, now):
            if not replace:
                raise has_license(current, staff=staff)
            replacing = current

        # Step 3.
        status = _activate(code, lic, binding.id, install_id, actor, now, took_over=claim.took_over)

        # Step 4: one transaction.
        key = _finish(code, install_id, lic, terms, status, claim, change=change, actor=actor,
                      transfer=transfer, replacing=replacing, reason=reason, now=now)
    except SigningKeyMissing:
        _release(claim)
        raise IssueError("signing_unavailable",
                         _("The vendor has no active signing key, so no key can be issued. Nothing was "
                           "changed. Vendor staff: run `%(command)s`.", command=command_line('license keygen')), 503) from None
    except BaseException:
        _release(claim)
        raise
    return key


def _finish(code, install_id, lic, terms: Terms, status: str, claim: _Claim, *, change: str, actor: str,
            transfer: bool, replacing: IssuedKey | None, reason: str | None, now: datetime) -> Issued:
    binding = db.session.scalar(
        db.select(CodeBinding).where(CodeBinding.id == claim.binding_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if binding is None or binding.claim_token != claim.token:
        raise IssueError("issuing_in_progress",
                         _("Another request took over issuing for this code. Try again in a minute."), 409,
                         retry_after=10)
    current = current_key(install_id)
    previous = key_terms(current)
    previous_install = binding.install_id
    newly_bound = binding.bound_at is None
    key = issue_key(
        install_id=install_id, aku=terms.aku, expires_at=terms.expires_at, type=KeyType.SUBSCRIPTION,
        channel=CHANNEL, reference=mask(code), product=terms.product, issued_by=actor,
        reason=reason, binding_id=binding.id, now=now,
    )
    if replacing is not None:
        other = db.session.get(CodeBinding, replacing.binding_id) if replacing.binding_id else None
        if other is not None and other.id != binding.id:
            other.state = BindingState.REPLACED
            other.replaced_at = now
        audit.record("license_replaced", actor=actor, subject=f"key:{replacing.id}", install_id=install_id,
                     before=key_terms(replacing), after={"code": mask(code), "key": key.id}, detail=reason)
    binding.install_id = install_id
    binding.state = BindingState.BOUND
    binding.bound_at = binding.bound_at or now
    binding.claim_token = None
    binding.claimed_at = None
    _snapshot(binding, lic, terms, now, status)
    if newly_bound:
        audit.record("code_bound", actor=actor, subject=f"code:{binding.id}", install_id=install_id,
                     after={"code": mask(code), "aliUid": mask_uid(lic.ali_uid),
                            "specification": terms.spec.key, "orderIds": list(lic.order_ids or [])})
    if transfer and previous_install != install_id and not newly_bound:
        audit.record("code_transferred", actor=actor, subject=f"code:{binding.id}", install_id=install_id,
                     before={"installId": previous_install}, after={"installId": install_id}, detail=reason)
    after = key_terms(key)
    after.update(change=change, code=mask(code), specification=terms.spec.key)
    audit.record("key_issued", actor=actor, subject=f"key:{key.id}", install_id=install_id,
                 before=previous, after=after, detail=reason)
    db.session.commit()
    metrics.key_issued(key.channel, key.type)
    return Issued(key=key, created=True, change=change, previous=previous)
