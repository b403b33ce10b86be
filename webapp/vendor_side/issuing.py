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
4. One transaction: `issuance.issue_key` (next seq, sign, store, supersede), binding `bound`,
   the audit records.

Any failure removes the pending row (or lifts the claim), so nothing half-made remains. When
nothing changed (same install ID, AKU, expiry and product as the current key from this code),
the stored key is answered again: no claim, no marketplace write, no new seq.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from marketplace_adapter import errors as market_errors

from .. import audit, product_key
from ..cli import command_line
from ..datakey import data_key, mask
from ..database import db
from .ledger import current_key, issue_key
from .models import CodeBinding, IssuedKey
from .signing_keys import SigningKeyMissing
from .marketplace import market
from .rules import (
    IssueError,
    Terms,
    check_license,
    classify,
    code_discarded,
    code_expired,
    from_marketplace_error,
    normalize_code,
    normalize_install_id,
)

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=2)
CHANNEL = "alibaba-marketplace"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def mask_uid(uid: int | None) -> str:
    """A buyer account id as staff see it: the first 4 and last 4 digits."""
    if not uid:
        return ""
    text = str(uid)
    return text[:4] + "****" + text[-4:] if len(text) > 8 else "****" + text[-2:]


def key_terms(key: IssuedKey | None) -> dict | None:
    """A key's terms for audit records and before/after views."""
    if key is None:
        return None
    return {"id": key.id, "seq": key.seq, "aku": key.aku, "expiresAt": product_key.format_time(key.expires_at),
            "product": key.product, "reference": key.reference, "channel": key.channel, "type": key.type}


# ------------------------------------------------------------------------------------------
# Reading


def _codes():
    return data_key(current_app.config["LICENSE_DATA_KEY"])


def code_hash(code: str) -> str:
    return _codes().lookup_hash(code)


def decrypt_code(binding: CodeBinding) -> str:
    return _codes().decrypt(binding.code_encrypted)


def find_binding(code: str) -> CodeBinding | None:
    return db.session.scalar(db.select(CodeBinding).where(CodeBinding.code_hash == code_hash(code)))


def is_owner(binding: CodeBinding | None, install_id: str) -> bool:
    """Whether `install_id` is the environment the code is bound to (its renewal checks)."""
    return binding is not None and binding.state == "bound" and binding.install_id == install_id


def bound_to(code: str, install_id: str) -> bool:
    """One indexed read, no marketplace call: is the code bound to this install ID?"""
    return is_owner(find_binding(code), install_id)


def latest_key_for_binding(binding_id: int) -> IssuedKey | None:
    return db.session.scalar(
        db.select(IssuedKey).where(IssuedKey.binding_id == binding_id).order_by(IssuedKey.issued_at.desc(), IssuedKey.seq.desc())
    )


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
    if key is None or key.type == "trial-extension" or key.expires_at <= now:
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
    if binding.market_status not in ("ACTIVATED", "INACTIVATED"):
        return False
    return binding.market_expires_at is None or binding.market_expires_at > now


def bound_elsewhere(binding: CodeBinding, *, staff: bool) -> IssueError:
    if staff:
        message = (
            f"This authorization code is bound to another environment (install ID {binding.install_id}). "
            "One code licenses one environment: an admin can transfer it to this install ID."
        )
    else:
        message = (
            "This authorization code is already bound to another environment. One code licenses one "
            "environment; to move it to this one, contact support."
        )
    return IssueError("code_bound_elsewhere", message, 409)


def has_license(current: IssuedKey, *, staff: bool) -> IssueError:
    until = f"{current.expires_at:%Y-%m-%d}"
    reference = current.reference or "an offline contract"
    message = (
        f"This environment already has a live license ({current.aku} AKU, {reference}, until {until}). "
        "An environment runs one license at a time, and AKU from two codes do not add up. "
    )
    message += ("An admin can replace it with this code." if staff
                else "To replace it with this code, contact support.")
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
    now = now or utcnow()
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
    if binding is not None and binding.state != "pending" and binding.install_id != install_id:
        result.blockers.append(bound_elsewhere(binding, staff=staff))
    if result.current is not None and (binding is None or result.current.binding_id != binding.id):
        result.current_live = license_is_live(result.current, now)
        if result.current_live:
            result.blockers.append(has_license(result.current, staff=staff))
    return result


