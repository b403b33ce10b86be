"""The environment's license state machine: pure functions and small classes, no Flask, no database.

Every function takes the time it should use (``now``), so tests drive it with a controlled clock.

- :class:`Terms` is what runs: the built-in trial (:func:`trial_terms`) or an applied product
  key (:func:`terms_from_key`).
- :class:`LicenseState` is the terms seen at an effective time with the capacity in use: its
  ``status`` (``expired`` before ``expiring`` before ``trial``/``active``), ``days_left`` (for
  the API: whole days, rounded down) and ``time_left`` (for people: :func:`time_left`), the
  capacity checks (:meth:`LicenseState.check_create`, :meth:`LicenseState.check_resize`) and
  the JSON document of ``GET /api/v1/environment`` (:meth:`LicenseState.to_json`).
- :func:`effective_now` and :func:`high_water_due` are the clock rollback protection: the
  environment remembers the latest time it has seen, and time never runs backwards for the
  license, so moving the clock back never revives an expired license.
- :func:`check_key` is steps 4-7 of applying a verified key (``product_key.check_applicable``
  against the running terms); :func:`preview` compares a key with what runs now, and
  :func:`change_summary` says what applying it changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from .. import product_key
from ..i18n import gettext as _


def N_(message: str) -> str:
    """Marks a label for the catalogue; `_` translates it where it is shown."""
    return message

from ..timefmt import for_people

TRIAL_TYPE = "trial"
TRIAL_CHANNEL = "built-in"
TRIAL_SEQ = 0

# The clock high-water mark is written at most this often (and on every activation).
HIGH_WATER_INTERVAL = timedelta(minutes=1)



class LicenseStatus(StrEnum):
    """The status of the running license (the JSON API's `license.status`); precedence:
    expired, then expiring, then trial or active (`status_of`)."""

    TRIAL = "trial"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"


STATUSES = tuple(LicenseStatus)
STATUS_LABELS = {LicenseStatus.TRIAL: N_("Trial"), LicenseStatus.ACTIVE: N_("Active"), LicenseStatus.EXPIRING: N_("Expiring"),
                 LicenseStatus.EXPIRED: N_("Expired")}
# The level of the status badge (and banner) for each status: info, ok, warning, danger.
STATUS_LEVELS = {LicenseStatus.TRIAL: "info", LicenseStatus.ACTIVE: "ok", LicenseStatus.EXPIRING: "warning",
                 LicenseStatus.EXPIRED: "danger"}
CHANNEL_LABELS = {
    TRIAL_CHANNEL: N_("Built-in trial"),
    product_key.Channel.ALIBABA_MARKETPLACE: N_("Alibaba Cloud Marketplace"),
    product_key.Channel.OFFLINE_CONTRACT: N_("Offline contract"),
}
TYPE_LABELS = {TRIAL_TYPE: N_("Free trial"), product_key.KeyType.SUBSCRIPTION: N_("Subscription"),
               product_key.KeyType.TRIAL_EXTENSION: N_("Trial extension")}

DAY = timedelta(days=1)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: the license state machine works in aware UTC times")
    return dt.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# Capacity errors (the plugin API raises these to host consoles too)


class CapacityError(Exception):
    """Creating or growing an instance was refused. ``code`` is the JSON API's error code."""

    code = "capacity"
    http_status = 409

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InsufficientAku(CapacityError):
    """The request needs more AKU than the license leaves free."""

    code = "insufficient_aku"

    @property
    def needed(self) -> int:
        return self.details.get("needed", 0)

    @property
    def available(self) -> int:
        return self.details.get("available", 0)


class LicenseExpired(CapacityError):
    """The license has expired: running instances keep running, nothing may be created or grown."""

    code = "license_expired"


# --------------------------------------------------------------------------------------------
# The terms that run


@dataclass(frozen=True)
class Terms:
    """What an environment runs: the built-in trial or the terms of an applied product key."""

    type: str  # trial | subscription | trial-extension
    channel: str  # built-in | alibaba-marketplace | offline-contract
    seq: int  # 0 for the trial
    id: str | None  # license.id of the key; None for the trial
    product: str
    reference: str | None
    aku: int
    not_before: datetime
    expires_at: datetime
    issued_at: datetime | None = None
    activated_at: datetime | None = None
    activated_by: str | None = None

    @property
    def is_trial(self) -> bool:
        """The built-in trial or a trial-extension key: an evaluation, not a purchase."""
        return self.type in (TRIAL_TYPE, product_key.KeyType.TRIAL_EXTENSION)

    @property
    def is_builtin_trial(self) -> bool:
        return self.type == TRIAL_TYPE


def trial_terms(first_started_at: datetime, *, days: int, aku: int, product: str) -> Terms:
    """The built-in trial: ``days`` days and ``aku`` AKU from the first start, no key needed."""
    start = _utc(first_started_at)
    return Terms(
        type=TRIAL_TYPE,
        channel=TRIAL_CHANNEL,
        seq=TRIAL_SEQ,
        id=None,
        product=product,
        reference=None,
        aku=aku,
        not_before=start,
        expires_at=start + timedelta(days=days),
    )


def terms_from_key(
    license: product_key.License, *, activated_at: datetime | None = None, activated_by: str | None = None
) -> Terms:
    """The terms of a verified product key's ``license``."""
    return Terms(
        type=license.type,
        channel=license.channel,
        seq=license.seq,
        id=license.id,
        product=license.product,
        reference=license.reference,
        aku=license.aku,
        not_before=license.not_before,
        expires_at=license.expires_at,
        issued_at=license.issued_at,
        activated_at=activated_at,
        activated_by=activated_by,
    )


# --------------------------------------------------------------------------------------------
# Clock rollback protection


def effective_now(clock: datetime, high_water: datetime | None) -> datetime:
    """The time the license is judged at: the clock, but never earlier than the latest time seen."""
    clock = _utc(clock)
    if high_water is None:
        return clock
    return max(clock, _utc(high_water))


def high_water_due(clock: datetime, high_water: datetime | None, expires_at: datetime | None = None) -> bool:
    """Whether the high-water mark should be moved to ``clock`` now: at most once a minute, and
    at once when this is the first time the environment sees the license expired (the mark is
    before ``expires_at`` and the clock at or past it). Without that second rule, a clock moved
    back within the minute after the expiry was seen would revive the license."""
    if high_water is None:
        return True
    clock, high_water = _utc(clock), _utc(high_water)
    if clock - high_water >= HIGH_WATER_INTERVAL:
        return True
    return expires_at is not None and high_water < _utc(expires_at) <= clock


def clock_moved_back(clock: datetime, high_water: datetime | None, tolerance: timedelta = timedelta(minutes=5)) -> bool:
    """The clock reads earlier than a time this environment has already seen (beyond a tolerance)."""
    return high_water is not None and _utc(high_water) - _utc(clock) > tolerance


# --------------------------------------------------------------------------------------------
# The state


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until expiry, rounded down; 0 once expired (the JSON API's ``daysLeft``)."""
    remaining = _utc(expires_at) - _utc(now)
    if remaining <= timedelta(0):
        return 0
    return remaining // DAY


def time_left(expires_at: datetime, now: datetime) -> str:
    """The time until expiry as the pages say it: "14 days", "1 day", "less than a day", or
    "none" once expired (callers say "expired" instead).

    Days are counted up, as people count the days they still have: a 14-day trial has 14 days
    left for the whole of its first day, 2 days when 24 hours and a second remain, and then,
    from 24 hours left, 1 day. Under 24 hours it says "less than a day", never "0 days". The
    exact expiry is always shown beside it. (The JSON API's ``daysLeft`` rounds down:
    :func:`days_left`.)
    """
    remaining = _utc(expires_at) - _utc(now)
    if remaining <= timedelta(0):
        return _("none")
    if remaining < DAY:
        return _("less than a day")
    days = -(-remaining // DAY)  # rounded up
    return _("1 day") if days == 1 else _("%(days)s days", days=days)


def status_of(terms: Terms, now: datetime, expiring_days: int) -> LicenseStatus:
    """``expired``, then ``expiring`` (within ``expiring_days`` of the end), then ``trial`` or ``active``."""
    now = _utc(now)
    if now >= terms.expires_at:
        return LicenseStatus.EXPIRED
    if terms.expires_at - now <= timedelta(days=expiring_days):
        return LicenseStatus.EXPIRING
    return LicenseStatus.TRIAL if terms.is_trial else LicenseStatus.ACTIVE


@dataclass(frozen=True)
class LicenseState:
    """The running license seen at ``now`` (the effective time), with the capacity in use."""

    install_id: str
    terms: Terms
    now: datetime
    aku_in_use: int = 0
    expiring_days: int = 7
    clock_behind: bool = False  # the clock reads earlier than a time already seen
    authorization_code: str | None = None  # masked (****1234), when one is remembered

    # -- status

    @property
    def status(self) -> LicenseStatus:
        return status_of(self.terms, self.now, self.expiring_days)

    @property
    def status_label(self) -> str:
        return _(STATUS_LABELS[self.status])

    @property
    def status_level(self) -> str:
        return STATUS_LEVELS[self.status]

    @property
    def expired(self) -> bool:
        return self.status == LicenseStatus.EXPIRED

    @property
    def where_to_apply(self) -> str:
        """Where a new product key goes (and the one-click way, when a code is remembered)."""
        if self.authorization_code:
            return _("Settings, Update Product License (or Check for renewal).")
        return _("Settings, Update Product License.")

    @property
    def next_step(self) -> str:
        """What to do for a license that will do (after the trial, or after this key's term)."""
        if self.terms.is_trial:
            return _("Buy a license on the marketplace, then activate it: Settings, Update Product License.")
        return _("Renew on the marketplace, then re-activate this environment with the new product key: %(where)s",
                 where=self.where_to_apply)

    @property
    def days_left(self) -> int:
        """Whole days left, rounded down (the API's ``daysLeft``)."""
        return days_left(self.terms.expires_at, self.now)

    @property
    def time_left(self) -> str:
        """The time left as people read it ("14 days", "less than a day"): :func:`time_left`."""
        return time_left(self.terms.expires_at, self.now)

    # -- capacity

    @property
    def aku(self) -> int:
        return self.terms.aku

    @property
    def aku_free(self) -> int:
        return max(0, self.terms.aku - self.aku_in_use)

    @property
    def over_capacity(self) -> bool:
        """More AKU run than the license grants (after a downgrade): nothing new until it fits."""
        return self.aku_in_use > self.terms.aku

    def check_create(self, aku: int) -> None:
        """May an instance of ``aku`` AKU be created? Raises LicenseExpired or InsufficientAku."""
        self.check_resize(0, aku, creating=True)

    def check_resize(self, current_aku: int, new_aku: int, *, creating: bool = False) -> None:
        """May an instance go from ``current_aku`` to ``new_aku``? Shrinking is always allowed."""
        growth = new_aku - current_aku
        if growth <= 0 and not creating:
            return
        if self.expired:
            day = format_day(self.terms.expires_at)
            if self.terms.is_trial:
                said = (_("The trial expired on %(day)s, so you cannot create an instance.", day=day) if creating
                        else _("The trial expired on %(day)s, so you cannot grow an instance.", day=day))
            else:
                said = (_("The license expired on %(day)s, so you cannot create an instance.", day=day) if creating
                        else _("The license expired on %(day)s, so you cannot grow an instance.", day=day))
            raise LicenseExpired(
                said + " " + _("Running instances keep running.") + " " + self.next_step,
                expires_at=self.terms.expires_at,
            )
        after = self.aku_in_use + growth
        if after > self.terms.aku:
            available = self.aku_free
            if self.over_capacity:
                why = _("%(in_use)s AKU are in use, more than the %(aku)s AKU licensed (the license was changed to "
                        "less capacity), so nothing can be created or grown until usage is at most %(aku)s AKU.",
                        in_use=self.aku_in_use, aku=self.terms.aku)
            else:
                numbers = dict(growth=growth, available=available, aku=self.terms.aku, in_use=self.aku_in_use)
                why = (_("Creating this instance needs %(growth)s AKU and only %(available)s of the %(aku)s AKU "
                         "licensed are free (%(in_use)s AKU in use).", **numbers) if creating else
                       _("Growing this instance needs %(growth)s AKU and only %(available)s of the %(aku)s AKU "
                         "licensed are free (%(in_use)s AKU in use).", **numbers))
            raise InsufficientAku(
                why + " " + _("Shrink or delete an instance, or buy more capacity and re-activate."),
                needed=growth,
                available=available,
                licensed=self.terms.aku,
                in_use=self.aku_in_use,
            )

    # -- the API document

    def to_json(self) -> dict:
        t = self.terms
        return {
            "installId": self.install_id,
            "license": {
                "status": self.status,
                "type": t.type,
                "channel": t.channel,
                "aku": t.aku,
                "akuInUse": self.aku_in_use,
                "seq": t.seq,
                "product": t.product,
                "reference": t.reference,
                "notBefore": product_key.format_time(t.not_before),
                "expiresAt": product_key.format_time(t.expires_at),
                "daysLeft": self.days_left,
                "activatedAt": product_key.format_time(t.activated_at) if t.activated_at else None,
                "id": t.id,
                "issuedAt": product_key.format_time(t.issued_at) if t.issued_at else None,
            },
            "authorizationCode": self.authorization_code,
        }


format_day = for_people  # a time as people read it on the pages: ``2026-12-28 10:00 UTC``


def change_summary(before: Terms, after: Terms) -> str:
    """What applying a new key changed, in one sentence for the page (and the flash).

    - over the built-in trial, or from a trial to a purchase: "Activated: 40 AKU until …";
    - a later expiry: "Renewed until … (was …)";
    - other AKU: "Updated to 40 AKU (was 20 AKU) until …" (a specification change);
    - both: "Renewed until … (was …) and updated to 40 AKU (was 20 AKU)";
    - an earlier expiry: "Now valid until … (was …)";
    - a trial extension over a trial extension: "Trial extended until … (was …)";
    - the same AKU and expiry: "Activated key sequence 3: still 40 AKU until …".
    """
    v = dict(until=format_day(after.expires_at), was=format_day(before.expires_at), seq=after.seq,
             aku=after.aku, was_aku=before.aku)
    if before.is_builtin_trial or (before.is_trial and not after.is_trial):
        return _("Activated: %(aku)s AKU until %(until)s (key sequence %(seq)s). "
                 "You can create instances up to the licensed capacity.", **v)
    if after.expires_at > before.expires_at and before.is_trial and after.is_trial:
        return _("Trial extended until %(until)s (was %(was)s), %(aku)s AKU, key sequence %(seq)s.", **v)
    if after.expires_at > before.expires_at:
        if after.aku != before.aku:
            return _("Renewed until %(until)s (was %(was)s) and updated to %(aku)s AKU (was %(was_aku)s AKU), "
                     "key sequence %(seq)s.", **v)
        return _("Renewed until %(until)s (was %(was)s), %(aku)s AKU, key sequence %(seq)s.", **v)
    if after.expires_at < before.expires_at:
        if after.aku != before.aku:
            return _("Updated to %(aku)s AKU (was %(was_aku)s AKU), now valid until %(until)s (was %(was)s), "
                     "key sequence %(seq)s.", **v)
        return _("Now valid until %(until)s (was %(was)s), %(aku)s AKU, key sequence %(seq)s.", **v)
    if after.aku != before.aku:
        return _("Updated to %(aku)s AKU (was %(was_aku)s AKU) until %(until)s, key sequence %(seq)s.", **v)
    return _("Activated key sequence %(seq)s: still %(aku)s AKU until %(until)s.", **v)


# --------------------------------------------------------------------------------------------
# Applying a key, and the preview before it


def check_key(key: product_key.ProductKey, state: LicenseState) -> bool:
    """Steps 4-7 for a verified key against the running license; True when it is already active.

    Raises ProductKeyError (``wrong_install_id``, ``clock_skew``, ``not_yet_valid``,
    ``key_expired``, ``older_key``). ``state.now`` is the effective time, so a clock moved back
    cannot make an expired key applicable.
    """
    return product_key.check_applicable(
        key,
        install_id=state.install_id,
        now=state.now,
        running_seq=state.terms.seq,
        running_id=state.terms.id,
    )


@dataclass(frozen=True)
class Preview:
    """What a key grants beside what runs now."""

    before: LicenseState
    after: LicenseState
    already_active: bool

    @property
    def aku_change(self) -> int:
        return self.after.aku - self.before.aku

    @property
    def fewer_aku(self) -> bool:
        return self.after.aku < self.before.aku

    @property
    def earlier_expiry(self) -> bool:
        return self.after.terms.expires_at < self.before.terms.expires_at

    @property
    def downgrade(self) -> bool:
        """Less AKU or an earlier expiry than what runs now."""
        return self.fewer_aku or self.earlier_expiry

    @property
    def over_capacity_after(self) -> bool:
        """Instances in use exceed what the key grants: they keep running, nothing new fits."""
        return self.after.over_capacity

    def warnings(self) -> list[str]:
        """The downgrade, said plainly."""
        out = []
        b, a = self.before, self.after
        if self.fewer_aku:
            out.append(_("This key grants less capacity than the running license: %(aku)s AKU instead of "
                         "%(was)s AKU.", aku=a.aku, was=b.aku))
        if self.earlier_expiry:
            out.append(_("This key expires earlier than the running license: %(day)s instead of %(was)s.",
                         day=format_day(a.terms.expires_at), was=format_day(b.terms.expires_at)))
        if self.over_capacity_after:
            out.append(_("%(in_use)s AKU are in use now, more than the %(aku)s AKU this key grants. Running "
                         "instances keep running, but no instance can be created or grown until usage is at most "
                         "%(aku)s AKU.", in_use=b.aku_in_use, aku=a.aku))
        return out


def preview(key: product_key.ProductKey, state: LicenseState, *, already_active: bool | None = None) -> Preview:
    """Compare a verified, applicable key with what runs now (call :func:`check_key` first)."""
    if already_active is None:
        already_active = check_key(key, state)
    after_terms = terms_from_key(key.license)
    after = LicenseState(
        install_id=state.install_id,
        terms=after_terms,
        now=state.now,
        aku_in_use=state.aku_in_use,
        expiring_days=state.expiring_days,
    )
    return Preview(before=state, after=after, already_active=already_active)


def describe_key(envelope: object) -> dict:
    """What can be read from an undecodable or refused key's envelope, for the history: id and seq
    when they have the right types (never trusted, only recorded)."""
    out: dict = {}
    if not isinstance(envelope, dict):
        return out
    lic = envelope.get("license")
    if not isinstance(lic, dict):
        return out
    if isinstance(lic.get("id"), str) and len(lic["id"]) <= 36:
        out["id"] = lic["id"]
    seq = lic.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**53:
        out["seq"] = seq
    aku = lic.get("aku")
    if isinstance(aku, int) and not isinstance(aku, bool) and 0 < aku < 2**31:
        out["aku"] = aku
    ref = lic.get("reference")
    if isinstance(ref, str) and len(ref) <= 128:
        out["reference"] = ref
    exp = lic.get("expiresAt")
    if isinstance(exp, str):
        try:
            out["expires_at"] = product_key.parse_time(exp)
        except ValueError:
            pass
    return out
