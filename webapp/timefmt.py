"""How every page writes a time for people: ``2026-12-01 02:43 UTC`` (in Chinese
``2026年12月1日 02:43 UTC``, through Babel: `i18n.format_when`).

One format for both sides (the environment and the vendor may not import each other, so it lives
here). ISO 8601 (`product_key.format_time`) stays the format of the JSON API and the CSV export.
The filters take a datetime, or a time as the JSON of keys and audit records holds it
(``2026-12-01T02:43:00Z``); other text is shown as it is.
"""
from __future__ import annotations

from datetime import datetime, timezone

from . import i18n
from .product_key import format_time, parse_time
from .template_names import add_filter


def _utc(moment: datetime | str) -> datetime | str:
    if isinstance(moment, str):
        try:
            return parse_time(moment)
        except ValueError:
            return moment
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def for_people(moment: datetime | str | None) -> str:
    """``2026-12-01 02:43 UTC``; ``—`` for no time."""
    if moment is None or moment == "":
        return "—"
    moment = _utc(moment)
    return moment if isinstance(moment, str) else i18n.format_when(moment)


def day_for_people(moment: datetime | str | None) -> str:
    """``2026-12-01`` (UTC), for sentences that name only the day."""
    if moment is None or moment == "":
        return "—"
    moment = _utc(moment)
    return moment if isinstance(moment, str) else i18n.format_day(moment)


def for_machines(moment: datetime | str | None) -> str:
    """ISO 8601 in UTC (``2026-12-01T02:43:00Z``), for ``<time datetime>``; empty for no time (or
    text that is not a time)."""
    if moment is None:
        return ""
    moment = _utc(moment)
    return "" if isinstance(moment, str) else format_time(moment)


def init_app(app) -> None:
    """The Jinja filters ``when``, ``day`` and ``iso`` on every template, the host's included
    (refused when the host has filters of those names: `template_names.add_filter`)."""
    add_filter(app, "when", for_people)
    add_filter(app, "day", day_for_people)
    add_filter(app, "iso", for_machines)