# ------------------------------------------------------------------------------------------
# Issuing


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
    if binding.market_status == "DISCARD":
        raise code_discarded()
    if binding.market_status == "EXPIRED" or (binding.market_expires_at is not None and binding.market_expires_at <= now):
        raise code_expired(binding.market_expires_at)
    if binding.market_status not in ("ACTIVATED", "INACTIVATED") or binding.product_code != market().product_code:
        return None
    current = current_key(install_id)
    if (current is None or current.binding_id != binding.id or current.aku != binding.market_aku
            or current.expires_at.replace(microsecond=0) != binding.market_expires_at):
        return None
    return Issued(key=current, created=False, change="unchanged", previous=key_terms(current))


def _record_read(binding_id: int, install_id: str, values: dict, now: datetime) -> None:
    """Store a marketplace read on a bound code's row (as the reconciler does), so the next renewal
    check within `VENDOR_REDEEM_CODE_CACHE_SECONDS` needs none. Only while the code is bound here,
    nobody holds its claim and no newer read is stored: an issuing worker writes its own."""
    db.session.execute(
        update(CodeBinding)
        .where(CodeBinding.id == binding_id, CodeBinding.state == "bound", CodeBinding.install_id == install_id,
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
    return float(current_app.config.get("LICENSE_PENDING_WAIT", 5.0))


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
                code_hash=hashed, code_encrypted=_codes().encrypt(code), code_last4=code[-4:],
                install_id=install_id, state="pending", claim_token=token, claimed_at=utcnow(),
            )
            _snapshot(row, lic, None, now)
            db.session.add(row)
            try:
                db.session.commit()
                return _Claim(row.id, token, created=True)
            except IntegrityError:  # another worker inserted it first: look again
                db.session.rollback()
                continue
        if row.state != "pending" and row.install_id != install_id and not transfer:
            raise bound_elsewhere(row, staff=staff)
        free = row.claim_token is None
        stale = not free and (row.claimed_at is None or row.claimed_at < utcnow() - STALE_CLAIM)
        if free or stale:
            values = {"claim_token": token, "claimed_at": utcnow()}
            if row.state == "pending":
                values["install_id"] = install_id
            held = CodeBinding.claim_token.is_(None) if free else CodeBinding.claim_token == row.claim_token
            result = db.session.execute(update(CodeBinding).where(CodeBinding.id == row.id, held).values(**values))
            db.session.commit()
            if result.rowcount == 1:
                if stale:
                    log.warning("took over a stale claim on binding %s (a worker crashed?)", row.id)
                return _Claim(row.id, token, created=row.state == "pending", took_over=stale)
            continue
        if time.monotonic() >= deadline:
            raise IssueError(
                "issuing_in_progress",
                "Another request is issuing a key for this authorization code right now. "
                "Try again in a minute.",
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
            CodeBinding.state == "pending"))
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
    if lic.status != "INACTIVATED" or mk.activate == "off":
        if took_over and lic.status == "ACTIVATED":
            _record_found_activated(code, lic, binding_id, install_id, actor, now)
        return lic.status
    failure: IssueError | None = None
    try:
        ok = mk.client.activate_license(code, lic.ali_uid)
        if not ok:
            failure = IssueError(
                "marketplace_error",
                "The marketplace did not confirm the activation of this code. Nothing was issued; "
                "try again, or contact support.", 502)
    except market_errors.CodeInvalid as exc:
        # "Already activated" (by a request of ours that raced or timed out) is success.
        try:
            ok = mk.client.describe_license(code).status == "ACTIVATED"
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
        return "ACTIVATED"
    if mk.activate == "required":
        raise IssueError(failure.code, "The marketplace did not activate the code: " + failure.message,
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
        raise IssueError("reason_required", "Give a reason: transfers and replacements are audited.", 422)
    now = now or utcnow()
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
                      else {"market_status": "EXPIRED" if exc.code == "code_expired" else "DISCARD"})
            _record_read(binding.id, install_id, values, now)
        raise

    # Nothing changed: the stored key. No claim and no marketplace write; the read is stored.
    current = current_key(install_id)
    if owner and classify(current, terms, binding.id) == "unchanged":
        _record_read(binding.id, install_id, _read_values(lic, terms), now)
        return Issued(key=current, created=False, change="unchanged", previous=key_terms(current))

    # Step 2.
    claim = _claim(code, install_id, lic, transfer=transfer, staff=staff, now=now)
    try:
        binding = db.session.get(CodeBinding, claim.binding_id)
        current = current_key(install_id)
        change = classify(current, terms, binding.id)
        if change == "unchanged" and binding.state == "bound" and binding.install_id == install_id:
            _release(claim)  # someone issued the same key while we waited
            return Issued(key=current, created=False, change="unchanged", previous=key_terms(current))
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
                         "The vendor has no active signing key, so no key can be issued. Nothing was "
                         f"changed. Vendor staff: run `{command_line('license keygen')}`.", 503) from None
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
                         "Another request took over issuing for this code. Try again in a minute.", 409,
                         retry_after=10)
    current = current_key(install_id)
    previous = key_terms(current)
    previous_install = binding.install_id
    newly_bound = binding.bound_at is None
    key = issue_key(
        install_id=install_id, aku=terms.aku, expires_at=terms.expires_at, type="subscription",
        channel=CHANNEL, reference=mask(code), product=terms.product, issued_by=actor,
        reason=reason, binding_id=binding.id, now=now,
    )
    if replacing is not None:
        other = db.session.get(CodeBinding, replacing.binding_id) if replacing.binding_id else None
        if other is not None and other.id != binding.id:
            other.state = "replaced"
            other.replaced_at = now
        audit.record("license_replaced", actor=actor, subject=f"key:{replacing.id}", install_id=install_id,
                     before=key_terms(replacing), after={"code": mask(code), "key": key.id}, detail=reason)
    binding.install_id = install_id
    binding.state = "bound"
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
    return Issued(key=key, created=True, change=change, previous=previous)


