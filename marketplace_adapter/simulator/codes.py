"""The simulator's authorization codes: their record, the codes-file format, and the demo seed.

A codes file is JSON: a list of code objects, or ``{"codes": [...]}``. Times are ISO 8601
(``2025-01-31T00:00:00Z``; without a zone they are in the simulator's market time zone) or
relative to when the file is loaded (``now``, ``+30d``, ``-2d``, ``+12h``, ``+90m``), so a demo
file never goes stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "CodeRecord",
    "DEMO_PRODUCT_CODE",
    "DEMO_PRODUCT_NAME",
    "DEMO_SUPPLIER_NAME",
    "DEMO_SELLER",
    "OTHER_SELLER",
    "DEMO_SPECS",
    "STATUSES",
    "demo_codes",
    "load_codes_file",
    "parse_time",
]

DEMO_PRODUCT_CODE = "cmgj00demo01"
DEMO_PRODUCT_NAME = "AutoMQ for Kafka ( BYOC Monthly Subscription License )"
DEMO_SUPPLIER_NAME = "AutoMQ HK Limited"
DEMO_SELLER = "demo-seller"
OTHER_SELLER = "another-seller"
#: The demo's specification table, in the shape of ``MARKETPLACE_SPECS``.
DEMO_SPECS: dict[str, dict[str, Any]] = {
    "aku-20": {"aku": 20, "name": "20 AKU"},
    "aku-40": {"aku": 40, "name": "40 AKU"},
}
#: ``INVALID`` is not a marketplace status: such a code answers ``License.Invalid``.
STATUSES = ("ACTIVATED", "INACTIVATED", "EXPIRED", "DISCARD", "INVALID")
_UID_PLACES = ("extend_info", "attribute", "both")
_RELATIVE = re.compile(r"^([+-])(\d+)([dhm])$")


def parse_time(value: Any, now: datetime, zone: tzinfo) -> datetime | None:
    """A codes-file time: ISO 8601, ``now`` or ``+/-N`` ``d``/``h``/``m`` relative to ``now``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text = str(value).strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = {"d": timedelta(days=int(amount)), "h": timedelta(hours=int(amount)),
                 "m": timedelta(minutes=int(amount))}[unit]
        return now - delta if sign == "-" else now + delta
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CodeRecord:
    """One authorization code as the simulated marketplace holds it."""

    code: str
    status: str = "INACTIVATED"
    product_code: str = DEMO_PRODUCT_CODE
    sku_id: str | None = None
    specification: str | None = None
    product_name: str = DEMO_PRODUCT_NAME
    supplier_name: str = DEMO_SUPPLIER_NAME
    instance_id: str | None = None
    created_at: datetime | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    order_ids: list[str] = field(default_factory=list)
    ali_uid: int | None = None
    #: The seller whose product this is; None means the simulator's own seller.
    seller: str | None = None
    #: What ActivateLicense recorded (the buyer's account id).
    identification: str | None = None
    #: How a dead (expired/discarded) code answers DescribeLicense: "status" (HTTP 200 with the
    #: status) or "error" (HTTP 400 License.Expired/License.Discard); None follows the simulator.
    dead_as: str | None = None
    #: Where the buyer's AliUid appears: ExtendInfo.AliUid, the aliUid attribute, or both.
    uid_in: str = "extend_info"
    account_quantity: int = 0
    email: str = ""
    mobile: str = ""
    #: For people: what this code demonstrates.
    note: str = ""

    def __post_init__(self) -> None:
        self.status = self.status.upper()
        if self.status not in STATUSES:
            raise ValueError(f"code {self.code!r}: status must be one of {', '.join(STATUSES)}")
        if self.dead_as not in (None, "status", "error"):
            raise ValueError(f"code {self.code!r}: dead_as must be 'status' or 'error'")
        if self.uid_in not in _UID_PLACES:
            raise ValueError(f"code {self.code!r}: uid_in must be one of {', '.join(_UID_PLACES)}")
        if self.sku_id is None:
            self.sku_id = f"{self.product_code}-prepay"
        if self.instance_id is None:
            digest = hashlib.sha256(self.code.encode("utf-8")).hexdigest()
            self.instance_id = str(1_500_000_000 + int(digest[:8], 16) % 100_000_000)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, now: datetime, zone: tzinfo) -> "CodeRecord":
        """A record from a codes-file object. Aliases: ``package_version`` for ``specification``,
        ``other_seller: true`` for ``seller: "another-seller"``, ``order_id`` for one order id."""
        data = dict(data)
        if "code" not in data:
            raise ValueError(f"a code object needs a 'code': {data!r}")
        if "package_version" in data:
            data.setdefault("specification", data.pop("package_version"))
        if data.pop("other_seller", False):
            data.setdefault("seller", OTHER_SELLER)
        if "order_id" in data:
            data.setdefault("order_ids", [data.pop("order_id")])
        if isinstance(data.get("order_ids"), str):
            data["order_ids"] = [part.strip() for part in data["order_ids"].split(",") if part.strip()]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"code {data['code']!r}: unknown field(s) {', '.join(unknown)}")
        for name in ("created_at", "activated_at", "expires_at"):
            data[name] = parse_time(data.get(name), now, zone)
        if data.get("ali_uid") is not None:
            data["ali_uid"] = int(data["ali_uid"])
        if data.get("identification") is not None:
            data["identification"] = str(data["identification"])
        data["order_ids"] = [str(order) for order in data.get("order_ids", [])]
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the codes-file format (so it can be loaded back)."""
        data = asdict(self)
        for name in ("created_at", "activated_at", "expires_at"):
            data[name] = _iso(getattr(self, name))
        return data


def load_codes_file(path: str | Path) -> list[dict[str, Any]]:
    """The code objects of a codes file (not yet records: times are resolved when added)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, Mapping):
        data = data.get("codes", [])
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of codes or {{\"codes\": [...]}}")
    return data


def demo_codes(
    now: datetime | None = None, product_code: str = DEMO_PRODUCT_CODE
) -> list[dict[str, Any]]:
    """Seed codes in every state the product must handle, as codes-file objects.

    Deterministic (the same codes every run), so a demo script or a test can name them.
    """
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)

    def at(days: float) -> str:
        return _iso(now + timedelta(days=days))  # type: ignore[return-value]

    def code(name: str, uid: int, **values: Any) -> dict[str, Any]:
        base = {
            "code": name,
            "status": "INACTIVATED",
            "product_code": product_code,
            "sku_id": f"{product_code}-prepay",
            "specification": "aku-20",
            "created_at": at(-30),
            "expires_at": at(335),
            "order_ids": [f"2{uid % 10**12:012d}"],
            "ali_uid": uid,
            "email": "bu***@example.com",
            "mobile": "138****0000",
        }
        base.update(values)
        return base

    return [
        code("DEMO-AKU20-READY-7K3Q", 1234567890120001,
             note="New, 20 AKU, one year: redeem it"),
        code("DEMO-AKU40-READY-9M2X", 1234567890120002, specification="aku-40",
             uid_in="attribute", note="New, 40 AKU, one year (AliUid only in the aliUid attribute)"),
        code("DEMO-AKU20-ACTIVE-4T8P", 1234567890120003, status="ACTIVATED",
             activated_at=at(-20), identification="1234567890120003", expires_at=at(180),
             note="Already activated by its buyer, 20 AKU"),
        code("DEMO-AKU40-SOON-2F6W", 1234567890120004, specification="aku-40",
             created_at=at(-27), expires_at=at(3), note="40 AKU, expires in 3 days"),
        code("DEMO-EXPIRED-5R1N", 1234567890120005, status="EXPIRED", created_at=at(-40),
             activated_at=at(-40), identification="1234567890120005", expires_at=at(-10),
             note="Expired 10 days ago (HTTP 200 with status EXPIRED, unless the simulator "
                  "answers dead codes as errors)"),
        code("DEMO-EXPIRED-ERR-8C4J", 1234567890120006, status="EXPIRED", created_at=at(-40),
             expires_at=at(-5), dead_as="error",
             note="Expired 5 days ago (HTTP 400 License.Expired)"),
        code("DEMO-DISCARD-3H7Z", 1234567890120007, status="DISCARD",
             note="Discarded: the order was refunded"),
        code("DEMO-OTHERSELLER-6B9D", 1234567890120008, seller=OTHER_SELLER,
             product_code="cmgj00other1", sku_id="cmgj00other1-prepay",
             note="Another seller's product (Auth.Match)"),
        code("DEMO-WRONGPRODUCT-1V5S", 1234567890120009, product_code="cmgj00demo02",
             sku_id="cmgj00demo02-prepay", note="Ours, but for another product code"),
        code("DEMO-UNKNOWNSPEC-4L2G", 1234567890120010, specification="enterprise-unlimited",
             note="A specification this deployment has no AKU for"),
        code("DEMO-INVALID-7P3E", 1234567890120011, status="INVALID",
             note="The marketplace calls it invalid (License.Invalid)"),
    ]


def as_records(
    items: Iterable[Mapping[str, Any] | CodeRecord], *, now: datetime, zone: tzinfo
) -> list[CodeRecord]:
    return [item if isinstance(item, CodeRecord) else CodeRecord.from_dict(item, now=now, zone=zone)
            for item in items]
