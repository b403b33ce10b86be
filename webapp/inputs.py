"""Reading what people and programs send: whole numbers and ids, JSON bodies, text, redirects.

One rule for each kind of input, used by every view, form and command that reads one, so that a
crafted request gets a 4xx with a message in words (JSON under `/api/v1`), never a 500:

- `whole_number(value, low, high)` / `record_id(value)` / `account_id(value)`: ASCII digits only
  (`"²"` and the fullwidth `"１"` pass `str.isdigit()`), at most 19 of them (no 4,300-digit
  strings for `int()`), and within range: a record id (every `id` and `seq` column of the plugin
  is an INTEGER) within 32 bits, PostgreSQL's INTEGER; a buyer's account id (AliUid, a BIGINT)
  within 64 bits. Past them SQLite raises OverflowError and PostgreSQL "out of range".
- `json_object(limit)`: the request's JSON body when it is an object. A body that is not JSON,
  nests deeper than `MAX_JSON_DEPTH` levels (`"[" * 8000` made the parser recurse until Python
  gave up) or holds a control character answers 400 `invalid_json` / `invalid_characters`.
- `refuse_control_characters()`: a `before_request` hook of the plugin's routes. No field, query
  argument or address part may hold a control character (tab and line breaks aside) or a lone
  surrogate: PostgreSQL refuses NUL in text, and nothing a person types holds them.
- `same_site_path(target)`: a `next` address that stays on this site (a path, no scheme or
  host, no backslash, no control character: CR/LF would end the `Location` header).
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import abort, request
from werkzeug.exceptions import BadRequest

from .i18n import N_, gettext as _

MAX_ID = 2**31 - 1  # the plugin's ids and seqs: INTEGER, signed 32 bits on PostgreSQL
MAX_BIGINT = 2**63 - 1  # a BIGINT column (the buyer's AliUid): signed 64 bits
MAX_DIGITS = 19  # len(str(MAX_BIGINT))
MAX_JSON_DEPTH = 20
_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)
# C0 controls but tab, LF and CR; DEL; C1 controls; lone surrogates (from JSON's "\ud800").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile(r"[\r\n\t]")


class InputRefused(BadRequest):
    """400 with a code of its own (`api_code`) and a message for a person (`description`):
    the JSON error document under `/api/v1`, the error page elsewhere."""

    def __init__(self, api_code: str, message: str) -> None:
        super().__init__(description=message)
        self.api_code = api_code


# --------------------------------------------------------------------------- whole numbers


def whole_number(value: object, low: int, high: int) -> int | None:
    """`value` as a whole number from `low` to `high`, else None.

    An int (not a bool), or text of ASCII digits with surrounding spaces ignored: no sign, no
    other script's digits, at most `MAX_DIGITS` of them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            return None
        number = int(text)
    else:
        return None
    return number if low <= number <= high else None


def record_id(value: object) -> int | None:
    """A record's id or a key's seq (1 to 2^31 - 1, an INTEGER column) from an address, a form
    or a JSON member; else None."""
    return whole_number(value, 1, MAX_ID)


def account_id(value: object) -> int | None:
    """A buyer's Alibaba Cloud account id (AliUid: 1 to 2^63 - 1, a BIGINT column); else None."""
    return whole_number(value, 1, MAX_BIGINT)


# --------------------------------------------------------------------------- text


def control_character(text: str) -> str | None:
    """The first control character in `text` (tab and line breaks aside), as U+XXXX; or None."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _shown_name(name: str) -> str:
    name = _CONTROL.sub("", name)
    return name if len(name) <= 40 else name[:40] + "…"


def _refuse_characters(where: str, character: str) -> InputRefused:
    return InputRefused(
        "invalid_characters",
        _("%(where)s holds a control character (%(character)s), which no field accepts: remove it and send again.",
          where=where, character=character),
    )


def refuse_control_characters() -> None:
    """`before_request` of the plugin's routes: 400 `invalid_characters` when the address, a
    query argument or a form field (its name or its value) holds a control character."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (character := control_character(value)):
            raise _refuse_characters(_("The address"), character)
    for where, fields in ((N_("The query argument %(name)s"), request.args), (N_("The field %(name)s"), request.form)):
        for name, values in fields.lists():
            for text in (name, *values):
                if character := control_character(text):
                    raise _refuse_characters(_(where, name=repr(_shown_name(name))), character)


def same_site_path(target: object) -> str | None:
    """`target` when it is a path on this site (`/settings?panel=update`), else None: no scheme or
    host, not `//host` nor `/\\host` (which browsers read as another host), no control character
    nor line break (which would end the `Location` header)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or control_character(target) or _LINE_BREAK.search(target):
        return None
    return target


# --------------------------------------------------------------------------- JSON bodies


def json_object(limit: int | None = None) -> dict | None:
    """The request's JSON body when it is an object; None when there is none, it was not sent as
    JSON, or it is JSON of another type (the caller then says what to send).

    Refuses with 413 a body over `limit` bytes, and with 400 one that is not JSON
    (`invalid_json`), nests deeper than `MAX_JSON_DEPTH` (`invalid_json`) or holds a control
    character in a name or a text (`invalid_characters`)."""
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413)
    if not request.is_json:
        return None
    raw = request.get_data(cache=True)
    if limit is not None and len(raw) > limit:
        abort(413)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            message = _("The request body is not valid JSON (line %(line)s, column %(column)s): send a JSON object.",
                        line=exc.lineno, column=exc.colno)
        else:
            message = _("The request body is not valid JSON: send a JSON object.")
        raise InputRefused("invalid_json", message) from None
    check_json(data)
    return data if isinstance(data, dict) else None


def _too_deep() -> InputRefused:
    return InputRefused(
        "invalid_json", _("The request body nests JSON more than %(depth)s levels deep: send a flat JSON object.",
                          depth=MAX_JSON_DEPTH)
    )


def check_json(data: Any) -> None:
    """Refuse (InputRefused) JSON nested deeper than `MAX_JSON_DEPTH` or holding a control
    character in a member's name or a text. Walks the document without recursion."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, member = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(value, dict):
                for name, item in value.items():
                    if character := control_character(name):
                        raise _refuse_characters(_("A member's name (%(name)s)", name=repr(_shown_name(name))), character)
                    stack.append((item, depth + 1, member or name))
            else:
                stack.extend((item, depth + 1, member) for item in value)
        elif isinstance(value, str) and (character := control_character(value)):
            where = _("The member %(name)s", name=repr(_shown_name(member))) if member else _("The body")
            raise _refuse_characters(where, character)
