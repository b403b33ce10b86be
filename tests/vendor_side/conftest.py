"""Fixtures for the vendor side.

Two ways to play the marketplace:
- `market` (module config `MARKET_CONFIG`): real credentials pointing at `https://market.test`,
  answered by `responses` (`market.describe(...)`, `market.activate(...)`, `market.error(...)`);
  every registered answer must be used.
- the in-process simulator (the default with no credentials): `sim(app)` is the
  `marketplace_adapter.simulator.Simulator` seeded with the demo codes.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import responses
from responses import matchers

ENDPOINT = "https://market.test"
PRODUCT_CODE = "cmgj0001"
SPECS = {"pro-20": {"aku": 20, "name": "Pro 20"}, "pro-40": {"aku": 40, "name": "Pro 40"}}
INSTALL = "0123456789abcdef0123456789abcdef"
OTHER_INSTALL = "fedcba9876543210fedcba9876543210"
CODE = "AUTH-CODE-0001-7Q2K"
UID = 1234567890123456

MARKET_CONFIG = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "testid",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
    "MARKETPLACE_ENDPOINT": ENDPOINT,
    "MARKETPLACE_PRODUCT_CODE": PRODUCT_CODE,
    "MARKETPLACE_SPECS": SPECS,
    "MARKETPLACE_MAX_ATTEMPTS": 1,
    "LICENSE_PENDING_WAIT": 0.3,
}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def future(days: float = 30) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)


def license_body(code: str = CODE, *, status: str = "INACTIVATED", product_code: str = PRODUCT_CODE,
                 spec: str | None = "pro-20", expires: datetime | None = None, uid: int | None = UID,
                 orders: str = "211111111111", sku: str | None = None) -> dict:
    expires = expires or future(30)
    attributes = [{"Code": "orderId", "Value": orders}]
    if spec:
        attributes.append({"Code": "package_version", "Value": spec})
    return {
        "RequestId": "REQ-DESCRIBE",
        "License": {
            "LicenseCode": code,
            "LicenseStatus": status,
            "InstanceId": "1551111111",
            "ProductCode": product_code,
            "ProductSkuId": sku or f"{product_code}-prepay",
            "ProductName": "AutoMQ on the marketplace",
            "SupplierName": "AutoMQ HK Limited",
            "CreateTime": iso(datetime.now(timezone.utc) - timedelta(days=1)),
            "ActivateTime": "",
            "ExpiredTime": iso(expires),
            "ExtendArray": {"LicenseAttribute": attributes},
            "ExtendInfo": {"AliUid": uid or 0, "AccountQuantity": 0, "Email": "", "Mobile": ""},
        },
    }


class Market:
    """`responses` answers for the Market API, matched on the Action parameter."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps

    def _add(self, action: str, body: dict, status: int = 200, headers: dict | None = None, code: str | None = None):
        params = {"Action": action}
        if code is not None:
            params["LicenseCode"] = code
        return self.rsps.add(responses.POST, ENDPOINT + "/", json=body, status=status, headers=headers or {},
                             match=[matchers.query_param_matcher(params, strict_match=False)])

    def describe(self, code: str = CODE, **values):
        return self._add("DescribeLicense", license_body(code, **values), code=code)

    def activate(self, success=True, code: str = CODE):
        return self._add("ActivateLicense", {"RequestId": "REQ-ACTIVATE", "Success": success}, code=code)

    def error(self, action: str, error_code: str, status: int = 400, headers: dict | None = None,
              code: str | None = None):
        body = {"RequestId": "REQ-ERR", "HostId": "market.test", "Code": error_code, "Message": f"{error_code} happened"}
        return self._add(action, body, status=status, headers=headers, code=code)

    def calls(self, action: str | None = None) -> list:
        return [c for c in self.rsps.calls if action is None or f"Action={action}" in c.request.url]


@pytest.fixture
def app_config():
    return dict(MARKET_CONFIG)


@pytest.fixture
def market(app):
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield Market(rsps)


def sim(app):
    return app.extensions["license_vendor"].simulator


@pytest.fixture
def issuer_api(api_token):
    return api_token("issuer")


@pytest.fixture
def admin_api(api_token):
    return api_token("admin")
