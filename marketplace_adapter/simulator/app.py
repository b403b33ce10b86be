"""The simulated Alibaba Cloud Market API: the :class:`Simulator`, a WSGI app with a Python and an
HTTP control interface.

It behaves like the real gateway where the adapter can tell: the same signatures checked the same
way, the same JSON shapes and error codes, XML when JSON was not asked for. Where the real
service's behaviour is an open question (see the reference), it is an option, so tests and demos
can exercise every answer.

This module holds the Simulator's options and its Python control interface, and sends each
request on: paths under ``/_control`` to :mod:`.control`, the rest to :mod:`.market_api` (which
runs the actions of :mod:`.actions`). What it serves from is a :class:`~.state.MarketState`.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..timezones import resolve_timezone
from . import control, market_api
from .codes import DEMO_SELLER, CodeRecord, as_records, load_codes_file, parse_time
from .faults import Fault
from .gateway import AccessKey, NonceStore
from .state import MarketState
from .wire import status_line

if TYPE_CHECKING:
    from collections import deque

__all__ = ["Simulator", "DEMO_ACCESS_KEY_ID", "DEMO_ACCESS_KEY_SECRET"]

#: Demo credentials: the simulator accepts them by default; the real marketplace never will.
DEMO_ACCESS_KEY_ID = "simulator-demo-access-key-id"
DEMO_ACCESS_KEY_SECRET = "simulator-demo-access-key-secret"


class Simulator:
    """A Market API that serves DescribeLicense and ActivateLicense from in-memory codes.

    Options for the open questions of the reference:
    - ``dead_code_style``: how DescribeLicense answers an expired or discarded code, ``"status"``
      (HTTP 200 with ``LicenseStatus``) or ``"error"`` (HTTP 400 ``License.Expired`` /
      ``License.Discard``); a code's own ``dead_as`` overrides it.
    - ``time_format``: ``"plain"`` (``2019-05-25 09:00:00`` in ``market_tz``) or ``"iso"``
      (``2016-05-18T14:14Z``, UTC).
    - ``success_as_string``: ActivateLicense answers ``"Success": "true"`` instead of ``true``.
    - ``reject_sts_activation``: ActivateLicense with an STS token answers ``Auth.CallerType``.

    A second ActivateLicense with the same Identification succeeds; with another one it answers
    ``License.Invalid`` (the code is someone else's now).
    """

    def __init__(
        self,
        codes: Iterable[Mapping[str, Any] | CodeRecord] = (),
        *,
        access_key_id: str = DEMO_ACCESS_KEY_ID,
        access_key_secret: str = DEMO_ACCESS_KEY_SECRET,
        seller: str = DEMO_SELLER,
        dead_code_style: str = "status",
        time_format: str = "plain",
        market_tz: str | tzinfo = "Asia/Shanghai",
        success_as_string: bool = False,
        reject_sts_activation: bool = False,
        accepted_security_tokens: Iterable[str] | None = None,
        timestamp_window: float = 900.0,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        host_id: str = "market.aliyuncs.com",
    ) -> None:
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sleep = sleep
        self.seller = seller
        self.market_tz = resolve_timezone(market_tz)
        self.host_id = host_id
        self.window = timedelta(seconds=timestamp_window)
        self.accepted_security_tokens = (
            frozenset(accepted_security_tokens) if accepted_security_tokens is not None else None
        )
        self.state = MarketState(nonces=NonceStore(self.window))
        self.dead_code_style = "status"
        self.time_format = "plain"
        self.success_as_string = False
        self.reject_sts_activation = False
        self.set_options(dead_code_style=dead_code_style, time_format=time_format,
                         success_as_string=success_as_string,
                         reject_sts_activation=reject_sts_activation)
        self._order_seq = itertools.count(1)
        self.add_access_key(access_key_id, access_key_secret, seller=seller)
        self.add_codes(codes)

    @classmethod
    def from_file(cls, path: str, **options: Any) -> "Simulator":
        """A simulator seeded from a codes file (see :mod:`.codes` for the format)."""
        return cls(load_codes_file(path), **options)

    # ------------------------------------------------------------ control: Python

    def now(self) -> datetime:
        return self.clock()

    def set_options(self, **options: Any) -> dict[str, Any]:
        """Change ``dead_code_style``, ``time_format``, ``success_as_string`` or
        ``reject_sts_activation``; answers all four."""
        allowed = {"dead_code_style": ("status", "error"), "time_format": ("plain", "iso"),
                   "success_as_string": (True, False), "reject_sts_activation": (True, False)}
        with self.state.lock:
            for name, value in options.items():
                if name not in allowed:
                    raise ValueError(f"unknown option {name!r}")
                if value not in allowed[name]:
                    raise ValueError(f"{name} must be one of {allowed[name]}")
            for name, value in options.items():
                setattr(self, name, value)
            return {name: getattr(self, name) for name in allowed}

    def add_access_key(self, access_key_id: str, secret: str, *, seller: str | None = None,
                       active: bool = True) -> None:
        """Accept another access key; ``seller`` says whose codes it may read (default: ours)."""
        with self.state.lock:
            self.state.keys[access_key_id] = AccessKey(access_key_id, secret,
                                                       seller or self.seller, active)

    def add_code(self, code: Mapping[str, Any] | CodeRecord) -> dict[str, Any]:
        """Add (or replace) one code; answers it as stored."""
        return self.add_codes([code])[0]

    def add_codes(self, codes: Iterable[Mapping[str, Any] | CodeRecord]) -> list[dict[str, Any]]:
        with self.state.lock:
            records = as_records(codes, now=self.now(), zone=self.market_tz)
            for record in records:
                self.state.codes[record.code] = record
            return [record.to_dict() for record in records]

    def get_code(self, code: str) -> dict[str, Any]:
        """The code as stored (its stored status: expiry by time shows only in answers)."""
        with self.state.lock:
            return self.state.record(code).to_dict()

    def list_codes(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [record.to_dict() for record in self.state.codes.values()]

    def renew(self, code: str, *, days: float | None = None, expires_at: Any = None,
              order_id: str | None = None) -> dict[str, Any]:
        """A renewal order: the expiry moves later (by ``days`` from the later of now and the old
        expiry, or to ``expires_at``), an order id is added, an expired code comes back to life."""
        with self.state.lock:
            record = self.state.record(code)
            if record.status in ("DISCARD", "INVALID"):
                raise ValueError(f"a {record.status} code cannot be renewed")
            now = self.now()
            if expires_at is not None:
                record.expires_at = parse_time(expires_at, now, self.market_tz)
            else:
                base = max(record.expires_at or now, now)
                record.expires_at = base + timedelta(days=30 if days is None else float(days))
            record.order_ids.append(order_id or self._new_order_id())
            if record.status == "EXPIRED":
                record.status = "ACTIVATED" if record.activated_at else "INACTIVATED"
            return record.to_dict()

    def change_specification(self, code: str, specification: str, *, sku_id: str | None = None,
                             order_id: str | None = None) -> dict[str, Any]:
        """An upgrade or downgrade order: new ``package_version`` (and SKU, if given), one more
        order id."""
        with self.state.lock:
            record = self.state.record(code)
            record.specification = specification
            if sku_id:
                record.sku_id = sku_id
            record.order_ids.append(order_id or self._new_order_id())
            return record.to_dict()

    def discard(self, code: str) -> dict[str, Any]:
        """The order was refunded or cancelled."""
        with self.state.lock:
            record = self.state.record(code)
            record.status = "DISCARD"
            return record.to_dict()

    def expire(self, code: str) -> dict[str, Any]:
        """The subscription ended now."""
        with self.state.lock:
            record = self.state.record(code)
            now = self.now()
            record.status = "EXPIRED"
            if record.expires_at is None or record.expires_at > now:
                record.expires_at = now
            return record.to_dict()

    def inject_fault(self, kind: str, count: int = 1, **details: Any) -> dict[str, Any]:
        """The next ``count`` Market API requests (of ``actions``, if given) fail as ``kind``;
        see :mod:`.faults`. Faults queue up: the first that applies is used."""
        fault = Fault.create(kind, count, **details)
        with self.state.lock:
            self.state.faults.append(fault)
            return fault.to_dict()

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [fault.to_dict() for fault in self.state.faults]

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        """The Market API requests served so far (codes masked), optionally of one action."""
        with self.state.lock:
            return [seen for seen in self.state.requests_seen
                    if action is None or seen["action"] == action]

    @property
    def requests_seen(self) -> deque[dict[str, Any]]:
        """The log :meth:`calls` reads: the latest 1000 Market API requests, newest last."""
        return self.state.requests_seen

    # ------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == control.PREFIX or path.startswith(control.PREFIX + "/"):
            status, headers, body = control.serve(self, environ, path)
        else:
            status, headers, body = market_api.serve(self, environ, path)
        start_response(status_line(status), headers + [("Content-Length", str(len(body)))])
        return [body]

    # ------------------------------------------------------------ helpers

    def _new_order_id(self) -> str:
        return f"2{int(self.now().timestamp()) % 10**8:08d}{next(self._order_seq):04d}"
