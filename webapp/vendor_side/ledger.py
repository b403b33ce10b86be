"""Signing and recording a product key: the last step of every issuing channel.

`issue_key` runs inside the caller's transaction: it allocates the install ID's next `seq`
(an atomic UPDATE ... RETURNING, which holds the row lock until commit, so two workers can
never hand out the same number), signs, stores the key and supersedes the previous one.
The caller commits, together with its own rows, the audit record and the `key.issued` event
(`events`).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .. import clock, product_key
from . import events, signing_keys
from ..database import db
from .models import InstallSequence, IssuedKey, KeyStatus


def allocate_seq(install_id: str) -> int:
    for _ in range(3):
        seq = db.session.execute(
            update(InstallSequence)
            .where(InstallSequence.install_id == install_id)
            .values(last_seq=InstallSequence.last_seq + 1)
            .returning(InstallSequence.last_seq)
        ).scalar()
        if seq is not None:
            return seq
        try:
            with db.session.begin_nested():
                db.session.add(InstallSequence(install_id=install_id, last_seq=1))
            return 1
        except IntegrityError:  # another worker inserted the row first: bump it instead
            continue
    raise RuntimeError(f"could not allocate a sequence number for {install_id}")


def current_key(install_id: str) -> IssuedKey | None:
    return db.session.scalar(
        db.select(IssuedKey)
        .where(IssuedKey.install_id == install_id, IssuedKey.status == KeyStatus.ACTIVE)
        .order_by(IssuedKey.seq.desc())
    )


def issue_key(
    *,
    install_id: str,
    aku: int,
    expires_at: datetime,
    type: str,
    channel: str,
    reference: str | None,
    product: str,
    issued_by: str,
    not_before: datetime | None = None,
    reason: str | None = None,
    binding_id: int | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    signer = signing_keys.active_key()
    if signer is None:
        raise signing_keys.SigningKeyMissing("there is no active signing key")
    now = (now or clock.now()).replace(microsecond=0)
    seq = allocate_seq(install_id)
    terms = product_key.License(
        id=str(uuid.uuid4()),
        seq=seq,
        type=type,
        channel=channel,
        reference=reference,
        product=product,
        aku=aku,
        issued_at=now,
        not_before=(not_before or now).replace(microsecond=0),
        expires_at=expires_at.replace(microsecond=0),
    )
    text = product_key.sign(install_id, terms, signer.kid, signing_keys.private_key(signer))
    record = IssuedKey(
        id=terms.id,
        install_id=install_id,
        seq=seq,
        kid=signer.kid,
        type=type,
        channel=channel,
        reference=reference,
        product=product,
        aku=aku,
        issued_at=terms.issued_at,
        not_before=terms.not_before,
        expires_at=terms.expires_at,
        product_key=text,
        status=KeyStatus.ACTIVE,
        issued_by=issued_by,
        reason=reason,
        binding_id=binding_id,
    )
    previous = current_key(install_id)
    if previous is not None:
        previous.status = KeyStatus.SUPERSEDED
        previous.superseded_by = record.id
    db.session.add(record)
    db.session.flush()
    events.key_issued(record, now)  # `key.issued`, in the same transaction
    return record


def key_terms(key: IssuedKey | None) -> dict | None:
    """A key's terms for audit records and before/after views."""
    if key is None:
        return None
    return {"id": key.id, "seq": key.seq, "aku": key.aku, "expiresAt": product_key.format_time(key.expires_at),
            "product": key.product, "reference": key.reference, "channel": key.channel, "type": key.type}
