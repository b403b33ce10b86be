"""Self-service redemption: a buyer turns an authorization code into a product key.

The same steps and rules as staff issuing (`issuing.issue_from_code`), without transfer or
replace, answering only the key and its own terms. `redeem` is also what the environment side
calls in-process in role `both` (`state.services["redeem"]`).

Rate limits (moving windows where the storage has them), checked before anything else:
- per client address, `VENDOR_REDEEM_CLIENT_LIMITS` (10 a minute, 50 a day): every attempt;
- per code, by its keyed hash, `VENDOR_REDEEM_CODE_LIMITS` (5 an hour): every attempt except
  the owner's. The owner is the install ID the code is already bound to (one indexed read, no
  marketplace call): its renewal checks and re-redemptions are not guessing, so they count only
  against `VENDOR_REDEEM_OWNER_LIMITS` (10 a minute) in the client's scope, never against the
  day limit or the code's.
The owner's checks also reuse the code's last marketplace read for
`VENDOR_REDEEM_CODE_CACHE_SECONDS` (60; 0 with the demo's in-process simulator), so pressing
"Check for renewal" again and again costs at most one DescribeLicense a minute.
"""
from __future__ import annotations

import math
import time

from flask import current_app, has_request_context
from limits import parse_many
from limits.storage import MovingWindowSupport
from limits.strategies import MovingWindowRateLimiter

from .. import audit, metrics, product_key
from ..authorization_code import mask
from ..extensions import client_address, limiter
from .models import IssuedKey
from .issuing import issue_from_code
from .bindings import bound_to, code_hash
from .rules import IssueError, limit_phrase, normalize_code, normalize_install_id, rate_limit_message


def license_json(key: IssuedKey) -> dict:
    """The `license` member of the key, as signed."""
    return product_key.License(
        id=key.id, seq=key.seq, type=key.type, channel=key.channel, reference=key.reference,
        product=key.product, aku=key.aku, issued_at=key.issued_at, not_before=key.not_before,
        expires_at=key.expires_at,
    ).to_json()


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and getattr(limiter, "enabled", True)


def _strategy():
    """A moving window where the storage supports one (memory, Redis): "10 a minute" is then
    never 20 across the turn of a minute, as a fixed window would allow."""
    storage = limiter.storage
    if isinstance(storage, MovingWindowSupport):
        return MovingWindowRateLimiter(storage)
    return limiter.limiter


def _hit(limits_text: str, scope: str, identity: str) -> None:
    if not (limits_text or "").strip():
        return
    strategy = _strategy()
    for item in parse_many(limits_text):
        if not strategy.hit(item, "redeem", scope, identity):
            reset = strategy.get_window_stats(item, "redeem", scope, identity).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            limit = limit_phrase(item.amount, item.multiples, item.GRANULARITY.name)
            raise IssueError("rate_limited", rate_limit_message(scope, wait, limit), 429, retry_after=wait)


def check_limits(code: str | None, client: str, *, owner: bool = False) -> None:
    """Per client first, then per code (by its keyed hash, never the code itself).

    `owner`: the code is bound to the asking install ID. Its requests are hit against
    `VENDOR_REDEEM_OWNER_LIMITS` in the client's scope (the same counter as the client's minute
    limit when both say "10/minute"), and never against the client's day limit or the code's.
    """
    if not _enabled():
        return
    config = current_app.config
    if owner:
        _hit(config["VENDOR_REDEEM_OWNER_LIMITS"], "client", client)
        return
    _hit(config["VENDOR_REDEEM_CLIENT_LIMITS"], "client", client)
    if code:
        _hit(config["VENDOR_REDEEM_CODE_LIMITS"], "code", code_hash(code))


def _is_owner(code: str | None, install_id: str | None) -> bool:
    if not code:
        return False
    try:
        return bound_to(code, normalize_install_id(install_id))
    except IssueError:
        return False


def _actor() -> str:
    if not has_request_context():
        return "buyer (self-service)"
    name = current_app.extensions["license_platform"].actor_name()
    return "buyer (self-service)" if name == "anonymous" else f"buyer via {name}"


def redeem(authorization_code: str, install_id: str, *, client: str | None = None) -> dict:
    """`{"productKey", "license"}`; raises `IssueError` (a `RedeemError`)."""
    return redeem_with_status(authorization_code, install_id, client=client)[0]


def redeem_with_status(authorization_code: str, install_id: str, *, client: str | None = None) -> tuple[dict, bool]:
    """The answer, and whether a new key was signed (False: the stored key, nothing changed).
    Counted by result (`metrics.redemption`): `ok`, or the error code."""
    try:
        answer = _redeem(authorization_code, install_id, client=client)
    except IssueError as exc:
        metrics.redemption(exc.code)
        raise
    except Exception:
        metrics.redemption("internal_error")
        raise
    metrics.redemption("ok")
    return answer


def _redeem(authorization_code: str, install_id: str, *, client: str | None) -> tuple[dict, bool]:
    if client is None:
        client = client_address() if has_request_context() else "local"
    try:
        code = normalize_code(authorization_code)
    except IssueError:
        code = None
    owner = _is_owner(code, install_id)
    check_limits(code, client, owner=owner)
    actor = _actor()
    max_age = float(current_app.config["VENDOR_REDEEM_CODE_CACHE_SECONDS"] or 0)
    try:
        issued = issue_from_code(authorization_code, install_id, actor=actor, staff=False, max_age=max_age)
    except IssueError as exc:
        if exc.code not in ("invalid_install_id",) and code:
            audit.record("redeem_refused", actor=actor, subject=None, install_id=_install_or_none(install_id),
                         after={"code": mask(code), "error": exc.code}, commit=True)
        raise
    return {"productKey": issued.key.product_key, "license": license_json(issued.key)}, issued.created


def _install_or_none(value: str | None) -> str | None:
    """The install ID for the audit row, when `value` is one (`rules.normalize_install_id`)."""
    try:
        return normalize_install_id(value)
    except IssueError:
        return None


def service(authorization_code: str, install_id: str) -> dict:
    """The callable registered as `state.services["redeem"]` (the redemption interface)."""
    return redeem(authorization_code, install_id)
