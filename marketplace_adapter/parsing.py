"""Pure parsing of Market API answers into :class:`License` and activation results.

The documentation disagrees with itself in several places (two time formats, ``Success`` as a
string or a boolean, the buyer's account id in two places), so every documented variant is
accepted here, in one place, and the rest of the product sees one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from enum import StrEnum
from typing import Any, Mapping

from .errors import BadResponse, mask_code
from .timezones import resolve_timezone

__all__ = [
    "CodeStatus",
    "License",
    "LIVE_STATUSES",
    "KNOWN_STATUSES",
    "parse_market_time",
    "parse_license",
    "parse_success",
]



class CodeStatus(StrEnum):
    """`License.status`, as the marketplace writes it (a status it may add later stays a plain str)."""

    ACTIVATED = "ACTIVATED"
    INACTIVATED = "INACTIVATED"
    EXPIRED = "EXPIRED"
    DISCARD = "DISCARD"


LIVE_STATUSES = frozenset({CodeStatus.ACTIVATED, CodeStatus.INACTIVATED})
KNOWN_STATUSES = frozenset(CodeStatus)


@dataclass(frozen=True)
class License:
    """What the marketplace says about one authorization code.

    Times are timezone-aware; an empty time is None. ``specification`` is the
    ``package_version`` attribute (the plan the buyer bought); ``attributes`` keeps every
    ``LicenseAttribute`` so nothing the marketplace sent is lost.
    """

    code: str
    status: str
    instance_id: str | None = None
    product_code: str | None = None
    sku_id: str | None = None
    product_name: str | None = None
    supplier_name: str | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    specification: str | None = None
    order_ids: list[str] = field(default_factory=list)
    ali_uid: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def is_live(self, now: datetime | None = None) -> bool:
        """True while the code can back a license: ACTIVATED or INACTIVATED and not past expiry.

        ``now`` must be timezone-aware; it defaults to the current time.
        """
        if self.status not in LIVE_STATUSES:
            return False
        if self.expires_at is None:
            return True
        now = now or datetime.now(timezone.utc)
        if now.tzinfo is None:
            raise ValueError("is_live(now) needs a timezone-aware datetime")
        return now < self.expires_at

    def __repr__(self) -> str:
        # The code is a bearer secret, and a repr ends up in logs and tracebacks.
        return (
            f"License(code={mask_code(self.code)!r}, status={self.status!r}, "
            f"product_code={self.product_code!r}, specification={self.specification!r}, "
            f"expires_at={self.expires_at!r})"
        )


_EPOCH = re.compile(r"[0-9]{1,16}")  # seconds or milliseconds since 1970, in ASCII digits
_UID = re.compile(r"[0-9]{1,19}")
MAX_UID = 2**63 - 1  # an account id the database stores (signed 64 bits)
_ISO_SHORT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")
# The last but two is what Java's Timestamp.toString() writes ("2019-05-25 09:00:00.0").
_PLAIN = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d")


def parse_market_time(value: Any, market_tz: str | tzinfo = "Asia/Shanghai") -> datetime | None:
    """One marketplace time, as an aware datetime in UTC; None when empty.

    Accepted: ``2019-05-25 09:00:00`` (no zone: in ``market_tz``; also without seconds, or with a
    fraction as Java writes it, ``.0``), ``2016-05-18T14:14Z`` and other
    ISO 8601 forms with a zone, and epoch numbers (milliseconds when large). Anything else raises
    ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    text = str(value).strip()
    if not text or text in ("-", "null", "None"):
        return None
    if _EPOCH.fullmatch(text):  # ASCII digits only: "²" passes str.isdigit() and fails int()
        return parse_market_time(int(text), market_tz)
    if _ISO_SHORT.match(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    zone = resolve_timezone(market_tz)
    for fmt in _PLAIN:
        try:
            moment = datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
        return moment.astimezone(timezone.utc)
    raise ValueError(f"unrecognised time {text!r}")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _attributes(license_obj: Mapping[str, Any]) -> dict[str, str]:
    """``ExtendArray.LicenseAttribute`` as a dict, tolerating the shapes XML-to-JSON produces
    (a single object instead of a list, or the list directly under ``ExtendArray``); raises
    ``ValueError`` for any other shape."""
    extend = license_obj.get("ExtendArray")
    if extend is None:
        return {}
    items = extend.get("LicenseAttribute", []) if isinstance(extend, Mapping) else extend
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise ValueError("License.ExtendArray.LicenseAttribute is not a list")
    attributes: dict[str, str] = {}
    for item in items:
        if isinstance(item, Mapping) and item.get("Code") is not None:
            value = item.get("Value")
            attributes[str(item["Code"])] = "" if value is None else str(value)
    return attributes


def _uid(value: Any) -> int | None:
    """An account id; 0, empty and anything but ASCII digits within signed 64 bits (what the
    database stores) mean "not given"."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not _UID.fullmatch(text):
        return None
    uid = int(text)
    return uid if 0 < uid <= MAX_UID else None


def parse_license(
    payload: Any,
    *,
    market_tz: str | tzinfo = "Asia/Shanghai",
    requested_code: str | None = None,
    request_id: str | None = None,
) -> License:
    """A DescribeLicense answer (HTTP 200) as a :class:`License`, whatever its status.

    ``requested_code`` is the code that was asked about; it wins over ``License.LicenseCode``
    because Alibaba's published example answers ``"-"`` there. Raises :class:`BadResponse` when
    the answer lacks the ``License`` object or its status, or holds an unreadable time.
    """

    def bad(message: str) -> BadResponse:
        return BadResponse(message, code="BadResponse", request_id=request_id, http_status=200)

    if not isinstance(payload, Mapping) or not isinstance(payload.get("License"), Mapping):
        raise bad("DescribeLicense answer has no License object")
    lic = payload["License"]
    status = _as_text(lic.get("LicenseStatus"))
    if status is None:
        raise bad("DescribeLicense answer has no License.LicenseStatus")
    code = requested_code or _as_text(lic.get("LicenseCode"))
    if code is None:
        raise bad("DescribeLicense answer has no License.LicenseCode")

    times: dict[str, datetime | None] = {}
    for key, name in (("CreateTime", "created_at"), ("ActivateTime", "activated_at"),
                      ("ExpiredTime", "expires_at")):
        try:
            times[name] = parse_market_time(lic.get(key), market_tz)
        except (ValueError, OverflowError, OSError):  # a time out of datetime's range too
            raise bad(f"License.{key} is not a time this client understands") from None

    try:
        attributes = _attributes(lic)
    except ValueError as exc:
        raise bad(str(exc)) from None
    order_ids = [part.strip() for part in attributes.get("orderId", "").split(",") if part.strip()]
    extend_info = lic.get("ExtendInfo") if isinstance(lic.get("ExtendInfo"), Mapping) else {}
    ali_uid = _uid(extend_info.get("AliUid")) or _uid(attributes.get("aliUid"))

    return License(
        code=code,
        status=status.upper(),
        instance_id=_as_text(lic.get("InstanceId")),
        product_code=_as_text(lic.get("ProductCode")),
        sku_id=_as_text(lic.get("ProductSkuId")),
        product_name=_as_text(lic.get("ProductName")),
        supplier_name=_as_text(lic.get("SupplierName")),
        specification=_as_text(attributes.get("package_version")),
        order_ids=order_ids,
        ali_uid=ali_uid,
        attributes=attributes,
        **times,
    )


def parse_success(payload: Any, *, request_id: str | None = None) -> bool:
    """``Success`` of an ActivateLicense answer: ``true``/``"true"`` (any case) or false."""
    if not isinstance(payload, Mapping) or "Success" not in payload:
        raise BadResponse("ActivateLicense answer has no Success field", code="BadResponse",
                          request_id=request_id, http_status=200)
    value = payload["Success"]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadResponse(f"ActivateLicense Success is {type(value).__name__}, not a boolean",
                      code="BadResponse", request_id=request_id, http_status=200)
