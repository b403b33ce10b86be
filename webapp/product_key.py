"""The product-key codec, format 1 (``shared/design/product-key.md``, documented in docs/product-key.md).

A product key is the standard base64 of one UTF-8 JSON object::

    {"installId": "<32 hex>", "license": {...the signed terms...},
     "signature": {"alg": "Ed25519", "kid": "<vendor key id>", "value": "<base64 of 64 bytes>"}}

The signature is Ed25519 over ``b"product-key/1\\n" + canonical_json({"installId", "kid", "license"})``.

This module is pure: the standard library and ``cryptography`` only, no Flask, no database. It
encodes and signs (vendor side), decodes and verifies (environment side), and decides whether a
verified key may be applied to an environment. Every refusal is a :class:`ProductKeyError` whose
``code`` is one of :data:`ERROR_CODES` and whose ``message`` is written for a person.

Reading order matters and is kept here: :func:`decode` reads only the envelope, :func:`verify`
checks the signature before it reads any term, then checks the terms' presence and types, and
:func:`check_applicable` compares the terms with the environment.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "ALG",
    "CHANNELS",
    "Channel",
    "CLOCK_TOLERANCE",
    "ERROR_CODES",
    "FORMAT",
    "KEY_PREFIX",
    "MAX_KEY_CHARS",
    "SIGNED_PREFIX",
    "TYPES",
    "KeyType",
    "License",
    "ProductKey",
    "ProductKeyError",
    "canonical_json",
    "check_applicable",
    "decode",
    "format_time",
    "time_for_people",
    "is_dev_kid",
    "is_install_id",
    "load_public_keys",
    "parse_time",
    "public_key_pem",
    "sign",
    "signed_bytes",
    "verify",
]

FORMAT = 1
ALG = "Ed25519"
SIGNED_PREFIX = b"product-key/1\n"
MAX_KEY_CHARS = 16 * 1024
CLOCK_TOLERANCE = timedelta(minutes=5)
SIGNATURE_BYTES = 64
DEV_KID_PREFIX = "dev-"



class KeyType(StrEnum):
    """`license.type` of a product key (the environment's built-in trial is no key's type)."""

    SUBSCRIPTION = "subscription"
    TRIAL_EXTENSION = "trial-extension"


class Channel(StrEnum):
    """`license.channel` of a product key: where it was bought."""

    ALIBABA_MARKETPLACE = "alibaba-marketplace"
    OFFLINE_CONTRACT = "offline-contract"


TYPES = frozenset(KeyType)
CHANNELS = frozenset(Channel)

ERROR_CODES = (
    "malformed_key",
    "signature_invalid",
    "wrong_install_id",
    "clock_skew",
    "not_yet_valid",
    "key_expired",
    "older_key",
)

# Integers every JSON implementation reads exactly (I-JSON, RFC 7493); RFC 8785 equality needs it.
MAX_SAFE_INTEGER = 2**53 - 1
# Objects and arrays nested deeper than this are refused (format 1 itself nests two levels).
MAX_DEPTH = 16

_INSTALL_ID = re.compile(r"[0-9a-f]{32}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# The words of refusals are translated by the app (webapp.i18n sets the translator); the codec
# imports nothing of the app, and alone it speaks English.
_translate = None


def set_translator(translate) -> None:
    """`translate(message, **values)`: the app's gettext (webapp.i18n), for the refusals' words."""
    global _translate
    _translate = translate


def _(message: str, **values) -> str:
    if _translate is not None:
        return _translate(message, **values)
    return message % values if values else message


def N_(message: str) -> str:
    """Marks words for the catalogue; `_` translates them where they are used."""
    return message


_PASTE_HINT = N_("Paste the whole key exactly as you received it, or ask the vendor to send it again.")
# Every key starts with the base64 of '{"installId":"' (installId is written first).
KEY_PREFIX = "eyJpbnN0YWxsSWQiOi"
# What a marketplace authorization code looks like when it is pasted where a key belongs.
_CODE_LIKE = re.compile(r"[A-Za-z0-9_-]{8,64}")

# What people read when a key cannot be read at all (the precise reason goes to ``details``).
_NOT_A_KEY = N_("This is not a product key.")
_NOT_A_KEY_HELP = N_(
    "A product key is a long text that starts with %(prefix)s: copy the whole key from the "
    "vendor's message, or from the page where you redeemed your authorization code, and paste it again."
)
_CODE_HINT = N_(
    "An authorization code from the marketplace does not work here: the vendor turns it into a "
    "product key for this environment's install ID."
)
_DAMAGED = N_("This product key is incomplete or damaged.")
_DAMAGED_HELP = N_(
    "Part of it is missing or was changed: copy the whole key again, from its first character to "
    "its last, or ask the vendor to send it again."
)

# The members of a key as people name them, for "Its ... is not valid".
_MEMBER_NAMES = {
    "installId": "install ID",
    "license": "terms",
    "license.format": "format",
    "license.id": "key ID",
    "license.seq": "key sequence number",
    "license.type": "license type",
    "license.channel": "sales channel",
    "license.reference": "reference",
    "license.product": "product name",
    "license.aku": "capacity (AKU)",
    "license.issuedAt": "issue time",
    "license.notBefore": "start time",
    "license.expiresAt": "expiry time",
    "signature.alg": "signature algorithm",
}

# The members of "license" in the order the format lists them (and sign() writes them).
_LICENSE_MEMBERS = (
    "format",
    "id",
    "seq",
    "type",
    "channel",
    "reference",
    "product",
    "aku",
    "issuedAt",
    "notBefore",
    "expiresAt",
)


# --------------------------------------------------------------------------------------------
# Errors


class ProductKeyError(Exception):
    """A product key was refused.

    ``code`` is one of :data:`ERROR_CODES` (the JSON API's error code), ``message`` says in plain
    words what is wrong and what to do, ``field`` names the offending member of the key when there
    is one (``"license.seq"``), and ``details`` holds machine-readable facts for the caller; for
    ``malformed_key`` and ``signature_invalid``, ``details["reason"]`` is the precise technical
    reason (for support and logs: "the decoded bytes are not UTF-8"), which the message does not
    burden people with.

    ``headline`` is the message's first sentence, which says what is wrong in a few words ("This
    key has expired."); the rest of the message says why and what to do. A page shows the
    headline in bold and the rest after it, so nothing reads twice. ``None`` when the message has
    no such sentence.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
        headline: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown product-key error code {code!r}")
        if headline is not None and not message.startswith(headline):
            raise ValueError("the headline must be the start of the message")
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = dict(details or {})
        self.headline = headline

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ProductKeyError({self.code!r}, {self.message!r})"


def _error(
    code: str,
    headline: str,
    rest: str,
    *,
    field: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ProductKeyError:
    """A refusal whose message is its headline followed by why and what to do."""
    headline = _(headline)
    return ProductKeyError(code, f"{headline} {rest}", field=field, details=details, headline=headline)


def _unreadable(pasted: str, reason: str, field: str | None = None) -> ProductKeyError:
    """A key that cannot be read, in words people understand; the precise reason is in ``details``.

    Text that starts like every key (:data:`KEY_PREFIX`) is a key cut short or changed; anything
    else is not a product key at all (one word, like an authorization code pasted in its place,
    gets a sentence of its own).
    """
    details = {"reason": reason}
    if "".join(pasted.split()).startswith(KEY_PREFIX):
        return _error("malformed_key", _DAMAGED, _(_DAMAGED_HELP), field=field, details=details)
    hint = _(_NOT_A_KEY_HELP, prefix=KEY_PREFIX) + (" " + _(_CODE_HINT) if _CODE_LIKE.fullmatch(pasted.strip()) else "")
    return _error("malformed_key", _NOT_A_KEY, hint, field=field, details=details)


def time_for_people(dt: datetime) -> str:
    """A time as people read it: ``2026-12-28 10:00 UTC``. The one definition: the codec's
    messages use it (their exact times are in the error's ``details``), and every page through
    ``webapp.timefmt.for_people`` (the codec imports nothing of the app)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _shown(value: str, limit: int = 64) -> str:
    """A value from an untrusted key, quoted and cut short, for a message."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return json.dumps(value, ensure_ascii=True)


# --------------------------------------------------------------------------------------------
# Times


def format_time(dt: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC; fractions of a second are dropped. Naive datetimes are refused."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("the datetime has no time zone; product-key times are UTC")
    u = dt.astimezone(timezone.utc)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def parse_time(s: str) -> datetime:
    """Parse exactly ``YYYY-MM-DDThh:mm:ssZ`` into a timezone-aware UTC datetime (ValueError otherwise)."""
    if not isinstance(s, str):
        raise ValueError("a time must be text of the form YYYY-MM-DDThh:mm:ssZ")
    if _TIME.fullmatch(s) is None:
        raise ValueError(f"{_shown(s)} is not a UTC time of the form YYYY-MM-DDThh:mm:ssZ")
    try:
        # The exact form is checked above; the C parser reads it (ISO 8601, "Z" is UTC).
        return datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{_shown(s)} is not a real date and time") from None


def _utc_seconds(dt: datetime, name: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} has no time zone; product-key times are UTC")
    return dt.astimezone(timezone.utc).replace(microsecond=0)


# --------------------------------------------------------------------------------------------
# Canonical JSON and the signed bytes


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON of the format: sorted members, no whitespace, UTF-8 (not ``\\u`` escapes).

    For strings, integers within 2**53, booleans, null and objects this equals RFC 8785 (JCS).
    """
    return _CANONICAL.encode(obj).encode("utf-8")


# Built once: json.dumps with options builds an encoder per call (the same output).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def signed_bytes(install_id: str, kid: str, license_obj: Mapping[str, Any]) -> bytes:
    """The bytes the Ed25519 signature covers: ``b"product-key/1\\n"`` + canonical JSON of the three."""
    return SIGNED_PREFIX + canonical_json(
        {"installId": install_id, "kid": kid, "license": dict(license_obj)}
    )


# --------------------------------------------------------------------------------------------
# The terms


@dataclass(frozen=True)
class License:
    """The signed terms of a product key (the ``license`` member). Times are UTC, whole seconds.

    ``extra`` holds members that a later, additive revision of the format added and this version
    does not know; they are kept (read-only) so that re-encoding is faithful to what was signed.
    Constructing a ``License`` validates it (ValueError naming the member).
    """

    id: str
    seq: int
    type: str
    channel: str
    reference: str | None
    product: str
    aku: int
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    format: int = FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("issued_at", "not_before", "expires_at"):
            object.__setattr__(self, name, _utc_seconds(getattr(self, name), name))
        if not isinstance(self.extra, Mapping):
            raise TypeError("extra must be a mapping of additional license members")
        clash = sorted(set(self.extra) & set(_LICENSE_MEMBERS))
        if clash:
            raise ValueError(f"extra must not repeat the known member {clash[0]!r}")
        object.__setattr__(self, "extra", types.MappingProxyType(copy.deepcopy(dict(self.extra))))
        problem = _license_problem(self.to_json())
        if problem is not None:
            raise ValueError(problem[1])

    def to_json(self) -> dict[str, Any]:
        """The ``license`` object exactly as the format writes it (known members first, in order)."""
        obj: dict[str, Any] = {
            "format": self.format,
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "channel": self.channel,
            "reference": self.reference,
            "product": self.product,
            "aku": self.aku,
            "issuedAt": format_time(self.issued_at),
            "notBefore": format_time(self.not_before),
            "expiresAt": format_time(self.expires_at),
        }
        for name, value in self.extra.items():
            obj[name] = copy.deepcopy(value)
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> License:
        """Read a ``license`` object; ProductKeyError ``malformed_key`` naming the first bad member."""
        times: dict[str, datetime] = {}
        problem = _license_problem(obj, times)
        if problem is not None:
            fmt = obj.get("format") if isinstance(obj, Mapping) else None
            raise _invalid_term(*problem, newer_format=problem[0] == "license.format" and _is_int(fmt) and fmt > FORMAT)
        # Every known member is there (checked just above), so more members means extra ones.
        extra = ({k: v for k, v in obj.items() if k not in _LICENSE_MEMBERS}
                 if len(obj) != len(_LICENSE_MEMBERS) else None)
        if extra:  # rare: members of a later revision; the constructor checks them as it always did
            return cls(
                id=obj["id"], seq=obj["seq"], type=obj["type"], channel=obj["channel"],
                reference=obj["reference"], product=obj["product"], aku=obj["aku"],
                issued_at=times["issuedAt"], not_before=times["notBefore"],
                expires_at=times["expiresAt"], format=obj["format"], extra=extra,
            )
        # The terms were just checked whole (the same `_license_problem` the constructor runs, on
        # the same values: the times parsed are UTC whole seconds already), so they are not
        # checked a second time: this runs for every key verified.
        lic = object.__new__(cls)
        lic.__dict__.update(
            id=obj["id"], seq=obj["seq"], type=obj["type"], channel=obj["channel"],
            reference=obj["reference"], product=obj["product"], aku=obj["aku"],
            issued_at=times["issuedAt"], not_before=times["notBefore"],
            expires_at=times["expiresAt"], format=obj["format"], extra=_NO_EXTRA,
        )
        return lic


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python, and true is not a number in JSON.
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


_NO_EXTRA: Mapping[str, Any] = types.MappingProxyType({})


def _license_problem(lic: Any, times: dict[str, datetime] | None = None) -> tuple[str, str] | None:
    """The first problem with a ``license`` object as (field, what is wrong), or None.

    ``times``, when given, receives the three parsed times of terms that have no problem."""
    if type(lic) is not dict and not isinstance(lic, Mapping):  # a parsed key's is a dict
        return "license", "license is not a JSON object"
    for name in _LICENSE_MEMBERS:
        if name not in lic:
            return f"license.{name}", f"license.{name} is missing"
    fmt = lic["format"]
    if not _is_int(fmt):
        return "license.format", "license.format must be the integer 1"
    if fmt != FORMAT:
        return "license.format", (
            f"license.format is {fmt}, and this version reads format {FORMAT} only "
            "(update the environment, or ask for a format 1 key)"
        )
    if not isinstance(lic["id"], str) or not _UUID.fullmatch(lic["id"]):
        return "license.id", "license.id must be a UUID in lowercase text"
    if not _is_int(lic["seq"]) or lic["seq"] < 1:
        return "license.seq", "license.seq must be an integer of at least 1"
    if not isinstance(lic["type"], str) or lic["type"] not in TYPES:
        return "license.type", "license.type must be one of " + ", ".join(sorted(TYPES))
    if not isinstance(lic["channel"], str) or lic["channel"] not in CHANNELS:
        return "license.channel", "license.channel must be one of " + ", ".join(sorted(CHANNELS))
    if lic["reference"] is not None and not isinstance(lic["reference"], str):
        return "license.reference", "license.reference must be text or null"
    if not isinstance(lic["product"], str) or not lic["product"].strip():
        return "license.product", "license.product must be a product name (non-empty text)"
    if not _is_int(lic["aku"]) or lic["aku"] < 1:
        return "license.aku", "license.aku must be a positive integer"
    if times is None:
        times = {}
    for name in ("issuedAt", "notBefore", "expiresAt"):
        try:
            times[name] = parse_time(lic[name])
        except ValueError:
            return f"license.{name}", f"license.{name} must be a UTC time written YYYY-MM-DDThh:mm:ssZ"
    if not times["notBefore"] < times["expiresAt"]:
        return "license.expiresAt", "license.expiresAt must be later than license.notBefore"
    return None


def _invalid_term(field: str, what: str, *, newer_format: bool = False) -> ProductKeyError:
    """A signed key whose terms this environment cannot use (``what``, precise, goes to details)."""
    details = {"reason": what}
    if newer_format:
        return _error(
            "malformed_key",
            N_("This product key is of a newer format than this environment reads."),
            _("Update this environment, or ask the vendor for a key of format %(format)s.", format=FORMAT),
            field=field,
            details=details,
        )
    name = _MEMBER_NAMES.get(field, field)
    state = "missing" if what.endswith(" is missing") else "not valid"
    return _error(
        "malformed_key",
        N_("This product key cannot be used."),
        (_("Its %(name)s is missing: ask the vendor for a new key.", name=name) if state == "missing"
         else _("Its %(name)s is not valid: ask the vendor for a new key.", name=name)),
        field=field,
        details=details,
    )


# --------------------------------------------------------------------------------------------
# Step 1: the text and the envelope


class _Refused(Exception):
    """Raised from inside the JSON parser's hooks."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"it contains {name}, which is not a number that JSON allows")


def _refuse_float(text: str) -> Any:
    raise _Refused(f"it contains the number {text[:32]}, and product keys hold integers only")


def _safe_int(text: str) -> int:
    # Checked on the text first, so a huge number costs nothing to refuse.
    # json's grammar gives "-?digits" here: at most one sign.
    if len(text) - text.startswith("-") > 16:
        raise _Refused("it contains an integer too large to be read exactly everywhere")
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _Refused("it contains an integer too large to be read exactly everywhere")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Refused(f"the member {_shown(name)} appears twice in one object")
            seen.add(name)
    return obj


def _check_tree(root: Any) -> None:
    """Refuse what cannot be signed faithfully everywhere.

    Lone surrogates (``"\\ud800"``) cannot be written as UTF-8; member names with characters beyond
    U+FFFF sort differently by code point (Python) and by UTF-16 unit (RFC 8785), so the signed
    bytes would differ between languages; and nesting deeper than :data:`MAX_DEPTH` is refused
    (format 1 nests two levels).
    """
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise _Refused("it contains text that is not valid Unicode")
        elif isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _Refused(f"its JSON is nested more than {MAX_DEPTH} levels deep")
            if isinstance(node, dict):
                for name in node:
                    if not isinstance(name, str) or _ASTRAL.search(name):
                        raise _Refused(
                            "it has a member name with characters beyond U+FFFF, which "
                            "product keys do not allow"
                        )
                stack.extend((name, depth) for name in node)
                stack.extend((value, depth + 1) for value in node.values())
            else:
                stack.extend((value, depth + 1) for value in node)


# Built once: json.loads with options builds a decoder per call.
_KEY_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_members,
    parse_float=_refuse_float,
    parse_int=_safe_int,
    parse_constant=_refuse_constant,
)


def _plainly_fine(doc: str) -> bool:
    """Whether the JSON text ``doc`` cannot hold what :func:`_check_tree` refuses, read off the
    text in C rather than by walking the tree: a lone surrogate comes only from a ``\\u``
    escape (strict UTF-8 decoding refuses encoded ones), a character beyond U+FFFF is either
    written as such or escaped, and a container ``MAX_DEPTH`` deep needs more than ``MAX_DEPTH``
    brackets. When in doubt (a Chinese product name is fine; an escape is not), the tree is
    walked."""
    return ("\\u" not in doc and (doc.isascii() or _ASTRAL.search(doc) is None)
            and doc.count("{") + doc.count("[") <= MAX_DEPTH)


def _key_bytes(text: Any) -> tuple[bytes, str]:
    """The bytes a key's text stands for, and the text as pasted: size limit first, then lenient
    base64."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_KEY_CHARS:
            raise _too_long(len(text))
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise _unreadable("", "the bytes are not ASCII, so not base64 text") from None
    if not isinstance(text, str):
        raise _error(
            "malformed_key",
            N_("The product key must be text."),
            _("Paste the whole key exactly as you received it."),
            details={"reason": f"got {type(text).__name__}, not text"},
        )
    if len(text) > MAX_KEY_CHARS:
        raise _too_long(len(text))
    # People paste keys out of e-mails: whitespace and line breaks may be anywhere.
    compact = "".join(text.split())
    if not compact:
        raise _error(
            "malformed_key",
            N_("The product key is empty."),
            _("Paste the whole key you received from the vendor."),
            details={"reason": "empty"},
        )
    # The URL-safe alphabet is read as the standard one.
    s = compact.replace("-", "+").replace("_", "/")
    core = s.rstrip("=")
    padding = len(s) - len(core)
    padded = core + "=" * (-len(core) % 4)
    if padding <= 2 and not (padding and len(s) % 4) and len(core) % 4 != 1:
        # The common case, checked in C: strict mode refuses any character outside the alphabet
        # (what the expression below finds, and b64decode's validate=True). What it refuses is
        # told apart below, in the words it always had.
        try:
            return binascii.a2b_base64(padded, strict_mode=True), text
        except ValueError:  # binascii.Error, or text that is not ASCII
            pass
    if not _BASE64.fullmatch(core) or padding > 2 or (padding and len(s) % 4):
        raise _unreadable(text, "the text is not base64 (characters outside its alphabet, or misplaced padding)")
    if len(core) % 4 == 1:
        raise _unreadable(text, "the text's length is not that of base64 (cut short or extra characters)")
    try:
        # The alphabet is checked above (what b64decode's validate=True checks once more).
        return binascii.a2b_base64(padded), text
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise _unreadable(text, "the text is not base64") from None


def _too_long(n: int) -> ProductKeyError:
    return _error(
        "malformed_key",
        _NOT_A_KEY,
        _("It is %(n)s characters long, and a product key has at most %(max)s: paste only the key.",
          n=f"{n:,}", max=f"{MAX_KEY_CHARS:,}"),
        details={"reason": f"{n} characters, over the limit of {MAX_KEY_CHARS}"},
    )


def _decode(text: Any) -> tuple[dict[str, Any], bytes]:
    raw, pasted = _key_bytes(text)
    try:
        doc = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable(pasted, "the decoded bytes are not UTF-8 text") from None
    try:
        obj = _KEY_JSON.decode(doc)
        if not _plainly_fine(doc):
            _check_tree(obj)
    except _Refused as exc:
        raise _unreadable(pasted, str(exc)) from None
    except (ValueError, RecursionError):
        raise _unreadable(pasted, "the decoded text is not JSON") from None
    _check_envelope(obj, pasted)
    return obj, raw


def _check_envelope(obj: Any, pasted: str = "") -> None:
    """Step 1: the outer shape, and nothing else. The terms are not read before the signature is checked."""
    if not isinstance(obj, dict):
        raise _unreadable(pasted, "the decoded JSON is not an object")
    if not isinstance(obj.get("installId"), str):
        raise _unreadable(pasted, "the key has no installId text", field="installId")
    if not isinstance(obj.get("license"), dict):
        raise _unreadable(pasted, "the key has no license object", field="license")
    sig = obj.get("signature")
    if not isinstance(sig, dict):
        raise _unreadable(pasted, "the key has no signature object", field="signature")
    for name in ("kid", "value"):
        if not isinstance(sig.get(name), str):
            raise _unreadable(pasted, f"the key's signature has no {name} text", field=f"signature.{name}")


def decode(text: str) -> dict[str, Any]:
    """Step 1 only: the key's text to its JSON object, with the envelope checked.

    Refuses text over :data:`MAX_KEY_CHARS` before decoding; reads the URL-safe alphabet, missing
    padding and whitespace anywhere; refuses duplicate member names, non-integer numbers, NaN and
    Infinity. Nothing is verified: the answer is untrusted. Raises ProductKeyError ``malformed_key``.
    """
    return _decode(text)[0]


# --------------------------------------------------------------------------------------------
# Steps 2 and 3: signature, then terms


@dataclass(frozen=True)
class ProductKey:
    """A product key whose signature and fields have been verified (not yet its applicability)."""

    install_id: str
    license: License
    kid: str
    alg: str
    signature: bytes
    text: str  # the normalized key text: standard base64, with padding, no whitespace

    @property
    def is_dev(self) -> bool:
        """Signed by a development key (``kid`` ``dev-...``)."""
        return is_dev_kid(self.kid)

    def to_json(self) -> dict[str, Any]:
        """The key's JSON object, as signed (``installId`` first)."""
        return {
            "installId": self.install_id,
            "license": self.license.to_json(),
            "signature": {
                "alg": self.alg,
                "kid": self.kid,
                "value": base64.b64encode(self.signature).decode("ascii"),
            },
        }


def _signature_bytes(value: str) -> bytes | None:
    """The 64 signature bytes, from exactly the standard padded base64 the format writes."""
    if len(value) != 88:
        return None
    try:
        sig = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(sig) != SIGNATURE_BYTES or base64.b64encode(sig).decode("ascii") != value:
        return None
    return sig


def verify(
    text: str,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    *,
    check_kid: Callable[[str], None] | None = None,
) -> ProductKey:
    """Steps 1-3 of "What an environment checks": envelope, signature, then the terms.

    ``trusted_keys`` maps ``kid`` to the vendor's Ed25519 public key. Raises ProductKeyError:
    ``malformed_key`` (envelope, or a missing or mistyped term) or ``signature_invalid`` (unknown
    ``kid``, a signature that is not 64 bytes, or one that does not match). ``check_kid``, when
    given, is called with the envelope's ``kid`` before the trusted key is looked up (a caller's
    own refusal, such as a development key where they are not trusted), so the key's text is
    decoded once.
    """
    obj, raw = _decode(text)
    install_id = obj["installId"]
    license_obj = obj["license"]
    sig = obj["signature"]
    kid = sig["kid"]
    if check_kid is not None:
        check_kid(kid)

    public_key = trusted_keys.get(kid)
    if public_key is None:
        raise _error(
            "signature_invalid",
            N_("This key is signed with a vendor key that this environment does not know."),
            _("That vendor key is named %(kid)s: ask the vendor for a key signed with a current "
              "key, or update this environment's trusted vendor keys.", kid=_shown(kid)),
            field="signature.kid",
            details={"kid": kid, "unknownKid": True, "reason": "unknown kid"},
        )
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError(f"trusted key {kid!r} is not an Ed25519 public key")
    signature = _signature_bytes(sig["value"])
    if signature is None:
        raise _error(
            "signature_invalid",
            N_("This key was altered or not issued by the vendor."),
            _("Its signature is damaged.") + " " + _(_PASTE_HINT),
            field="signature.value",
            details={"kid": kid, "reason": "the signature is not the standard base64 of 64 bytes"},
        )
    try:
        public_key.verify(signature, signed_bytes(install_id, kid, license_obj))
    except InvalidSignature:
        raise _error(
            "signature_invalid",
            N_("This key was altered or not issued by the vendor."),
            _("Its signature does not match what it says.") + " " + _(_PASTE_HINT),
            field="signature.value",
            details={"kid": kid, "reason": "the signature does not verify"},
        ) from None

    # Step 3: only now are the terms read.
    if not _INSTALL_ID.fullmatch(install_id):
        raise _invalid_term("installId", "installId must be 32 lowercase hexadecimal digits")
    if not isinstance(sig.get("alg"), str):
        raise _invalid_term("signature.alg", "signature.alg must be text")
    lic = License.from_json(license_obj)
    # Every field is checked above: filled in directly, as the frozen dataclass's __init__ would.
    key = object.__new__(ProductKey)
    key.__dict__.update(install_id=install_id, license=lic, kid=kid, alg=sig["alg"],
                        signature=signature, text=base64.b64encode(raw).decode("ascii"))
    return key


# --------------------------------------------------------------------------------------------
# Steps 4-7: may this key be applied here, now?


def check_applicable(
    key: ProductKey,
    *,
    install_id: str,
    now: datetime,
    running_seq: int | None,
    running_id: str | None,
) -> bool:
    """Steps 4-7 for a verified key; answers whether it is *already active*.

    ``running_seq`` and ``running_id`` describe the running license (the built-in trial is
    ``0`` / ``None``; ``None`` for the sequence means nothing runs). Returns True when ``key`` is
    the running key (same ``license.id``: nothing to record again), False when it is applicable
    and new. Raises ProductKeyError ``wrong_install_id``, ``clock_skew``, ``not_yet_valid``,
    ``key_expired`` or ``older_key``.
    """
    now = _utc_seconds_exact(now)
    lic = key.license
    if key.install_id != install_id:
        raise _error(
            "wrong_install_id",
            N_("This key is for another environment."),
            _("It was issued for install ID %(key_install_id)s, and this environment's install ID is "
              "%(install_id)s (shown on the Settings page): ask the vendor for a key issued for it.",
              key_install_id=key.install_id, install_id=install_id),
            field="installId",
            details={"keyInstallId": key.install_id, "installId": install_id},
        )
    latest = now + CLOCK_TOLERANCE
    if lic.issued_at > latest:
        raise _error(
            "clock_skew",
            N_("This key was issued later than this environment's clock says it is now."),
            _("It was issued at %(issued)s and the clock says %(now)s, more than 5 minutes earlier: correct the "
              "environment's clock (NTP) and apply the key again.",
              issued=time_for_people(lic.issued_at), now=time_for_people(now)),
            field="license.issuedAt",
            details={"issuedAt": format_time(lic.issued_at), "now": format_time(now)},
        )
    if lic.not_before > latest:
        raise _error(
            "not_yet_valid",
            N_("This key is not valid yet."),
            _("It is valid from %(start)s, and this environment's clock says %(now)s: apply it again from %(start)s.",
              start=time_for_people(lic.not_before), now=time_for_people(now)),
            field="license.notBefore",
            details={"notBefore": format_time(lic.not_before), "now": format_time(now)},
        )
    if lic.expires_at <= now:
        raise _error(
            "key_expired",
            N_("This key has expired."),
            _("It was valid until %(until)s: renew, then ask the vendor for a new key.",
              until=time_for_people(lic.expires_at)),
            field="license.expiresAt",
            details={"expiresAt": format_time(lic.expires_at)},
        )
    if running_id is not None and lic.id == running_id:
        return True
    current = 0 if running_seq is None else running_seq
    if lic.seq <= current:
        newest = _("apply the newest key the vendor issued for this environment.")
        if lic.seq == current:
            headline = N_("Another key with the same sequence number is already active.")
            why = _("Both have key sequence %(seq)s, so this one cannot replace the running one: %(then)s",
                    seq=lic.seq, then=newest)
        else:
            headline = N_("This key is older than the running license.")
            why = _("It has key sequence %(seq)s and the running license %(current)s, and an older key can never "
                    "replace a newer one: %(then)s", seq=lic.seq, current=current, then=newest)
        raise _error(
            "older_key",
            headline,
            why,
            field="license.seq",
            details={"seq": lic.seq, "runningSeq": current},
        )
    return False


def _utc_seconds_exact(dt: datetime) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"now must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("now has no time zone; pass an aware datetime (UTC)")
    return dt.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# Signing (vendor side)


def sign(
    install_id: str,
    license: License | Mapping[str, Any],
    kid: str,
    private_key: Ed25519PrivateKey,
) -> str:
    """Sign terms for an install ID; answers the product key text.

    The text is the standard base64 (with padding) of the compact UTF-8 JSON object, ``installId``
    first, so it starts with ``eyJpbnN0YWxsSWQiOi``. Invalid input raises ValueError or TypeError:
    a key is never made that environments would refuse as malformed.
    """
    if not isinstance(install_id, str) or not _INSTALL_ID.fullmatch(install_id):
        raise ValueError("install_id must be 32 lowercase hexadecimal digits")
    if not isinstance(kid, str) or not kid or kid != kid.strip() or _SURROGATE.search(kid):
        raise ValueError("kid must be non-empty text without surrounding whitespace")
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError("private_key must be an Ed25519PrivateKey")
    if not isinstance(license, License):
        if not isinstance(license, Mapping):
            raise TypeError("license must be a License or a mapping of the license object")
        problem = _license_problem(license)
        if problem is not None:
            raise ValueError(problem[1])
        license = License.from_json(dict(license))
    license_obj = license.to_json()

    try:
        message = signed_bytes(install_id, kid, license_obj)
    except UnicodeEncodeError:
        raise ValueError("the license holds text that is not valid Unicode") from None
    signature = private_key.sign(message)
    envelope = {
        "installId": install_id,
        "license": license_obj,
        "signature": {
            "alg": ALG,
            "kid": kid,
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = base64.b64encode(body.encode("utf-8")).decode("ascii")
    if len(text) > MAX_KEY_CHARS:
        raise ValueError(
            f"the product key would be {len(text)} characters, over the {MAX_KEY_CHARS} "
            "that environments read"
        )
    # Read it back as an environment would (the extra members could hold floats, huge integers,
    # deep nesting): a key that would be refused is never handed out.
    try:
        verify(text, {kid: private_key.public_key()})
    except ProductKeyError as exc:
        raise ValueError(f"the product key would be refused: {exc.details.get('reason', exc.message)}") from None
    return text


# --------------------------------------------------------------------------------------------
# Trust


def is_install_id(value: Any) -> bool:
    """An install ID as the format writes it: 32 lowercase hexadecimal digits."""
    return isinstance(value, str) and _INSTALL_ID.fullmatch(value) is not None


def is_dev_kid(kid: Any) -> bool:
    """A development signing key: its ``kid`` starts with ``dev-``."""
    return isinstance(kid, str) and kid.startswith(DEV_KID_PREFIX)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The PEM (SubjectPublicKeyInfo) of an Ed25519 public key, as ``LICENSE_PUBLIC_KEYS`` holds it."""
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("public_key must be an Ed25519PublicKey")
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _key_kind(key: Any) -> str:
    kinds = (
        (rsa.RSAPublicKey, "an RSA key"),
        (ec.EllipticCurvePublicKey, "an elliptic-curve (ECDSA) key"),
        (dsa.DSAPublicKey, "a DSA key"),
        (ed448.Ed448PublicKey, "an Ed448 key"),
        (x25519.X25519PublicKey, "an X25519 key"),
        (x448.X448PublicKey, "an X448 key"),
    )
    for cls, name in kinds:
        if isinstance(key, cls):
            return name
    return "not an Ed25519 key"


def load_public_keys(mapping: Mapping[str, str | bytes]) -> dict[str, Ed25519PublicKey]:
    """Read ``{kid: PEM public key}`` (what the vendor's ``license public-keys`` command prints).

    Raises ValueError naming the ``kid`` for anything that is not an Ed25519 public key in PEM.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError("the public keys must be a JSON object of kid to PEM public key")
    keys: dict[str, Ed25519PublicKey] = {}
    for kid, pem in mapping.items():
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"public key id {kid!r} must be non-empty text")
        if isinstance(pem, str):
            pem = pem.encode("utf-8")
        if not isinstance(pem, bytes):
            raise ValueError(f"public key {kid!r} must be a PEM text")
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(f"public key {kid!r} is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(
                f"public key {kid!r} is {_key_kind(key)}, and product keys are signed with "
                "Ed25519 only; give the Ed25519 public key that the vendor side's "
                "`.venv/bin/flask --app wsgi license public-keys` prints"
            )
        keys[kid] = key
    return keys
