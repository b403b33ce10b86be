"""Serving one Market API request, in the gateway's order: a pending fault first (it may replace
the answer), then the gateway's checks, then the action :data:`~.actions.ACTIONS` names; every
request is logged (codes masked), and a ``slow`` or ``drop`` fault acts once the answer is ready.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import parse_qsl

from ..errors import mask_code
from .actions import ACTIONS
from .faults import (
    READ_TIMEOUT_ENVIRON_KEY,
    Fault,
    SimulatedDrop,
    SimulatedReadTimeout,
    fault_answer,
)
from .gateway import GatewayError, IncomingRequest, verify
from .wire import Response, answer, error_answer
from .wsgi import read_body

if TYPE_CHECKING:
    from .app import Simulator

__all__ = ["serve"]


def serve(sim: Simulator, environ: dict[str, Any], path: str) -> Response:
    """The answer to the Market API request in ``environ``; raises :class:`SimulatedDrop` or
    :class:`SimulatedReadTimeout` for those faults."""
    request = _incoming(environ, path)
    action_hint = request.params.get("Action") or request.headers.get("x-acs-action")
    wants_json = (request.params.get("Format", "").upper() == "JSON"
                  or "json" in request.headers.get("accept", "").lower())
    fault = sim.state.take_fault(action_hint)
    if fault is not None and fault.kind not in ("slow", "drop"):
        response = fault_answer(fault, wants_json, sim.host_id)
    else:
        response = _run_action(sim, request, wants_json)
    _remember(sim, request, action_hint, response, fault)
    if fault is not None and fault.kind == "drop":
        raise SimulatedDrop("the connection was closed without an answer")
    if fault is not None and fault.kind == "slow":
        read_timeout = environ.get(READ_TIMEOUT_ENVIRON_KEY)
        if read_timeout is not None and fault.delay >= read_timeout:
            sim.sleep(read_timeout)
            raise SimulatedReadTimeout(f"answer delayed {fault.delay}s")
        sim.sleep(fault.delay)
    return response


def _run_action(sim: Simulator, request: IncomingRequest, wants_json: bool) -> Response:
    if request.path != "/":
        return error_answer(GatewayError(404, "InvalidAction.NotFound",
                                         "RPC requests go to the path /."), wants_json, sim.host_id)
    now = sim.now()
    with sim.state.lock:
        keys = dict(sim.state.keys)
    try:
        caller = verify(request, keys, sim.state.nonces, now, sim.window,
                        sim.accepted_security_tokens)
        action = ACTIONS.get(caller.action)
        if action is None:
            raise GatewayError(404, "InvalidAction.NotFound",
                               "Specified api is not found, please check your url and method.")
        document = action(sim, caller, now)
    except GatewayError as error:
        return error_answer(error, wants_json, sim.host_id)
    return answer(f"{caller.action}Response", document, caller.wants_json)


def _remember(sim: Simulator, request: IncomingRequest, action: str | None, response: Response,
              fault: Fault | None) -> None:
    status, _, body = response
    error_code = None
    if status >= 400 and body.startswith(b"{"):
        try:
            error_code = json.loads(body).get("Code")
        except ValueError:
            pass
    with sim.state.lock:
        sim.state.requests_seen.append({
            "at": sim.now().isoformat(),
            "action": action,
            "code": mask_code(request.params.get("LicenseCode")),
            "signature_version": "v1" if "Signature" in request.params else "v3",
            "status": status,
            "error_code": error_code,
            "fault": fault.kind if fault else None,
        })


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
    body = read_body(environ)
    query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") and body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return IncomingRequest(method=environ.get("REQUEST_METHOD", "GET").upper(), path=path,
                           params=params, headers=headers, body=body)
