"""The simulated Alibaba Cloud Market API: a WSGI app with a Python and an HTTP control interface.

It behaves like the real gateway where the adapter can tell: the same signatures checked the same
way, the same JSON shapes and error codes, XML when JSON was not asked for. Where the real
service's behaviour is an open question (see the reference), it is an option, so tests and demos
can exercise every answer.

All state sits behind one lock: the webapp calls it in-process from several request threads.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import parse_qsl

from ..errors import mask_code
from ..timezones import resolve_timezone
from .codes import DEMO_SELLER, CodeRecord, as_records, load_codes_file, parse_time
from .faults import FAULT_KINDS, Fault
from .gateway import AccessKey, Caller, GatewayError, IncomingRequest, NonceStore, verify
from .wire import to_json, to_xml

__all__ = [
    "Simulator",
    "SimulatedReadTimeout",
    "SimulatedDrop",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "READ_TIMEOUT_ENVIRON_KEY",
]

#: Demo credentials: the simulator accepts them by default; the real marketplace never will.
DEMO_ACCESS_KEY_ID = "simulator-demo-access-key-id"
DEMO_ACCESS_KEY_SECRET = "simulator-demo-access-key-secret"

#: The in-process transport puts the client's read timeout here, so a ``slow`` fault can time out
#: without anyone waiting for it.
READ_TIMEOUT_ENVIRON_KEY = "marketplace_simulator.read_timeout"

_LIVE = ("ACTIVATED", "INACTIVATED")
_Response = tuple[int, list[tuple[str, str]], bytes]
_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
                403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                500: "Internal Server Error", 503: "Service Unavailable"}


class SimulatedReadTimeout(Exception):
    """Raised through the in-process transport when a ``slow`` answer outlasts the read timeout."""


class SimulatedDrop(Exception):
    """Raised by the app for a ``drop`` fault: whoever serves it closes the connection without
    answering (the HTTP server), or raises what ``requests`` raises then (the transport)."""


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
        self._lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sleep = sleep
        self.seller = seller
        self.market_tz = resolve_timezone(market_tz)
        self.host_id = host_id
        self.window = timedelta(seconds=timestamp_window)
        self.accepted_security_tokens = (
            frozenset(accepted_security_tokens) if accepted_security_tokens is not None else None
        )
        self.dead_code_style = "status"
        self.time_format = "plain"
        self.success_as_string = False
        self.reject_sts_activation = False
        self.set_options(dead_code_style=dead_code_style, time_format=time_format,
                         success_as_string=success_as_string,
                         reject_sts_activation=reject_sts_activation)
        self._keys: dict[str, AccessKey] = {}
        self._codes: dict[str, CodeRecord] = {}
        self._faults: list[Fault] = []
        self._nonces = NonceStore(self.window)
        self._order_seq = itertools.count(1)
        self.requests_seen: deque[dict[str, Any]] = deque(maxlen=1000)
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
        with self._lock:
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
        with self._lock:
            self._keys[access_key_id] = AccessKey(access_key_id, secret, seller or self.seller,
                                                  active)

    def add_code(self, code: Mapping[str, Any] | CodeRecord) -> dict[str, Any]:
        """Add (or replace) one code; answers it as stored."""
        return self.add_codes([code])[0]

    def add_codes(self, codes: Iterable[Mapping[str, Any] | CodeRecord]) -> list[dict[str, Any]]:
        with self._lock:
            records = as_records(codes, now=self.now(), zone=self.market_tz)
            for record in records:
                self._codes[record.code] = record
            return [record.to_dict() for record in records]

    def get_code(self, code: str) -> dict[str, Any]:
        """The code as stored (its stored status: expiry by time shows only in answers)."""
        with self._lock:
            return self._record(code).to_dict()

    def list_codes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_dict() for record in self._codes.values()]

    def renew(self, code: str, *, days: float | None = None, expires_at: Any = None,
              order_id: str | None = None) -> dict[str, Any]:
        """A renewal order: the expiry moves later (by ``days`` from the later of now and the old
        expiry, or to ``expires_at``), an order id is added, an expired code comes back to life."""
        with self._lock:
            record = self._record(code)
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
        with self._lock:
            record = self._record(code)
            record.specification = specification
            if sku_id:
                record.sku_id = sku_id
            record.order_ids.append(order_id or self._new_order_id())
            return record.to_dict()

    def discard(self, code: str) -> dict[str, Any]:
        """The order was refunded or cancelled."""
        with self._lock:
            record = self._record(code)
            record.status = "DISCARD"
            return record.to_dict()

    def expire(self, code: str) -> dict[str, Any]:
        """The subscription ended now."""
        with self._lock:
            record = self._record(code)
            now = self.now()
            record.status = "EXPIRED"
            if record.expires_at is None or record.expires_at > now:
                record.expires_at = now
            return record.to_dict()

    def inject_fault(self, kind: str, count: int = 1, **details: Any) -> dict[str, Any]:
        """The next ``count`` Market API requests (of ``actions``, if given) fail as ``kind``;
        see :mod:`.faults`. Faults queue up: the first that applies is used."""
        fault = Fault.create(kind, count, **details)
        with self._lock:
            self._faults.append(fault)
            return fault.to_dict()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        """The Market API requests served so far (codes masked), optionally of one action."""
        with self._lock:
            return [seen for seen in self.requests_seen
                    if action is None or seen["action"] == action]

    # ------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/_control" or path.startswith("/_control/"):
            status, headers, body = self._control(environ, path)
        else:
            status, headers, body = self._market(environ, path)
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Unknown')}",
                       headers + [("Content-Length", str(len(body)))])
        return [body]

    # ------------------------------------------------------------ Market API

    def _market(self, environ: dict[str, Any], path: str) -> _Response:
        request = _incoming(environ, path)
        action_hint = request.params.get("Action") or request.headers.get("x-acs-action")
        wants_json = (request.params.get("Format", "").upper() == "JSON"
                      or "json" in request.headers.get("accept", "").lower())
        fault = self._take_fault(action_hint)
        if fault is not None and fault.kind not in ("slow", "drop"):
            response = self._fault_answer(fault, wants_json)
        else:
            response = self._serve(request, wants_json)
        self._remember(request, action_hint, response, fault)
        if fault is not None and fault.kind == "drop":
            raise SimulatedDrop("the connection was closed without an answer")
        if fault is not None and fault.kind == "slow":
            read_timeout = environ.get(READ_TIMEOUT_ENVIRON_KEY)
            if read_timeout is not None and fault.delay >= read_timeout:
                self.sleep(read_timeout)
                raise SimulatedReadTimeout(f"answer delayed {fault.delay}s")
            self.sleep(fault.delay)
        return response

    def _serve(self, request: IncomingRequest, wants_json: bool) -> _Response:
        if request.path != "/":
            return self._error(GatewayError(404, "InvalidAction.NotFound",
                                            "RPC requests go to the path /."), wants_json)
        now = self.now()
        with self._lock:
            keys = dict(self._keys)
        try:
            caller = verify(request, keys, self._nonces, now, self.window,
                            self.accepted_security_tokens)
            if caller.action == "DescribeLicense":
                document = self._describe(caller, now)
            elif caller.action == "ActivateLicense":
                document = self._activate(caller, now)
            else:
                raise GatewayError(404, "InvalidAction.NotFound",
                                   "Specified api is not found, please check your url and method.")
        except GatewayError as error:
            return self._error(error, wants_json)
        return self._answer(f"{caller.action}Response", document, caller.wants_json)

    def _owned_record(self, caller: Caller) -> CodeRecord:
        code = caller.params.get("LicenseCode", "")
        if not code:
            raise GatewayError(400, "MissingLicenseCode", "LicenseCode is mandatory for this action.")
        record = self._codes.get(code)
        if record is None:
            raise GatewayError(400, "License.NotFound", "The license code is not found.")
        if (record.seller or self.seller) != caller.access_key.seller:
            raise GatewayError(400, "Auth.Match", "The license code does not belong to you.")
        if record.status == "INVALID":
            raise GatewayError(400, "License.Invalid", "The license code is invalid.")
        return record

    def _effective_status(self, record: CodeRecord, now: datetime) -> str:
        if record.status in _LIVE and record.expires_at is not None and record.expires_at <= now:
            return "EXPIRED"
        return record.status

    def _describe(self, caller: Caller, now: datetime) -> dict[str, Any]:
        with self._lock:
            record = self._owned_record(caller)
            status = self._effective_status(record, now)
            if status in ("EXPIRED", "DISCARD") and \
                    (record.dead_as or self.dead_code_style) == "error":
                raise _dead_code_error(status)
            return {"License": self._license_document(record, status)}

    def _activate(self, caller: Caller, now: datetime) -> dict[str, Any]:
        identification = caller.params.get("Identification") or ""
        if self.reject_sts_activation and caller.security_token:
            raise GatewayError(400, "Auth.CallerType",
                               "RAM users or STS tokens are not supported for this action.")
        with self._lock:
            record = self._owned_record(caller)
            status = self._effective_status(record, now)
            if status in ("EXPIRED", "DISCARD"):
                raise _dead_code_error(status)
            if status == "ACTIVATED":
                if (record.identification or "") != identification:
                    raise GatewayError(400, "License.Invalid",
                                       "The license code was activated by another account.")
            else:
                record.status = "ACTIVATED"
                record.activated_at = now
                record.identification = identification or None
        return {"Success": "true" if self.success_as_string else True}

    def _license_document(self, record: CodeRecord, status: str) -> dict[str, Any]:
        attributes = []
        if record.specification:
            attributes.append({"Code": "package_version", "Value": record.specification})
        if record.order_ids:
            attributes.append({"Code": "orderId", "Value": ",".join(record.order_ids)})
            attributes.append({"Code": "orderBizId", "Value": record.order_ids[0]})
        uid = record.ali_uid or 0
        if uid and record.uid_in in ("attribute", "both"):
            attributes.append({"Code": "aliUid", "Value": str(uid)})
        return {
            "LicenseCode": record.code,
            "LicenseStatus": status,
            "InstanceId": record.instance_id,
            "ProductCode": record.product_code,
            "ProductSkuId": record.sku_id,
            "ProductName": record.product_name,
            "SupplierName": record.supplier_name,
            "CreateTime": self._format_time(record.created_at),
            "ActivateTime": self._format_time(record.activated_at),
            "ExpiredTime": self._format_time(record.expires_at),
            "ExtendArray": {"LicenseAttribute": attributes},
            "ExtendInfo": {
                "AliUid": uid if record.uid_in in ("extend_info", "both") else 0,
                "AccountQuantity": record.account_quantity,
                "Email": record.email,
                "Mobile": record.mobile,
            },
        }

    def _format_time(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        if self.time_format == "iso":
            return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        return moment.astimezone(self.market_tz).strftime("%Y-%m-%d %H:%M:%S")

    def _answer(self, root: str, document: dict[str, Any], wants_json: bool,
                status: int = 200, headers: Mapping[str, str] | None = None) -> _Response:
        request_id = str(uuid.uuid4()).upper()
        document = {"RequestId": request_id, **document}
        extra = [("x-acs-request-id", request_id), *(headers or {}).items()]
        if wants_json:
            return status, [("Content-Type", "application/json;charset=utf-8"), *extra], \
                to_json(document)
        return status, [("Content-Type", "text/xml;charset=utf-8"), *extra], to_xml(root, document)

    def _error(self, error: GatewayError, wants_json: bool) -> _Response:
        document = {
            "HostId": self.host_id,
            "Code": error.code,
            "Message": error.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Market",
        }
        return self._answer("Error", document, wants_json, error.status, error.headers)

    # ------------------------------------------------------------ faults

    def _take_fault(self, action: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(action):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_answer(self, fault: Fault, wants_json: bool) -> _Response:
        if fault.kind == "throttle":
            headers = {}
            if fault.retry_after_ms is not None:
                headers["x-acs-retry-after"] = str(fault.retry_after_ms)
            return self._error(GatewayError(fault.status or 400, fault.code or "Throttling.User",
                                            "Request was denied due to user flow control.",
                                            headers), wants_json)
        if fault.kind == "server_error":
            status = fault.status or 503
            code = fault.code or ("ServiceUnavailable" if status == 503 else "InternalError")
            return self._error(GatewayError(status, code, "The request has failed due to a "
                                            "temporary failure of the server."), wants_json)
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        return fault.status or 200, [("Content-Type", "text/html")], body

    def _remember(self, request: IncomingRequest, action: str | None, response: _Response,
                  fault: Fault | None) -> None:
        status, _, body = response
        error_code = None
        if status >= 400 and body.startswith(b"{"):
            try:
                error_code = json.loads(body).get("Code")
            except ValueError:
                pass
        with self._lock:
            self.requests_seen.append({
                "at": self.now().isoformat(),
                "action": action,
                "code": mask_code(request.params.get("LicenseCode")),
                "signature_version": "v1" if "Signature" in request.params else "v3",
                "status": status,
                "error_code": error_code,
                "fault": fault.kind if fault else None,
            })

    # ------------------------------------------------------------ control: HTTP

    def _control(self, environ: dict[str, Any], path: str) -> _Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = path.encode("latin-1").decode("utf-8", "replace")
        try:
            body = _read_body(environ)
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, (dict, list)):
                raise ValueError("the body must be a JSON object")
            result = self._route_control(method, path, data)
        except KeyError as exc:
            return _control_answer(404, {"error": f"no such code: {mask_code(str(exc.args[0]))}"})
        except ValueError as exc:
            return _control_answer(400, {"error": str(exc)})
        except _MethodNotAllowed:
            return _control_answer(405, {"error": f"{method} is not allowed on {path}"})
        except _NoRoute:
            return _control_answer(404, {"error": f"no control endpoint {path}", **_CONTROL_HELP})
        return _control_answer(200, result)

    def _route_control(self, method: str, path: str, data: Any) -> Any:
        def need(*methods: str) -> None:
            if method not in methods:
                raise _MethodNotAllowed()

        if path in ("/_control", "/_control/"):
            need("GET")
            return _CONTROL_HELP
        if path == "/_control/codes":
            need("GET", "POST")
            if method == "GET":
                return {"codes": self.list_codes()}
            items = data.get("codes", [data]) if isinstance(data, dict) else data
            return {"codes": self.add_codes(items)}
        match = re.fullmatch(r"/_control/codes/([^/]+)(?:/([a-z-]+))?", path)
        if match:
            code, operation = match.groups()
            if operation is None:
                need("GET")
                return self.get_code(code)
            need("POST")
            data = data if isinstance(data, dict) else {}
            if operation == "renew":
                return self.renew(code, days=data.get("days"), expires_at=data.get("expires_at"),
                                  order_id=data.get("order_id"))
            if operation == "specification":
                if not data.get("specification"):
                    raise ValueError("specification is required")
                return self.change_specification(code, data["specification"],
                                                 sku_id=data.get("sku_id"),
                                                 order_id=data.get("order_id"))
            if operation == "discard":
                return self.discard(code)
            if operation == "expire":
                return self.expire(code)
            raise _NoRoute()
        if path == "/_control/faults":
            need("GET", "POST", "DELETE")
            if method == "POST":
                details = dict(data) if isinstance(data, dict) else {}
                kind = details.pop("kind", None)
                if not kind:
                    raise ValueError("kind is required")
                count = details.pop("count", 1)
                unknown = set(details) - {"actions", "status", "code", "retry_after_ms", "delay"}
                if unknown:
                    raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
                self.inject_fault(kind, count, **details)
            elif method == "DELETE":
                self.clear_faults()
            return {"faults": self.faults()}
        if path == "/_control/options":
            need("GET", "POST")
            return self.set_options(**(data if isinstance(data, dict) and method == "POST" else {}))
        if path == "/_control/requests":
            need("GET", "DELETE")
            if method == "DELETE":
                with self._lock:
                    self.requests_seen.clear()
            return {"requests": self.calls()}
        raise _NoRoute()

    # ------------------------------------------------------------ helpers

    def _record(self, code: str) -> CodeRecord:
        record = self._codes.get(code)
        if record is None:
            raise KeyError(code)
        return record

    def _new_order_id(self) -> str:
        return f"2{int(self.now().timestamp()) % 10**8:08d}{next(self._order_seq):04d}"


class _MethodNotAllowed(Exception):
    pass


class _NoRoute(Exception):
    pass


_CONTROL_HELP = {
    "endpoints": {
        "GET /_control/codes": "every code",
        "POST /_control/codes": "add codes: one code object, a list, or {\"codes\": [...]}",
        "GET /_control/codes/<code>": "one code",
        "POST /_control/codes/<code>/renew": "{\"days\": 30} or {\"expires_at\": ...}, "
                                             "optional \"order_id\"",
        "POST /_control/codes/<code>/specification": "{\"specification\": \"aku-40\"}, optional "
                                                     "\"sku_id\", \"order_id\"",
        "POST /_control/codes/<code>/discard": "the order was refunded",
        "POST /_control/codes/<code>/expire": "the subscription ends now",
        "GET|POST|DELETE /_control/faults": "list, inject ({\"kind\", \"count\", \"actions\", "
                                            "\"status\", \"code\", \"retry_after_ms\", \"delay\"}), "
                                            "clear",
        "GET|POST /_control/options": "dead_code_style, time_format, success_as_string, "
                                      "reject_sts_activation",
        "GET|DELETE /_control/requests": "Market API requests served (codes masked)",
    },
    "fault_kinds": list(FAULT_KINDS),
}


def _control_answer(status: int, document: Any) -> _Response:
    return status, [("Content-Type", "application/json")], to_json(document)


def _dead_code_error(status: str) -> GatewayError:
    if status == "EXPIRED":
        return GatewayError(400, "License.Expired", "The license code has expired.")
    return GatewayError(400, "License.Discard", "The license code has been discarded.")


def _read_body(environ: Mapping[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


def _headers(environ: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            yield name, environ[key]


def _incoming(environ: Mapping[str, Any], path: str) -> IncomingRequest:
    """The request as the gateway sees it: query (and, for a form POST, body) parameters decoded."""
    headers = dict(_headers(environ))
    body = _read_body(environ)
    query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") and body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return IncomingRequest(method=environ.get("REQUEST_METHOD", "GET").upper(), path=path,
                           params=params, headers=headers, body=body)
