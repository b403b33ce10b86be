"""Finding issued keys: by install ID, whole code, last 4 of a code, buyer account, status.

Every condition uses an index (install ID, the code's keyed hash, the last 4, the AliUid,
the key's status and expiry). Pages are cursors over (issued_at, seq, id), newest first.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum

from sqlalchemy import and_, literal, or_, select, tuple_, union

from .. import clock, inputs
from ..database import db
from ..i18n import gettext as _, lazy_gettext
from marketplace_adapter.parsing import LIVE_STATUSES

from .models import BindingState, CodeBinding, IssuedKey, KeyStatus
from .bindings import code_hash


class KeyState(StrEnum):
    """What a found key is now (the `status` of a search and of its rows)."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"  # a later key replaced it
    EXPIRED = "expired"
    RENEWED = "renewed"  # renewed or changed at the marketplace, with no new key yet


STATUSES = tuple(KeyState)
STATUS_LABELS = {
    KeyState.ACTIVE: lazy_gettext("Active"),
    KeyState.SUPERSEDED: lazy_gettext("Superseded"),
    KeyState.EXPIRED: lazy_gettext("Expired"),
    KeyState.RENEWED: lazy_gettext("Renewed, no new key"),
}
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


class SearchError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class KeyQuery:
    install_id: str | None = None
    code: str | None = None
    last4: str | None = None
    ali_uid: int | None = None
    status: KeyState | None = None
    text: str | None = None  # the pages' one search box: any of the above

    @classmethod
    def from_api(cls, args) -> "KeyQuery":
        query = cls()
        install_id = (args.get("installId") or "").strip().lower()
        if install_id:
            if not _HEX32.fullmatch(install_id):
                raise SearchError("invalid_install_id", _("installId must be 32 hexadecimal digits."))
            query.install_id = install_id
        query.code = (args.get("code") or "").strip() or None
        last4 = (args.get("last4") or "").strip().removeprefix("****")
        if last4:
            if len(last4) != 4:
                raise SearchError("invalid_last4", _("last4 must be the last 4 characters of the code."))
            query.last4 = last4
        uid = (args.get("aliUid") or "").strip()
        if uid:
            query.ali_uid = inputs.account_id(uid)
            if query.ali_uid is None:
                raise SearchError("invalid_ali_uid", _("aliUid must be the buyer's account id: a whole number "
                                                    "written in digits 0-9, from 1 to %(max)s.", max=inputs.MAX_BIGINT))
        query.status = _status(args.get("status"))
        return query

    @classmethod
    def from_page(cls, args) -> "KeyQuery":
        text = (args.get("q") or "").strip()
        try:
            status = _status(args.get("status"))
        except SearchError:
            status = None
        return cls(text=text or None, status=status)


def page_size(value: str | None) -> int | None:
    """The API's `limit`: a whole number (at most MAX_LIMIT are answered); None when not given."""
    if value is None or not value.strip():
        return None
    limit = inputs.whole_number(value, 1, inputs.MAX_BIGINT)
    if limit is None:
        raise SearchError("invalid_limit", _("limit must be a whole number of keys, from 1 to %(max)s.", max=MAX_LIMIT))
    return limit


