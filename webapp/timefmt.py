"""How every page writes a time for people: ``2026-12-01 02:43 UTC``.

One format for both sides (the environment and the vendor may not import each other, so it lives
here). ISO 8601 (`product_key.format_time`) stays the format of the JSON API and the CSV export.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .product_key import format_time


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def for_people(moment: datetime | None) -> str:
    """``2026-12-01 02:43 UTC``; ``—`` for no time."""
    if moment is None:
        return "—"
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def day_for_people(moment: datetime | None) -> str:
    """``2026-12-01`` (UTC), for sentences that name only the day."""
    if moment is None:
        return "—"
    return _utc(moment).strftime("%Y-%m-%d")


def for_machines(moment: datetime | None) -> str:
    """ISO 8601 in UTC (``2026-12-01T02:43:00Z``), for ``<time datetime>``; empty for no time."""
    return "" if moment is None else format_time(_utc(moment))


def init_app(app) -> None:
    """The Jinja filters ``when``, ``day`` and ``iso`` on every template, the host's included."""
    app.add_template_filter(for_people, "when")
    app.add_template_filter(day_for_people, "day")
    app.add_template_filter(for_machines, "iso")
