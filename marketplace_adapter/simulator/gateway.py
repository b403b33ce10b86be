"""What Alibaba's API gateway checks before an operation runs: signature (V1 or V3), access key,
timestamp window and nonce reuse.

It reuses the client's pure signing functions on purpose: the tests check those against
Alibaba's own util packages, so a request this verifier accepts is one the real gateway would.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from .. import signing

__all__ = ["AccessKey", "GatewayError", "IncomingRequest", "Caller", "NonceStore", "verify"]


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret: str
    seller: str
    active: bool = True


class GatewayError(Exception):
    """An error answer of the gateway: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class IncomingRequest:
    """The parts of an HTTP request the gateway looks at. ``headers`` have lowercase names."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Caller:
    """Who is calling, how, and what for: the outcome of a verified request."""

    access_key: AccessKey
    signature_version: str
    action: str
    params: dict[str, str]
    wants_json: bool
    security_token: str | None = None
    nonce: str = ""


@dataclass
class NonceStore:
    """Nonces seen within the timestamp window, per access key; older ones are forgotten (a
    replay that old fails the timestamp check anyway), so memory stays bounded."""

    window: timedelta
    _seen: "OrderedDict[tuple[str, str], datetime]" = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def use(self, access_key_id: str, nonce: str, now: datetime) -> bool:
        """Record the nonce; False when it was already used."""
        with self._lock:
            horizon = now - 2 * self.window
            while self._seen:
                oldest_key, seen_at = next(iter(self._seen.items()))
                if seen_at >= horizon:
                    break
                self._seen.pop(oldest_key)
            key = (access_key_id, nonce)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


_V1_REQUIRED = ("AccessKeyId", "Action", "SignatureMethod", "SignatureNonce", "SignatureVersion",
                "Timestamp", "Version")
_V3_REQUIRED = ("host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
                "x-acs-signature-nonce", "x-acs-version")


def verify(
    request: IncomingRequest,
    keys: Mapping[str, AccessKey],
    nonces: NonceStore,
    now: datetime,
    window: timedelta,
    accepted_security_tokens: frozenset[str] | None = None,
) -> Caller:
    """The verified caller, or a :class:`GatewayError` as the real gateway would answer it."""
    authorization = request.headers.get("authorization", "")
    if "Signature" in request.params:
        caller = _verify_v1(request, keys, now, window)
    elif authorization.startswith(signing.V3_ALGORITHM):
        caller = _verify_v3(request, authorization, keys, now, window)
    else:
        raise GatewayError(400, "IncompleteSignature",
                           "The request signature does not conform to Aliyun standards: neither a "
                           "Signature parameter nor an ACS3-HMAC-SHA256 Authorization header.")
    if caller.security_token is not None and accepted_security_tokens is not None \
            and caller.security_token not in accepted_security_tokens:
        raise GatewayError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
    if not nonces.use(caller.access_key.access_key_id, caller.nonce, now):
        raise GatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    return caller


def _access_key(keys: Mapping[str, AccessKey], access_key_id: str) -> AccessKey:
    key = keys.get(access_key_id)
    if key is None:
        raise GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if not key.active:
        raise GatewayError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
    return key


def _check_time(value: str, now: datetime, window: timedelta) -> None:
    try:
        moment = signing.parse_timestamp(value)
    except ValueError:
        raise GatewayError(400, "InvalidTimeStamp.Format",
                           "Specified time stamp or date value is not well formatted.") from None
    if abs(now - moment) > window:
        raise GatewayError(400, "InvalidTimeStamp.Expired",
                           "Specified time stamp or date value is expired.")


def _check_version(version: str) -> None:
    if version != signing.API_VERSION:
        raise GatewayError(400, "InvalidVersion", "Specified parameter Version is not valid.")


def _verify_v1(request: IncomingRequest, keys: Mapping[str, AccessKey], now: datetime,
               window: timedelta) -> Caller:
    params = request.params
    missing = [name for name in _V1_REQUIRED if not params.get(name)]
    if missing:
        raise GatewayError(400, f"Missing{missing[0]}",
                           f"{missing[0]} is mandatory for this action.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise GatewayError(400, "IncompleteSignature",
                           "SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0.")
    _check_version(params["Version"])
    key = _access_key(keys, params["AccessKeyId"])
    _check_time(params["Timestamp"], now, window)
    expected = signing.sign_v1(request.method, params, key.secret)
    if not signing.constant_time_equal(expected, params["Signature"]):
        raise GatewayError(
            400, "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:"
            + signing.string_to_sign_v1(request.method, params),
        )
    business = {name: value for name, value in params.items()
                if name not in _V1_REQUIRED and name not in ("Signature", "Format", "SecurityToken")}
    return Caller(
        access_key=key,
        signature_version="v1",
        action=params["Action"],
        params=business,
        wants_json=params.get("Format", "XML").upper() == "JSON",
        security_token=params.get("SecurityToken"),
        nonce=params["SignatureNonce"],
    )


def _verify_v3(request: IncomingRequest, authorization: str, keys: Mapping[str, AccessKey],
               now: datetime, window: timedelta) -> Caller:
    try:
        auth = signing.parse_authorization_v3(authorization)
    except ValueError as exc:
        raise GatewayError(400, "IncompleteSignature", str(exc)) from None
    headers = request.headers
    missing = [name for name in _V3_REQUIRED if not headers.get(name)]
    if missing:
        raise GatewayError(400, "IncompleteSignature", f"The {missing[0]} header is required.")
    unsigned = signing.iter_unsigned_acs_headers(
        [name for name in headers if name != "authorization"], auth.signed_headers
    )
    absent = [name for name in auth.signed_headers if name not in headers]
    if unsigned or absent:
        raise GatewayError(400, "IncompleteSignature",
                           "Every x-acs-* header and host must be signed, and only headers that "
                           f"are sent: unsigned {unsigned}, absent {absent}.")
    _check_version(headers["x-acs-version"])
    key = _access_key(keys, auth.access_key_id)
    _check_time(headers["x-acs-date"], now, window)
    if headers["x-acs-content-sha256"] != hashlib.sha256(request.body).hexdigest():
        raise GatewayError(400, "SignatureDoesNotMatch",
                           "x-acs-content-sha256 does not match the request body.")
    signed = {name: headers[name] for name in auth.signed_headers}
    canonical = signing.canonical_request_v3(request.method, request.path, request.params, signed,
                                             headers["x-acs-content-sha256"])
    expected = signing.sign_v3(canonical, key.secret)
    if not signing.constant_time_equal(expected, auth.signature):
        raise GatewayError(
            400, "SignatureDoesNotMatch",
            "The request signature does not conform to Aliyun standards. server string to sign "
            "is:" + signing.string_to_sign_v3(canonical),
        )
    accept = headers.get("accept", "")
    return Caller(
        access_key=key,
        signature_version="v3",
        action=headers["x-acs-action"],
        params=dict(request.params),
        wants_json="json" in accept.lower() or request.params.get("Format", "").upper() == "JSON",
        security_token=headers.get("x-acs-security-token"),
        nonce=headers["x-acs-signature-nonce"],
    )
