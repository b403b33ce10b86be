"""Pure signing functions for the Alibaba Cloud RPC gateway: signature V1 and V3.

No I/O, no clock, no randomness: the caller passes the nonce and timestamp, so the same
functions sign the client's requests, verify them in the simulator, and are checked byte for byte
against the reference vectors and Alibaba's own util packages.

V1 (HMAC-SHA1) puts everything in the query string, ``Signature`` included.
V3 (ACS3-HMAC-SHA256) keeps the business parameters in the query string and moves the action,
version, date and nonce into signed ``x-acs-*`` headers, with the signature in ``Authorization``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping
from urllib.parse import quote

__all__ = [
    "API_VERSION",
    "EMPTY_SHA256",
    "V3_ALGORITHM",
    "percent_encode",
    "format_timestamp",
    "parse_timestamp",
    "v1_common_params",
    "canonicalize_v1",
    "string_to_sign_v1",
    "sign_v1",
    "v1_query_string",
    "canonical_query_v3",
    "canonical_headers_v3",
    "canonical_request_v3",
    "string_to_sign_v3",
    "sign_v3",
    "authorization_v3",
    "V3Authorization",
    "parse_authorization_v3",
]

API_VERSION = "2015-11-01"
V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba uses it: UTF-8, only ``A-Z a-z 0-9 - _ . ~`` left alone,
    uppercase hex (so space is ``%20``, ``*`` is ``%2A``, ``/`` is ``%2F``)."""
    return quote(value, safe="~", encoding="utf-8")


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC, the form of both ``Timestamp`` (V1) and ``x-acs-date`` (V3)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    """The inverse of :func:`format_timestamp`; raises ``ValueError`` on any other form."""
    return datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- V1 (HMAC-SHA1)


def v1_common_params(
    access_key_id: str,
    action: str,
    *,
    nonce: str,
    timestamp: str,
    security_token: str | None = None,
    version: str = API_VERSION,
) -> dict[str, str]:
    """The gateway's common parameters for one V1 request (``Signature`` not yet included)."""
    params = {
        "Format": "JSON",
        "Version": version,
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": timestamp,
        "Action": action,
    }
    if security_token:
        params["SecurityToken"] = security_token
    return params


def canonicalize_v1(params: Mapping[str, str]) -> str:
    """Every parameter but ``Signature``, sorted by name, encoded, joined as ``name=value&...``."""
    return "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}"
        for name in sorted(params)
        if name != "Signature" and params[name] is not None
    )


def string_to_sign_v1(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + the canonicalized parameters, encoded once more."""
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalize_v1(params))}"


def sign_v1(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with the secret plus ``&``."""
    digest = hmac.new(
        (access_key_secret + "&").encode("utf-8"),
        string_to_sign_v1(method, params).encode("utf-8"),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def v1_query_string(params: Mapping[str, str], signature: str) -> str:
    """The query string to send: the canonical parameters plus the encoded ``Signature``.

    Sending exactly the canonical form means no HTTP library re-encodes it on the way out.
    """
    return f"{canonicalize_v1(params)}&Signature={percent_encode(signature)}"


# ---------------------------------------------------------------- V3 (ACS3-HMAC-SHA256)


def canonical_query_v3(query: Mapping[str, str]) -> str:
    """Names and values encoded as in V1, sorted by name, ``&``-joined; empty without parameters."""
    return "&".join(
        f"{percent_encode(name)}={percent_encode(query[name])}"
        for name in sorted(query)
        if query[name] is not None
    )


def canonical_headers_v3(headers: Mapping[str, str]) -> tuple[str, str]:
    """``(canonical headers, signed header names)`` for the given headers, all of them signed.

    Names are lowercased and sorted, values trimmed; each line ends with ``\\n``.
    """
    lowered: dict[str, list[str]] = {}
    for name, value in headers.items():
        if value is None:
            continue
        lowered.setdefault(name.lower(), []).append(str(value).strip())
    names = sorted(lowered)
    block = "".join(f"{name}:{','.join(sorted(lowered[name]))}\n" for name in names)
    return block, ";".join(names)


def canonical_request_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str = EMPTY_SHA256,
) -> str:
    """The canonical request over exactly the ``headers`` given (the signed ones)."""
    canonical_headers, signed_names = canonical_headers_v3(headers)
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query_v3(query),
            canonical_headers,
            signed_names,
            payload_sha256,
        ]
    )


def string_to_sign_v3(canonical_request: str) -> str:
    return f"{V3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"


def sign_v3(canonical_request: str, access_key_secret: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the bare secret (no ``&``)."""
    return hmac.new(
        access_key_secret.encode("utf-8"),
        string_to_sign_v3(canonical_request).encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()


def authorization_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    signed_headers: Mapping[str, str],
    access_key_id: str,
    access_key_secret: str,
    payload_sha256: str = EMPTY_SHA256,
) -> str:
    """The ``Authorization`` header value for a request whose signed headers are ``signed_headers``."""
    canonical = canonical_request_v3(method, path, query, signed_headers, payload_sha256)
    _, names = canonical_headers_v3(signed_headers)
    return (
        f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={names},"
        f"Signature={sign_v3(canonical, access_key_secret)}"
    )


@dataclass(frozen=True)
class V3Authorization:
    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization_v3(value: str) -> V3Authorization:
    """Split an ``Authorization`` header; raises ``ValueError`` when a part is missing."""
    algorithm, _, rest = value.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part = item.strip().partition("=")
        if sep:
            parts[name] = part
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if algorithm != V3_ALGORITHM or missing:
        raise ValueError(f"malformed Authorization header (missing {', '.join(missing) or 'algorithm'})")
    return V3Authorization(
        algorithm=algorithm,
        access_key_id=parts["Credential"],
        signed_headers=tuple(name for name in parts["SignedHeaders"].split(";") if name),
        signature=parts["Signature"],
    )


def constant_time_equal(a: str, b: str) -> bool:
    """Signature comparison that does not leak, through timing, how much of it matched."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def iter_unsigned_acs_headers(header_names: Iterable[str], signed: Iterable[str]) -> list[str]:
    """The ``x-acs-*`` and ``host`` headers present but not signed (the gateway requires them signed)."""
    signed_set = {name.lower() for name in signed}
    return sorted(
        name.lower()
        for name in header_names
        if (name.lower().startswith("x-acs-") or name.lower() == "host")
        and name.lower() not in signed_set
    )
