"""Encoding the simulator's answers: JSON, or XML when the caller did not ask for JSON (as the
real gateway answers a V1 request without ``Format=JSON``)."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["to_json", "to_xml"]


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
