"""The environment side's operations on its database: identity, reading and applying the license,
the activation history, instances, the remembered authorization code.

The rules live in :mod:`webapp.environment.license_rules`; this module only loads, saves and records.

Hot path: :func:`current_license` is one query: the columns of the single state row that the
license needs (not the stored key's text) with the ``SUM`` of the instances' AKU as a scalar
subquery, read as a plain row (no ORM object), cached for the rest of the request only. It never
writes, except the clock high-water mark at most once a minute, and once more when a read first
sees the license expired (a conditional ``UPDATE``, done after the response is made so it never
joins the caller's transaction).

Writes that change capacity use (instance create, grow, delete) and activations first update the
state row, which serializes them on every database (a row lock on PostgreSQL, the write lock on
SQLite), so two of them can never both pass a capacity check.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app, g, has_request_context
from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import audit, product_key
from ..datakey import DataKeyError, data_key, mask
from ..database import db
from .models import STATE_ROW_ID, Activation, EnvironmentState, Instance
from ..redeem_interface import RedeemError
from . import license_rules as sm

log = logging.getLogger(__name__)

_CACHE = "_environment_license"
_HIGH_WATER = "_environment_high_water"

INSTANCE_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_INSTANCE_AKU = 100_000
MAX_CODE_LENGTH = 128


# --------------------------------------------------------------------------------------------
# Time


def utcnow() -> datetime:
    """The wall clock. `LICENSE_CLOCK` (a callable answering an aware datetime) replaces it in tests."""
    clock = current_app.config.get("LICENSE_CLOCK")
    now = clock() if clock is not None else datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("LICENSE_CLOCK must answer an aware datetime")
    return now.astimezone(timezone.utc)


def _settings() -> tuple[int, int, str, int]:
    c = current_app.config
    return (
        int(c["LICENSE_TRIAL_DAYS"]),
        int(c["LICENSE_TRIAL_AKU"]),
        c["LICENSE_PRODUCT_NAME"],
        int(c["LICENSE_EXPIRING_DAYS"]),
    )


# --------------------------------------------------------------------------------------------
# Identity


def _state_row() -> EnvironmentState:
    """The single state row as an ORM object, made on first use (the install ID, the trial's start)."""
    row = db.session.get(EnvironmentState, STATE_ROW_ID)
    if row is None:
        _create_state_row()
        row = db.session.get(EnvironmentState, STATE_ROW_ID, populate_existing=True)
    return row


def _create_state_row() -> None:
    """Insert the row in its own transaction: the identity never depends on the caller's.

    The primary key is fixed, so when two workers start at once one insert wins and the
    other gets an IntegrityError and reads the winner's install ID.
    """
    now = utcnow().replace(microsecond=0)  # the trial's times are whole seconds, like a key's
    try:
        with db.engine.begin() as conn:
            conn.execute(
                insert(EnvironmentState).values(
                    id=STATE_ROW_ID,
                    install_id=secrets.token_hex(16),
                    first_started_at=now,
                    high_water_at=now,
                    revision=0,
                )
            )
    except IntegrityError:
        pass  # another worker made it first
    else:
        log.info("environment: new install ID made; the built-in trial starts now")


def install_id() -> str:
    return current_license().install_id


# --------------------------------------------------------------------------------------------
# Reading the license (the hot path)


def terms_of(row) -> sm.Terms:
    """The running terms of a state row (the ORM object or a :func:`_license_row`)."""
    days, aku, product, _ = _settings()
    if row.license_seq is None:
        return sm.trial_terms(row.first_started_at, days=days, aku=aku, product=product)
    return sm.Terms(
        type=row.license_type,
        channel=row.license_channel,
        seq=row.license_seq,
        id=row.license_id,
        product=row.license_product,
        reference=row.license_reference,
        aku=row.license_aku,
        not_before=row.license_not_before,
        expires_at=row.license_expires_at,
        issued_at=row.license_issued_at,
        activated_at=row.activated_at,
        activated_by=row.activated_by,
    )


_S = EnvironmentState
_LICENSE_COLUMNS = (
    _S.install_id, _S.first_started_at, _S.high_water_at,
    _S.license_id, _S.license_seq, _S.license_type, _S.license_channel, _S.license_reference,
    _S.license_product, _S.license_aku, _S.license_issued_at, _S.license_not_before,
    _S.license_expires_at, _S.activated_at, _S.activated_by, _S.authorization_code_masked,
)
_AKU_IN_USE = select(func.coalesce(func.sum(Instance.aku), 0)).scalar_subquery()
_READ_LICENSE = select(*_LICENSE_COLUMNS, _AKU_IN_USE.label("aku_in_use")).where(_S.id == STATE_ROW_ID)


def _license_row():
    """The state row's license columns and the AKU in use, in one round trip; made on first use."""
    row = db.session.execute(_READ_LICENSE).one_or_none()
    if row is None:
        _create_state_row()
        row = db.session.execute(_READ_LICENSE).one()
    return row


def _build(row, clock: datetime) -> sm.LicenseState:
    return sm.LicenseState(
        install_id=row.install_id,
        terms=terms_of(row),
        now=sm.effective_now(clock, row.high_water_at),
        aku_in_use=int(row.aku_in_use or 0),
        expiring_days=_settings()[3],
        clock_behind=sm.clock_moved_back(clock, row.high_water_at),
        authorization_code=row.authorization_code_masked,
    )


def current_license(*, fresh: bool = False) -> sm.LicenseState:
    """The license as it stands now (cached for the rest of the request)."""
    in_request = has_request_context()
    if in_request and not fresh:
        cached = g.get(_CACHE)
        if cached is not None:
            return cached
    row = _license_row()
    clock = utcnow()
    result = _build(row, clock)
    expires_at = result.terms.expires_at
    if sm.high_water_due(clock, row.high_water_at, expires_at):
        if in_request:
            g.setdefault(_HIGH_WATER, (clock, expires_at))  # written after the response is made
        else:
            write_high_water(clock, expires_at)
    if in_request:
        setattr(g, _CACHE, result)
    return result


def _forget() -> None:
    if has_request_context():
        g.pop(_CACHE, None)


def write_high_water(clock: datetime, expires_at: datetime | None = None) -> None:
    """Move the high-water mark to `clock` unless it moved within the last minute (any worker),
    or at once when the mark is still before the license's expiry `expires_at` and the clock is
    past it (:func:`state.high_water_due`). A conditional UPDATE: it never moves the mark back."""
    due = EnvironmentState.high_water_at <= clock - sm.HIGH_WATER_INTERVAL
    if expires_at is not None and expires_at <= clock:
        due = or_(due, EnvironmentState.high_water_at < expires_at)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                update(EnvironmentState)
                .where(EnvironmentState.id == STATE_ROW_ID, due)
                .values(high_water_at=clock)
            )
    except SQLAlchemyError:  # best effort on reads: every activation writes it anyway
        log.warning("environment: could not write the clock high-water mark", exc_info=True)


