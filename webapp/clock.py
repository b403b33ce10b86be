"""The plugin's one clock: `now()`, an aware UTC datetime, on both sides.

`LICENSE_CLOCK` (a callable answering an aware datetime) replaces the wall clock: the tests
drive time with it, and nothing else in the plugin reads the system clock for a time of day.
Functions of pure logic take the time they should use as an argument (`now=`) and their
callers pass `clock.now()`. Durations (timeouts, waits) stay on `time.monotonic`, which no
setting of the clock may move.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time, aware UTC: `LICENSE_CLOCK`'s when the app has one, else the system's."""
    clock = current_app.config.get("LICENSE_CLOCK") if has_app_context() else None
    if clock is None:
        return datetime.now(timezone.utc)
    value = clock()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("LICENSE_CLOCK must answer an aware datetime")
    return value.astimezone(timezone.utc)


def now_seconds() -> datetime:
    """`now()` in whole seconds: the precision of a product key's times and of the trial's."""
    return now().replace(microsecond=0)


def timestamp() -> float:
    """`now()` as seconds since the epoch (what rate-limit windows count in)."""
    return now().timestamp()
