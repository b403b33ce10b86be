"""Renewals: re-read every bound code and find the environments that need a new key.

`reconcile()` reads each bound code with DescribeLicense (a few at a time, all of them pausing
for the marketplace's `Retry-After` when it throttles, at most a minute each time), stores what
it said on the binding, and answers `attention()`: the environments whose code was renewed or
changed specification with no new key yet, and those whose code expired or was discarded. With
`issue=True` it issues the missing keys, one after another, waiting out throttling the same way.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Callable

from flask import current_app
from sqlalchemy import and_

from marketplace_adapter import errors as market_errors
from marketplace_adapter.parsing import CodeStatus

from .. import audit, clock, metrics, product_key
from . import events
from ..i18n import gettext as _, lazy_gettext
from ..database import db
from .models import BindingState, CodeBinding, IssuedKey, KeyStatus
from .explain import change_summary
from .issuing import Issued, issue_from_code
from .bindings import decrypt_code
from .marketplace import market
from .rules import Change, IssueError
from .specs import find_spec

#: The longest pause for the marketplace's throttling (its Retry-After may say more), and how
#: often `issue=True` tries a throttled issue.
MAX_THROTTLE_PAUSE = 60.0
ISSUE_ROUNDS = 3


class FindingKind(StrEnum):
    """What the marketplace said last about a bound code, compared with its current key (`kind_of`)."""

    OK = "ok"
    RENEWED = "renewed"
    SPEC_CHANGED = "spec_changed"
    RENEWED_AND_SPEC_CHANGED = "renewed_and_spec_changed"
    CHANGED = "changed"
    EXPIRED = "expired"
    DISCARDED = "discarded"
    UNKNOWN_SPECIFICATION = "unknown_specification"
    ERROR = "error"


NEEDS_KEY = (FindingKind.RENEWED, FindingKind.SPEC_CHANGED, FindingKind.RENEWED_AND_SPEC_CHANGED, FindingKind.CHANGED)
LOST = (FindingKind.EXPIRED, FindingKind.DISCARDED)
KIND_LABELS = {
    FindingKind.OK: lazy_gettext("Up to date"),
    FindingKind.RENEWED: lazy_gettext("Renewed, no new key"),
    FindingKind.SPEC_CHANGED: lazy_gettext("Specification changed, no new key"),
    FindingKind.RENEWED_AND_SPEC_CHANGED: lazy_gettext("Renewed and specification changed, no new key"),
    FindingKind.CHANGED: lazy_gettext("Terms changed, no new key"),
    FindingKind.EXPIRED: lazy_gettext("Expired"),
    FindingKind.DISCARDED: lazy_gettext("Discarded (refunded or cancelled)"),
    FindingKind.UNKNOWN_SPECIFICATION: lazy_gettext("Specification without AKU"),
    FindingKind.ERROR: lazy_gettext("Could not be read"),
}
#: The change (`rules.classify`'s words) a new key would make for each kind that needs one.
KIND_CHANGES = {FindingKind.RENEWED: Change.RENEWAL, FindingKind.SPEC_CHANGED: Change.SPEC_CHANGE,
                FindingKind.RENEWED_AND_SPEC_CHANGED: Change.RENEWAL_AND_SPEC_CHANGE,
                FindingKind.CHANGED: Change.CHANGE}


@dataclass
class Finding:
    binding: CodeBinding
    key: IssuedKey
    kind: FindingKind
    issued: IssuedKey | None = None
    issue_error: IssueError | None = None

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def needs_key(self) -> bool:
        return self.kind in NEEDS_KEY

    @property
    def summary(self) -> str:
        """What changed at the marketplace, as a new key would announce it ("Renewed until
        2027-12-01", "Updated to 40 AKU (specification change)"); the label for other kinds."""
        if self.kind not in KIND_CHANGES:
            return self.label
        return change_summary(KIND_CHANGES[self.kind], self.binding.market_aku, self.binding.market_expires_at)

    def to_json(self) -> dict:
        b, k = self.binding, self.key
        data = {
            "installId": b.install_id,
            "code": b.masked_code,
            "status": self.kind,
            "before": {"seq": k.seq, "aku": k.aku, "expiresAt": product_key.format_time(k.expires_at)},
            "after": {"aku": b.market_aku, "expiresAt": product_key.format_time(b.market_expires_at)
                      if b.market_expires_at else None, "marketStatus": b.market_status,
                      "specification": b.specification},
            "checkedAt": product_key.format_time(b.checked_at) if b.checked_at else None,
        }
        if b.check_error:
            data["error"] = b.check_error
        if self.issued is not None:
            data["issued"] = {"seq": self.issued.seq, "id": self.issued.id, "productKey": self.issued.product_key}
        if self.issue_error is not None:
            data["issueError"] = {"code": self.issue_error.code, "message": self.issue_error.message}
        return data


def kind_of(binding: CodeBinding, key: IssuedKey, now: datetime) -> FindingKind:
    """Compare what the marketplace said last with the code's current key."""
    if binding.check_error:
        return FindingKind.ERROR
    if binding.market_status == CodeStatus.DISCARD:
        return FindingKind.DISCARDED
    if binding.market_status == CodeStatus.EXPIRED or (binding.market_expires_at and binding.market_expires_at <= now):
        return FindingKind.EXPIRED
    if binding.market_aku is None:
        return FindingKind.UNKNOWN_SPECIFICATION
    later = binding.market_expires_at is not None and binding.market_expires_at > key.expires_at
    other_aku = binding.market_aku != key.aku
    if later and other_aku:
        return FindingKind.RENEWED_AND_SPEC_CHANGED
    if later:
        return FindingKind.RENEWED
    if other_aku:
        return FindingKind.SPEC_CHANGED
    if binding.market_expires_at is not None and binding.market_expires_at < key.expires_at:
        return FindingKind.CHANGED
    return FindingKind.OK


def _live_pairs():
    """Each bound code with the install ID's active key issued from it (one query)."""
    return db.session.execute(
        db.select(CodeBinding, IssuedKey)
        .join(IssuedKey, and_(IssuedKey.binding_id == CodeBinding.id, IssuedKey.status == KeyStatus.ACTIVE,
                              IssuedKey.install_id == CodeBinding.install_id))
        .where(CodeBinding.state == BindingState.BOUND)
        .order_by(CodeBinding.install_id)
    ).all()


def attention(now: datetime | None = None, *, include_ok: bool = False) -> list[Finding]:
    now = now or clock.now()
    findings = [Finding(binding, key, kind_of(binding, key, now)) for binding, key in _live_pairs()]
    return [f for f in findings if include_ok or f.kind != FindingKind.OK]


class _Gate:
    """Holds every worker back after the marketplace throttled one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def wait(self) -> None:
        while True:
            with self._lock:
                delay = self._resume_at - time.monotonic()
            if delay <= 0:
                return
            time.sleep(min(delay, 1.0))

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)


def _reader(client, gate: _Gate, rounds: int = 4):
    def read(code: str):
        error: Exception | None = None
        for attempt in range(rounds):
            gate.wait()
            try:
                return client.describe_license(code)
            except market_errors.Throttled as exc:
                gate.pause(min(exc.retry_after or (1.0 + attempt * 2), MAX_THROTTLE_PAUSE))
                error = exc
            except market_errors.MarketplaceError as exc:
                return exc
        return error

    return read


def _store(binding: CodeBinding, answer, now: datetime) -> None:
    binding.checked_at = now
    if isinstance(answer, market_errors.CodeExpired):
        binding.market_status, binding.check_error = CodeStatus.EXPIRED, None
    elif isinstance(answer, market_errors.CodeDiscarded):
        binding.market_status, binding.check_error = CodeStatus.DISCARD, None
    elif isinstance(answer, market_errors.CodeNotFound):
        binding.check_error = "The marketplace no longer knows this code (License.NotFound)."
    elif isinstance(answer, Exception):
        code = getattr(answer, "code", None) or type(answer).__name__
        binding.check_error = f"Could not read the code: {code}"[:255]
    else:
        spec = find_spec(market().specs, answer)
        binding.market_status = answer.status
        binding.market_expires_at = answer.expires_at.replace(microsecond=0) if answer.expires_at else None
        binding.market_aku = spec.aku if spec else None
        binding.specification = answer.specification or answer.sku_id
        binding.order_ids = list(answer.order_ids or [])
        if answer.ali_uid:
            binding.ali_uid = answer.ali_uid
        binding.check_error = None


@dataclass
class Report:
    checked: int = 0
    unreadable: int = 0
    findings: list[Finding] = field(default_factory=list)
    issued: int = 0

    def counts(self) -> dict:
        kinds: dict[str, int] = {}
        for finding in self.findings:
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
        return {"checked": self.checked, "unreadable": self.unreadable, "issued": self.issued, **kinds}


def reconcile(
    *,
    issue: bool = False,
    concurrency: int | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = "reconcile",
    now: datetime | None = None,
) -> Report:
    """Read every bound code again; store the answers; list (and optionally fix) what needs a key."""
    now = now or clock.now_seconds()
    concurrency = max(1, int(concurrency or current_app.config["MARKETPLACE_RECONCILE_CONCURRENCY"]))
    pairs = _live_pairs()
    jobs = [(binding.id, decrypt_code(binding)) for binding, _issued in pairs]
    read = _reader(market().client, _Gate())
    answers: dict[int, object] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="reconcile") as pool:
        futures = {pool.submit(read, code): binding_id for binding_id, code in jobs}
        for future in futures:  # in submission order; each worker needs no app context
            answers[futures[future]] = future.result()
            if progress is not None:
                progress(1)
    report = Report(checked=len(jobs))
    for binding, _issued in pairs:
        answer = answers[binding.id]
        _store(binding, answer, now)
        if binding.check_error:
            report.unreadable += 1
    db.session.commit()

    report.findings = attention(now)
    events.record_findings(report.findings, now)  # `code.renewed`, `code.discarded`, each once
    db.session.commit()
    if issue:
        codes = dict(jobs)
        for finding in report.findings:
            if not finding.needs_key:
                continue
            try:
                issued = _issue_patiently(codes[finding.binding.id], finding.binding.install_id, actor=actor)
                finding.issued = issued.key if issued.created else None
                report.issued += 1 if issued.created else 0
            except IssueError as exc:
                finding.issue_error = exc
    audit.record("reconcile_run", actor=actor, after=report.counts(), commit=True)
    metrics.reconcile_finished(report.checked, [finding.kind for finding in report.findings])
    return report


def _issue_patiently(code: str, install_id: str, *, actor: str):
    """`issue_from_code`, waiting out the marketplace's throttling (`Retry-After`) a few times.
    A throttled attempt changed nothing (issuing's steps), so trying again is safe."""
    for attempt in range(ISSUE_ROUNDS):
        try:
            return issue_from_code(code, install_id, actor=actor)
        except IssueError as exc:
            if exc.code != "marketplace_throttled" or attempt == ISSUE_ROUNDS - 1:
                raise
            _sleep(min(float(exc.retry_after or 1 + attempt * 2), MAX_THROTTLE_PAUSE))
    raise AssertionError("unreachable")


def _sleep(seconds: float) -> None:  # tests replace it
    time.sleep(seconds)


def install_id_of(binding_id: int) -> str | None:
    """The install ID a bound code belongs to (None: no such binding), for naming it in messages."""
    binding = db.session.get(CodeBinding, binding_id)
    return binding.install_id if binding is not None else None


def issue_for_binding(binding_id: int, *, actor: str) -> Issued:
    """The one-click "issue the new key" of the Needs attention page."""
    binding = db.session.get(CodeBinding, binding_id)
    if binding is None or binding.state != BindingState.BOUND:
        raise IssueError("not_found", _("That code is not bound to an environment any more."), 404)
    issued = issue_from_code(decrypt_code(binding), binding.install_id, actor=actor)
    return issued