def flush_high_water(response):
    """`after_request`: the deferred high-water write of a read."""
    due = g.pop(_HIGH_WATER, None)
    if due is not None:
        write_high_water(*due)
    return response


def _raise_high_water(clock: datetime):
    """The high-water column moved to `clock` if that is later (for UPDATE ... SET)."""
    return case((EnvironmentState.high_water_at < clock, clock), else_=EnvironmentState.high_water_at)


# --------------------------------------------------------------------------------------------
# Product keys: verify, preview, apply


def verify(text: str) -> product_key.ProductKey:
    """Steps 1-3 under the trusted vendor keys (ProductKeyError)."""
    from .. import trust

    try:
        return trust.verify(text)
    except trust.TrustConfigError as exc:
        log.error("environment: trusted public keys unreadable: %s", exc)
        headline = "This environment cannot check product keys."
        raise product_key.ProductKeyError(
            "signature_invalid",
            f"{headline} Its trusted vendor keys are misconfigured ({exc}): ask the administrator "
            "to fix LICENSE_PUBLIC_KEYS.",
            headline=headline,
            details={"reason": "the trusted public keys are misconfigured"},
        ) from None


def _checked(text: str, *, actor: str | None, source: str) -> tuple[sm.LicenseState, product_key.ProductKey, bool]:
    """Steps 1-7 against the license as it stands now: (before, key, already active).

    A blank submission is refused without a record; any other refusal is recorded in the
    activation history and the audit log, then raised (ProductKeyError).
    """
    _refuse_blank(text)
    before = current_license(fresh=True)
    try:
        key = verify(text)
        already = sm.check_key(key, before)
    except product_key.ProductKeyError as exc:
        record_refusal(text, exc.code, exc.message, actor=actor, source=source, reason=exc.details.get("reason"))
        raise
    return before, key, already


