"""The environment's half of online activation: get a product key for an authorization code and
apply it (`redeem`), or redeem the remembered code again (`renewal_check`).

In role ``both`` the vendor side registers ``state.services["redeem"]`` and it is called
in-process; otherwise the environment posts ``{"authorizationCode", "installId"}`` to
``LICENSE_VENDOR_URL + "/api/v1/redeem"`` (https, or http on loopback). Either way the answer is
``{"productKey", "license"}`` or a :class:`webapp.redeem_interface.RedeemError` carrying the vendor's
error code; a vendor that cannot be reached is ``vendor_unreachable`` (503) and an environment
without a vendor URL is ``redeem_not_configured`` (409).
"""
from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

import requests
from flask import current_app

from .. import audit, authorization_code, inputs
from ..authorization_code import mask
from ..i18n import N_, current_locale, gettext as _
from ..redeem_interface import RedeemError
from .activation import Applied, apply_key, record_refusal, remembered_code
from . import refusal_limits
from .license_record import current_license
from .models import ActivationSource

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0

_NOT_CONFIGURED = N_(
    "Online activation is not set up for this environment (LICENSE_VENDOR_URL is not set). "
    "Send the install ID and your authorization code to the vendor for a product key, then "
    "paste it under Update Product License."
)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def vendor_endpoint(base: str) -> str:
    """``LICENSE_VENDOR_URL`` + ``/api/v1/redeem``; only https, or http on loopback."""
    parts = urlsplit(base.strip())
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not _is_loopback(host)):
        raise RedeemError(
            "redeem_not_configured",
            _("LICENSE_VENDOR_URL must be an https address (http only on loopback): online "
              "activation is off until it is fixed. Paste a product key under Update Product License instead."),
            409,
        )
    return base.strip().rstrip("/") + "/api/v1/redeem"


def online_configured() -> bool:
    state = current_app.extensions["license_platform"]
    return "redeem" in state.services or bool(current_app.config["LICENSE_VENDOR_URL"])


def fetch_product_key(code: str, install_id: str, *, session: requests.Session | None = None) -> dict:
    state = current_app.extensions["license_platform"]
    service = state.services.get("redeem")
    if service is not None:
        answer = service(code, install_id)
    else:
        base = current_app.config["LICENSE_VENDOR_URL"]
        if not base:
            raise RedeemError("redeem_not_configured", _(_NOT_CONFIGURED), 409)
        answer = _post(vendor_endpoint(base), code, install_id, session or requests)
    if not isinstance(answer, dict) or not isinstance(answer.get("productKey"), str):
        raise RedeemError(
            "vendor_unreachable", _("The vendor's answer held no product key. Try again later."), 503
        )
    return answer


def _headers() -> dict[str, str]:
    """JSON, and this request's id, so that the vendor's log lines of the redemption carry it too."""
    from ..request_log import REQUEST_ID_HEADER, current_request_id

    # The vendor answers its refusals' words in the language this page is read in.
    headers = {"Accept": "application/json", "Accept-Language": current_locale().replace("_", "-")}
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def _post(url: str, code: str, install_id: str, http) -> dict:
    host = urlsplit(url).netloc
    try:
        response = http.post(
            url,
            json={"authorizationCode": code, "installId": install_id},
            headers=_headers(),
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        log.warning("environment: vendor %s unreachable: %s", host, type(exc).__name__)
        raise RedeemError(
            "vendor_unreachable",
            _("The vendor (%(host)s) could not be reached. Check this environment's outbound network access "
              "and try again, or paste a product key under Update Product License.", host=host),
            503,
        ) from None
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
        body = None
    if response.status_code in (200, 201) and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if 400 <= response.status_code < 600 and isinstance(error, dict) and isinstance(error.get("code"), str):
        retry_after = response.headers.get("Retry-After")
        raise RedeemError(
            error["code"][:64],
            str(error.get("message") or _("The vendor refused the authorization code."))[:1000],
            response.status_code,
            retry_after=inputs.whole_number(retry_after, 1, 7 * 86_400),
        )
    raise RedeemError(
        "vendor_unreachable",
        _("The vendor (%(host)s) answered unexpectedly (HTTP %(status)s). Try again later.", host=host,
          status=response.status_code),
        503,
    )


def normalize_code(code: object) -> str:
    """The code by `authorization_code.normalize`'s rule, refused in the operator's words."""
    try:
        return authorization_code.normalize(code)
    except authorization_code.CodeInvalid as exc:
        if exc.reason == "blank":
            raise RedeemError(
                "code_invalid",
                _("Enter the authorization code: you find it in the marketplace's Buyer Console, "
                  "under Purchased Services, in the details of your purchase."),
                422,
            ) from None
        raise RedeemError(
            "code_invalid",
            _("That is not an authorization code: copy it exactly from the marketplace's Buyer "
              "Console (Purchased Services)."),
            422,
        ) from None


def redeem(code: object, *, actor: str | None = None, source: str = ActivationSource.REDEEM) -> Applied:
    """Fetch a product key for an authorization code from the vendor and apply it.

    RedeemError for the vendor's refusals (recorded in the history, except when online
    activation is not configured at all); ProductKeyError when the key itself is refused;
    RefusalsLimited, before the vendor is asked, while too many attempts were refused.
    """
    actor = actor or audit.current_actor_name()
    code = normalize_code(code)
    current = current_license(fresh=True)
    refusal_limits.check(actor, current.install_id)
    try:
        answer = fetch_product_key(code, current.install_id)
    except RedeemError as exc:
        if exc.code != "redeem_not_configured":
            record_refusal(None, exc.code, exc.message, actor=actor, source=source, reference=mask(code))
        raise
    return apply_key(answer["productKey"], actor=actor, source=source, authorization_code=code)


def renewal_check(*, actor: str | None = None) -> Applied:
    """Redeem the remembered authorization code again; `already_active` means no renewal yet."""
    code = remembered_code()
    if code is None:
        raise RedeemError(
            "no_remembered_code",
            _("This environment has no remembered authorization code: activate once with the "
              "authorization code (or paste the new product key) instead."),
            409,
        )
    return redeem(code, actor=actor, source=ActivationSource.RENEWAL_CHECK)
