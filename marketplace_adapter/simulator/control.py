"""The HTTP control interface under ``/_control``: JSON in and out, the Simulator's Python control
methods over HTTP (docs/marketplace.md has the table).

Routing is the table :data:`ROUTES`: a path pattern, and the handler of each method it allows. A
path no pattern matches answers 404 with the list of endpoints, a method its pattern does not
allow 405; an unknown code 404, bad input 400.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable

from ..errors import mask_code
from .faults import FAULT_KINDS
from .wire import Response, to_json
from .wsgi import read_body

if TYPE_CHECKING:
    from .app import Simulator

__all__ = ["PREFIX", "HELP", "ROUTES", "serve"]

PREFIX = "/_control"

#: A handler takes the simulator, the JSON body (``{}`` when empty) and the path's named parts,
#: and returns the answer's JSON document.
Handler = Callable[..., Any]

HELP = {
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


def serve(sim: Simulator, environ: dict[str, Any], path: str) -> Response:
    """The answer to the control request in ``environ`` for ``path`` (under :data:`PREFIX`)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = path.encode("latin-1").decode("utf-8", "replace")
    try:
        body = read_body(environ)
        data = json.loads(body) if body.strip() else {}
        if not isinstance(data, (dict, list)):
            raise ValueError("the body must be a JSON object")
        handler, parts = _route(method, path)
        result = handler(sim, data, **parts)
    except KeyError as exc:
        return _answer(404, {"error": f"no such code: {mask_code(str(exc.args[0]))}"})
    except ValueError as exc:
        return _answer(400, {"error": str(exc)})
    except _MethodNotAllowed:
        return _answer(405, {"error": f"{method} is not allowed on {path}"})
    except _NoRoute:
        return _answer(404, {"error": f"no control endpoint {path}", **HELP})
    return _answer(200, result)


# ------------------------------------------------------------ handlers

def _help(sim: Simulator, data: Any) -> Any:
    return HELP


def _list_codes(sim: Simulator, data: Any) -> Any:
    return {"codes": sim.list_codes()}


def _add_codes(sim: Simulator, data: Any) -> Any:
    items = data.get("codes", [data]) if isinstance(data, dict) else data
    return {"codes": sim.add_codes(items)}


def _get_code(sim: Simulator, data: Any, code: str) -> Any:
    return sim.get_code(code)


def _renew(sim: Simulator, code: str, data: dict[str, Any]) -> Any:
    return sim.renew(code, days=data.get("days"), expires_at=data.get("expires_at"),
                     order_id=data.get("order_id"))


def _change_specification(sim: Simulator, code: str, data: dict[str, Any]) -> Any:
    if not data.get("specification"):
        raise ValueError("specification is required")
    return sim.change_specification(code, data["specification"], sku_id=data.get("sku_id"),
                                    order_id=data.get("order_id"))


#: What ``POST /_control/codes/<code>/<operation>`` does, by operation.
_CODE_OPERATIONS: dict[str, Callable[[Simulator, str, dict[str, Any]], Any]] = {
    "renew": _renew,
    "specification": _change_specification,
    "discard": lambda sim, code, data: sim.discard(code),
    "expire": lambda sim, code, data: sim.expire(code),
}


def _code_operation(sim: Simulator, data: Any, code: str, operation: str) -> Any:
    run = _CODE_OPERATIONS.get(operation)
    if run is None:
        raise _NoRoute()
    return run(sim, code, data if isinstance(data, dict) else {})


def _faults(sim: Simulator, data: Any) -> Any:
    return {"faults": sim.faults()}


def _inject_fault(sim: Simulator, data: Any) -> Any:
    details = dict(data) if isinstance(data, dict) else {}
    kind = details.pop("kind", None)
    if not kind:
        raise ValueError("kind is required")
    count = details.pop("count", 1)
    unknown = set(details) - {"actions", "status", "code", "retry_after_ms", "delay"}
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    sim.inject_fault(kind, count, **details)
    return _faults(sim, data)


def _clear_faults(sim: Simulator, data: Any) -> Any:
    sim.clear_faults()
    return _faults(sim, data)


def _options(sim: Simulator, data: Any) -> Any:
    return sim.set_options()


def _set_options(sim: Simulator, data: Any) -> Any:
    return sim.set_options(**(data if isinstance(data, dict) else {}))


def _requests(sim: Simulator, data: Any) -> Any:
    return {"requests": sim.calls()}


def _clear_requests(sim: Simulator, data: Any) -> Any:
    with sim.state.lock:
        sim.state.requests_seen.clear()
    return _requests(sim, data)


# ------------------------------------------------------------ routing

#: Each path pattern (matched whole; named groups become the handler's keyword arguments) and
#: the handler of each method it allows.
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"/_control/?"), {"GET": _help}),
    (re.compile(r"/_control/codes"), {"GET": _list_codes, "POST": _add_codes}),
    (re.compile(r"/_control/codes/(?P<code>[^/]+)"), {"GET": _get_code}),
    (re.compile(r"/_control/codes/(?P<code>[^/]+)/(?P<operation>[a-z-]+)"),
     {"POST": _code_operation}),
    (re.compile(r"/_control/faults"),
     {"GET": _faults, "POST": _inject_fault, "DELETE": _clear_faults}),
    (re.compile(r"/_control/options"), {"GET": _options, "POST": _set_options}),
    (re.compile(r"/_control/requests"), {"GET": _requests, "DELETE": _clear_requests}),
]


class _MethodNotAllowed(Exception):
    pass


class _NoRoute(Exception):
    pass


def _route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    for pattern, handlers in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            handler = handlers.get(method)
            if handler is None:
                raise _MethodNotAllowed()
            return handler, match.groupdict()
    raise _NoRoute()


def _answer(status: int, document: Any) -> Response:
    return status, [("Content-Type", "application/json")], to_json(document)
