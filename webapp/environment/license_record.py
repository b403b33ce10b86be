"""The environment's one state row: its identity (the install ID, made on first use, and the
trial's start) and the running license read from it, the hot path of every page and capacity
check; the clock high-water mark that keeps time from running backwards for the license.

Hot path: :func:`current_license` is one query: the columns of the single state row that the
license needs (not the stored key's text) with the ``SUM`` of the instances' AKU as a scalar
subquery, read as a plain row (no ORM object), cached for the rest of the request only. It never
writes, except the clock high-water mark at most once a minute, and once more when a read first
sees the license expired (a conditional ``UPDATE``, done after the response is made so it never
joins the caller's transaction).

The rules live in :mod:`webapp.environment.license_rules`; this module only loads and saves.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime

from flask import current_app, g, has_request_context
from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import clock
from ..database import db
from . import license_rules as sm
from .models import STATE_ROW_ID, EnvironmentState, Instance

log = logging.getLogger(__name__)

_CACHE = "_environment_license"
_HIGH_WATER = "_environment_high_water"


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


def state_row() -> EnvironmentState:
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
    now = clock.now_seconds()  # the trial's times are whole seconds, like a key's
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
    """The running terms of a state row (the ORM object or a :func:`license_row`)."""
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


def license_row():
    """The state row's license columns and the AKU in use, in one round trip; made on first use."""
    row = db.read(_READ_LICENSE).one_or_none()
    if row is None:
        _create_state_row()
        row = db.read(_READ_LICENSE).one()
    return row


def build(row, now: datetime) -> sm.LicenseState:
    """The license state of a :func:`license_row` at the clock's time `now`."""
    return sm.LicenseState(
        install_id=row.install_id,
        terms=terms_of(row),
        now=sm.effective_now(now, row.high_water_at),
        aku_in_use=int(row.aku_in_use or 0),
        expiring_days=_settings()[3],
        clock_behind=sm.clock_moved_back(now, row.high_water_at),
        authorization_code=row.authorization_code_masked,
    )


def current_license(*, fresh: bool = False) -> sm.LicenseState:
    """The license as it stands now (cached for the rest of the request)."""
    in_request = has_request_context()
    if in_request and not fresh:
        cached = g.get(_CACHE)
        if cached is not None:
            return cached
    row = license_row()
    now = clock.now()
    result = build(row, now)
    expires_at = result.terms.expires_at
    if sm.high_water_due(now, row.high_water_at, expires_at):
        if in_request:
            g.setdefault(_HIGH_WATER, (now, expires_at))  # written after the response is made
        else:
            write_high_water(now, expires_at)
    if in_request:
        setattr(g, _CACHE, result)
    return result


def forget() -> None:
    if has_request_context():
        g.pop(_CACHE, None)


def write_high_water(now: datetime, expires_at: datetime | None = None) -> None:
    """Move the high-water mark to `now` unless it moved within the last minute (any worker),
    or at once when the mark is still before the license's expiry `expires_at` and the clock is
    past it (:func:`license_rules.high_water_due`). A conditional UPDATE: it never moves the mark back."""
    due = EnvironmentState.high_water_at <= now - sm.HIGH_WATER_INTERVAL
    if expires_at is not None and expires_at <= now:
        due = or_(due, EnvironmentState.high_water_at < expires_at)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                update(EnvironmentState)
                .where(EnvironmentState.id == STATE_ROW_ID, due)
                .values(high_water_at=now)
            )
    except SQLAlchemyError:  # best effort on reads: every activation writes it anyway
        log.warning("environment: could not write the clock high-water mark", exc_info=True)


def flush_high_water(response):
    """`after_request`: the deferred high-water write of a read."""
    due = g.pop(_HIGH_WATER, None)
    if due is not None:
        write_high_water(*due)
    return response


def raise_high_water(now: datetime):
    """The high-water column moved to `now` if that is later (for UPDATE ... SET)."""
    return case((EnvironmentState.high_water_at < now, now), else_=EnvironmentState.high_water_at)
