"""Limits on refused key applications: per actor and per environment, in moving windows.

Every refusal that is recorded in the activation history (a pasted key refused at *Check the
key* or *Apply*, a redemption or renewal check the vendor refused) counts against two limits:

- `LICENSE_REFUSAL_ACTOR_LIMITS` (10 a minute, 60 an hour): the refusals of one actor (the
  signed-in user, the API token's user, a host console's `current_actor`);
- `LICENSE_REFUSAL_ENVIRONMENT_LIMITS` (30 a minute, 300 an hour): the refusals of everyone in
  this environment together (one attacker with many accounts).

While either is full, applying, previewing or redeeming answers `rate_limited` (429, JSON under
`/api/v1`; the Settings card shows it as a wait) with `Retry-After`, and nothing is recorded:
no history row, no audit event per attempt (one `license_activation_rate_limited` event per
actor and window says that the limit was reached). Applied keys and "already active" never
count. An empty limit switches that scope off; `RATELIMIT_ENABLED=False` switches both off.

The counters live in `RATELIMIT_STORAGE_URI` (`memory://` by default: one count per process;
`redis://...` when several workers serve), in a `limits` storage of the environment's own, so
that a host console, which adds no Limiter of the plugin's, is limited too. A moving window
where the storage has one (memory, Redis): "10 a minute" is never 20 across the turn of a
minute. The check and the count are separate steps, so requests at the same moment may pass the
check together: the limit can be overshot by the number of concurrent requests, never more.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import MovingWindowSupport, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from .. import audit
from ..i18n import N_, gettext as _
from ..wording import limit_phrase, wait_phrase

EXTENSION_KEY = "license_refusal_limits"
NAMESPACE = "license-refusals"

# The scopes, the setting of each, and how its message names who is limited.
ACTOR = "actor"
ENVIRONMENT = "environment"
SETTING = {ACTOR: "LICENSE_REFUSAL_ACTOR_LIMITS", ENVIRONMENT: "LICENSE_REFUSAL_ENVIRONMENT_LIMITS"}

HEADLINE = N_("Too many refused keys just now.")


class RefusalsLimited(Exception):
    """Too many refusals in a window: a wait, not a refusal of the key (nothing is recorded).

    Shaped like the other refusals the pages show (``code``, ``message``, ``headline``) and
    like a rate limit (``http_status`` 429, ``retry_after`` in seconds)."""

    code = "rate_limited"
    http_status = 429
    field = None

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.headline = _(HEADLINE)
        self.retry_after = retry_after
        self.details: dict = {}


def message(scope: str, seconds: float, limit: str, vendor: str) -> str:
    """The words of a `rate_limited` answer (pure): the limit and whom it holds, the wait, and
    what to check meanwhile."""
    values = dict(limit=limit, wait=wait_phrase(seconds), vendor=vendor)
    limited = (_("Refused product keys and authorization codes are limited to %(limit)s from one person.", **values)
               if scope == ACTOR else
               _("Refused product keys and authorization codes are limited to %(limit)s in this environment, for "
                 "everyone together.", **values))
    return " ".join((_(HEADLINE), limited, _(
        "Wait %(wait)s, then try again with the whole of the newest key %(vendor)s issued for this install ID, or "
        "the authorization code as the marketplace's Buyer Console shows it.", **values)))


@dataclass
class Limits:
    """One app's limiter and the parsed limits of each scope."""

    strategy: RateLimiter
    items: dict[str, list[RateLimitItem]]


def parse(text: str | None, setting: str) -> list[RateLimitItem]:
    """`"10/minute;60/hour"` as limits; empty: none. A value that is no limit stops the app
    with a message naming the setting."""
    if not (text or "").strip():
        return []
    try:
        return list(parse_many(text))
    except ValueError:
        raise RuntimeError(
            f"{setting} must be limits such as '10/minute;60/hour', not {text!r}"
        ) from None


def init_app(app: Flask) -> None:
    """Parse the limits and open the counters' storage (`RATELIMIT_STORAGE_URI`)."""
    items = {scope: parse(app.config[name], name) for scope, name in SETTING.items()}
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    strategy = MovingWindowRateLimiter(storage) if isinstance(storage, MovingWindowSupport) \
        else FixedWindowRateLimiter(storage)
    app.extensions[EXTENSION_KEY] = Limits(strategy, items)


def _limits() -> Limits | None:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    return current_app.extensions.get(EXTENSION_KEY)


def _identities(actor: str, install_id: str) -> dict[str, tuple[str, ...]]:
    return {ACTOR: (ACTOR, install_id, actor), ENVIRONMENT: (ENVIRONMENT, install_id)}


def check(actor: str, install_id: str) -> None:
    """Raise RefusalsLimited when the actor's or the environment's refusals fill a window."""
    limits = _limits()
    if limits is None:
        return
    for scope, identity in _identities(actor, install_id).items():
        for item in limits.items[scope]:
            if not limits.strategy.test(item, NAMESPACE, *identity):
                reset = limits.strategy.get_window_stats(item, NAMESPACE, *identity).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                _audit_once(limits, item, scope, actor, install_id, wait)
                raise RefusalsLimited(
                    message(scope, wait, limit_phrase(item.amount, item.multiples, item.GRANULARITY.name),
                            current_app.config["LICENSE_VENDOR_NAME"]),
                    wait,
                )


def count(actor: str, install_id: str) -> None:
    """One more refusal for the actor and for the environment."""
    limits = _limits()
    if limits is None:
        return
    for scope, identity in _identities(actor, install_id).items():
        for item in limits.items[scope]:
            limits.strategy.hit(item, NAMESPACE, *identity)


def _audit_once(limits: Limits, item: RateLimitItem, scope: str, actor: str, install_id: str, wait: int) -> None:
    """`license_activation_rate_limited`, once per actor, scope and window of the limit reached:
    the log says that someone was held back, without a row per attempt."""
    once = type(item)(1, item.multiples)
    if not limits.strategy.hit(once, NAMESPACE + "-audited", scope, install_id, actor, str(item)):
        return
    audit.record(
        "license_activation_rate_limited",
        actor=actor,
        install_id=install_id,
        after={"scope": scope, "limit": limit_phrase(item.amount, item.multiples, item.GRANULARITY.name),
               "retryAfter": wait},
        detail=f"Further attempts are refused without a record until the {scope}'s window frees up "
               "(this event is written once per window).",
        commit=True,
    )
