"""The Market API client: signed requests, typed errors, bounded retries.

One ``requests.Session`` per client, so calls reuse a kept-alive TLS connection; every attempt has
a timeout and is signed anew (fresh nonce and timestamp, as the gateway refuses a replayed nonce).

Retrying is only done where it is safe: failures to connect, read timeouts of the read-only
DescribeLicense, 5xx answers and throttling. An ActivateLicense whose answer is lost (a read
timeout, an answer cut off, a connection closed after the request went out) is ambiguous: the
marketplace may have activated the code. It is resolved by reading the code again rather than
by writing again blindly.

urllib3 logs each request line at DEBUG, and the query holds the authorization code and the
signature: a filter on its loggers masks them (see :class:`RedactQueryFilter`).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Mapping
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

from . import signing
from .errors import (
    BadResponse,
    MarketplaceError,
    MarketplaceUnavailable,
    Throttled,
    error_for_code,
    mask_code,
    redact,
)
from .parsing import CodeStatus, License, parse_license, parse_success
from .retry import RetryPolicy, parse_retry_after
from .timezones import resolve_timezone

__all__ = ["MarketplaceClient", "MarketCall", "DEFAULT_ENDPOINT", "RedactQueryFilter"]

log = logging.getLogger("marketplace_adapter")

DEFAULT_ENDPOINT = "https://market.aliyuncs.com"
_USER_AGENT = "marketplace-adapter/1.0 (+requests)"

# What Session.merge_environment_settings reads from the environment for an http(s) endpoint
# (urllib.request.getproxies_environment: the *_proxy variables, either case, and REQUEST_METHOD,
# which makes it ignore HTTP_PROXY; requests: the CA bundle). Other schemes' proxies (ftp_proxy)
# do not apply to the endpoint's scheme.
_ENVIRONMENT_SETTINGS = tuple(
    [case(f"{scheme}_proxy") for scheme in ("http", "https", "all", "no") for case in (str.lower, str.upper)]
    + ["REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
)

_SECRET_QUERY_VALUE = re.compile(r"([?&](LicenseCode|Signature|SecurityToken)=)([^&\s\"']*)")


class RedactQueryFilter(logging.Filter):
    """Masks the authorization code (``****`` + last 4), the signature and the STS token in the
    query strings that urllib3 writes into its own log records (the request line at DEBUG, the
    URL of a retry). Installed on urllib3's loggers when this module is imported; it costs
    nothing while those loggers are below DEBUG, as records are not even made then."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business, not ours
            return True
        if "LicenseCode=" in message or "Signature=" in message or "SecurityToken=" in message:
            record.msg = _SECRET_QUERY_VALUE.sub(_masked_query_value, message)
            record.args = ()
        return True


def _masked_query_value(match: re.Match) -> str:
    prefix, name, value = match.groups()
    return prefix + (mask_code(unquote(value)) if name == "LicenseCode" else "****")


_REDACT_QUERY = RedactQueryFilter()
for _logger_name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_logger_name).addFilter(_REDACT_QUERY)


@dataclass(frozen=True)
class MarketCall:
    """One attempt of a Market API call, as the ``observer`` given to the client sees it (for
    metrics and logs): ``error_code`` is None for an answer that succeeded, else the error's
    code (the marketplace's, e.g. ``License.NotFound``, or the transport's, e.g.
    ``ReadTimeout``); ``request_id`` is the marketplace's ``RequestId`` when it answered one."""

    action: str
    error_code: str | None
    request_id: str | None
    http_status: int | None
    seconds: float
    attempt: int


@dataclass
class _Budget:
    """Attempts made so far and when the first one started; shared by the retries of one call."""

    started: float
    attempts: int = 0


class _AnswerLost(Exception):
    """Internal: an ActivateLicense attempt went out but its answer was lost (a read timeout, a
    cut-off answer, a connection closed without one), so whether the code got activated is
    unknown."""

    def __init__(self, error: MarketplaceUnavailable) -> None:
        super().__init__(str(error))
        self.error = error


