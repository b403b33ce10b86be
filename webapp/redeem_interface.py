"""The redemption interface: how the environment side gets a key from the vendor side.

The two sides never import each other. In role `both` the vendor side registers a callable
in `state.services["redeem"]`; otherwise the environment posts to the vendor's
`/api/v1/redeem` at `LICENSE_VENDOR_URL`. Both paths answer the same way:

    redeem(authorization_code: str, install_id: str) -> {"productKey": str, "license": {...}}

and raise `RedeemError(code, message, http_status)` with the vendor's error code (the
codes of `POST /api/v1/redeem` in interfaces.md), or `RedeemError("vendor_unreachable", ..., 503)`.
"""
from __future__ import annotations


class RedeemError(Exception):
    def __init__(self, code: str, message: str, http_status: int = 422, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