def inspect_key(text: str, *, actor: str | None = None) -> sm.Preview:
    """Verify a key and compare it with what runs now; a refusal is recorded and raised."""
    before, key, already = _checked(text, actor=actor, source="product_key")
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
    source: str = "product_key",
    authorization_code: str | None = None,
) -> Applied:
    """Steps 1-7, then apply: the running license changes only if every check passes.

    The same key again is "already active" and is not recorded again. Every refusal is
    recorded in the activation history and the audit log, then raised (ProductKeyError).
    """
    actor = actor or audit.current_actor_name()
    before, key, already = _checked(text, actor=actor, source=source)
    if already:
        if authorization_code:
            _remember_code(authorization_code)
            db.session.commit()
            _forget()
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
            high_water_at=_raise_high_water(now),
            revision=EnvironmentState.revision + 1,
            **forgotten,
        )
    ).rowcount
    if done != 1:  # a newer key was applied between the check and this write
        db.session.rollback()
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
    db.session.add(
        Activation(
            at=now,
            actor=actor,
            source=source,
            result="applied",
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
    _forget()
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


def record_refusal(
    text: str | None,
    code: str,
    message: str,
    *,
    actor: str | None = None,
    source: str = "product_key",
    reference: str | None = None,
    reason: str | None = None,
) -> None:
    """A refused key (or redemption) in the activation history and the audit log. ``reason``, the
    codec's precise technical reason, goes to the audit log only (for support): the history
    keeps the message people read."""
    actor = actor or audit.current_actor_name()
    db.session.rollback()
    seen: dict = {}
    if text:
        try:
            seen = sm.describe_key(product_key.decode(text))
        except product_key.ProductKeyError:
            seen = {}
    row = _state_row()
    db.session.add(
        Activation(
            at=sm.effective_now(utcnow(), row.high_water_at),
            actor=actor,
            source=source,
            result="refused",
            error_code=code,
            error_message=message,
            key_id=seen.get("id"),
            key_seq=seen.get("seq"),
            key_aku=seen.get("aku"),
            key_expires_at=seen.get("expires_at"),
            key_reference=reference or seen.get("reference"),
        )
    )
    audit.record(
        "license_activation_refused",
        actor=actor,
        subject=f"license:{seen['id']}" if "id" in seen else None,
        install_id=row.install_id,
        after={"code": code, "seq": seen.get("seq"), "source": source},
        detail=message + (f" (reason: {reason})" if reason else ""),
    )
    db.session.commit()


def history(limit: int = 50) -> list[Activation]:
    return list(
        db.session.scalars(select(Activation).order_by(Activation.at.desc(), Activation.id.desc()).limit(limit))
    )


# --------------------------------------------------------------------------------------------
# Online activation with an authorization code


def _remember_code(code: str) -> None:
    key = data_key(current_app.config["LICENSE_DATA_KEY"])
    db.session.execute(
        update(EnvironmentState)
        .where(EnvironmentState.id == STATE_ROW_ID)
        .values(authorization_code_encrypted=key.encrypt(code), authorization_code_masked=mask(code))
    )


def remembered_code() -> str | None:
    row = _state_row()
    if not row.authorization_code_encrypted:
        return None
    try:
        return data_key(current_app.config["LICENSE_DATA_KEY"]).decrypt(row.authorization_code_encrypted)
    except DataKeyError:
        log.warning("environment: the remembered authorization code was encrypted with another data key")
        return None


def normalize_code(code: object) -> str:
    if not isinstance(code, str) or not code.strip():
        raise RedeemError(
            "code_invalid",
            "Enter the authorization code: you find it in the marketplace's Buyer Console, "
            "under Purchased Services, in the details of your purchase.",
            422,
        )
    code = "".join(code.split())
    if len(code) > MAX_CODE_LENGTH or not code.isprintable():
        raise RedeemError(
            "code_invalid",
            "That is not an authorization code: copy it exactly from the marketplace's Buyer "
            "Console (Purchased Services).",
            422,
        )
    return code


def redeem(code: object, *, actor: str | None = None, source: str = "redeem") -> Applied:
    """Fetch a product key for an authorization code from the vendor and apply it.

    RedeemError for the vendor's refusals (recorded in the history, except when online
    activation is not configured at all); ProductKeyError when the key itself is refused.
    """
    from .online import fetch_product_key

    actor = actor or audit.current_actor_name()
    code = normalize_code(code)
    current = current_license(fresh=True)
    try:
        answer = fetch_product_key(code, current.install_id)
    except RedeemError as exc:
        if exc.code != "redeem_not_configured":
            record_refusal(None, exc.code, exc.message, actor=actor, source=source, reference=mask(code))
        raise
    return apply_key(answer["productKey"], actor=actor, source=source, authorization_code=code)


def renewal_check(*, actor: str | None = None) -> Applied:
    """Redeem the remembered authorization code again; `already_active` means no renewal yet."""
    code = remembered_code()
    if code is None:
        raise RedeemError(
            "no_remembered_code",
            "This environment has no remembered authorization code: activate once with the "
            "authorization code (or paste the new product key) instead.",
            409,
        )
    return redeem(code, actor=actor, source="renewal_check")


# --------------------------------------------------------------------------------------------
# Instances


class InstanceError(Exception):
    code = "invalid_input"
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InstanceNameTaken(InstanceError):
    code = "instance_name_taken"
    http_status = 409


class InstanceNotFound(InstanceError):
    code = "not_found"
    http_status = 404


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InstanceError("Give the instance a name.", field="name", code="invalid_name")
    name = name.strip()
    if not INSTANCE_NAME_RE.fullmatch(name):
        raise InstanceError(
            "An instance name has 1 to 63 characters: lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen (for example kafka-prod-1).",
            field="name",
            code="invalid_name",
        )
    return name


def validate_aku(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_INSTANCE_AKU:
        raise InstanceError(
            f"Capacity is a whole number of AKU from 1 to {MAX_INSTANCE_AKU}.", field="aku", code="invalid_aku"
        )
    return value


def instances() -> list[Instance]:
    return list(db.session.scalars(select(Instance).order_by(Instance.name)))


def get_instance(instance_id: object) -> Instance:
    try:
        ident = int(str(instance_id))
    except ValueError:
        ident = None
    found = db.session.get(Instance, ident) if ident is not None else None
    if found is None:
        raise InstanceNotFound(f"There is no instance {instance_id}.")
    return found


def _lock() -> sm.LicenseState:
    """Take the capacity lock (update the state row) and read the license inside it."""
    _license_row()  # the row is made first, outside this transaction
    clock = utcnow()
    db.session.execute(
        update(EnvironmentState)
        .where(EnvironmentState.id == STATE_ROW_ID)
        .values(revision=EnvironmentState.revision + 1, high_water_at=_raise_high_water(clock))
    )
    return _build(_license_row(), clock)


def create_instance(name: object, aku: object, *, actor: str | None = None) -> Instance:
    name = validate_name(name)
    aku = validate_aku(aku)
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        if db.session.scalar(select(Instance.id).where(Instance.name == name)) is not None:
            raise InstanceNameTaken(f"An instance named {name} already exists: choose another name.", field="name")
        lic.check_create(aku)
        now = lic.now
        inst = Instance(name=name, aku=aku, created_at=now, updated_at=now, created_by=actor)
        db.session.add(inst)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise InstanceNameTaken(f"An instance named {name} already exists: choose another name.", field="name") from None
    except (InstanceError, sm.CapacityError):
        db.session.rollback()
        raise
    audit.record(
        "instance_created",
        actor=actor,
        subject=f"instance:{inst.id}",
        install_id=lic.install_id,
        after={"name": name, "aku": aku},
    )
    db.session.commit()
    _forget()
    return inst


def resize_instance(instance_id: object, aku: object, *, actor: str | None = None) -> Instance:
    aku = validate_aku(aku)
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        inst = get_instance(instance_id)
        before = inst.aku
        lic.check_resize(before, aku)
    except (InstanceError, sm.CapacityError):
        db.session.rollback()
        raise
    if aku != before:
        inst.aku = aku
        inst.updated_at = lic.now
        audit.record(
            "instance_grown" if aku > before else "instance_shrunk",
            actor=actor,
            subject=f"instance:{inst.id}",
            install_id=lic.install_id,
            before={"name": inst.name, "aku": before},
            after={"name": inst.name, "aku": aku},
        )
    db.session.commit()
    _forget()
    return inst


def delete_instance(instance_id: object, *, actor: str | None = None) -> None:
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        inst = get_instance(instance_id)
    except InstanceError:
        db.session.rollback()
        raise
    audit.record(
        "instance_deleted",
        actor=actor,
        subject=f"instance:{inst.id}",
        install_id=lic.install_id,
        before={"name": inst.name, "aku": inst.aku},
    )
    db.session.delete(inst)
    db.session.commit()
    _forget()


def instance_json(inst: Instance) -> dict:
    return {
        "id": inst.id,
        "name": inst.name,
        "aku": inst.aku,
        "createdAt": product_key.format_time(inst.created_at),
    }
