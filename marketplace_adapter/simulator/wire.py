"""Encoding the simulator's answers: JSON, or XML when the caller did not ask for JSON (as the
real gateway answers a V1 request without ``Format=JSON``), each with its request id; the
gateway's error document; the HTTP status line."""

from __future__ import annotations

import json
import uuid
from typing import Any, Mapping
from xml.sax.saxutils import escape

from .gateway import GatewayError

__all__ = ["Response", "to_json", "to_xml", "answer", "error_answer", "status_line"]

#: An answer before it goes out: HTTP status, headers, body (the WSGI entry adds Content-Length).
Response = tuple[int, list[tuple[str, str]], bytes]

_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
                403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                500: "Internal Server Error", 503: "Service Unavailable"}


def to_json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_value(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml_value(key, item) for key, item in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        return "".join(_xml_value(name, item) for item in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape('' if value is None else str(value))}</{name}>"


def to_xml(root: str, document: dict[str, Any]) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>' + _xml_value(root, document)).encode("utf-8")


def answer(root: str, document: dict[str, Any], wants_json: bool, status: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    """A Market API answer: ``document`` after a new ``RequestId``, as JSON or as XML under
    ``root``, the request id also in ``x-acs-request-id``."""
    request_id = str(uuid.uuid4()).upper()
    document = {"RequestId": request_id, **document}
    extra = [("x-acs-request-id", request_id), *(headers or {}).items()]
    if wants_json:
        return status, [("Content-Type", "application/json;charset=utf-8"), *extra], \
            to_json(document)
    return status, [("Content-Type", "text/xml;charset=utf-8"), *extra], to_xml(root, document)


def error_answer(error: GatewayError, wants_json: bool, host_id: str) -> Response:
    """The gateway's error document for ``error``, with its status and headers."""
    document = {
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Market",
    }
    return answer("Error", document, wants_json, error.status, error.headers)


def status_line(status: int) -> str:
    """``200 OK``: what WSGI's ``start_response`` takes."""
    return f"{status} {_STATUS_TEXT.get(status, 'Unknown')}"
