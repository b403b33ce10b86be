"""Injected faults: the next N Market API requests fail the way the real service sometimes does.

Kinds:
- ``throttle``: HTTP 400 ``Throttling.User`` (or the ``code`` given) with ``x-acs-retry-after``.
- ``server_error``: HTTP 503 ``ServiceUnavailable`` (or ``status`` 500 ``InternalError``).
- ``slow``: the request is processed, then the answer waits ``delay`` seconds; a client that
  times out first never sees it (so a slow ActivateLicense does activate the code).
- ``not_json``: an HTML page instead of JSON, HTTP 200 by default (a proxy's error page).
- ``drop``: the request is processed, then the connection is closed without an answer (a load
  balancer or a network failing mid-call); the client cannot tell whether it was processed.

The first three kinds that replace the answer are answered here (:func:`fault_answer`); ``slow``
and ``drop`` reach whoever serves the app (the HTTP server, the in-process transport) as
:class:`SimulatedReadTimeout` and :class:`SimulatedDrop`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .gateway import GatewayError
from .wire import Response, error_answer

__all__ = [
    "Fault",
    "FAULT_KINDS",
    "SimulatedReadTimeout",
    "SimulatedDrop",
    "READ_TIMEOUT_ENVIRON_KEY",
    "fault_answer",
]

FAULT_KINDS = ("throttle", "server_error", "slow", "not_json", "drop")

#: The in-process transport puts the client's read timeout here, so a ``slow`` fault can time out
#: without anyone waiting for it.
READ_TIMEOUT_ENVIRON_KEY = "marketplace_simulator.read_timeout"


class SimulatedReadTimeout(Exception):
    """Raised through the in-process transport when a ``slow`` answer outlasts the read timeout."""


class SimulatedDrop(Exception):
    """Raised by the app for a ``drop`` fault: whoever serves it closes the connection without
    answering (the HTTP server), or raises what ``requests`` raises then (the transport)."""


@dataclass
class Fault:
    kind: str
    remaining: int = 1
    actions: frozenset[str] | None = None
    status: int | None = None
    code: str | None = None
    retry_after_ms: int | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        if self.remaining < 1:
            raise ValueError("a fault needs a count of at least 1")
        if self.kind == "slow" and self.delay <= 0:
            raise ValueError("a slow fault needs a positive delay (seconds)")
        if self.actions is not None:
            self.actions = frozenset(self.actions)

    @classmethod
    def create(cls, kind: str, count: int = 1, *, actions: Iterable[str] | str | None = None,
               status: int | None = None, code: str | None = None,
               retry_after_ms: int | None = None, delay: float | None = None) -> "Fault":
        if isinstance(actions, str):
            actions = [actions]
        return cls(kind=kind, remaining=int(count),
                   actions=frozenset(actions) if actions else None,
                   status=int(status) if status is not None else None, code=code,
                   retry_after_ms=int(retry_after_ms) if retry_after_ms is not None else None,
                   delay=float(delay or 0.0))

    def applies_to(self, action: str | None) -> bool:
        return self.actions is None or action in self.actions

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining,
                "actions": sorted(self.actions) if self.actions else None, "status": self.status,
                "code": self.code, "retry_after_ms": self.retry_after_ms, "delay": self.delay}


def fault_answer(fault: Fault, wants_json: bool, host_id: str) -> Response:
    """The answer that replaces the real one for a ``throttle``, ``server_error`` or ``not_json``
    fault."""
    if fault.kind == "throttle":
        headers = {}
        if fault.retry_after_ms is not None:
            headers["x-acs-retry-after"] = str(fault.retry_after_ms)
        return error_answer(GatewayError(fault.status or 400, fault.code or "Throttling.User",
                                         "Request was denied due to user flow control.",
                                         headers), wants_json, host_id)
    if fault.kind == "server_error":
        status = fault.status or 503
        code = fault.code or ("ServiceUnavailable" if status == 503 else "InternalError")
        return error_answer(GatewayError(status, code, "The request has failed due to a "
                                         "temporary failure of the server."), wants_json, host_id)
    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return fault.status or 200, [("Content-Type", "text/html")], body