class MarketplaceClient:
    """Client for DescribeLicense and ActivateLicense of the Alibaba Cloud Market API.

    The keyword-only arguments after ``session`` exist for tests and simulations: ``clock``
    (monotonic seconds) and ``sleep`` drive the retry timing, ``utcnow`` the signed timestamp,
    ``nonce_factory`` the signature nonce, ``rng`` the jitter. ``observer`` is called with a
    :class:`MarketCall` after every attempt (metrics, logs); what it raises is logged, never
    passed on.
    """

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        security_token: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        signature_version: str = "v1",
        timeout: float = 10.0,
        max_attempts: int = 3,
        deadline: float = 30.0,
        market_tz: str | tzinfo = "Asia/Shanghai",
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        utcnow: Callable[[], datetime] | None = None,
        nonce_factory: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        backoff_base: float = 0.25,
        backoff_cap: float = 5.0,
        user_agent: str = _USER_AGENT,
        observer: Callable[[MarketCall], None] | None = None,
    ) -> None:
        if not access_key_id or not access_key_secret:
            raise ValueError("access_key_id and access_key_secret are required")
        version = str(signature_version).lower()
        if version not in ("v1", "v3"):
            raise ValueError("signature_version must be 'v1' or 'v3'")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._security_token = security_token or None
        self.endpoint, self._host = _parse_endpoint(endpoint)
        self.signature_version = version
        self.timeout = float(timeout)
        self.retry_policy = RetryPolicy(
            max_attempts=max_attempts, deadline=deadline, base_delay=backoff_base,
            max_delay=backoff_cap,
        )
        self.market_tz = resolve_timezone(market_tz)
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._utcnow = utcnow or (lambda: datetime.now(timezone.utc))
        self._nonce = nonce_factory or (lambda: str(uuid.uuid4()))
        self._rng = rng or random.Random()
        self._user_agent = user_agent
        self._observer = observer
        self._settings_cache: tuple[tuple, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return (
            f"MarketplaceClient(access_key_id={mask_code(self.access_key_id)!r}, "
            f"endpoint={self.endpoint!r}, signature_version={self.signature_version!r})"
        )

    def close(self) -> None:
        """Close the session, unless it was injected (then its owner closes it)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "MarketplaceClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ operations

    def describe_license(self, code: str) -> License:
        """What the marketplace says about ``code``, for every HTTP 200 answer whatever its status.

        Raises a :class:`~marketplace_adapter.errors.MarketplaceError` subclass otherwise.
        """
        code = _check_code(code)
        return self._describe(code, _Budget(started=self._clock()))

    def activate_license(self, code: str, identification: str | int | None) -> bool:
        """Mark ``code`` as used by the buyer ``identification`` (their AliUid).

        Returns the marketplace's ``Success``. When an attempt's answer is lost (a read timeout,
        an answer cut off, the connection closed after the request went out), the code is read
        again: ACTIVATED means the activation went through (True); otherwise it is sent again
        while attempts and deadline allow.
        """
        code = _check_code(code)
        params = {"LicenseCode": code}
        if identification is not None and str(identification) != "":
            params["Identification"] = str(identification)
        budget = _Budget(started=self._clock())
        while True:
            try:
                payload, request_id = self._call(
                    "ActivateLicense", params, code, budget, retry_lost_answer=False
                )
                return parse_success(payload, request_id=request_id)
            except _AnswerLost as lost:
                lost_error = lost.error
            if self._activation_confirmed(code, budget, lost_error):
                log.info("ActivateLicense for %s got no answer (%s), but the code is now "
                         "ACTIVATED", mask_code(code), lost_error.code)
                return True
            if not self.retry_policy.allows(budget.attempts, self._clock() - budget.started, 0):
                raise lost_error
            log.warning("ActivateLicense for %s got no answer (%s) and the code is not "
                        "activated; sending it again (attempt %d/%d)", mask_code(code),
                        lost_error.code, budget.attempts + 1, self.retry_policy.max_attempts)

    # ------------------------------------------------------------ internals

    def _describe(self, code: str, budget: _Budget) -> License:
        payload, request_id = self._call("DescribeLicense", {"LicenseCode": code}, code, budget)
        return parse_license(
            payload, market_tz=self.market_tz, requested_code=code, request_id=request_id
        )

    def _activation_confirmed(self, code: str, activation: _Budget,
                              lost: MarketplaceUnavailable) -> bool:
        """Whether an activation whose answer was lost went through, judged by reading the code
        again. The read gets its own attempts but shares the activation's deadline.
        """
        lic: License | None = None
        try:
            lic = self._describe(code, _Budget(started=activation.started))
        except (MarketplaceUnavailable, Throttled):
            pass
        if lic is None:  # raised here, not in the except block, so nothing is chained
            raise MarketplaceUnavailable(
                f"ActivateLicense got no answer ({lost.code}) and reading the code again failed, "
                "so whether it was activated is unknown",
                code=lost.code,
            )
        return lic.status == CodeStatus.ACTIVATED

    def _call(
        self,
        action: str,
        params: Mapping[str, str],
        code: str,
        budget: _Budget,
        *,
        retry_lost_answer: bool = True,
    ) -> tuple[dict[str, Any], str | None]:
        """Send ``action`` until it succeeds, fails for good, or the budget runs out.

        Returns the JSON answer and its request id; raises a ``MarketplaceError`` otherwise.
        With ``retry_lost_answer=False``, an attempt whose answer was lost raises
        ``_AnswerLost`` instead of being sent again. Every raise happens outside an ``except``
        block, so no requests exception (whose text holds the signed URL, authorization code
        included) is chained to what callers see.
        """
        policy = self.retry_policy
        while True:
            budget.attempts += 1
            remaining = policy.deadline - (self._clock() - budget.started)
            attempt_timeout = max(0.001, min(self.timeout, remaining))
            request = self._prepare(action, params)
            retry_after: float | None = None
            error: MarketplaceError
            answer_lost = False
            # What Session.request would add: proxies and CA bundle from the environment
            # (HTTPS_PROXY, REQUESTS_CA_BUNDLE), which a deployment behind an egress proxy needs.
            settings = self._environment_settings(request.url)
            started = self._clock()
            try:
                response = self.session.send(request, timeout=attempt_timeout,
                                             allow_redirects=False, **settings)
            except requests.exceptions.RequestException as exc:
                error, outcome = _transport_failure(exc, action, attempt_timeout)
                answer_lost = outcome == "lost"
                retryable = outcome != "final"
                self._observe(action, started, budget, error=error)
            else:
                outcome = self._interpret(response, action, code)
                if not isinstance(outcome, MarketplaceError):
                    self._observe(action, started, budget, request_id=outcome[1],
                                  http_status=response.status_code)
                    log.debug("%s for %s: HTTP %s, request id %s (attempt %d)", action,
                              mask_code(code), response.status_code, outcome[1], budget.attempts)
                    return outcome
                error = outcome
                self._observe(action, started, budget, error=error)
                retryable = isinstance(error, (Throttled, MarketplaceUnavailable))
                retry_after = getattr(error, "retry_after", None)

            if answer_lost and not retry_lost_answer:
                raise _AnswerLost(error)  # type: ignore[arg-type]
            if not retryable:
                log.info("%s for %s failed: %s", action, mask_code(code), error)
                raise error
            wait = policy.delay(budget.attempts, retry_after, self._rng)
            if not policy.allows(budget.attempts, self._clock() - budget.started, wait):
                log.warning("%s for %s failed after %d attempt(s): %s", action, mask_code(code),
                            budget.attempts, error)
                raise error
            log.warning("%s for %s failed (%s); retry %d/%d in %.2fs", action, mask_code(code),
                        error, budget.attempts + 1, policy.max_attempts, wait)
            self._sleep(wait)

    def _environment_settings(self, url: str) -> dict[str, Any]:
        """``Session.merge_environment_settings`` for this client's endpoint, worked out once and
        kept with what it depends on: the variables requests reads (the proxies, ``NO_PROXY``,
        the CA bundle) and the session's own settings. Worked out per call it scans the whole
        environment four times (some 100 µs a call); a change to any of these is still seen.
        (The scheme, host and port, all that the answer depends on in the URL, are the
        endpoint's, the same for every call of this client.)"""
        session = self.session
        key = (
            tuple(map(os.environ.get, _ENVIRONMENT_SETTINGS)),
            session.trust_env, tuple(sorted((session.proxies or {}).items())),
            session.verify, session.cert, session.stream,
        )
        cached = self._settings_cache
        if cached is not None and cached[0] == key:
            return {**cached[1], "proxies": dict(cached[1]["proxies"])}
        settings = session.merge_environment_settings(url, {}, False, None, None)
        self._settings_cache = (key, settings)
        return {**settings, "proxies": dict(settings["proxies"])}

    def _observe(self, action: str, started: float, budget: _Budget, *,
                 error: MarketplaceError | None = None, request_id: str | None = None,
                 http_status: int | None = None) -> None:
        """Tell the observer (if any) about the attempt that just ended."""
        if self._observer is None:
            return
        if error is not None:
            request_id, http_status = error.request_id, error.http_status
        call = MarketCall(
            action=action, error_code=(error.code or type(error).__name__) if error is not None else None,
            request_id=request_id, http_status=http_status,
            seconds=max(0.0, self._clock() - started), attempt=budget.attempts,
        )
        try:
            self._observer(call)
        except Exception:  # noqa: BLE001 - metrics and logs never break a marketplace call
            log.warning("the marketplace call observer failed", exc_info=True)

    def _prepare(self, action: str, params: Mapping[str, str]) -> requests.PreparedRequest:
        """A freshly signed POST for one attempt."""
        nonce = self._nonce()
        timestamp = signing.format_timestamp(self._utcnow())
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if self.signature_version == "v1":
            signed_params = signing.v1_common_params(
                self.access_key_id, action, nonce=nonce, timestamp=timestamp,
                security_token=self._security_token,
            )
            signed_params.update(params)
            signature = signing.sign_v1("POST", signed_params, self._access_key_secret)
            url = f"{self.endpoint}/?{signing.v1_query_string(signed_params, signature)}"
        else:
            signed_headers = {
                "host": self._host,
                "x-acs-action": action,
                "x-acs-version": signing.API_VERSION,
                "x-acs-date": timestamp,
                "x-acs-signature-nonce": nonce,
                "x-acs-content-sha256": signing.EMPTY_SHA256,
            }
            if self._security_token:
                signed_headers["x-acs-security-token"] = self._security_token
            headers.update(signed_headers)
            headers["Host"] = headers.pop("host")
            headers["Authorization"] = signing.authorization_v3(
                "POST", "/", params, signed_headers, self.access_key_id, self._access_key_secret
            )
            query = signing.canonical_query_v3(params)
            url = f"{self.endpoint}/" + (f"?{query}" if query else "")
        return self.session.prepare_request(requests.Request("POST", url, headers=headers))

    def _interpret(
        self, response: requests.Response, action: str, code: str
    ) -> tuple[dict[str, Any], str | None] | MarketplaceError:
        """The JSON answer and request id of a success, or the error an answer stands for."""
        status = response.status_code
        try:
            payload = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
            payload = None
        if not isinstance(payload, dict):
            payload = None
        request_id = (payload or {}).get("RequestId") or response.headers.get("x-acs-request-id")
        error_code = (payload or {}).get("Code")
        success_shape = payload is not None and ("License" in payload or "Success" in payload)

        if 200 <= status < 300 and payload is not None and (success_shape or not error_code):
            return payload, request_id
        if payload is None and (200 <= status < 500) and status != 429:
            return BadResponse(
                f"{action}: the answer (HTTP {status}) is not a JSON object",
                code="BadResponse", request_id=request_id, http_status=status,
            )

        kind = error_for_code(error_code, status)
        raw_message = (payload or {}).get("Message") or f"HTTP {status}"
        message = redact(f"{action}: {raw_message}", codes=[code],
                         secrets=[self._access_key_secret, self._security_token])
        kwargs: dict[str, Any] = dict(
            code=error_code, request_id=request_id, http_status=status, advice=kind.advice
        )
        if kind.cls is Throttled:
            return Throttled(
                message, retry_after=parse_retry_after(response.headers.get("x-acs-retry-after")),
                **kwargs,
            )
        return kind.cls(message, **kwargs)


def _transport_failure(
    exc: requests.exceptions.RequestException, action: str, attempt_timeout: float
) -> tuple[MarketplaceUnavailable, str]:
    """What a ``requests`` exception means: the error to raise, and whether the request

    - may have been processed while its answer was lost (``"lost"``: a read timeout, an answer
      cut off, a connection closed after the request went out),
    - never reached the marketplace (``"unsent"``: refused, reset or timed out while
      connecting), so sending it again is safe,
    - or failed in a way that retrying will not mend (``"final"``: TLS, an invalid URL...).

    The error never holds the exception's own text: that quotes the signed URL.
    """
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):  # urllib3 gave up; what it gave up on
        reason = reason.reason
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return MarketplaceUnavailable(f"{action}: no answer within {attempt_timeout:g}s",
                                      code="ReadTimeout"), "lost"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return MarketplaceUnavailable(f"{action}: the answer was cut off",
                                      code="ChunkedEncodingError"), "lost"
    if isinstance(exc, requests.exceptions.SSLError):
        return MarketplaceUnavailable(f"{action}: TLS handshake failed", code="SSLError"), "final"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if isinstance(reason, ProtocolError):  # 'Connection aborted.': it may have gone out
            return MarketplaceUnavailable(
                f"{action}: the connection was closed before the answer came",
                code="ConnectionAborted"), "lost"
        kind = "ConnectTimeout" if isinstance(exc, requests.exceptions.ConnectTimeout) \
            else "ConnectionError"
        return MarketplaceUnavailable(f"{action}: could not reach the marketplace ({kind})",
                                      code=kind), "unsent"
    return MarketplaceUnavailable(f"{action}: request failed ({type(exc).__name__})",
                                  code=type(exc).__name__), "final"


def _parse_endpoint(endpoint: str) -> tuple[str, str]:
    """``(scheme://host[:port], host[:port])``; refuses a path, query or unknown scheme."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint must be http(s)://host[:port], not {endpoint!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"endpoint must have no path or query: {endpoint!r}")
    return f"{parts.scheme}://{parts.netloc}", parts.netloc


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValueError("an authorization code is required")
    return code.strip()
