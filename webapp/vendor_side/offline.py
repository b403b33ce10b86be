"""Offline keys: an offline-contract or trial-extension key signed for an install ID, outside the
marketplace. One set of rules for both ways in: the admins' Offline keys page and
`flask license issue`. `read_order` checks what was typed, field by field; `issue_offline`
signs, records and audits the key.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from .. import audit, clock, metrics
from ..i18n import format_number, gettext as _
from ..inputs import control_character, whole_number
from ..cli import command_line
from ..database import db
from ..product_key import Channel, KeyType
from .issuing import Issued
from .ledger import current_key, issue_key, key_terms
from .rules import Change, IssueError, normalize_install_id
from .signing_keys import SigningKeyMissing

CHANNEL = Channel.OFFLINE_CONTRACT
KEY_TYPES = {KeyType.SUBSCRIPTION: "offline contract", KeyType.TRIAL_EXTENSION: "trial extension"}
MAX_AKU = 1_000_000
MAX_DAYS = 3660
MAX_REFERENCE = 128
FIELDS = ("install_id", "aku", "days", "contract", "type", "reason")


class OrderInvalid(ValueError):
    """What is wrong with an offline order: a message for each field (`FIELDS`) at fault."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class OfflineOrder:
    install_id: str
    aku: int
    days: int
    contract: str
    key_type: str
    reason: str

    def expires_at(self, now: datetime) -> datetime:
        return now + timedelta(days=self.days)


def _text(value: object) -> str:
    """A field's text: a string stripped, a whole number written out, anything else empty."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def read_order(values: Mapping[str, object]) -> OfflineOrder:
    """The order in `values` (the form's fields, or the command's options by the same names);
    OrderInvalid with every field's problem at once."""
    text = {name: _text(values.get(name)) for name in FIELDS}
    errors: dict[str, str] = {}
    try:
        install_id = normalize_install_id(text["install_id"])
    except IssueError as exc:
        errors["install_id"] = exc.message
    aku = whole_number(text["aku"], 1, MAX_AKU)
    if aku is None:
        errors["aku"] = _("AKU must be a whole number from 1 to %(max)s.", max=format_number(MAX_AKU))
    days = whole_number(text["days"], 1, MAX_DAYS)
    if days is None:
        errors["days"] = _("Days must be a whole number from 1 to %(max)s.", max=MAX_DAYS)
    key_type = text["type"] or KeyType.SUBSCRIPTION
    if key_type not in KEY_TYPES:
        errors["type"] = _("Choose offline contract or trial extension.")
    if not text["contract"]:
        errors["contract"] = (_("Give a reference (e.g. the trial-extension ticket).") if key_type == KeyType.TRIAL_EXTENSION
                              else _("Give the contract number: it is the key's reference."))
    elif len(text["contract"]) > MAX_REFERENCE:
        errors["contract"] = _("The reference has at most %(max)s characters.", max=MAX_REFERENCE)
    elif character := control_character(text["contract"]):
        errors["contract"] = _("The reference holds a control character (%(character)s): remove it.", character=character)
    if not text["reason"]:
        errors["reason"] = _("Give a reason: every offline key is audited.")
    elif character := control_character(text["reason"]):
        errors["reason"] = _("The reason holds a control character (%(character)s): remove it.", character=character)
    if errors:
        raise OrderInvalid(errors)
    return OfflineOrder(install_id=install_id, aku=aku, days=days, contract=text["contract"],
                        key_type=key_type, reason=text["reason"])


def issue_offline(order: OfflineOrder, *, actor: str, now: datetime | None = None) -> Issued:
    """Sign and record the key of a checked order, audited with its reason; commits."""
    now = (now or clock.now()).replace(microsecond=0)
    current = current_key(order.install_id)
    try:
        key = issue_key(
            install_id=order.install_id, aku=order.aku, expires_at=order.expires_at(now), type=order.key_type,
            channel=CHANNEL, reference=order.contract, product=current_app.config["LICENSE_PRODUCT_NAME"],
            issued_by=actor, reason=order.reason, now=now,
        )
    except SigningKeyMissing:
        db.session.rollback()
        raise IssueError("signing_unavailable",
                         _("The vendor has no active signing key: run `%(command)s`.",
                           command=command_line('license keygen')), 503) from None
    after = key_terms(key)
    after["change"] = Change.OFFLINE
    audit.record("key_issued", actor=actor, subject=f"key:{key.id}", install_id=order.install_id,
                 before=key_terms(current), after=after, detail=order.reason)
    db.session.commit()
    metrics.key_issued(key.channel, key.type)
    return Issued(key=key, created=True, change=Change.OFFLINE, previous=key_terms(current))