# ------------------------------------------------------------------------------------------
# Offline keys (admin)


def issue_offline(
    *, install_id: str, aku: int, expires_at: datetime, contract: str, key_type: str,
    reason: str, actor: str, now: datetime | None = None,
) -> Issued:
    """An offline-contract or trial-extension key, with a reason (admin)."""
    install_id = normalize_install_id(install_id)
    now = now or utcnow()
    contract = (contract or "").strip()
    if not contract or len(contract) > 128:
        raise IssueError("invalid_contract", "Give the contract number (1 to 128 characters): it is the key's reference.", 422)
    if key_type not in ("subscription", "trial-extension"):
        raise IssueError("invalid_type", "The type is subscription (offline contract) or trial-extension.", 422)
    if not isinstance(aku, int) or aku < 1 or aku > 1_000_000:
        raise IssueError("invalid_aku", "AKU must be a whole number of at least 1.", 422)
    if expires_at <= now:
        raise IssueError("invalid_expiry", "The expiry must be in the future.", 422)
    if not (reason or "").strip():
        raise IssueError("reason_required", "Give a reason: every manual key is audited.", 422)
    current = current_key(install_id)
    try:
        key = issue_key(
            install_id=install_id, aku=aku, expires_at=expires_at, type=key_type, channel="offline-contract",
            reference=contract, product=current_app.config["LICENSE_PRODUCT_NAME"], issued_by=actor,
            reason=reason.strip(), now=now,
        )
    except SigningKeyMissing:
        db.session.rollback()
        raise IssueError("signing_unavailable", f"The vendor has no active signing key: run `{command_line('license keygen')}`.", 503) from None
    after = key_terms(key)
    after["change"] = "offline"
    audit.record("key_issued", actor=actor, subject=f"key:{key.id}", install_id=install_id,
                 before=key_terms(current), after=after, detail=reason.strip())
    db.session.commit()
    return Issued(key=key, created=True, change="offline", previous=key_terms(current))
