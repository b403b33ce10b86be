"""Typed errors of the Market API, and the one table that maps its error codes to them.

Callers branch on the class (a code that is not ours, a marketplace that is down, keys that are
wrong); the marketplace's own ``code``, ``message`` and ``request_id`` ride along so support can
quote them to Alibaba. ``advice`` says in plain words what a person should do.

Authorization codes are bearer secrets: nothing here ever holds one in full. Messages from the
gateway can echo the request (``SignatureDoesNotMatch`` quotes the whole string to sign), so the
client passes the code in play to :func:`redact` before an error is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import quote

__all__ = [
    "MarketplaceError",
    "CodeNotFound",
    "CodeInvalid",
    "CodeExpired",
    "CodeDiscarded",
    "CodeNotForThisSeller",
    "CredentialsRejected",
    "Throttled",
    "MarketplaceUnavailable",
    "BadResponse",
    "ErrorKind",
    "ERROR_CODES",
    "THROTTLING_CODES",
    "error_for_code",
    "mask_code",
    "redact",
]


class MarketplaceError(Exception):
    """Base of every error the adapter raises.

    ``code`` is the marketplace's error code (``License.NotFound``) or, for failures that never
    reached it, a local one (``ConnectionError``, ``ReadTimeout``, ``BadResponse``).
    """

    default_advice = (
        "The marketplace refused the request. Try again later; if it keeps failing, contact "
        "support with the request id."
    )

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        advice: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.advice = advice or self.default_advice

    def __str__(self) -> str:
        details = []
        if self.code:
            details.append(f"code {self.code}")
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )


class CodeNotFound(MarketplaceError):
    default_advice = (
        "The marketplace does not know this authorization code. Check it was copied whole from "
        "the buyer console (Alibaba Cloud Marketplace, Purchased Services)."
    )


class CodeInvalid(MarketplaceError):
    default_advice = (
        "The marketplace says this authorization code is not valid (it may already be activated "
        "for another account). Ask the buyer to check the order in the buyer console, or contact "
        "support."
    )


class CodeExpired(MarketplaceError):
    default_advice = (
        "This authorization code has expired. The buyer needs to renew the subscription on the "
        "marketplace, then redeem the code again."
    )


class CodeDiscarded(MarketplaceError):
    default_advice = (
        "This authorization code was discarded (the order was refunded or cancelled). The buyer "
        "needs a new purchase."
    )


class CodeNotForThisSeller(MarketplaceError):
    default_advice = (
        "This authorization code belongs to another seller's product. Check that the code is for "
        "this product."
    )


class CredentialsRejected(MarketplaceError):
    default_advice = (
        "The marketplace rejected this server's credentials. Check the AccessKey ID and secret "
        "(ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET), that the account is the seller's, and the "
        "server clock."
    )


class Throttled(MarketplaceError):
    default_advice = "The marketplace is rate limiting requests. Wait a moment and try again."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        """Seconds the gateway asked us to wait (``x-acs-retry-after``), or None."""


class MarketplaceUnavailable(MarketplaceError):
    default_advice = (
        "The marketplace could not be reached or failed. Try again in a few minutes; if it keeps "
        "failing, check the network path to the marketplace endpoint."
    )


class BadResponse(MarketplaceError):
    default_advice = (
        "The marketplace answered something this software does not understand. Try again later; "
        "if it persists, contact support with the request id."
    )


@dataclass(frozen=True)
class ErrorKind:
    """One row of :data:`ERROR_CODES`: the class to raise and, when the class's own advice is
    too general, the advice for this code."""

    cls: type[MarketplaceError]
    advice: str | None = None


_CLOCK = (
    "This server's clock differs from Alibaba Cloud's by more than 15 minutes. Synchronise it "
    "(NTP) and try again."
)
_ACCESS_KEY = (
    "The AccessKey ID is unknown or disabled. Check ALIBABA_CLOUD_ACCESS_KEY_ID and that the key "
    "is enabled in the RAM console."
)
_SIGNATURE = (
    "The request signature did not match. Check ALIBABA_CLOUD_ACCESS_KEY_SECRET belongs to the "
    "AccessKey ID."
)
_SELLER_ACCOUNT = (
    "The credentials do not belong to the seller's account. Use an AccessKey of the seller "
    "account (or a RAM user of it that is allowed to call the Market API)."
)
_STS = "The STS token is missing, expired or does not match the AccessKey. Fetch a fresh token."

#: Every documented Market API error code, and its class. Codes not listed fall back on the
#: HTTP status (see :func:`error_for_code`).
ERROR_CODES: Mapping[str, ErrorKind] = {
    # The operations' own codes.
    "License.NotFound": ErrorKind(CodeNotFound),
    "License.Invalid": ErrorKind(CodeInvalid),
    "License.Expired": ErrorKind(CodeExpired),
    "License.Discard": ErrorKind(CodeDiscarded),
    "Auth.Match": ErrorKind(CodeNotForThisSeller),
    "Auth.ISV.Error": ErrorKind(CredentialsRejected, _SELLER_ACCOUNT),
    "Auth.ISV": ErrorKind(CredentialsRejected, _SELLER_ACCOUNT),
    "Auth.SubAccount.Error": ErrorKind(CredentialsRejected, _SELLER_ACCOUNT),
    "Auth.CallerType": ErrorKind(
        CredentialsRejected,
        "The marketplace does not accept RAM users or STS tokens for this call. Use the seller's "
        "main-account AccessKey, or set MARKETPLACE_ACTIVATE=best-effort.",
    ),
    "Auth.Authorized": ErrorKind(
        CredentialsRejected,
        "The RAM user is not authorized for the Market API. Grant it the Market permissions in "
        "the RAM console.",
    ),
    # The API gateway's codes.
    "InvalidAccessKeyId.NotFound": ErrorKind(CredentialsRejected, _ACCESS_KEY),
    "InvalidAccessKeyId.Inactive": ErrorKind(CredentialsRejected, _ACCESS_KEY),
    "SignatureDoesNotMatch": ErrorKind(CredentialsRejected, _SIGNATURE),
    "IncompleteSignature": ErrorKind(CredentialsRejected, _SIGNATURE),
    "InvalidTimeStamp.Expired": ErrorKind(CredentialsRejected, _CLOCK),
    "InvalidTimeStamp.Format": ErrorKind(CredentialsRejected, _CLOCK),
    "SignatureNonceUsed": ErrorKind(
        CredentialsRejected,
        "The gateway saw this request's nonce before (a replay). Try again; if it repeats, "
        "contact support.",
    ),
    "InvalidSecurityToken.Expired": ErrorKind(CredentialsRejected, _STS),
    "InvalidSecurityToken.Malformed": ErrorKind(CredentialsRejected, _STS),
    "InvalidSecurityToken.MismatchWithAccessKey": ErrorKind(CredentialsRejected, _STS),
    "Throttling": ErrorKind(Throttled),
    "Throttling.User": ErrorKind(Throttled),
    "Service.Flow.Control": ErrorKind(Throttled),
    "InternalError": ErrorKind(MarketplaceUnavailable),
    "ServiceUnavailable": ErrorKind(MarketplaceUnavailable),
}

THROTTLING_CODES = frozenset(code for code, kind in ERROR_CODES.items() if kind.cls is Throttled)


def error_for_code(code: str | None, http_status: int | None) -> ErrorKind:
    """The row for ``code``; for an unknown code, a row chosen by the HTTP status.

    Unknown 5xx are the marketplace failing, 429 is throttling, 401/403 are credentials;
    anything else is a plain :class:`MarketplaceError`.
    """
    if code and code in ERROR_CODES:
        return ERROR_CODES[code]
    if http_status is not None:
        if http_status >= 500:
            return ErrorKind(MarketplaceUnavailable)
        if http_status == 429:
            return ErrorKind(Throttled)
        if http_status in (401, 403):
            return ErrorKind(CredentialsRejected)
    return ErrorKind(MarketplaceError)


def mask_code(code: str | None) -> str:
    """An authorization code as people may see it: ``****`` and the last four characters.

    Codes of four characters or fewer are masked entirely, so the mask never reveals a whole code.
    """
    if not code or len(code) <= 4:
        return "****"
    return "****" + code[-4:]


def redact(text: str, codes: Iterable[str | None] = (), secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every code masked (:func:`mask_code`) and every secret replaced by ``****``.

    Each is looked for in plain, percent-encoded and twice-encoded form: a V1 string to sign
    (which the gateway quotes back on a signature mismatch) encodes each value once more.
    """
    for values, replace in ((codes, mask_code), (secrets, lambda _: "****")):
        for value in values:
            if not value:
                continue
            once = quote(value, safe="")
            twice = quote(once, safe="")
            for form in sorted({value, once, twice}, key=len, reverse=True):
                text = text.replace(form, replace(value))
    return text