def _status(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    if value in ("renewed-no-key", "renewed_no_key"):
        value = KeyState.RENEWED
    if value not in STATUSES:
        raise SearchError("invalid_status", _("status must be one of %(statuses)s.", statuses=", ".join(STATUSES)))
    return KeyState(value)


@dataclass
class KeyRow:
    key: IssuedKey
    binding: CodeBinding | None
    status: KeyState

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class Page:
    rows: list[KeyRow]
    next_cursor: str | None


def _renewed_condition():
    """Renewed or changed at the marketplace, with no new key yet. NULL-safe: never NULL,
    so that its negation keeps keys without a binding."""
    return and_(
        CodeBinding.id.isnot(None),
        CodeBinding.market_status.isnot(None),
        IssuedKey.status == KeyStatus.ACTIVE,
        CodeBinding.state == BindingState.BOUND,
        CodeBinding.install_id == IssuedKey.install_id,
        CodeBinding.market_status.in_(sorted(LIVE_STATUSES)),
        or_(
            and_(CodeBinding.market_expires_at.isnot(None), CodeBinding.market_expires_at > IssuedKey.expires_at),
            and_(CodeBinding.market_aku.isnot(None), CodeBinding.market_aku != IssuedKey.aku),
        ),
    )


def row_status(key: IssuedKey, binding: CodeBinding | None, now: datetime) -> KeyState:
    if key.status == KeyStatus.SUPERSEDED:
        return KeyState.SUPERSEDED
    if key.expires_at <= now:
        return KeyState.EXPIRED
    if (binding is not None and binding.state == BindingState.BOUND and binding.install_id == key.install_id
            and binding.market_status in LIVE_STATUSES
            and ((binding.market_expires_at and binding.market_expires_at > key.expires_at)
                 or (binding.market_aku is not None and binding.market_aku != key.aku))):
        return KeyState.RENEWED
    return KeyState.ACTIVE


def _text_condition(text: str):
    """The search box: a key any reading of `text` finds (code, install ID, last 4, AliUid, key id,
    reference). One indexed read per reading, united, rather than one OR across the two tables of
    the join: no database uses an index for that OR, so it read every key (docs/performance.md)."""
    text = text.strip()
    by_binding = [CodeBinding.code_hash == code_hash(text)]
    by_key = []
    if _HEX32.fullmatch(text):
        by_key.append(IssuedKey.install_id == text.lower())
    last4 = text.removeprefix("****")
    if len(last4) == 4:
        by_binding.append(CodeBinding.code_last4 == last4)
    ali_uid = inputs.account_id(text)
    if ali_uid is not None:
        by_binding.append(CodeBinding.ali_uid == ali_uid)
    if text.lower().startswith("key:") or re.fullmatch(r"[0-9a-f-]{36}", text.lower()):
        by_key.append(IssuedKey.id == text.lower().removeprefix("key:"))
    by_key.append(IssuedKey.reference == text)  # a contract number
    found = [select(IssuedKey.id).join(CodeBinding, IssuedKey.binding_id == CodeBinding.id).where(condition)
             for condition in by_binding]
    found += [select(IssuedKey.id).where(condition) for condition in by_key]
    return IssuedKey.id.in_(union(*found))


def is_known_code(text: str) -> bool:
    """Whether `text` is a whole authorization code bound here (found by its keyed hash)."""
    return db.session.scalar(db.select(CodeBinding.id).where(CodeBinding.code_hash == code_hash(text.strip()))) is not None


def encode_cursor(key: IssuedKey) -> str:
    raw = f"{key.issued_at.strftime('%Y-%m-%dT%H:%M:%S.%f')}|{key.seq}|{key.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_CURSOR = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\|([0-9]{1,19})\|([0-9a-f-]{36})", re.ASCII)


def decode_cursor(cursor: str) -> tuple[datetime, int, str]:
    """The position `encode_cursor` wrote; SearchError for anything else (ASCII digits, a seq
    within its column's range, a key id shaped like one)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        match = _CURSOR.fullmatch(raw)
        seq = inputs.record_id(match.group(2)) if match else None
        if seq is None:
            raise ValueError(raw)
        return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc), seq, match.group(3)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SearchError("invalid_cursor", _("cursor is not one this API gave out; start again without it.")) from None


def search_keys(query: KeyQuery, *, cursor: str | None = None, limit: int | None = None,
                now: datetime | None = None) -> Page:
    now = now or clock.now()
    limit = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    stmt = db.select(IssuedKey, CodeBinding).outerjoin(CodeBinding, IssuedKey.binding_id == CodeBinding.id)
    if query.install_id:
        stmt = stmt.where(IssuedKey.install_id == query.install_id)
    if query.code:
        stmt = stmt.where(CodeBinding.code_hash == code_hash(query.code))
    if query.last4:
        stmt = stmt.where(CodeBinding.code_last4 == query.last4)
    if query.ali_uid is not None:
        stmt = stmt.where(CodeBinding.ali_uid == query.ali_uid)
    if query.text:
        stmt = stmt.where(_text_condition(query.text))
    if query.status == KeyState.ACTIVE:
        stmt = stmt.where(IssuedKey.status == KeyStatus.ACTIVE, IssuedKey.expires_at > now, ~_renewed_condition())
    elif query.status == KeyState.SUPERSEDED:
        stmt = stmt.where(IssuedKey.status == KeyStatus.SUPERSEDED)
    elif query.status == KeyState.EXPIRED:
        stmt = stmt.where(IssuedKey.status == KeyStatus.ACTIVE, IssuedKey.expires_at <= now)
    elif query.status == KeyState.RENEWED:
        stmt = stmt.where(IssuedKey.expires_at > now, _renewed_condition())
    if cursor:
        at, seq, key_id = decode_cursor(cursor)
        # After the cursor's key in the list's order: one row-value comparison, a range of the
        # (issued_at, seq, id) index, where the same test spelt as an OR was a filter on every
        # row before the cursor (docs/performance.md).
        stmt = stmt.where(tuple_(IssuedKey.issued_at, IssuedKey.seq, IssuedKey.id)
                          < tuple_(literal(at, IssuedKey.issued_at.type), literal(seq, IssuedKey.seq.type),
                                   literal(key_id, IssuedKey.id.type)))
    # Newest first; within one second, the higher seq first (the order of one install's keys).
    stmt = stmt.order_by(IssuedKey.issued_at.desc(), IssuedKey.seq.desc(), IssuedKey.id.desc()).limit(limit + 1)
    found = db.session.execute(stmt).all()
    rows = [KeyRow(key, binding, row_status(key, binding, now)) for key, binding in found[:limit]]
    next_cursor = encode_cursor(found[limit - 1][0]) if len(found) > limit else None
    return Page(rows=rows, next_cursor=next_cursor)
