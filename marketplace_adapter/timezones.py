"""Resolving the marketplace's time zone without making tzdata a hard dependency.

Marketplace times written without a zone are in China Standard Time (by default). The IANA
database is usually there, but slim containers and Windows may lack it; China has had a fixed
UTC+8 offset since 1991, so a fixed offset is an exact fallback for the zones that matter.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["resolve_timezone"]

_FIXED_UTC8 = {"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Hong_Kong", "Asia/Macau",
               "Asia/Taipei", "Asia/Singapore", "PRC"}
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


def resolve_timezone(name: str | tzinfo) -> tzinfo:
    """A ``tzinfo`` for an IANA name (``Asia/Shanghai``), ``UTC``, or an offset (``+08:00``, ``UTC+8``)."""
    if isinstance(name, tzinfo):
        return name
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        if text in _FIXED_UTC8:
            return timezone(timedelta(hours=8), text)
        raise ValueError(f"unknown time zone {name!r}: use an IANA name or an offset like +08:00")
